"""Persisted follow state: file identities, line-boundary offsets and counts, written atomically."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

VERSION = 1
TAIL_BYTES = 64  # bytes before an offset whose hash tells a file replaced or regrown while stopped
log = logging.getLogger(__name__)


def digest(data: bytes) -> str:
    """The hash used for fingerprints and tail hashes (hex, 128 bits)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class FileRecord:
    """One file's content as read so far: identity, offset at a line boundary, and its proof."""

    dev: int
    ino: int
    fingerprint: str  # digest of the first `fp_len` bytes of decompressed content
    fp_len: int  # how many bytes the fingerprint covers (1024, fewer for a short file)
    offset: int  # decompressed bytes consumed, always at a line boundary
    tail_hash: str  # digest of the TAIL_BYTES bytes before `offset`
    path: str = ""  # last name it was seen under (informational)
    done: bool = False  # a compressed file read to its end, or content no longer on disk


@dataclass
class State:
    """Everything committed together: the watched set, file records and the caller's counts."""

    paths: list[str]
    files: list[FileRecord] = field(default_factory=list)
    counts: dict = field(default_factory=dict)  # opaque, e.g. HourlySeries.to_dict()
    version: int = VERSION
    saved_at: float = 0.0

    def to_json(self) -> dict:
        """A JSON-able dict of the whole state."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> State:
        """Rebuild from `to_json()`; ValueError when the data is not such a state."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")  # noqa: TRY004 (one error type: unusable)
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        try:
            files = [FileRecord(**f) for f in data["files"]]
            paths = [str(p) for p in data["paths"]]
            counts = data["counts"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"missing or bad field ({exc})") from exc
        if not isinstance(counts, dict):
            raise ValueError("counts is not an object")  # noqa: TRY004
        for f in files:
            if not (isinstance(f.offset, int) and f.offset >= 0 and isinstance(f.ino, int)):
                raise ValueError("bad file record")
        return cls(paths, files, counts, VERSION, float(data.get("saved_at", 0.0)))


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


class StateStore:
    """Loads and atomically commits a State; a bad file is moved aside, never silently reset."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.notice = ""  # one-line message when a state file was moved aside

    def load(self) -> State | None:
        """The saved state, or None (none yet, or corrupt: moved aside, see `notice`)."""
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # a commit killed before its rename
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.notice = (f"cannot read state file {self.path}: {exc.strerror}; "
                           "counting from the logs")
            log.warning(self.notice)
            return None
        try:
            return State.from_json(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            stamp = time.strftime("%Y%m%dT%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            os.replace(self.path, aside)
            self.notice = (f"state file {self.path} is unusable ({str(exc)[:120]}); moved to "
                           f"{aside}; rebuilding counts from the logs")
            log.warning(self.notice)
            return None

    def move_aside(self, why: str) -> str:
        """Keep a state file that cannot be used here (renamed, not deleted); the notice line."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.unused-{stamp}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            return f"state file {self.path} not used ({why}) and not moved: {exc.strerror}"
        return (f"state file {self.path} not used: {why}; moved to {aside}; "
                "counting from the logs")

    def commit(self, state: State) -> None:
        """Write `state` atomically: temp file in the same dir, fsync, os.replace, fsync dir."""
        state.saved_at = time.time()
        data = json.dumps(state.to_json(), separators=(",", ":")).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self._write_temp(data)
        try:
            self._replace(tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._fsync_dir()

    # The steps are separate so that tests can stop a commit after each one (a kill -9).
    def _write_temp(self, data: bytes) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                    dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
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
