"""Every site's forecast for the hour being counted, for /metrics (not only the site on screen).

The engine's model loop calls `forecast_due` a few sites at a time (a time budget per step), so
500 sites cost one pass per hour spread over the loop's steps, never a frozen screen. Each site
costs a numpy pass of the model for the forecast, and one for each midnight of the last 24 hours
whose day-ahead forecast judges them (kept while the hours before the midnight stay the same:
one new pass a day); no torch import. The engine writes the results into its state, and runs
--alert-cmd for the anomalies: every site's, whichever view is on screen.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from trafficwatch.engine.anomalies import ANOMALY_BAND, AnomalyEvent, detect
from trafficwatch.engine.predict import _shown_naive, alarm_band, alarm_quantiles, past_days, widen
from trafficwatch.hours import DAY, HOUR, epoch
from trafficwatch.safe import safe_name, safe_text

log = logging.getLogger(__name__)

MIN_OBSERVED = 24  # observed hours in the last week below which a site gets no forecast gauge
WEEK = 168
STEP_S = 0.2  # model-loop seconds spent on other sites' forecasts before the loop looks again
SETTLE_S = 300  # seconds after an hour ends before a drop in it is an anomaly: lines can come
# late (nginx's `access_log ... buffer=32k flush=5m`, Apache's BufferedLogs, a log shipped by
# rsync or a scrape that missed), and an hour judged at hh:00:01 without its last minutes read
# as a drop and ran --alert-cmd for a healthy site. A surge is judged at once: late lines can
# only add to an hour. Each site is forecast again once its last hour settles.


def settled_hour(clock: float) -> tuple[int, bool]:
    """(the hour in progress at `clock`, whether the hour before it has settled)."""
    hour = int(clock) // HOUR
    return hour, clock - hour * HOUR >= SETTLE_S


@dataclass(frozen=True)
class SiteForecast:
    """One site's forecast of requests (hits, unfiltered) for one hour, and the last hour's verdict."""

    hour: int  # start of the hour forecast (UTC epoch seconds): the one being counted now
    p10: float  # the model's quantiles for that hour
    p50: float
    p90: float
    lower: float  # the band at --band (p10/p90 themselves at the default 0.8)
    upper: float
    anomaly: int  # the last complete hour: 1 above its day-ahead anomaly band (98 % by default,
    # as on screen), -1 below, 0 inside
    events: tuple[AnomalyEvent, ...] = ()  # the anomalies of the last 24 complete hours, judged
    # as the screen judges its site's (engine/predict.py): what --alert-cmd runs for
    kept: tuple[float, str | None] | None = None  # the blend shown (Forecast.kept): the next
    # hour's forecast keeps it while it errs within forecaster.HOLD of the best, as the
    # screen's does (the gauge and the screen's next hour alike)


def site_forecast(series: pd.Series, forecaster, partial: pd.Timestamp | None,
                  band: float = 0.8, anomaly_band: float = ANOMALY_BAND,
                  day_offset_s: int = 0, settling: bool = False,
                  keep: tuple[float, str | None] | None = None) -> SiteForecast | None:
    """The forecast of the hour after the last complete hour of `series`; None when the site has
    too little history (no gauge rather than a made-up zero). No forecaster (the model failed
    to load): seasonal naive, as on screen. Days start at midnight `day_offset_s` east of UTC,
    as the screen's. `settling`: the last complete hour ended under SETTLE_S ago, and a drop in
    it is not judged yet (as a gap: an anomaly running on stays as it was). `keep`: the blend
    shown before (SiteForecast.kept)."""
    history = series[series.index < partial] if partial is not None else series
    v = history.to_numpy(dtype=float)
    if int(np.isfinite(v[-WEEK:]).sum()) < MIN_OBSERVED:
        return None
    fn: Callable[[pd.Series, int], np.ndarray] = (
        _shown_naive if forecaster is None else forecaster.as_function(alarm=True))
    kept = None
    try:
        if forecaster is None:
            q = np.asarray(fn(history, 1), dtype=float)
        else:  # as as_function(alarm=True), with the blend shown before
            f = forecaster.forecast(history, 1, keep=keep)
            q, kept = np.stack([f.p10, f.p50, f.p90, *f.alarm()], axis=-1), f.kept()
    except ValueError:  # the model refuses the series (e.g. the last window is all gaps)
        return None
    lo, hi = widen(q[:, 0], q[:, 1], q[:, 2], band)
    events = _last_day(history, fn, forecaster, anomaly_band, day_offset_s, settling)
    active = [e for e in events if e.active]
    return SiteForecast(hour=epoch(history.index[-1]) + HOUR, p10=float(q[0, 0]),
                        p50=float(q[0, 1]), p90=float(q[0, 2]), lower=float(lo[0]),
                        upper=float(hi[0]), anomaly=int(np.sign(active[0].direction)) if active else 0,
                        events=events, kept=kept)


LOOK_BACK = (1, 2, 4, 7)  # days judged, in turn, while an anomaly runs from the first one


def _last_day(history: pd.Series, fn, forecaster, band: float,
              day_offset_s: int, settling: bool = False) -> tuple[AnomalyEvent, ...]:
    """The screen's anomalies (engine/predict.py) over the last 24 complete hours: each hour
    judged on the anomaly band of the forecast made at its day's midnight. One that runs from
    the first hour judged is judged further back (LOOK_BACK) to find where it began: judged
    on the last day alone, its start moved with the day, and --alert-cmd ran for it again every
    hour once it was a day old (an outage of 32 h: 4 alerts), and for a surge of 3 hours a day
    later (a trial). Still running from a week back, it is marked `clipped` (not alerted)."""
    start = epoch(history.index[-1]) + HOUR
    events: list[AnomalyEvent] = []
    began = None  # the first hour judged by the last look
    for n in LOOK_BACK:
        days = list(past_days(history, fn, forecaster, start, n, day_offset_s))
        if not days:
            return ()
        hours = np.concatenate([d.hours for d in days])
        if began is not None and int(hours[0]) == began:  # no day further back can be judged
            # (a young site): what runs from its first hour judged began there, as far as is
            # known (clipped, a site's first anomaly never alerted: a review)
            return tuple(events)
        q = np.concatenate([d.q for d in days])
        alo, ahi = alarm_quantiles(q)
        lo, hi = alarm_band(alo, q[:, 1], ahi, band)
        actual = history.reindex(pd.to_datetime(hours, unit="s", utc=True)).to_numpy(
            dtype=float, copy=True)
        if settling and hours[-1] == start - HOUR and actual[-1] < lo[-1]:
            actual[-1] = np.nan  # its last minutes may still come
        events = [e for e in detect(hours, actual, lo, hi)  # those of the last day
                  if e.end is None or e.end > start - DAY]
        ok = np.isfinite(actual) & np.isfinite(lo) & np.isfinite(hi)
        if not ok.any():
            return tuple(events)
        # its first hour judged: the first with a count and a band (after a gap in the logs at
        # the day's start, one that ran on from before it started there: a review)
        first = int(hours[np.argmax(ok)])
        earlier = np.isfinite(history[history.index < pd.Timestamp(first, unit="s", tz="UTC")]
                              .to_numpy(dtype=float)).any()
        if not earlier or not any(e.start == first for e in events):
            return tuple(events)
        began = int(hours[0])
    return tuple(replace(e, clipped=True) if e.start == first else e for e in events)


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
                 anomaly_band: float = ANOMALY_BAND,
                 keep_for: Callable[[str], tuple | None] = lambda site: None) -> list[Done]:
    """Forecast the due (site, key) pairs in order until `budget_s` is spent (one at least) or
    `stop()` says so (the screen's view changed). `read(site)` -> (series, partial hour, seconds
    east of UTC its days start at, whether its last hour is still settling), taken under the
    engine's lock by the caller's function; `keep_for(site)`: the blend its forecast showed
    before (SiteForecast.kept), or None."""
    out: list[Done] = []
    began = time.perf_counter()
    for site, key in due:
        if out and (stop() or time.perf_counter() - began >= budget_s):
            break
        t0 = time.perf_counter()
        series, partial, offset, settling = read(site)
        try:
            fc = site_forecast(series, model_for(site), partial, band, anomaly_band, offset,
                               settling, keep_for(site))
        except Exception as exc:  # one site's fault, logged: an exception here ended the
            # model thread, and with it every forecast, the screen's among them
            log.warning("forecast of site %s failed: %s", safe_name(site), safe_text(exc),
                        exc_info=True)
            fc = None
        out.append(Done(site, key, fc, time.perf_counter() - t0))
    return out
