"""What the app sees, as Prometheus samples: requests per site and status class, and every site's
forecast and anomaly verdict (whatever site, metric or filter is on screen)."""
from __future__ import annotations

from trafficwatch.engine.metrics import Sample
from trafficwatch.filters import STATUS_LABELS as STATUS
from trafficwatch.hours import HOUR
from trafficwatch.logs.detect import said_apart

# gauge name -> SiteForecast field; every site with enough history has all of them
FORECAST_GAUGES = (
    ("trafficwatch_yhat", "p50"),
    ("trafficwatch_yhat_lower", "lower"),
    ("trafficwatch_yhat_upper", "upper"),
    ("trafficwatch_anomaly", "anomaly"),
    ("trafficwatch_forecast_hour_timestamp_seconds", "hour"),
)
# label q (not `quantile`, which the exposition format keeps for summaries: promtool and
# Prometheus's parsers reject it on a gauge) -> SiteForecast field
QUANTILES = (("0.1", "p10"), ("0.5", "p50"), ("0.9", "p90"))


def samples_for(engine) -> list[Sample]:
    """Samples from the engine's series and its per-site forecasts (empty before it starts)."""
    if engine is None:
        return []
    out: list[Sample] = []
    # on the fleet (--prometheus) the requests are the agents' own counters, read back: served
    # again under their name, a scrape of the app would add them to the fleet's sums twice
    fleet = getattr(engine.cfg, "prometheus", None) is not None
    with engine.lock:
        sites = engine.series.sites()
        until = int(engine.now()) // HOUR  # a line dated ahead counts when its hour comes
        for site in sites if not fleet else ():
            per_class = engine.series.cell_totals(site, until).reshape(len(STATUS), -1).sum(1)
            out += [Sample("trafficwatch_requests_total", (("site", site), ("status", label)),
                           float(n))
                    for label, n in zip(STATUS, per_class.tolist()) if label != "other"]
        # a forecast for an hour gone by is none for the hour being counted now: a site whose
        # hours stopped (its agents down, its log gone) served one hours old (a fleet trial)
        current = until * HOUR
        forecasts = {k: f for k, f in engine.site_forecasts.items() if f.hour >= current}
    for name, attr in FORECAST_GAUGES:
        out += [Sample(name, (("site", site),), float(getattr(forecasts[site], attr)))
                for site in sites if site in forecasts]
    out += [Sample("trafficwatch_forecast", (("site", site), ("q", q)),
                   float(getattr(forecasts[site], attr)))
            for site in sites if site in forecasts for q, attr in QUANTILES]
    snap = engine.latest
    if snap is not None and not fleet:
        apart = said_apart(snap.ingest.malformed)
        out.append(Sample("trafficwatch_malformed_lines_total", (),
                          float(sum(snap.ingest.malformed.values()) - apart)))
        out.append(Sample("trafficwatch_other_lines_total", (), float(apart)))
    return out
