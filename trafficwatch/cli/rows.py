"""How `counts` and `counts --follow` write an hour's row: its text in an offset, CSV fields."""
from __future__ import annotations

import datetime as dt

import numpy as np

from trafficwatch.counting.series import HourlySeries
from trafficwatch.hours import HOUR, zone_offsets
from trafficwatch.safe import csv_text

CSV_HEADER = "hour,site,metric,count"
COUNTS_CSV_HEADER = CSV_HEADER + ",partial"  # counts (not --follow): 1 marks an hour the log
# begins or ends inside, or the hour in progress, as JSON's "partial"; forecast, eval and train
# read it as a gap


def hour_offsets(series: HourlySeries, site: str, hours: np.ndarray,
                 tz: dt.tzinfo | None) -> np.ndarray:
    """Seconds east of UTC to show each hour (UTC hour numbers) in: --tz's, else the offset its
    lines were written in (DST changes included)."""
    if tz is None:
        return series.offsets_at(site, hours)
    return zone_offsets(hours, tz)


def hour_texts(hours: np.ndarray, offsets: np.ndarray) -> list[str]:
    """ISO 8601 text of each hour (UTC hour numbers) in its offset: `2026-11-20T10:00:00+01:00`.

    Formatted by numpy for the whole column (a year of hours is 8,760 rows; per-row datetime
    formatting was the largest part of `counts` on logs spanning years).
    """
    local = np.datetime_as_string((hours * HOUR + offsets).astype("datetime64[s]"), unit="s")
    suffix = {off: dt.datetime(2000, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=off)))
              .isoformat()[19:] for off in set(offsets.tolist())}
    return [t + suffix[o] for t, o in zip(local.tolist(), offsets.tolist())]


def csv_field(text: str) -> str:
    """A shown name as a CSV field: guarded against spreadsheets' formulas (`csv_text`) and
    quoted when it holds a comma, a quote or a newline."""
    text = csv_text(text)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text
