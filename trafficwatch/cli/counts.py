"""`trafficwatch counts`: hourly counts per site as CSV or JSON, a summary on stderr."""
from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
from dataclasses import replace
from typing import TextIO

import numpy as np

from trafficwatch.cli.follow import run_follow
from trafficwatch.cli.options import (
    add_filter_options,
    add_fleet_options,
    add_follow_options,
    add_input_options,
    add_tz_option,
    ingest_options,
    parse_tz,
    prometheus_config,
)
from trafficwatch.cli.rows import COUNTS_CSV_HEADER, csv_field, hour_offsets, hour_texts
from trafficwatch.counting.ingest import EMPTY, SINCE_SLACK, IngestReport, ingest
from trafficwatch.counting.load import nothing_to_read
from trafficwatch.counting.series import HourlySeries, ahead_note, no_site
from trafficwatch.filters import parse_status_classes
from trafficwatch.fleet.load import load_fleet
from trafficwatch.hours import HOUR
from trafficwatch.logs.detect import NO_REQUEST, SAID_APART, said_apart
from trafficwatch.logs.sources import ERROR_LOG, NOT_NAMED_LIKE_A_LOG
from trafficwatch.safe import safe_name, safe_text


def configure(p: argparse.ArgumentParser) -> None:
    """Arguments of `counts`."""
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="log files, directories (rotations and .gz/.bz2/.xz found), globs, "
                        "or - for stdin")
    p.add_argument("--format", choices=("csv", "json"), default=None, dest="out_format",
                   help="csv: hour,site,metric,count,partial (empty count = no log covers that "
                        "hour; partial 1 = the log begins or ends inside it, or it is in progress); "
                        "json: one object per hour (default: csv; with --follow, json: a JSON "
                        "line per change of an hour's count or partial flag, or a CSV row per "
                        "change with --format csv)")
    add_tz_option(p)
    p.add_argument("--follow", action="store_true",
                   help="keep following the files; print a JSON line whenever an hour's count changes")
    add_follow_options(p, "with --follow: ", "follow")
    add_input_options(p)
    add_filter_options(p)
    add_fleet_options(p, paths_required=True)
    p.set_defaults(func=run)


def rows(series: HourlySeries, args: argparse.Namespace, now: float | None = None):
    """(hour text, site as shown, metric, count or None, partial) for every hour of every site."""
    for site, shown, counts, partial in _columns(series, args, now):
        n = len(shown)
        yield from zip(shown, [safe_name(site)] * n, [args.metric] * n, counts, partial)


def _columns(series: HourlySeries, args: argparse.Namespace, now: float | None = None):
    """Per selected site: (site, hour texts, counts or None, partial flags)."""
    tz = parse_tz(args.tz)
    classes = parse_status_classes(args.status)
    sites = [args.site] if args.site else series.sites()
    for site in sites:
        first, values = series.hourly(site, args.metric, bots=args.bots, status_classes=classes,
                                      now=now)
        hours = first + np.arange(len(values))
        clock = now if now is not None else time.time()
        if now is None:  # a log dated ahead of the clock: its quiet hours after the clock's
            # have not happened yet here (more lines will come for them): unknown, not 0
            values = np.where((hours > int(clock) // HOUR) & (values == 0), np.nan, values)
        counts = [None if math.isnan(v) else int(v) for v in values.tolist()]
        # (the hour a log began inside among them: a gap to forecast, eval and train from the
        # logs and so from this CSV: `counts logs > c.csv; forecast c.csv` read it as whole)
        flags = np.isin(hours, series.unfinished_hours(site, clock, report=now is None))
        if now is None:  # hours after the clock's have not ended here: a line dated 2 h ahead
            # made its hour a whole one, 7, read as such by `forecast c.csv` (a trial)
            flags |= hours > int(clock) // HOUR
        yield site, hour_texts(hours, hour_offsets(series, site, hours, tz)), counts, flags.tolist()


def write_rows(series: HourlySeries, args: argparse.Namespace, out: TextIO) -> None:
    """Print the hourly rows as CSV or JSON."""
    if args.out_format == "csv":
        out.write(COUNTS_CSV_HEADER + "\n")
        for site, shown, counts, partial in _columns(series, args):
            mid = f",{csv_field(safe_name(site))},{args.metric},"
            out.writelines(f"{hour}{mid}{'' if count is None else count},{1 if part else ''}\n"
                           for hour, count, part in zip(shown, counts, partial))
    else:
        data = [{"hour": h, "site": s, "metric": m, "count": c, "partial": p}
                for h, s, m, c, p in rows(series, args)]
        json.dump(data, out, indent=1)
        out.write("\n")


def summary(report: IngestReport, err: TextIO, series: HourlySeries | None = None) -> None:
    """Lines read, malformed lines by reason (one example each), files skipped and why, and
    the virtual hosts `series` counted together."""
    if report.files and len(report.failed) == len(report.files) and not (
            report.skipped or report.ignored):  # nothing was read (a counts CSV, a file
        # that cannot be opened): its reason alone, not "1 file(s), 0 lines" before it
        err.writelines(f"trafficwatch: {safe_text(f.error)}\n" for f in report.failed)
        return
    rate = report.lines / report.seconds if report.seconds > 0 else 0.0
    # an error log known by its lines is not one read ("2 file(s)" beside "not read (an error
    # log...)": a trial), nor one refused, said below ("2 file(s)" of which one no known format)
    read = sum(f.ignored != ERROR_LOG and not (f.error and not f.parsed) for f in report.files)
    refused = sum(bool(f.error) and not f.parsed for f in report.files)
    apart = said_apart(report.malformed.counts)  # (said apart, as the agent says them)
    not_read = f" ({refused} not read, below)" if refused else ""
    err.write(f"trafficwatch: {read} file(s){not_read}, {report.lines:,} lines in "
              f"{report.seconds:.2f} s ({rate / 1e6:.2f} M lines/s); {report.parsed:,} counted, "
              f"{report.malformed.total - apart:,} malformed, "
              f"{f'{apart:,} {NO_REQUEST}, ' if apart else ''}"
              f"{sum(f.excluded for f in report.files):,} excluded{_blank(report)}\n")
    if unread := sum(f.unread for f in report.files):
        n = sum(f.unread > 0 for f in report.files)
        since = datetime.datetime.fromtimestamp(report.complete_from - SINCE_SLACK,
                                                datetime.timezone.utc)
        err.write(f"  lines before {since:%Y-%m-%dT%H:%M}Z not read ({_size(unread)} of {n} "
                  f"file(s)): not in the hours asked for\n")
    for f in report.files:
        if not f.error and (f.malformed.total or f.changed):
            apart = said_apart(f.malformed.counts)
            err.write(f"  {safe_text(f.name)}: {f.format}, {f.lines:,} lines, "
                      f"{f.malformed.total - apart:,} malformed"
                      f"{f', {apart:,} {NO_REQUEST}' if apart else ''}\n")
    mal = report.malformed
    err.writelines(f"  {NO_REQUEST if reason in SAID_APART else 'malformed'}, {reason}: {n:,}, "
                   f"e.g. {safe_text(mal.examples[reason])}\n"
                   for reason, n in mal.counts.most_common())
    err.writelines(f"  skipped {safe_text(name)}: {why}\n" for name, why in report.skipped)
    if report.unnamed:  # a typo in --vhost-from-filename had named every site as without it
        n = len(report.unnamed)
        more = f" and {n - 3} more" if n > 3 else ""
        err.write(f"  --vhost-from-filename found no site in {n} file name{'s' if n > 1 else ''}"
                  f", named as without it: {', '.join(safe_text(x) for x in report.unnamed[:3])}"
                  f"{more}\n")
    for reason in (ERROR_LOG, NOT_NAMED_LIKE_A_LOG):  # error logs, a README beside the logs:
        # not read by design, one line for all (error logs had been silent: "0 file(s), 0
        # lines" and exit 2, no reason, for `counts error.log`)
        unnamed = [n for n, why in report.ignored if why == reason]
        if unnamed:
            more = f" and {len(unnamed) - 3} more" if len(unnamed) > 3 else ""
            err.write(f"  not read ({reason}): "
                      f"{', '.join(safe_text(n) for n in unnamed[:3])}{more}\n")
    err.writelines(f"  {safe_text(n)} {EMPTY}\n" for n, why in report.ignored if why == EMPTY)
    err.writelines(f"  not read: {safe_text(n)}: {why}\n" for n, why in report.ignored
                   if why not in (ERROR_LOG, NOT_NAMED_LIKE_A_LOG, EMPTY))
    for f in report.failed:
        err.write(f"trafficwatch: {safe_text(f.error)}\n")
    if series is not None and series.folded:
        err.write(f"  {series.folded_note()}\n")


def _size(n: int) -> str:
    """Bytes in words: 512 bytes, 3.1 MB, 2.4 GB."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _blank(report: IngestReport) -> str:
    """", N blank or comment (#)" for the lines read that are neither counted, malformed nor
    excluded (blank lines, W3C's # lines): the summary's figures did not add up to its lines
    (a trial); "" when there are none."""
    n = report.lines - report.parsed - report.malformed.total - sum(
        f.excluded for f in report.files)
    return f", {n:,} blank or comment (#)" if n > 0 else ""


def exit_code(report: IngestReport) -> int:
    """0 all read, 1 something skipped or unparsable, 2 nothing at all read. Logs that are all
    empty (logrotate has just made them) are read, and hold nothing: 0, or 1 beside a file that
    was skipped (a missing one among them: it was 2, as if none had been read)."""
    lost = report.lost
    if report.parsed == 0 and not any(f.excluded for f in report.files):
        empty = report.files and all(f.ignored == EMPTY for f in report.files)
        return (1 if lost else 0) if empty else 2
    return 1 if lost else 0


def run(args: argparse.Namespace) -> int:
    """Read every file, print the hourly counts, then the summary."""
    if args.follow:
        if "-" in args.paths:
            print("trafficwatch: --follow follows files (across rotations, from saved offsets) and "
                  "cannot follow stdin: give the log's path (counts --follow "
                  "/var/log/nginx/access.log), or count a pipe once with counts -",
                  file=sys.stderr)
            return 2
        return run_follow(args)
    given = [o for o, on in (("--poll", args.poll), ("--state", args.state),
                             ("--no-state", args.no_state)) if on]
    if given:  # accepted and ignored, they read as if counts kept state: say so
        verb = "applies" if len(given) == 1 else "apply"
        print(f"trafficwatch: {' and '.join(given)} only {verb} with --follow (counts without it "
              "reads the logs once and keeps no state)", file=sys.stderr)
        return 2
    args.out_format = args.out_format or "csv"
    try:
        parse_status_classes(args.status)
    except ValueError as exc:
        print(f"trafficwatch: {exc}", file=sys.stderr)
        return 2
    if args.prometheus:
        return run_fleet_counts(args)
    series = HourlySeries(track_visitors=args.metric == "visitors")
    series, report = ingest(args.paths, replace(ingest_options(args), only_site=args.site or None),
                            series)
    if why := nothing_to_read(report):  # a mistyped path: one line
        print(f"trafficwatch: {why}", file=sys.stderr)
        return 2
    if args.site and series.resolve(args.site) is not None:
        args.site = series.resolve(args.site)  # as written back: safe_name's escapes
    if args.site and args.site not in series.sites():
        print(f"trafficwatch: {no_site(args.site, series.sites())}",
              file=sys.stderr)  # one line: no summary of a reading after it, read as success
        return 2
    code = exit_code(report)
    if code != 2:  # nothing at all read: no header either, as for a missing path
        write_rows(series, args, sys.stdout)
    summary(report, sys.stderr, series)
    if note := ahead_note(series, args.site or None, time.time(), once=True):
        print(f"trafficwatch: {note}", file=sys.stderr)  # said nowhere else (a trial)
    return code


def run_fleet_counts(args: argparse.Namespace) -> int:
    """`counts --prometheus URL`: the fleet's hourly requests per site, as `counts` prints them
    (an hour no agent covered is empty; the hour in progress is marked partial in JSON)."""
    cfg = replace(prometheus_config(args), site=args.site or None)
    try:
        series = load_fleet(cfg, partial=True,
                            warn=lambda m: print(f"trafficwatch: {m}", file=sys.stderr))
    except ValueError as exc:  # PrometheusError, or no such series
        print(f"trafficwatch: {safe_text(str(exc))}", file=sys.stderr)
        return 2
    if args.site:  # the site as it is: --site as written (`back\\slash`) crashed the rows
        # with a KeyError once Prometheus had been asked for it (a trial)
        args.site = series.resolve(args.site) or args.site
    write_rows(series, args, sys.stdout)
    return 0
