"""Hours as numbers: the length of an hour and a day, and epoch seconds of pandas times."""
from __future__ import annotations

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
# put at. The calendar is then made up: forecaster.Forecaster picks the weekdays that fit best

SUB_HOUR = "sub_hour"  # an hourly series' attrs key: seconds its hours begin after UTC's (a CSV
# in a zone half an hour or 45 minutes off: +05:30 1800, +05:45 900); each of its hours is kept
# in the UTC hour that begins that long before it, and written back as it was


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC epoch seconds of a DatetimeIndex, whatever its unit (pandas 3 is not always ns)."""
    return index.as_unit("s").asi8.astype(np.int64)


def epoch(t: pd.Timestamp) -> int:
    """UTC epoch seconds of one timestamp."""
    return int(t.timestamp())
