"""Log timestamps -> (UTC epoch seconds, offset seconds), strict about ranges, cached per minute.

Every timestamp of every format becomes an epoch value through `to_epoch` (or `check_window`
for epoch numbers), which refuses impossible dates and times outside the sane window: before
1990, or more than a day ahead of the wall clock (a line dated 2100 must not add 74 years of
hours). The vectorised common/combined parser applies the same window (`window`) and leaves
the lines outside it to this module, which gives the reason.
"""
from __future__ import annotations

import calendar
import datetime as dt
import functools
import math
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trafficwatch.logs.formats import LogFormat

MIN_YEAR, MAX_YEAR = 1990, 9999  # MAX_YEAR: only what four digits hold (the clock bounds it)
MIN_EPOCH = calendar.timegm((MIN_YEAR, 1, 1, 0, 0, 0))
AHEAD = 86400  # how far past the wall clock a timestamp may be (clock skew, time zones)
MAX_OFFSET = 14 * 3600
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
TOO_EARLY = f"time out of range (before {MIN_YEAR})"
TOO_LATE = "time out of range (more than a day ahead of the clock)"
APART = "time out of order (a week or more from the lines on both sides)"  # (Parser.feed)
_MONTHS = {m.encode(): i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_CLF = re.compile(rb"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?"
                  rb"\s*(?:([+-])(\d{2}):?(\d{2}))?")
_ISO = re.compile(rb"(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
                  rb"\s*(Z|z|UTC|([+-])(\d{2}):?(\d{2}))?")
_minute_cache: dict[bytes, tuple[int, int]] = {}
_iso_cache: dict[bytes, tuple[int, int]] = {}


class TimeError(ValueError):
    """A timestamp that cannot be read or lies out of range; its text is the malformed reason."""


def window(now: float | None = None) -> tuple[int, int]:
    """The epoch seconds a timestamp may lie in: [1990-01-01, a day past the wall clock]."""
    return MIN_EPOCH, int(time.time() if now is None else now) + AHEAD


def check_window(ts: float) -> int:
    """`ts` as int when inside window(); TimeError with the reason when not."""
    lo, hi = window()
    if math.isnan(ts) or ts < lo:
        raise TimeError(TOO_EARLY)
    if ts > hi:
        raise TimeError(TOO_LATE)
    return int(ts)


def to_epoch(year: int, month: int, day: int, hh: int, mm: int, ss: int, off: int) -> int:
    """UTC epoch seconds of a local time `off` seconds east of UTC; TimeError when it is not a
    real time (31 Feb, 25:00), not a real offset, or outside window()."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61):
        raise TimeError("bad time")
    if day > _DAYS[month - 1] + (month == 2 and calendar.isleap(year)):
        raise TimeError("impossible date")
    if abs(off) > MAX_OFFSET:
        raise TimeError("bad time zone offset")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise TimeError(TOO_EARLY if year < MIN_YEAR else TOO_LATE)
    return check_window(calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0)) - off)


def _zone(m: re.Match[bytes], g: int) -> int:
    """Seconds east of UTC of a match's offset: its sign in group `g`, hours and minutes after
    (0 where it has none)."""
    if not m.group(g):
        return 0
    return (int(m.group(g + 1)) * 3600 + int(m.group(g + 2)) * 60) * \
        (1 if m.group(g) == b"+" else -1)


def _in_minute(cache: dict[bytes, tuple[int, int]], key: bytes, ss: int,
               first: Callable[[], tuple[int, int, int, int, int, int]]) -> tuple[int, int]:
    """(epoch, offset) of second `ss` of the minute `key` names (all of a time but its
    seconds): `first()` gives its (year, month, day, hour, minute, offset) the first time it
    is met, and the minute's start is kept."""
    hit = cache.get(key)
    if hit is None:
        year, month, day, hh, mm, off = first()
        hit = (to_epoch(year, month, day, hh, mm, ss, off) - ss, off)
        if len(cache) > 50_000:
            cache.clear()
        cache[key] = hit
    elif ss > 60:
        raise TimeError("bad time")
    return hit[0] + ss, hit[1]


def _clf(text: bytes) -> tuple[int, int]:
    m = _CLF.fullmatch(text.strip())
    if m is None:
        raise TimeError("bad time")

    def first() -> tuple[int, int, int, int, int, int]:
        month = _MONTHS.get(m.group(2).capitalize())
        if month is None:
            raise TimeError("bad time")
        return (int(m.group(3)), month, int(m.group(1)), int(m.group(4)), int(m.group(5)),
                _zone(m, 7))

    return _in_minute(_minute_cache, text[:17] + text[20:], int(m.group(6)), first)


def _iso(text: bytes) -> tuple[int, int]:
    """ISO 8601, read once a minute as CLF (W3C's, the load balancers', JSON's times: a third
    of their parse)."""
    m = _ISO.fullmatch(text.strip())
    if m is None:
        raise TimeError("bad time")
    return _in_minute(_iso_cache, m.string[:m.end(5)] + b"|" + (m.group(7) or b""),
                      int(m.group(6) or 0),
                      lambda: (*(int(m.group(i)) for i in range(1, 6)), _zone(m, 8)))


def _epoch_text(text: bytes | float, ms: bool = False) -> tuple[int, int]:
    try:
        v = float(text)
    except (TypeError, ValueError) as exc:
        raise TimeError("bad time") from exc
    if ms or v > 1e11:  # epoch milliseconds; past 1e14 micro-, past 1e17 nanoseconds (Caddy's
        v /= 1e9 if v > 1e17 and not ms else 1e6 if v > 1e14 and not ms else 1e3  # unix_nano)
    return check_window(v), 0


# C's strftime shortcuts that GoAccess users write and Python's strptime lacks: our own hint's
# `--time-format %T` failed with "no line parsed" (a trial)
_SHORTCUTS = (("%T", "%H:%M:%S"), ("%R", "%H:%M"), ("%F", "%Y-%m-%d"), ("%D", "%m/%d/%y"),
              ("%e", "%d"))


@functools.lru_cache(maxsize=64)
def c_format(spec: str) -> str:
    """A strftime format with C's shortcuts (%T, %R, %F, %D, %e) written out for strptime
    (cached: asked at every line)."""
    for short, long in _SHORTCUTS:
        spec = re.sub(r"(?<!%)((?:%%)*)" + short, lambda m, long=long: m.group(1) + long, spec)
    return spec


_HAS_TIME = re.compile(r"%[HIT]")  # a date format that holds the hour: no time after it


def strptime_pattern(fmt: LogFormat) -> str:
    """The strptime format of a --date-format and --time-format, joined by a space."""
    date = fmt.date_format or "%d/%b/%Y"
    tail = "" if fmt.time_format == "" or (fmt.time_format is None and _HAS_TIME.search(date)) \
        else f" {fmt.time_format or '%H:%M:%S'}"  # "": the date holds the time (Apache's
    # `%{form}t`; a --date-format of the hour too, %Y-%m-%dT%H:%M:%S: the default time after it
    # made a traceback, "redefinition of group name 'H'", a trial)
    return c_format(f"{date}{tail}")


def check_strptime(fmt: LogFormat) -> None:
    """ValueError, in words, for a --date-format and --time-format that strptime cannot use
    together (the hour in both: Python's regex error and a traceback at the first line)."""
    pattern = strptime_pattern(fmt)
    try:
        dt.datetime.strptime("", pattern)
    except ValueError:
        pass  # a pattern, which "" does not match
    except re.error as exc:
        raise ValueError(f"the date and time formats {pattern!r} hold a field twice ({exc.msg}): "
                         "give each field once (--time-format '' when --date-format holds the "
                         "time)") from exc


def _strptime(text: bytes, fmt: LogFormat) -> tuple[int, int]:
    pattern = strptime_pattern(fmt)
    try:
        d = dt.datetime.strptime(text.decode("ascii", "replace").strip(), pattern)
    except ValueError as exc:
        raise TimeError("bad time") from exc
    off = int(d.utcoffset().total_seconds()) if d.tzinfo else 0
    return to_epoch(d.year, d.month, d.day, d.hour, d.minute, d.second, off), off


def parse_time(text: bytes, style: str, fmt: LogFormat | None = None) -> tuple[int, int]:
    """(UTC epoch seconds, offset east of UTC) for one timestamp; TimeError when unreadable."""
    if style == "clf":
        try:
            return _clf(text)
        except TimeError:  # nginx's [$time_iso8601] in a combined line: a common log_format,
            if _ISO.fullmatch(text.strip()) is None:  # refused whole ("no time in them can
                raise  # be counted"), with nothing to do about it (a trial)
            return _iso(text)
    if style in ("iso", "w3c"):
        return _iso(text)
    if style == "epoch":
        return _epoch_text(text)
    if style == "epoch_ms":
        return _epoch_text(text, ms=True)
    if style == "strptime" and fmt is not None:
        return _strptime(text, fmt)
    # auto: try the forms in turn
    t = text.strip()
    if _CLF.fullmatch(t):
        return _clf(t)
    if _ISO.fullmatch(t):
        return _iso(t)
    return _epoch_text(t)
