"""Atomic file writes: a temp file in the same folder, fsync, rename over the target, fsync the
folder, so a crash at any moment leaves the old file or the new one, never half of either."""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

_WRITES = [0]  # atomic writes going on (any thread): a shutdown's watchdog waits for them
_WRITES_LOCK = threading.Lock()


def writing_now() -> bool:
    """Is an atomic write going on (a state being saved)?"""
    return _WRITES[0] > 0


@contextlib.contextmanager
def writing():
    """Mark a write going on (writing_now) for as long as the block runs: a shutdown's watchdog
    lets it finish (lifecycle, up to WRITE_GRACE_S)."""
    with _WRITES_LOCK:
        _WRITES[0] += 1
    try:
        yield
    finally:
        with _WRITES_LOCK:
            _WRITES[0] -= 1


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None] | bytes,
                 mode: int | None = None) -> Path:
    """Write `write` (bytes, or a function given the open file) to `path` atomically; a
    shutdown's watchdog lets it finish (lifecycle.Shutdown, up to WRITE_GRACE_S).

    `mode` sets the new file's permissions (mkstemp makes 0600; os.umask is not read, since
    changing it would race other threads).
    """
    with writing():
        return _atomic_write(path, write, mode)


def _atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None] | bytes,
                  mode: int | None = None) -> Path:
    path = Path(path)
    sweep_unfinished(path)
    fd, tmp = tempfile.mkstemp(prefix=unfinished_prefix(path), suffix=".tmp",
                               dir=path.parent)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            if isinstance(write, bytes):
                fh.write(write)
            else:
                write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return path


def unfinished_prefix(path: Path) -> str:
    """The name start of an atomic write's temporary of `path`: `.NAME.PID.` (sweep_unfinished
    finds a dead process's by it)."""
    return f".{path.name}.{os.getpid()}."


def sweep_unfinished(path: Path) -> None:
    """Remove the unfinished writes of `path` (`.NAME.PID.xxxx.tmp`) that processes no longer
    running left: a `train` killed with -9 while saving left its half-written temporaries
    beside the model for ever (a trial), each write of the same path since leaving them."""
    head = f".{path.name}."
    try:
        entries = [e for e in os.scandir(path.parent)
                   if e.name.startswith(head) and e.name.endswith(".tmp")]
    except OSError:
        return
    for e in entries:
        pid = e.name[len(head):].partition(".")[0]
        try:
            if pid.isdigit() and not _alive(int(pid)) and \
                    e.stat(follow_symlinks=False).st_uid == os.getuid() and \
                    e.is_file(follow_symlinks=False):
                os.unlink(e.path)
        except OSError:
            continue


TEMP_PREFIX = "trafficwatch-"  # + kind + "-" + owner's pid + "-" + mkdtemp's random part


def temp_prefix(kind: str) -> str:
    """The name start of a temporary file or folder of this process ("tune", "stdin"): it holds
    the pid, so that what a process killed with -9 left (a site's counts, a copy of stdin) is
    found and removed by the next one (`sweep_orphans`)."""
    return f"{TEMP_PREFIX}{kind}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


_OWN: set[tuple[int, str]] = set()  # (pid, path): temporary files a signal must not leave


def own_temp(path: str, held: bool = True) -> None:
    """Say that `path` is a temporary file of this process (held False: not any more), for
    remove_own to take away on a signal's way out. By pid: a worker forked while it is held
    inherits the set, and its own SIGTERM (the pool ends every worker when one dies) must not
    take the parent's copy away (a review: a traceback, no output)."""
    (_OWN.add if held else _OWN.discard)((os.getpid(), path))


def remove_own() -> None:
    """Remove this process's temporary files (own_temp), on the way out of a signal that ends it
    at once: a copy of stdin outlived `counts -` stopped by SIGTERM or SIGHUP (an SSH session
    closed on `zcat ... | trafficwatch counts -`, a trial), whole. Those paths alone: by a name
    holding the pid, a process in another PID namespace sharing /tmp could lose its own."""
    me = os.getpid()
    for pid, path in list(_OWN):
        if pid != me:
            continue
        try:
            os.unlink(path)
        except OSError:
            pass
        _OWN.discard((pid, path))


def sweep_orphans(kinds: tuple[str, ...] = ("tune", "stdin"), folder: str | None = None) -> list[str]:
    """Remove the temporary files and folders of `kinds` left by trafficwatch processes that no
    longer run (killed with -9: their clean-up never ran), ours only (same user), never through
    a link. Returns the names removed; what cannot be removed is left, silently."""
    import shutil
    import stat

    folder = folder or tempfile.gettempdir()
    gone = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return gone
    for e in entries:
        for kind in kinds:
            head = f"{TEMP_PREFIX}{kind}-"
            pid, dash, _ = e.name.removeprefix(head).partition("-")
            if e.name.startswith(head) and dash and pid.isdigit():
                break
        else:
            continue
        try:
            st = e.stat(follow_symlinks=False)
            if st.st_uid != os.getuid() or _alive(int(pid)):
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(e.path)
            elif stat.S_ISREG(st.st_mode):
                os.unlink(e.path)
            else:
                continue
        except OSError:
            continue
        gone.append(e.name)
    return gone
