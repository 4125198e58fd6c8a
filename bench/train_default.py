"""Reproduce models/default.pt: train the LSTM on a seeded synthetic corpus plus real traffic.

    .venv/bin/python bench/train_default.py --out models/default.pt

Synthetic corpus (seeded, `--n-synthetic` series of 6-12 weeks): levels from 1 to 100,000 visits an
hour (log-uniform); daily shapes from one to three harmonics or a two-peak office day, in a random
time zone (-12..+12 h); weekend factors 0.3-1.3 on the calendar's Saturday and Sunday (local time);
linear trends, level shifts and a day-to-day random walk of the level; multiplicative AR(1) noise
and Poisson counting noise; spikes of 2-20x lasting hours; surges of 1.3-5x lasting 2-20 days;
events at a set hour on some days; missing stretches (NaN) of 1-72 hours.
Real data: the World Cup 98 hourly series from ../shared/data/series, only the hours before
`--real-cutoff` (1998-06-01), so bench/forecast.py can judge the model on later, unseen hours;
plus the series of every file found under `--extra` (e.g. sample_logs/), when given.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED_SERIES = REPO.parent / "shared" / "data" / "series"


def synthetic_series(rng: np.random.Generator, start: pd.Timestamp, hours: int) -> pd.Series:
    """One varied hourly traffic series with gaps (NaN), seeded by `rng`."""
    t = np.arange(hours)
    offset = int(rng.integers(-12, 13))  # the site's time zone: its day and week follow local time
    local = int(start.value // 3_600_000_000_000) + offset + t  # local hours since 1970-01-01
    hod = local % 24
    level = np.exp(rng.uniform(np.log(1.0), np.log(1e5)))
    kind = rng.choice(["harmonic", "office", "flat"], p=[0.6, 0.3, 0.1])
    if kind == "harmonic":
        shape = np.zeros(hours)
        for k in range(1, rng.integers(2, 5)):
            amp = rng.uniform(0.1, 1.0) / k
            shape += amp * np.cos(2 * np.pi * k * (hod - rng.uniform(0, 24)) / 24)
    elif kind == "office":
        peaks = rng.uniform(8, 12), rng.uniform(13, 20)
        shape = sum(np.exp(-0.5 * ((hod - p) / rng.uniform(1.0, 3.0)) ** 2) for p in peaks)
    else:
        shape = 0.1 * np.cos(2 * np.pi * (hod - rng.uniform(0, 24)) / 24)
    depth = rng.uniform(0.2, 2.5)  # log-range between night and day
    daily = depth * (shape - shape.min()) / max(np.ptp(shape), 1e-9)
    dow = (local // 24 + 3) % 7  # Monday = 0: weekends fall on the calendar's Saturday and Sunday
    week_effect = np.log(rng.uniform(0.3, 1.3)) * (dow >= 5) + rng.normal(0, 0.08, 7)[dow]
    trend = rng.uniform(-0.7, 1.0) * t / hours
    if rng.random() < 0.3:  # a level shift (new campaign, lost link)
        trend += rng.normal(0, 0.5) * (t > rng.integers(hours // 4, hours))
    if rng.random() < 0.3:  # a surge lasting days (a campaign, a season, a tournament)
        at, length = rng.integers(0, hours), rng.integers(48, 480)
        ramp = rng.integers(6, 72)
        up = np.clip((t - at) / ramp, 0, 1) * np.clip((at + length - t) / ramp, 0, 1)
        trend += rng.uniform(0.3, 1.6) * up
    if rng.random() < 0.25:  # events on some days at a set hour (a match, a newsletter, a cron job)
        day = t // 24
        on = rng.random(hours // 24 + 1) < rng.uniform(0.1, 0.4)
        hour0, width = rng.integers(0, 24), rng.uniform(1.0, 3.0)
        size = np.log(rng.uniform(1.5, 5.0))
        trend += size * on[day] * np.exp(-0.5 * ((hod - hour0) / width) ** 2)
    days = hours // 24 + 2  # a level that wanders from day to day (real traffic drifts)
    walk = np.cumsum(rng.normal(0, rng.uniform(0.0, 0.25), days))
    trend += np.interp(t / 24, np.arange(days), walk - walk[0])
    ar = np.zeros(hours)
    sigma, phi = rng.uniform(0.02, 0.3), rng.uniform(0.0, 0.9)
    eps = rng.normal(0, sigma, hours)
    for i in range(1, hours):
        ar[i] = phi * ar[i - 1] + eps[i]
    logm = np.log(level) + daily - daily.mean() + week_effect + trend + ar
    for _ in range(rng.poisson(hours / 500)):  # spikes: a link on a big site, a bot storm
        at, size, decay = rng.integers(0, hours), np.log(rng.uniform(2, 20)), rng.uniform(0.3, 0.9)
        span = np.arange(at, min(at + 12, hours))
        logm[span] += size * decay ** (span - at)
    y = rng.poisson(np.exp(np.clip(logm, -10, 16))).astype(float)
    for _ in range(rng.poisson(hours / 600)):  # missing stretches: no log covers these hours
        at = rng.integers(0, hours)
        y[at:at + rng.integers(1, 73)] = np.nan
    idx = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return pd.Series(y, index=idx, name="count")


def synthetic_corpus(seed: int, n: int) -> list[pd.Series]:
    """`n` seeded synthetic series of 6 to 12 weeks, starting on varied dates."""
    rng = np.random.default_rng(seed)
    base = pd.Timestamp("2023-01-02")
    return [synthetic_series(rng, base + pd.Timedelta(hours=int(rng.integers(0, 24 * 365))),
                             int(rng.integers(6, 13)) * 168) for _ in range(n)]


def real_series(cutoff: str, extra: list[str]) -> tuple[list[pd.Series], list[str]]:
    """The real series used for training, each cut before `cutoff`, and a description of each."""
    from trafficwatch.series import load_hourly, read_counts_csv

    out, names = [], []
    wc = SHARED_SERIES / "worldcup98_hourly.csv"
    if wc.is_file():
        s = read_counts_csv(str(wc))
        s = s[s.index < pd.Timestamp(cutoff, tz="UTC")]
        out.append(s)
        names.append(f"worldcup98_hourly.csv before {cutoff} ({len(s)} h)")
    for path in extra:
        s = load_hourly([path])
        out.append(s)
        names.append(f"{path} ({len(s)} h)")
    return out, names


def main() -> int:
    """Train and save the default model; print the settings and result as JSON on stdout."""
    from trafficwatch.model.checkpoint import save_checkpoint
    from trafficwatch.model.lstm import LSTMConfig
    from trafficwatch.model.train import TrainConfig, train_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "models" / "default.pt"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-synthetic", type=int, default=240)
    ap.add_argument("--real-cutoff", default="1998-06-01")
    ap.add_argument("--real-weight", type=int, default=8, help="copies of each real series")
    ap.add_argument("--extra", nargs="*", default=[], help="more logs/CSVs, one series each")
    ap.add_argument("--epochs", type=int, default=35)
    ap.add_argument("--horizon", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--max-windows", type=int, default=16000)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    synth = synthetic_corpus(args.seed, args.n_synthetic)
    real, real_names = real_series(args.real_cutoff, args.extra)
    corpus = synth + real * args.real_weight
    cfg = LSTMConfig(horizon=args.horizon, hidden=args.hidden)
    tcfg = TrainConfig(epochs=args.epochs, seed=args.seed, device=args.device, stride=3,
                       max_windows=args.max_windows, patience=5, batch_size=256)
    started = time.time()
    model, res = train_model(corpus, cfg, tcfg,
                             on_progress=lambda p: print(p.line(), file=sys.stderr, flush=True))
    data = {"synthetic_series": args.n_synthetic, "synthetic_seed": args.seed,
            "synthetic_hours": int(sum(len(s) for s in synth)), "real": real_names,
            "real_weight": args.real_weight, "trained": time.strftime("%Y-%m-%d"),
            "real_range": [[str(s.index[0]), str(s.index[-1])] for s in real],
            "command": "python bench/train_default.py " + " ".join(sys.argv[1:])}
    metrics = {"val_pinball": res.best_val, "epochs": res.epochs_run,
               "seconds": round(res.seconds, 1),
               "train_windows": res.n_train, "val_windows": res.n_val}
    save_checkpoint(args.out, model, data=data, metrics=metrics)
    print(json.dumps({"out": args.out, "wall_s": round(time.time() - started, 1), "data": data,
                      "metrics": metrics, "config": cfg.to_dict()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
