"""Forecast benchmark on series the model never trained on: the LSTM against five baselines.

    .venv/bin/python bench/forecast.py [--folds 4] [--no-statsforecast] [--series REGEX]
                                       [--origins 7]
                                       [--days 14] [--models DIR] [--trend 0.03]
                                       [--step 0.5] [--shift-hours 7] [--bursts 2] [--spikes 1]
                                       [--horizon 168] [--thin 20] [--dip 0.5]

Series: every series of ../shared/data/series (76 corpus series + WorldCup98, see
trafficwatch/model/corpus.py), each site of the bundled sample_logs/, and each site of
../shared/data/real_logs with two weeks of hours or more (real web logs, in no training set). The corpus is split into
whole-series folds (`fold_of`, stable); a series of fold k is forecast by `bench/out/fold{k}.pt`,
the model that `bench/train_default.py --holdout-fold k --out bench/out/fold{k}.pt` trained on the
other folds only, so no hour of it was trained on. sample_logs are in no training set and use the
shipped model. A series whose fold model is missing is reported as such (and uses the shipped
model, which has seen it: marked "seen").

Protocol (as `trafficwatch eval`): 7 daily origins ending 48 h before the series' end; every model
sees only the hours before its origin and forecasts 48 h; the first 24 h are the 24 h score.
MASE = mean |y - p50| over the horizon / in-sample MAE of naive 24 h before the origin, averaged
over origins; coverage = share of observed hours inside p10..p90. Statsforecast baselines
(AutoETS, AutoTheta, MSTL; `pip install -e '.[bench]'`) are slow (about 2.5 s an origin), so their
forecasts are cached in bench/out/baselines.pkl.

Trends (`--trend R`): every series, cut to its last 35 days (or --days), is multiplied by
exp(R a day), so it grows (R > 0) or fades steadily, as many sites and benchmark series do while
the corpus mostly holds its level. Per-series figures go to forecast_per_series_{D}d_trend{R}.csv.
A week ahead (`--horizon 168`): the origins end 168 h before the series' end, and 168 h is scored
beside 24 h and 48 h (to forecast_per_series_168h.csv).

Steps (`--step F`): the same cut, multiplied by F from an hour 9 to 20 days before the end
(`--step-days 3 6`: 3 to 6 days, among the origins: the days right after the change).
Bursts (`--bursts N`): the same cut, N bursts a week of 1-3 hours added to every series, each
3-30 times its mean (history and targets alike, as crawlers and attacks come to real sites).
Spikes (`--spikes N`): N runs a week of 2-6 hours multiplied by 3-6 (a newsletter, an event).

Young sites (`--days D`): every series is first cut to its last D days, as a site with D days of
logs sees it (a fresh install; Debian's nginx keeps 14 days). The same protocol then leaves the
model 1 to 2 weeks of history at D = 14, and none of the 4-week memories. Per-series figures go
to bench/out/forecast_per_series_{D}d.csv.
"""
from __future__ import annotations

import argparse
import pickle
import re
import statistics
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
HORIZON = 48
HORIZONS = (24, 48)  # scored; --horizon adds a longer one (and forecasts that far)
DAYS = 7
BASELINES = ("naive24", "naive168", "AutoETS", "AutoTheta", "MSTL")


def eval_series(k: int) -> list[tuple[str, pd.Series, int]]:
    """(name, series, fold) for the corpus (fold by name) and sample_logs' sites (fold -1)."""
    from trafficwatch.model.corpus import fold_of, load_corpus

    out = [(name, s, fold_of(name, k)) for name, s in load_corpus().items()]
    sample = REPO / "sample_logs"
    if sample.is_dir():
        from trafficwatch.counting.ingest import IngestOptions, ingest

        counts, _ = ingest([str(sample)], IngestOptions())
        out += [(f"sample_logs/{site}", counts.series(site, "hits", whole_hours=True), -1)
                for site in counts.sites()]
    real = REPO.parent / "shared" / "data" / "real_logs"  # real web logs, never trained on: the
    # sites of them with two weeks or more of observed hours (elastic_nginx_logs: 18 days)
    if real.is_dir():
        from trafficwatch.counting.ingest import IngestOptions, ingest

        counts, _ = ingest([str(real)], IngestOptions())
        for site in counts.sites():
            s = counts.series(site, "hits", whole_hours=True)
            if s.notna().sum() >= 14 * 24:
                out.append((f"real_logs/{site}", s, -1))
    return out


def origins(n: int) -> list[int]:
    """Daily origins, the last one leaving a full 48 h horizon (shared by 24 h and 48 h), as
    `trafficwatch eval` places them."""
    from trafficwatch.model.evaluate import origins_for

    return origins_for(n, DAYS, HORIZON)


def forecasts(fn, s: pd.Series) -> np.ndarray:
    """(origins, 48, 3) forecasts of one model; NaN where the model refused."""
    outs = []
    for o in origins(len(s)):
        try:
            outs.append(np.asarray(fn(s.iloc[:o], HORIZON), dtype=np.float64))
        except ValueError:
            outs.append(np.full((HORIZON, 3), np.nan))
    return np.stack(outs) if outs else np.zeros((0, HORIZON, 3))


def baseline_forecasts(series: list[tuple[str, pd.Series, int]],
                       use_sf: bool) -> dict[str, dict[str, np.ndarray]]:
    """name -> model -> forecasts, the statsforecast ones from (and into) the cache."""
    from trafficwatch.model.baselines import naive24, naive168, statsforecast_models

    cache_path = OUT / "baselines.pkl"
    cache = pickle.loads(cache_path.read_bytes()) if cache_path.is_file() else {}
    sf = statsforecast_models() if use_sf else {}
    out = {}
    for name, s, _ in series:
        key = (name, len(s), float(np.nansum(s.to_numpy()))) + ((DAYS,) if DAYS != 7 else ()) \
            + ((HORIZON,) if HORIZON != 48 else ())
        entry = {"naive24": forecasts(naive24, s), "naive168": forecasts(naive168, s)}
        if sf:
            if key not in cache:
                t0 = time.perf_counter()
                cache[key] = {m: forecasts(fn, s) for m, fn in sf.items()}
                OUT.mkdir(parents=True, exist_ok=True)
                cache_path.write_bytes(pickle.dumps(cache))
                print(f"  statsforecast {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            entry.update(cache[key])
        out[name] = entry
    return out


def scores(s: pd.Series, q: np.ndarray, horizon: int,
           common: np.ndarray | None = None) -> tuple[float, float, int, float]:
    """Mean MASE over origins (only those where `common` is True), coverage over all scored
    hours, hours scored, and mean MSIS over origins: the M4 competition's scaled interval score
    of the p10-p90 band (alpha 0.2), its width plus 10 times each miss, over the same in-sample
    scale as MASE. Coverage alone rewards a band too wide; MSIS charges for the width too."""
    from trafficwatch.model.evaluate import score, seasonal_scale

    v = s.to_numpy(dtype=np.float64)
    mases, msis, inside, n = [], [], 0.0, 0
    for i, (qo, o) in enumerate(zip(q, origins(len(s)))):
        if not np.isfinite(qo).all() or (common is not None and not common[i]):
            continue
        scale = seasonal_scale(v[:o])
        y, band = v[o:o + horizon], qo[:horizon]
        r = score(y, band, scale)
        if r["n"] and np.isfinite(r["mase"]):
            mases.append(r["mase"])
            inside += r["coverage"] * r["n"]
            n += r["n"]
            ok = np.isfinite(y)
            lo, hi, yy = band[ok, 0], band[ok, 2], y[ok]
            interval = (hi - lo) + 10.0 * np.clip(lo - yy, 0, None) + 10.0 * np.clip(yy - hi, 0, None)
            msis.append(float(interval.mean() / scale))
    return ((float(np.mean(mases)) if mases else np.nan), (inside / n if n else np.nan), n,
            float(np.mean(msis)) if msis else np.nan)


def lstm_forecasts(series, k: int, models: Path = OUT
                   ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """name -> forecasts of the model that left the series out, and which model that was."""
    from trafficwatch.model.forecaster import Forecaster

    shipped = Forecaster.load(None)
    fold_models = {}
    for i in range(k):
        p = models / f"fold{i}.pt"
        if p.is_file():
            fold_models[i] = Forecaster.load(p)
    out, used = {}, {}
    for name, s, fold in series:
        fc = fold_models.get(fold, shipped)
        used[name] = "held out" if fold < 0 or fold in fold_models else "seen"
        out[name] = forecasts(fc.as_function(), s)
    return out, used


def report(series, base, lstm, used, csv: str = "forecast_per_series.csv") -> None:
    """Per-series MASE at 24 h and 48 h, the means, and the issue's targets checked."""
    rows = []
    for name, s, fold in series:
        row = {"series": name, "fold": fold, "lstm_is": used[name]}
        # every model on the same origins: at a young site's first origins "last week" does not
        # exist yet, and a mean over its later origins only would not compare with the LSTM's
        common = np.all([np.isfinite(q).all(axis=(1, 2)) for q in
                         (lstm[name], base[name]["naive24"], base[name]["naive168"])], axis=0)
        for h in HORIZONS:
            for m, q in [("lstm", lstm[name]), *base[name].items()]:
                mase, cov, _, msis = scores(s, q, h, common)
                row[f"{m}@{h}"] = mase
                row[f"{m} msis@{h}"] = msis
                if m == "lstm":
                    row[f"cover@{h}"] = cov
                    row[f"msis@{h}"] = msis
        rows.append(row)
    df = pd.DataFrame(rows).set_index("series")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_rows", 500)
    for h in HORIZONS:
        cols = [f"lstm@{h}"] + [f"{b}@{h}" for b in BASELINES if f"{b}@{h}" in df]
        print(f"\nMASE per series, {h} h ahead ({DAYS} daily origins):")
        print(df[cols + ["lstm_is"]].round(3).to_string())
    print("\nsummary")
    for h in HORIZONS:
        cols = [b for b in BASELINES if f"{b}@{h}" in df]
        means = {b: float(df[f"{b}@{h}"].mean()) for b in cols}
        best = min(means, key=means.get)
        lstm_mean = float(df[f"lstm@{h}"].mean())
        sn = df[[f"naive24@{h}", f"naive168@{h}"]].min(axis=1)
        worst = (df[f"lstm@{h}"] / sn)
        cov = float(df[f"cover@{h}"].mean())
        msis = df[f"msis@{h}"]
        print(f"{h} h: lstm mean MASE {lstm_mean:.3f} (median {df[f'lstm@{h}'].median():.3f}); "
              + ", ".join(f"{b} {m:.3f}" for b, m in means.items()))
        print(f"  vs best baseline ({best}): {lstm_mean / means[best]:.3f}x "
              f"(target <= 0.85); series worse than 1.05x the better seasonal naive: "
              f"{int((worst > 1.05).sum())} of {len(worst)} (worst {worst.max():.2f}x, "
              f"{worst.idxmax()}); lstm best on {int((df[f'lstm@{h}'] <= df[[f'{b}@{h}' for b in cols]].min(axis=1)).sum())} "
              f"series; p10-p90 coverage {100 * cov:.1f}% (target 75-85), MSIS mean "
              f"{msis.mean():.2f} (median {msis.median():.2f}; lower is a tighter band that "
              "still holds the traffic)")
        print("  MSIS of each model's p10-p90 band: " + ", ".join(
            f"{m} {df[f'{m} msis@{h}'].mean():.2f}" for m in ["lstm", *cols]))
    OUT.mkdir(parents=True, exist_ok=True)
    df.to_csv(OUT / csv)


def timings(model_path: str | None) -> None:
    """Fine-tune on 8 weeks and one forecast with gates, beside references on the same data."""
    from trafficwatch.model.baselines import naive24
    from trafficwatch.model.corpus import load_corpus
    from trafficwatch.model.forecaster import Forecaster

    fc = Forecaster.load(model_path)
    s = load_corpus()["worldcup98"]
    eight = s.iloc[:8 * 168]

    def median_ms(fn, n: int = 30) -> float:
        fn()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1000 * statistics.median(times)

    t0 = time.perf_counter()
    tuned = fc.fine_tune(eight)
    res = tuned.train_result  # type: ignore[attr-defined]
    print(f"\nfine-tune on 8 weeks ({len(eight)} h, {res.epochs_run} epochs, {res.n_train} "
          f"windows): {time.perf_counter() - t0:.1f} s (target < 30 s on 2 cores)")
    print(f"one forecast with gate internals, 24 h: "
          f"{median_ms(lambda: fc.forecast_with_gates(eight, 24)):.1f} ms (target < 20 ms); "
          f"168 h: {median_ms(lambda: fc.forecast_with_gates(eight, 168)):.1f} ms")
    print(f"  reference: seasonal naive 24 h {median_ms(lambda: naive24(eight, 24)):.2f} ms")


def main() -> int:
    """Backtest every series, print the tables and the targets; then timings."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--no-statsforecast", action="store_true")
    ap.add_argument("--series", default="", help="only series whose name matches this regex")
    ap.add_argument("--baselines-only", action="store_true", help="fill the cache and stop")
    ap.add_argument("--skip-timings", action="store_true")
    ap.add_argument("--days", type=int, default=0,
                    help="cut every series to its last DAYS days first (a young site)")
    ap.add_argument("--origins", type=int, default=7,
                    help="daily origins per series (7, as eval; 28 scores each series on its "
                         "last four weeks, so one odd week decides less)")
    ap.add_argument("--models", default=str(OUT), help="folder of the fold{k}.pt models")
    ap.add_argument("--shift-hours", type=int, default=0,
                    help="move every series' timestamps by this many hours: the calendar no "
                         "longer matches the counts, as on a benchmark whose series have made-up "
                         "dates (the naives, which read positions only, do not change)")
    ap.add_argument("--made-up-dates", action="store_true",
                    help="read every series as a CSV of hour numbers is read (hours.HOUR_NUMBERS:"
                         " its dates carry no weekdays, the forecast picks the ones that fit); "
                         "with --shift-hours, a benchmark's made-up dates")
    ap.add_argument("--trend", type=float, default=0.0,
                    help="multiply every series by exp(TREND a day), 1 at its last hour: a site "
                         "that grows (or fades) steadily; cuts series to --days (35 unless given)")
    ap.add_argument("--step", type=float, default=0.0,
                    help="multiply every series by STEP from an hour 9 to 20 days before its end "
                         "(seeded by its name): traffic that halved or doubled a week or two ago, "
                         "which the origins then meet 0 to 18 days after; cuts series as --trend")
    ap.add_argument("--dip", type=float, default=0.0,
                    help="multiply every series by DIP for 3 days that end 2 to 6 days before "
                         "its end (seeded by its name), then back: traffic that halved (or "
                         "doubled) for a while and came back, the origins meeting the return; "
                         "cuts series as --trend")
    ap.add_argument("--dip-hours", type=int, default=72, metavar="H",
                    help="--dip lasts this many hours (72; 168 or 216: a week or more at another "
                         "level, then back, as a holiday, an outage of a link or a campaign)")
    ap.add_argument("--added", type=float, default=0.0,
                    help="add ADDED times the series' mean to every hour from an hour --step-days"
                         " before its end (seeded by its name, as --step): a bot's or a "
                         "monitor's steady requests, the same at every hour; cuts series as "
                         "--trend")
    ap.add_argument("--bursts", type=float, default=0.0,
                    help="add BURSTS bursts a week to every series (1-3 hours, each adding 3-30 "
                         "times the series' mean, log-uniform, seeded by its name), history and "
                         "targets alike: crawlers, attacks, a link on a news site; cuts series "
                         "as --trend")
    ap.add_argument("--spikes", type=float, default=0.0,
                    help="multiply SPIKES runs a week of every series (2-6 hours, each 3-6 times "
                         "its traffic, log-uniform, seeded by its name), history and targets "
                         "alike: a newsletter, a campaign, an event; cuts series as --trend")
    ap.add_argument("--thin", type=float, default=0.0, metavar="MEAN",
                    help="scale every series to MEAN an hour and draw each hour's count from a "
                         "Poisson of that (seeded by its name): the corpus's real shapes as a "
                         "small site sees them, its counts' noise as large as their rhythm "
                         "(sites of 5-50 requests an hour; the corpus is mostly hundreds)")
    ap.add_argument("--step-days", type=float, nargs=2, default=(9.0, 20.0), metavar=("A", "B"),
                    help="--step begins between A and B days before each series' end (9 20; "
                         "3 6 puts it among the origins)")
    ap.add_argument("--horizon", type=int, default=48,
                    help="also score this many hours ahead (168: a week; 24 and 48 always)")
    args = ap.parse_args()
    global DAYS, HORIZON, HORIZONS
    DAYS = args.origins
    if args.horizon > 48:
        HORIZON, HORIZONS = args.horizon, (24, 48, args.horizon)
    if (args.trend or args.step or args.bursts or args.spikes or args.added or args.dip) and \
            not args.days:
        args.days = 35  # over years of hours a trend would reach e^30: a month or so, as M4's
    np.seterr(all="ignore")
    try:
        series = eval_series(args.folds)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    series = [t for t in series if re.search(args.series, t[0])]
    if args.days:
        series = [(n, s.iloc[-24 * args.days:], f) for n, s, f in series]
    if args.trend:
        series = [(n, s * np.exp(args.trend * np.arange(-len(s) + 1, 1) / 24), f)
                  for n, s, f in series]
    if args.step:
        def stepped(name: str, s: pd.Series) -> pd.Series:
            rng = np.random.default_rng(zlib.crc32(name.encode()))
            at = len(s) - int(24 * rng.uniform(*args.step_days))
            return s * np.where(np.arange(len(s)) >= at, args.step, 1.0)

        series = [(n, stepped(n, s), f) for n, s, f in series]
    if args.dip:
        def dipped(name: str, s: pd.Series) -> pd.Series:
            rng = np.random.default_rng(zlib.crc32(name.encode()) + 3)
            end = len(s) - int(24 * rng.uniform(2, 6))
            f = np.ones(len(s))
            f[end - args.dip_hours:end] = args.dip
            return s * f

        series = [(n, dipped(n, s), f) for n, s, f in series]
    if args.added:
        def added(name: str, s: pd.Series) -> pd.Series:
            rng = np.random.default_rng(zlib.crc32(name.encode()))
            at = len(s) - int(24 * rng.uniform(*args.step_days))
            return s + np.where(np.arange(len(s)) >= at, args.added * np.nanmean(s.to_numpy()), 0)

        series = [(n, added(n, s), f) for n, s, f in series]
    if args.bursts:
        def bursty(name: str, s: pd.Series) -> pd.Series:
            rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
            add = np.zeros(len(s))
            for at in rng.integers(0, len(s), rng.poisson(args.bursts * len(s) / 168)):
                add[at:at + rng.integers(1, 4)] += np.nanmean(s.to_numpy()) * np.exp(
                    rng.uniform(np.log(3), np.log(30)))
            return s + add

        series = [(n, bursty(n, s), f) for n, s, f in series]
    if args.spikes:
        def spiky(name: str, s: pd.Series) -> pd.Series:
            rng = np.random.default_rng(zlib.crc32(name.encode()) + 2)
            times = np.ones(len(s))
            for at in rng.integers(0, len(s), rng.poisson(args.spikes * len(s) / 168)):
                times[at:at + rng.integers(2, 7)] = np.exp(rng.uniform(np.log(3), np.log(6)))
            return s * times

        series = [(n, spiky(n, s), f) for n, s, f in series]
    if args.thin:
        def thinned(name: str, s: pd.Series) -> pd.Series:
            rng = np.random.default_rng(zlib.crc32(name.encode()) + 2)
            lam = np.clip(s.to_numpy(dtype=float), 0, None) * args.thin / np.nanmean(s.to_numpy())
            seen = np.isfinite(lam)
            out = np.full(len(s), np.nan)
            out[seen] = rng.poisson(lam[seen])
            return pd.Series(out, s.index, name=s.name)

        series = [(n, thinned(n, s), f) for n, s, f in series]
    if args.shift_hours:
        series = [(n, s.set_axis(s.index + pd.Timedelta(hours=args.shift_hours)), f)
                  for n, s, f in series]
    if args.made_up_dates:
        from trafficwatch.hours import HOUR_NUMBERS

        for _, s, _ in series:
            s.attrs[HOUR_NUMBERS] = 0
    base = baseline_forecasts(series, not args.no_statsforecast)
    if args.baselines_only:
        return 0
    t0 = time.perf_counter()
    lstm, used = lstm_forecasts(series, args.folds, Path(args.models))
    print(f"LSTM forecasts for {len(series)} series: {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    tag = (f"_{args.days}d" if args.days else "") + \
        (f"_{DAYS}origins" if DAYS != 7 else "") + \
        (f"_shift{args.shift_hours}h" if args.shift_hours else "") + \
        ("_madeup" if args.made_up_dates else "") + \
        (f"_trend{args.trend:+g}" if args.trend else "") + \
        (f"_step{args.step:g}_{args.step_days[0]:g}-{args.step_days[1]:g}d" if args.step else "") + \
        (f"_bursts{args.bursts:g}" if args.bursts else "") + \
        (f"_spikes{args.spikes:g}" if args.spikes else "") + \
        (f"_dip{args.dip:g}" if args.dip else "") + \
        (f"_{args.dip_hours}h" if args.dip and args.dip_hours != 72 else "") + \
        (f"_thin{args.thin:g}" if args.thin else "") + \
        (f"_added{args.added:g}_{args.step_days[0]:g}-{args.step_days[1]:g}d" if args.added
         else "") + \
        (f"_{HORIZON}h" if HORIZON != 48 else "")
    report(series, base, lstm, used, f"forecast_per_series{tag}.csv")
    if not args.skip_timings and not args.days:
        timings(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
