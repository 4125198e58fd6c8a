"""Atomic file writes: a temp file in the same folder, fsync, rename over the target, fsync the
folder, so a crash at any moment leaves the old file or the new one, never half of either."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None] | bytes,
                 mode: int | None = None) -> Path:
    """Write `write` (bytes, or a function given the open file) to `path` atomically.

    `mode` sets the new file's permissions (mkstemp makes 0600; os.umask is not read, since
    changing it would race other threads).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
