"""What the app sees, as Prometheus samples: requests per site and status class, forecast, anomaly."""
from __future__ import annotations

import numpy as np

from trafficwatch.engine.metrics import Sample


def samples_for(engine) -> list[Sample]:
    """Samples from the engine's series and latest snapshot (empty before it starts)."""
    if engine is None:
        return []
    out: list[Sample] = []
    with engine.lock:
        for site in engine.series.sites():
            for cls in range(1, 6):
                n = engine.series.series(site, "hits", status_classes={cls}).sum()
                out.append(Sample("trafficwatch_requests_total",
                                  (("site", site), ("status", f"{cls}xx")), float(n)))
    snap = engine.latest
    if snap is not None and snap.forecast is not None and len(snap.forecast.hours):
        label = (("site", snap.site or "all"),)
        fv = snap.forecast
        out += [Sample("trafficwatch_yhat", label, float(fv.p50[0])),
                Sample("trafficwatch_yhat_lower", label, float(fv.p10[0])),
                Sample("trafficwatch_yhat_upper", label, float(fv.p90[0]))]
        active = [a for a in snap.anomalies if a.active]
        out.append(Sample("trafficwatch_anomaly", label,
                          float(np.sign(active[0].direction)) if active else 0.0))
    if snap is not None:
        out.append(Sample("trafficwatch_malformed_lines_total", (),
                          float(sum(snap.ingest.malformed.values()))))
    return out


