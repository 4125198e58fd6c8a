"""Follow log files and directories: complete new lines once, across rotation and truncation.

Knows nothing of parsing or the UI: `on_data(key, chunk)` gets complete lines (ending in b"\\n"),
in order per file, from the follower's own thread. A line longer than `max_line_bytes` is not
delivered: it is dropped as it streams (memory stays flat) and reported once as a FollowEvent of
kind "line_too_long"; the caller counts it as malformed ("line too long"). When its newline
comes, an event of kind "long_line" gives its first bytes and its length, in its place among the
lines (before the lines after it are delivered), for a log tail to show.

Exactly-once with a state file: on_data runs under `follower.lock`, and the offset of a file
advances under that lock right after on_data returns. A commit taken under the same lock
(`with f.lock: State(paths, f.offsets(), series.to_dict())`) pairs counts and offsets exactly.
`on_gone` asks for such a commit as soon as a file read from is deleted, rotated away or
truncated: what was read from it is then never only in memory (a kill -9 would lose it).

Identity is content (logs/identity.py): the first KiB and the bytes before an offset decide
whether a file is one already read, a copy of one (copytruncate's copy, a compressed rotation:
only what is past the counted part is read, and a copy of a file being read waits for it), or
new. An inode number is trusted only while the file is held open.
"""
from __future__ import annotations

import errno
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from trafficwatch.logs.compressed import Decompressed
from trafficwatch.logs.identity import (
    FP_BYTES,
    TAIL_BYTES,
    Alias,
    Counted,
    FileRecord,
    PrefixIndex,
    Probe,
    digest,
    first_line_digest,
    first_record,
    open_content,
    opens_as,
    probe,
    same_content,
    signature,
)
from trafficwatch.logs.read import MAX_DECOMPRESSED, TAIL_LINE_SHOWN, stream_error
from trafficwatch.logs.sources import (
    BACKUP_ROTATION,
    EMPTY_DIR,
    NO_FILE_IN_DIR,
    NO_LOG_IN_DIR,
    SourceFile,
    discover,
    iis_site_dirs,
    safe_name,
)

READ_BYTES = 1 << 20  # one read
PASS_BYTES = 4 << 20  # per file per pass: a burst is delivered in bounded chunks over passes
MAX_RETIRED = 2000
LAST_LINE_S = 60.0  # a file's last line without its newline, the file unwritten this long: a
# line. A server writes each line whole, in one write(); one cut short stays so
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileKey:
    """A followed file: (st_dev, st_ino); the path and site are for display only."""

    dev: int
    ino: int
    path: str = field(default="", compare=False)
    site: str = field(default="", compare=False)


@dataclass(frozen=True)
class FollowEvent:
    """Something the caller should know: kind, sanitised file name, one-line message."""

    kind: str  # new_file rotated truncated gone skipped back (a path skipped, there again) error
    # line_too_long archive_error resumed edited (read from 0 after a truncation that left no
    # whole line, it opened as before: edited in place)
    # empty (a rotation or archive with nothing in it) waiting (a directory with no file yet)
    # long_line (an over-long line's newline came: `sample` its start, `length` its bytes)
    name: str
    message: str
    key: FileKey | None = None  # the file it is about, where it is a followed file
    offset: int | None = None  # "resumed", a plain file: the bytes counted before the restart
    sample: bytes = b""  # line_too_long: the line's first bytes, the malformed line's example
    length: int = 0  # long_line: the over-long line's length in bytes, its newline left out
    edited: bool = False  # new_file, truncated: read from its start again, it starts with the
    # first bytes of its own content counted before (edited in place on its inode, not a new
    # log on it nor copytruncate's new lines): its lines up to the latest counted were counted


SAMPLE_BYTES = 200  # of a line too long to count: its start, shown as the malformed example


@dataclass
class _File:
    """A tracked file: open handle, bytes consumed, partial line, proof of what was read."""

    key: FileKey
    compressed: bool
    fh: object = None
    consumed: int = 0  # bytes read from the stream
    boundary: int = 0  # bytes up to the end of the last complete line (delivered or dropped)
    pending: bytearray = field(default_factory=bytearray)  # a line whose newline is not here yet
    skipping: bool = False  # inside an over-long line: drop until its newline
    head: bytes = b""  # first FP_BYTES of content
    first: bytes = b""  # the first FP_BYTES as seen when adopted (before any was read)
    tail: bytes = b""  # last TAIL_BYTES before the boundary
    skipped: bytes = b""  # while skipping: the last TAIL_BYTES of the over-long line so far (the
    # boundary stays before it, so they are not `tail` until its newline moves the boundary)
    long_start: bytes = b""  # while skipping: the over-long line's first TAIL_LINE_SHOWN bytes
    long_length: int = 0  # while skipping: its bytes so far
    nul_run: bool = False  # while skipping: every byte of it so far a NUL (a hole: see _take)
    preread: bytes = b""  # content read while identifying the file, fed before the next read
    proof: str = ""  # tail hash carried over from the state while `tail` is not read back
    live: bool = True  # the name a server writes to (not a numbered or dated rotation)
    was_live: bool = False  # followed under such a name once: emptied by rotation, not unusable
    kept: bool = False  # a copy kept by hand (access.log.bak, .old: sources.BACKUP_ROTATION)
    said_empty: bool = False  # "is empty" was said of it
    done: bool = False
    gen: int = 0  # bumped when its content is replaced (truncation): its copies are looked at again
    sig: tuple[int, int, int] = (0, 0, 0)  # stat signature when closed: changed = check content
    owed_newline: bool = False  # its last line was delivered before its newline came (see
    # _pump): that newline, when it comes, ends no other line
    was_head: bytes = b""  # its first bytes before a truncation that left no whole line: told
    # edited in place or not at the first read (_take)
    away_since: float = 0.0  # (monotonic) when its name was found to be another file's, while
    # read under it: moved where no scan lists it, its server may still write to it a moment

    def record(self) -> FileRecord:
        return FileRecord(self.key.dev, self.key.ino, digest(self.head), len(self.head),
                          self.boundary, self.proof or digest(self.tail), self.key.path,
                          self.done, first_line_digest(self.head))


def _newer(a: SourceFile, b: SourceFile) -> bool:
    """Is rotation `a` newer than rotation `b` of the same file (access.log.1 than .2.gz,
    -20261205 than -20261204)? Numbered and dated ones are not compared."""
    if a.date_key and b.date_key:
        return a.date_key > b.date_key
    if not a.date_key and not b.date_key:
        return 0 < a.rotation < b.rotation
    return False


def _content_size(f: _File) -> int:
    """The bytes a followed file holds now: its size on disk (plain), else what was read."""
    if f.fh is not None and not f.compressed:
        try:
            return os.fstat(f.fh.fileno()).st_size
        except OSError:
            pass
    return max(f.consumed, f.boundary)


def _last_line_end(f: _File) -> int:
    """The offset after the last newline a plain followed file holds now (all of it that will
    be read as whole lines), at least what was read of it."""
    size = _content_size(f)
    try:
        with open(f.key.path, "rb") as fh:
            if os.fstat(fh.fileno()).st_ino != f.key.ino:
                return f.boundary
            at = max(f.boundary, size - READ_BYTES)
            fh.seek(at)
            data = fh.read(size - at)
    except OSError:
        return f.boundary
    nl = data.rfind(b"\n")
    return max(f.boundary, at + nl + 1) if nl >= 0 else f.boundary


FD_HEADROOM = 64  # descriptors kept free beside the followed files: listing a folder, saving
# state, /metrics' connections, inotify, workers


def fd_limit(want: int) -> int | None:
    """The soft limit on open files, raised toward the hard one to `want` when it is below it
    (None: no limit)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    if want > soft and soft != hard:
        new = want * 2 if hard == resource.RLIM_INFINITY else min(hard, want * 2)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (OSError, ValueError):
            pass
    return soft


def _structure() -> list[type]:
    """The inotify events asked for: files and folders made, moved, deleted, and a writer's
    close; no write (IN_MODIFY): watchdog's work for each, a thousand a second, took a third
    of a core, and the open files are read at each poll."""
    from watchdog import events as ev

    return [ev.FileCreatedEvent, ev.FileDeletedEvent, ev.FileMovedEvent, ev.DirCreatedEvent,
            ev.DirDeletedEvent, ev.DirMovedEvent, ev.FileClosedEvent]


class _LookAgain(Exception):
    """A new file to be looked at again at the next scan (_copy_of)."""


HOLE_LOOKED = 4 << 30  # bytes of NULs at most looked past for what a copy holds after them
# (a hole is as long as the log was at the copytruncate before: 16 MiB left a 17 MB log's
# copies to the old matching, 5-10 lines lost at each, a review)


def past_hole(path: str, cap: int) -> tuple[int, bytes] | None:
    """(where the content after a file's leading NULs begins, its first FP_BYTES there); None
    where it cannot be read or is NULs to its end (or for HOLE_LOOKED bytes). A sparse file's
    hole is skipped at once (SEEK_DATA); a copy's NULs written out are read through."""
    try:
        with open_content(path, cap) as s:
            at = 0
            if isinstance(s, io.FileIO):  # a plain file: its first data, where the file
                try:  # system keeps holes
                    at = os.lseek(s.fileno(), 0, os.SEEK_DATA)
                except OSError as exc:
                    if exc.errno == errno.ENXIO:  # no data to its end: a hole only (read
                        return None  # through, 5 GiB of it held every file for 20 s, a review)
                    at = 0
                except AttributeError:
                    at = 0
                s.seek(at)
            while at < HOLE_LOOKED:
                got = s.read(READ_BYTES * 8)
                if not got:
                    return None
                rest = got.lstrip(b"\0")
                if rest:
                    at += len(got) - len(rest)
                    return at, (rest + s.read(FP_BYTES))[:FP_BYTES]
                at += len(got)
    except OSError:
        return None
    return None


def _goes_on_as(f: _File, at: int, after: bytes) -> bool:
    """Whether the followed file `f` holds `after` at `at`: a copy whose first KiB is a hole's
    NULs (a writer that does not append, O_APPEND, writes on at its offset after copytruncate)
    is a copy of an open log only if what follows its hole is the log's too. After a second
    copytruncate, the log (a hole again, then new lines) was taken to be read for the copy's
    lines, which were never read: 5 of 70 lost (an ops trial). A file read to its end and
    closed (a rotation) holds what it held: left to the check of its end (probe), as before
    (a `.bak` of a closed `.1` that begins with a hole was read whole again, a review)."""
    if at < 0:  # the copy is NULs to its end (or could not be read): a copy in progress, of
        return True  # what it may copy, as before
    if f.fh is None or f.compressed:  # by its end, where that end holds more than NULs (a
        return bool(f.tail.strip(b"\0"))  # rotation of NULs alone took every copy beginning
        # with a hole for its own, and they were never read, a review)
    try:
        return os.pread(f.fh.fileno(), len(after), at) == after
    except OSError:
        return False


def _known(f: _File) -> list[bytes]:
    """The first bytes of a followed file's content: as read (or seen when adopted), and as
    it is now while it is open (more may be there than was read, or other content)."""
    out = [f.head if len(f.head) >= len(f.first) else f.first]
    if f.fh is not None and not f.compressed and len(f.head) < FP_BYTES:
        try:
            out.append(os.pread(f.fh.fileno(), FP_BYTES, 0))
        except OSError as exc:
            log.debug("cannot read the start of %s: %s", safe_name(f.key.path), exc)
    return out


AWAY_READ_S = 10.0  # a live log moved where no scan lists it (logrotate's olddir, a symlink
# swapped to a file elsewhere, another filesystem), deleted or replaced is read on this long:
# the server writes to it until it reopens its log (a trial: 75 of 125 lines written between
# the move and nginx's reopen were lost; 80 written to a deleted log)
LATE_SCAN_S = 1.0  # the least time between scans asked for by a closed rotation's change


class Follower:
    """Watches paths (inotify via watchdog, or polling) and delivers each complete line once."""

    def __init__(self, paths: list[str], on_data: Callable[[FileKey, bytes], None], *,
                 poll: bool = False, poll_interval: float = 0.25, rescan_interval: float = 5.0,
                 max_line_bytes: int = 65536,
                 on_event: Callable[[FollowEvent], None] | None = None,
                 resume: list[FileRecord] | None = None,
                 max_decompressed: int = MAX_DECOMPRESSED, settle: float = 1.0,
                 vhost_from_filename: str | None = None, batch_interval: float = 0.05,
                 on_gone: Callable[[], None] | None = None,
                 last_line_after: float = LAST_LINE_S,
                 whole_line: Callable[[FileKey, bytes], bool] | None = None) -> None:
        self.paths = [str(p) for p in paths]
        self.vhost_from_filename = vhost_from_filename
        self.batch_interval = batch_interval  # inotify: gather writes this long before a pass
        self.on_data, self.on_event = on_data, on_event
        self.poll, self.poll_interval, self.rescan_interval = poll, poll_interval, rescan_interval
        self.max_line_bytes, self.max_decompressed = max_line_bytes, max_decompressed
        self.lock = threading.RLock()
        self._files: dict[tuple[int, int], _File] = {}
        # content counted that no followed file holds now: to recognise, not to count again
        self._counted = Counted(list(resume or []), max_decompressed, MAX_RETIRED)
        self._resumed = [r for r in resume or [] if not r.done]  # files on disk at the save
        self._reported: set[tuple[str, str]] = set()
        self._skipped_said: dict[str, str] = {}  # paths given, said skipped -> why
        # (dev, ino, mtime) of the files said empty: an empty archive is read again at every
        # scan (nothing in it to know it by), and was said empty each time, twice a second
        # while lines came (a trial: 2,624 lines in 25 minutes)
        self._said_empty: set[tuple[int, int, float]] = set()
        self.skipped_now = 0  # files the last listing found and could not read (unreadable...)
        self._no_fd: set[str] = set()  # paths not opened: the open-file limit was reached
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._observer = None
        self._watched_dirs: set[str] = set()
        # the paths of files read to their end and closed (rotations), as of the last scan: a
        # change event on one of them asks for a scan, which reopens it (the server's late
        # writes to access.log.1 before it reopens its log, a log renamed .old by hand and
        # written on), instead of waiting for the rescan every rescan_interval (a fuzz: 5 s)
        self._closed: dict[str, int] = {}  # path -> the size read to, looked at each poll
        self._looked_late: dict[str, int] = {}  # path -> its size when that asked for a scan
        self._late_due = False  # such an event came: a scan at most every LATE_SCAN_S (a
        # server that never reopens its log writes to .1 all day: a scan per write burst
        # listed 200 archives 13 times a second, a review)
        self._late_scan = 0.0
        self._scan_due = True
        self.settle = settle  # an archive modified this recently may still be being written
        self.last_line_after = last_line_after  # a last line without its newline, in a file
        # unwritten this long, is a line (LAST_LINE_S), where `whole_line` (the caller's
        # parser) reads it as one: cut short, it waits for the rest (a line written in two
        # writes 70 s apart was two malformed lines and one request lost: a trial)
        self.whole_line = whole_line
        self._waiting = False  # some archive was left for a later scan
        self._index: PrefixIndex | None = None  # files followed now, by their first bytes
        self._aliases: dict[tuple[int, int], Alias] = {}  # copies of content being read now
        # rotations beside a file named alone that hold nothing counted: not read, and not
        # looked at again until they change (their stat signature, by inode)
        self._passed: dict[tuple[int, int], tuple[int, int, int]] = {}
        # Called outside the lock after a pass in which a file that was read from was deleted,
        # rotated away or truncated: the caller commits then, so that what was read from it is
        # not only in memory (a kill -9 would lose it: the file cannot be read again).
        self.on_gone = on_gone
        self._gone = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the follower thread (and the inotify observer unless poll=True)."""
        if not self.poll:
            from watchdog.observers import Observer

            self._observer = Observer()
            self._observer.start()
            self._rewatch()
        self._thread = threading.Thread(target=self._run, name="trafficwatch-follow", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and close every file (pending partial lines are not delivered)."""
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.lock:
            for f in self._files.values():
                self._close(f)

    def _run(self) -> None:
        last_scan = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - last_scan >= self.rescan_interval:
                self._scan_due, last_scan = True, time.monotonic()
            late_in = LATE_SCAN_S - (time.monotonic() - self._late_scan)
            if self._late_due and late_in <= 0:
                self._scan_due, self._late_due = True, False
                self._late_scan = time.monotonic()
            more = self.check_now()
            if more:
                continue
            # inotify tells what comes and goes (a new file, a rotation, a deletion), and the
            # open files are read every poll_interval, as --poll reads them: woken by each
            # write, nginx's one a request without access_log's buffer=, the agent took 47 % of
            # a core at 1,000 lines/s where --poll took 14 % (an ops trial; bench/agent.py
            # --per-line)
            wait = min(self.poll_interval, self.rescan_interval)
            if self._waiting:
                wait = min(wait, self.settle)
            if self._late_due:
                wait = min(wait, max(late_in, 0.01))
            woken = self._wake.wait(wait)
            if not self.poll and not woken and self._written_late():
                self._late_due = True  # read within LATE_SCAN_S, as README says
            if not self.poll and woken:
                # a file came or went: gather what else comes with it (a rotation's rename,
                # then its new file) for a moment, so one scan sees them together
                self._stop.wait(self.batch_interval)
            self._wake.clear()
            if self._waiting:
                self._scan_due = True

    def _written_late(self) -> bool:
        """Whether a rotation read to its end and closed has grown since (the server writes on
        to access.log.1 until it reopens its log): no write wakes the follower any more."""
        late = False
        for path, size in list(self._closed.items()):
            try:
                now = os.stat(path).st_size
            except OSError:
                continue
            # (grown, or emptied and written again) and not yet looked at at this size: one it
            # cannot be read again (made unreadable) was scanned each second for ever
            if now != size and self._looked_late.get(path) != now:
                self._looked_late[path] = now
                late = True
        return late

    # -- the pass ----------------------------------------------------------------------------
    def check_now(self) -> bool:
        """One synchronous pass: scan if due, read what was appended. True if more is waiting."""
        with self.lock:
            if self._scan_due:
                self._scan()
            more = False
            for f in list(self._files.values()):
                if not f.done:
                    more |= self._pump(f)
            if self._gone and self._scan_due:
                self._scan()  # copies waiting for what went away are settled before the commit
                more = True
            gone, self._gone = self._gone, False
        if gone and self.on_gone is not None:
            self.on_gone()
        return more

    def settle_first(self, limit: float = 5.0) -> None:
        """Before the first read ends: archives modified in the last `settle` seconds were left
        for a later scan (they may still be being compressed); look again once they have
        settled, for up to `limit` seconds. A directory holding only a just-rotated .gz was
        said to hold no access log, and the app exited."""
        end = time.monotonic() + limit
        while self._waiting and time.monotonic() < end and not self._stop.is_set():
            self._stop.wait(min(self.settle, 0.25))
            with self.lock:
                self._scan_due = True
            while self.check_now():
                pass

    def gone_since_save(self) -> list[FileRecord]:
        """The files on disk at the save resumed from that no file holds now (deleted while
        trafficwatch was stopped): what was written to them after that save was not read. A
        trial deleted a followed log while stopped, and nothing was said."""
        with self.lock:
            left = {id(r) for r in self._counted.records}
            # one of which nothing was read (an empty log at the save) is gone only if its file
            # is: it was said "gone" though on disk (nothing takes such a record; a review)
            gone = [r for r in self._resumed if id(r) in left
                    and (r.offset or (r.dev, r.ino) not in self._files)]
            for r in gone:  # saved as content no longer on disk from now: said once, not at
                r.done = True  # every later start (a review: 4 starts, 4 times)
            self._resumed = [r for r in self._resumed if not r.done]
            return gone

    def offsets(self) -> list[FileRecord]:
        """Records of every file read (live, finished and retired content), for the state."""
        with self.lock:
            copies = [a.current(a.of.boundary, a.of.proof or digest(a.of.tail),
                                self.max_decompressed) for a in self._aliases.values()]
            # content no file holds now, of which nothing was read (an empty log at the last
            # save, rotated since): nothing to know again, and kept it was said to be "gone"
            # at every start after (a trial: 11 times at once)
            return ([f.record() for f in self._files.values()]
                    + [r for r in self._counted.records if r.offset]
                    + [rec for rec in copies if rec is not None])

    # tracked() and following() take no lock: the engine asks them while it holds its own
    # lock, which this follower's thread takes inside this one's (on_data). Taking this one
    # there deadlocked the app under a log appended at 3,000 lines a second (a trial). A copy
    # of the dict's values is made in one step under the GIL; a file added or dropped during
    # the call is counted or not, as a moment later or earlier would have it.
    def tracked(self) -> list[FileKey]:
        """The files followed now (with the name each was last seen under)."""
        return [f.key for f in list(self._files.values())]

    def following(self) -> int:
        """How many files are followed for new lines: those tracked, less the archives read to
        their end (kept only to know them again after a rotation or restart)."""
        return sum(not (f.compressed and f.done) for f in list(self._files.values()))

    def progress(self) -> tuple[int, int]:
        """(bytes read, bytes on disk) of the plain files followed; archives count when done."""
        done = total = 0
        with self.lock:
            for f in self._files.values():
                try:
                    size = os.stat(f.key.path).st_size
                except OSError:
                    continue
                total += size
                done += size if f.done else (0 if f.compressed else min(f.consumed, size))
        return done, total

    def request_scan(self) -> None:
        """List the watched directories again on the next pass (new files, rotations)."""
        self._scan_due = True
        self._wake.set()

    def _event(self, kind: str, name: str, message: str, key: FileKey | None = None,
               offset: int | None = None, sample: bytes = b"", length: int = 0,
               edited: bool = False) -> None:
        if self.on_event is not None:
            self.on_event(FollowEvent(kind, safe_name(name), message, key, offset, sample, length,
                                      edited))

    def _scan(self) -> None:
        self._scan_due = self._waiting = False
        self._index = None
        self._counted.new_scan()
        found = discover(self.paths, self.vhost_from_filename, rotations=True)
        now = time.time()
        names = {src.path for files in found.sites.values() for src in files}
        for path in self._no_fd - names:  # gone: no longer skipped (its line in the report
            self._event("back", path, f"{safe_name(path)}: gone; no longer skipped")  # too)
        self._no_fd &= names
        listed_skipped = sum(why not in (EMPTY_DIR, NO_FILE_IN_DIR, NO_LOG_IN_DIR)
                             for _, why in found.skipped)
        self.skipped_now = listed_skipped + len(self._no_fd)  # (again below, once adopted)
        now_skipped = {name for name, _ in found.skipped}
        for name in [n for n in self._skipped_said if n not in now_skipped]:  # there again (a
            # folder deleted and made again): no longer skipped, and said again should it go
            # (the app had named it skipped to its end and exited 1, every line read: a trial)
            self._reported.discard((name, self._skipped_said.pop(name)))
            self._event("back", name, f"{name}: there again; following it")
        for name, why in found.skipped:
            if (name, why) not in self._reported:
                self._reported.add((name, why))
                if why not in (EMPTY_DIR, NO_FILE_IN_DIR, NO_LOG_IN_DIR):
                    self._reported.discard((name, self._skipped_said.get(name, why)))
                    self._reported.add((name, why))
                    self._skipped_said[name] = why  # (another why: said, no "there again")
                if why in (EMPTY_DIR, NO_FILE_IN_DIR, NO_LOG_IN_DIR):  # watched: its logs
                    # followed once they come
                    what = ("empty for now" if why == EMPTY_DIR else
                            "no file in it, only subdirectories, whose logs are not read (give "
                            "the directory that holds them)" if why == NO_FILE_IN_DIR else
                            "no access log for now")
                    self._event("waiting", name, f"{name}: {what}; watching it for access logs")
                else:
                    self._event("skipped", name, f"{name}: skipped: {why}")
        entries: list[tuple[str, object, os.stat_result]] = []
        for site, files in found.sites.items():
            for src in files:
                try:
                    entries.append((site, src, os.stat(src.path)))
                except OSError:
                    continue
                self._counted.sites[src.path] = site
        seen: set[tuple[int, int]] = set()
        for _, src, st in entries:
            ident = (st.st_dev, st.st_ino)
            f = self._files.get(ident)
            if f is not None and f.fh is None and f.sig != signature(st):
                # Closed, so its inode number may now be another file's: the content decides
                # (nothing read of it: nothing to decide by, it is looked at as a new one).
                if not f.boundary or not same_content(src.path, f.head, f.tail, f.boundary,
                                                      f.compressed, self.max_decompressed):
                    continue  # not seen: retired below, and this file adopted as a new one
                f.sig = signature(st)
            seen.add(ident)
        for ident, f in list(self._files.items()):
            if ident not in seen and f.fh is None:
                self._retire(ident)  # gone from disk and nothing left to read: remember content
            elif f.fh is not None and not f.compressed:
                self._rotated_or_truncated(f)  # new files are compared with what it holds now
        # Who reads content found in several files: the file going on from a saved record of
        # its own inode, else the live one (it grows), else a plain one; the others are copies
        # that find it being read, and wait for it, instead of taking its record.
        own = self._counted.owners()
        listed = list(entries)
        unknown: list[tuple[str, SourceFile, os.stat_result]] = []  # passive, nothing counted
        # A kept copy (access.log.bak, .old) comes last, even with a saved record of its own:
        # it copies a part of another, and when it took its record (or the log's) first, the
        # log copytruncated to .1 while stopped started as it and went on, and waited for it,
        # which never grows: .1's last lines were never read (a trial: 250 of 350 counted; a
        # review: 50 of 150 where the .bak was there at the save). Taken after, the .1 takes
        # every record it goes on from, and the .bak is a copy of it. A compressed file comes
        # after a plain one too: it never grows, where a plain one may have grown past its record
        # (`gzip -c access.log > access.log.gz` by hand, then a kill -9 and a rotation: .1,
        # taken after the .gz, was read as its copy, and its lines since the last save lost:
        # an ops trial).
        entries.sort(key=lambda e: (e[1].rotation == BACKUP_ROTATION,
                                    (e[2].st_dev, e[2].st_ino) not in own,
                                    bool(e[1].compressed),
                                    e[1].rotation != 0 or bool(e[1].date_key)))
        for site, src, st in entries:
            ident = (st.st_dev, st.st_ino)
            live = src.rotation == 0 and not src.date_key and not src.compressed
            f = self._files.get(ident)
            if f is not None:
                f.key, f.live = FileKey(*ident, src.path, site), live
                f.was_live |= live
                if f.fh is None and not f.compressed and st.st_size != f.consumed:
                    self._reopen(f)  # a rotated file written after we finished it
                elif f.done:
                    self._say_if_empty(f)
                continue
            al = self._aliases.pop(ident, None)
            if al is not None and al.sig == signature(st) and al.gen == al.of.gen and \
                    self._files.get((al.of.key.dev, al.of.key.ino)) is al.of:
                self._aliases[ident] = al  # the copy and the file it copies are as they were
                continue
            if src.passive and self._passed.get(ident) == signature(st):
                unknown.append((site, src, st))  # looked at as it is: nothing counted in it
                continue
            if src.compressed and now - st.st_mtime < self.settle:
                self._waiting = True  # still being compressed, probably: look again soon
                continue
            if not self._adopt(FileKey(*ident, src.path, site), bool(src.compressed), live, st,
                               src.passive, src.rotation == BACKUP_ROTATION):
                unknown.append((site, src, st))
        # A rotation of a file named alone that holds nothing counted is read all the same when
        # it is newer than one that does: it was made after what was followed (two rotations
        # while stopped, or two renames between two scans: the file in the middle, never seen
        # under the name, was lost). Older ones, there before it was followed, are not read.
        ours: dict[str, list[SourceFile]] = {}
        for site, src, st in entries:
            ident = (st.st_dev, st.st_ino)
            if src.passive and (ident in self._files or ident in self._aliases):
                ours.setdefault(site, []).append(src)
        for site, src, st in unknown:
            if any(_newer(src, o) for o in ours.get(site, ())):
                self._passed.pop((st.st_dev, st.st_ino), None)
                self._adopt(FileKey(st.st_dev, st.st_ino, src.path, site), bool(src.compressed),
                            False, st)
        on_disk = [(st.st_dev, st.st_ino) for _, _, st in listed]
        # Read oldest first, as listed (files no longer listed, still being read, before them):
        # lines reach the caller in the order they were written.
        listed_ids = set(on_disk)
        self._files = {k: f for k, f in self._files.items() if k not in listed_ids} | \
            {k: self._files[k] for k in on_disk if k in self._files}
        for ident in list(self._aliases):
            if ident not in listed_ids:
                del self._aliases[ident]
        self._passed = {k: v for k, v in self._passed.items() if k in listed_ids}
        # (a rotation closed after this, by _pump, leaves _scan_due set: the next pass's scan
        # puts it here)
        self.skipped_now = listed_skipped + len(self._no_fd)  # those this scan could not open
        self._closed = {os.path.abspath(f.key.path): f.consumed
                        for f in self._files.values() if f.fh is None and not f.compressed}
        self._looked_late = {p: n for p, n in self._looked_late.items() if p in self._closed}
        if self._observer is not None:
            self._rewatch()

    def _retire(self, ident: tuple[int, int]) -> None:
        f = self._files.pop(ident)
        rec = f.record()
        rec.done = True
        self._counted.remember(rec, f.head)
        if f.boundary:
            self._gone = True  # what was read from it is now only in memory: commit it

    def _reopen(self, f: _File) -> None:
        try:
            # unbuffered, as open_content: no read-ahead kept from before a truncation
            f.fh = open(f.key.path, "rb", buffering=0)  # noqa: SIM115 (kept open while followed)
            if os.fstat(f.fh.fileno()).st_ino != f.key.ino:
                self._close(f)
                return
            f.fh.seek(f.consumed)
        except OSError as exc:
            self._close(f)
            self._report_error(f.key.path, exc)
            return
        f.done = False

    def _adopt(self, key: FileKey, compressed: bool, live: bool, st: os.stat_result,
               passive: bool = False, kept: bool = False) -> bool:
        """Follow a file newly seen: from its start, or past content already counted, or not at
        all (a copy of a file being read; a passive rotation holding nothing counted: False)."""
        if not self._room_to_open(key.path):
            return True
        try:
            fh = open_content(key.path, self.max_decompressed)
            head = fh.read(FP_BYTES)
        except FileNotFoundError:  # renamed (rotated) since it was listed: the next look
            return True  # finds it under its new name ("cannot read ... will retry" was no
            # fault, a trial's logrotate every 1.5 s)
        except OSError as exc:
            self._report_error(key.path, exc)
            return True
        if not compressed and isinstance(getattr(fh, "raw", None), Decompressed):
            # an archive its name does not say (logrotate's `compress` with `compressext ""`,
            # or access.log.2.gz renamed): read as one, not seeked in ("cannot read (File or
            # stream is not seekable.); will retry" at every look, its lines never counted)
            compressed, live = True, False
        f = _File(key, compressed, fh=fh, live=live, was_live=live, first=head, kept=kept)
        if compressed and self._finished_archive(f, head):
            return True
        try:
            copy = self._copy_of(key, head)
        except _LookAgain:
            self._close(f)
            self._scan_due = True
            return True
        longer = None
        if copy is not None and copy[0].kept and self._longer(key, compressed, st, copy[0]):
            # It starts as a kept copy (access.log.bak) and goes on past all that holds: the
            # .bak is the copy, of its start (a `cp` taken, then the log copytruncated to .1
            # while stopped: .1 waited for the .bak, which never grows). Read past what was
            # counted of it, or past the .bak's end. An archive too: a log rotated and
            # compressed at once after the `cp`, the .gz still settling when the .bak was
            # adopted, lost the lines after the .bak's end (a review).
            longer, copy = copy[0], None
        if copy is not None:  # a copy of what another file is being read for: not read
            of, _ = copy
            self._close(f)
            for rec in self._counted.of_file(key.dev, key.ino, head):
                self._counted.take(rec)  # its record as a copy before a restart: this one now
            self._aliases[(key.dev, key.ino)] = Alias(of, of.gen, signature(st), key.dev,
                                                      key.ino, key.path, head)
            return True
        start = self._counted.match(key.path, key.dev, key.ino, key.site, head, self.settle,
                                    kept, compressed)
        if longer is not None and start is not None:
            start = max(start, _last_line_end(longer))
        if start is None:  # a copy of counted content still being written: look again soon
            self._close(f)
            self._waiting = True
            return True
        if passive and not start:  # a rotation of the file named, from before it was followed
            self._close(f)  # (or newer than one of it: _scan decides)
            self._passed[(key.dev, key.ino)] = signature(st)
            return False
        try:
            self._seek(f, head, start)
        except OSError as exc:
            self._close(f)
            self._report_error(key.path, exc)
            return True
        self._files[(key.dev, key.ino)] = f
        if self._index is not None:
            for k in _known(f):
                self._index.add(k, f)
        if start:
            self._event("resumed", key.path, f"{safe_name(key.path)}: resuming after {start} "
                        "bytes already counted", key, offset=None if compressed else start)
        else:
            edited = (key.dev, key.ino) in self._counted.rewritten
            self._counted.rewritten.discard((key.dev, key.ino))
            self._event("new_file", key.path, f"{safe_name(key.path)}: following", key,
                        edited=edited)
        return True

    def _longer(self, key: FileKey, compressed: bool, st: os.stat_result, kept: _File) -> bool:
        """Does this file hold more than the kept copy `kept` does (decompressed)?"""
        size = _content_size(kept)
        if not compressed:
            return st.st_size > size
        got = probe(key.path, size + 1, self.max_decompressed)
        return got is not None and got.tail_hash is not None

    def _finished_archive(self, f: _File, head: bytes) -> bool:
        """An archive read to its end before a restart (same inode and head): not read again."""
        for rec in self._counted.of_file(f.key.dev, f.key.ino, head, done=True)[:1]:
            self._counted.take(rec)
            self._close(f)
            f.head, f.consumed, f.boundary, f.proof = head, rec.offset, rec.offset, rec.tail_hash
            f.done = True
            self._files[(f.key.dev, f.key.ino)] = f
            if self._index is not None:  # files after it that copy it are its copies (a .1
                for k in _known(f):  # beside a .bak.gz read before a restart was read again)
                    self._index.add(k, f)
            return True
        return False

    def _copy_of(self, key: FileKey, head: bytes) -> tuple[_File, Probe] | None:
        """The followed file of the same site whose content this one copies (up to where that
        one was read, or a shorter copy of it), if any."""
        if self._index is None:  # the followed files by their first bytes, once per scan
            self._index = PrefixIndex()
            for g in self._files.values():
                for k in _known(g):
                    self._index.add(k, g)
        nuls, hole = not head.strip(b"\0"), None
        for g in self._index.find(head):
            if g.key.site != key.site or (g.key.dev, g.key.ino) == (key.dev, key.ino):
                continue  # a copy of a site's log keeps the site in its name
            if nuls and hole is None:  # (looked for once there is a file it may copy)
                hole = past_hole(key.path, self.max_decompressed) or (-1, b"")
            if nuls and not _goes_on_as(g, *hole):
                if g.fh is not None and not g.compressed and not self._as_checked(g):
                    # truncated since this scan looked at it (copytruncate's truncation
                    # right after its copy): what it was is not recorded yet, and read from 0
                    # the copy counted again the log's lines since the truncation before (a
                    # suite run under load). Looked at again at the next scan, after it is
                    raise _LookAgain
                continue
            got = probe(key.path, g.boundary, self.max_decompressed)
            if got is not None and (got.tail_hash is None or
                                    got.tail_hash == (g.proof or digest(g.tail))):
                return g, got
        return None

    def _seek(self, f: _File, head: bytes, start: int) -> None:
        """Position a new file at `start` (a line boundary), with its head and tail known."""
        f.consumed = f.boundary = start
        if start == 0:
            if f.compressed:
                f.preread, f.consumed = head, 0
            else:
                f.fh.seek(0)
            return
        f.head = head
        if start <= len(head):
            f.tail = head[max(0, start - TAIL_BYTES):start]
            if f.compressed:
                f.preread = head[start:]
            else:
                f.fh.seek(start)
            return
        if f.compressed:
            left = start - len(head) - TAIL_BYTES
            while left > 0:
                got = f.fh.read(min(left, READ_BYTES))
                if not got:
                    break
                left -= len(got)
            f.tail = (head + f.fh.read(TAIL_BYTES + min(0, left)))[-TAIL_BYTES:]
        else:
            f.fh.seek(max(0, start - TAIL_BYTES))
            f.tail = f.fh.read(start - max(0, start - TAIL_BYTES))

    def _room_to_open(self, path: str) -> bool:
        """Whether a file may be opened with FD_HEADROOM descriptors left beside the open ones
        (the soft limit raised to the hard one when that makes room); else it is said skipped,
        once, and looked at again at the next listing. Files made past the hard limit took
        every descriptor: /metrics accepted no connection and spun at 100 % of a core, the
        folder could not be listed, and nothing said why (an ops trial)."""
        open_now = len(self._files)  # at most: counted only near the limit
        limit = fd_limit(open_now + FD_HEADROOM + 1)
        if limit is not None and open_now + FD_HEADROOM >= limit:
            open_now = sum(f.fh is not None for f in self._files.values())
        if limit is None or open_now + FD_HEADROOM < limit:
            if path in self._no_fd:
                self._no_fd.discard(path)
                self._event("back", path, f"{safe_name(path)}: there again; following it "
                            "(open files below the limit again)")
            return True
        if path not in self._no_fd:
            self._no_fd.add(path)
            self._event("skipped", path, f"{safe_name(path)}: skipped: {open_now:,} files are "
                        f"open and the open-file limit is {limit:,}: raise it (ulimit -n; "
                        "LimitNOFILE= for a service)")
        return False

    def _report_error(self, path: str, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        if (path, why) not in self._reported:
            self._reported.add((path, why))
            self._event("error", path, f"{safe_name(path)}: cannot read ({why}); will retry")

    def _close(self, f: _File) -> None:
        if f.fh is not None:
            try:
                if f.compressed:  # (a decompressing stream has no descriptor: its file's, by
                    # name, if it is still that one. Signed (0, 0, 0), a truncated archive was
                    # a new file at each scan, read and said again every 2.5 s: a trial)
                    st = os.stat(f.key.path)
                    f.sig = signature(st) if (st.st_dev, st.st_ino) == (f.key.dev, f.key.ino) \
                        else (0, 0, 0)
                else:
                    f.sig = signature(os.fstat(f.fh.fileno()))
            except (OSError, ValueError, io.UnsupportedOperation):
                f.sig = (0, 0, 0)
            f.fh.close()
            f.fh = None

    def _pump(self, f: _File) -> bool:
        """Read up to PASS_BYTES of one file and deliver its complete lines."""
        if not f.compressed and self._rotated_or_truncated(f):
            return True
        if f.preread:
            data, f.preread = f.preread, b""
            self._take(f, data)
        budget = PASS_BYTES
        while budget > 0:
            try:
                data = f.fh.read(min(READ_BYTES, budget))
            except OSError as exc:
                self._report_error(f.key.path, exc)
                return False
            if not data:
                break
            if not f.compressed and (f.head or f.tail) and not self._same_tail(f) \
                    and self._read_again(f, data):
                # rewritten under this read (copytruncate's truncation and new lines between
                # the check above and the read): these bytes are the new content's, past the
                # old offset; taken, its lines there were counted twice once it was read from
                # 0 (kill -9 chaos under load: 2 lines, 1 run in 10). Not taken: read from 0.
                # (Rewritten after the read, they are the old content's: taken, a review; `>
                # access.log` keeps them in no copy)
                f.fh.seek(f.consumed)  # (where the check below finds nothing, read again: a
                self._rotated_or_truncated(f)  # review's file counted twice had drifted)
                return True
            if not f.consumed and not f.first and not f.live and not f.compressed \
                    and not f.gen:
                # A rotation empty when adopted (judged new on no content at all) and written
                # since: most likely a copy being made, as copytruncate creates its copy empty
                # and then fills it. Read as new, the copied lines were counted twice. Not read:
                # forgotten, and known again by its content on the next scan.
                self._close(f)
                del self._files[(f.key.dev, f.key.ino)]
                self._scan_due = True
                return True
            budget -= len(data)
            self._take(f, data)
        else:
            return True
        if f.compressed:
            err = stream_error(f.fh)
            if err:
                self._event("archive_error", f.key.path, f"{safe_name(f.key.path)}: {err}", f.key)
                f.said_empty = True  # what is said of it: not "empty" as well
            elif f.pending and not f.skipping:  # an archive's last line needs no newline
                chunk, f.pending = bytes(f.pending) + b"\n", bytearray()
                self.on_data(f.key, chunk)
                f.boundary = f.consumed
            f.done = True
            self._close(f)
            if not err:
                self._say_if_empty(f)
            return False
        if f.pending and not f.skipping and self._unwritten(f, self.last_line_after) and (
                self.whole_line is None or self.whole_line(f.key, bytes(f.pending))):
            # a last line whose newline never came (a writer that crashed, a log cut by hand):
            # `counts` counts it; followed, it had waited for ever (a trial: 1 line short)
            chunk, f.pending = bytes(f.pending) + b"\n", bytearray()
            self.on_data(f.key, chunk)
            f.tail = (f.tail + chunk[:-1])[-TAIL_BYTES:]  # the file's bytes, not the newline
            f.boundary = f.consumed
            f.owed_newline = True
        if f.live and not f.compressed and self._moved_away(f):  # moved where no scan has
            # listed it (a rotation beside it is listed, its name not live: closed below), or
            # deleted, or replaced (`mv tmp access.log`): its server may write to it still
            now = time.monotonic()
            if not f.away_since:
                f.away_since = now
                self._gone |= f.boundary > 0  # what was read of it saved now, as when closed
            if now - f.away_since < AWAY_READ_S:
                return False  # open and read on at each pass, for what its server writes late
        if (not f.live or self._moved_away(f)) and f.pending and not f.skipping and \
                not self._unwritten(f, self.last_line_after) and (
                    self.whole_line is None or self.whole_line(f.key, bytes(f.pending))):
            return False  # its last line without a newline, counted (above) once the file is
            # unwritten that long: closed now, it was never counted (an ops trial: a log
            # rotated away while its writer was mid-line, 152 of 153 until a restart)
        if not f.live or self._moved_away(f):
            self._close(f)  # a rotation read to its end: reopened if it grows (late writes)
            f.done = True
            self._scan_due = True
            self._gone |= f.live and f.boundary > 0  # moved away or deleted: commit what was read
            self._say_if_empty(f)
        return False

    def _say_if_empty(self, f: _File) -> None:
        """A rotation or archive that held nothing from its start to its end: said once, as
        reading once says it. Not of a live file (empty after a rotation until the server writes:
        followed as any other), nor of one emptied while followed (truncated, or rotated away
        with nothing written since), nor while it may still be being written (copytruncate's
        copy: looked at again once settled)."""
        if f.live or f.was_live or f.said_empty or f.consumed or f.gen:
            return
        try:
            st = os.stat(f.key.path)
        except OSError:
            return
        if (st.st_dev, st.st_ino) != (f.key.dev, f.key.ino) or \
                (not f.compressed and st.st_size):
            return  # not that file any more, or written since: the next scan reads it
        if time.time() - st.st_mtime < self.settle:
            self._waiting = True  # look again soon
            return
        f.said_empty = True
        if (st.st_dev, st.st_ino, st.st_mtime) in self._said_empty:
            return
        self._said_empty.add((st.st_dev, st.st_ino, st.st_mtime))
        self._event("empty", f.key.path, f"{safe_name(f.key.path)} is empty; nothing to count",
                    f.key)

    @staticmethod
    def _unwritten(f: _File, seconds: float) -> bool:
        """Whether the open file was last written `seconds` ago or more."""
        try:
            return time.time() - os.fstat(f.fh.fileno()).st_mtime >= seconds
        except (OSError, ValueError, AttributeError):
            return False

    def _moved_away(self, f: _File) -> bool:
        try:
            st = os.stat(f.key.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != (f.key.dev, f.key.ino)

    def _as_checked(self, f: _File) -> bool:
        """Whether an open plain file still holds what it held when read (not truncated since:
        the test _rotated_or_truncated begins with)."""
        try:
            size = os.fstat(f.fh.fileno()).st_size
        except (OSError, ValueError):
            return True
        return size >= f.consumed and self._same_tail(f)

    def _same_tail(self, f: _File) -> bool:
        """The first bytes and those before the boundary are unchanged (else truncated and
        regrown since: the bytes before the boundary alone can look alike, as lines do)."""
        try:
            fd = f.fh.fileno()
            return ((not f.tail or os.pread(fd, len(f.tail), f.boundary - len(f.tail)) == f.tail)
                    and (not f.head or os.pread(fd, len(f.head), 0) == f.head))
        except OSError:
            return True

    @staticmethod
    def _read_again(f: _File, data: bytes) -> bool:
        """Whether the file holds `data` at the offset it was read from, now: the bytes read
        are its content now (rewritten before the read), not the old content's."""
        try:
            return os.pread(f.fh.fileno(), len(data), f.consumed) == data
        except OSError:
            return False

    def _rotated_or_truncated(self, f: _File) -> bool:
        try:
            size = os.fstat(f.fh.fileno()).st_size
        except (OSError, ValueError):
            return False
        if size >= f.consumed and self._same_tail(f):
            if self._moved_away(f):
                self._scan_due = True  # a rename rotation: the new file is looked for now
            return False
        try:  # its first record one of its first lines before: edited in place (`truncate
            # -s`, `grep -v IP access.log > t && cat t > access.log`), not copytruncate's new
            # lines; told at the first read where no whole line is there yet (emptied, then
            # written: the edit's two steps, the follower looking between them)
            now_head = os.pread(f.fh.fileno(), min(FP_BYTES, size), 0)
        except (OSError, ValueError):
            now_head = b""
        edited = opens_as(now_head, f.head)
        f.was_head = f.head if not edited and not first_record(now_head) else b""
        rec = f.record()  # content before the truncation, for copies; no longer on disk (as
        rec.done = True  # _retire's): said now, not again as "gone" at the next start (a trial)
        self._counted.remember(rec, f.head)
        f.gen += 1  # a copy of it waiting for it is looked at again
        self._gone |= f.boundary > 0
        self._event("truncated", f.key.path, f"{safe_name(f.key.path)}: truncated (copytruncate,"
                    f" emptied or replaced) at {f.consumed} bytes, now {size}; reading from 0", f.key,
                    edited=edited)
        f.fh.seek(0)
        f.consumed = f.boundary = 0
        f.pending, f.skipping, f.head, f.tail, f.first = bytearray(), False, b"", b"", b""
        f.nul_run = False
        f.skipped, f.long_start, f.long_length = b"", b"", 0
        self._scan_due = True
        return False

    def _take(self, f: _File, data: bytes) -> None:
        pos = f.consumed
        if f.was_head and pos < FP_BYTES:  # read from 0 after a truncation that left no whole
            # line: edited in place or not, told by its first record once it is in
            seen = f.head[:pos] + data[: FP_BYTES - pos]
            if first_record(seen) or len(seen) >= FP_BYTES:
                if opens_as(seen, f.was_head):
                    self._event("edited", f.key.path, f"{safe_name(f.key.path)}: opens as "
                                "before its truncation: edited in place", f.key, edited=True)
                f.was_head = b""
        if pos < FP_BYTES and len(f.head) == pos:
            f.head += data[: FP_BYTES - pos]
        f.consumed += len(data)
        if f.owed_newline and data:  # the newline of a line delivered without it: a line of
            # its own, empty, had been read (a trial: "3 lines read, 2 counted" of 2 lines)
            f.owed_newline = False
            if data[:1] == b"\n":
                data, pos = data[1:], pos + 1
                f.boundary = pos
                f.tail = (f.tail + b"\n")[-TAIL_BYTES:]
        if f.skipping and f.nul_run:  # a run of NULs: it ends where a line begins
            first = len(data) - len(data.lstrip(b"\0"))
            if first < len(data) and data[first:first + 1] != b"\n" and \
                    data[first:first + 2] != b"\r\n":  # (a hole's own line end: its newline)
                self._end_long(f, f.long_length + first, data[:first])
                f.boundary = pos + first
                data = data[first:]
            elif first == len(data):
                f.skipped = (f.skipped + data)[-TAIL_BYTES:]
                f.long_length += len(data)
                return
        if f.skipping:
            nl = data.find(b"\n")
            if nl < 0:
                f.skipped = (f.skipped + data)[-TAIL_BYTES:]
                f.long_length += len(data)
                return  # still inside the over-long line: nothing kept
            length = f.long_length + nl - ((f.skipped[-1:] + data[:nl])[-1:] == b"\r")
            self._end_long(f, length, data[: nl + 1])
            f.boundary = pos + nl + 1
            data = data[nl + 1:]
        cut = data.rfind(b"\n") + 1
        if cut:
            chunk = bytes(f.pending) + data[:cut] if f.pending else data[:cut]
            f.pending = bytearray(data[cut:])
            self.on_data(f.key, chunk)
            f.boundary = f.consumed - len(f.pending)
            f.tail = (f.tail + chunk[-TAIL_BYTES:])[-TAIL_BYTES:]
        else:
            f.pending += data
        if len(f.pending) > self.max_line_bytes:
            # a run of NULs (a hole: a writer not appending, O_APPEND, writes on at its old
            # offset after copytruncate, the bytes before read as zeros; a crash's) is no part
            # of the line after it: the line after a hole over a read, 1 MiB, was skipped with
            # it (20,049 of 20,050, a review). A hole over max_line_bytes is said as a line too
            # long; the line after it is kept where it begins in what is read
            first = len(f.pending) - len(f.pending.lstrip(b"\0"))
            rest = f.pending[first:]
            if first and rest and len(rest) <= self.max_line_bytes:
                if first > self.max_line_bytes:
                    self._event("line_too_long", f.key.path, f"{safe_name(f.key.path)}: a line "
                                f"longer than {self.max_line_bytes} bytes was skipped (line too "
                                "long)", f.key, sample=bytes(f.pending[:SAMPLE_BYTES]))
                # the bytes before the line now: the tail before the hole and the hole's (a
                # review: the line's own had the file read again from 0 at every pass)
                f.tail = (f.tail + bytes(min(first, TAIL_BYTES)))[-TAIL_BYTES:]
                f.pending = bytearray(rest)
                f.boundary = f.consumed - len(f.pending)
                return
            self._event("line_too_long", f.key.path, f"{safe_name(f.key.path)}: a line longer "
                        f"than {self.max_line_bytes} bytes was skipped (line too long)", f.key,
                        sample=bytes(f.pending[:SAMPLE_BYTES]))  # an example: it was empty
            f.skipped = bytes(f.pending[-TAIL_BYTES:])  # `tail` stays the bytes before it
            f.long_start, f.long_length = bytes(f.pending[:TAIL_LINE_SHOWN]), len(f.pending)
            f.pending, f.skipping, f.nul_run = bytearray(), True, first == len(f.pending)

    def _end_long(self, f: _File, length: int, end: bytes) -> None:
        """The over-long line being skipped ended (`length` bytes, its last ones `end`)."""
        self._event("long_line", f.key.path, f"{safe_name(f.key.path)}: the line too long "
                    f"ended, {length:,} bytes", f.key, sample=f.long_start, length=length)
        f.tail = (f.skipped + end)[-TAIL_BYTES:]
        f.skipping, f.nul_run, f.long_start, f.long_length, f.skipped = False, False, b"", 0, b""

    # -- inotify -----------------------------------------------------------------------------
    def _rewatch(self) -> None:
        from watchdog.events import FileSystemEventHandler

        follower = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("created", "moved", "deleted"):
                    follower._scan_due = True  # list the dirs again
                elif event.event_type in ("modified", "closed") and \
                        os.path.abspath(event.src_path) in follower._closed:
                    follower._late_due = True  # a rotation read to its end, written again
                    # (closed: the server that wrote to it reopened its log)
                else:  # a write (with a watchdog that cannot filter events) or a writer's
                    return  # close: read at the next poll
                follower._wake.set()

        want: set[str] = set()
        for p in self.paths:
            d = os.path.abspath(p)
            if not os.path.isdir(d):
                d = os.path.dirname(d)
            while d and not os.path.isdir(d):
                d = os.path.dirname(d)  # not there yet: watch the nearest existing ancestor
            want.add(d)
            if os.path.isdir(os.path.abspath(p)):  # IIS's W3SVCn folders of a LogFiles given:
                # read as its files (sources._expand), watched too (their lines waited for the
                # rescan, 1.5-5 s: a review)
                want.update(iis_site_dirs(d))
        for d in want - self._watched_dirs:
            try:
                try:  # a folder that is a link (/var/log/nginx -> /data/nginx): watched with
                    # IN_DONT_FOLLOW, it sent no event, and lines waited for the rescan (5 s)
                    self._observer.schedule(_Handler(), d, recursive=False, follow_symlink=True,
                                            event_filter=_structure())
                except TypeError:  # watchdog before follow_symlink and event_filter
                    self._observer.schedule(_Handler(), d, recursive=False)
            except OSError as exc:
                self._report_error(d, exc)
                continue
            self._watched_dirs.add(d)
