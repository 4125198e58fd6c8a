"""The forecast on generated series of the kinds a public hourly benchmark holds (M4's hourly
set: 700-960 hours each, 48 hours ahead, dates replaced by hour numbers), beside the seasonal
naives scored in the same run.

    python bench/families.py [--seeds 7 123 99] [--horizon 48] [--days 7]

Fifteen families, 42 series a seed (about three of each): web-like Poisson counts with and
without a weekly rhythm, low counts, trends up and down (multiplicative, additive, exponential),
electricity-like loads with two daily peaks, smooth and non-integer series, a small variation
on a high level (24.7-29.3), a level that wanders (a random walk), a step change, and stretches
where one value was carried forward for 1-5 days. Each seed's series go into one CSV (unique_id,
ds, y; ds = 1, 2, 3...) scored by `trafficwatch eval` as a user would: daily origins over the
last --days days, MASE scaled by the in-sample 24 h seasonal naive, p10-p90 coverage.
Printed: per family the mean MASE of the forecast as shown, naive 24 h and naive 168 h, the
coverage, and the series more than 1.05x the better seasonal naive. The families are made up:
a check that nothing of a kind breaks, not a figure to tune to.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd


def _profiles(rng):
    def web(t, phase):
        h = (t + phase) % 24
        return 0.35 + 0.65 * np.clip(np.sin(np.pi * (h - 6) / 18), 0, None) ** 1.5

    def elec(t, phase):
        h = (t + phase) % 24
        return (0.7 + 0.18 * np.exp(-((h - 8.5) ** 2) / 4) + 0.25 * np.exp(-((h - 19) ** 2) / 5)
                - 0.08 * np.exp(-((h - 3.5) ** 2) / 6))

    def dow(t, phase, weekend):
        return np.where(((t // 24) + phase) % 7 >= 5, weekend, 1.0)

    def ar1(n, phi, sd):
        e, x = rng.normal(0, sd, n), np.zeros(n)
        for i in range(1, n):
            x[i] = phi * x[i - 1] + e[i]
        return x

    return web, elec, dow, ar1


def families(rng) -> dict:
    """name -> f(n): one series of n hours of that family, drawn from `rng`."""
    web, elec, dow, ar1 = _profiles(rng)
    u, k = rng.uniform, rng.integers

    def noisy(n, level, sd):
        t = np.arange(n)
        return t, level * web(t, k(24)) * (1 + rng.normal(0, sd, n))

    def flat_stretches(n):
        y = np.round(noisy(n, u(50, 2000), 0.05)[1])
        for _ in range(k(2, 5)):
            s, ln = k(0, n - 250), k(24, 120)
            y[s:s + ln] = y[s]
        return y

    def step_change(n):
        t = np.arange(n)
        at = n - 48 - k(60, 300)
        lvl = np.where(t >= at, rng.choice([0.4, 0.5, 1.8, 2.5]), 1.0) * u(100, 3000)
        return np.round(lvl * web(t, k(24)) * (1 + rng.normal(0, 0.04, n)))

    def trend(n, lo, hi, level):
        t = np.arange(n)
        lvl = level * (1 + (u(lo, hi) - 1) * t / n)
        return np.round(lvl * web(t, k(24)) * (1 + rng.normal(0, 0.04, n)))

    def additive_trend(n):
        t, level = np.arange(n), u(1000, 20000)
        slope = level * u(0.3, 0.7) / n * rng.choice([-1, 1])
        amp = level * u(0.05, 0.15)
        return np.round(level + slope * t + amp * np.sin(2 * np.pi * (t + k(24)) / 24)
                        + ar1(n, 0.8, amp * 0.05), 1)

    def smooth(n):
        t, level = np.arange(n), u(50, 20000)
        a = level * u(0.1, 0.5)
        y = level + a * np.sin(2 * np.pi * (t + k(24)) / 24) + 0.3 * a * np.sin(4 * np.pi * t / 24)
        return np.round(y + rng.normal(0, a * 0.005, n), 2)

    def random_walk(n):
        t = np.arange(n)
        lvl = u(200, 5000) * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        return np.round(lvl * (1 + 0.3 * np.sin(2 * np.pi * (t + k(24)) / 24)))

    return {
        "web_daily": lambda n: rng.poisson(u(30, 800) * web(np.arange(n), k(24))
                                           * np.exp(ar1(n, 0.97, 0.03))).astype(float),
        "weekly": lambda n: rng.poisson(u(500, 5000) * web(np.arange(n), k(24))
                                        * dow(np.arange(n), k(7), u(0.3, 0.7))).astype(float),
        "trend_up": lambda n: trend(n, 1.5, 3.0, u(100, 3000)),
        "trend_down": lambda n: trend(n, 0.3, 0.6, u(200, 3000)),
        "additive_trend": additive_trend,
        "elec_load": lambda n: np.round(u(5000, 40000) * elec(np.arange(n), k(24))
                                        * dow(np.arange(n), k(7), u(0.85, 0.95))
                                        * np.exp(ar1(n, 0.98, 0.008)), rng.choice([0, 1])),
        "smooth": smooth,
        "tiny_var_high": lambda n: np.round(
            u(20, 40) + u(1.0, 2.5) * np.sin(2 * np.pi * (np.arange(n) + k(24)) / 24)
            + ar1(n, 0.95, 0.08), 1),
        "random_walk": random_walk,
        "flat_stretches": flat_stretches,
        "low_count": lambda n: rng.poisson(u(1, 8) * web(np.arange(n), k(24)) ** 2
                                           ).astype(float),
        "step_change": step_change,
        "mult_growth": lambda n: np.round(
            u(100, 2000) * np.exp(np.log(u(2, 4)) / n * np.arange(n)) * web(np.arange(n), k(24))
            * (1 + rng.normal(0, 0.03, n)), 1),
        "nonint_small": lambda n: np.round(u(0.5, 3) * web(np.arange(n), k(24))
                                           * np.exp(ar1(n, 0.9, 0.05)), 3),
        "weekly_elec_big": lambda n: np.round(
            (level := u(20000, 60000)) * elec(np.arange(n), k(24))
            * dow(np.arange(n), k(7), u(0.6, 0.8)) + ar1(n, 0.9, level * 0.003)),
    }


def write_seed(seed: int, path: Path, count: int = 42) -> None:
    """`count` series of the families in turn, 700-960 hours each, as one CSV."""
    rng = np.random.default_rng(seed)
    fams = families(rng)
    names = list(fams)
    parts = []
    for i in range(count):
        name = names[i % len(names)]
        n = int(rng.integers(700, 961))
        parts.append(pd.DataFrame({"unique_id": f"{name}_{i:02d}", "ds": np.arange(1, n + 1),
                                   "y": fams[name](n)}))
    pd.concat(parts).to_csv(path, index=False)


def score(path: Path, horizon: int, days: int) -> dict:
    cmd = [sys.executable, "-m", "trafficwatch", "eval", str(path), "--horizon", str(horizon),
           "--days", str(days), "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         cwd=Path(__file__).resolve().parents[1])
    if not out.stdout.strip():
        raise SystemExit(f"eval failed ({out.returncode}): {out.stderr[-500:]}")
    return json.loads(out.stdout)["series"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 123, 99])
    ap.add_argument("--horizon", type=int, default=48)
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"seed{s}.csv" for s in args.seeds]
        for s, p in zip(args.seeds, paths):
            write_seed(s, p)
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda p: score(p, args.horizon, args.days), paths))
    rows = []
    for seed, res in zip(args.seeds, results):
        for sid, got in res.items():
            m = got["models"]
            shown = next(k for k in m if k.startswith("lstm"))
            rows.append({"seed": seed, "series": sid, "family": re.sub(r"_\d+$", "", sid),
                         "forecast": m[shown]["mase"], "naive24": m["naive24"]["mase"],
                         "naive168": m.get("naive168", {}).get("mase", np.nan),
                         "coverage": m[shown]["coverage"]})
    r = pd.DataFrame(rows)
    r["ratio"] = r.forecast / r[["naive24", "naive168"]].min(axis=1)
    table = r.groupby("family").agg(
        series=("series", "size"), forecast=("forecast", "mean"), naive24=("naive24", "mean"),
        naive168=("naive168", "mean"), coverage=("coverage", "mean"),
        worse=("ratio", lambda x: int((x > 1.05).sum())), worst=("ratio", "max"))
    pd.set_option("display.width", 160)
    print(f"MASE at {args.horizon} h, {args.days} daily origins, seeds {args.seeds} "
          "(worse: series > 1.05x the better seasonal naive; worst: the largest such ratio)")
    print(table.round(3).to_string())
    print(f"all {len(r)} series: forecast {r.forecast.mean():.3f} (median "
          f"{r.forecast.median():.3f}), naive24 {r.naive24.mean():.3f}, naive168 "
          f"{r.naive168.mean():.3f}; coverage {r.coverage.mean():.1%}; worse "
          f"{int((r.ratio > 1.05).sum())}")
    print("worst series:")
    print(r.sort_values("ratio", ascending=False).head(6).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
