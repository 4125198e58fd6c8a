"""The fleet's series for the commands that read it once (`counts`, `forecast`, `eval`, `train`)."""
from __future__ import annotations

import time

from trafficwatch.counting.series import HourlySeries
from trafficwatch.fleet.prometheus import PromConfig, PrometheusClient, add_to_series, fetch
from trafficwatch.hours import HOUR


def load_fleet(cfg: PromConfig, now: float | None = None, partial: bool = True) -> HourlySeries:
    """Every site's hourly requests over cfg.days, as a series without visitors or paths
    (`partial`: with the hour in progress). PrometheusError when Prometheus cannot be asked;
    ValueError (one line) when it holds no such series."""
    now = time.time() if now is None else now
    end = int(now) - int(now) % HOUR
    counts = fetch(PrometheusClient(cfg), end - cfg.days * 86400, end, now if partial else None)
    series = HourlySeries(track_visitors=False)
    add_to_series(series, counts, int(now) if partial else None)
    if not series.sites():
        raise ValueError(f"Prometheus at {cfg.url} has no {cfg.selector()} over the last "
                         f"{cfg.days} days: are the agents scraped (and --site-label, --match "
                         "right)?")
    return series
