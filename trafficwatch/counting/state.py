"""Persisted follow state: file identities, line-boundary offsets and counts, written atomically."""
from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trafficwatch.files import sweep_unfinished, unfinished_prefix, writing
from trafficwatch.logs.identity import FileRecord, digest

VERSION = 1
log = logging.getLogger(__name__)
WRITE_CHUNK = 1 << 20  # bytes of JSON written at a time (json_chunks)
KEPT_ASIDE = 3  # state files moved aside (corrupt, unused) kept, of each kind, the newest


def json_chunks(obj: object, depth: int = 6) -> Iterator[bytes]:
    """`json.dumps(obj, separators=(",", ":")).encode()`, the same bytes, in pieces of about
    WRITE_CHUNK: dicts with str keys are opened `depth` levels down and what is inside them
    encoded value by value. The state of a busy server's app (30 sites, 10 days: 57 MB of JSON)
    was encoded whole every COMMIT_S seconds, the str and its bytes at once beside the counts'
    dict: 114 MB more at each save, which the process kept as its resident memory."""
    buf: list[str] = []
    size = 0
    for piece in _json_pieces(obj, depth):
        buf.append(piece)
        size += len(piece)
        if size >= WRITE_CHUNK:
            yield "".join(buf).encode()
            buf, size = [], 0
    if buf:
        yield "".join(buf).encode()


def _json_pieces(obj: object, depth: int) -> Iterator[str]:
    if depth <= 0 or not isinstance(obj, dict) or not obj or \
            not all(isinstance(k, str) for k in obj):
        yield json.dumps(obj, separators=(",", ":"))
        return
    sep = "{"
    for k, v in obj.items():
        yield sep + json.dumps(k) + ":"
        yield from _json_pieces(v, depth - 1)
        sep = ","
    yield "}"


@dataclass
class State:
    """Everything committed together: the watched set, file records and the caller's counts."""

    paths: list[str]
    files: list[FileRecord] = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # opaque, e.g. HourlySeries.to_dict()
    version: int = VERSION
    saved_at: float = 0.0

    def to_json(self) -> dict:
        """A JSON-able dict of the whole state. The counts are the caller's JSON-able dict,
        taken as they are: `asdict` deep-copied them, 3.9 M calls for 300 sites, and `q` took
        5.6 s, a save every 30 s as long (a scale trial)."""
        return {"paths": list(self.paths), "files": [asdict(f) for f in self.files],
                "counts": self.counts, "version": self.version, "saved_at": self.saved_at}

    @classmethod
    def from_json(cls, data: object) -> State:
        """Rebuild from `to_json()`; ValueError when the data is not such a state (any field of
        the wrong type or out of range: a state file is input like any other)."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")  # noqa: TRY004 (one error type: unusable)
        if not _is_int(data.get("version")) or data["version"] != VERSION:
            raise ValueError(f"version {str(data.get('version'))[:20]!r}, expected {VERSION}")
        missing = {"paths", "files", "counts"} - data.keys()
        if missing:
            raise ValueError(f"missing field {min(missing)!r}")
        paths, files, counts = data["paths"], data["files"], data["counts"]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError("paths is not a list of strings")
        if not isinstance(files, list):
            raise ValueError("files is not a list")  # noqa: TRY004
        if not isinstance(counts, dict):
            raise ValueError("counts is not an object")  # noqa: TRY004
        saved_at = data.get("saved_at", 0.0)
        if not isinstance(saved_at, (int, float)) or isinstance(saved_at, bool) or \
                not 0 <= saved_at < 1e11:
            raise ValueError("bad saved_at")
        return cls(list(paths), [_file_record(f) for f in files], counts, VERSION, float(saved_at))


MAX_OFFSET = 1 << 50  # a petabyte: any larger offset was not written by a reader of real files
_RECORD = {"dev": int, "ino": int, "fingerprint": str, "fp_len": int, "offset": int,
           "tail_hash": str, "path": str, "done": bool, "first_line": str, "last_line_ts": int}
_RECORD_SINCE = {"first_line", "last_line_ts"}  # fields a state saved before them lacks: their
# defaults


def _file_record(f: object) -> FileRecord:
    """A FileRecord from its JSON object, every field checked; ValueError otherwise."""
    if not isinstance(f, dict) or not set(_RECORD) - _RECORD_SINCE <= set(f) <= set(_RECORD):
        raise ValueError("bad file record (fields)")
    for name, kind in _RECORD.items():
        if name not in f:
            continue
        ok = _is_int(f[name]) if kind is int else type(f[name]) is kind
        if not ok:
            raise ValueError(f"bad file record ({name} is not {kind.__name__})")
    if not (0 <= f["dev"] < 1 << 64 and 0 <= f["ino"] < 1 << 64 and 0 <= f["fp_len"] <= 1 << 20
            and 0 <= f["offset"] <= MAX_OFFSET and 0 <= f.get("last_line_ts", 0) < 1 << 40):
        raise ValueError("bad file record (a number out of range)")
    if not all(_is_digest(f[k]) for k in ("fingerprint", "tail_hash")) or \
            f.get("first_line", "") and not _is_digest(f["first_line"]):
        raise ValueError("bad file record (not a digest)")
    return FileRecord(**f)


def _is_int(v: object) -> bool:
    return type(v) is int  # not bool, not float


def _is_digest(v: str) -> bool:
    return len(v) == 32 and all(c in "0123456789abcdef" for c in v)


def natural(v: object, what: str, limit: int = 1 << 62) -> int:
    """`v` if it is an int from 0 to `limit`; ValueError naming `what` otherwise (state input)."""
    if not _is_int(v) or not 0 <= v <= limit:  # type: ignore[operator]
        raise ValueError(f"{what} is not a count from 0 to {limit}: {str(v)[:20]!r}")
    return v  # type: ignore[return-value]


def int_in(v: object, what: str, low: int, high: int) -> int:
    """`v` if it is an int within [low, high]; ValueError naming `what` otherwise."""
    if not _is_int(v) or not low <= v <= high:  # type: ignore[operator]
        raise ValueError(f"{what} out of range: {str(v)[:20]!r}")
    return v  # type: ignore[return-value]


class UntrustedState(ValueError):
    """A state path this process must neither read nor replace; the message says why."""


def check_state_path(path: str | os.PathLike) -> None:
    """Raise UntrustedState unless `path` is absent or a regular file that belongs to this user
    and that no one else may write (another user's counts would be shown as ours; a FIFO or a
    device would block or never end)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UntrustedState(f"state file {path}: {exc.strerror}") from exc
    if stat.S_ISLNK(st.st_mode):
        _check_owner(path, st, "link")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return  # a dangling link of ours: the first commit replaces it with a file
        except OSError as exc:
            raise UntrustedState(f"state file {path}: {exc.strerror}") from exc
    _check_file(path, st)


def _check_file(path: str | os.PathLike, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "not a regular file")
        raise UntrustedState(f"state file {path} is {kind}: use a regular file, or --no-state")
    _check_owner(path, st, "file")
    if st.st_mode & 0o022:
        raise UntrustedState(f"state file {path} is writable by others (mode "
                             f"{stat.S_IMODE(st.st_mode):o}): not trusted; chmod go-w it")


def _check_owner(path: str | os.PathLike, st: os.stat_result, what: str) -> None:
    if st.st_uid != os.geteuid():
        raise UntrustedState(f"state {what} {path} belongs to user {st.st_uid}, not to you "
                             f"({os.geteuid()}): not trusted; use --state with a file of yours")


def default_state_path(paths: list[str], kind: str = "") -> Path:
    """$XDG_STATE_HOME/trafficwatch/<hash of the watched paths>[-kind].json (~/.local/state).

    `kind` keeps apart states that count differently (the app keeps paths and visitors,
    `counts --follow` only what it prints), so neither moves the other's aside.
    """
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    key = "\n".join(sorted(os.path.abspath(p) for p in paths)).encode()
    suffix = f"-{kind}" if kind else ""
    return Path(base) / "trafficwatch" / f"{digest(key)[:16]}{suffix}.json"


def fleet_state_path(url: str, site_label: str, matchers: tuple[str, ...]) -> Path:
    """The default state of the app on a fleet (--prometheus): named by what it reads, as a
    state of logs is by their paths. It holds no counts (Prometheus keeps them): beside it are
    the alerts already sent and the fine-tunes kept (an app restarted on a fleet paged again for
    the hour it had alerted on, a trial)."""
    key = "\n".join([url, site_label, *sorted(matchers)])
    return default_state_path([], "").with_name(f"{digest(key.encode())[:16]}-fleet.json")


class StateTaken(OSError):
    """Another trafficwatch took the state's lock while this one held it (its folder removed
    and made again): `holder`, its pid (0 if unknown)."""

    def __init__(self, holder: int) -> None:
        super().__init__(errno.EBUSY, "another trafficwatch took the state file's lock")
        self.holder = holder


class StateStore:
    """Loads and atomically commits a State; a bad file is moved aside, never silently reset."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.notice = ""  # one-line message when a state file was moved aside
        self._lock_fd: int | None = None

    def lock(self) -> int | None:
        """Take the state's lock (STATE.lock beside it, held while this process lives: the
        kernel lets go of it however the process ends). None when taken; else the pid of the
        trafficwatch holding it (0 if it cannot be read). Two that shared one state file
        overwrote each other's saves without a word. Where locks cannot be taken (no fcntl, a
        read-only folder) the state is used unlocked, as before."""
        try:
            import fcntl
        except ImportError:  # not a POSIX system
            return None
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError:
            return None  # commit() says what is wrong with the folder
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                pid = int(os.pread(fd, 32, 0).decode("ascii", "replace").strip() or 0)
            except (OSError, ValueError):
                pid = 0
            os.close(fd)
            return pid
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        return None

    def _keep_lock(self) -> None:
        """The lock held (lock()) is still the file's: its folder removed while this one ran
        (`rm -rf ~/.local/state/trafficwatch` to start afresh) took the lock file with it, and
        the commit made the folder again, unlocked: a second trafficwatch started then took
        the state too, and both saved over each other in silence. Taken again here; where
        another one took it first, this one does not save (StateTaken)."""
        if self._lock_fd is None:
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            st = os.stat(lock_path, follow_symlinks=False)
            held = os.fstat(self._lock_fd)
            if (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino):
                return
        except FileNotFoundError:
            pass
        old, self._lock_fd = self._lock_fd, None
        holder = self.lock()
        if self._lock_fd is None:
            self._lock_fd = old  # still ours to let go of
        else:
            os.close(old)
        if holder is not None:  # this save is not made
            self.unlock()
            raise StateTaken(holder)

    @property
    def locked(self) -> bool:
        """Whether this process holds the state's lock (lock() took it)."""
        return self._lock_fd is not None

    def unlock(self) -> None:
        """Let go of the lock (the process's end does as much)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def load(self) -> State | None:
        """The saved state, or None (none yet, or corrupt: moved aside, see `notice`)."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # a commit killed before its rename
        check_state_path(self.path)
        try:
            raw = self._read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.notice = (f"cannot read state file {self.path}: {exc.strerror}; "
                           "counting from the logs")
            log.info(self.notice)  # `notice`: said once by the caller
            return None
        try:
            return State.from_json(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            stamp = time.strftime("%Y%m%dT%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            try:
                os.replace(self.path, aside)
                self._keep_newest("corrupt")
            except OSError as err:  # (--state /proc/version: "cannot follow LOG: No such
                # file or directory" blamed the log, a trial)
                raise ValueError(
                    f"state file {self.path} is not a state ({str(exc)[:120]}) and cannot be "
                    f"moved aside ({err.strerror or err}): give --state a file of your own, "
                    "or --no-state") from None
            self.notice = (f"state file {self.path} is unusable ({str(exc)[:120]}); moved to "
                           f"{aside}; rebuilding counts from the logs")
            log.info(self.notice)  # `notice`: said once by the caller
            return None

    def _read(self) -> bytes:
        """The file's bytes, opened without blocking and checked again once open (a FIFO or
        device swapped in after check_state_path is refused, not read)."""
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            _check_file(self.path, os.fstat(fd))
            return fh.read()

    def move_aside(self, why: str) -> str:
        """Keep a state file that cannot be used here (renamed, not deleted); the notice line."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.unused-{stamp}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            return f"state file {self.path} not used ({why}) and not moved: {exc.strerror}"
        self._keep_newest("unused")
        return (f"state file {self.path} not used: {why}; moved to {aside}; "
                "counting from the logs")

    def _keep_newest(self, kind: str) -> None:
        """Of the state files moved aside as `kind`, keep the KEPT_ASIDE newest: one moved aside
        at each start (a disk that corrupts it, options switched back and forth) filled the
        folder with copies of every site's counts, never cleaned."""
        pattern = f"{glob.escape(self.path.name)}.{kind}-*"
        def moved(p: Path) -> tuple[int, str]:  # when renamed (its ctime), not its stamp: in
            # local time, one moved under another TZ sorted first and was deleted (a review)
            try:
                return p.stat().st_ctime_ns, p.name
            except OSError:
                return 0, p.name

        aside = sorted(self.path.parent.glob(pattern), key=moved)
        for old in aside[:-KEPT_ASIDE]:
            with contextlib.suppress(OSError):
                old.unlink()

    def commit(self, state: State) -> None:
        """Write `state` atomically: temp file in the same dir, fsync, os.replace, fsync dir."""
        try:
            check_state_path(self.path)  # never replace what is not ours (or not a file)
        except UntrustedState as exc:
            raise PermissionError(errno.EACCES, str(exc)) from exc
        state.saved_at = time.time()
        with writing():  # a SIGTERM's watchdog waits for it (a save on a slow disk was cut
            # short: exit 143, the exit's save lost and its temporary left, a review)
            data = json_chunks(state.to_json())
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._keep_lock()
            sweep_unfinished(self.path)  # a process killed with -9 while saving left its own
            tmp = self._write_temp(data)
            try:
                self._replace(tmp)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            self._fsync_dir()

    # The steps are separate so that tests can stop a commit after each one (a kill -9).
    def _write_temp(self, data: Iterable[bytes]) -> Path:
        fd, name = tempfile.mkstemp(prefix=unfinished_prefix(self.path), suffix=".tmp",
                                    dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            for chunk in data:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(name)
            raise
        os.close(fd)
        return Path(name)

    def _replace(self, tmp: Path) -> None:
        os.replace(tmp, self.path)

    def _fsync_dir(self) -> None:
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
