"""Scaling and features outside the model: log1p, per-window normalisation, gap mask, calendar.

A window of raw hourly counts (NaN = no log covers that hour) becomes (T, 6) features:
    z      = (log1p(count) - loc) / scale, 0 where missing (loc/scale: the window's observed hours)
    mask   = 1 observed, 0 missing (gaps and left padding for short histories)
    sin/cos of hour-of-day, sin/cos of the hour-of-week phase (weekday), from the UTC hour
Targets are scaled with the same loc/scale, so the model never sees absolute traffic levels:
one set of weights serves a site with 1 visit an hour and one with 100,000.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

MIN_SCALE = 0.1  # floor on the log-space spread: a flat window must not blow noise up
HOUR_NS = 3_600_000_000_000


@dataclass
class Windows:
    """Model-ready windows: inputs, scaled targets with their mask, and the scaling to undo."""

    x: np.ndarray  # (N, T, F) float32
    y: np.ndarray  # (N, H) float32 scaled targets, 0 where missing
    y_mask: np.ndarray  # (N, H) float32, 1 = observed target
    loc: np.ndarray  # (N,) float64
    scale: np.ndarray  # (N,) float64
    origin: np.ndarray  # (N,) int64 index in the series of the first forecast hour


def epoch_hours(index: pd.DatetimeIndex) -> np.ndarray:
    """Hours since 1970-01-01 UTC for each timestamp (int64)."""
    return index.as_unit("ns").asi8 // HOUR_NS


def check_series(series: pd.Series) -> pd.Series:
    """Check an hourly series (tz-aware UTC index, consecutive hours); return it as float."""
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError("expected an hourly series with a DatetimeIndex")  # noqa: TRY004 (callers catch ValueError: unusable series)
    idx = series.index
    if idx.tz is None:
        raise ValueError("expected a tz-aware (UTC) hourly index")
    if len(idx) > 1 and not (np.diff(epoch_hours(idx)) == 1).all():
        raise ValueError("expected consecutive hours (gaps as NaN, not missing rows)")
    return series.astype(float)


def calendar(hours: np.ndarray) -> np.ndarray:
    """(...,) epoch hours -> (..., 4) sin/cos hour-of-day and sin/cos hour-of-week."""
    hod = (hours % 24) * (2 * np.pi / 24)
    how = (((hours // 24) + 3) % 7 * 24 + hours % 24) * (2 * np.pi / 168)  # Monday 00:00 = 0
    return np.stack([np.sin(hod), np.cos(hod), np.sin(how), np.cos(how)], axis=-1)


def scale_windows(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, T) raw counts -> z (N, T) with 0 for gaps, mask (N, T), loc (N,), scale (N,)."""
    v = np.log1p(np.clip(raw, 0.0, None))
    mask = np.isfinite(v)
    n = mask.sum(axis=1)
    vz = np.where(mask, v, 0.0)
    loc = vz.sum(axis=1) / np.maximum(n, 1)
    var = (np.where(mask, v - loc[:, None], 0.0) ** 2).sum(axis=1) / np.maximum(n, 1)
    scale = np.maximum(np.sqrt(var), MIN_SCALE)
    z = np.where(mask, (vz - loc[:, None]) / scale[:, None], 0.0)
    return z, mask.astype(np.float64), loc, scale


def encode(raw: np.ndarray, first_hour: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, T) raw windows + (N,) epoch hour of each first step -> x (N, T, F), loc, scale."""
    _, T = raw.shape
    z, mask, loc, scale = scale_windows(raw)
    hours = first_hour[:, None] + np.arange(T)[None, :]  # (N, T)
    x = np.concatenate([z[..., None], mask[..., None], calendar(hours)], axis=-1)  # (N, T, 6)
    return x.astype(np.float32), loc, scale


def scale_targets(raw: np.ndarray, loc: np.ndarray,
                  scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H) raw targets -> scaled targets (0 where missing) and their mask."""
    v = np.log1p(np.clip(raw, 0.0, None))
    mask = np.isfinite(v)
    y = np.where(mask, (np.where(mask, v, 0.0) - loc[:, None]) / scale[:, None], 0.0)
    return y.astype(np.float32), mask.astype(np.float32)


def decode(zq: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(N, H, Q) scaled quantiles -> counts (never negative); monotone, so order is kept."""
    v = zq * scale[:, None, None] + loc[:, None, None]
    return np.clip(np.expm1(np.clip(v, None, 30.0)), 0.0, None)


def make_windows(values: np.ndarray, start_hour: int, window: int, horizon: int,
                 origins: np.ndarray | None = None, min_observed: int = 24,
                 min_target: int = 1, rng: np.random.Generator | None = None,
                 augment: float = 0.0) -> Windows:
    """Cut a series (values[i] at epoch hour start_hour+i) into windows ending before each origin.

    Inputs before the series start are padded as missing (a short history still gets a window).
    With `rng`, a share `augment` of windows loses its oldest hours (a young site) and as many
    get a random gap of 1-48 h (a log that was not collected), so the model learns to use the mask.
    Windows with fewer than `min_observed` observed inputs or `min_target` observed targets are
    dropped.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    padded = np.concatenate([np.full(window, np.nan), values, np.full(horizon, np.nan)])
    if origins is None:
        origins = np.arange(1, n)
    origins = np.asarray(origins, dtype=np.int64)
    ins = sliding_window_view(padded, window)[origins]  # (N, T): values[o-T:o]
    outs = sliding_window_view(padded, horizon)[origins + window]  # (N, H): values[o:o+H]
    if rng is not None and augment > 0 and len(ins):
        _augment(ins, rng, augment, min_observed)
    keep = (np.isfinite(ins).sum(1) >= min_observed) & (np.isfinite(outs).sum(1) >= min_target)
    ins, outs, origins = ins[keep], outs[keep], origins[keep]
    x, loc, scale = encode(ins, start_hour + origins - window)
    y, y_mask = scale_targets(outs, loc, scale)
    return Windows(x, y, y_mask, loc, scale, origins)


def _augment(ins: np.ndarray, rng: np.random.Generator, share: float, min_keep: int) -> None:
    """In place: truncate the history of some windows and punch a gap into others."""
    N, T = ins.shape
    steps = np.arange(T)[None, :]
    young = rng.random(N) < share
    cut = rng.integers(0, max(T - min_keep, 1), N)  # hours lost at the old end
    ins[young[:, None] & (steps < cut[:, None])] = np.nan
    holed = rng.random(N) < share
    length = rng.integers(1, 49, N)
    start = rng.integers(0, T, N)
    ins[holed[:, None] & (steps >= start[:, None]) & (steps < (start + length)[:, None])] = np.nan


def last_window(series: pd.Series, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Model input to forecast right after the series' last hour: x (1, T, F), loc, scale, end."""
    values = series.to_numpy(dtype=np.float64)[-window:]
    end = int(epoch_hours(series.index[-1:])[0]) + 1  # first forecast hour
    raw = np.concatenate([np.full(window - len(values), np.nan), values])[None, :]
    x, loc, scale = encode(raw, np.array([end - window]))
    return x, loc, scale, end
