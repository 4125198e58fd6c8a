"""Forecast benchmark: rolling-origin backtest of the LSTM against baselines, and timings.

    .venv/bin/python bench/forecast.py [--no-statsforecast] [--model models/default.pt]

Series: ../shared/data/series/worldcup98_hourly.csv cut into non-overlapping 7-day evaluation
blocks after the default model's training cutoff (1998-06-01), so no scored hour was trained on.
All blocks come from ONE site (the World Cup 98 web site): treat the average as one site's score.
Plus the hourly series of sample_logs/ (synthetic demo logs) when present.
Each block: 7 daily origins, 24 h ahead; every model sees only hours before its origin; the
fine-tuned LSTM is tuned once per block on the 8 weeks before the block's first origin.
Timings (CPU): fine-tuning on 8 weeks, one forecast with gate internals, against reference commands
run here on the same data (AutoETS fit+forecast; a plain forecast; seasonal naive).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SERIES_DIR = REPO.parent / "shared" / "data" / "series"
CUTOFF = pd.Timestamp("1998-06-01", tz="UTC")


def blocks() -> list[tuple[str, pd.Series]]:
    """(name, series ending at the block's end) for each evaluation block."""
    from trafficwatch.series import load_hourly, read_counts_csv

    out = []
    wc_path = SERIES_DIR / "worldcup98_hourly.csv"
    if wc_path.is_file():
        wc = read_counts_csv(str(wc_path))
        end = CUTOFF + pd.Timedelta(days=7)
        while end <= wc.index[-1] + pd.Timedelta(hours=1):
            s = wc[wc.index < end]
            out.append((f"worldcup98 to {end:%m-%d}", s))
            end += pd.Timedelta(days=7)
    sample = REPO / "sample_logs"
    if sample.is_dir() and any(p.name != ".keep" for p in sample.iterdir()):
        try:
            out.append(("sample_logs", load_hourly([str(sample)])))
        except (ValueError, ImportError, OSError) as exc:
            print(f"sample_logs skipped: {exc}", file=sys.stderr)
    return out


def run_backtests(model_path: str | None, use_sf: bool, days: int, horizon: int) -> pd.DataFrame:
    """Summary rows (block, model, mase, smape, coverage) for every block and model."""
    from trafficwatch.model.baselines import baseline_models
    from trafficwatch.model.evaluate import backtest, summarize
    from trafficwatch.model.forecaster import Forecaster

    default = Forecaster.load(model_path)
    rows = []
    for name, s in blocks():
        first_origin = len(s) - horizon - 24 * (days - 1)
        history = s.iloc[max(0, first_origin - 8 * 168):first_origin]
        tuned = default.fine_tune(history)
        models = {"lstm": default.as_function(), "lstm+ft": tuned.as_function(),
                  **baseline_models(use_sf)}
        t0 = time.perf_counter()
        summ = summarize(backtest(s, models, days=days, horizon=horizon))
        for model, r in summ.iterrows():
            rows.append({"block": name, "model": model, **r.to_dict()})
        print(f"{name}: {len(s)} h, backtest {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return pd.DataFrame(rows)


def report(df: pd.DataFrame) -> None:
    """Per-block MASE, the mean table, and the targets checked."""
    mase = df.pivot(index="block", columns="model", values="mase")
    print("\nMASE per block (24 h ahead, 7 daily origins):")
    print(mase.round(3).to_string())
    mean = df.groupby("model")[["mase", "smape", "coverage"]].mean()
    mean["coverage"] *= 100
    print("\nmean over blocks (MASE, sMAPE %, p10-p90 coverage %):")
    print(mean.sort_values("mase").round(3).to_string())
    for lstm in ("lstm", "lstm+ft"):
        if lstm not in mean.index:
            continue
        base = mean.drop(index=[m for m in ("lstm", "lstm+ft") if m in mean.index])
        beats = bool((mean.loc[lstm, "mase"] < base["mase"]).all())
        worst = float((mase[lstm] / mase["naive24"]).max())
        cov = float(mean.loc[lstm, "coverage"])
        print(f"{lstm}: lower mean MASE than every baseline: {beats}; worst block vs naive24: "
              f"{worst:.2f}x; coverage {cov:.1f}% (target 70-90)")


def timings(model_path: str | None) -> None:
    """Fine-tune on 8 weeks and one forecast with gates, each beside a reference on that data."""
    import torch

    from trafficwatch.model.baselines import naive24, statsforecast_models
    from trafficwatch.model.forecaster import Forecaster
    from trafficwatch.series import read_counts_csv

    fc = Forecaster.load(model_path)
    s = read_counts_csv(str(SERIES_DIR / "worldcup98_hourly.csv"))
    eight = s.iloc[:8 * 168]  # the first 8 weeks (1998-04-30 .. 06-25)
    print(f"\ntimings on CPU ({torch.get_num_threads()} torch threads available; the model uses 1, "
          f"see TrainConfig.threads), median of runs")
    t0 = time.perf_counter()
    tuned = fc.fine_tune(eight)
    ft = time.perf_counter() - t0
    res = tuned.train_result  # type: ignore[attr-defined]
    print(f"fine-tune on 8 weeks ({len(eight)} h, {res.epochs_run} epochs, {res.n_train} windows): "
          f"{ft:.1f} s (target < 30 s on 2 cores)")
    from trafficwatch.model.train import FINE_TUNE, TrainConfig

    full = TrainConfig(**{**FINE_TUNE.__dict__, "patience": FINE_TUNE.epochs})  # no early stop
    t0 = time.perf_counter()
    fc.fine_tune(eight, full)
    took = time.perf_counter() - t0
    print(f"  same, all {full.epochs} epochs (early stopping off): {took:.1f} s")
    sf = statsforecast_models()
    if sf:
        t0 = time.perf_counter()
        sf["AutoETS"](eight, 24)
        took = time.perf_counter() - t0
        print(f"  reference: AutoETS fit+forecast on the same 8 weeks: {took:.1f} s")

    def median_ms(fn, n: int = 30) -> float:
        fn()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1000 * statistics.median(times)

    gates_ms = median_ms(lambda: fc.forecast_with_gates(eight, 24))
    print(f"one forecast with gate internals: {gates_ms:.1f}"
          f" ms (target < 20 ms)")
    plain_ms = median_ms(lambda: fc.forecast(eight, 24))
    print(f"  reference: forecast without gates (nn.LSTM): {plain_ms:.1f}"
          f" ms; seasonal naive 24 h: {median_ms(lambda: naive24(eight, 24)):.2f} ms")


def main() -> int:
    """Run the backtests and the timings; print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (default: the shipped default)")
    ap.add_argument("--no-statsforecast", action="store_true")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--horizon", type=int, default=24)
    ap.add_argument("--skip-timings", action="store_true")
    ap.add_argument("--skip-backtest", action="store_true")
    args = ap.parse_args()
    if not (SERIES_DIR / "worldcup98_hourly.csv").is_file():
        print(f"no real series at {SERIES_DIR}", file=sys.stderr)
        return 2
    np.seterr(all="ignore")
    if not args.skip_backtest:
        report(run_backtests(args.model, not args.no_statsforecast, args.days, args.horizon))
    if not args.skip_timings:
        timings(args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
