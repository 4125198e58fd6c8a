"""`trafficwatch agent PATH... --metrics-addr HOST:PORT`: follow the logs headless and serve
/metrics for every site, for Prometheus to collect from each server of a fleet.

The follower, its state and its exactly-once counting are those of `counts --follow`
(live.LiveFeed); nothing here imports Textual, torch or pandas (tests check it).
"""
from __future__ import annotations

import sys
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


def run_agent(args, stop: threading.Event | None = None) -> int:
    """Follow and serve until SIGTERM, SIGHUP or Ctrl-C (state saved; exit 0, 0, 130)."""
    from trafficwatch.cli import state_path
    from trafficwatch.commands.counts_cmd import ingest_options
    from trafficwatch.lifecycle import Shutdown, check_fd_budget
    from trafficwatch.state import UntrustedState

    stop = stop or threading.Event()
    shutdown = None
    if threading.current_thread() is threading.main_thread():
        shutdown = Shutdown()
        shutdown.on_shutdown(stop.set)
        shutdown.install()
    try:
        check_fd_budget(args.paths, args.vhost_from_filename)
        agent = Agent(args.paths, ingest_options(args), args.metrics_addr,
                      state_path(args, args.paths, "agent"), poll=args.poll)
    except (ValueError, UntrustedState) as exc:
        _say(str(exc))
        return 2
    except OSError as exc:
        _say(f"cannot follow {', '.join(args.paths)[:200]}: {exc.strerror or exc}")
        return 2
    for notice in (agent.feed.notice, agent.floor.notice):
        if notice:
            _say(notice)
    host, port = agent.address
    with agent.ctx.lock:
        sites = len(agent.ctx.series.sites())
    _say(f"agent: {len(agent.feed.follower.tracked())} files of {sites} sites followed; "
         f"serving http://{host}:{port}/metrics")
    agent.start()
    printed = agent.feed.event_count
    try:
        while not stop.wait(0.25):
            agent.step(0.25)
            printed = _report_events(agent.feed, printed)
    finally:
        agent.close()
        if shutdown is not None and not shutdown.requested:
            shutdown.uninstall()
    return shutdown.exit_code if shutdown is not None and shutdown.requested else 0


def _say(msg: str) -> None:
    from trafficwatch.safe import safe_text

    print(f"trafficwatch: {safe_text(msg)}", file=sys.stderr, flush=True)


def _report_events(feed, printed: int) -> int:
    """Rotations, truncations and unreadable files: one line each on stderr as they happen."""
    new = min(feed.event_count - printed, len(feed.events))
    for msg in list(feed.events)[len(feed.events) - new:]:
        _say(msg)
    return feed.event_count

