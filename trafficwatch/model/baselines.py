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

from trafficwatch.model.features import nanmean, nanmedian, on_site_clock

ForecastFn = Callable[[pd.Series, int], np.ndarray]
QUANTILES = (0.1, 0.5, 0.9)


def _observed(history: pd.Series) -> np.ndarray:
    v = history.to_numpy(dtype=np.float64)
    if not np.isfinite(v).any():
        raise ValueError("the series has no observed hour to forecast from")
    return v


MIN_DIFFS = 8  # seasonal differences that measure a seasonal naive's band, at the least


def seasonal_naive(history: pd.Series, horizon: int, season: int = 24,
                   lookback_seasons: int = 4) -> np.ndarray:
    """Each future hour repeats the latest observed value of the same phase (skipping gaps),
    on the site's clock (features.on_site_clock): after a daylight-saving change, "same hour
    yesterday" is the same local hour, as the forecast reads it (`eval` had scored the
    forecast against naives an hour off for a week after each change, its lead doubled).

    The p10/p90 band adds the 10%/90% quantiles of the past seasonal differences
    y_t - y_{t-season} over the last `lookback_seasons` seasons (at least 4 weeks).
    """
    v = _observed(on_site_clock(history))
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
    if len(diffs) >= MIN_DIFFS:
        lo, hi = np.quantile(diffs, [0.1, 0.9])
    else:  # too little history for residuals: a band of +-50% around the repeat
        lo, hi = -0.5 * np.abs(p50), 0.5 * np.abs(p50)
    lo = np.minimum(lo, 0.0)
    hi = np.maximum(hi, 0.0)
    out = np.stack([p50 + lo, p50, p50 + hi], axis=-1)
    return np.clip(out, 0.0, None)


def nominal_band(history: pd.Series, season: int = 24) -> bool:
    """Whether seasonal_naive's band of `history` is the nominal +-50 %: fewer than MIN_DIFFS
    pairs of observed hours a season apart (in the span its band reads) to measure one."""
    v = np.asarray(history, dtype=np.float64)
    tail = v[-(max(season, 672) + season):]
    return int(np.isfinite(tail[season:] - tail[:-season]).sum()) < MIN_DIFFS


def naive24(history: pd.Series, horizon: int) -> np.ndarray:
    """Seasonal naive with a daily season."""
    return seasonal_naive(history, horizon, 24)


BURST_TIMES, BURST_MIN = 5.0, 20.0  # an hour "same hour yesterday" repeats is a burst: over 5x
# the last two days' median, and 20 requests above it


SAME_HOURS = 3  # days of the same hour, at least, whose median a burst repeated is calmed to


def calmed_bursts(history: pd.Series, q: np.ndarray) -> tuple[np.ndarray, int, float]:
    """(q, hours calmed, the last 48 hours' median): a seasonal naive's hours that would repeat
    a burst (BURST_TIMES that median, BURST_MIN above it) moved to the median of the same hour
    on the last 7 days where SAME_HOURS of them have a count (a day's own rhythm kept: calmed
    to the day's median, a surge at the daily peak made the next day's peak an anomaly), else
    to that median; their band with them. A crawler's hour of 4,177 among hours of 6-85 was
    forecast again every midnight (a trial; the app showed it where `forecast` did not)."""
    q = np.array(q, dtype=np.float64)
    v = history.to_numpy(dtype=np.float64)
    day = v[-48:]
    day = day[np.isfinite(day)]
    typical = float(np.median(day)) if len(day) else 0.0
    burst = q[:, 1] > max(BURST_TIMES * typical, typical + BURST_MIN)
    for h in np.flatnonzero(burst):
        at = len(v) - 24 * np.arange(1, 8) + h % 24
        same = v[at[at >= 0]]
        same = same[np.isfinite(same)]
        to = float(np.median(same)) if len(same) >= SAME_HOURS else typical
        q[h] *= min(to, q[h, 1]) / max(q[h, 1], 1e-9)
    return q, int(burst.sum()), typical


def calm_naive24(history: pd.Series, horizon: int) -> np.ndarray:
    """naive24 with its repeated bursts calmed (calmed_bursts): what is shown where the LSTM
    cannot forecast (a young site's first day)."""
    return calmed_bursts(history, naive24(history, horizon))[0]


def naive168(history: pd.Series, horizon: int) -> np.ndarray:
    """Seasonal naive with a weekly season."""
    return seasonal_naive(history, horizon, 168, lookback_seasons=4)


def last_values(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """(N, H) counts: at each origin, the last count of the 24 hours before it, repeated (the
    random walk's forecast); NaN where those hours hold none."""
    padded = np.concatenate([np.full(24, np.nan), np.asarray(values, dtype=np.float64)])
    o = np.asarray(origins, dtype=np.int64)
    day = padded[o[:, None] + np.arange(24)]  # (N, 24): the hours o-24..o-1
    seen = np.isfinite(day)
    last = day[np.arange(len(o)), 23 - np.argmax(seen[:, ::-1], axis=1)]
    return np.repeat(np.where(seen.any(axis=1), last, np.nan)[:, None], horizon, axis=1)


def profile_trend(values: np.ndarray, origins: np.ndarray, horizon: int, days: int = 14,
                  min_days: int = 4, weekly: bool = True, as_last: bool = False) -> np.ndarray:
    """(N, H) counts: at each origin, the median hour of the day over the `days` days before it
    (log1p, the trend taken out), each day of the week moved by its own level where the last
    two weeks repeat one (weekday_levels; `weekly`, `as_last`), moved to the last 24 hours'
    level and carried on by the trend. It averages a day's noise away as "yesterday" cannot,
    and follows a steady growth or decline the weeks' medians lag behind. The trend is the
    median change of an hour against the same hour a week before, over the last week (a week's
    own rhythm cancels, and a step in the last three days does not become a trend), where the
    week before changed the same way (`trend_of`): the smaller of the two; 0 with fewer than 48
    such pairs. The hours of the day are drawn toward their mean as far as noise can account
    for their differences (`shrunk`). Medians throughout: a burst or a dead hour moves none of
    it. NaN at an origin with fewer than `min_days` days of counts or an hour of the day never
    seen."""
    span = 24 * days
    y_all = np.log1p(np.clip(np.asarray(values, dtype=np.float64), 0, None))
    padded = np.concatenate([np.full(span, np.nan), y_all])
    o = np.asarray(origins, dtype=np.int64)
    y = padded[o[:, None] + np.arange(span)]  # (N, span): the hours o-span..o-1
    seen = np.isfinite(y)
    slope = trend_of(y_all, o) if span >= 336 else np.zeros(len(o))  # (N,) log1p a day
    before = np.arange(-span, 0) / 24.0  # days before the origin
    flat = y - slope[:, None] * before
    # column c of a day holds the hour of the day (o + c) % 24 (span is whole days)
    blocks = flat.reshape(len(o), days, 24)
    profile = nanmedian(blocks, 1)  # (N, 24)
    profile = shrunk(blocks, profile)
    week = (weekday_levels(blocks - profile[:, None, :], as_last) if weekly
            else np.zeros((len(o), 7)))  # (N, 7): the last, the day before the origin
    level = nanmedian(flat[:, -24:] - profile - week[:, -1:], 1)
    level = np.where(np.isfinite(level), level, 0.0)
    ahead = np.arange(horizon)
    out = np.expm1(profile[:, ahead % 24] + week[:, (ahead // 24) % 7] + level[:, None]
                   + slope[:, None] * ahead / 24.0)
    fit = (seen.sum(axis=1) >= 24 * min_days) & np.isfinite(profile).all(axis=1)
    return np.where(fit[:, None], np.clip(out, 0.0, None), np.nan)


def trend_of(y: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(N,) log1p a day: at each origin, the median change of an hour against the same hour a
    week before over the last week, where the week before it changed the same way: the smaller
    of the two (0 where they disagree). A step of last week changes one week on the one before
    and not the week before on its own, so it is a new level, not a trend (a generated
    benchmark series down to 0.66x 8 days before was carried on falling 6 % a day). With fewer
    than 48 pairs a week: 0; with fewer than 48 for the week before: the last week's alone."""
    padded = np.concatenate([np.full(504, np.nan), y])
    x = padded[np.asarray(origins, dtype=np.int64)[:, None] + np.arange(504)]  # o-504..o-1
    last, before = x[:, -168:] - x[:, -336:-168], x[:, -336:-168] - x[:, :168]
    slope = np.where(np.isfinite(last).sum(axis=1) >= 48, nanmedian(last, 1), 0.0) / 7
    prior = np.isfinite(before).sum(axis=1) >= 48
    then = np.where(prior, nanmedian(before, 1), 0.0) / 7
    agree = np.sign(then) == np.sign(slope)
    both = np.where(agree, np.sign(slope) * np.minimum(np.abs(slope), np.abs(then)), 0.0)
    return np.where(prior, both, slope)


SHRINK_DOF = 21  # James-Stein's p - 3 for the 24 hours of the day


def shrunk(blocks: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """(N, 24) the hours of the day's medians `profile` of `blocks` (N, days, 24), drawn toward
    their mean as far as their own noise accounts for their spread (James-Stein, positive
    part): a site at 120 an hour around the clock has 24 medians of 120 plus noise, which a
    forecast repeated every day (a real log: MASE 0.81, their mean 0.76); a daily shape well
    above the noise stays as it is. A median's noise is pi/2 a mean's, from the spread of each
    hour about its day's level."""
    resid = blocks - profile[:, None, :]
    resid = resid - nanmean(resid, 2, keepdims=True)  # each day about its own level
    n = np.isfinite(resid).sum(axis=1)  # (N, 24) the days each hour was seen on
    noise = nanmean(resid ** 2, (1, 2)) * 24 / 23  # (N,) an hour's variance about its day
    var = np.pi / 2 * noise[:, None] / np.maximum(n, 1)  # (N, 24) each median's
    mid = profile.mean(axis=1, keepdims=True)
    spread = ((profile - mid) ** 2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = SHRINK_DOF * var.mean(axis=1) / spread
    k = np.where(np.isfinite(k), np.clip(k, 0.0, 1.0), np.where(spread > 0, 0.0, 1.0))
    return mid + (1 - k[:, None]) * (profile - mid)


WEEK_MATCH = 0.5  # the two weeks' seven day levels, each week's straight line taken out, must
# correlate this much for a weekly rhythm: a fall that goes on through both weeks is a straight
# line, not a rhythm. Generated benchmark-shaped series (weekends at 0.75-0.9x, trends; 65
# series, `eval --horizon 48`): mean MASE 0.800 -> 0.736 (a second draw 0.754 -> 0.700), trends
# 0.703 -> 0.531 (MSTL 0.549); a trial's 48 series without weekly rhythms, with one that moves,
# random walks: 0.797 -> 0.801; bench/forecast.py whole held-out series 0.538 / 0.593 ->
# 0.536 / 0.591. Per day, a sign shared by both weeks was a coin's toss: WorldCup98's fall
# after its final read as a rhythm (1.37x the better naive, cut and tilted; models/README.md)


TOP_DAY_MATCH = 0.5  # the day that stands out most in either week, in the other: this share


def weekday_levels(resid: np.ndarray, as_last: bool = False) -> np.ndarray:
    """(N, D, 24) log1p hours less their hour of the day's median, D >= 14 whole days, the last
    ending at the origin -> (N, 7) the level of each of the 7 days before the origin, the last
    the day right before it: each day's median hour less its week's mean, the mean of the last
    2 weeks. All 0 where a day of the two weeks has no hour, or where the two weeks' seven
    levels, each week's straight line taken out, correlate less than WEEK_MATCH, or where the day
    that stands out most in either week stands out less than TOP_DAY_MATCH as much, the same
    way, in the other: a weekly rhythm repeats, a match day, a holiday or a fall through both
    weeks does not. With `as_last`, the rows are one forecast's origins, the last its own:
    levels only where that row has them, so the candidate judged on the days before is the one
    shown."""
    n = resid.shape[0]
    if resid.shape[1] < 14:
        return np.zeros((n, 7))
    day = nanmedian(resid[:, -14:], 2).reshape(n, 2, 7)
    day = day - day.mean(axis=2, keepdims=True)  # each week about its own level
    whole = np.isfinite(day).all(axis=(1, 2))
    j = np.arange(7) - 3.0
    bent = day - (day * j).sum(axis=2, keepdims=True) / 28.0 * j  # less each week's straight line
    a, b = np.nan_to_num(bent[:, 0]), np.nan_to_num(bent[:, 1])
    r = (a * b).sum(axis=1) / np.sqrt(np.maximum((a * a).sum(axis=1) * (b * b).sum(axis=1), 1e-300))
    rhythm = whole & (r >= WEEK_MATCH)
    # the day that stands out most in either week stands out at least half as much, the same
    # way, in the other: a holiday in one week against the other's noise, which happened to dip
    # a little on its weekday, correlated above WEEK_MATCH (one odd day read as a rhythm)
    top = np.argmax(np.maximum(np.abs(a), np.abs(b)), axis=1)
    ta, tb = a[np.arange(n), top], b[np.arange(n), top]
    rhythm &= (ta * tb > 0) & (np.minimum(np.abs(ta), np.abs(tb))
                               >= TOP_DAY_MATCH * np.maximum(np.abs(ta), np.abs(tb)))
    if as_last and n:
        rhythm &= rhythm[-1]
    return np.where(rhythm[:, None], np.nan_to_num(day.mean(axis=1)), 0.0)


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
