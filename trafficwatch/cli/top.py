"""`trafficwatch top`: what the last hours of the logs were made of, headless: requests by
status class, the busiest paths and the busiest clients, as a table or JSON (what GoAccess's
report and an awk | sort | uniq -c | sort -rn pipeline give; the app's `t` pane, for scripts)."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import numpy as np

from trafficwatch.cli.counts import exit_code, summary
from trafficwatch.cli.options import (
    add_filter_options,
    add_input_options,
    add_tz_option,
    ingest_options,
    parse_tz,
)
from trafficwatch.cli.rows import hour_offsets, hour_texts
from trafficwatch.counting.ingest import ingest
from trafficwatch.counting.load import nothing_to_read
from trafficwatch.counting.series import HourlySeries, no_site
from trafficwatch.counting.tops import TOP_CAP, TOP_HOURS
from trafficwatch.filters import CLASS_NAMES, parse_status_classes
from trafficwatch.hours import HOUR
from trafficwatch.safe import safe_name, safe_text


def configure(p: argparse.ArgumentParser) -> None:
    """Arguments of `top`."""
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files, directories (rotations and .gz/.bz2/.xz found), globs, or - "
                        "for stdin")
    p.add_argument("--hours", type=int, default=24,
                   help="the last this many hours of the logs, up to the hour of their latest "
                        "line (default: 24)")
    p.add_argument("-n", "--top", type=int, default=10,
                   help="paths and clients listed (default: 10)")
    p.add_argument("--path", metavar="REGEX",
                   help="only requests whose path (query string left out) matches")
    p.add_argument("--format", choices=("table", "json"), default="table", dest="out_format",
                   help="a table to read, or one JSON object (default: table)")
    add_tz_option(p, "the hours of the range")
    add_input_options(p)
    add_filter_options(p, "one site (default: every site together)", metrics=("hits", "pages"))
    # (visitors are counted by hour, not by path or client: it offered them, then refused)
    p.set_defaults(func=run)


def check(args: argparse.Namespace) -> str:
    """Why the arguments cannot be used ("" when they can); --hours, --top, --tz and --status
    are checked with every command's (options.check_usage)."""
    if args.path:
        import re

        try:
            re.compile(args.path)
        except re.error as exc:
            return f"--path {args.path!r} is not a regex: {exc}"
    return ""


def run(args: argparse.Namespace) -> int:
    """Read every file, print what its last --hours hours were made of, then the summary."""
    if why := check(args):
        print(f"trafficwatch: {why}", file=sys.stderr)
        return 2
    opts = ingest_options(args)
    opts = replace(opts, parse=replace(opts.parse, keep_paths=True, keep_clients=True),
                   last_hours=None if "-" in args.paths else args.hours,  # stdin: read once
                   only_site=args.site or None)
    series, report = ingest(args.paths, opts, HourlySeries(track_visitors=False, track_paths=True))
    if not _complete(series, report, args):  # a site whose last line is older than the others'
        opts = replace(opts, last_hours=None)
        series, report = ingest(args.paths, opts,
                                HourlySeries(track_visitors=False, track_paths=True))
    if why := nothing_to_read(report):
        print(f"trafficwatch: {why}", file=sys.stderr)
        return 2
    site = series.resolve(args.site) if args.site else None
    if args.site and site is None:
        print(f"trafficwatch: {no_site(args.site, series.sites())}", file=sys.stderr)
        return 2
    code = exit_code(report)
    if code != 2:
        out = made_of(series, site, args)
        sys.stdout.write(json.dumps(out) + "\n" if args.out_format == "json" else table(out))
    summary(report, sys.stderr, series)
    return code


def _complete(series: HourlySeries, report, args: argparse.Namespace) -> bool:
    """Whether the hours `made_of` shows were all read: ingest read every file from shortly
    before report.complete_from, the last --hours hours of the logs' latest line. A site's
    own last line may be older (--site: a site whose log ended days before the others'), or
    the last line of a file older than its latest (a long download, logged when it ended), or
    a site not met at all in what was read: then everything is read again."""
    if report.complete_from is None:
        return True
    site = series.resolve(args.site) if args.site else None
    if args.site and site is None:
        return False
    last = series.last_ts(site)
    return last is None or (int(last) // HOUR - args.hours + 1) * HOUR >= report.complete_from


def made_of(series: HourlySeries, site: str | None, args: argparse.Namespace) -> dict:
    """The last --hours hours of `site` (every site: None): the range, requests by status
    class, the busiest paths and clients."""
    last = series.last_ts(site)
    if last is None:
        return {"site": safe_name(site) if site else None, "hours": 0, "requests": 0,
                "classes": {}, "paths": [], "clients": [], "note": "no request in the logs"}
    h1 = int(last) // HOUR
    h0 = h1 - args.hours + 1
    tz = parse_tz(args.tz)
    bound = np.array([h0, h1 + 1], np.int64)
    texts = hour_texts(bound, hour_offsets(series, site or _latest_site(series), bound, tz))
    got = series.breakdown(site, h0, h1, metric=args.metric, bots=args.bots,
                           status_classes=parse_status_classes(args.status), path=args.path,
                           n=args.top, whole=True).get(h0) or {}  # {}: no request in them
    classes = {CLASS_NAMES[k]: int(v) for k, v in got.get("classes", {}).items()}
    out = {"site": safe_name(site) if site else None, "metric": args.metric,
           "from": texts[0], "to": texts[1], "hours": args.hours,
           "requests": sum(classes.values()), "classes": classes,
           "paths": [[safe_name(p), int(n)] for p, n in got.get("paths", [])],
           "clients": [], "note": ""}
    tally = got.get("clients")
    if tally is not None:
        out["clients"] = [{"client": safe_name(c), "requests": int(n), "at_least": int(n - e)}
                          for c, n, e in tally.top(args.top)]
    notes = []
    # what the clients are of, in their own heading too: under --bots-only a client of 3,164
    # requests stood above a total of 1,117, and over 100,000 hours one of 384-437 against its
    # 448 in the whole log, each explained in a note at the foot alone (a trial)
    out["clients_hours"] = min(args.hours, TOP_HOURS)
    # the status and bot filters and the metric's pages, not the path: clients are tallied per
    # hour and status class, bot and asset, not per path
    out["clients_follow_filter"] = not args.path
    if out["clients"] and not out["clients_follow_filter"]:
        notes.append("clients: of every path (the status and bot filters apply; clients are "
                     "not tallied by path)")
    if args.hours > TOP_HOURS:
        notes.append(f"clients: the last {TOP_HOURS} hours only (each site keeps its clients' "
                     "tallies that long)")
    if any(c["at_least"] < c["requests"] for c in out["clients"]):
        notes.append(f"a range (at least-at most) where an hour kept only its {TOP_CAP} "
                     "busiest clients")
    # one of 2 requests an hour beside 25 one-offs of 3 an hour is in no hour's tally: the
    # one-offs were listed "3-72" and it not at all, with no word (a trial)
    out["clients_unlisted_at_most"] = int(tally.unlisted_most(args.top)) if tally is not None \
        else 0
    if out["clients_unlisted_at_most"]:
        notes.append(f"a client not listed may have sent up to "
                     f"{out['clients_unlisted_at_most']:,}")
    out["note"] = "; ".join(notes)
    return out


def _latest_site(series: HourlySeries) -> str:
    """The site whose line is the latest: its offset shows the range of all sites."""
    return max(series.sites(), key=lambda s: series.last_ts(s) or 0)


def table(out: dict) -> str:
    """The result as text for a terminal (every name already made safe)."""
    if not out["hours"]:
        return f"{out['note']}\n"
    who = out["site"] or "all sites"
    hours = f"{out['hours']} hour{'s' * (out['hours'] != 1)}"  # "1 hours" (a trial)
    lines = [(f"{who} · {out['metric']} · {hours}, {out['from']} to {out['to']} · "
              f"{out['requests']:,} request{'s' * (out['requests'] != 1)}")]  # "1 requests"
    if out["classes"]:
        lines.append("status: " + " · ".join(f"{k} {v:,}" for k, v in sorted(
            out["classes"].items(), key=lambda kv: (kv[0] == "other", kv[0]))))
    width = max([len(p) for p, _ in out["paths"]] + [len(c["client"]) for c in out["clients"]]
                + [7])
    width = min(width, 80)

    def cut(text: str) -> str:
        return text if len(text) <= width else text[:width - 1] + "…"

    if out["paths"]:
        lines += ["", f"{'path':<{width}}  requests"]
        lines += [f"{cut(p):<{width}}  {n:>8,}" for p, n in out["paths"]]
    if out["clients"]:
        span = ([f"the last {out['clients_hours']} hours"]
                if out["clients_hours"] < out["hours"] else [])
        if not out["clients_follow_filter"]:
            span.append("every path, the path filter not applied")
        lines += [""] + ([f"clients: {', '.join(span)}"] if span else [])
        lines += [f"{'client':<{width}}  requests"]
        for c in out["clients"]:
            n = (f"{c['requests']:,}" if c["at_least"] == c["requests"] else
                 f"{c['at_least']:,}-{c['requests']:,}")
            lines.append(f"{cut(c['client']):<{width}}  {n:>8}")
    if out["note"]:
        lines += ["", safe_text(out["note"])]
    return "\n".join(lines) + "\n"
