"""All a source may touch: the series it counts into, the lock around it, what to read, and a
callback to say that something changed. Sources (live.py, replay.py) get a Sink, never the Engine,
so they can run headless (`counts --follow`, bench/latency.py) and be tested on their own."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.counting.series import HourlySeries


@dataclass(frozen=True)
class SourceConfig:
    """What a source reads and how: the paths, the ingest options, polling, replay speed."""

    paths: list[str]
    ingest: IngestOptions = field(default_factory=IngestOptions)
    poll: bool = False  # poll files instead of inotify (NFS and the like)
    speed: float = 3600.0  # replay: log seconds per real second


def _nothing() -> None:
    return None


@dataclass
class Sink:
    """Where a source puts what it reads. Write to `series` only while holding `lock`; call
    `on_change()` after new lines were counted (the engine then publishes a fresh frame)."""

    config: SourceConfig
    series: HourlySeries = field(default_factory=HourlySeries)
    lock: threading.RLock = field(default_factory=threading.RLock)
    on_change: Callable[[], None] = _nothing
