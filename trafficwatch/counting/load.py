"""The one loader of the model commands (forecast, eval, train) and the fine-tuning child:
logs or a CSV of hourly counts to one hourly series, with the same input and filter options
as `counts` and the app."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trafficwatch.counting.ingest import IngestOptions, ingest
from trafficwatch.counting.series import HourlySeries
from trafficwatch.safe import safe_name, safe_text

if TYPE_CHECKING:  # pandas loads when a series is made: `counts` and --help never import it
    import pandas as pd


@dataclass(frozen=True)
class SeriesChoice:
    """Which series of the logs: the site (None: all summed), metric and filters."""

    site: str | None = None
    metric: str = "hits"
    bots: bool | str = True
    status_classes: frozenset[int] | None = None


def load_hourly(paths: list[str], opts: IngestOptions | None = None,
                choice: SeriesChoice | None = None) -> pd.Series:
    """One hourly series from logs or from a counts CSV (`hour,count`); ValueError on failure.

    A single `.csv` is read as counts (the options and filters are for logs). Files that could
    not be read are named on stderr; nothing readable at all is a ValueError. The series is what
    a model reads: a site's first hour is a gap when its log began inside it (`whole_hours`).
    """
    choice = choice or SeriesChoice()
    if len(paths) == 1 and Path(paths[0]).suffix.lower() == ".csv":
        return read_counts_csv(paths[0])
    series = HourlySeries(track_visitors=choice.metric == "visitors")
    series, report = ingest(paths, opts or IngestOptions(), series)
    for name, why in report.skipped:
        print(f"trafficwatch: skipped {safe_text(name)}: {why}", file=sys.stderr)
    for f in report.failed:
        print(f"trafficwatch: {safe_text(f.error)}", file=sys.stderr)
    if not series.sites():
        raise ValueError(f"no request could be read from {', '.join(map(safe_name, paths))}")
    if choice.site is not None and choice.site not in series.sites():
        found = ", ".join(safe_name(s) for s in series.sites())
        raise ValueError(f"no site {safe_name(choice.site)}; found: {found}")
    return series.series(choice.site, choice.metric, bots=choice.bots,
                         status_classes=choice.status_classes, whole_hours=True)


def read_counts_csv(path: str) -> pd.Series:
    """Read a CSV of hourly counts (`hour,count` or `hour,visits`; ISO 8601 hours) as UTC.

    Missing hours between the first and last row become NaN (gaps), as do empty values.
    """
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read as a CSV of hourly counts ({exc})") from exc
    cols = [c.strip().lower() for c in df.columns]
    df.columns = cols
    value_col = next((c for c in ("count", "visits", "hits", "value", "y") if c in cols), None)
    time_col = next((c for c in ("hour", "ds", "time", "timestamp") if c in cols), None)
    if value_col is None or time_col is None:
        raise ValueError(f"{path}: expected columns hour,count (or hour,visits); found {','.join(cols)}")
    hours = pd.to_datetime(df[time_col], utc=True, errors="coerce", format="ISO8601")
    values = pd.to_numeric(df[value_col], errors="coerce")
    bad = hours.isna()
    if bad.all():
        raise ValueError(f"{path}: no row has an ISO 8601 hour in column {time_col!r}")
    s = pd.Series(values[~bad].to_numpy(dtype=float), index=pd.DatetimeIndex(hours[~bad]).floor("h"))
    s = s.groupby(level=0).sum(min_count=1).sort_index()
    full = pd.date_range(s.index[0], s.index[-1], freq="h")
    return s.reindex(full).rename("count")
