"""Hours as numbers: the length of an hour and a day, and epoch seconds of pandas times."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

HOUR = 3600
DAY = 86400
OFFSETS = "utc_offsets"  # an hourly series' attrs key: the UTC offset (seconds east) its log's
# lines were written in, hour by hour, a Series on its hours (HourlySeries.series sets it on
# what a model reads, forecaster.on_site_clock follows a daylight-saving change with it)
HOUR_NUMBERS = "hour_numbers"  # an hourly series' attrs key: its times were hour numbers, not
# dates (a benchmark's ds = 1, 2, 3...; load.read_counts_csv_all): the epoch hour number 0 was
# put at. The calendar is then made up: forecaster.Forecaster picks the hour of the day and the
# weekdays that fit best

SUB_HOUR = "sub_hour"  # an hourly series' attrs key: seconds its hours begin after UTC's (a CSV
# in a zone half an hour or 45 minutes off: +05:30 1800, +05:45 900); each of its hours is kept
# in the UTC hour that begins that long before it, and written back as it was


CLOCK_CHANGE_H = 24 * 28  # hours: offsets that change again sooner are no daylight saving


def clock_changes(offsets: np.ndarray) -> tuple[int, int] | None:
    """None where hourly `offsets` change as a clock does (at most once, or each change at least
    CLOCK_CHANGE_H after the one before); else (the hour index after a change, hours to the
    next one): offsets that flip back and forth are two servers (or tools) writing into one
    log, each its own offset, and the hours are read as the instants they name."""
    changes = np.flatnonzero(np.diff(np.asarray(offsets)) != 0)
    if len(changes) < 2 or np.diff(changes).min() >= CLOCK_CHANGE_H:
        return None
    i = int(np.argmin(np.diff(changes)))
    return int(changes[i] + 1), int(changes[i + 1] - changes[i])


def zone_offsets(hours: np.ndarray, tz: dt.tzinfo) -> np.ndarray:
    """Seconds east of UTC of the zone `tz` at each hour (UTC hour numbers): daylight saving
    included."""
    return np.asarray([dt.datetime.fromtimestamp(h * HOUR, tz).utcoffset().total_seconds()
                       for h in np.asarray(hours).tolist()], np.int64)


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC epoch seconds of a DatetimeIndex, whatever its unit (pandas 3 is not always ns)."""
    return index.as_unit("s").asi8.astype(np.int64)


def epoch(t: pd.Timestamp) -> int:
    """UTC epoch seconds of one timestamp."""
    return int(t.timestamp())


def clock_shift(delta_s: np.ndarray) -> np.ndarray:
    """Whole hours traffic that keeps local time moved in UTC, for each difference between
    two of a log's offsets (seconds): daylight saving's hour, either way; 0 for a difference
    of more than an hour, a server's time zone set anew while its visitors' hours stayed where
    they were in UTC (+0000 to -0500: moved 5 hours, 4 weeks of "last week" were forecast 5
    hours off, at 10x the hour's error of the UTC one, a trial)."""
    d = np.rint(np.asarray(delta_s, dtype=np.float64) / HOUR).astype(np.int64)
    return np.where(np.abs(d) <= 1, d, 0)


def week_before(hours: np.ndarray, counts: np.ndarray, at: np.ndarray, skip: int | None = None,
                offsets: np.ndarray | None = None) -> np.ndarray:
    """The counts of the same hours a week before each of the hours `at` (UTC epoch seconds;
    NaN where `hours` has none, and at `skip`, the hour in progress: its count so far is not the
    hour's). `offsets`: the log's offset of each of `hours` (seconds east of UTC; an hour past
    them has the last one's): a week before a daylight-saving change, traffic that keeps local
    time came an hour later or earlier in UTC, and "the same hour" is the same local hour (the
    forecast's "same hour last week" reads it so: forecaster.on_site_clock)."""
    hours = np.asarray(hours, dtype=np.int64)
    at = np.asarray(at, dtype=np.int64)
    want = at - 7 * DAY
    if offsets is not None and len(hours):
        off = np.asarray(offsets, dtype=np.int64)

        def offset(t: np.ndarray) -> np.ndarray:  # the offset of the latest of `hours` <= t
            return off[np.clip(np.searchsorted(hours, t, side="right") - 1, 0, None)]

        want = want + clock_shift(offset(at) - offset(want)) * HOUR
    out = np.full(len(want), np.nan)
    if len(hours):
        i = np.clip(np.searchsorted(hours, want), 0, len(hours) - 1)
        hit = (hours[i] == want) & (hours[i] != (skip if skip is not None else -1))
        out[hit] = np.asarray(counts, dtype=float)[i[hit]]
    return out
