"""The agent behind `trafficwatch agent PATH... --metrics-addr HOST:PORT` (fleet/cli.py): follow
the logs headless and serve /metrics for every site, for Prometheus to collect from each server.

The follower, its state and its exactly-once counting are those of `counts --follow`
(live.LiveFeed); nothing here imports Textual, torch or pandas (tests check it).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from trafficwatch.fleet.exposition import (
    CATALOGUE,
    CounterFloor,
    counter_values,
    gauge_samples,
    metrics_path,
    samples,
)
from trafficwatch.ingest import IngestOptions
from trafficwatch.metrics import MetricsServer, Sample
from trafficwatch.series import HourlySeries


@dataclass
class AgentConfig:
    """What LiveFeed reads of an engine's configuration."""

    paths: list[str]
    ingest: IngestOptions
    poll: bool = False


class _Counting:
    """The little of the engine that LiveFeed needs: cfg, series, lock, _changed()."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.series = HourlySeries(track_visitors=False)  # counters need no visitor hashes
        self.lock = threading.RLock()

    def _changed(self, model: bool = False) -> None:
        return None


class Agent:
    """A LiveFeed into a series, and a /metrics server answering from it.

    Raises ValueError with one line when the logs cannot be followed or the address not bound.
    The server starts only after the first read (what was appended while stopped included),
    so no scrape sees a counter below its value before a restart.
    """

    def __init__(self, paths: list[str], ingest: IngestOptions, addr: str,
                 state_path: str | None, poll: bool = False) -> None:
        from trafficwatch.live import LiveFeed

        ingest = replace(ingest, parse=replace(ingest.parse, keep_visitors=False))
        self.ctx = _Counting(AgentConfig(list(paths), ingest, poll))
        self.floor = CounterFloor(metrics_path(state_path) if state_path else None)
        self.server = MetricsServer(addr, self.samples, CATALOGUE)  # binds now: fails early
        try:
            self.feed = LiveFeed(self.ctx, state_path)  # type: ignore[arg-type]
        except BaseException:
            self.server.stop()
            raise
        self.floor.settle(self._raw())
        self.floor.export(self._raw())

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address[:2]

    def _raw(self):
        with self.feed.follower.lock, self.ctx.lock:
            return counter_values(self.ctx.series, self.feed.report)

    def samples(self) -> list[Sample]:
        """Every site's counters (saved before they are served) and the gauges."""
        with self.feed.follower.lock, self.ctx.lock:
            raw = counter_values(self.ctx.series, self.feed.report)
            gauges = gauge_samples(self.ctx.series, len(self.feed.follower.tracked()))
        return samples(self.floor.export(raw)) + gauges

    def start(self) -> None:
        self.server.start()

    def step(self, dt: float) -> None:
        self.feed.step(dt)

    def close(self) -> None:
        """Save the state and the counters, stop serving."""
        self.feed.close()
        self.floor.export(self._raw())
        self.server.stop()
