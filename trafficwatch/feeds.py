"""Where the engine's requests come from: a replay of existing logs, or the live logs."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from trafficwatch.replay import Replayer

if TYPE_CHECKING:
    from trafficwatch.engine import Engine


class ReplayFeed:
    """Releases the logs' requests by their timestamps at `speed` log seconds per second."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.replayer = Replayer(engine.cfg.paths, engine.cfg.ingest)
        self.report = self.replayer.report
        self.tail = ()
        self.rate = 0.0
        self.last_update = time.time()
        if not self.replayer.records:
            raise ValueError(_nothing_read(self.report, engine.cfg.paths))
        with engine.lock:
            self.replayer.advance(engine.series)

    @property
    def clock(self) -> int:
        return self.replayer.clock

    def step(self, dt: float) -> None:
        if self.replayer.done:
            return
        with self.engine.lock:
            n = self.replayer.advance(self.engine.series,
                                      self.replayer.clock + int(self.engine.cfg.speed * dt))
        self.rate = n / dt if dt > 0 else 0.0
        self.last_update = time.time()
        self.engine._changed()


def _nothing_read(report, paths: list[str]) -> str:
    for f in report.failed:
        return f.error
    if report.skipped:
        name, why = report.skipped[0]
        return f"nothing to read: {name}: {why}"
    return f"no access log found in {', '.join(paths)}: point trafficwatch at a log file or directory"


def open_source(engine: Engine):
    """The feed the command line asked for."""
    if engine.cfg.replay:
        return ReplayFeed(engine)
    if engine.cfg.prometheus is not None:
        from trafficwatch.fleet.source import PrometheusFeed

        return PrometheusFeed(engine)
    from trafficwatch.live import LiveFeed

    return LiveFeed(engine, engine.cfg.state_path, on_progress=engine.reading_progress)
