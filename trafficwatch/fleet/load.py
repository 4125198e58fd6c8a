"""The fleet's series for the commands that read it once (`counts`, `forecast`, `eval`, `train`)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from trafficwatch.counting.series import HourlySeries, no_site
from trafficwatch.fleet.prometheus import (
    PromConfig,
    PrometheusClient,
    PrometheusError,
    add_to_series,
    fetch,
)
from trafficwatch.hours import HOUR
from trafficwatch.safe import name_from_shown, safe_name


def load_fleet(cfg: PromConfig, now: float | None = None, partial: bool = True,
               warn: Callable[[str], None] | None = None) -> HourlySeries:
    """Every site's hourly requests over cfg.days, as a series without visitors or paths
    (`partial`: with the hour in progress). PrometheusError when Prometheus cannot be asked;
    ValueError (one line) when it holds no such series. `warn` is told of agents that
    reported in the last hour and do not now, as the app says them (`counts` had said
    nothing of a killed agent while its hour in progress fell by its requests: a trial)."""
    now = time.time() if now is None else now
    end = int(now) - int(now) % HOUR
    client = PrometheusClient(cfg)
    counts = fetch(client, end - cfg.days * 86400, end, now if partial else None)
    series = HourlySeries(track_visitors=False)
    add_to_series(series, counts, int(now) if partial else None)
    if not series.sites():
        raise ValueError(why_empty(cfg, now))
    if warn is not None:
        try:
            n, down = silent_agents(cfg, now, client)
        except PrometheusError:  # the counts were read: not lost for this
            n, down = 0, []
        if down:
            names = ", ".join(down[:5]) + (f" and {len(down) - 5} more" if len(down) > 5 else "")
            warn(f"Prometheus at {cfg.url}: {len(down)} of {n} agents not reporting ({names}): "
                 "the hours lack their requests")
    return series


def why_empty(cfg: PromConfig, now: float, client: PrometheusClient | None = None) -> str:
    """Why the fleet gave no count: no such series, or series with no whole hour yet (a fresh
    fleet, for an hour or two: an agent's first hour is a gap, its counter began inside it)."""
    # any sample over the range, not only now: asked at now alone, an agent stopped 5 minutes
    # ago (Prometheus's lookback) read as "no ... over the last 60 days" (a trial)
    client = client or PrometheusClient(cfg)

    def sites_of(c: PromConfig) -> list:
        return [(labels, v) for labels, v in client.vector(
            f"count by ({c.site_label}) (last_over_time({c.selector()}[{c.days}d]))", now)
            if c.wants(labels.get(c.site_label))]

    found = sites_of(cfg)
    if not found and cfg.site is not None:  # a mistyped --site: the fleet's names, the nearest
        # first (it said "are the agents scraped?" of a fleet that had them, a trial)
        others = sorted(name_from_shown(str(labels.get(cfg.site_label, "")))
                        for labels, _ in sites_of(replace(cfg, site=None)))
        if others:
            return f"Prometheus at {cfg.url}: " + no_site(
                name_from_shown(cfg.site), others, "trafficwatch counts --prometheus URL")
    if not found:
        days = "day" if cfg.days == 1 else f"{cfg.days} days"
        return (f"Prometheus at {cfg.url} has no {cfg.selector()} over the last {days}: "
                "are the agents scraped (and --site-label, --match right)?")
    names = sorted(str(labels.get(cfg.site_label, "")) for labels, _ in found)
    shown = ", ".join(safe_name(name_from_shown(n)) for n in names[:3]) + (
        f" and {len(names) - 3} more" if len(names) > 3 else "")
    nxt = time.strftime("%H:00 UTC", time.gmtime((int(now) // HOUR + 1) * HOUR))
    return (f"Prometheus at {cfg.url} has the agents' counters for {shown}, but no whole hour "
            "of them yet: the hour an agent starts in is a gap (its counter began inside it), "
            f"so counts begin with the hour from {nxt}")


def silent_agents(cfg: PromConfig, now: float,
                  client: PrometheusClient | None = None) -> tuple[int, list[str]]:
    """(the agents whose counters Prometheus had in the hour before `now`, the names of those
    it has no sample of at `now`). An agent is a target (instance, or job where relabelling
    left no instance); a target that fails a scrape has its series marked stale at once, so
    the hour in progress drops by its requests at the next scrape: a trial's killed agent read
    as a fall in traffic, and nothing on the screen said an agent was down."""
    client = client or PrometheusClient(cfg)
    sel = cfg.selector()

    def agents(query: str) -> set[tuple[str, str]]:
        return {(str(labels.get("instance", "")), str(labels.get("job", "")))
                for labels, _ in client.vector(query, now)}

    seen = agents(f"count by (instance, job) (last_over_time({sel}[1h]))")
    down = seen - agents(f"count by (instance, job) ({sel})")
    return len(seen), [safe_name(instance or job or "?") for instance, job in sorted(down)]
