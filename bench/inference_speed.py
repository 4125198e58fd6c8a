"""forecast_with_gates with the shipped model: numpy path (default.npz) vs torch path (default.pt).

    PYTHONPATH=$PWD python bench/inference_speed.py [--repeats 30] [--horizon 24]

The series is the bundled sample logs, all sites summed. Prints the median and quartiles of each
path, and the largest difference between their forecasts.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def timed(fn, repeats: int) -> list[float]:
    """Wall seconds of `repeats` calls after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    """Time both paths and compare their forecasts."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--horizon", type=int, default=24)
    a = ap.parse_args()
    from trafficwatch.counting.load import load_hourly
    from trafficwatch.model.checkpoint import load_checkpoint, load_model
    from trafficwatch.model.forecaster import Forecaster
    from trafficwatch.resources import default_model_path, sample_logs_dir

    series = load_hourly([str(sample_logs_dir())])
    fast = Forecaster(load_model(default_model_path()).model)
    slow = Forecaster(load_checkpoint(default_model_path()).model)
    results = {}
    for name, fc in (("numpy", fast), ("torch", slow)):
        t = timed(lambda fc=fc: fc.forecast_with_gates(series, a.horizon), a.repeats)
        q = statistics.quantiles(t, n=4)
        results[name] = fc.forecast_with_gates(series, a.horizon)[0]
        print(f"{name}: forecast_with_gates {a.horizon} h, median {statistics.median(t) * 1e3:.1f} "
              f"ms (quartiles {q[0] * 1e3:.1f}-{q[2] * 1e3:.1f} ms) over {a.repeats} runs")
    d = max(float(np.abs(getattr(results["numpy"], k) - getattr(results["torch"], k)).max())
            for k in ("p10", "p50", "p90"))
    print(f"largest forecast difference: {d:.2e} visits/h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
