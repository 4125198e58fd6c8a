"""Log timestamps -> (UTC epoch seconds, offset seconds), strict about ranges, cached per minute."""
from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trafficwatch.logs.formats import LogFormat

MIN_YEAR, MAX_YEAR = 1990, 2100  # beyond these a timestamp is malformed, not a 9999-year series
MAX_OFFSET = 14 * 3600
_MONTHS = {m.encode(): i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_CLF = re.compile(rb"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?"
                  rb"\s*(?:([+-])(\d{2}):?(\d{2}))?")
_ISO = re.compile(rb"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?"
                  rb"\s*(Z|z|UTC|([+-])(\d{2}):?(\d{2}))?")
_minute_cache: dict[bytes, tuple[int, int]] = {}


class TimeError(ValueError):
    """A timestamp that cannot be read or lies out of range; its text is the malformed reason."""


def _check(year: int, month: int, day: int, hh: int, mm: int, ss: int, off: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise TimeError("time out of range")
    if not (1 <= month <= 12 and 1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61):
        raise TimeError("bad time")
    if abs(off) > MAX_OFFSET:
        raise TimeError("bad time zone offset")


def _epoch(year: int, month: int, day: int, hh: int, mm: int, off: int) -> int:
    try:
        return calendar.timegm((year, month, day, hh, mm, 0, 0, 0, 0)) - off
    except (ValueError, OverflowError) as exc:
        raise TimeError("bad time") from exc


def _clf(text: bytes) -> tuple[int, int]:
    key = text[:17] + text[20:]  # everything but the seconds
    hit = _minute_cache.get(key)
    m = _CLF.fullmatch(text.strip())
    if m is None:
        raise TimeError("bad time")
    ss = int(m.group(6))
    if hit is None:
        day, mon, year, hh, mm = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)), \
            int(m.group(5))
        month = _MONTHS.get(mon.capitalize())
        if month is None:
            raise TimeError("bad time")
        off = 0
        if m.group(7):
            off = (int(m.group(8)) * 3600 + int(m.group(9)) * 60) * (1 if m.group(7) == b"+" else -1)
        _check(year, month, day, hh, mm, ss, off)
        hit = (_epoch(year, month, day, hh, mm, off), off)
        if len(_minute_cache) > 50_000:
            _minute_cache.clear()
        _minute_cache[key] = hit
    elif ss > 60:
        raise TimeError("bad time")
    return hit[0] + ss, hit[1]


def _iso(text: bytes) -> tuple[int, int]:
    m = _ISO.fullmatch(text.strip())
    if m is None:
        raise TimeError("bad time")
    year, month, day, hh, mm = (int(m.group(i)) for i in range(1, 6))
    ss = int(m.group(6) or 0)
    off = 0
    if m.group(8):
        off = (int(m.group(9)) * 3600 + int(m.group(10)) * 60) * (1 if m.group(8) == b"+" else -1)
    _check(year, month, day, hh, mm, ss, off)
    return _epoch(year, month, day, hh, mm, off) + ss, off


def _epoch_text(text: bytes | float, ms: bool = False) -> tuple[int, int]:
    try:
        v = float(text)
    except (TypeError, ValueError) as exc:
        raise TimeError("bad time") from exc
    if ms or v > 1e11:  # epoch milliseconds
        v /= 1000.0
    if math.isnan(v) or not calendar.timegm((MIN_YEAR, 1, 1, 0, 0, 0)) <= v < \
            calendar.timegm((MAX_YEAR + 1, 1, 1, 0, 0, 0)):
        raise TimeError("time out of range")
    return int(v), 0


def _strptime(text: bytes, fmt: LogFormat) -> tuple[int, int]:
    pattern = f"{fmt.date_format or '%d/%b/%Y'} {fmt.time_format or '%H:%M:%S'}"
    try:
        d = dt.datetime.strptime(text.decode("ascii", "replace").strip(), pattern)
    except ValueError as exc:
        raise TimeError("bad time") from exc
    off = int(d.utcoffset().total_seconds()) if d.tzinfo else 0
    _check(d.year, d.month, d.day, d.hour, d.minute, d.second, off)
    return _epoch(d.year, d.month, d.day, d.hour, d.minute, off) + d.second, off


def parse_time(text: bytes, style: str, fmt: LogFormat | None = None) -> tuple[int, int]:
    """(UTC epoch seconds, offset east of UTC) for one timestamp; TimeError when unreadable."""
    if style == "clf":
        return _clf(text)
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
