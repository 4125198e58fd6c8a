"""One view's forecast, past day-ahead forecasts, error, gates and anomalies, from a series."""
from __future__ import annotations

import hashlib
import math
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trafficwatch.engine.anomalies import ANOMALY_BAND, AnomalyEvent, detect, noise_floor
from trafficwatch.hours import DAY, HOUR, OFFSETS, clock_shift, epoch, epoch_seconds
from trafficwatch.model.baselines import calm_naive24, naive24, naive168, nominal_band
from trafficwatch.model.evaluate import score, seasonal_scale
from trafficwatch.model.features import HISTORY, holiday
from trafficwatch.model.forecaster import MIN_RECENT_HOURS

if TYPE_CHECKING:  # torch stays unimported until a model is actually used
    from trafficwatch.model.forecaster import Forecaster

SILENT_HOURS = 168  # a history whose last this many hours are all gaps is not forecast
ALARM_HISTORY_H = 72  # a day-ahead forecast made from fewer observed hours flags no anomaly: a
# site's third day was flagged against a forecast made from two (a trial: a 12-hour sawtooth,
# "▼ 20 at 00:00 vs 57-96", where today's forecast, from three days, is within 2 of it).
# Counted among the hours the forecast reads (features.HISTORY): a log of 14 hours after one a
# year old had flagged its next hours against a forecast made from those 14 (a trial)

_Z80 = NormalDist().inv_cdf(0.9)  # half-width of the model's p10-p90 band, in standard units


@dataclass(frozen=True)
class Prediction:
    """What the model side says about one series view (all hours as UTC epoch seconds)."""

    model_name: str
    hours: np.ndarray  # future hours; the first is the current partial hour when there is one
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    past_hours: np.ndarray  # hours of the last `days` days, each forecast a day ahead
    past_p10: np.ndarray
    past_p50: np.ndarray
    past_p90: np.ndarray
    mase: float  # of the forecast shown, over the past day-ahead forecasts
    mase_naive: float  # of the better seasonal naive (24 h or 168 h) over the same hours
    coverage: float  # share of past hours inside the band
    gates: Any = None  # trafficwatch.model.forecaster.GateStats when the LSTM ran
    anomalies: list[AnomalyEvent] = field(default_factory=list)
    status: str = ""  # why the LSTM is not in use, when it is not
    naive_name: str = "naive 24 h"  # which seasonal naive mase_naive is ("naive 168 h")
    choice: str = ""  # which forecast is shown and why, in plain words
    choice_short: str = ""  # the same in a few words ("50% LSTM + 50% last week")
    hours_scored: int = 0  # hours of the last days with a count that mase and coverage are over
    no_scale: bool = False  # mase is NaN as no scored day had a day of counts before it to
    # scale by (a filter's short range), not as traffic never changed from one day to the next
    holiday_hours: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # of
    # `hours`, those the model in use reads as holidays (none for one without the flags)
    past_alarm_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the anomaly band
    past_alarm_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))  # of past_hours
    band_note: str = ""  # why the band drawn is wider than the anomalies' (Forecast.band_note)
    lstm_share: float = 0.0  # the LSTM's share of the median shown (0: a seasonal naive alone)
    kept: tuple[float, str | None] | None = None  # the blend shown (Forecast.kept), for the
    # next forecast of the view to keep while it errs within forecaster.HOLD of the best
    nominal: bool = False  # the band is the seasonal naive's +-50 %: no error measured one (a
    # trial's 15 hours of log had "80% band 62-184" on screen and no word of it)

    @property
    def rel_to_naive(self) -> float:
        """Model error / seasonal-naive error: below 1 means the model beats the baseline."""
        if not (self.mase_naive > 0) or math.isnan(self.mase):
            return math.nan
        return self.mase / self.mase_naive


def widen(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray]:
    """The band for a central probability `band` (0.8 is p10-p90 itself), scaled as a normal would."""
    if not 0.0 < band < 1.0:
        raise ValueError(f"band must be between 0 and 1, got {band}")
    k = NormalDist().inv_cdf(0.5 + band / 2) / _Z80
    return np.clip(p50 - k * (p50 - p10), 0.0, None), p50 + k * (p90 - p50)


def alarm_band(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray,
               band: float) -> tuple[np.ndarray, np.ndarray]:
    """The band anomalies are judged on: the model's at `band`, never narrower than the noise of
    counting (anomalies.noise_floor)."""
    lo, hi = widen(p10, p50, p90, band)
    flo, fhi = noise_floor(p50, band)
    return np.minimum(lo, flo), np.maximum(hi, fhi)


def alarm_quantiles(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, 3) p10/p50/p90, or (H, 5) with the anomalies' own p10/p90 after them
    (Forecaster.as_function(alarm=True)) -> the p10 and p90 anomalies are judged on."""
    return (q[:, 3], q[:, 4]) if q.shape[1] == 5 else (q[:, 0], q[:, 2])


_naive, _naive168, _shown_naive = naive24, naive168, calm_naive24
STALE_HOURS = 168  # a past day gets a day-ahead forecast only if the week before it had a count


def predict(
    series: pd.Series,
    forecaster: Forecaster | None,
    partial: pd.Timestamp | None = None,
    horizon: int = 24,
    days: int = 7,
    band: float = 0.8,
    anomaly_band: float = ANOMALY_BAND,
    trigger: int = 1,
    recovery: int = 1,
    day_offset_s: int = 0,
    keep: tuple[float, str | None] | None = None,
) -> Prediction:
    """Forecast after the last complete hour; score and band-check the last `days` days.

    With no forecaster (still loading) or a series the LSTM refuses (too little history), the
    seasonal naive forecast is shown and `status` says why. Past days start at midnight
    `day_offset_s` seconds east of UTC. With fewer than MIN_RECENT_HOURS scored, mase and
    coverage are NaN (too few hours to judge), as the forecaster's own recent check.
    Anomalies are runs of past hours outside the day-ahead `anomaly_band` (wider than the `band`
    drawn, see ANOMALY_BAND). `keep`: the blend the view's forecast showed before
    (Prediction.kept), kept while it errs within forecaster.HOLD of the best.
    """
    history = series[series.index < partial] if partial is not None else series
    if len(history) == 0:
        raise ValueError("no complete hour with data yet: nothing to forecast from")
    if not np.isfinite(history.to_numpy(dtype=float)).any():  # its hours: the first, which
        # the log began inside (part of an hour, not its count), or gaps. A trial's log begun
        # at 13:51 read "no complete hour with data yet" at 14:05 beside a chart of 13:00
        first = (history.index[0] + pd.Timedelta(seconds=day_offset_s)).strftime("%H:%M")
        raise ValueError(f"no whole hour counted yet (the log began inside {first}: part of "
                         "an hour, not its count): nothing to forecast from")
    if not np.isfinite(history.to_numpy(dtype=float)[-SILENT_HOURS:]).any():
        # the LSTM refuses a week of gaps; the seasonal naive shown instead went back past them
        # to years-old logs: "nothing to forecast from" above "next hour: 149" (a trial's
        # directory of old archives beside a log begun minutes before)
        raise ValueError(f"no observed hour in the last {SILENT_HOURS} hours (all gaps): "
                         "nothing to forecast from")
    status, name, gates, choice, choice_short = "", "seasonal naive", None, "", ""
    band_note, share, nominal, kept = "", 0.0, False, None
    fn = _shown_naive  # the naive's repeated bursts calmed, as `forecast` prints it
    if forecaster is None:
        status = "loading model…"
    else:
        try:
            f, gates = forecaster.forecast_with_gates(history, horizon, keep=keep)
            kept = f.kept()
            fn, name, choice = forecaster.as_function(alarm=True), forecaster.name, f.choice
            if name not in f.model.split("+"):  # the gate pane still explains the LSTM
                choice += f"; {name}'s gates are still shown"
            choice_short, share = f.choice_short, f.lstm_share
            band_note = f.band_note if "anomalies" in f.band_note else \
                f.band_note and f.band_note + " (anomalies are still judged on the usual band)"
            q = np.stack([f.p10, f.p50, f.p90], axis=-1)
        except ValueError as exc:
            status = f"seasonal naive shown, not the LSTM: {exc}"
    if fn is _shown_naive:
        q = _shown_naive(history, horizon)
        nominal = nominal_band(history)
    start = epoch(history.index[-1]) + HOUR
    hours = start + HOUR * np.arange(horizon, dtype=np.int64)
    reads_holidays = fn is not _shown_naive and forecaster is not None and forecaster.cfg.holidays
    holiday_hours = hours[holiday(hours // HOUR) > 0] if reads_holidays else hours[:0]
    lo, hi = widen(q[:, 0], q[:, 1], q[:, 2], band)

    # Day-ahead forecasts for the last `days` days: what the model said at each midnight (in the
    # offset the hours are shown in) from the hours before it, so a past hour's forecast is the
    # same from one frame to the next (the last one covers today so far).
    v = history.to_numpy(dtype=float)
    past = [[], [], [], []]
    alarm = [[], []]  # the anomaly band of the same past hours
    errs, errs24, errs168, inside, n_scored = [], [], [], 0, 0
    scaled = False  # some scored day had a scale (pairs of hours a day apart) before it
    for day in past_days(history, fn, forecaster, start, days, day_offset_s):
        o, cut, h, qp = day.origin, day.cut, day.before, day.q
        actual = v[o + cut.start:o + cut.stop]
        scale = seasonal_scale(h.to_numpy(dtype=float))
        scaled |= not math.isnan(scale)
        s_model = score(actual, qp, scale)
        if s_model["n"]:
            errs.append(s_model["mase"])
            errs24.append(score(actual, _naive(h, 24)[cut], scale)["mase"])
            # "same hour last week" only once there is a week before the day, else it is a
            # median in disguise
            errs168.append(score(actual, _naive168(h, 24)[cut], scale)["mase"]
                           if o >= 168 and np.isfinite(v[o - 168:o - 144]).any() else math.nan)
            inside += s_model["coverage"] * s_model["n"]
            n_scored += s_model["n"]
        plo, phi = widen(qp[:, 0], qp[:, 1], qp[:, 2], band)
        past[0].append(day.hours)
        past[1].append(plo)
        past[2].append(qp[:, 1])
        past[3].append(phi)
        alo, ahi = alarm_quantiles(qp)  # the band drawn may be wider (Forecast.band_note)
        young = np.isfinite(v[max(0, o - HISTORY):o]).sum() < ALARM_HISTORY_H  # no band to
        # flag by (NaN)
        for side, bound in zip(alarm, alarm_band(alo, qp[:, 1], ahi, anomaly_band)):
            side.append(np.full(len(bound), np.nan) if young else bound)
    ph, p_lo, p_mid, p_hi = (np.concatenate(p) if p else np.zeros(0) for p in past)
    ph = ph.astype(np.int64)
    actual_past = series.reindex(pd.to_datetime(ph, unit="s", utc=True)).to_numpy(dtype=float)
    a_lo, a_hi = (np.concatenate(b) if b else np.zeros(0) for b in alarm)
    events = detect(ph, actual_past, a_lo, a_hi, trigger, recovery) if len(ph) else []
    judged = np.isfinite(actual_past) & np.isfinite(a_lo) & np.isfinite(a_hi)
    if judged.any():  # one running from the first hour judged, with counts before it, may have
        # begun before: marked, its start said as such (a week on, "Thu 01 05:00-24:00" had
        # moved its start an hour every hour as the week judged moved on: a replay trial)
        first = int(ph[np.argmax(judged)])
        if np.isfinite(v[:int(np.searchsorted(epoch_seconds(history.index), first))]).any():
            events = [replace(e, clipped=True)  # (one hour alone: likelier its own, and
                      # "▲ until 03:00" for it read as a long one: a replay trial)
                      if e.start == first and (e.end is None or e.end - e.start > HOUR) else e
                      for e in events]
    m24 = _nanmean(errs24)  # naive 168 h competes only where it had last week on every day
    m168 = _nanmean(errs168) if not any(math.isnan(e) for e in errs168) else math.nan
    naive_name, m_naive = (("naive 168 h", m168) if m168 < m24 or math.isnan(m24)
                           else ("naive 24 h", m24))
    if n_scored < MIN_RECENT_HOURS:  # as the model's own recent check: too few hours to judge
        errs, m_naive = [], math.nan
    return Prediction(
        model_name=name, hours=hours, p10=lo, p50=q[:, 1], p90=hi,
        past_hours=ph, past_p10=p_lo, past_p50=p_mid, past_p90=p_hi,
        mase=_nanmean(errs), mase_naive=m_naive,
        coverage=inside / n_scored if n_scored >= MIN_RECENT_HOURS else math.nan,
        gates=gates, anomalies=events, status=status, naive_name=naive_name, choice=choice,
        choice_short=choice_short, hours_scored=n_scored, no_scale=not scaled,
        holiday_hours=holiday_hours,
        past_alarm_lo=a_lo, past_alarm_hi=a_hi, band_note=band_note, lstm_share=share,
        kept=kept,
        nominal=nominal)


@dataclass(frozen=True)
class PastDay:
    """A day of the past window with the forecast the model made for it at its midnight."""

    origin: int  # position of the midnight in the series: `before` is the hours before it
    before: pd.Series
    cut: slice  # the day's hours inside the window (all 24 but at the window's ends)
    hours: np.ndarray  # their starts, epoch seconds
    q: np.ndarray  # (len(hours), 3): p10, p50, p90 made at the midnight (5: alarm_quantiles)


def past_days(history: pd.Series, fn, forecaster, start: int, days: int,
              day_offset_s: int = 0) -> Iterator[PastDay]:
    """The days of the last `days` x 24 complete hours before `start`, each with the day-ahead
    forecast made at its midnight (`day_offset_s` east of UTC) from the hours before it; days
    without a day of history, or with no count in the week before them, are left out. The
    screen's past forecasts and anomalies, and every site's anomaly (site_forecasts), read them.
    """
    first = epoch(history.index[0])
    window = start - days * DAY
    midnight = (window + day_offset_s) // DAY * DAY - day_offset_s
    for m in range(midnight, start, DAY):
        o = (m - first) // HOUR
        if o < 24:
            continue
        h = history.iloc[:o]
        if not np.isfinite(h.to_numpy(dtype=float)[-STALE_HOURS:]).any():
            continue  # nothing observed in the week before: any forecast would replay old logs
        a0, a1 = max(m, window), min(m + DAY, start)  # this day's hours inside the window
        cut = slice((a0 - m) // HOUR, (a1 - m) // HOUR)
        yield PastDay(o, h, cut, a0 + HOUR * np.arange(cut.stop - cut.start, dtype=np.int64),
                      on_day_clock(_day_ahead(fn, forecaster, h, m), history, m)[cut])


def on_day_clock(q: np.ndarray, history: pd.Series, midnight: int) -> np.ndarray:
    """A day's forecast `q` (24, k), made at `midnight` on the clock of the hour before it, with
    the hours after a daylight-saving change in that day (its hours' offsets, once they are
    past, in `history`'s OFFSETS) taking the forecast of the hour that held the same local time:
    the spring's Sunday had been judged an hour off from 03:00, its morning "above" and its
    evening "below" the band, two alerts a change (a trial)."""
    off = history.attrs.get(OFFSETS)
    if off is None or not len(off):
        return q
    at = pd.date_range(pd.Timestamp(midnight - HOUR, unit="s", tz="UTC"), periods=len(q) + 1,
                       freq="h")
    o = off.reindex(off.index.union(at)).ffill().reindex(at).to_numpy(dtype=np.float64)
    if not np.isfinite(o[0]):
        return q
    d = clock_shift(np.nan_to_num(o[1:] - o[0]))
    if not d.any():
        return q
    i = np.arange(len(q)) + d
    return q[np.where((i >= 0) & (i < len(q)), i, np.arange(len(q)))]


_DAY_AHEAD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # forecaster -> {key: q}
DAY_AHEAD_KEPT = 2048  # (24, 5) forecasts kept a forecaster: a few views' weeks, and the last two
# midnights of every site's anomaly check at 500 sites (site_forecasts), 2 MB at most


def _day_ahead(fn, forecaster, h: pd.Series, midnight: int) -> np.ndarray:
    """(24, 3), or (24, 5) with the anomalies' band (alarm_quantiles): the forecast `fn` made
    from the hours `h` before `midnight`; the model's, kept per forecaster while those hours stay the same (a past day is not recomputed every hour)."""
    cache = _DAY_AHEAD.setdefault(forecaster, {}) if fn is not _shown_naive else None
    key = (midnight, epoch(h.index[0]), hashlib.blake2b(h.to_numpy(dtype=float).tobytes(),
                                                        digest_size=16).digest())
    if cache is not None and key in cache:
        return cache[key]
    try:
        q = np.asarray(fn(h, 24), dtype=float)
    except ValueError:
        q = _shown_naive(h, 24)
    if cache is not None:
        if len(cache) >= DAY_AHEAD_KEPT:
            cache.pop(next(iter(cache)))
        cache[key] = q
    return q


def _nanmean(xs: list[float]) -> float:
    arr = np.asarray([x for x in xs if not math.isnan(x)], dtype=float)
    return float(arr.mean()) if len(arr) else math.nan
