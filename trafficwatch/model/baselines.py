"""Baselines the LSTM must beat: seasonal naive (24 h, 168 h) and, when installed, statsforecast.

Every model here is a callable `(history: pd.Series, horizon: int) -> np.ndarray (H, 3)` of
p10, p50, p90 for the hours right after the history. NaN in the history is a gap (no log), never 0.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.linalg import LinAlgError

ForecastFn = Callable[[pd.Series, int], np.ndarray]
QUANTILES = (0.1, 0.5, 0.9)


def _observed(history: pd.Series) -> np.ndarray:
    v = history.to_numpy(dtype=np.float64)
    if not np.isfinite(v).any():
        raise ValueError("the series has no observed hour to forecast from")
    return v


def seasonal_naive(history: pd.Series, horizon: int, season: int = 24,
                   lookback_seasons: int = 4) -> np.ndarray:
    """Each future hour repeats the latest observed value of the same phase (skipping gaps).

    The p10/p90 band adds the 10%/90% quantiles of the past seasonal differences
    y_t - y_{t-season} over the last `lookback_seasons` seasons (at least 4 weeks).
    """
    v = _observed(history)
    n = len(v)
    p50 = np.full(horizon, np.nan)
    for h in range(horizon):
        k = n - season + (h % season)
        while k >= 0 and not np.isfinite(v[k]):
            k -= season
        if k >= 0:
            p50[h] = v[k]
    fallback = float(np.nanmedian(v[-season:])) if np.isfinite(v[-season:]).any() \
        else float(np.nanmedian(v))
    p50 = np.where(np.isfinite(p50), p50, fallback)
    span = max(lookback_seasons * season, 672)
    tail = v[-(span + season):]
    diffs = tail[season:] - tail[:-season]
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) >= 8:
        lo, hi = np.quantile(diffs, [0.1, 0.9])
    else:  # too little history for residuals: a band of +-50% around the repeat
        lo, hi = -0.5 * np.abs(p50), 0.5 * np.abs(p50)
    lo = np.minimum(lo, 0.0)
    hi = np.maximum(hi, 0.0)
    out = np.stack([p50 + lo, p50, p50 + hi], axis=-1)
    return np.clip(out, 0.0, None)


def naive24(history: pd.Series, horizon: int) -> np.ndarray:
    """Seasonal naive with a daily season."""
    return seasonal_naive(history, horizon, 24)


def naive168(history: pd.Series, horizon: int) -> np.ndarray:
    """Seasonal naive with a weekly season."""
    return seasonal_naive(history, horizon, 168, lookback_seasons=4)


def fill_gaps(history: pd.Series) -> np.ndarray:
    """Values with gaps filled (same hour yesterday, then interpolation) for models that need it."""
    v = _observed(history).copy()
    for _ in range(7):
        holes = ~np.isfinite(v)
        if not holes.any():
            break
        prev = np.concatenate([np.full(24, np.nan), v[:-24]])
        v[holes] = prev[holes]
    s = pd.Series(v).interpolate(limit_direction="both")
    return s.to_numpy(dtype=np.float64)


def statsforecast_available() -> bool:
    """True when the optional `bench` extra (statsforecast) is installed."""
    return importlib.util.find_spec("statsforecast") is not None


def _statsforecast(make: Callable[[], object], max_hours: int) -> ForecastFn:
    def run(history: pd.Series, horizon: int) -> np.ndarray:
        """Fit on the gap-filled tail, forecast with an 80% interval as p10/p90. A fit that
        fails or gives no number is a ValueError, which a backtest reports for that origin:
        on a constant series statsmodels printed 14 RuntimeWarnings and the fit's NaNs."""
        import warnings

        y = fill_gaps(history)[-max_hours:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                out = make().forecast(y=y, h=horizon, level=[80])  # type: ignore[attr-defined]
            except (ArithmeticError, LinAlgError, ValueError) as exc:
                raise ValueError(f"the fit failed ({type(exc).__name__}: {exc})") from exc
        p50 = np.asarray(out["mean"], dtype=np.float64)
        lo = np.asarray(out["lo-80"], dtype=np.float64)
        hi = np.asarray(out["hi-80"], dtype=np.float64)
        if not np.isfinite(p50).all():
            raise ValueError("the fit gave no forecast (NaN)")
        lo, hi = np.where(np.isfinite(lo), lo, p50), np.where(np.isfinite(hi), hi, p50)
        return np.clip(np.stack([np.minimum(lo, p50), p50, np.maximum(hi, p50)], -1), 0.0, None)
    return run


def statsforecast_models(max_hours: int = 1008) -> dict[str, ForecastFn]:
    """AutoETS, AutoTheta, MSTL (24 h + 168 h) on the last `max_hours`; {} if not installed."""
    if not statsforecast_available():
        return {}
    from statsforecast.models import MSTL, AutoETS, AutoTheta

    return {
        "AutoETS": _statsforecast(lambda: AutoETS(season_length=24), max_hours),
        "AutoTheta": _statsforecast(lambda: AutoTheta(season_length=24), max_hours),
        "MSTL": _statsforecast(lambda: MSTL(season_length=[24, 168],
                                            trend_forecaster=AutoETS(model="ZZN")), max_hours),
    }


def baseline_models(include_statsforecast: bool = False) -> dict[str, ForecastFn]:
    """Name -> forecast function for the backtest table."""
    models: dict[str, ForecastFn] = {"naive24": naive24, "naive168": naive168}
    if include_statsforecast:
        models.update(statsforecast_models())
    return models
