"""Cost of every site's forecast for /metrics (the engine's model loop, numpy model, no torch).

    python bench/site_forecasts.py [--sites 500] [--days 60]

Puts --sites synthetic sites (hourly requests with a daily cycle, --days of history each) into
an Engine's series and runs Engine.forecast_sites step by step as the model loop does (each step
spends at most STEP_S seconds, then the loop looks at the screen again): the time per site, per
step and for the whole hourly pass. Reference in the same run: the screen's forecast of one site
(engine/predict.py predict(), seven past days judged), on the same series.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.predict import predict
from trafficwatch.engine.site_forecasts import STEP_S
from trafficwatch.logs.records import Records

T0 = 1_767_571_200  # 2026-01-05 00:00 UTC


def records(days: int, level: float, rng) -> Records:
    hours = np.arange(days * 24)
    per_hour = rng.poisson(level * (1 + 0.8 * np.sin(2 * np.pi * (hours % 24 - 6) / 24)))
    ts = np.repeat(T0 + hours * 3600, per_hour).astype(np.int64) + 60
    n = len(ts)
    return Records(ts=ts, utc_offset=np.zeros(n, np.int32), status=np.full(n, 200, np.int16),
                   size=np.zeros(n, np.int64), is_static=np.zeros(n, bool),
                   is_bot=np.zeros(n, bool), client=np.zeros(n, np.uint64),
                   visitor=np.zeros(n, np.uint64), vhost=np.full(n, -1, np.int32))


class Still:
    """A source whose clock stands half way into the hour after the data."""

    def __init__(self, days: int) -> None:
        self.clock = T0 + days * 24 * 3600 + 1800

    def step(self, dt: float) -> None:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=500)
    ap.add_argument("--days", type=int, default=60)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    e = Engine(EngineConfig(paths=[], replay=True, fine_tune=False), lambda s: None)
    for i in range(args.sites):
        e.series.add(f"site{i:04d}.example", records(args.days, rng.uniform(5, 500), rng))
    e.source = Still(args.days)
    from trafficwatch.engine import tuning

    e.forecaster, status = tuning.load_default(None)  # what the model loop loads
    if e.forecaster is None:
        print(status)
        return 1
    steps, t0 = [], time.perf_counter()
    per_site: list[float] = []
    more = True
    while more:
        s0 = time.perf_counter()
        more = e.forecast_sites()
        steps.append(time.perf_counter() - s0)
        per_site += e.site_forecast_s
    total = time.perf_counter() - t0
    site = "site0000.example"
    s = e.series.series(site, "hits", now=e.now())
    partial = e.series.partial_hour(site, now=e.now())
    predict(s, e.forecaster, partial=partial)  # warm
    ref = []
    for _ in range(5):
        r0 = time.perf_counter()
        predict(s, e.forecaster, partial=partial)
        ref.append(time.perf_counter() - r0)
    print(f"sites={args.sites} days={args.days} forecasts={len(e.site_forecasts)} "
          f"torch imported={'torch' in sys.modules}")
    print(f"per site: median {1e3 * statistics.median(per_site):.1f} ms, "
          f"p95 {1e3 * float(np.quantile(per_site, 0.95)):.1f} ms")
    print(f"steps: {len(steps)} (budget {STEP_S:.2f} s), longest {1e3 * max(steps):.0f} ms; "
          f"whole pass {total:.1f} s per hour")
    print(f"reference: the screen's forecast of one site (predict, 7 days judged): "
          f"{1e3 * statistics.median(ref):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
