"""The columns of a CSV of hourly counts, and whether a file's first line names them (a counts
CSV given where logs are read, or on stdin, is known by its header, not taken for a log)."""
from __future__ import annotations

import csv

SERIES_COLUMNS = ("site", "unique_id", "series", "id")  # `counts`' site column, or the long
# format of statsforecast and neuralforecast (unique_id,ds,y): several series in one file
VALUE_COLUMNS = ("count", "visits", "hits", "value", "y",
                 # as analytics tools name them (GA4's sessions and activeUsers, Plausible's
                 # visitors and pageviews): GA4's export was refused for its own header, a trial
                 "requests", "pageviews", "sessions", "visitors", "users", "activeusers",
                 "screenpageviews")
TIME_COLUMNS = ("hour", "ds", "time", "timestamp", "datehour", "date + hour (yyyymmddhh)",
                "date")  # (date last: beside an hour column, the two are one time)
BOM = "\ufeff"  # Excel's "CSV UTF-8" begins with one: not part of the first column's name


def header_columns(first_line: bytes | str) -> list[str]:
    """A CSV's first line as column names: lower case, stripped, a UTF-8 BOM dropped."""
    text = first_line.decode("utf-8", "replace") if isinstance(first_line, bytes) else first_line
    text = text.removeprefix(BOM).splitlines()[0] if text.strip() else ""
    try:
        row = next(csv.reader([text]), [])
    except csv.Error:
        return []
    return [c.strip().lower() for c in row]


OTHER_SEPARATORS = ("\t", ";", "|")  # a header in these is still a counts file's: the reader
# then says it reads commas (a .tsv of hour<TAB>count read "no known log format matches")


def other_separator(cols: list[str]) -> str | None:
    """The tab, ';' or '|' that a header read as one column holds (OTHER_SEPARATORS), if any."""
    return next((c for c in OTHER_SEPARATORS if len(cols) == 1 and c in cols[0]), None)


def separator_name(sep: str) -> str:
    """A separator as the messages name it: 'a tab', "';'"."""
    return "a tab" if sep == "\t" else repr(sep)


def is_counts_header(first_line: bytes | str) -> bool:
    """Does this first line name an hour column and a count column (`hour,count`, `ds,y`;
    also with a tab, ';' or '|' between them, which the CSV reader refuses with a hint)?"""
    cols = header_columns(first_line)
    if (sep := other_separator(cols)) is not None:
        cols = [c.strip() for c in cols[0].split(sep)]
    return any(c in cols for c in TIME_COLUMNS) and any(c in cols for c in VALUE_COLUMNS)


def has_counts_header(path: str) -> bool:
    """Is `path` a file whose first line (decompressed, for a .gz or .bz2) is a counts CSV's
    header (after comment lines beginning with #, as GA4's export has)? False if unreadable."""
    from trafficwatch.logs.read import open_stream

    try:
        with open_stream(path) as fh:
            for _ in range(MAX_PREAMBLE):
                line = fh.readline(4096)
                if not is_comment(line):
                    return is_counts_header(line)
    except (OSError, EOFError, ValueError):
        return False
    return False


MAX_PREAMBLE = 30  # comment and blank lines before a CSV's header, at most


def is_comment(line: bytes | str) -> bool:
    """A blank line, or one beginning with # (GA4's export opens with a few)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.removeprefix(BOM).strip()
    return bool(line) and (not text or text.startswith("#"))


def csv_named(path: str) -> bool:
    """Named as a CSV: `.csv`, or a compressed one (`.csv.gz`, `.csv.bz2`: the corpus's files)."""
    name = str(path).lower()
    return name.endswith((".csv", ".csv.gz", ".csv.bz2"))
