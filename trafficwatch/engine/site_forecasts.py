"""Every site's forecast for the hour being counted, for /metrics (not only the site on screen).

The engine's model loop calls `forecast_due` a few sites at a time (a time budget per step), so
500 sites cost one pass per hour spread over the loop's steps, never a frozen screen. Each site
costs two numpy passes of the model (the forecast and yesterday's day-ahead forecast, which
judges the last complete hour); no torch import. The engine writes the results into its state.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trafficwatch.engine.anomalies import ANOMALY_BAND, detect
from trafficwatch.engine.predict import _naive, alarm_band, widen
from trafficwatch.hours import HOUR, epoch

MIN_OBSERVED = 24  # observed hours in the last week below which a site gets no forecast gauge
WEEK = 168
STEP_S = 0.2  # model-loop seconds spent on other sites' forecasts before the loop looks again


@dataclass(frozen=True)
class SiteForecast:
    """One site's forecast of requests (hits, unfiltered) for one hour, and the last hour's verdict."""

    hour: int  # start of the hour forecast (UTC epoch seconds): the one being counted now
    p10: float  # the model's quantiles for that hour
    p50: float
    p90: float
    lower: float  # the band at --band (p10/p90 themselves at the default 0.8)
    upper: float
    anomaly: int  # the last complete hour: 1 above yesterday's day-ahead anomaly band (98 % by
    # default, as on screen), -1 below, 0 inside


def site_forecast(series: pd.Series, forecaster, partial: pd.Timestamp | None,
                  band: float = 0.8, anomaly_band: float = ANOMALY_BAND) -> SiteForecast | None:
    """The forecast of the hour after the last complete hour of `series`; None when the site has
    too little history (no gauge rather than a made-up zero). No forecaster (the model failed
    to load): seasonal naive, as on screen."""
    history = series[series.index < partial] if partial is not None else series
    v = history.to_numpy(dtype=float)
    if int(np.isfinite(v[-WEEK:]).sum()) < MIN_OBSERVED:
        return None
    fn: Callable[[pd.Series, int], np.ndarray] = (_naive if forecaster is None
                                                  else forecaster.as_function())
    try:
        q = np.asarray(fn(history, 1), dtype=float)
    except ValueError:  # the model refuses the series (e.g. the last window is all gaps)
        return None
    lo, hi = widen(q[:, 0], q[:, 1], q[:, 2], band)
    return SiteForecast(hour=epoch(history.index[-1]) + HOUR, p10=float(q[0, 0]),
                        p50=float(q[0, 1]), p90=float(q[0, 2]), lower=float(lo[0]),
                        upper=float(hi[0]), anomaly=_last_hour(history, fn, anomaly_band))


def _last_hour(history: pd.Series, fn, band: float) -> int:
    """The screen's anomaly verdict on the last complete hour: yesterday's day-ahead band over the
    last 24 hours (engine/predict.py, one day instead of seven), the state after its last hour."""
    o = len(history) - 24
    if o < 24 or not np.isfinite(history.iloc[:o].to_numpy(dtype=float)).any():
        return 0
    past = history.iloc[:o]
    try:
        qp = np.asarray(fn(past, 24), dtype=float)
    except ValueError:
        qp = _naive(past, 24)
    plo, phi = alarm_band(qp[:, 0], qp[:, 1], qp[:, 2], band)
    hours = epoch(history.index[o]) + HOUR * np.arange(24, dtype=np.int64)
    active = [e for e in detect(hours, history.to_numpy(dtype=float)[o:], plo, phi) if e.active]
    return int(np.sign(active[0].direction)) if active else 0


@dataclass(frozen=True)
class Done:
    """One site's result from a step: what the engine stores, and what it cost."""

    site: str
    key: tuple
    forecast: SiteForecast | None
    seconds: float


def forecast_due(due: Iterable[tuple[str, tuple]], read: Callable[[str], tuple],
                 model_for: Callable[[str], object], band: float,
                 stop: Callable[[], bool], budget_s: float = STEP_S,
                 anomaly_band: float = ANOMALY_BAND) -> list[Done]:
    """Forecast the due (site, key) pairs in order until `budget_s` is spent (one at least) or
    `stop()` says so (the screen's view changed). `read(site)` -> (series, partial hour), taken
    under the engine's lock by the caller's function."""
    out: list[Done] = []
    began = time.perf_counter()
    for site, key in due:
        if out and (stop() or time.perf_counter() - began >= budget_s):
            break
        t0 = time.perf_counter()
        series, partial = read(site)
        fc = site_forecast(series, model_for(site), partial, band, anomaly_band)
        out.append(Done(site, key, fc, time.perf_counter() - t0))
    return out
