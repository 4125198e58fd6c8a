"""Reproduce models/default.pt: a global LSTM trained on 77 real hourly series (+ synthetic ones).

    .venv/bin/python bench/train_default.py --out models/default.pt
    .venv/bin/python bench/train_default.py --holdout-fold 0 --out bench/out/fold0.pt

Real data: every series of ../shared/data/series (trafficwatch/model/corpus.py: the corpus of
pedestrian counters, bike hire, road traffic, taxis, ISP flows, web requests and tweet volumes,
plus WorldCup98), each contributing at most `--per-series` training windows so the years-long
counters do not drown the weeks-long web series. `--holdout-fold K` leaves out every series of
fold K (of `--folds`) for bench/forecast.py to judge on series the model never saw.
Synthetic series (`--n-synthetic`, seeded) add the shapes the corpus lacks: sparse counts of 0-3
an hour, nearly flat series, level shifts, spikes, long gaps:
levels from 1 to 100,000 visits an hour (log-uniform); daily shapes from one to three harmonics or
a two-peak office day, in a random time zone (-12..+12 h); weekend factors 0.3-1.3; trends, level
shifts, a random walk of the level; AR(1) and Poisson noise; spikes and surges; missing stretches.
A fifth of the training windows, real and synthetic, are tilted by a steady trend of up to 4 % a
day either way (`--trend`, features.TREND_MAX): the corpus's series hold their level for months,
while sites and benchmark series grow and fade (bench/forecast.py --trend 0.03 measures it).
The sample_logs/ are never trained on: they are kept for evaluation.
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


def real_series(holdout: int | None, folds: int) -> tuple[list[pd.Series], list[str]]:
    """The corpus series used for training (all but fold `holdout`) and their names."""
    from trafficwatch.model.corpus import fold_of, load_corpus

    corpus = load_corpus()
    names = [n for n in corpus if holdout is None or fold_of(n, folds) != holdout]
    return [corpus[n] for n in names], names


def main() -> int:
    """Train and save the model; print the settings and result as JSON on stdout."""
    from trafficwatch.model.checkpoint import save_checkpoint
    from trafficwatch.model.lstm import LSTMConfig
    from trafficwatch.model.seen import SEEN_KEY, day_keys, encode
    from trafficwatch.model.train import TrainConfig, train_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "models" / "default.pt"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-synthetic", type=int, default=80)
    ap.add_argument("--holdout-fold", type=int, default=None)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--per-series", type=int, default=5000, help="training windows per series")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--horizon", type=int, default=168)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--max-windows", type=int, default=64000, help="windows an epoch")
    ap.add_argument("--patience", type=int, default=6,
                    help="stop after this many epochs without a better validation loss")
    ap.add_argument("--trend", type=float, default=0.2,
                    help="share of training windows tilted by a steady trend (0 before 2026-12-03)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    synth = synthetic_corpus(args.seed, args.n_synthetic)
    real, real_names = real_series(args.holdout_fold, args.folds)
    corpus = real + synth
    cfg = LSTMConfig(horizon=args.horizon, hidden=args.hidden)
    tcfg = TrainConfig(epochs=args.epochs, seed=args.seed, device=args.device, stride=4,
                       max_per_series=args.per_series, max_windows=args.max_windows,
                       patience=args.patience, batch_size=256, augment=0.2, val_hours=336,
                       trend=args.trend)
    started = time.time()
    model, res = train_model(corpus, cfg, tcfg,
                             on_progress=lambda p: print(p.line(), file=sys.stderr, flush=True))
    data = {"real_series": real_names, "real_hours": int(sum(len(s) for s in real)),
            "holdout_fold": args.holdout_fold, "folds": args.folds,
            "synthetic_series": args.n_synthetic, "synthetic_seed": args.seed,
            "synthetic_hours": int(sum(len(s) for s in synth)),
            "trained": time.strftime("%Y-%m-%d"),
            "command": "python bench/train_default.py " + " ".join(sys.argv[1:]),
            SEEN_KEY: encode(np.concatenate([day_keys(s.to_numpy()) for s in real]))}
    metrics = {"val_pinball": res.best_val, "epochs": res.epochs_run,
               "seconds": round(res.seconds, 1), "device": model_device(args.device),
               "train_windows": res.n_train, "val_windows": res.n_val}
    save_checkpoint(args.out, model, data=data, metrics=metrics)
    print(json.dumps({"out": args.out, "wall_s": round(time.time() - started, 1),
                      "metrics": metrics, "config": cfg.to_dict()}, indent=1))
    return 0


def model_device(name: str) -> str:
    """The device the run trained on, for the model card."""
    from trafficwatch.model.train import select_device

    return select_device(name).type


if __name__ == "__main__":
    sys.exit(main())
