"""The agent behind `trafficwatch agent PATH... --metrics-addr HOST:PORT` (cli/agent.py): follow
the logs headless and serve /metrics for every site, for Prometheus to collect from each server.

The follower, its state and its exactly-once counting are those of `counts --follow` (a LiveFeed
writing into a Sink); nothing here imports Textual, torch or pandas (tests check it).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.counting.series import HourlySeries
from trafficwatch.engine.exposition import (
    CATALOGUE,
    CounterFloor,
    Key,
    counter_values,
    gauge_samples,
    metrics_path,
    samples,
)
from trafficwatch.engine.live import LiveFeed
from trafficwatch.engine.metrics import MetricsServer, Sample
from trafficwatch.engine.sink import Sink, SourceConfig


class Agent:
    """A LiveFeed into a series, and a /metrics server answering from it.

    Raises ValueError with one line when the logs cannot be followed or the address not bound.
    The server starts only after the first read (what was appended while stopped included),
    so no scrape sees a counter below its value before a restart.
    """

    def __init__(self, paths: list[str], ingest: IngestOptions, addr: str,
                 state_path: str | None, poll: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        ingest = replace(ingest, parse=replace(ingest.parse, keep_visitors=False))
        self.clock = clock  # the hour a line dated ahead waits for (counter_values)
        # counters need no visitor hashes
        self.sink = Sink(SourceConfig(list(paths), ingest, poll=poll),
                         HourlySeries(track_visitors=False))
        self.floor = CounterFloor(metrics_path(state_path) if state_path else None)
        self.server = MetricsServer(addr, self.samples, CATALOGUE)  # binds now: fails early
        try:
            self.feed = LiveFeed(self.sink, state_path, shown=False)
        except BaseException:
            self.server.stop()
            raise
        self.floor.settle(self._raw())
        self.floor.export(self._raw())

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address[:2]

    def _raw(self) -> dict[Key, int]:
        with self.feed.follower.lock, self.sink.lock:
            return counter_values(self.sink.series, self.feed.report, self.clock())

    def samples(self) -> list[Sample]:
        """Every site's counters (saved before they are served) and the gauges."""
        with self.feed.follower.lock, self.sink.lock:
            raw = counter_values(self.sink.series, self.feed.report, self.clock())
            gauges = gauge_samples(self.sink.series, self.feed.follower.following(),
                                   self.feed.follower.skipped_now, self.clock())
            gone = list(self.sink.series.evicted)
        return samples(self.floor.export(raw, gone)) + gauges

    def start(self) -> None:
        self.server.start()

    def step(self, dt: float) -> None:
        self.feed.step(dt)

    def close(self) -> None:
        """Save the state and the counters, stop serving."""
        self.feed.close()
        self.floor.export(self._raw())
        self.server.stop()
