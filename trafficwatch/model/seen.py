"""Days a model was trained on, known by their counts: so `eval` can say a series is in-sample
however it is named.

A checkpoint keeps a key for each whole day of the real series it learned from (`SEEN_KEY` in
its data): a 64-bit hash of the day's 24 hourly counts, rounded. A series given to `eval` is
looked up day by day at every hour it may begin on (a copy read in its local time starts its
days at another UTC hour; a benchmark's made-up dates at any). Its name, its dates and its file
do not matter: a trial's copy of WorldCup98 under another name, piped on stdin, or exported by
pandas scored as if never seen. Days too plain to tell apart (fewer than MIN_DISTINCT counts:
a quiet night, a series of 0s and 1s) are neither kept nor looked up.
"""
from __future__ import annotations

import base64

import numpy as np

SEEN_KEY = "seen_days"  # checkpoint data: base64 of the sorted keys (little-endian uint64)
DAY = 24
MIN_DISTINCT = 6  # counts a day must hold to be told from another series' day
MIN_MATCHED = 2  # days alike, at the least, for a series to be called seen


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every bit of the input moves every bit of the output."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _keys(windows: np.ndarray) -> np.ndarray:
    """(n, 24) counts -> n keys; rows with a gap or too few distinct counts dropped."""
    ok = np.isfinite(windows).all(axis=1)
    windows = windows[ok]
    if not len(windows):
        return np.zeros(0, np.uint64)
    whole = np.rint(windows).astype(np.int64)
    srt = np.sort(whole, axis=1)
    distinct = 1 + (np.diff(srt, axis=1) != 0).sum(axis=1)
    whole = whole[distinct >= MIN_DISTINCT].view(np.uint64)
    h = np.full(len(whole), 0x9E3779B97F4A7C15, np.uint64)
    with np.errstate(over="ignore"):
        for k in range(DAY):
            h = _mix(h ^ whole[:, k])
    return h


def day_keys(values: np.ndarray) -> np.ndarray:
    """Keys of a training series' days: its hours taken 24 at a time from its first (sorted,
    unique)."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v) // DAY * DAY
    return np.unique(_keys(v[:n].reshape(-1, DAY)))


def encode(keys: np.ndarray) -> str:
    """Keys as checkpoint data (JSON-safe)."""
    return base64.b64encode(np.unique(keys).astype("<u8").tobytes()).decode("ascii")


def decode(text: object) -> np.ndarray:
    """Keys from checkpoint data (encoded, or the array a `.npz` holds); none from anything
    else (a model trained before they were kept, or metadata that is not ours)."""
    if isinstance(text, np.ndarray) and text.dtype == np.uint64 and text.ndim == 1:
        return text
    if not isinstance(text, str):
        return np.zeros(0, np.uint64)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return np.zeros(0, np.uint64)
    if len(raw) % 8:
        return np.zeros(0, np.uint64)
    return np.frombuffer(raw, "<u8").astype(np.uint64)


def days_seen(values: np.ndarray, keys: np.ndarray) -> int:
    """How many of a series' days, beginning at any hour, are days of `keys` (0: none; at
    least MIN_MATCHED to call the series seen)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < DAY or not len(keys):
        return 0
    windows = np.lib.stride_tricks.sliding_window_view(v, DAY)
    plain = np.isin(_keys(windows), keys, assume_unique=False).sum()
    found = max(plain, np.isin(_keys(reduced(windows)), keys).sum())
    f = integral_factor(v)
    if f is not None:  # x0.5, x0.01 of the counts learned from: the counts again, x f
        found = max(found, np.isin(_keys(reduced(windows * f)), keys).sum())
    return int(found)


# what a series of fractions may be multiplied by to be whole again (x0.5, x0.01, x0.004 of
# counts: a trial's nyc_taxi x0.5 and x0.01 scored as never seen, x2 and x1000 as seen)
_FACTORS = sorted({m * 10 ** k for k in range(10) for m in (1, 2, 4, 5, 8)} - {1})


def integral_factor(values: np.ndarray) -> float | None:
    """The least of _FACTORS that makes every count of `values` whole (to within 1e-6),
    None where they are whole already or none does."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if not len(x) or (x == np.rint(x)).all():
        return None
    for f in _FACTORS:
        y = x * f
        if (np.abs(y - np.rint(y)) <= 1e-6).all():
            return float(f)
    return None


def reduced(windows: np.ndarray) -> np.ndarray:
    """Each day's counts over their greatest common divisor: a copy in other units (x1000,
    x1e6: a trial's nyc_taxi x1e6 scored as never seen) is the day learned from, whose counts
    share none (days that did are not told by it: as before). Gaps and days of 0s as given."""
    ok = np.isfinite(windows).all(axis=1)
    whole = np.where(np.isfinite(windows), np.rint(windows), 0).astype(np.int64)
    g = np.gcd.reduce(np.abs(whole), axis=1)
    g[(g == 0) | ~ok] = 1
    out = (whole // g[:, None]).astype(np.float64)
    out[~ok] = np.nan
    return out
