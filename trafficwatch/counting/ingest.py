"""Read log files (whole) into an HourlySeries, with a per-file report of what happened."""
from __future__ import annotations

import contextlib
import datetime
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace

from trafficwatch.counting.columns import (
    csv_named,
    header_columns,
    is_counts_header,
    other_separator,
    separator_name,
)
from trafficwatch.counting.plan import batch_workers, whole_file_task
from trafficwatch.counting.series import ChunkCounts, HourlySeries, count_chunk
from trafficwatch.files import own_temp, sweep_orphans, temp_prefix
from trafficwatch.hours import HOUR
from trafficwatch.logs import read as logread
from trafficwatch.logs import refit
from trafficwatch.logs.detect import detect_format, is_error_log
from trafficwatch.logs.formats import PRESETS, LogFormat, get_format
from trafficwatch.logs.parse import ParseOptions, Parser
from trafficwatch.logs.read import binary_why, looks_binary, parse_file, sniff
from trafficwatch.logs.records import Malformed, ParseResult, Records
from trafficwatch.logs.sources import ERROR_LOG, SourceFile, discover, drop_copies
from trafficwatch.safe import safe_name, safe_text

EMPTY = "is empty; nothing to count"  # a reason a file was not read that is no fault (exit 0)
STDIN = "<stdin>"  # how `-` is named in messages (never by the temporary file it is copied to)
_spooled: list[str] = []  # the copy of stdin while a spooled_stdin() block runs


@dataclass
class FileReport:
    """What reading one file gave: counts, format, or why it was skipped."""

    name: str
    site: str
    format: str = ""
    lines: int = 0
    parsed: int = 0
    excluded: int = 0
    skipped_lines: int = 0
    unread: int = 0  # bytes before IngestOptions.since not read (a plain file's start, or a
    # whole archive whose last change was before it)
    malformed: Malformed = field(default_factory=Malformed)
    error: str = ""  # one line: why nothing (or not everything) was read, and what to do
    ignored: str = ""  # why it was not read although nothing is wrong (an error log, EMPTY)
    first_ts: int | None = None
    last_ts: int | None = None
    sites: set[str] = field(default_factory=set)  # the sites its requests were counted under:
    # `site`, or the virtual hosts its lines name
    host_first: dict[str, int] = field(default_factory=dict)  # each virtual host its lines
    # name: the time of its first line in this file (HourlySeries.cover_hosts)
    changed: str = ""  # the format its lines changed to within it, the latest (logs.refit;
    # `format` names the first and the latest)
    changes: int = 0  # how many times it changed

    def own_site(self) -> bool:
        """Whether the file's hours are its own site's: not when every request went to the
        virtual host its line names (a VCOMBINED file 'vhosts' had been a site of zeros)."""
        return not self.sites or self.site in self.sites


@dataclass
class IngestReport:
    """Every file's report plus the files skipped before reading."""

    files: list[FileReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # error logs, by name or content
    unnamed: list[str] = field(default_factory=list)  # files --vhost-from-filename did not name
    seconds: float = 0.0
    complete_from: int | None = None  # with IngestOptions.last_hours: every request from this
    # time (epoch seconds) on was read, the lines long before it maybe not (FileReport.unread)
    # counted before a restart (live following resumes from its state file)
    restored_lines: int = 0
    restored_parsed: int = 0
    restored_excluded: int = 0
    restored_malformed: Malformed = field(default_factory=Malformed)
    folded: int = 0  # files read and let go of since (fold): their figures are in restored_*

    def fold(self, rep: FileReport) -> None:
        """Let go of a file read to its end and gone from disk: its figures join the totals
        (restored_*), its report leaves `files` (a follower's reports had grown by one at each
        rotation, for ever)."""
        self.restored_lines += rep.lines
        self.restored_parsed += rep.parsed
        self.restored_excluded += rep.excluded
        self.restored_malformed.merge(rep.malformed)
        self.files.remove(rep)
        self.folded += 1

    @property
    def lines(self) -> int:
        return self.restored_lines + sum(f.lines for f in self.files)

    @property
    def parsed(self) -> int:
        return self.restored_parsed + sum(f.parsed for f in self.files)

    @property
    def excluded(self) -> int:
        return self.restored_excluded + sum(f.excluded for f in self.files)

    @property
    def malformed(self) -> Malformed:
        total = Malformed()
        total.merge(self.restored_malformed)
        for f in self.files:
            total.merge(f.malformed)
        return total

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.error]

    @property
    def lost(self) -> bool:
        """Was some file skipped or not (wholly) read? Exit code 1's reason. Error logs, files
        not named like logs and empty files are not: nothing was lost."""
        return bool(self.failed or self.skipped)


@dataclass
class IngestOptions:
    """How to read: format override, parse options, site naming."""

    log_format: str | None = None
    date_format: str | None = None
    time_format: str | None = None
    parse: ParseOptions = field(default_factory=ParseOptions)
    vhost_from_filename: str | None = None
    workers: int | None = None
    # Only the last this many hours are wanted (`top`): ingest() finds the latest line in the
    # ends of the plain files and reads each file from the lines SINCE_SLACK before those hours
    # (since_offset), archives last changed before then not at all. None: everything.
    last_hours: int | None = None
    since: int | None = None  # set by ingest() from last_hours: the time (epoch seconds) the
    # lines before which need not be read
    # Only this site is wanted (--site): where files are named after it, those alone are read
    # (`top --site` read 450 sites' files, twice: 45 s for 2 requests, a trial); a site named
    # by the lines (a virtual host) reads every file
    only_site: str | None = None


def _only(found, site: str) -> None:
    """Keep the files of `site` alone in `found`, where files are named after it (as the
    series resolves a name: as written, any case, or as trafficwatch writes it)."""
    from trafficwatch.safe import safe_name

    want = site.lower()
    mine = [k for k in found.sites if k.lower() == want or safe_name(k).lower() == want]
    if mine:
        found.sites = {k: found.sites[k] for k in mine}


def _consecutive(older: SourceFile, newer: SourceFile) -> bool:
    """True when `newer` is the rotation right after `older` (access.log.2.gz -> access.log.1)."""
    if older.date_key and newer.date_key:  # dated (u_ex240101.log): a month apart at most
        try:
            gap = _date(newer.date_key) - _date(older.date_key)
        except ValueError:
            return False
        return 0 <= gap.days <= 31
    if older.date_key or newer.date_key:  # the live file after its dated rotations: a chain
        return True
    return older.rotation - newer.rotation == 1  # a missing .N leaves a gap


def _date(key: str) -> datetime.date:
    """The date of a date stamp's digits (YYYYMMDD[HH])."""
    return datetime.date(int(key[:4]), int(key[4:6]), int(key[6:8]))


def first_line(sample: list[bytes]) -> str:
    """A file's first line as a message quotes it: its first 120 bytes, sanitised once (quoted
    by repr() after a decoding that wrote invalid bytes as '\\xff', each was shown '\\\\xff': a
    security trial)."""
    return "'" + safe_text(sample[0][:120], tabs=False) + "'" if sample else "''"


def choose_format(opts: IngestOptions, sample: list[bytes],
                  hint: LogFormat | None = None) -> tuple[LogFormat | None, str]:
    """The format --log-format names, else the one detected in `sample` (`hint` tried first);
    and, where none fits, why (the end of a sentence: "no known log format matches (tried
    ...)"). ValueError for a bad --log-format."""
    if opts.log_format:
        fmt = get_format(opts.log_format, date_format=opts.date_format, time_format=opts.time_format)
        return fmt, ""
    det = detect_format(sample, hint)
    if det.format is not None:
        return det.format, ""
    first = first_line(sample)
    if det.times is not None:  # the format is right, its times are not: a one-line file dated
        # 31 Feb or 1969 read "no known log format matches" (a trial)
        kind, why = det.times
        return None, (f"its lines are {kind} but no time in them can be counted ({why}); "
                      f"first line: {first}")
    return None, (f"no known log format matches (tried {', '.join(det.scores)}); "
                  f"first line: {first}; pass --log-format")


def not_a_log(name: str, sample: list[bytes], why_none: str) -> str:
    """Why a file no log format reads is not counted: `why_none`, or, for a CSV of hourly
    counts (`counts hourly.csv`: not a log at all), where it is read instead."""
    lead = b"".join(ln.strip() for ln in sample[:8])
    if lead.startswith(b"[") and b'"hour"' in lead and b'"count"' in lead:  # `counts --format
        # json`'s: "no known log format ... first line: '['" said nothing of it (a trial)
        return (f"{name} is hourly counts as `counts --format json` writes them, not an access "
                "log: forecast, eval and train read counts' CSV (counts without --format json)")
    if sample and not is_counts_header(sample[0]) and csv_named(name):  # an analytics export
        # (date,visitors,...): "no known log format ...; pass --log-format" sent an analyst to
        # log formats (a trial)
        return (f"{name} is a CSV, not an access log (first line {first_line(sample)}): "
                "forecast, eval "
                "and train read a CSV of hourly counts, with columns hour,count (or ds,y)")
    if not sample or not is_counts_header(sample[0]):
        return f"{name}: {why_none}"
    cols = header_columns(sample[0][:120])
    sep = other_separator(cols)
    # (split by a tab, ';' or '|', the model commands refuse it too: "read it directly"
    # was untrue, a review)
    kind = "a CSV, " if sep is None else ""
    return (f"{name} is already hourly counts ({kind}first line {','.join(cols)!r}), "
            "not an access log: " + (
                "forecast, eval and train read it directly" if sep is None else
                f"its columns are separated by {separator_name(sep)}"
                ": write it with commas and forecast, eval and train read it"))


def read_source(
    src: SourceFile,
    series: HourlySeries,
    opts: IngestOptions,
    on_progress: Callable[[FileReport], None] | None = None,
    hint=None,
    shown: str | None = None,
) -> FileReport:
    """Parse one file completely into `series`; errors end up in the report, not raised.

    `hint`: the format of the site's previous file, tried first (rotations share a format).
    `shown`: the name messages give the file (stdin's copy is named STDIN).
    """
    if src.path == "-":  # stdin can be read once: spool it to disk, then read it like a file
        with spooled_stdin() as copy:
            return read_source(replace(src, path=copy), series, opts, on_progress, hint, STDIN)
    name = shown or safe_name(src.path)
    rep = FileReport(name=name, site=src.site)
    try:
        sample = sniff(src.path)
    except OSError as exc:
        why = "; check permissions" if isinstance(exc, PermissionError) else ""
        rep.error = f"cannot read {name}: {exc.strerror or exc}{why}"
        return rep
    if not sample:  # a log just rotated, or one never written to: nothing is lost
        rep.ignored = EMPTY
        return rep
    fmt, why_none = choose_format(opts, sample, hint)
    if looks_binary(sample, fmt):
        rep.error = binary_why(name, sample)
        return rep
    if fmt is None and is_error_log(sample):
        rep.ignored = ERROR_LOG
        return rep
    if fmt is None:
        rep.error = not_a_log(name, sample, why_none)
        return rep
    rep.format = fmt.name
    begin = 0
    if opts.since is not None:
        try:
            st = os.stat(src.path)
            if src.compressed and st.st_mtime < opts.since:
                rep.unread = st.st_size  # written to last before: all older
                return rep
            begin = logread.since_offset(src.path, fmt, opts.parse, opts.since, SINCE_SLACK)
        except OSError:
            begin = 0  # read whole, where the error is reported
        rep.unread = begin
    # client and visitor hashes only for a series that counts visitors
    parse_opts = replace(opts.parse, keep_visitors=opts.parse.keep_visitors and series.track_visitors)
    # A real series is counted into in the workers (only the counts come back); other
    # consumers (replay keeps the requests themselves) get the records.
    reduce = CountInto(src.site, series.track_visitors, series.track_paths) \
        if isinstance(series, HourlySeries) else None
    try:
        for res in parse_file(src.path, fmt, parse_opts, workers=opts.workers, reduce=reduce,
                              begin=begin, fixed=bool(opts.log_format)):
            _absorb(rep, res, series)
            if on_progress is not None:
                on_progress(rep)
    except OSError as exc:
        rep.error = f"{name}: {exc} after {rep.lines:,} lines; the complete lines before it counted"
    if rep.lines and not rep.parsed and not rep.excluded and not rep.error:
        # given --log-format: why its lines do not fit it, not "pass --log-format" again (a
        # Cloudflare JSON, W3C lines with no #Fields header: a trial went round in that loop)
        why = max(rep.malformed.counts.items(), key=lambda kv: kv[1], default=None)
        then = (f"{why[0]} ({why[1]:,} line{'s' * (why[1] != 1)}): --log-format "
                f"{safe_text(opts.log_format)!r} fits none of them" if opts.log_format and why
                else "pass --log-format")
        rep.error = (f"{name}: no line parsed as {fmt.name}; first line: "
                     f"{first_line(sample)}; {then}")
    return rep


@contextmanager
def spooled_stdin() -> Iterator[str]:
    """stdin copied to a temporary file for the block, and that file's path: a pipe can be read
    once, and both a look at its first line (a counts CSV or a log?) and read_source("-") read
    this copy. Within a block, a nested call gives the same copy."""
    if _spooled:
        yield _spooled[-1]
        return
    sweep_orphans(("stdin",))  # copies of stdin left by a process killed with -9
    # said to be taken away on a signal (files.remove_own) before it exists: a HUP between the
    # file made and it said left it behind (once, the suite under load)
    name = os.path.join(tempfile.gettempdir(), temp_prefix("stdin") + secrets.token_hex(6))
    own_temp(name)
    try:
        fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except BaseException:
        own_temp(name, held=False)
        raise
    try:
        try:
            tmp = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with tmp:
            shutil.copyfileobj(sys.stdin.buffer, tmp, 1 << 20)
        _spooled.append(name)
        try:
            yield name
        finally:
            _spooled.pop()
    finally:
        own_temp(name, held=False)
        with contextlib.suppress(FileNotFoundError):  # (taken away already: not a traceback)
            os.unlink(name)


@dataclass
class Counted:
    """A chunk's parse result counted per site (by CountInto, in the worker that parsed it)."""

    counts: dict[str, ChunkCounts]
    malformed: Malformed
    lines: int
    parsed: int
    excluded: int
    skipped: int
    first_ts: int | None
    last_ts: int | None
    hosts: frozenset[str] = frozenset()  # the sites of `counts` named by a line's virtual host
    changed: str = ""  # ParseResult.changed


@dataclass(frozen=True)
class CountInto:
    """Counts a ParseResult where it was parsed: only the hourly counts travel back."""

    site: str
    track_visitors: bool
    track_paths: bool

    def __call__(self, res: ParseResult) -> Counted:
        rec = res.records
        parts = by_site(self.site, rec)
        counts = {site: count_chunk(part, self.track_visitors, self.track_paths)
                  for site, part, _ in parts}
        lo, hi = (int(rec.ts.min()), int(rec.ts.max())) if len(rec) else (None, None)
        return Counted(counts, res.malformed, res.lines, len(rec), res.excluded, res.skipped,
                       lo, hi, frozenset(site for site, _, host in parts if host), res.changed)


def by_site(site: str, rec: Records) -> list[tuple[str, Records, bool]]:
    """The requests of a chunk per site: `site`, or the virtual host a line names (True)."""
    if not len(rec):
        return []
    if rec.vhosts and (rec.vhost >= 0).any():
        return [(rec.vhosts[code] if code >= 0 else site, _take(rec, rec.vhost == code),
                 code >= 0) for code in sorted(set(rec.vhost.tolist()))]
    return [(site, rec, False)]


def add_records(series: HourlySeries, site: str, rec: Records,
                first: dict[str, int] | None = None) -> list[str]:
    """Count parsed requests into `series`: under `site`, or the virtual host a line names;
    the sites they went to (and into `first`, each host's first line, where not earlier)."""
    out = []
    for name, part, host in by_site(site, rec):
        out.append(got := series.add(name, part, host))
        if host and first is not None and len(part):
            t = int(part.ts.min())
            first[got] = min(first.get(got, t), t)
    return out


def _absorb(rep: FileReport, res: ParseResult | Counted, series: HourlySeries) -> None:
    if isinstance(res, Counted):
        parsed, lo, hi = res.parsed, res.first_ts, res.last_ts
        for site, counts in res.counts.items():
            got = series.add_counts(site, counts, site in res.hosts)
            rep.sites.add(got)
            if site in res.hosts:
                rep.host_first[got] = min(rep.host_first.get(got, counts.min_ts), counts.min_ts)
    else:
        rec = res.records
        parsed = len(rec)
        lo, hi = (int(rec.ts.min()), int(rec.ts.max())) if parsed else (None, None)
        rep.sites.update(add_records(series, rep.site, rec, rep.host_first))
    rep.lines += res.lines
    rep.parsed += parsed
    rep.excluded += res.excluded
    rep.skipped_lines += res.skipped
    rep.malformed.merge(res.malformed)
    if res.changed and res.changed != rep.changed:  # the file's lines changed format here
        # (logs.refit): both named (once: each part of a big file read in parallel that
        # begins after the change finds it again); past the first, counted, the last named
        # (a log changed back and forth had its format said in 40,000 characters: a review)
        when = "" if lo is None else time.strftime(" from %Y-%m-%d %H:%M UTC", time.gmtime(lo))
        first = rep.format.split(", then ")[0]
        rep.changes += 1
        rep.format = (f"{first}, then {res.changed}{when}" if rep.changes == 1 else
                      f"{first}, then {rep.changes} changes of format, the last to "
                      f"{res.changed}{when}")
        rep.changed = res.changed
    if lo is not None:
        rep.first_ts = lo if rep.first_ts is None else min(rep.first_ts, lo)
        rep.last_ts = hi if rep.last_ts is None else max(rep.last_ts, hi)


def _take(rec, mask):
    cols = {f.name: getattr(rec, f.name)[mask] for f in fields(rec)
            if f.name not in ("vhosts",) and getattr(rec, f.name) is not None}
    return replace(rec, **cols)


def ingest(
    paths: list[str],
    opts: IngestOptions | None = None,
    series: HourlySeries | None = None,
    on_progress: Callable[[FileReport], None] | None = None,
) -> tuple[HourlySeries, IngestReport]:
    """Discover the files under `paths`, read each fully, and return the series and a report.

    A site's files form a rotation chain: the time between one file's last line and the next
    file's first line is covered (quiet hours are zeros); a missing rotation leaves a gap.
    Compressed and small files are read on every core, one file per worker; big plain files
    one after another, each split over every core by parse_file.
    """
    opts = opts or IngestOptions()
    series = series if series is not None else HourlySeries()
    started = time.perf_counter()
    found = discover(paths, vhost_from_filename=opts.vhost_from_filename)
    if opts.only_site is not None:
        _only(found, opts.only_site)
    drop_copies(found)
    report = IngestReport(skipped=list(found.skipped), ignored=list(found.ignored),
                          unnamed=list(found.unnamed))
    if opts.last_hours is not None and (latest := latest_time(found.sites, opts)) is not None:
        report.complete_from = (latest // HOUR - opts.last_hours + 1) * HOUR
        opts = replace(opts, since=report.complete_from - SINCE_SLACK)
    pool = _file_pool(found.sites, opts, series)
    last: list[LogFormat | None] = [None]  # the format the site read before found: the hint
    # for a site's first file (an AWS folder is a file a site, each 5 minutes: detecting every
    # format in each was 80% of the time, 45 ms a file; a busy server's trial)
    try:
        for site, files in found.sites.items():
            prev: tuple[SourceFile, FileReport] | None = None
            for src, rep in _read_site(files, series, opts, on_progress, pool, last):
                report.files.append(rep)
                if rep.ignored:
                    report.ignored.append((rep.name, rep.ignored))
                if rep.first_ts is not None:
                    series.cover_hosts(rep.host_first, rep.last_ts)
                if rep.first_ts is None or not rep.own_site():  # nothing of its own site
                    prev = None
                    continue
                series.add_coverage(site, rep.first_ts, rep.last_ts)
                if prev is not None and _consecutive(prev[0], src):
                    series.add_coverage(site, prev[1].last_ts, rep.first_ts)
                prev = (src, rep)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    report.seconds = time.perf_counter() - started
    return series, report


SINCE_SLACK = 2 * HOUR  # how far out of time order lines may be (a log line carries the time a
# request came, written when it ended: a download of an hour) and a file's last change after
# its last line's time: what is read before IngestOptions.since's hours


def latest_time(sites: dict[str, list[SourceFile]], opts: IngestOptions) -> int | None:
    """The time (epoch seconds) of the latest line in the last TAIL_WINDOW bytes of the plain
    files, each read in its own format; None where no such line is found (archives, stdin,
    W3C: then everything is read)."""
    latest = None
    for files in sites.values():
        for src in files:
            if src.path == "-" or src.compressed:
                continue
            try:
                fmt, _ = choose_format(opts, sniff(src.path))
                if fmt is None or fmt.kind == "w3c":
                    continue
                with open(src.path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    f.seek(max(0, size - logread.TAIL_WINDOW))
                    data = f.read(logread.TAIL_WINDOW)
            except OSError:
                continue  # read whole later, where the error is reported
            if size > logread.TAIL_WINDOW:
                data = data[data.find(b"\n") + 1:]  # from the first whole line
            ts = Parser(fmt, opts.parse).feed(data, final=True).records.ts
            if len(ts):
                latest = max(latest or 0, int(ts.max()))
    return latest


def _file_pool(sites: dict[str, list[SourceFile]], opts: IngestOptions, series):
    """Worker processes for whole files, when plan.batch_workers says they pay."""
    n = batch_workers(sites, opts.workers)
    if not n or not isinstance(series, HourlySeries):
        return None
    ctx = logread.start_method()
    if ctx is None:
        return None
    return logread.worker_pool(n, ctx)


def _read_in_worker(args: tuple) -> tuple[FileReport, HourlySeries]:
    """One whole file read in a worker into a series of its own."""
    src, opts, hint, track_visitors, track_paths = args
    part = HourlySeries(track_visitors=track_visitors, track_paths=track_paths)
    return read_source(src, part, replace(opts, workers=1), None, hint), part


@dataclass
class WholeFile:
    """A compressed file read whole in a worker (the app's first read): what the follower needs
    to take it as done (its identity, content head and length) and what it counted."""

    report: FileReport
    series: HourlySeries
    head: bytes  # the first FP_BYTES of content
    tail: bytes  # the last logread.TAIL_WINDOW bytes of content (the log tail's lines)
    length: int  # bytes of content


def read_archive(args: tuple) -> WholeFile | None:
    """Read a compressed log whole into a series of its own (in a worker).

    None where it is not that file any more, cannot be read to its end (a truncated archive) or
    has no known format: the follower reads it then and says why.
    """
    src, opts, ident, fp_bytes, track_visitors, track_paths = args
    try:
        with open(src.path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if (st.st_dev, st.st_ino) != ident:
                return None
            sample = sniff(src.path)
            fmt, _ = choose_format(opts, sample)
            if fmt is None or looks_binary(sample, fmt):
                return None
            part = HourlySeries(track_visitors=track_visitors, track_paths=track_paths)
            rep = FileReport(name=safe_name(src.path), site=src.site, format=fmt.name)
            parser, run = Parser(fmt, opts.parse), refit.Run()
            stream = logread.open_stream(src.path, fh=fh)
            head, tail, length = b"", b"", 0
            for chunk in logread.iter_chunks(stream):
                if len(head) < fp_bytes:
                    head += chunk[: fp_bytes - len(head)]
                length += len(chunk)
                tail = (tail + chunk)[-logread.TAIL_WINDOW:]
                parser, got = refit.feed(parser, chunk, run, final=True,
                                         fixed=bool(opts.log_format), hold=True)
                for res in got:
                    _absorb(rep, res, part)
            for res in refit.flush(parser, run)[1]:
                _absorb(rep, res, part)
            if logread.stream_error(stream):
                return None
    except (OSError, ValueError):
        return None
    return WholeFile(rep, part, head, tail, length)


def _read_site(files: list[SourceFile], series: HourlySeries, opts: IngestOptions,
               on_progress: Callable[[FileReport], None] | None, pool,
               last: list[LogFormat | None] | None = None):
    """(file, report) of each of a site's files, in order, each counted into `series`.

    The first file is read here (the format of the site read before, `last`, tried first): its
    format is the hint for the others, which go to the pool when there is one and they are
    whole-file tasks.
    """
    hint, futures = (last[0] if last else None), {}
    for i, src in enumerate(files):
        fut = futures.pop(i, None)
        rep = None
        if fut is not None:
            try:
                rep, part = fut.result()
            except BrokenExecutor:  # a worker was killed: read it here
                rep = None
            else:
                series.merge(part)
                if on_progress is not None:
                    on_progress(rep)
        if rep is None:
            rep = read_source(src, series, opts, on_progress, hint)
        if i == 0:
            hint = PRESETS.get(rep.changed or rep.format)  # (its latest format)
            if last is not None and hint is not None:
                last[0] = hint
            if pool is not None:
                task = (opts, hint, series.track_visitors, series.track_paths)
                for j, later in enumerate(files[1:], 1):
                    if whole_file_task(later):
                        try:
                            futures[j] = pool.submit(_read_in_worker, (later, *task))
                        except BrokenExecutor:
                            break
        elif fut is None and (rep.changed or rep.format) in PRESETS:
            hint = PRESETS[rep.changed or rep.format]
        yield src, rep


def nothing_read(report: IngestReport, paths: list[str]) -> str:
    """Why nothing at all could be read from `paths`, in one line."""
    for f in report.failed:
        return f.error
    if report.skipped:
        name, why = report.skipped[0]
        return f"nothing to read: {name}: {why}"
    return f"no access log found in {', '.join(paths)}: point trafficwatch at a log file or directory"
