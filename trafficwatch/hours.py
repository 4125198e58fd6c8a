"""Hours as numbers: the length of an hour and a day, and epoch seconds of pandas times."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

HOUR = 3600
DAY = 86400


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC epoch seconds of a DatetimeIndex, whatever its unit (pandas 3 is not always ns)."""
    return index.as_unit("s").asi8.astype(np.int64)


def epoch(t: pd.Timestamp) -> int:
    """UTC epoch seconds of one timestamp."""
    return int(t.timestamp())
