"""The one rule for "read with worker processes?", for the batch read and the app's first read.

Worker processes pay for themselves only on enough bytes: a worker's start, detection and
hand-over of its counts cost more than reading a small file in the process itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from trafficwatch.logs import read as logread
from trafficwatch.logs.sources import SourceFile, discover

# Archives of this many (compressed) bytes or more are read by worker processes at the app's
# first read: below it, a worker's detection, counting and hand-over cost more than the follower
# reading it itself (sample_logs: 1.04 s there, 1.12 s in workers; four 7 MB ones: 4.1 vs 2.4 s).
ARCHIVE_MIN = 1 << 20
MAX_WORKERS = 8


def cores() -> int:
    """How many processes may read at once."""
    return os.cpu_count() or 1


@dataclass
class FirstRead:
    """What the app's first read of live logs gives to worker processes before following."""

    archives: list[tuple[SourceFile, os.stat_result]] = field(default_factory=list)
    big: list[tuple[str, str, os.stat_result]] = field(default_factory=list)  # path, site, stat

    @property
    def uses_workers(self) -> bool:
        return bool(self.archives or self.big)

    @property
    def total_bytes(self) -> int:
        return sum(st.st_size for _, _, st in self.big) + sum(st.st_size for _, st in self.archives)


def first_read(paths: list[str], vhost_from_filename: str | None = None) -> FirstRead:
    """Compressed rotations of ARCHIVE_MIN bytes or more (two at least: one alone gains nothing
    from a worker) and plain files of PARALLEL_MIN bytes or more; nothing on one core."""
    plan = FirstRead()
    if cores() < 2 or not paths:
        return plan
    for site, files in discover(paths, vhost_from_filename).sites.items():
        for src in files:
            try:
                st = os.stat(src.path)
            except OSError:
                continue
            if src.compressed:
                if st.st_size >= ARCHIVE_MIN:
                    plan.archives.append((src, st))
            elif st.st_size >= logread.PARALLEL_MIN:
                plan.big.append((src.path, site, st))
    if len(plan.archives) < 2:
        plan.archives = []
    return plan


def whole_file_task(src: SourceFile) -> bool:
    """A file the batch read gives whole to one worker: compressed, or smaller than PARALLEL_MIN
    (bigger plain files are split over every core by parse_file instead)."""
    if src.path == "-":
        return False
    if src.compressed:
        return True
    try:
        return os.stat(src.path).st_size < logread.PARALLEL_MIN
    except OSError:
        return False  # read in the process itself, where the error is reported


def batch_workers(sites: dict[str, list[SourceFile]], workers: int | None = None) -> int:
    """Worker processes for the batch read's whole-file tasks: 0 for none (one core, or fewer
    than two such files after each site's first file, which is read first for its format)."""
    n = min(cores(), MAX_WORKERS) if workers is None else workers
    if n < 2:
        return 0
    if sum(whole_file_task(f) for files in sites.values() for f in files[1:]) < 2:
        return 0
    return n
