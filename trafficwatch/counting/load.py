"""The one loader of the model commands (forecast, eval, train) and the fine-tuning child:
logs or a CSV of hourly counts to one hourly series, with the same input and filter options
as `counts` and the app."""
from __future__ import annotations

import datetime as dt
import io
import itertools
import os
import re
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from trafficwatch.counting.columns import (
    MAX_PREAMBLE,
    SERIES_COLUMNS,
    TIME_COLUMNS,
    VALUE_COLUMNS,
    csv_named,
    has_counts_header,
    is_comment,
    other_separator,
    separator_name,
)
from trafficwatch.counting.ingest import STDIN, IngestOptions, ingest, spooled_stdin
from trafficwatch.counting.series import (
    HourlySeries,
    ended_sites_note,
    no_site,
    young_sites_note,
)
from trafficwatch.hours import (
    HOUR,
    HOUR_NUMBERS,
    OFFSETS,
    SUB_HOUR,
    clock_changes,
    epoch_seconds,
)
from trafficwatch.safe import name_from_csv, name_from_shown, safe_name, safe_text

if TYPE_CHECKING:  # pandas loads when a series is made: `counts` and --help never import it
    import pandas as pd


@dataclass(frozen=True)
class SeriesChoice:
    """Which series of the logs: the site (None: all summed), metric and filters."""

    site: str | None = None
    metric: str = "hits"
    bots: bool | str = True
    status_classes: frozenset[int] | None = None
    tz: dt.tzinfo | None = None  # --tz: the zone of a CSV's hours that state no offset


def warn_stderr(line: str) -> None:
    """A reader's warning, as every command writes one: `trafficwatch: ...` on stderr."""
    print(f"trafficwatch: {line}", file=sys.stderr)


def is_counts_csv(paths: list[str]) -> bool:
    """A single `.csv`, or a file or stdin whose first line is a counts CSV's header
    (`hour,count`): read as counts, not as a log (`eval counts.txt` was read as a log, which
    said "already hourly counts: eval reads it directly"). Looking at stdin reads it: call it
    inside `reading(paths)`."""
    if len(paths) != 1:
        return False
    if paths[0] == "-":
        with spooled_stdin() as copy:
            return has_counts_header(copy)
    return csv_named(paths[0]) or (os.path.isfile(paths[0]) and has_counts_header(paths[0]))


def reading(paths: list[str]) -> AbstractContextManager[object]:
    """The block in which `paths` are looked at and read: with `-` among them, stdin copied once
    for it (a look at its first line, then the CSV or log reader, read the same copy)."""
    return spooled_stdin() if "-" in paths else nullcontext()


def check_csv_alone(paths: list[str]) -> None:
    """ValueError when a CSV of hourly counts comes with other paths: one is read at a time
    (several series go in one CSV), and as a log it only gave "no known log format"."""
    csvs = [p for p in paths if p != "-" and (csv_named(p) or has_counts_header(p))]
    if len(paths) > 1 and csvs:  # the CSV named, and a few of the rest (50 rotations beside
        # it made a line of every one, a trial)
        rest = [p for p in paths if p not in csvs]
        shown = [*csvs[:2], *rest[:2]]
        more = len(paths) - len(shown)
        raise ValueError(f"{', '.join(safe_name(p) for p in shown)}"
                         f"{f' and {more} more' if more else ''}: one CSV of hourly counts "
                         "is read at a time, alone; for several series, put them in one CSV "
                         f"with a {' or '.join(SERIES_COLUMNS[:2])} column naming each row's "
                         "series")


def nothing_to_read(report) -> str:
    """'nothing to read: PATH: no such file; ...' when no path named a file (mistyped paths),
    else "": said alone, in one line, by every command."""
    if report.files or report.ignored or not report.skipped:
        return ""
    said = "; ".join(f"{safe_text(n)}: {why}" for n, why in report.skipped[:3])
    more = f" and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
    return f"nothing to read: {said}{more}"


def load_hourly(paths: list[str], opts: IngestOptions | None = None,
                choice: SeriesChoice | None = None) -> pd.Series:
    """One hourly series from logs or from a counts CSV (`hour,count`); ValueError on failure.

    A single `.csv` is read as counts (the options and filters are for logs). Files that could
    not be read are named on stderr; nothing readable at all is a ValueError. The series is what
    a model reads: a site's first hour is a gap when its log began inside it (`whole_hours`).
    """
    with reading(paths):
        return _load_hourly(paths, opts, choice or SeriesChoice())


def _load_hourly(paths: list[str], opts: IngestOptions | None,
                 choice: SeriesChoice) -> pd.Series:
    if is_counts_csv(paths):
        return without_hour_in_progress(
            read_counts_csv(paths[0], warn=warn_stderr, site=choice.site, metric=choice.metric,
                            tz=choice.tz),
            shown_name(paths[0]))
    check_csv_alone(paths)
    series = HourlySeries(track_visitors=choice.metric == "visitors")
    series, report = ingest(paths, opts or IngestOptions(), series)  # (every site's files:
    # whether the site is the logs' only one decides which fine-tune the app keeps for it)
    if why := nothing_to_read(report):  # mistyped paths: one line, as counts says it
        raise ValueError(why)
    for name, why in report.skipped:
        print(f"trafficwatch: skipped {safe_text(name)}: {why}", file=sys.stderr)
    for f in report.failed:
        print(f"trafficwatch: {safe_text(f.error)}", file=sys.stderr)
    some_lost = bool(report.failed or report.skipped)  # exit code 1, as `counts` gives
    if not series.sites():
        raise ValueError(f"no request could be read from {', '.join(map(shown_name, paths))}")
    if choice.site is not None and series.resolve(choice.site) is None:
        raise ValueError(no_site(choice.site, series.sites()))
    if choice.site is not None:  # its own name from here on (given as trafficwatch writes it)
        choice = replace(choice, site=series.resolve(choice.site))
    import pandas as pd  # (loaded by `ingest` already)

    clock = pd.Timestamp.now(tz="UTC").timestamp()  # (forecast's clock)
    if choice.site is None and len(series.sites()) > 1:  # summed: said (it read as one site's)
        say_summed(series)
        for note in (young_sites_note(series, clock),
                     ended_sites_note(series, "--site NAME for one")):
            if note:
                print(f"trafficwatch: {note}", file=sys.stderr)
    s = series.series(choice.site, choice.metric, bots=choice.bots,
                      status_classes=choice.status_classes, whole_hours=True)
    # the hours `counts` marks partial are gaps, whatever their last line: the hour in progress
    # by the clock (a line in its last minute made it whole to partial_end, which reads logs no
    # longer written: `forecast` at 13:59:45 began at 14:00, skipping 13:00) and, with lines
    # dated past it, the logs' own last hour (one line dated 16:31 made 15:00's 3 requests of
    # 100 a whole hour, and the forecast fell to 64). Quiet hours after the clock's have not
    # happened here: unknown, as `counts` prints them
    hours = epoch_seconds(s.index) // HOUR
    late = (hours > clock // HOUR) & (s.to_numpy() == 0)
    if len(hours) and hours[-1] == clock // HOUR:  # the hour in progress: its count so far
        raw = series.series(choice.site, choice.metric, bots=choice.bots,
                            status_classes=choice.status_classes, whole_hours=False)
        if len(raw) and np.isfinite(raw.iloc[-1]) and raw.index[-1] == s.index[-1]:
            s.attrs[SO_FAR] = (int(clock // HOUR * HOUR), float(raw.iloc[-1]))
    s[np.isin(hours, series.unfinished_hours(choice.site, clock)) | late] = float("nan")
    offsets = {series.utc_offset(x) for x in ([choice.site] if choice.site else series.sites())}
    if len(offsets) == 1:  # the logs' own offset, to show hours in (sites of several: UTC)
        s.attrs["utc_offset"] = offsets.pop()
    s.attrs["some_file_lost"] = some_lost
    s.attrs["sites"] = tuple(series.sites())  # every site the logs hold (not only the one read)
    return s


def without_hour_in_progress(s: pd.Series, name: str, now: float | None = None) -> pd.Series:
    """A CSV's series without its last hour when that hour is in progress by this machine's
    clock (it began, and is not over): `counts` run at 06:20 writes 06:00's count so far, which
    a forecast read as a whole hour (20 minutes of it) and began an hour late, as it never does
    from the logs. A last hour still to come is kept: such a series is not live data."""
    if not len(s):
        return s
    last = s.index[-1]
    start, now = last.timestamp(), time.time() if now is None else now
    if not start <= now < start + HOUR:  # over, or later than now: not live data (a CSV of
        return s  # 2150's hours lost its last one)
    warn_stderr(f"{name}: its last hour, {last.isoformat()}, is not over yet: left out, as "
                "the hour in progress of a log is")
    out = s.iloc[:-1]
    out.attrs.update(s.attrs)
    return out


SO_FAR = "so_far"  # attrs of a series from logs: (the hour in progress, epoch s; its count so
# far), for `forecast` to forecast that hour's whole count from it
METRIC_COLUMN = "metric"  # `counts`' hits, pages or visitors: rows of several are series apart
PARTIAL_COLUMN = "partial"  # `counts`' mark of an hour the log ends inside or still in progress
PARTIAL_YES = frozenset({"1", "1.0", "true", "yes"})  # as counts writes it, or pandas back
PARTIAL_NO = frozenset({"", "0", "0.0", "false", "no", "nan"})
NO_NAME = "(no name)"  # the series of rows whose series column is empty
NEGATIVE_SHARE, NEGATIVE_ROWS = 0.05, 24  # a series with more of its rows negative, and this
# many at least, is not counts: left out (with no other series, refused); fewer are read as
# gaps, said as other counts that are not
MAX_COUNT = 1e12  # requests in an hour, at the most (277 million a second, beyond any site or
# fleet): a CSV's 1e300 had been read as a count, overflowed float32 (a numpy warning on stderr)
# and gave a forecast 250 digits long; 10**12 in the last hour of a site of 500 an hour gave 2
# billion a week on
DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}$")  # 2023-01-11: a day, not an hour
HOUR_NUMBER = re.compile(r"\d{1,7}(?:\.0*)?$")  # ds = 1, 2, 3... (or 1.0, 2.0: a float column):
# a benchmark's hours without dates (M4's as statsforecast and neuralforecast read it); 8 digits
# are a date (DATE_ONLY)
EPOCH = re.compile(r"(\d{10}|\d{13})(?:\.\d*)?$")  # Unix time in seconds or milliseconds (a
# Prometheus or Grafana export): real instants, UTC
WHOLE = re.compile(r"\d+(?:\.0*)?$")  # a whole number, as an int or float column writes it
NUMBER = re.compile(r"\d+(?:\.\d*)?$")  # a number, whole or not (not negative)
UNIX_STEP_SHARE = 0.9  # of the steps between a series' rows: how many, at least, a whole number
# of hours in seconds (3600) or milliseconds (3,600,000) make a column of other numbers Unix
# times (before 2001-09-09 they have 9 digits or fewer, 946684800 is 2000; epoch 0 is 0, 3600...)
LAST_UNIX_S = 9_223_372_036  # 2262-04-11: the last second a nanosecond datetime holds
MAX_NUMBERED_H = 100 * 8766  # hours: the most one series of hour numbers may span (100 years;
# its first hour must still be a date a datetime holds)
MADE_UP_END = 1229381999 // HOUR  # epoch hour where a series of hour numbers ends: Mon
# 2008-12-15 23:00 UTC, 265 days after Easter Monday and 8 before the Christmas days the model
# flags (features.holiday), so a made-up calendar holds no holiday for its last 6,360 hours
# and the 168 forecast after them


@dataclass(frozen=True)
class CountsCSV:
    """The series of a counts CSV: one keyed "" without a series column, else one per name."""

    column: str | None  # the series column's name, None without one
    series: dict[str, pd.Series]
    left: tuple[str, ...] = ()  # the series none of whose rows could be read, or refused whole


def read_counts_csv_all(path: str, warn: Callable[[str], None] | None = None,
                        only: str | None = None, metric: str = "hits",
                        tz: dt.tzinfo | None = None) -> CountsCSV:
    """Every series of a CSV of hourly counts (`hour,count`; ISO 8601 hours), as UTC.

    An hour that states no offset is `tz`'s wall clock (UTC without one): a daylight-saving
    change's repeated hour is its summer one the first time a series has it in time order
    (a file newest first: the last), its winter one the other; an hour the clock skipped is
    the next one.

    Columns: the hour (hour, ds, time, timestamp; GA4's dateHour; date, or a date column beside
    an hour of the day: TIME_COLUMNS), the count (count, visits, hits, value, y, or an
    analytics tool's sessions, pageviews...: VALUE_COLUMNS, the first found read and said) and,
    optionally, which series a row is of (site as `counts` writes, unique_id, series
    or id), in any order. Missing hours between a series' first and last row become NaN (gaps),
    as do empty values (said). Rows that cannot be used are not dropped in silence: `warn` gets one
    line per kind (rows without an ISO 8601 hour or with the wrong number of fields, left out;
    counts that are not a number of requests, 0 or more and below MAX_COUNT, read as gaps; rows
    repeated as they were, the same time and count, read once; an hour on several other rows
    of one series, counts added). A UTF-8 BOM (Excel's "CSV UTF-8") is not part of the header.
    Rows a whole number of days apart (daily counts stamped at midnight) are a ValueError: read
    as hours, they were 23 gaps a day and a day's count for its first hour. `path` "-": stdin.
    `only`: the series asked for (--site); the rows of the others are read, not warned about.
    A `metric` column (as `counts` writes) of several metrics: the rows of `metric` are read,
    the others left out and said; a ValueError where it holds none of `metric`'s.
    """
    if path == "-":
        with spooled_stdin() as copy:
            return _read_counts_csv(copy, STDIN, warn, only, metric, tz)
    return _read_counts_csv(path, safe_name(path), warn, only, metric, tz)


def shown_name(path: str) -> str:
    """A path as messages name it: `-` is stdin."""
    return STDIN if path == "-" else safe_name(path)


def _read_counts_csv(path: str, shown: str, warn: Callable[[str], None] | None,
                     only: str | None = None, metric: str = "hits",
                     tz: dt.tzinfo | None = None) -> CountsCSV:
    """read_counts_csv_all of a file, named `shown` in every message."""
    import csv
    import math

    import pandas as pd

    from trafficwatch.logs.read import UTF16_BOMS, open_stream, stream_error

    try:  # a .gz or .bz2 read decompressed (by its magic bytes, as logs are)
        with open_stream(path) as raw, \
                io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh:  # -sig: a BOM
            rows = list(csv.reader(fh))  # dropped
            broken = stream_error(raw)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        if isinstance(exc, UnicodeDecodeError) and exc.object[:2] in UTF16_BOMS:
            raise ValueError(f"{shown}: UTF-16 text (Excel's \"Unicode text\"?): save it as "
                             "UTF-8 (CSV UTF-8)") from exc
        raise ValueError(f"{shown}: cannot read as a CSV of hourly counts "
                         f"({safe_text(str(exc))})") from exc
    if broken and warn is not None:  # the rows before the break are read
        warn(f"{shown}: {safe_text(broken)}")
    lead = 0  # comment lines before the header (GA4's export opens with "# ------"), and blank
    while lead < min(len(rows), MAX_PREAMBLE) and (not rows[lead] or is_comment(rows[lead][0])):
        lead += 1
    rows = rows[lead:]
    if not rows:
        raise ValueError(f"{shown}: empty: expected columns hour,count")
    cols = [c.strip().lower() for c in rows[0]]
    values_in = [c for c in VALUE_COLUMNS if c in cols]
    value_col = values_in[0] if values_in else None
    time_col = next((c for c in TIME_COLUMNS if c in cols), None)
    if value_col is None or time_col is None:
        # the columns found, the first few (an M4 file's 701 made one line of 3.6 KB, a trial),
        # and what the file looks like when it is a known other layout
        # as written (lower case, a headerless row's "A,2015-..." read "a,2015-...", a trial)
        found_cols = ",".join(c.strip() for c in rows[0][:8]) + (
            f",… ({len(cols):,} columns)" if len(cols) > 8 else "")
        hint = ""
        sep = other_separator(cols)
        if sep is not None:
            hint = (f"; its columns look separated by {separator_name(sep)}: "
                    "trafficwatch reads comma-separated values")
        elif len(cols) > 8 and sum(bool(re.fullmatch(r"v?\d+", c)) for c in cols) > len(cols) / 2:
            # (V1, V2, ... or numbers: not any wide export, a review)
            hint = ("; one series per row, a column per hour (M4's layout)? write one row per "
                    "hour instead: unique_id,ds,y")
        raise ValueError(f"{shown}: expected columns hour,count (the hour: "
                         f"{' or '.join(TIME_COLUMNS)}; the count: {' or '.join(VALUE_COLUMNS)}; "
                         f"optionally one of {', '.join(SERIES_COLUMNS)} naming the series); "
                         f"found {safe_text(found_cols, tabs=False)}{hint}")
    id_col = next((c for c in SERIES_COLUMNS if c in cols), None)
    if len(values_in) > 1 and warn is not None:  # GA4's sessions,activeUsers: which one is
        warn(f"{shown}: column {safe_text(value_col)!r} read as the count (not "  # forecast
             f"{', '.join(repr(safe_text(c)) for c in values_in[1:])})")
    ti, vi = cols.index(time_col), cols.index(value_col)
    ii = cols.index(id_col) if id_col is not None else None
    pi = cols.index(PARTIAL_COLUMN) if PARTIAL_COLUMN in cols else None
    bad: dict[str, list[str]] = {}  # kind -> examples "row N: text"
    negative: dict[str, list[str]] = {}  # series -> its rows with a negative value
    huge: dict[str, list[str]] = {}  # series -> its rows of MAX_COUNT or more
    left: list[str] = []  # the series left out, said so
    left_names: list[str] = []  # their names
    found: dict[str, tuple[list, list, list]] = {}  # name -> (hours, counts, the offset each
    # row's hour states: None where it states none)
    usable = []  # (row number, row) with the header's fields and an hour, not a date
    dated: dict[str, list[str]] = {}  # series -> its rows with a date and no hour

    def series_of(row: list[str]) -> str:
        """The name of the series a row is of ("" without a series column)."""
        return (name_from_csv(row[ii].strip()) or NO_NAME) if ii is not None else ""

    for n, row in enumerate(rows[1:], start=2 + lead):
        if not any(x.strip() for x in row):
            continue  # a blank line
        if len(row) != len(cols):
            bad.setdefault("fields", []).append(f"row {n}: {len(row)} fields")
            continue
        usable.append((n, row))
    if METRIC_COLUMN in cols:
        usable = _of_metric(usable, cols.index(METRIC_COLUMN), metric, shown, warn)
    usable, how = _time_texts(usable, cols, ti, keys=[series_of(row) for _, row in usable])
    if how and warn is not None:  # (GA4 writes the property's own wall clock)
        warn(f"{shown}: {how}" + (f" in {tz}" if tz is not None else
                                  ", as UTC (--tz ZONE: as that zone's wall clock)"))
    # Unix times of any size (2000's 946684800, epoch 0's 0, 3600...; in ms too), known by
    # their steps: refused below 10 digits (a trial), or read as hour numbers 3600 apart
    every = [row[ti].strip() for _, row in usable]
    keys = [series_of(row) for _, row in usable]
    scale = None if all(EPOCH.match(x) for x in every) else _unix_scale(every, keys)
    if scale is None:
        kept = []
        for n, row in usable:
            if DATE_ONLY.match(row[ti].strip()):  # a day's count, not an hour's: read as
                # midnight, a day's rows were summed into one hour and the other 23 were gaps
                bad.setdefault("day", []).append(f"row {n}: {row[ti]!r}")
                dated.setdefault(series_of(row), []).append(bad["day"][-1])
                continue
            kept.append((n, row))
        usable = kept
    # every hour in one call: one to_datetime a row took 55 of 64 s on 200 series of 1,344 rows
    texts = [row[ti].strip() for _, row in usable]
    numbers = bool(texts) and scale is None and all(HOUR_NUMBER.match(x) for x in texts)
    epoch = bool(texts) and not numbers and (
        scale is not None or all(EPOCH.match(x) for x in texts))
    if numbers:  # hour numbers, no dates: each series' last one put at MADE_UP_END
        last: dict[str, int] = {}  # series -> its last hour number
        first: dict[str, int] = {}
        for (_, row), x in zip(usable, texts):
            k, h = series_of(row), int(float(x))
            last[k], first[k] = max(last.get(k, h), h), min(first.get(k, h), h)
        for k, end in last.items():  # 9,999,999 beside 1 had put the first row in the year
            # 868, which no datetime holds ("Out of bounds nanosecond timestamp")
            if end - first[k] > MAX_NUMBERED_H:
                where = f" (series {safe_name(k)})" if ii is not None else ""
                raise ValueError(f"{shown}{where}: hour numbers from {first[k]} to {end} "
                                 f"span over {MAX_NUMBERED_H // 8766} years of hours: not the "
                                 "hours of one series")
        base = {k: MADE_UP_END - v for k, v in last.items()}  # the epoch hour of its number 0
        stamps = pd.to_datetime(pd.Series(
            [(base[series_of(row)] + int(float(x))) * HOUR for (_, row), x in zip(usable, texts)],
            dtype="int64"), unit="s", utc=True)
    elif epoch:  # seconds (10 digits) or milliseconds (13), as written, or of any size as
        # their steps say (scale); from April 2262 on (past what pandas 2's datetimes hold;
        # pandas 3 reads them) a row without an hour, said
        secs = np.array([int(x.split(".")[0]) / scale if scale is not None else
                         float(x) / (1000.0 if len(x.split(".")[0]) == 13 else 1.0)
                         for x in texts])
        stamps = pd.to_datetime(pd.Series(np.where(secs < LAST_UNIX_S, secs, np.nan)),
                                unit="s", utc=True, errors="coerce")
    else:
        stamps = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, errors="coerce",
                                format="ISO8601")
    sep = _thousands([row[vi].strip() for _, row in usable])
    stated = [_offset_of(x) for x in texts]  # the offset each row's hour states, or None
    if tz is not None and not numbers and not epoch:  # the wall clock of --tz, not UTC's (a
        # database's local hours had their forecast an hour or two off the clock)
        stamps, stated = _in_zone(stamps, stated, [series_of(r) for _, r in usable], tz)
    for (n, row), t, off in zip(usable, stamps, stated):
        if pd.isna(t):
            bad.setdefault("hour", []).append(f"row {n}: {row[ti]!r}")
            continue
        name = name_from_csv(row[ii].strip()) if ii is not None else ""
        if ii is not None and not name:  # one series of its own, named so and said (before
            # its values are judged: its negative rows were kept apart under "" and it was
            # never left out, a review)
            bad.setdefault("no name", []).append(f"row {n}")
            name = NO_NAME
        # the rows of a series not asked for (--site) are read, not warned about: "2 hours
        # marked partial (e.g. row 1178)" named the other site's row
        note = bad if only is None or ii is None or name == only else {}
        text = row[vi].strip()
        if sep is not None and sep in text:  # 1,043 (1.043, 1 043): one thousand and 43
            note.setdefault("thousands", []).append(f"row {n}: {text!r}")
            text = text.replace(sep, "")
        try:
            v = float(text) if text else math.nan
            ok = not text or (math.isfinite(v) and 0 <= v < MAX_COUNT)
        except ValueError:
            v, ok = math.nan, False
        if not text:  # said too: pandas writes NaN so, and a NaN written out was said
            note.setdefault("empty", []).append(f"row {n}")
        if not ok:  # words, inf, nan, a negative or absurd count: not a number of requests
            note.setdefault("count", []).append(f"row {n}: {text!r}")
            if v < 0 and math.isfinite(v):
                negative.setdefault(name, []).append(f"row {n}: {text!r}")
            elif v >= MAX_COUNT and math.isfinite(v):
                huge.setdefault(name, []).append(f"row {n}: {text!r}")
            v = math.nan
        mark = row[pi].strip().lower() if pi is not None else ""
        if mark in PARTIAL_YES:  # `counts`: the log ends inside it or it is in progress: a
            # gap, as a forecast from the logs reads it (1.0 as pandas writes it back: a trial's
            # hour of 40 minutes was read as whole, and said nothing)
            note.setdefault("partial", []).append(f"row {n}: {row[ti]!r}")
            v = math.nan
        elif mark not in PARTIAL_NO:
            note.setdefault("partial?", []).append(f"row {n}: {row[pi]!r}")
        times, values, offsets = found.setdefault(name, ([], [], []))
        times.append(t)
        values.append(v)
        offsets.append(off)
    # not counts at all: a series of differences, of temperatures or a signal (a trial's sine
    # of -12..12, half its rows read as gaps, was scored on the other half by eval, and beat
    # both naives); or of bytes (a trial's 725 of 1,452 hours over a trillion were gaps, the
    # rest forecast, exit 0)
    for name, rows, what in [*((k, v, "negative") for k, v in negative.items()),
                             *((k, v, "huge") for k, v in huge.items())]:
        told = only is None or id_col is None or name == only
        if (name in found and len(rows) > NEGATIVE_SHARE * len(found[name][1])
                and len(rows) >= NEGATIVE_ROWS and told):
            where = f"series {safe_name(name)}: " if id_col is not None else ""
            left.append(f"{shown}: {where}{len(rows)} of its {len(found[name][1])} rows hold a "
                        + (f"negative value (e.g. {safe_text(rows[0])}): trafficwatch "
                           "forecasts counts, 0 or more" if what == "negative" else
                           f"count of a trillion or more (e.g. {safe_text(rows[0])}): "
                           "trafficwatch forecasts requests an hour, not bytes (scale them "
                           "down)"))
            del found[name]
            left_names.append(name)
            said = set(rows)
            bad["count"] = [r for r in bad.get("count", []) if r not in said]
            if not bad["count"]:
                del bad["count"]
    gone = [] if ii is None or not found else [
        k for k in dict.fromkeys(keys)
        if k not in found and k not in negative and k not in huge and (only is None or
                                                                         k == only)]
    for name in gone:  # not one row of it read: the series vanished from the output, and
        # exit 0 said all was well (a trial's daily series among hourly ones)
        rows_of = dated.get(name, [])
        why = (f"its {len(rows_of)} rows are dates without an hour (daily counts; "
               "trafficwatch reads hourly ones)" if rows_of else "none of its rows has an hour")
        left.append(f"{shown}: series {safe_name(name)}: {why}")
        left_names.append(name)
        said = set(rows_of)
        bad["day"] = [r for r in bad.get("day", []) if r not in said]
        if not bad["day"]:
            del bad["day"]
    if left and not found:
        raise ValueError(left[0] if len(left) == 1 else
                         f"{left[0]} (and {len(left) - 1} other series alike)")
    if not found and not any(any(x.strip() for x in row) for row in rows[1:]):
        raise ValueError(f"{shown}: no rows below the header: nothing to read")  # not "no row
        # has an ISO 8601 hour" (a trial's file of a header alone)
    if not found and every and all(NUMBER.match(x) for x in every) and (
            scale is not None or not all(DATE_ONLY.match(x) for x in every)):
        raise ValueError(f"{shown}: column {safe_text(time_col)!r} holds numbers, but "
                         f"{_numbers_not_hours(every, keys, scale)}")
    if not found:
        days = (" (dates without an hour, as " + safe_text(bad["day"][0].split(": ", 1)[1])
                + ", are daily counts: trafficwatch reads hourly ones)") if "day" in bad else ""
        raise ValueError(f"{shown}: no row has an ISO 8601 hour (or an hour number: 1, 2, "
                         f"3..., or a Unix time) in column {safe_text(time_col)!r}{days}")
    single = sum(len(v[0]) == 1 for v in found.values())
    rows_read = sum(len(v[0]) for v in found.values())
    if id_col is not None and len(found) >= 10 and single >= 0.9 * rows_read:  # a table's
        # row key (id = 1, 2, 3...) read as 839 series of one row: 2,517 lines on stderr and
        # 40,273 rows of forecasts of nothing (a trial)
        raise ValueError(f"{shown}: column {safe_text(id_col)!r} names another series on "
                         f"almost every row ({len(found):,} series, {single:,} of one row): a "
                         "row number or key, not a series' name? drop or rename that column")
    apart = {}  # series -> why its rows are no hourly counts
    for name, (times, _, _) in found.items():
        # hour numbers said as numbers: "2008-10-02 00:00 then 02:00" was of a made-up calendar
        # the file never held (a trial's 2, 4, 6...)
        stamp = (lambda t, b=base[name]: hour_text(t, b)) if numbers else None
        daily = _days_apart(times, stamp)
        step = _hours_apart(times, stamp) if daily is None else None
        if daily is not None:
            apart[name] = f"rows are {daily} (daily data)"
        elif step is not None:  # read as hours, every other one a gap, each count two hours'
            apart[name] = f"rows are {step}"
    for name, why in apart.items():
        if len(apart) == len(found):  # none is hourly: refused, the first said
            where = f" (series {safe_name(name)})" if id_col is not None else ""
            raise ValueError(f"{shown}{where}: {why}: trafficwatch forecasts hourly counts, "
                             "one row per hour")
        # one series of several: left out, named (a daily series stamped at midnight among
        # hourly ones had refused the whole file, exit 2: a trial)
        left.append(f"{shown}: series {safe_name(name)}: {why}: trafficwatch reads hourly "
                    "counts, one row per hour")
        left_names.append(name)
        del found[name]
    out: dict[str, pd.Series] = {}
    no_row: dict[str, tuple[int, int]] = {}  # series -> (hours without a row, hours in all)
    for name, (times, values, offsets) in found.items():
        # a zone half an hour (or 45 minutes) off UTC: its hours begin that long after UTC's.
        # Each is read into the UTC hour that begins `sub` seconds before it, and written back
        # as it was (SUB_HOUR): floored on UTC hours, a +05:30 file's 23:00 was written 22:30,
        # its forecast began at 23:30, and a row at 23:45 joined the next hour's (a trial)
        # Rows all on whole UTC hours are that zone's half-hours (whole UTC hours written in
        # +05:30: 04:30, 05:30...), and stay on them: read as the zone's own hours, a
        # trial's forecast began at 05:00, half an hour before the next row it would have had
        stated_last = next((o for o in reversed(offsets) if o is not None), None)
        on_utc = all(t.minute == 0 and t.second == 0 and t.microsecond == 0 for t in times)
        sub = -int(stated_last) % HOUR if stated_last is not None and not on_utc else 0
        stamps_of = pd.DatetimeIndex(times) - pd.Timedelta(seconds=sub)
        # a row repeated as it was (the same time, the same count): read once. Two `counts`
        # exports appended into one file had doubled their common days, read as a new level
        again = pd.DataFrame({"t": stamps_of, "v": values}).duplicated().to_numpy()
        told = only is None or id_col is None or name == only
        where = f" of {name}" if id_col is not None else ""
        if again.any() and told:
            bad.setdefault("repeat", []).extend(
                f"{hour_text(h, base[name] if numbers else None)}{where}"
                for h in stamps_of[again].floor("h").unique())
        s = pd.Series(np.asarray(values, dtype="float64")[~again],
                      index=stamps_of[~again].floor("h"), dtype="float64")
        dup = s.index[s.index.duplicated()].unique()
        if len(dup) and told:
            bad.setdefault("same hour", []).extend(
                f"{hour_text(h, base[name] if numbers else None)}{where}" for h in dup)
        s = s.groupby(level=0).sum(min_count=1).sort_index()
        full = pd.date_range(s.index[0], s.index[-1], freq="h")
        one = s.reindex(full).rename("count")
        if len(full) > len(s) and told:  # an hour without a row: unknown, not 0 (a SQL GROUP
            # BY writes no row for an hour without visits: 27 % of a small site's hours were
            # read as unknown, its nights forecast three times too high, without a word)
            no_row[name] = (len(full) - len(s), len(full))
        offset = offsets[-1]  # the last row's
        if offset is not None:  # `counts` writes hours in the logs' offset: the clock they keep
            one.attrs["utc_offset"] = offset
        stated = {o for o in offsets if o is not None}
        if len(stated) > 1:  # a daylight-saving change in the offsets written: each hour's, for
            # the forecast to follow the site's clock (as from the logs, HourlySeries.series)
            each = pd.Series([math.nan if o is None else o for o in offsets],
                             index=stamps_of.floor("h"), dtype="float64")
            each = each.groupby(level=0).last().reindex(full).ffill().bfill()
            flip = clock_changes(each.to_numpy())
            if flip is not None:  # no clock: its rows' instants are read as they are, in UTC
                # (alternating +00:00 and +05:00 rows, followed as clock changes, gave MASE 5.1
                # against naive's 0.97)
                if told:
                    bad.setdefault("offsets", []).append(
                        f"the offset changed at {full[flip[0]].isoformat()} and again "
                        f"{flip[1]} h later{where}")
            else:
                one.attrs[OFFSETS] = each.astype("int64")
        if numbers:
            one.attrs[HOUR_NUMBERS] = base[name]
        if sub:
            one.attrs[SUB_HOUR] = sub
        out[name] = one
    if warn is not None:
        for line in left:
            warn(f"{line}: left out")
    if warn is not None and no_row:
        gaps, hours = sum(g for g, _ in no_row.values()), sum(h for _, h in no_row.values())
        which = (f" (in {len(no_row)} of its {len(found)} series)" if id_col is not None
                 else "")
        warn(f"{shown}: {gaps:,} of {hours:,} hours between the first and last row have no "
             f"row{which}: read as unknown, not as 0 (an export that leaves out the hours "
             "without visits, as a SQL GROUP BY does, should write them as 0)")
    if warn is not None and epoch:
        warn(f"{shown}: column {safe_text(time_col)!r} holds Unix times: read as UTC")
    if warn is not None and numbers:
        warn(f"{shown}: column {safe_text(time_col)!r} holds hour numbers, not times: each "
             "series is read on a made-up calendar (no holidays; its hours of the day and its "
             "weekdays are the ones the forecast fits best) and hours are written back as "
             "numbers")
    if warn is not None:
        words = {"fields": ("row", "with not as many fields as the header, left out"),
                 "hour": ("row", "without an ISO 8601 hour, left out"),
                 "day": ("row", "with a date and no hour, left out"),
                 "count": ("row", ("with a count not a number of requests (0 to under a "
                                   "trillion an hour), read as a gap")),
                 "empty": ("row", "with an empty count, read as a gap"),
                 "partial": ("hour", ("marked partial by counts (a log ending inside the "
                                      "hour, or the hour in progress), read as a gap, as from "
                                      "the logs")),
                 "partial?": ("row", ("with a partial mark neither 1 nor 0 (true, false), "
                                      "read as a whole hour")),
                 "repeat": ("hour", ("repeated on rows alike (the same time and count), "
                                     "read once")),
                 "same hour": ("hour", "on more than one row, their counts added"),
                 "thousands": ("count", ("written with thousands separators, read as "
                                         "whole numbers")),
                 "no name": ("row", f"without a series name, read as the series {NO_NAME}"),
                 "offsets": ("series", ("with UTC offsets changing within weeks, as no clock "
                                        "does: its hours are read as the instants they name"))}
        for kind, examples in bad.items():
            noun, what = words[kind]
            n = len(examples)
            warn(f"{shown}: {n} {noun}{'s' if n > 1 else ''} {what} "
                 f"(e.g. {safe_text(examples[0])})")
    return CountsCSV(id_col, out, tuple(left_names))


def say_summed(series: HourlySeries) -> None:
    """On stderr: which sites a forecast of them all sums (logs and the fleet alike: a fleet's
    forecast said nothing of it, a trial)."""
    names = [safe_name(x) for x in series.sites()]
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    print(f"trafficwatch: {len(names)} sites summed ({shown}); --site NAME for one",
          file=sys.stderr)


def hour_text(t: pd.Timestamp, base: int | None) -> str:
    """An hour as messages and outputs write it: ISO 8601, or its hour number when the series'
    times were hour numbers put at epoch hour `base` (series.attrs[HOUR_NUMBERS])."""
    return t.isoformat() if base is None else str(int(t.timestamp()) // HOUR - base)


def _steps(texts: list[str], keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The steps between the whole numbers `texts`, each series' (`keys`, one a text) distinct
    ones in order: (each step's first number, its second), as arrays."""
    import pandas as pd

    whole = [x.split(".")[0] for x in texts]
    if max(map(len, whole)) > 18:  # past int64: Python's ints (no time or hour number)
        of: dict[str, set[int]] = {}
        for x, k in zip(whole, keys):
            of.setdefault(k, set()).add(int(x))
        pairs = [p for v in of.values() for p in itertools.pairwise(sorted(v))]
        return (np.array([a for a, _ in pairs], dtype=object),
                np.array([b for _, b in pairs], dtype=object))
    v = np.array([int(x) for x in whole], dtype=np.int64)  # in one array: a 414-series M4
    k = pd.factorize(pd.Series(keys, dtype=object))[0]  # file of 414,000 hour numbers, 0.1 s
    order = np.lexsort((v, k))
    v, k = v[order], k[order]
    same = (k[1:] == k[:-1]) & (v[1:] != v[:-1])
    return v[:-1][same], v[1:][same]


def _unix_scale(texts: list[str], keys: list[str]) -> int | None:
    """1 when the whole numbers `texts` (series `keys`) are Unix seconds, 1000 when they are
    milliseconds, known by their steps: 2 at least, and UNIX_STEP_SHARE of them a whole number
    of hours (3,600,000 ms; else 3600 s), whatever the numbers' size. None otherwise: hour
    numbers step by 1 (dates, 20230111, by 1 a day), and a row or two cannot tell."""
    if not texts or not all(WHOLE.match(x) for x in texts):
        return None
    first, second = _steps(texts, keys)
    steps = second - first
    if len(steps) < 2:
        return None
    for scale in (1000, 1):
        if np.count_nonzero(steps % (HOUR * scale) == 0) >= UNIX_STEP_SHARE * len(steps):
            return scale
    return None


def _numbers_not_hours(texts: list[str], keys: list[str], scale: int | None) -> str:
    """Why a column of numbers `texts` (series `keys`) gave no hour, the end of a sentence
    "...holds numbers, but ": neither hour numbers nor Unix times, and what each lacks."""
    if scale is not None or all(EPOCH.match(x) for x in texts):
        unit = ("10 digits in seconds, 13 in ms" if scale is None else
                f"in {'ms' if scale > 1 else 'seconds'}, as their steps of whole hours say")
        return (f"as Unix times ({unit}) they all fall after 2262-04-11, the last day a "
                "datetime holds")
    not_hour = next((x for x in texts if not HOUR_NUMBER.match(x)), texts[0])
    whole = next((x for x in texts if not WHOLE.match(x)), None)
    number = (f"{safe_text(whole)!r} is not whole" if whole is not None else
              f"{safe_text(not_hour)!r} has {len(not_hour.split('.')[0])}")
    head = (f"neither hour numbers (1, 2, 3...: whole, 7 digits at most, and {number}) nor "
            "Unix times (10 digits, 13 in ms, read as they are, or other whole numbers whose "
            "steps between a series' rows are whole hours, 3600 s or 3,600,000 ms")
    if whole is not None:
        return f"{head})"
    first, second = _steps(texts, keys)
    if len(first) < 2:
        return (f"{head}: it takes 2 steps to tell, and the rows have "
                f"{'only 1' if len(first) else 'none'})")
    off = np.flatnonzero((second - first) % HOUR != 0)
    a, b = int(first[off[0]]), int(second[off[0]])
    return (f"{head}: {len(first) - len(off)} of the {len(first)} steps are; {a} then {b} are "
            f"{b - a} apart)")


def _stamps(idx, stamp) -> str:
    """The first two of the times `idx`, as messages say them: by `stamp` (hour numbers: "2 then
    4"), or as UTC times."""
    if stamp is not None:
        return f"{stamp(idx[0])} then {stamp(idx[1])}"
    return f"{idx[0]:%Y-%m-%d %H:%M} then {idx[1]:%Y-%m-%d %H:%M} UTC"


def _days_apart(times: list, stamp=None) -> str | None:
    """How far apart rows are, "a day apart, 2022-01-01 00:00 then 2022-01-02 00:00", when
    every one of 3 or more distinct times is a whole number of days after the one before (23
    or 25 h across a DST change in the offsets written); None otherwise (hourly rows, whole
    days missing among them or not)."""
    import pandas as pd

    idx = pd.DatetimeIndex(times).unique().sort_values()
    if len(idx) < 3:
        return None
    gaps = (idx[1:] - idx[:-1]).total_seconds()
    off_day = gaps % 86400
    if not ((gaps >= 82800) & ((off_day == 0) | (off_day == 3600) | (off_day == 82800))).all():
        return None
    apart = "a day apart" if gaps.min() < 2 * 86400 - 3600 else "whole days apart"
    return f"{apart}, {_stamps(idx, stamp)}"


def _hours_apart(times: list, stamp=None) -> str | None:
    """How far apart rows are, "every 2 hours, 2024-01-01 00:00 then 2024-01-01 02:00", when
    the distinct times of 3 or more rows are all a whole number of hours apart, a multiple of
    one step of 2 to 23 hours (2-hourly, 3-hourly... data, some rows missing or not); None
    otherwise (hourly rows, or days: _days_apart)."""
    import math

    import pandas as pd

    idx = pd.DatetimeIndex(times).unique().sort_values()
    if len(idx) < 3:
        return None
    gaps = (idx[1:] - idx[:-1]).total_seconds()
    if (gaps % 3600).any():
        return None
    step = math.gcd(*(int(g) // 3600 for g in gaps))
    if not 1 < step < 24:
        return None
    if stamp is not None:
        return f"{step} hour numbers apart, {_stamps(idx, stamp)}"
    return f"every {step} hours, {_stamps(idx, stamp)}"


def _of_metric(rows: list[tuple[int, list[str]]], col: int, metric: str, shown: str,
               warn: Callable[[str], None] | None) -> list[tuple[int, list[str]]]:
    """The rows of one metric where a CSV holds several (`counts` of hits, then of visitors,
    in one file): their counts had been added, hits and visitors one series (a trial)."""
    names = {row[col].strip() for _, row in rows}
    if len(names) <= 1:  # one metric, whichever: it is the series
        return rows
    listed = ", ".join(safe_name(x) for x in sorted(names)[:5])
    if metric not in names:
        raise ValueError(f"{shown}: rows of several metrics ({listed}), none of {metric}: "
                         "pass --metric to choose one")
    if warn is not None:
        warn(f"{shown}: rows of several metrics ({listed}): those of {metric} read, the "
             "others left out (--metric chooses)")
    return [(n, row) for n, row in rows if row[col].strip() == metric]


def read_counts_csv(path: str, warn: Callable[[str], None] | None = None,
                    site: str | None = None, metric: str = "hits",
                    tz: dt.tzinfo | None = None) -> pd.Series:
    """One series of a CSV of hourly counts (see `read_counts_csv_all`): the only one, or
    `site`'s; ValueError when the file holds several and `site` names none of them."""
    return one_series(path, read_counts_csv_all(path, warn, only=site, metric=metric, tz=tz),
                      site)


def one_series(path: str, table: CountsCSV, site: str | None) -> pd.Series:
    """`site`'s series of a read CSV, or its only one; ValueError otherwise."""
    names = list(table.series)
    shown = ", ".join(safe_name(x) for x in names[:5]) + (
        f" and {len(names) - 5} more" if len(names) > 5 else "")
    if site is None:
        if len(names) > 1:
            raise ValueError(f"{shown_name(path)} holds {len(names)} series (column "
                             f"{table.column}: {shown}): --site NAME for one")
        return table.series[names[0]]
    if table.column is None:
        raise ValueError(f"--site {safe_name(site)}: {shown_name(path)} holds one series (no "
                         f"{' or '.join(SERIES_COLUMNS)} column)")
    if site not in table.series and name_from_shown(site) in table.series:
        site = name_from_shown(site)  # named as shown (`counts` wrote it so)
    if site not in table.series:
        raise ValueError(f"no series {safe_name(site)} in {shown_name(path)} (column "
                         f"{table.column}); found: {shown}")
    return table.series[site]


# a time's offset: Z, +01:00, +0100 or +01 (PostgreSQL's timestamptz as text: its
# '2024-03-03 00:00:00+01' was read as UTC, the site's clock lost, a trial), after a time of
# the day in either of ISO 8601's forms (20240303T140000Z, T14Z, T14+01: read as wall clock
# with --tz, an hour off, a review)
_OFFSET = re.compile(r"[T\s]\d\d(?::?\d\d(?::?\d\d(?:[.,]\d*)?)?)?\s*"
                     r"(?:[zZ]|([+-])(\d\d)(?::?(\d\d))?)$")
DATE_COLUMNS = ("date", "day")  # beside an hour column of 0-23: one time in two columns (GA4)
HOUR_OF_DAY = re.compile(r"([01]?\d|2[0-3])(?::([0-5]\d)(?::([0-5]\d))?)?$")  # 14, 14:00
DATE_HOUR = re.compile(r"((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([01]\d|2[0-3])$")
# GA4's dateHour, 2024031514: ten digits, as a Unix time in seconds (read as one, its 5 weeks
# were 3 hours of 2034, a trial)
COMPACT_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)$")  # 20240315


def _time_texts(usable: list, cols: list[str], ti: int, keys: list[str]) -> tuple[list, str]:
    """The rows with their time field as the reader parses it, and what was done, said (""
    for nothing): a date column beside an hour of the day (GA4's date,hour: 20240303,14) joined
    into one time; GA4's dateHour (2024030314) written as ISO 8601 unless its steps are whole
    hours of seconds (a Unix time); BigQuery's ' UTC' suffix read as Z."""
    if not usable:
        return usable, ""
    texts = [row[ti].strip() for _, row in usable]
    how = ""
    di = next((cols.index(c) for c in DATE_COLUMNS if c in cols and cols.index(c) != ti), None)
    if di is not None and all(HOUR_OF_DAY.match(x) for x in texts):  # summed by hour of the
        # day, 35 days in 24 "hours", exit 0 (a trial)
        texts = [_date_and_hour(row[di].strip(), x) for (_, row), x in zip(usable, texts)]
        how = (f"columns {safe_text(cols[di])!r} and {safe_text(cols[ti])!r} read as one "
               "time, the date and the hour of the day")
    elif all(DATE_HOUR.match(x) for x in texts) and _unix_scale(texts, keys) is None:
        texts = [f"{x[:4]}-{x[4:6]}-{x[6:8]}T{x[8:10]}:00:00" for x in texts]
        how = (f"column {safe_text(cols[ti])!r} holds dates and hours as YYYYMMDDHH (as GA4's "
               "dateHour), read as such")
    utc = [x[:-4].rstrip() + "Z" if x[-4:].upper() == " UTC" else x for x in texts]
    if not how and utc == texts:  # as written (the rows are not copied: 400,000 of them)
        return usable, how
    return [(n, row[:ti] + [x] + row[ti + 1:]) for (n, row), x in zip(usable, utc)], how


_GROUPED = {sep: re.compile(r"\d{1,3}(?:" + re.escape(sep) + r"\d{3})+" + tail + "$")
            for sep, tail in ((",", r"(?:\.\d+)?"), (".", ""), (" ", ""), ("\u00a0", ""),
                              ("\u202f", ""))}
_PLAIN = re.compile(r"\d{1,3}$")


def _thousands(values: list[str]) -> str | None:
    """The thousands separator of a count column, if it has one: ',' where some counts are
    1,043 and none reads as a decimal comma (1,5); '.' (German Excel's 1.548) only where every
    count is either such a number, or a plain one under 1,000 (with some of those: a column of
    fractions to 3 places has none); a space (1 043, also no-break ones) where some are 1 043.
    Quoted "1,548" was read as no number, every hour of 1,000 or more a gap; 1.548 as 1.5
    requests, the busiest hours forecast at 1, without a word (a trial)."""
    texts = [x for x in values if x]
    for sep in (",", " ", "\u00a0", "\u202f"):
        holding = [x for x in texts if sep in x]  # (a column of plain numbers: none, at once)
        if holding and all(_GROUPED[sep].match(x) for x in holding):
            return sep
    dotted = [x for x in texts if "." in x]
    if dotted and all(len(x) <= 3 and x.isdigit() for x in texts if "." not in x) and \
            any("." not in x for x in texts) and \
            all(x[0] != "0" and _GROUPED["."].match(x) for x in dotted):  # (fractions: their
        return "."  # first one ends it)
    return None


def _date_and_hour(date: str, hour: str) -> str:
    """A date (2024-03-03 or 20240303) and an hour of the day (14, 14:00) as one time text."""
    if m := COMPACT_DATE.match(date):
        date = "-".join(m.groups())
    h = HOUR_OF_DAY.match(hour)
    hh, mm, ss = (int(x or 0) for x in h.groups()) if h else (0, 0, 0)
    return f"{date} {hh:02d}:{mm:02d}:{ss:02d}"


def _in_zone(stamps: pd.Series, stated: list[int | None], keys: list[str],
             tz: dt.tzinfo) -> tuple[pd.Series, list[int | None]]:
    """`stamps` (read as UTC) whose text stated no offset read again as `tz`'s wall clock, and
    every row's offset, those rows' the zone's at their hour. Of a wall-clock hour that comes
    twice (autumn's change), a series' first row in time order is the summer one (its first in
    the file, or its last where the file runs newest first) and the other the winter one; an
    hour the clock skipped (spring's) is the next one."""
    import pandas as pd

    naive = [i for i, o in enumerate(stated) if o is None and not pd.isna(stamps.iloc[i])]
    if not naive:
        return stamps, stated
    wall = pd.DatetimeIndex(stamps.iloc[naive]).tz_localize(None)
    ends: dict[str, list] = {}  # series -> its first and last wall-clock time, in file order
    for i, w in zip(naive, wall):
        ends.setdefault(keys[i], [w, w])[1] = w
    seen: set[tuple[str, object]] = set()
    first = []  # True: the summer one, the first row of its series at that wall-clock hour in
    # time order (a file newest first has the winter one first: ORDER BY hour DESC swapped them)
    for i, w in zip(naive, wall):
        newest_first = ends[keys[i]][1] < ends[keys[i]][0]
        first.append(((keys[i], w) not in seen) != newest_first)
        seen.add((keys[i], w))
    local = wall.tz_localize(tz, ambiguous=np.array(first), nonexistent="shift_forward")
    out = stamps.copy()
    out.iloc[naive] = local.tz_convert("UTC")
    offsets = list(stated)
    for i, t in zip(naive, local):
        offsets[i] = int(t.utcoffset().total_seconds())
    return out, offsets


def _offset_of(text: str) -> int | None:
    """Seconds east of UTC an ISO 8601 time states ('...+01:00' 3600, '...Z' 0); None if none."""
    m = _OFFSET.search(text.strip())
    if m is None:
        return None
    if m.group(1) is None:
        return 0
    return (1 if m.group(1) == "+" else -1) * (int(m.group(2)) * 3600
                                               + int(m.group(3) or 0) * 60)
