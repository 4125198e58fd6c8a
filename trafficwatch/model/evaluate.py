"""Rolling-origin backtest: daily origins over the last N days, every model sees only the past.

Metrics per model (gaps in the target are skipped, never counted as zero):
    MASE      mean |y - p50| / in-sample MAE of the 24 h seasonal naive (on the history before
              each origin), averaged over origins; below 1 beats "same hour yesterday" in-sample
    sMAPE     mean 200 |y - p50| / (|y| + |p50|) in percent (0 when both are 0)
    coverage  share of observed hours inside [p10, p90] (the 80% band; near 0.8 is right)
"""
from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from trafficwatch.model.baselines import ForecastFn
from trafficwatch.model.features import check_series
from trafficwatch.safe import safe_name


def seasonal_scale(history: np.ndarray, season: int = 24) -> float:
    """In-sample MAE of the seasonal naive forecast, over pairs where both hours are observed."""
    d = np.abs(history[season:] - history[:-season])
    d = d[np.isfinite(d)]
    return float(d.mean()) if len(d) else float("nan")


MIN_HISTORY = 48  # hours before an origin, at the least: a day for the 24 h seasonal naive's
# in-sample errors, which scale MASE, and a day for them to be errors of (with less, MASE is
# undefined or rests on a handful of hours, and the LSTM needs 24 observed hours anyway)


def origins_for(n: int, days: int, horizon: int) -> list[int]:
    """Daily origins (index of the first forecast hour), the last one leaving a full horizon,
    each with at least MIN_HISTORY hours before it."""
    last = n - horizon
    return [o for o in (last - 24 * k for k in range(days - 1, -1, -1)) if o >= MIN_HISTORY]


def score(actual: np.ndarray, q: np.ndarray, scale: float) -> dict[str, float]:
    """MASE/sMAPE/coverage of one forecast (H, 3) against the actuals (H,), gaps skipped."""
    ok = np.isfinite(actual)
    y, lo, mid, hi = actual[ok], q[ok, 0], q[ok, 1], q[ok, 2]
    if not len(y):
        return {"mase": math.nan, "smape": math.nan, "coverage": math.nan, "n": 0}
    err = np.abs(y - mid)
    denom = np.abs(y) + np.abs(mid)
    smape = np.where(denom > 0, 200.0 * err / np.where(denom > 0, denom, 1.0), 0.0)
    mase = float(err.mean() / scale) if scale > 0 and math.isfinite(scale) else math.nan
    return {"mase": mase, "smape": float(smape.mean()),
            "coverage": float(((y >= lo) & (y <= hi)).mean()), "n": len(y)}


def backtest(series: pd.Series, models: Mapping[str, ForecastFn], days: int = 7,
             horizon: int = 24, keep: list | None = None) -> pd.DataFrame:
    """Tidy table: one row per model and origin with mase, smape, coverage, n (observed hours).
    `keep`: each forecast is appended to it, (model, origin hour, its hours, the actual counts
    (NaN: none), (H, 3) p10/p50/p90), for a user to plot or score them in their own way."""
    s = check_series(series)
    v = s.to_numpy()
    origins = origins_for(len(v), days, horizon)
    if not origins:
        raise ValueError(f"series of {len(v)} hours is too short for a {horizon} h backtest: "
                         f"it needs {MIN_HISTORY} hours before an origin and the {horizon} after "
                         f"it, {MIN_HISTORY + horizon} in all")
    rows = []
    for o in origins:
        history = s.iloc[:o]
        actual = v[o:o + horizon]
        scale = seasonal_scale(history.to_numpy())
        for name, fn in models.items():
            try:
                q = np.asarray(fn(history, horizon), dtype=np.float64)
            except ValueError as exc:  # a model that cannot forecast here is reported, not hidden
                rows.append({"model": name, "origin": s.index[o].isoformat(), "mase": math.nan,
                             "smape": math.nan, "coverage": math.nan, "n": 0, "error": str(exc)})
                continue
            rows.append({"model": name, "origin": s.index[o].isoformat(),
                         **score(actual, q, scale), "error": ""})
            if keep is not None:
                keep.append((name, s.index[o], s.index[o:o + horizon], actual, q))
    return pd.DataFrame(rows)


def shared_origins(table: pd.DataFrame) -> list[str]:
    """The origins at which every model that scored some hour scored one: those its figures
    are compared on (a model that forecast at no origin is aside, its row empty). Scored on
    the origins each could forecast at, the naives' MASE over two origins sat above the LSTM's
    over one of them, where on that one naive24's was 1.247, not 1.060 (a trial)."""
    scored = table[table["n"] > 0]
    some = scored["model"].unique()
    per = scored.groupby("origin")["model"].nunique()
    return [o for o in table["origin"].unique() if per.get(o, 0) == len(some)]


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per model, over the origins every model forecast at (shared_origins): mean MASE and
    sMAPE over origins, coverage over all scored hours, origins and hours scored."""
    out = []
    table = table[table["origin"].isin(shared_origins(table))
                  | ~table["model"].isin(table.loc[table["n"] > 0, "model"])]
    for name, g in table.groupby("model", sort=False):
        n = g["n"].to_numpy()
        cov = g["coverage"].to_numpy()
        ok = n > 0
        out.append({"model": name, "mase": _mean(g["mase"].to_numpy()) if ok.any() else math.nan,
                    "smape": _mean(g["smape"].to_numpy()) if ok.any() else math.nan,
                    "coverage": (float((cov[ok] * n[ok]).sum() / n[ok].sum()) if ok.any()
                                 else math.nan),
                    "origins": int(ok.sum()), "hours": int(n.sum())})
    return pd.DataFrame(out).set_index("model")


def _mean(x: np.ndarray) -> float:
    """Mean of the finite values; NaN (without numpy's warning) when there is none."""
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else math.nan


def to_json(table: pd.DataFrame, days: int, horizon: int) -> dict:
    """JSON-able dict: settings, origins, and the per-model summary (NaN as None)."""
    summary = summarize(table)

    def clean(key: str, x: float) -> float | int | None:
        """NaN -> None so the dict is valid JSON; counts as whole numbers (a summary's row is
        all floats)."""
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return int(x) if key in ("origins", "hours") else x

    return {"days": days, "horizon": horizon,
            "origins": sorted(table["origin"].unique().tolist()),
            "models": {name: {k: clean(k, v.item() if hasattr(v, "item") else v)
                              for k, v in row.items()} for name, row in summary.iterrows()}}


def format_table(table: pd.DataFrame) -> str:
    """Plain-text summary table (model, MASE, sMAPE %, p10-p90 coverage %, hours)."""
    summary = summarize(table)
    w = max(16, *(len(safe_name(n)) for n in summary.index))
    lines = [f"{'model':<{w}} {'MASE':>7} {'sMAPE%':>7} {'cover%':>7} {'hours':>6}"]
    for name, r in summary.iterrows():
        # sMAPE under 1 % with two figures: a steady 50,000 an hour read 0.0 for every model
        smape = r["smape"]
        lines.append(f"{safe_name(name):<{w}} {_cell(r['mase'], '.3f')} "
                     f"{_cell(smape, '.2g' if 0 < smape < 1 else '.1f')} "
                     f"{_cell(100 * r['coverage'], '.1f')} {int(r['hours']):>6}")
    return "\n".join(lines)


def _cell(x: float, fmt: str, width: int = 7) -> str:
    """A figure of a table, "-" where there is none (a model that forecast no origin printed
    "nan" in every column, a new user's trial)."""
    return f"{x:>{width}{fmt}}" if math.isfinite(x) else f"{'-':>{width}}"


def across(summaries: Mapping[str, pd.DataFrame], aside: Collection[str] = ()) -> pd.DataFrame:
    """Per model, over several series' summaries: mean and median of the series' MASE and mean
    sMAPE over the series every model scored (each series counts once, as benchmarks report;
    NaN MASE, a series that never changes, left out), coverage over all their scored hours, on
    how many of them the model had the lowest MASE (a tie counts for each; models `aside`, a
    diagnostic such as the LSTM alone beside the forecast shown, are not in that contest: -1),
    and the series and hours scored."""
    models = list(dict.fromkeys(m for s in summaries.values() for m in s.index))
    common = [k for k, s in summaries.items()
              if all(m in s.index and s.loc[m, "hours"] > 0 for m in models)]
    mase = pd.DataFrame({k: summaries[k].loc[models, "mase"] for k in common}).T  # series x model
    contest = mase[[m for m in models if m not in aside]] if len(mase) else mase
    # a tie counts for each model in it: the forecast shown when it is a naive alone scores
    # as that naive to the digit, and was credited to the LSTM alone, first in the table
    scored = contest.dropna()
    best = (scored.le(scored.min(axis=1) * (1 + 1e-9), axis=0).sum() if len(scored)
            else pd.Series(dtype=int))
    out = []
    for m in models:
        rows = [summaries[k].loc[m] for k in common]
        n = np.array([r["hours"] for r in rows], dtype=float)
        cov = np.array([r["coverage"] for r in rows], dtype=float)
        ok = (n > 0) & np.isfinite(cov)
        col = mase[m].to_numpy(dtype=float) if len(mase) else np.array([])
        out.append({"model": m, "mase": _mean(col),
                    "median_mase": float(np.median(col[np.isfinite(col)]))
                    if np.isfinite(col).any() else math.nan,
                    "smape": _mean(np.array([r["smape"] for r in rows], dtype=float)),
                    "coverage": float((cov[ok] * n[ok]).sum() / n[ok].sum()) if ok.any()
                    else math.nan,
                    "best_on": -1 if m in aside else int(best.get(m, 0)),
                    "series": len(common),
                    "mase_series": int(np.isfinite(col).sum()), "hours": int(n.sum())})
    return pd.DataFrame(out).set_index("model")


def format_across(summary: pd.DataFrame) -> str:
    """Plain-text table of `across`."""
    w = max(16, *(len(safe_name(n)) for n in summary.index))
    head = (f"{'model':<{w}} {'MASE':>7} {'median':>7} {'sMAPE%':>7} {'cover%':>7} "
            f"{'best on':>7} {'hours':>7}")
    lines = [head]
    for name, r in summary.iterrows():
        best = "-" if r["best_on"] < 0 else str(int(r["best_on"]))
        lines.append(f"{safe_name(name):<{w}} {_cell(r['mase'], '.3f')} "
                     f"{_cell(r['median_mase'], '.3f')} "
                     f"{_cell(r['smape'], '.1f')} {_cell(100 * r['coverage'], '.1f')} {best:>7} "
                     f"{int(r['hours']):>7}")
    return "\n".join(lines)
