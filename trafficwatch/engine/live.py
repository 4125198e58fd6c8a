"""Follow live logs into the engine's series, with the counts and offsets saved together.

The Follower (logs/follow.py) delivers each complete line once, across rename and copytruncate
rotation, compression of rotated files and truncation; this module parses what it delivers, adds
it to the series, and commits counts and file offsets in one atomic write (state.py), so a
restart resumes where it stopped: nothing counted twice, nothing missed while it was down.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from trafficwatch.counting.ingest import (
    EMPTY,
    CountInto,
    FileReport,
    IngestOptions,
    IngestReport,
    WholeFile,
    _absorb,
    choose_format,
    not_a_log,
    nothing_read,
    read_archive,
)
from trafficwatch.counting.plan import first_read
from trafficwatch.counting.series import HourlySeries
from trafficwatch.counting.state import State, StateStore, StateTaken, UntrustedState, natural
from trafficwatch.engine.sink import Sink
from trafficwatch.engine.snapshot import TailLine
from trafficwatch.engine.tail import may_name_hosts, sites_of_lines
from trafficwatch.logs import container, refit
from trafficwatch.logs import read as logread
from trafficwatch.logs.detect import ALREADY
from trafficwatch.logs.follow import FP_BYTES, FileKey, Follower, FollowEvent
from trafficwatch.logs.formats import PRESETS, LogFormat, get_format
from trafficwatch.logs.identity import (
    TAIL_BYTES,
    FileRecord,
    digest,
    first_line_digest,
    open_content,
    opens_as,
)
from trafficwatch.logs.parse import Parser, parse_bytes
from trafficwatch.logs.records import EXAMPLE_MAX, OTHER_HOSTS, Malformed, ParseResult
from trafficwatch.logs.sources import (
    BACKUP_ROTATION,
    DANGLING,
    SourceFile,
    classify,
    discover,
)
from trafficwatch.logs.w3c import JsonLine, header_fields
from trafficwatch.safe import safe_name

log = logging.getLogger(__name__)
RESCAN_S = 5.0  # how often the watched directories are listed again (inotify also wakes a scan)
COMMIT_S = 30.0  # how often changed counts and offsets are saved while running
FRESH_S = 86400  # a log written within this many seconds is taken as still being written
TAIL_PER_SITE = 50  # log-tail lines kept for each site (the pane shows the last 50 of the view)
ARCHIVE_TAIL_MAX = 16 << 20  # an archive read again after a restart for its last lines, at
ARCHIVE_TAIL_BUDGET = 64 << 20  # most this big, and all of them together (compressed bytes)
TAIL_SCAN = 2000  # lines of a chunk parsed again at most to find each host's last ones
STATE_KIND = "trafficwatch-live-2"  # 2: visitor hashes changed (fastclf span hash)


def file_rank(path: str, st: os.stat_result | None = None) -> tuple[bool, float, int]:
    """Where a file stands among its site's: the live log last (access.log, not access.log.1),
    then by mtime, then the least rotated last (a copied folder, the bundled sample logs, had
    access.log.1 written 2 ms after access.log)."""
    try:
        st = st or os.stat(path)
    except OSError:
        return (False, -float("inf"), 0)
    src = classify(Path(path))
    rotation = src.rotation if isinstance(src, SourceFile) else 0
    live = isinstance(src, SourceFile) and src.rotation == 0 and not src.date_key
    return (live, st.st_mtime, -rotation)


@dataclass
class _Stream:
    """What is known about one followed file: its report and its parser (None until detected)."""

    key: FileKey
    report: FileReport
    parser: Parser | None = None
    said: bool = False  # why it cannot be counted was said (once, not for every chunk)
    header: list[bytes] | None = None  # its W3C header, read once (_header_of)
    binary: bool = False  # not a text log: skipped, as `counts` skips it (no line counted)
    # a new file under the name of another followed (or saved) before it, that other gone from
    # its folder (not rotated beside it): the other's first and last lines' times (its first
    # None: a file saved before a restart) and the latest of its times, until the new one's
    # first lines are read (see _not_again, _replaced)
    replaces: tuple[int | None, int, int] | None = None
    replaced_heads: tuple[list[bytes], str] = ([], "")  # the other's content, where known:
    # its first bytes (followed from its start), the digest of its saved first line (before a
    # restart). An edited copy opens with one of its lines; a new log, rotated in, with its own
    head: bytes | None = None  # its first FP_BYTES, where read from its start (None: not)
    order: tuple[int | None, int | None] = (None, None)  # the times of its first and last
    # lines read, in the file's order (not the least and the latest: one line dated ahead)
    known_edit: bool = False  # `replaces` is its own content before an edit in place (the
    # follower knew it by its first bytes): no time rule decides it
    recount_until: int | None = None  # its lines up to this time were counted from the other
    run: refit.Run = field(default_factory=refit.Run)  # its latest lines its format does not
    # read (a change of format within the file: logs.refit)
    unknown_said: bool = False  # a run in no known format was said (once, until a change)


BEHIND_S = 3600  # a line read after the first read dated this much before it: a log behind
MAX_HEADER_LINES = 200  # `#` lines of a chunk taken for its header, at most
HEADER_SCAN_BYTES = 64 << 20  # a W3C file read on from past its header is looked through
HEADER_SCAN_LINES = 10_000  # for its `#Fields:` lines this far at most (and as many `#` lines)
REPLACED_SLACK_S = 300  # a new log under a gone one's name whose first line is older than the
# latest counted by this much holds the old one's lines: an edit in place (`sed -i`, `grep -v
# ... > tmp && mv tmp access.log`), not a new log (its lines come after). Where the old one's
# first time is known, the new one opening in its first half is one (a log of 4 minutes, a
# security trial)


RATE_WINDOW_S = 5.0  # the lines/s shown is over this many seconds
RETIRED_KEEP_S = 600.0  # a file's stream is let go of this long after the follower let go of it
PRUNE_S = 30.0  # how often the streams and reports the follower let go of are looked for


class LiveFeed:
    """Reads every file, then follows them; every complete line is counted exactly once.

    It reads what `sink.config` names and counts into `sink.series` (under `sink.lock`).
    With `state_path`, counts and offsets are restored from it at start and committed to it
    every COMMIT_S seconds and at `close()`.
    """

    def __init__(self, sink: Sink, state_path: str | os.PathLike | None = None,
                 *, start_thread: bool = True,
                 on_progress: Callable[[int, int], None] | None = None,
                 shown: bool = True) -> None:
        self.sink = sink
        self._on_screen = shown  # the app: an agent's or a follow's tail is shown nowhere
        cfg = sink.config
        self.report = IngestReport()
        # the log tail, per site: one shared deque of 200 lost a small site's lines to a big
        # file's chunks (elastic_apache_logs showed none beside two others' 155)
        # (during the first read, per site and file: `_slot`; joined in the files' order once
        # it is done, `_join_first_tails`)
        self._tails: dict[str | tuple[str, str], deque[TailLine]] = {}
        self._tail_cache: tuple[int, tuple[TailLine, ...]] = (-1, ())
        self._tail_version = 0
        self._tail_rank: dict[str, tuple] = {}  # a site's tail from a resumed file: its rank
        # truncations, skipped files, errors, over-long lines: newest last (not each new file)
        self.events: deque[str] = deque(maxlen=50)
        self.event_count = 0
        self.warnings: deque[str] = deque(maxlen=10)  # truncations and read errors, for the screen
        self._long_said: set[str] = set()  # files an over-long line was said of: once each
        # (then counted as malformed, as every reason is: 300 lines of 1 MB from a client
        # printed 161 lines on stderr, an ops trial)
        self.rate = 0.0  # lines a second, over the last RATE_WINDOW_S
        self._rate_steps: deque[tuple[float, int]] = deque()
        self.last_update = time.time()
        # site -> when (wall clock) the follower last handed it lines: lines that come dated
        # long ago (a log shipped in hourly batches, a server's clock behind) still come
        self.last_read: dict[str, float] = {}
        self.notice = ""  # one line about the state file (moved aside, not used), shown on screen
        self.save_failed = ""  # the last save's failure ("" once one worked): said at the end
        self._waiting_dirs: dict[str, str] = {}  # directories given with no log in them yet
        # (watched), and what the follower said of each
        self._streams: dict[tuple[int, int], _Stream] = {}
        self._saved_parsers: dict[tuple[int, int], Parser] = {}
        self._before: dict[tuple[int, int], FileReport] = {}  # files counted before a restart
        self._lines_since_step = 0
        self._dirty = False
        self._untracked: dict[tuple[int, int], float] = {}  # stream -> since when the follower
        # tracks its file no more (_prune)
        self._orphans: dict[int, float] = {}  # id() of a report -> since when no stream holds it
        self._pruned = time.monotonic()
        self._last_commit = time.monotonic()
        self._last_scan = time.monotonic()
        self._closed = False
        self._ready = False  # the first read is done: commits from the follower may start
        self._ready_at = 0.0
        self._newest: dict[str, int] = {}  # per site: the time of its newest line read (_behind)
        self.behind: set[str] = set()  # sites a line of which, read after the first read, was
        # dated BEHIND_S or more before it: a log behind the clock (batch-shipped, a server's
        # clock behind), whose anomalies are news by its own clock (alerts)
        self._aged = float("-inf")  # when old visitor keys and path counts were let go of
        self._commit_lock = threading.Lock()  # one commit at a time, so none is overtaken
        self._fresh_at = 0.0  # when a followed file was last seen written within FRESH_S
        self._options_key = _options_key(sink)
        self.store = StateStore(state_path) if state_path else None
        holder = self.store.lock() if self.store else None
        self.state_held_by = holder  # the pid of the trafficwatch saving there (0: unknown)
        if holder is not None:  # another trafficwatch saves there: this one neither reads a
            # state that is being rewritten nor overwrites it
            pid = f" (pid {holder})" if holder else ""
            self.notice = (f"state file {self.store.path} is in use by another "
                           f"trafficwatch{pid} on these logs: this one counts from the logs "
                           "and does not save state (--state PATH gives it its own)")
            log.info(self.notice)
        # the state file of the other: taken over once it has ended (commit). An instance
        # left running, unseen, by a terminal closed under `script` held it, and the next
        # one saved nothing even after it was stopped (a trial)
        self._held_store = self.store if holder is not None else None
        if holder is not None:
            self.store = None
        resume = self._restore() if self.store else None
        # the files saved before this start, by name: a new one under such a name may be an
        # edited copy of it (_not_again)
        self._saved_paths = {r.path: ((r.dev, r.ino), r.first_line, r.last_line_ts)
                             for r in resume or () if r.path}
        self._saved_last = {(r.dev, r.ino): r.last_line_ts for r in resume or ()
                            if r.last_line_ts}  # (kept where no line is read again)
        if resume is None:  # nothing counted yet: big plain files are read on every core first
            resume = self._read_in_workers(on_progress)
        self.follower = Follower(
            cfg.paths, self._on_data, poll=cfg.poll, on_event=self._on_event, resume=resume,
            max_line_bytes=cfg.ingest.parse.max_line_bytes,
            vhost_from_filename=cfg.ingest.vhost_from_filename, rescan_interval=RESCAN_S,
            on_gone=self._commit_gone, whole_line=self._whole_line)
        shown = time.monotonic()
        while self.follower.check_now():  # the first read, all of it (or what was appended since)
            if on_progress is not None and time.monotonic() - shown >= 0.25:
                shown = time.monotonic()
                on_progress(*self.follower.progress())
        self.follower.settle_first()
        for rec in self.follower.gone_since_save():
            try:
                st = os.stat(rec.path)
            except OSError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) == (rec.dev, rec.ino) and \
                    not os.access(rec.path, os.R_OK):  # (not a new file on a reused inode)
                # the same file, which this user cannot read now (skipped, said): it had been
                # called gone, "a new file has that name now", and was read on, exactly, once
                # it could be (a trial)
                self._on_event(FollowEvent("gone", safe_name(rec.path), (
                    f"{safe_name(rec.path)}, followed before this start, cannot be read now: "
                    "it is read on from where it was once it can be")))
                continue
            # a new log under its name is another file: "xz.access.log ... is gone" read as
            # wrong beside the xz.access.log on disk (a trial's rotation into .xz while stopped)
            now = " (a new file has that name now)" if st is not None else ""
            said = (f"{safe_name(rec.path)}, the file followed before this start, is gone"
                    f"{now}: what was written to it after the last save, if anything, was not "
                    "read")
            if st is not None and (st.st_dev, st.st_ino) == (rec.dev, rec.ino):
                # on its inode: emptied (`: > access.log`), or deleted and a new file given its
                # inode number, which nothing tells apart; said "gone (a new file has that name
                # now)" of a file emptied (an ops trial)
                said = (f"{safe_name(rec.path)}, the file followed before this start, was "
                        "emptied or replaced since the last save: what was written to it after "
                        "the save, if anything, was not read")
            self._on_event(FollowEvent("gone", safe_name(rec.path), said))
            self.warnings.append(said)  # (the app's screen too)
        failed = ""
        if not self.follower.tracked() and not self.report.restored_lines and \
                not (self._waiting_dirs and not self.report.failed and
                     all(why == DANGLING for _, why in self.report.skipped)):
            failed = nothing_read(self.report, cfg.paths)  # (a directory with no log yet is
            # watched, as README says: a fresh server's agent must not exit and restart)
        elif self._streams and not self.report.parsed and \
                all(s.report.error for s in self._streams.values()):
            first, *others = [st.report.error for st in self._streams.values()]
            failed = first  # and the others in the same line (the app said the first alone)
            if others:
                said = [e if len(e) <= 100 else e[:99] + "…" for e in others[:2]]
                more = "; …" if len(others) > 2 else ""
                failed += (f" (and {len(others)} other file{'s' * (len(others) > 1)} not read: "
                           f"{'; '.join(said)}{more})")
        if failed:
            self.follower.stop()  # closes the files it opened
            if self.store is not None:
                self.store.unlock()
            raise ValueError(failed)
        self._lines_since_step = 0
        self._rate_since = time.monotonic()  # lines/s counts from here (not the first read)
        self._ready = True
        self._ready_at = time.time()
        for rep in self.report.files:  # changes of format the first read found: said as those
            if rep.changed:  # found while following are (counts --follow said nothing of them)
                self._say(f"{rep.name}: its lines changed format: {rep.format}")
        self._join_first_tails()
        if self.report.restored_lines and self._on_screen:
            self._archive_tails()
        self.commit()
        if start_thread:
            self.follower.start()

    # -- what the engine reads -----------------------------------------------------------------
    @property
    def waiting(self) -> str:
        """While no file is followed yet: which directories are watched for logs to come."""
        if not self._waiting_dirs or self.follower.following():
            return ""
        if len(self._waiting_dirs) == 1:  # why, as counts says it (a folder of subfolders
            # was "no access log yet", where counts said it held none)
            return next(iter(self._waiting_dirs.values()))[:300]
        return (f"{safe_name(', '.join(self._waiting_dirs))[:200]}: no access log yet; "
                "watching for one")

    @property
    def clock(self) -> float:
        return time.time()

    @property
    def fresh(self) -> bool:
        """Some followed file was written in the last day: quiet hours up to now are zeros.

        Logs nobody writes any more (an archive, old rotations) end at their last line instead.
        Asked at every frame: newest files first, and a yes is kept for 5 s.
        """
        now = time.time()
        if now - self._fresh_at < 5.0:
            return True
        for key in reversed(self.follower.tracked()):
            try:
                if now - os.stat(key.path).st_mtime < FRESH_S:
                    self._fresh_at = now
                    return True
            except OSError:
                continue
        return False

    def step(self, dt: float) -> None:
        """One pass of reading (the follower's thread also reads as soon as inotify says so)."""
        if time.monotonic() - self._last_scan >= RESCAN_S:
            self._last_scan = time.monotonic()
            self.follower.request_scan()
        if not self._closed:
            self.follower.check_now()
        with self.follower.lock:
            n, self._lines_since_step = self._lines_since_step, 0
        # lines a second over the last RATE_WINDOW_S: per step (0.25 s), a line a second read
        # as 4 lines/s in the frame it came in (and 0 in the three after)
        t = time.monotonic()
        self._rate_steps.append((t, n))
        while t - self._rate_steps[0][0] > RATE_WINDOW_S:
            self._rate_steps.popleft()
        span = min(RATE_WINDOW_S, t - self._rate_since)  # less while younger than the window
        self.rate = sum(k for _, k in self._rate_steps) / max(span, dt, 1e-9)
        if n:
            self.last_update = time.time()
            self.sink.on_change()
        if time.monotonic() - self._pruned >= PRUNE_S:
            self._pruned = time.monotonic()
            with self.follower.lock:  # (as a commit reads them: never half folded)
                self._prune()
        if self._dirty and time.monotonic() - self._last_commit >= COMMIT_S:
            self.commit()

    def _prune(self) -> None:
        """Let go of what the follower let go of, RETIRED_KEEP_S after: the streams of files it
        tracks no more (gone from disk, read to their end) and the reports of files no stream
        holds (also a file whose inode number a new log took), their figures joining the
        report's totals. Each rotation had added a report, and often a stream and its parser,
        for ever: 5 KB of memory a rotation and 200 bytes more in every save (a review: 1,200
        rotations). Kept that long for a new log under its name (`_replaced`); a report of a
        file that could not be read stays, said."""
        now = time.monotonic()
        live = {(k.dev, k.ino) for k in self.follower.tracked()}
        for ident in list(self._streams):
            if ident in live:
                self._untracked.pop(ident, None)
            elif now - self._untracked.setdefault(ident, now) >= RETIRED_KEEP_S:
                del self._streams[ident], self._untracked[ident]
        held = {id(st.report) for st in self._streams.values()} | {
            id(rep) for rep in self._before.values()}
        for rep in list(self.report.files):
            if id(rep) in held or rep.error:
                self._orphans.pop(id(rep), None)
            elif now - self._orphans.setdefault(id(rep), now) >= RETIRED_KEEP_S:
                del self._orphans[id(rep)]
                self.report.fold(rep)
        present = {id(rep) for rep in self.report.files}  # (an id is another object's once
        self._orphans = {k: v for k, v in self._orphans.items() if k in present}  # it is gone)

    def close(self) -> None:
        """Stop following and save counts and offsets (q in the app, Ctrl-C, SIGTERM)."""
        if self._closed:
            return
        self._closed = True
        self.follower.stop()
        self.commit()
        if self.store is not None:
            self.store.unlock()

    # -- the first read of big files, in parallel ----------------------------------------------
    def _read_in_workers(self, on_progress: Callable[[int, int], None] | None) -> list[FileRecord]:
        """The first read, on every core: compressed rotations of ARCHIVE_MIN bytes or more whole, a
        file per worker process, and plain files of PARALLEL_MIN bytes or more up to their last complete line, split
        over the workers (parse_file) — before the follower starts.

        What was read is handed to the follower as resume records (identity, offset, tail hash;
        archives marked done), as a restart from the state would be: it goes on from there,
        across rotations meanwhile. A file that changes identity before it is read, has no
        newline in its last MiB, is W3C (plain files: its header state runs through the file),
        of no known format, or cannot be read to its end is left to the follower, which reads
        it from the start and says why (nothing of it counted here).
        """
        cfg = self.sink.config
        plan = first_read(cfg.paths, cfg.ingest.vhost_from_filename)
        archives, big, total = plan.archives, plan.big, plan.total_bytes
        done, records = 0, []

        def progress(n: int) -> None:
            if on_progress is not None:
                on_progress(done + n, total)

        for src, st, whole in self._read_archives(archives):
            if whole is not None:
                records.append(self._count_archive(src, st, whole))
            done += st.st_size
            progress(0)
        for path, site, st in big:
            rec = self._read_big_file(path, site, st, progress)
            done += st.st_size
            if rec is not None:
                records.append(rec)
        return records

    def _read_archives(self, archives: list):
        """(file, stat, WholeFile or None) for each archive, read by worker processes."""
        if not archives:
            return
        from concurrent.futures import BrokenExecutor

        cfg, series = self.sink.config, self.sink.series
        ctx = logread.start_method()
        if ctx is None:  # no worker can start: the follower reads them
            return
        pool = logread.worker_pool(min(os.cpu_count() or 1, 8), ctx)
        try:
            futures = [pool.submit(read_archive, (src, cfg.ingest, (st.st_dev, st.st_ino),
                                                  FP_BYTES, series.track_visitors,
                                                  series.track_paths))
                       for src, st in archives]
            for (src, st), fut in zip(archives, futures):
                try:
                    whole = fut.result()
                except BrokenExecutor:  # a worker was killed: the follower reads this one
                    whole = None
                yield src, st, whole
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _count_archive(self, src, st: os.stat_result, whole: WholeFile) -> FileRecord:
        """Take an archive read whole by a worker: its counts, report, tail, and the record that
        tells the follower it is done."""
        rep = whole.report
        with self.sink.lock:
            self.sink.series.merge(whole.series)
            if rep.first_ts is not None:
                self.sink.series.cover_hosts(rep.host_first, rep.last_ts)
            if rep.first_ts is not None and rep.own_site():
                self.sink.series.add_coverage(src.site, rep.first_ts, rep.last_ts)
        ident = (st.st_dev, st.st_ino)
        self.report.files.append(rep)
        self._streams[ident] = _Stream(FileKey(*ident, src.path, src.site), rep)
        self._lines_since_step += rep.lines
        self._dirty = True
        self._tail(src.site, whole.tail, path=src.path)
        return FileRecord(*ident, digest(whole.head), len(whole.head), whole.length,
                          digest(whole.tail[-TAIL_BYTES:]), src.path, done=True,
                          first_line=first_line_digest(whole.head))

    def _read_big_file(self, path: str, site: str, st: os.stat_result,
                       progress: Callable[[int], None]) -> FileRecord | None:
        """One big plain file on every core, up to its last complete line (see above)."""
        opts = self.sink.config.ingest
        ident = (st.st_dev, st.st_ino)
        try:
            with open(path, "rb") as fh:
                now = os.fstat(fh.fileno())
                if (now.st_dev, now.st_ino) != ident:
                    return None
                head = fh.read(FP_BYTES)
                fh.seek(max(0, st.st_size - (1 << 20)))
                last = fh.read(st.st_size - fh.tell())
        except OSError:
            return None
        end = st.st_size - len(last) + last.rfind(b"\n") + 1
        last = last[: last.rfind(b"\n") + 1]  # up to `end`
        if len(last) < TAIL_BYTES:  # no newline in the last MiB: left to the follower
            return None
        try:
            fmt, _ = choose_format(opts, logread.sniff(path))
        except (OSError, ValueError):
            return None
        if fmt is None or fmt.kind == "w3c":
            return None
        # Counted apart, and into the engine's series only once the whole file is read.
        part = HourlySeries(self.sink.series.track_visitors, self.sink.series.track_paths)
        rep = FileReport(name=safe_name(path), site=site, format=fmt.name)
        reduce = CountInto(site, part.track_visitors, part.track_paths)
        try:
            for i, got in enumerate(logread.parse_file(path, fmt, opts.parse, reduce=reduce,
                                                       end=end, ident=ident,
                                                       fixed=bool(opts.log_format))):
                _absorb(rep, got, part)
                fmt = PRESETS.get(got.changed, fmt)  # its lines changed format: the last one
                progress(min(end, (i + 1) * logread.CHUNK))
        except OSError:
            return None
        if rep.first_ts is not None:
            part.cover_hosts(rep.host_first, rep.last_ts)
        if rep.first_ts is not None and rep.own_site():
            part.add_coverage(site, rep.first_ts, rep.last_ts)
        with self.sink.lock:
            self.sink.series.merge(part)
        self.report.files.append(rep)
        self._streams[ident] = _Stream(FileKey(*ident, path, site), rep, Parser(fmt, opts.parse))
        self._lines_since_step += rep.lines
        self._dirty = True
        self._tail(site, last, fmt=fmt, path=path)
        return FileRecord(*ident, digest(head), len(head), end, digest(last[-TAIL_BYTES:]), path,
                          first_line=first_line_digest(head))

    def _slot(self, site: str, path: str | None) -> str | tuple[str, str]:
        """Where a site's tail lines from the file `path` go: the site's tail, or during the
        first read a tail of that file's own. The follower reads a folder's files a chunk of
        each in turn, and a big rotation's last chunks came after its live log's: the tail
        showed access.log.1's last lines as the newest and none of access.log's (a trial)."""
        return site if self._ready or path is None else (site, path)

    def _join_first_tails(self) -> None:
        """The first read's tails of each file, joined per site in the order of its files
        (`file_rank`: the live log last) and cut to TAIL_PER_SITE: each site's last lines as
        they stand in its logs."""
        per_site: dict[str, list[tuple[tuple, str, deque[TailLine]]]] = {}
        for key, lines in list(self._tails.items()):
            if isinstance(key, tuple):
                del self._tails[key]
                per_site.setdefault(key[0], []).append((file_rank(key[1]), key[1], lines))
        for site, files in per_site.items():
            joined = [x for _, _, lines in sorted(files, key=lambda f: f[:2]) for x in lines]
            if not joined:
                continue
            ts = max(x.ts for x in joined)  # one time: the tail sorts by it, and keeps order
            lines = self._tails.setdefault(site, deque(maxlen=TAIL_PER_SITE))
            lines.extend(replace(x, ts=ts) for x in joined[-TAIL_PER_SITE:])
        self._tail_version += 1

    def _archive_tails(self) -> None:
        """After a restart, the last lines of each site whose newest log is an archive: read
        before the restart, archives are not read again, and the log tail said "No live lines"
        where lnav and Toolong show a log's last lines (a trial on real_logs, all .gz). Only
        archives of ARCHIVE_TAIL_MAX bytes or less, ARCHIVE_TAIL_BUDGET in all: each is read
        whole to reach its end."""
        cfg = self.sink.config
        with_tail = {k for k, lines in self._tails.items() if lines}
        try:
            found = discover(cfg.paths, cfg.ingest.vhost_from_filename)
        except (OSError, ValueError):
            return
        budget = ARCHIVE_TAIL_BUDGET
        for site, files in found.sites.items():
            if site in with_tail:
                continue
            try:  # (a live log empty since its rotation: the rotation's lines are the last)
                held = [src for src in files if os.stat(src.path).st_size]
                if not held:
                    continue
                newest = max(held, key=lambda src: file_rank(src.path))
                size = os.stat(newest.path).st_size
                if not newest.compressed or size > min(ARCHIVE_TAIL_MAX, budget):
                    continue
                budget -= size
                data = b""
                with open_content(newest.path, logread.MAX_DECOMPRESSED) as fh:
                    while chunk := fh.read(1 << 20):
                        data = (data + chunk)[-logread.TAIL_WINDOW:]
            except (OSError, EOFError, ValueError):
                continue
            self._tail(site, data)

    def _tail(self, site: str, data: bytes, chunk: bool = False,
              fmt: LogFormat | None = None, fields: tuple[bytes, ...] = (),
              present: set[str] | frozenset[str] = frozenset(), path: str | None = None) -> None:
        """The last complete lines of `data` into the site's log tail, which stays a run of lines
        as they stand in the log: the last TAIL_PER_SITE read, never stretches of several chunks
        (20 lines of each were kept, so a big file's tail showed three hours days apart).
        `chunk`: lines the follower handed over, whole; else the last bytes of a file. `fmt`:
        the file's format, if known, and `fields` its W3C header (a filter on lines reads them
        with both). `present`: the sites the chunk's requests were counted under. `path`: the
        file the lines are of (see `_slot`)."""
        opts = self.sink.config.ingest
        if fmt is None and not chunk:  # an archive read whole: its format found from the lines
            try:
                fmt, _ = choose_format(opts, data[-logread.TAIL_WINDOW:].split(b"\n")[1:-1][-200:])
            except ValueError:
                fmt = None
        hosts = may_name_hosts(fmt)  # a file's window, split between the hosts its lines name,
        # gives each its last lines
        texts, whole = (logread.chunk_tail_lines if chunk else logread.tail_lines)(
            data, TAIL_PER_SITE * (4 if hosts and not chunk else 1))
        sites = sites_of_lines(texts, site, fmt, fields, opts.parse)
        if chunk and not whole and set(present) - set(sites):  # a quieter host's lines lay
            # before the last ones: looked for further back (a review: its tail kept its older
            # lines while its count rose), as far as TAIL_SCAN lines
            texts, whole = logread.chunk_tail_lines(data, TAIL_SCAN)
            sites = sites_of_lines(texts, site, fmt, fields, opts.parse)
            if not whole:  # still not found: its tail is not a run of lines any more
                for s in set(present) - set(sites):
                    self._tails.pop(self._slot(s, path), None)
        by_site: dict[str, list[str]] = {}
        for s, text in zip(sites, texts):
            by_site.setdefault(s, []).append(text)
        if not whole:  # lines between the tail kept and these were not read for it
            for s in {site, *by_site}:
                self._tails.pop(self._slot(s, path), None)
        for s, lines in by_site.items():
            self._tail_add(s, lines[-TAIL_PER_SITE:], fmt, fields, path, old=not chunk)

    def _tail_add(self, site: str, texts: list[str], fmt: LogFormat | None = None,
                  fields: tuple[bytes, ...] = (), path: str | None = None,
                  old: bool = False) -> None:
        now = time.time()
        if not self._ready or old:  # the first read, or a file's last lines read again (after
            # a restart, an archive's): the sites' tails ordered by their logs' own last time,
            # not as their files came (on a folder of unrelated logs, every site's lines
            # shown, a log of 2015 read last stood below one of 2022 as the newest; after a
            # restart, a silent site's .2.gz, 4 days old, below today's lines: trials)
            with self.sink.lock:
                series = self.sink.series
                last = series.last_ts(site) if site else None
                if last is None and site and site not in series.sites():  # a host past the
                    # first 1,000: counted as OTHER_HOSTS (its lines, 2 days old, had been
                    # the newest of every site's tail: an app trial)
                    last = series.last_ts(OTHER_HOSTS)
            now = min(now, float(last)) if last is not None else now
        lines = self._tails.setdefault(self._slot(site, path), deque(maxlen=TAIL_PER_SITE))
        jl = JsonLine(fmt) if fmt is not None and fmt.kind == "json" else None
        lines.extend(TailLine(now, site, text, fmt, fields, _shown(jl, text)) for text in texts)
        self._tail_version += 1

    def _resume_format(self, st: _Stream) -> None:
        """A plain file resumed with no format saved: it had none (binary, or no known format
        matched its lines). Found again from its first lines, so the notice and the exit status
        say so after every restart, not only the first (a new user's trial: exit 1, then 0)."""
        try:
            with open(st.key.path, "rb") as fh:
                now = os.fstat(fh.fileno())
                if (now.st_dev, now.st_ino) != (st.key.dev, st.key.ino):
                    return  # replaced since it was found: the follower sees to that
                head = fh.read(1 << 16)
        except OSError:
            return
        if head:
            self._make_parser(st, head[:head.rfind(b"\n") + 1] or head)

    def _resume_tail(self, key: FileKey, offset: int) -> None:
        """A plain file resumed after a restart: the lines counted before it stopped, up to
        `offset`, into its site's tail (it was empty after every restart until a line came;
        the README promises a site's last lines). Of a site's resumed files, the live one
        gives them (access.log, not access.log.1), then the newest by mtime, then the least
        rotated: by mtime alone, a copied or checked-out folder (the bundled sample logs) had
        access.log.1 written 2 ms after access.log, and after a restart the tail showed its
        last lines, 4 hours before the log's end. (A live file empty since a rotation has no
        offset to resume from: its rotation's lines are the site's last.)"""
        try:
            with open(key.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if (st.st_dev, st.st_ino) != (key.dev, key.ino):
                    return  # replaced since it was found: the follower sees to that
                rank = file_rank(key.path, st)
                if self._ready and rank < self._tail_rank.get(key.site, (False, -float("inf"))):
                    return  # a newer file of the site gave its tail: nothing to read here
                start = max(0, offset - logread.TAIL_WINDOW)
                fh.seek(start)
                data = fh.read(offset - start)
        except OSError:
            return
        if self._ready:  # (in the first read, each file's tail is its own until they are
            # joined in this order: _join_first_tails)
            self._tail_rank[key.site] = rank
            self._tails.pop(key.site, None)  # an older file's lines: these are the newer ones
        st = self._streams.get((key.dev, key.ino))
        p = st.parser if st is not None else None
        # a whole window: its first line, maybe cut, left out
        self._tail(key.site, data, fmt=p.fmt if p else None,
                   fields=tuple(p.w3c_fields) if p else (), path=key.path)

    @property
    def tail(self) -> tuple[TailLine, ...]:
        """Every site's last TAIL_PER_SITE lines, in the order they were read."""
        version, lines = self._tail_cache
        if version != self._tail_version:
            lines = tuple(sorted((x for d in list(self._tails.values()) for x in list(d)),
                                 key=lambda x: x.ts))
            self._tail_cache = (self._tail_version, lines)
        return lines

    # -- the follower's callbacks (its lock is held) -------------------------------------------
    def _stream(self, key: FileKey, new: bool = False, resumed: bool = False) -> _Stream:
        """The stream of a followed file; `new`: a file read from its start (maybe under the
        inode number of a file gone since: a stream of its own), `resumed`: it goes on from a
        saved record (its saved parser, if any)."""
        st = self._streams.get((key.dev, key.ino))
        # another file with the inode number of one gone: its own report and site. One read
        # from its start is new; one of another site is too, wherever it is read from (a
        # copytruncated log's copy took the number a rotated site's log had let go, and the
        # lines read from the copy were counted as that other site's: a trial)
        other = st is not None and (new or st.key.site != key.site)
        if other:
            st = None
        if st is None:
            rep = self._before.pop((key.dev, key.ino), None) if not (new or other) else None
            if rep is None:
                rep = FileReport(name=safe_name(key.path), site=key.site)
                self.report.files.append(rep)
            else:  # a file counted before the restart, followed again: its entry taken over
                rep.name, rep.site, rep.format = safe_name(key.path), key.site, ""
            if resumed and rep.first_ts is None and not other:  # read on from where it was:
                # what it holds after that is all there is, so the site's hours from its last
                # line counted before are covered, a quiet one a 0 (an hour dark across a
                # restart was "no log covers this hour": no anomaly, no page, an alerts trial)
                with self.sink.lock:  # (and its last: a first chunk with no time in it, a
                    # junk line appended while stopped, met a last time of None and the
                    # follow thread died of a TypeError, the app stuck at "starting": a trial)
                    rep.first_ts = rep.last_ts = self.sink.series.last_ts(key.site)
            st = self._streams[(key.dev, key.ino)] = _Stream(key, rep)
            saved = self._saved_parsers.pop((key.dev, key.ino), None)
            st.parser = saved if resumed else None  # resumed mid-file: the format it had
            if st.parser is not None:
                rep.format = st.parser.fmt.name
        elif st.key.path != key.path:
            st.key = key  # renamed by rotation: same file, new name
            st.report.name = safe_name(key.path)
        return st

    def _whole_line(self, key: FileKey, line: bytes) -> bool:
        """Whether a last line without its newline parses as a whole one in its file's
        format (unknown yet: taken as one)."""
        st = self._streams.get((key.dev, key.ino))
        if st is None or st.parser is None:
            return True
        return not parse_bytes(line, st.parser.fmt, self.sink.config.ingest.parse).malformed.total

    def _on_data(self, key: FileKey, chunk: bytes) -> None:
        st = self._stream(key)
        rep = st.report
        if st.head is not None and len(st.head) < FP_BYTES:
            st.head += chunk[:FP_BYTES - len(st.head)]
        if st.parser is None and not logread.sample_lines(chunk, 1):
            # blank lines alone, or lines too long to find a format from (a review: one of
            # 100 KB, read whole, was dropped uncounted): nothing to count, or too long
            n = len(logread.NOT_BLANK.findall(chunk))
            if n:
                rep.lines += n
                rep.malformed.add("line too long", chunk.lstrip()[:EXAMPLE_MAX], n)
                self._lines_since_step += n
                self._dirty = True
            return
        if st.parser is None and not self._make_parser(st, chunk):
            if st.binary:  # not a log: its bytes are no lines, malformed or not (as in `counts`)
                return
            n = chunk.count(b"\n")  # counted and shown, never dropped: the file's error says why
            rep.lines += n
            rep.malformed.add("no known log format", chunk.split(b"\n", 1)[0], n)
            self._lines_since_step += n
            self._dirty = True
            return
        try:
            st.parser, got = refit.feed(st.parser, chunk, st.run,
                                        fixed=bool(self.sink.config.ingest.log_format))
        except Exception as exc:  # (a fault of the parser's, not of the lines: a
            # trial's Traefik line ended the follow thread with an IndexError, and the agent
            # went on serving counts that no longer moved). The lines are counted malformed,
            # said, and following goes on
            log.exception("parsing %s", key.path)
            n = chunk.count(b"\n")
            why = f"not read: an internal error ({type(exc).__name__}), a bug to report"
            if why not in rep.malformed.counts:
                self.warnings.append(f"{rep.name}: {n} line(s) {why}")
            rep.lines += n
            rep.malformed.add(why, chunk.split(b"\n", 1)[0], n)
            self._lines_since_step += n
            self._dirty = True
            return
        present: set[str] = set()
        for res in got:
            if len(res.records.ts):  # its first and last lines' times, in the file's order
                if st.order[0] is None:
                    st.order = (int(res.records.ts[0]), st.order[1])
                st.order = (st.order[0], int(res.records.ts[-1]))
            if st.replaces is not None or st.recount_until is not None:
                res = self._not_again(st, res, chunk)
            if self._ready:  # (the first read is what was there, not lines coming)
                self.last_read[key.site] = time.time()
            with self.sink.lock:
                _absorb(rep, res, self.sink.series)
                if rep.first_ts is not None:
                    self.sink.series.cover_hosts(rep.host_first, rep.last_ts)
                if rep.first_ts is not None and rep.own_site():
                    self.sink.series.add_coverage(key.site, rep.first_ts, rep.last_ts)
            if res.changed:
                self._changed(st, res)
                st.unknown_said = False
            self._lines_since_step += res.lines
            if self._ready:
                self._behind(key.site, res.records)
            rec = res.records
            if rec.vhosts:
                present |= {rec.vhosts[c] if c >= 0 else key.site for c in set(rec.vhost.tolist())}
        if st.run.unknown and not st.unknown_said:  # a run of lines no format reads: said
            # once (the agent's malformed counter climbed while the site's requests stopped,
            # not a word on why: a trial of a log_format of the admin's own)
            st.unknown_said = True
            self._say(f"{st.report.name}: its last {st.run.unknown} lines in a row are in no "
                      f"known log format (did the server's log format change?): counted "
                      f"malformed; --log-format names the format of every line")
        self._dirty = True
        self._tail(key.site, chunk, chunk=True, fmt=st.parser.fmt,
                   fields=tuple(st.parser.w3c_fields), present=present, path=key.path)

    def _changed(self, st: _Stream, res: ParseResult) -> None:
        """Said where a followed log's lines changed format (logs.refit)."""
        ts = res.records.ts
        when = (time.strftime(" from %Y-%m-%d %H:%M:%S UTC", time.gmtime(int(ts[0])))
                if len(ts) else "")
        n = st.run.earlier
        before = (f"; the {n} line{'s' * (n != 1)} before them that no format in force read "
                  "were counted malformed as they came" if n else "")  # (the new format's
        # first lines, or another's: "of it" had named an admin's own format's lines JSON)
        said = (f"{st.report.name}: its lines changed format: read as {res.changed}{when} "
                f"on{before}")
        if self._ready:  # (on the first read, the file's format says it: "COMBINED, then JSON")
            self._say(said)
            self.warnings.append(said)  # the screen's notices: the log's count changes its
        else:  # kind of lines here
            log.info("%s", said)

    def _replaced(self, key: FileKey
                  ) -> tuple[tuple[int | None, int, int], tuple[list[bytes], str]] | None:
        """(first, last, latest) times counted of the file `key` took the name of (its first
        and last lines' in its order, not past now; the latest of all, not past now: what an
        edited copy of it holds up to), where that one is
        gone from its folder (deleted, or replaced by `mv`): a rename rotation keeps it there
        (access.log.1), and the new log of one was taken for an edit, its late lines (Apache's
        %t, a long download) dropped (a security trial); and what is known of its content
        (_Stream.replaced_heads). None where there is no such file."""
        ident = (key.dev, key.ino)
        old = [s for k, s in self._streams.items() if s.key.path == key.path and k != ident]
        saved, line, saved_last = self._saved_paths.get(key.path, (ident, "", 0))
        idents = {(s.key.dev, s.key.ino) for s in old} | ({saved} if saved != ident else set())
        if not idents or idents & _inodes_beside(key.path):
            return None
        heads = [s.head for s in old if s.head]
        line = line if saved in idents else ""
        # its first and last lines' times, in its order: by the least and the latest, one
        # line dated 40 minutes ahead (a clock running fast) put a rotation's new log inside
        # its span, and every new line was dropped as counted until that time came (an SSH
        # trial: 2 hours of a site, said "edited in place?")
        # Its last line dated ahead, the rotation's new log opened inside it too (a recheck:
        # 50 of 91 lines dropped by the agent, rotations seconds apart): not past now
        now = int(self.clock)
        spans = [s for s in old if s.order[0] is not None and s.order[1] is not None]
        if spans:
            s = max(spans, key=lambda s: s.order[1])
            latest = s.report.last_ts if s.report.last_ts is not None else s.order[1]
            return ((s.order[0], min(s.order[1], now), min(max(latest, s.order[1]), now)),
                    (heads, line))
        with self.sink.lock:  # (a line dated ahead, counted later: not past now)
            last = self.sink.series.last_ts(key.site)
        if saved_last and saved in idents:  # its last line's time, saved (in its order)
            latest = max(saved_last, int(last)) if last is not None else saved_last
            return (None, min(saved_last, now), min(latest, now)), (heads, line)
        return None if last is None else ((None, min(int(last), now), min(int(last), now)),
                                          (heads, line))

    def _not_again(self, st: _Stream, res: ParseResult, chunk: bytes) -> ParseResult:
        """A log that replaced another of its name (_replaced) and opens within its span (the
        first half of it; after a restart, REPLACED_SLACK_S before the latest counted): an
        edited copy of it. Its lines up to that one's last were counted from it, and are not
        again: `grep -v IP access.log > tmp && mv tmp access.log` counted the whole log a
        second time, said nowhere (two trials). What follows them (appended since) is
        counted."""
        ts = res.records.ts
        if st.replaces is not None and len(ts):
            first, last, latest = st.replaces
            head = int(ts[0])
            heads, line = st.replaced_heads
            if st.known_edit:
                edited = True
            else:
                # opening with one of its first lines (its first bytes, where it was read from
                # its start; else its first line's digest, saved)
                now = chunk[:FP_BYTES]
                told = bool(heads or line)
                edited = (any(opens_as(now, h) for h in heads)
                          or bool(line) and first_line_digest(now) == line
                          # or with a line of the second the old one opened with: every line
                          # rewritten (`sed -i` of client addresses, anonymised), running, had
                          # counted the whole log again (an SSH trial: 2,994 of 1,512); no new
                          # log of a rotation opens at the second its old one began
                          # (its first line's: read from its start here, `heads`; resumed
                          # mid-file, its first line read is not its first, a review)
                          or first is not None and head == first and bool(heads))
                # by its times too (its lines' in its order, not past now) where the old one
                # was not followed here (after a restart) or nothing is known of its content.
                # Followed, by content alone: by times, a rotation's new log after lines out
                # of order or dated ahead had its lines dropped as counted (an SSH trial and
                # two rechecks: 30 of 61, 50 of 91, 56 of 97); an edit that takes out the old
                # one's first KiB is new content then, as on its own inode (README)
                if not edited and (first is None or not told):
                    edited = (head < last - REPLACED_SLACK_S if first is None
                              else head <= last and head < first + (last - first) / 2)
            st.known_edit = False
            if edited:  # (its lines up to the latest counted: one dated ahead in it too)
                st.recount_until = last = latest
                said = (f"{st.report.name} was replaced by a file holding lines already "
                        "counted (edited in place?): its lines up to "
                        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(last))} UTC "
                        "are not counted again")
                self.events.append(said)
                self.warnings.append(said)
                log.info("%s", said)
            st.replaces = None
        if st.recount_until is None or not len(ts):
            return res
        newer = np.flatnonzero(ts > st.recount_until)
        cut = int(newer[0]) if len(newer) else len(ts)  # the old lines, up to the first newer
        if len(newer):
            st.recount_until = None
        if cut:
            res.malformed.add(ALREADY, chunk.split(b"\n", 1)[0], cut)
            res = replace(res, records=res.records.slice(cut))
        return res

    def _behind(self, site: str, rec) -> None:
        """Mark (self.behind) each site of the lines counted here, read after the first read,
        whose latest line of all is dated BEHIND_S or more before that read: its log is
        behind the clock. Not one old line among others on time (a long download under
        Apache's %t), nor the other hosts of its log (a review: every host of a vhost log had
        been marked by one host's old line)."""
        if not len(rec.ts):
            return
        cut = self._ready_at - BEHIND_S
        codes = rec.vhost if len(rec.vhosts) else np.full(len(rec.ts), -1)
        for c in np.unique(codes).tolist():
            name = rec.vhosts[c] if c >= 0 else site
            if name in self.behind:
                continue
            newest = self._newest.get(name)
            if newest is None:  # (its lines of the first read: the series' latest of them)
                with self.sink.lock:
                    newest = self.sink.series.last_ts(name) or 0
            # the newest of all, not the last in the order read: a chunk ending with a long
            # download's line under %t had made its site's latest line 2 hours old (a review)
            newest = max(newest, int(rec.ts[codes == c].max()))
            self._newest[name] = newest
            if newest < cut:
                self.behind.add(name)

    def _make_parser(self, st: _Stream, chunk: bytes) -> bool:
        opts = self.sink.config.ingest
        sample = logread.sample_lines(chunk)  # (blank ones left out: a log opening with 200
        # had "no known log format (tried ); first line: ''", a security trial)
        fmt, why_none = choose_format(opts, sample)
        header = [line for line in sample if line.startswith(b"#")][:MAX_HEADER_LINES]
        if not header and (fmt is None or fmt.name == "W3C"):  # read on from mid-file under
            # another name or inode (rotated and gzipped, `sed -i` while stopped): its W3C
            # `#Fields:` header is at its start, not in these lines ("no known log format",
            # "W3C line before any #Fields header" of an IIS log's lines past the saved
            # offset, an SSH recheck)
            header = self._header_of(st)
            if header:
                fmt, why_none = choose_format(opts, header + sample)
        why = ""
        if logread.looks_binary(sample, fmt):  # in the words of `counts`, said once per file
            why = logread.binary_why(st.report.name, sample)
            st.binary = True
        elif fmt is None:  # in the words of `counts` too (a CSV of counts: where it is read)
            why = not_a_log(st.report.name, sample, why_none)
        if why:
            st.report.error = why
            if not st.said:
                st.said = True
                self._say(why)
            return False
        st.report.format, st.report.error = fmt.name, ""
        st.parser = Parser(fmt, opts.parse)
        if header and fmt.name == "W3C":  # its fields, from its header (read on from a
            # saved offset, the header is not in what is fed)
            fields = [f for line in header if (f := header_fields(line)) is not None]
            if fields:
                st.parser.w3c_fields = fields[-1]
        return True

    def _header_of(self, st: _Stream) -> list[bytes]:
        """The `#Fields:` header of a W3C file read on from past it: read once a stream, and
        only where the file declares one set of fields (one whose fields changed within it,
        its header block again further on, left its lines past the offset unread, not read
        with its first fields: a review counted 10 lines to the wrong site). [] otherwise."""
        if st.header is None:
            st.header = []
            try:
                with open_content(st.key.path, logread.MAX_DECOMPRESSED) as fh:
                    try:
                        now = os.fstat(fh.fileno())
                        if (now.st_dev, now.st_ino) != (st.key.dev, st.key.ino):
                            return st.header  # replaced since: not this stream's file
                    except (OSError, ValueError, AttributeError):
                        pass  # (a decompressing stream: its own file, just opened)
                    declared: dict[tuple[bytes, ...], bytes] = {}
                    rest, read, seen = b"", 0, 0
                    while chunk := fh.read(1 << 20):  # (C speed: found by their "#Fields:")
                        read += len(chunk)
                        if read > HEADER_SCAN_BYTES:
                            return st.header  # not read to its end: no knowing (a review:
                            # 20 MB of "#" lines held the follow thread 7 s)
                        data = rest + chunk
                        at = 0 if data.startswith(b"#") else data.find(b"\n#") + 1
                        while at > 0 or (at == 0 and data.startswith(b"#")):
                            end = data.find(b"\n", at)
                            if end < 0:
                                break
                            line = data[at:end].rstrip(b"\r")
                            seen += 1
                            if seen > HEADER_SCAN_LINES:
                                return st.header
                            if (fields := header_fields(line)) is not None:
                                declared.setdefault(tuple(fields), line)
                            nxt = data.find(b"\n#", end)
                            at = nxt + 1 if nxt >= 0 else -1
                        rest = data[data.rfind(b"\n") + 1:][-4096:]
                        if len(declared) > 1:
                            break
            except (OSError, EOFError, ValueError, AttributeError):
                return st.header
            if len(declared) == 1:
                st.header = list(declared.values())
        return st.header

    def _say(self, message: str) -> None:
        """A line for the operator (`counts --follow` prints it on stderr)."""
        self.events.append(message)
        self.event_count += 1
        log.info("%s", message)

    def _on_event(self, ev: FollowEvent) -> None:
        if ev.kind == "long_line" and ev.key is not None:  # counted as its line_too_long came
            self._tail_add(ev.key.site, [logread.tail_text(ev.sample, ev.length)])
            return
        said_long = ev.kind == "line_too_long" and ev.name in self._long_said
        if ev.kind == "line_too_long":
            self._long_said.add(ev.name)
        if ev.kind not in ("new_file", "resumed") and not said_long:  # one per file: thousands
            # with old rotations
            self.events.append(ev.message)
            self.event_count += 1
        if ev.kind in ("truncated", "error", "archive_error"):
            self.warnings.append(ev.message)
        log.info("%s", ev.message)
        if ev.kind in ("new_file", "resumed") and ev.key is not None:
            # a file skipped before (unreadable) and read now is not skipped: the app said so
            # to the end and exited 1 after a chmod let it read the file (an ops trial)
            shown = safe_name(ev.key.path)
            self.report.skipped[:] = [s for s in self.report.skipped if s[0] != shown]
            # listed among the files watched before it delivers a line
            st = self._stream(ev.key, new=ev.kind == "new_file", resumed=ev.kind == "resumed")
            if ev.kind == "new_file" and ev.edited:  # edited on its own inode while stopped
                with self.sink.lock:  # (as _edited; its own times are not kept: its site's,
                    # or where its lines are of several (a vhost log), the latest of any, a
                    # review: that one's site had none, and it was counted twice)
                    series = self.sink.series
                    last = series.last_ts(ev.key.site)
                    if last is None:
                        last = max((t for x in series.sites()
                                    if (t := series.last_ts(x)) is not None), default=None)
                if last is not None:
                    last = min(int(last), int(time.time()))
                    st.replaces, st.known_edit = (None, last, last), True
            elif ev.kind == "new_file":
                st.replaces, st.replaced_heads = self._replaced(ev.key) or (None, ([], ""))
            if ev.kind == "new_file":
                st.head = b""
            if ev.kind == "resumed" and ev.offset:
                if st.parser is None:
                    self._resume_format(st)
                self._resume_tail(ev.key, ev.offset)
        elif ev.kind == "back":  # a path given, skipped, there again (named as its message
            # names it, as "skipped" is: ev.name escapes a backslash twice, a review)
            name = (ev.message.rpartition(": there again; following it")[0] or
                    ev.message.rpartition(": gone; no longer skipped")[0])
            self.report.skipped[:] = [s for s in self.report.skipped if s[0] != name]
        elif ev.kind == "skipped":
            name, _, why = ev.message.partition(": skipped: ")
            self.report.skipped[:] = [s for s in self.report.skipped if s[0] != name]
            self.report.skipped.append((name, why))  # (another why: the latest)
        elif ev.kind == "waiting":
            self._waiting_dirs[ev.name] = ev.message
        elif ev.kind == "line_too_long" and ev.key is not None:
            rep = self._stream(ev.key).report
            rep.lines += 1
            rep.malformed.add("line too long", ev.sample)
            self._dirty = True
        elif ev.kind == "empty":  # said, and no fault: the app's exit status was 1 where
            # `counts` on the same folder gave 0 (README: an empty file is no fault; a trial)
            if ev.key is not None:
                self._stream(ev.key).report.ignored = EMPTY
            else:
                self.report.ignored.append((ev.name, EMPTY))
        elif ev.kind in ("error", "archive_error"):
            if ev.key is not None:
                self._stream(ev.key).report.error = ev.message
            else:
                self.report.skipped.append((ev.name, ev.message))
        elif ev.kind == "truncated" and ev.key is not None:
            st = self._stream(ev.key)
            st.parser, st.said = None, False  # new content: its format is found (and said) again
            if ev.edited:
                self._edited(st)
        elif ev.kind == "edited" and ev.key is not None:  # (told at its first read)
            self._edited(self._stream(ev.key))

    def _edited(self, st: _Stream) -> None:
        """A followed file edited on its own inode, read from its start again (`grep -v IP
        access.log > t && cat t > access.log`, `truncate -s`: 1,995 counted of 1,000 lines, an
        SSH trial): its lines up to the latest counted are not counted again (a line dated
        ahead, counted, not past now: new traffic up to it had been taken for old, a review)."""
        if st.report.last_ts is not None:
            last = min(st.report.last_ts, int(time.time()))
            st.replaces = (None, last, last)
            st.known_edit = True

    # -- state ---------------------------------------------------------------------------------
    def _commit_gone(self) -> None:
        """A file read from was deleted, rotated away or truncated: commit now, not in COMMIT_S."""
        if self._ready:
            self.commit()

    def _with_times(self, rec: FileRecord) -> FileRecord:
        """The record with the time of its file's last line read (FileRecord.last_line_ts)."""
        st = self._streams.get((rec.dev, rec.ino))
        last = st.order[1] if st is not None and st.order[1] else None
        if last is None:  # nothing read of it since the start: as saved then (a review: a
            # restart that read nothing new saved 0, and the next start, after a rotation,
            # judged by the latest time of all again)
            last = self._saved_last.get((rec.dev, rec.ino), 0)
        return replace(rec, last_line_ts=last) if last > 0 else rec

    def commit(self) -> None:
        """Save counts and offsets together (one atomic write); no-op without a state file."""
        with self._commit_lock:
            if self.store is None and self._held_store is not None and self._ready:
                self._take_over()
            if time.monotonic() - self._aged >= COMMIT_S:  # state file or none (then this is
                self._aged = time.monotonic()  # asked at every step while lines come)
                with self.sink.lock:  # what grows with traffic: let go of where it is old
                    self.sink.series.age(self.clock)
            if self.store is None:
                return
            with self.follower.lock, self.sink.lock:
                state = State([os.path.abspath(p) for p in self.sink.config.paths],
                              [self._with_times(r) for r in self.follower.offsets()],
                              self._counts())
                self._dirty = False
            try:
                self.store.commit(state)
            except StateTaken as exc:
                # its folder removed while this one ran, another one started then and took
                # it: as at a start, this one saves no more, and takes it over once that ends
                self._held_store, self.store = self.store, None
                self.state_held_by = exc.holder
                pid = f" (pid {exc.holder})" if exc.holder else ""
                self.notice = self.save_failed = (
                    f"state file {self._held_store.path} was taken by another trafficwatch"
                    f"{pid} after its folder was removed: this one does not save state until "
                    "that one ends")
                log.info(self.notice)
                self._dirty = True
                self._last_commit = time.monotonic()
                return
            except OSError as exc:
                # what a restart does: from the last save that worked, where there is one ("a
                # restart will read the logs again" was said of a disk that filled after
                # saves, and the restart resumed from the last; a trial)
                then = ("a restart resumes from the last save that worked"
                        if self.store.path.is_file() else "a restart will read the logs again")
                notice = (f"cannot save state to {self.store.path}: {exc.strerror or exc}; "
                          f"{then} (use --state PATH or --no-state)")
                if notice != self.notice:  # said once (each failed save said it again)
                    log.info(notice)  # the front ends say `notice` (prefixed, once)
                self.notice = self.save_failed = notice
                self._dirty = True
                self._last_commit = time.monotonic()
                return
            self.save_failed = ""
            self._last_commit = time.monotonic()

    def _take_over(self) -> None:
        """The state file another trafficwatch saved to: this one's from now on, once that one
        has ended and let go of its lock (tried every COMMIT_S). This one counted the logs there
        are (it read them itself); the hours only the other's state holds (of logs deleted
        since, logrotate's oldest) are taken from it first (HourlySeries.keep_hours_of), then
        this one's saves replace the other's."""
        self._last_commit = time.monotonic()
        if self._held_store.lock() is not None or not self._held_store.locked:
            return  # still held, or the lock file could not be opened: not known to be free
        self.store, self._held_store = self._held_store, None
        pid = f" (pid {self.state_held_by})" if self.state_held_by else ""
        self.state_held_by = None
        took = self._hours_of_saved()
        kept = (f", keeping the {took:,} hour{'s' * (took != 1)} of logs no longer here that "
                "it had counted" if took else "")
        self.notice = (f"state file {self.store.path}: the trafficwatch{pid} that saved there "
                       f"has ended; this one saves its counts there from now on{kept}")
        log.info(self.notice)

    def _hours_of_saved(self) -> int:
        """Hours the state file holds that this one's counts lack, taken into them (see
        _take_over); 0 where it holds none, is of other paths or options, or is unusable
        (then it is replaced, as a state of other options at a start is moved aside)."""
        try:
            st = self.store.load()
        except UntrustedState:
            return 0
        if st is None:
            return 0
        c = st.counts
        paths = sorted(os.path.abspath(p) for p in self.sink.config.paths)
        if c.get("kind") != STATE_KIND or sorted(st.paths) != paths or (
                c.get("options") != self._options_key and not (
                    isinstance(c.get("options"), str)
                    and c["options"] in _legacy_keys(self.sink))):
            return 0
        try:
            saved = HourlySeries.from_dict(c["series"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.info("state file %s: its counts are unusable (%s); replaced", self.store.path,
                     exc)
            return 0
        with self.sink.lock:
            took = self.sink.series.keep_hours_of(saved)
        if took:
            self.sink.on_change()
        return took

    def _counts(self) -> dict:
        mal = self.report.malformed
        parsers = {f"{k[0]}:{k[1]}": _parser_state(s.parser)
                   for k, s in self._streams.items() if s.parser is not None}
        return {
            "kind": STATE_KIND, "options": self._options_key,
            "series": self.sink.series.to_dict(),
            "lines": self.report.lines, "parsed": self.report.parsed,
            "excluded": self.report.excluded,
            "malformed": dict(mal.counts),
            "examples": {k: v.decode("latin-1") for k, v in mal.examples.items()},
            "parsers": parsers,
        }

    def _restore(self) -> list | None:
        """Counts and file records from the state file, or None to count from the logs."""
        st = self.store.load()
        self.notice = self.store.notice
        if st is None:
            return None
        c = st.counts
        paths = sorted(os.path.abspath(p) for p in self.sink.config.paths)
        why = ""
        if c.get("kind") != STATE_KIND:
            why = "it is not a live-follow state"
        elif sorted(st.paths) != paths:
            why = f"it is for other paths ({', '.join(st.paths)[:200]})"
        elif c.get("options") != self._options_key and not (
                isinstance(c.get("options"), str) and c["options"] in _legacy_keys(self.sink)):
            why = "the format, filter or exclusion options changed since it was saved"
        if not why:
            try:
                series = HourlySeries.from_dict(c["series"])
                mal = Malformed()
                for reason, n in c["malformed"].items():
                    mal.add(str(reason), str(c["examples"].get(reason, "")).encode("latin-1"),
                            natural(n, "malformed"))
                lines, parsed, excluded = (natural(c[k], k) for k in ("lines", "parsed", "excluded"))
                parsers = dict(c.get("parsers", {}))
            except (KeyError, TypeError, ValueError, AttributeError, UnicodeEncodeError) as exc:
                why = f"its counts are unusable ({exc})"
        if why:
            self.notice = self.store.move_aside(why)
            log.info(self.notice)  # said by the caller (one line on stderr, or on screen)
            return None
        with self.sink.lock:
            self.sink.series.merge(series)
        self.report.restored_lines, self.report.restored_parsed = lines, parsed
        self.report.restored_excluded, self.report.restored_malformed = excluded, mal
        for rec in st.files:
            if rec.done and (rec.dev, rec.ino) not in self._before:  # counted before the
                # restart, not read again: still one of the files, once (a log truncated three
                # times left three records of its inode: "files followed 1 (3 read)", a review)
                rep = FileReport(name=safe_name(rec.path), site="",
                                 format="counted before the restart")
                self.report.files.append(rep)
                self._before[(rec.dev, rec.ino)] = rep  # taken over if it is followed again
            saved = parsers.get(f"{rec.dev}:{rec.ino}")
            parser = _parser_from_state(saved, self.sink.config.ingest) if isinstance(saved, dict) else None
            if parser is not None:
                self._saved_parsers[(rec.dev, rec.ino)] = parser
        self.notice = (f"resumed from {self.store.path}: {lines:,} lines read before; "
                       "reading only what was appended since")
        return st.files


def _inodes_beside(path: str) -> set[tuple[int, int]]:
    """(device, inode) of every entry in `path`'s folder, but those under a kept copy's name
    (access.log.bak, access.log~: sources' BACKUP_ROTATION): `sed -i.bak`, `perl -i.orig` and
    vim's backup keep the log there, edited into a new file under its name, which was taken
    for a rotation's new log and counted whole again (an SSH trial: 328 counted of 180)."""
    folder = os.path.dirname(path) or "."
    try:
        dev = os.stat(folder).st_dev
        with os.scandir(folder) as entries:
            return {(dev, e.inode()) for e in entries if not _kept_copy(e.path)}
    except OSError:
        return set()


def _kept_copy(path: str) -> bool:
    """Whether `path` is named as a copy kept by hand (sources.classify)."""
    got = classify(Path(path))
    return not isinstance(got, str) and got.rotation == BACKUP_ROTATION


# What changes how lines are counted, by name: a state saved under other values is not reused.
# The key was a digest of every field of IngestOptions, and each release that gave it a field
# for another use (top's last_hours and since, --site's only_site) made every state saved
# before it "saved under other options": moved aside at the upgrade, with days of counts whose
# logs had rotated away since (an upgrade trial).
KEY_OPTIONS = ("log_format", "date_format", "time_format", "vhost_from_filename")
KEY_PARSE = ("keep_paths", "keep_clients", "exclude_ips", "ignore_status", "max_line_bytes")
# fields the digest of releases before 2026-12-07 did not hold, newest first: that release's
# key is the digest without them (at their defaults, where a follow leaves them)
LEGACY_LATER = (("only_site",), ("last_hours", "since"), ("parse.keep_clients",))


def _options_key(sink: Sink) -> str:
    """The state's options key (KEY_OPTIONS): a state saved under another is not reused."""
    ing = sink.config.ingest
    d: dict = {k: getattr(ing, k) for k in KEY_OPTIONS}
    d["parse"] = {k: getattr(ing.parse, k) for k in KEY_PARSE}
    d["track_visitors"] = sink.series.track_visitors
    text = json.dumps(d, sort_keys=True, default=lambda o: sorted(map(str, o)))
    return digest(text.encode())  # (the key releases of 2026-12-02 to 12-05 wrote)


def _legacy_keys(sink: Sink) -> set[str]:
    """The same options as releases before 2026-12-07 keyed them (every IngestOptions field
    they had), one key for each such release: their states are resumed, not moved aside."""
    d = asdict(sink.config.ingest)
    d.pop("workers", None)
    d["parse"].pop("keep_visitors", None)  # follows track_visitors
    d["track_visitors"] = sink.series.track_visitors
    keys = set()
    for i in range(len(LEGACY_LATER) + 1):
        e = {**d, "parse": dict(d["parse"])}
        for name in (n for group in LEGACY_LATER[:i] for n in group):
            owner, _, field_name = name.rpartition(".")
            (e[owner] if owner else e).pop(field_name, None)
        text = json.dumps(e, sort_keys=True, default=lambda o: sorted(map(str, o)))
        keys.add(digest(text.encode()))
    return keys


def _parser_state(p: Parser) -> dict:
    return {"format": p.fmt.name,
            "w3c_fields": [f.decode("latin-1") for f in p.w3c_fields]}


def _parser_from_state(d: dict, opts: IngestOptions) -> Parser | None:
    """The parser a file had when the state was saved (W3C keeps its `#Fields:` header)."""
    try:
        fmt = (get_format(opts.log_format, date_format=opts.date_format,
                          time_format=opts.time_format) if opts.log_format
               else get_format(str(d["format"])))
    except (KeyError, ValueError):
        return None
    p = Parser(fmt, opts.parse)
    try:
        p.w3c_fields = [str(f).encode("latin-1") for f in d.get("w3c_fields", [])]
    except (TypeError, UnicodeEncodeError):
        return None
    return p


def _shown(jl: JsonLine | None, text: str) -> str:
    """What the tail pane shows of a line where not the line itself: a JSON request as a
    combined line reads (`jl`: the file's JSON format), a container log's line as the server
    wrote it (its runtime's JSON around it aside)."""
    inner = container.shown(text)
    if jl is None:
        return inner
    return jl.summary((inner or text).encode("utf-8", "surrogateescape")) or inner
