"""`trafficwatch counts --follow`: a JSON line whenever an hour's count changes."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

import numpy as np

from trafficwatch.cli.options import ingest_options, parse_tz, state_path
from trafficwatch.cli.rows import COUNTS_CSV_HEADER, csv_field, hour_offsets, hour_texts
from trafficwatch.counting.series import HourlySeries, ahead_note
from trafficwatch.engine.lifecycle import Shutdown, check_fd_budget
from trafficwatch.engine.live import LiveFeed
from trafficwatch.engine.sink import Sink, SourceConfig
from trafficwatch.filters import parse_status_classes
from trafficwatch.hours import HOUR
from trafficwatch.logs.detect import NO_REQUEST, SAID_APART, said_apart
from trafficwatch.safe import safe_name, safe_text


def run_follow(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Follow until Ctrl-C, SIGTERM or SIGHUP (state saved); a JSON line per changed (site, hour)."""
    stop = stop or threading.Event()
    shutdown = None
    if threading.current_thread() is threading.main_thread():
        shutdown = Shutdown()  # SIGTERM, SIGHUP, Ctrl-C: stop, save, exit within its grace
        shutdown.on_shutdown(stop.set)
        shutdown.install()
    classes = parse_status_classes(args.status)
    tz = parse_tz(args.tz)  # None: UTC hours
    ctx = Sink(SourceConfig(args.paths, ingest_options(args), poll=args.poll),
               HourlySeries(track_visitors=args.metric == "visitors"))
    try:
        check_fd_budget(args.paths, args.vhost_from_filename)
        feed = LiveFeed(ctx, state_path(args, args.paths, "follow"), shown=False)
    except ValueError as exc:  # nothing to follow: why, in the words of `counts`
        print(f"trafficwatch: {safe_text(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:  # out of file descriptors after all (files added meanwhile), ...
        print(f"trafficwatch: cannot follow {safe_name(', '.join(args.paths)[:200])}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    said = ""  # the state's notice, said again whenever it changes (a save that fails later)
    folded = ""  # the hosts counted as one site (MAX_HOSTS), said once, as counts says it
    seen: dict[tuple[str, int], tuple[int, bool]] = {}
    # the reasons restored from the state were said before the restart: not again, as if
    # lines were refused now (an old line's example, after a change of format, a trial)
    printed, ahead, reasons = 0, 0, set(feed.report.restored_malformed.counts)
    if args.out_format == "csv":
        print(COUNTS_CSV_HEADER, flush=True)
    try:
        while True:
            if feed.notice and feed.notice != said:
                said = feed.notice
                print(f"trafficwatch: {safe_text(said)}", file=sys.stderr, flush=True)
            _emit(ctx, args, classes, tz, seen)
            printed = report_events(feed, printed)
            if not folded:
                with ctx.lock:
                    folded = ctx.series.folded_note()
                if folded:
                    print(f"trafficwatch: {safe_text(folded)}", file=sys.stderr, flush=True)
            ahead = _report_ahead(ctx, args.site, ahead)
            _report_malformed(feed, reasons)
            if getattr(sys.stdout, "reader_left", False):  # `| head -5`: nobody reads any more
                break
            if stop.wait(0.25):
                break
            feed.step(0.25)
    finally:
        feed.close()  # saves counts and offsets
        if shutdown is not None and not shutdown.requested:
            shutdown.uninstall()  # an exception on the way out: the caller's handlers again
    if feed.notice and feed.notice != said:  # the last save's, if it failed anew
        print(f"trafficwatch: {safe_text(feed.notice)}", file=sys.stderr, flush=True)
    _emit(ctx, args, classes, tz, seen)
    report_events(feed, printed)
    _report_malformed(feed, reasons, end=True)
    if shutdown is not None and shutdown.requested and shutdown.signum:  # why it stopped, as
        # the agent says it (a closed SSH session's SIGHUP had said nothing: a trial)
        print(f"trafficwatch: counts --follow: stopped by "
              f"{signal.Signals(shutdown.signum).name}", file=sys.stderr, flush=True)
    return shutdown.exit_code if shutdown is not None and shutdown.requested else 0


def report_events(feed, printed: int) -> int:
    """Rotations, truncations, unreadable and unusable files (binary, empty, of no known
    format: each once), one line each on stderr as they happen (`counts --follow` and the
    agent)."""
    new = min(feed.event_count - printed, len(feed.events))
    for msg in list(feed.events)[len(feed.events) - new:]:
        print(f"trafficwatch: {safe_text(msg)}", file=sys.stderr, flush=True)
    return feed.event_count


def _report_malformed(feed: LiveFeed, said: set[str], end: bool = False) -> None:
    """Malformed lines on stderr, as `counts` lists them: each reason once when it first
    comes, with an example; on the way out, the totals (lines read, counted, malformed)."""
    with feed.follower.lock:
        rep = feed.report
        counts = dict(rep.malformed.counts)
        examples = dict(rep.malformed.examples)
        lines, parsed = rep.lines, rep.parsed
    for reason in counts:
        if reason not in said:
            said.add(reason)
            kind = NO_REQUEST if reason in SAID_APART else "malformed"
            print(f"trafficwatch: {kind}, {reason}: not counted, e.g. "
                  f"{safe_text(examples.get(reason, b''))}", file=sys.stderr, flush=True)
    if end:
        detail = "".join(f"; {reason} {n:,}" for reason, n in
                         sorted(counts.items(), key=lambda kv: -kv[1]))
        apart = said_apart(counts)
        print(f"trafficwatch: {lines:,} lines read, {parsed:,} counted, "
              f"{sum(counts.values()) - apart:,} malformed"
              f"{f', {apart:,} {NO_REQUEST}' if apart else ''}{detail}", file=sys.stderr,
              flush=True)


def _report_ahead(ctx: Sink, site: str | None, said: int) -> int:
    """Say once on stderr when lines dated well past this machine's clock arrive (their hours
    are printed as the log dates them); returns the latest such time said, for the next call."""
    now = time.time()
    with ctx.lock:
        if site is not None and site not in ctx.series.sites():
            return said
        got = ctx.series.ahead(site, now)
        if got is None or got[1] <= said:
            return said
        print(f"trafficwatch: {ahead_note(ctx.series, site, now)}", file=sys.stderr, flush=True)
    return got[1]


def _emit(ctx: Sink, args: argparse.Namespace, classes, tz, seen: dict) -> None:
    """A line for each (site, hour) whose count changed since the last call: JSON, or a CSV row
    with --format csv (its header printed first, by run_follow). Hours are in --tz, or in the offset the log wrote them in,
    as `counts` prints them."""
    csv = args.out_format == "csv"
    with ctx.lock:
        sites = [args.site] if args.site else ctx.series.sites()
        for site in sites:
            if site not in ctx.series.sites():
                continue
            first, values = ctx.series.hourly(site, args.metric, bots=args.bots,
                                              status_classes=classes)
            hours = first + np.arange(len(values))
            clock = time.time()
            # an hour after the clock's is printed as the log dates its lines (README), and as
            # not over: it was "partial": false, and the hours up to it printed as 0, over,
            # before they had begun (a trial); those come when their hour does
            future = hours > int(clock) // HOUR
            keep = ~future | (np.nan_to_num(values) > 0)
            hours, values, future = hours[keep], values[keep], future[keep]
            partial = set(ctx.series.unfinished_hours(site, clock, report=False))
            partial |= set(hours[future].tolist())
            cur = [(None if np.isnan(v) else int(v), int(h) in partial)
                   for h, v in zip(hours.tolist(), values.tolist())]
            # a line when an hour's count changes, and when it stops being partial (its hour
            # is over: its last line said partial, and it is whole)
            changed = [i for i, (v, p) in enumerate(cur)
                       if v is not None and seen.get((site, int(hours[i]))) != (v, p)]
            if not changed:
                continue
            at = hours[changed]
            name = safe_name(site)
            texts = hour_texts(at, hour_offsets(ctx.series, site, at, tz))
            for i, text in zip(changed, texts, strict=True):
                v, p = cur[i]
                seen[(site, int(hours[i]))] = (v, p)
                print(f"{text},{csv_field(name)},{args.metric},{v},{1 if p else ''}" if csv else
                      json.dumps({"hour": text, "site": name, "metric": args.metric,
                                  "count": v, "partial": p}), flush=True)
