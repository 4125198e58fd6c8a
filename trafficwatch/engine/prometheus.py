"""The fleet as one more source of the engine, beside the live logs and the replay: the hourly
series of every site from Prometheus, read again every minute, written through the Sink."""
from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np

from trafficwatch.counting.ingest import IngestReport
from trafficwatch.engine.sink import Sink
from trafficwatch.filters import STATUS_LABELS
from trafficwatch.fleet.load import silent_agents, why_empty
from trafficwatch.fleet.prometheus import (
    FleetCounts,
    PromConfig,
    PrometheusClient,
    PrometheusError,
    add_to_series,
    fetch,
)
from trafficwatch.hours import HOUR

log = logging.getLogger(__name__)
REFRESH_S = 60.0  # how often the app asks Prometheus again
RECENT_H = 3  # hours read again at each refresh (a late scrape can still change them)
AGAIN = f"; asking again every {REFRESH_S:.0f} s"  # after what the status line says is wrong


class PrometheusFeed:
    """Reads the whole range at start, then the last RECENT_H hours every REFRESH_S seconds.

    Prometheus being unreachable never ends it: `error` says so in one line (the engine puts it
    on the status line), the data already read stays on screen, and it asks again at the next
    refresh. It writes to the sink's series only, under the sink's lock.
    """

    fleet = True  # what ingest_view tells the Now pane: requests, not lines read here

    # An hour is a count where Prometheus has a sample for it (0 included: agents up, no
    # request), a gap where it has none: never filled with zeros up to now, as a followed log's
    # quiet hours are. A fleet whose agents Prometheus had lost for an hour was drawn at 0,
    # flagged "▼ 0 vs 171-304" and exported trafficwatch_anomaly -1 (a trial), where `counts
    # --prometheus` rightly ended at the last hour with a sample
    fresh = False

    def __init__(self, sink: Sink, cfg: PromConfig, client: PrometheusClient | None = None) -> None:
        self.sink = sink
        self.cfg = cfg
        self.client = client or PrometheusClient(cfg)
        self.report = IngestReport()
        self.tail = ()
        self.rate = 0.0
        self.last_update = 0.0  # when Prometheus last answered
        self.notice = ""
        self.warnings: deque[str] = deque(maxlen=3)
        self.error = ""  # why the last read failed ("" once one succeeds)
        self.silent: tuple[int, list[str]] = (0, [])  # agents of the last hour, those not
        # reporting now (silent_agents)
        self._have: dict[tuple[str, int], np.ndarray] = {}  # (site, hour) -> row added so far
        self._next = 0.0
        self._loaded = False
        self.refresh()  # the first read, as LiveFeed's: the engine loads the model after it

    @property
    def clock(self) -> float:
        return time.time()

    def words(self) -> str:
        """The status line's account of where the data comes from."""
        if self.error and not self.last_update:
            return f"fleet: no answer yet from Prometheus at {self.cfg.url}"
        if not self.last_update:
            return f"fleet: asking Prometheus at {self.cfg.url}"
        words = (f"fleet: Prometheus at {self.cfg.url}, read at "
                 f"{time.strftime('%H:%M', time.gmtime(self.last_update))} UTC")
        n, down = self.silent
        if down:  # its requests are missing from the hours since: said, or read as a fall
            names = ", ".join(down[:2]) + (f" and {len(down) - 2} more" if len(down) > 2 else "")
            words += (f" · {len(down)} of {n} agents not reporting ({names}): the hours lack "
                      "their requests")
        return words

    def step(self, dt: float) -> None:
        if time.monotonic() >= self._next:
            self.refresh()

    def refresh(self) -> None:
        """Read (again) what changed; on failure keep what is shown and say why."""
        self._next = time.monotonic() + REFRESH_S
        now = time.time()
        end = int(now) - int(now) % HOUR
        start = end - (RECENT_H * HOUR if self._loaded else self.cfg.days * 86400)
        try:
            counts = fetch(self.client, start, end, now)
        except PrometheusError as exc:
            since = (f"; showing what was read at "
                     f"{time.strftime('%H:%M', time.gmtime(self.last_update))} UTC"
                     if self.last_update else "")
            self.error = f"{exc}{since}{AGAIN}"
            log.warning("%s", self.error)
            self.sink.on_change()
            return
        self._apply(counts, int(now))
        self.error = ""
        try:
            self.silent = silent_agents(self.cfg, now, self.client)
        except PrometheusError as exc:  # the counts were read: said, not lost
            log.warning("agents not checked: %s", exc)
        with self.sink.lock:
            empty = not self.sink.series.sites()
        if empty:  # why, as `counts --prometheus` says it: --match matching nothing read
            # "nothing to forecast: no hour of the logs in this view" (a trial)
            try:
                self.error = why_empty(self.cfg, now, self.client) + AGAIN
            except PrometheusError as exc:
                self.error = f"{exc}{AGAIN}"
        self._loaded = True
        self.last_update = time.time()
        self.sink.on_change()

    def _apply(self, counts: FleetCounts, now: int) -> None:
        """Add what is new, and the difference for hours read before (a late scrape); an hour
        read before that Prometheus no longer has (its agents died in it: no sample at its end)
        is a gap again, as `counts --prometheus` shows it."""
        delta = FleetCounts(counts.starts, {}, counts.asked_at)
        gone: list[tuple[str, int]] = []
        hours = counts.starts.tolist()
        asked = set(hours)
        sites = set(counts.sites) | {s for s, h in self._have if h in asked}
        for site in sorted(sites):
            grid = counts.sites.get(site)
            if grid is None:
                grid = np.full((len(hours), len(STATUS_LABELS)), np.nan)
            d = np.full_like(grid, np.nan)
            for i, h in enumerate(hours):
                row = grid[i]
                old = self._have.get((site, h))
                if np.isnan(row).all():
                    if old is not None:
                        gone.append((site, h))
                        del self._have[(site, h)]
                    continue
                now_row = np.nan_to_num(row)
                d[i] = now_row if old is None else now_row - old
                self._have[(site, h)] = now_row
            delta.sites[site] = d
        with self.sink.lock:
            for site, h in gone:
                self.sink.series.forget_hour(site, h // HOUR)
            add_to_series(self.sink.series, delta, now)
        if len(hours):  # hours before this read are not read again: let them go (a review:
            # one row per site and hour kept for as long as the app ran)
            first = hours[0]
            self._have = {k: v for k, v in self._have.items() if k[1] >= first}
