"""Line parsers that are not one regex: W3C extended (IIS, `#Fields:`) and JSON lines."""
from __future__ import annotations

import json
import math
import re
import time
from typing import TYPE_CHECKING

from trafficwatch.logs.timeparse import TimeError, parse_time

if TYPE_CHECKING:
    from trafficwatch.logs.formats import LogFormat

_W3C_MAP = {
    b"c-ip": "host", b"cs-method": "method", b"cs-uri-stem": "path", b"sc-status": "status",
    b"sc-bytes": "size", b"cs(user-agent)": "agent", b"cs(referer)": "referer",
    b"cs-host": "vhost", b"x-host-header": "vhost",
}


BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, before a file's first line (an IIS log saved
# by an editor: its first header was a malformed line, or, where it was the #Fields: line, the
# whole file was "no known log format", a trial)


def header_fields(line: bytes) -> list[bytes] | None:
    """The fields a `#Fields:` header line declares, lower case (None: not such a line)."""
    line = line.removeprefix(BOM)
    if line[:8].lower() != b"#fields:":
        return None
    return [f.lower() for f in line[8:].split()]


class W3CState:
    """Follows `#Fields:` headers (which may repeat mid-file) and splits data lines by them."""

    def __init__(self) -> None:
        self.fields = []

    @property
    def fields(self) -> list[bytes]:
        return self._fields

    @fields.setter
    def fields(self, fields: list[bytes]) -> None:
        """The header in force, and the plan it gives: which field of a line is read as what
        (the first of two alike; the last date and time), found once a header, not at every
        line (IIS, one core: 91-98,000 -> 114-115,000 lines a second, runs alternated)."""
        self._fields = list(fields)
        plan: dict[str, int] = {}
        for i, name in enumerate(self._fields):
            key = "date" if name == b"date" else "time" if name == b"time" else \
                _W3C_MAP.get(name)
            if key in ("date", "time") or key and key not in plan:  # (the last date, as
                plan[key] = i  # before: the first of any other)
        self._date, self._time = plan.pop("date", None), plan.pop("time", None)
        self._plan = tuple(plan.items())

    def line(self, line: bytes) -> list[dict] | None:
        line = line.removeprefix(BOM)
        if line.startswith(b"#"):
            declared = header_fields(line)
            if declared is not None:
                self.fields = declared
            return None
        if not self._fields:
            return None
        parts = line.split()
        if len(parts) != len(self._fields):
            return None
        if self._date is None or self._time is None:
            raise TimeError("W3C line without date and time fields")
        g: dict = {key: parts[i] for key, i in self._plan}
        if "agent" in g:
            g["agent"] = g["agent"].replace(b"+", b" ")
        if "vhost" in g:
            g["vhost"] = host_of(g["vhost"])
        g["_ts"], g["_off"] = parse_time(parts[self._date] + b"T" + parts[self._time] + b"Z",
                                         "iso")  # W3C times are UTC
        return [g]


def _flat(obj: dict, out: dict, prefix: str = "") -> dict:
    for k, v in obj.items():
        if isinstance(v, dict):
            _flat(v, out, f"{prefix}{k}.")
            for kk, vv in v.items():  # also reachable by the bare key (Caddy's request.uri)
                if not isinstance(vv, dict):
                    out.setdefault(kk, vv)
        else:
            out[f"{prefix}{k}"] = v
            out.setdefault(k, v)
    return out


def _bytes(v: object) -> bytes | None:
    if v is None:
        return None
    if isinstance(v, list):  # Caddy: "User-Agent": ["..."]
        v = v[0] if v else ""
    try:
        return str(v).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate JSON escaped ("\ud800"): had ended the program
        return str(v).encode("utf-8", "backslashreplace")


class NotARequest(ValueError):
    """A line of a request log's format that is no request (a server's own message); its
    text is the reason it is counted under (with the malformed lines: counted and shown)."""


_NO_FIELDS = "JSON line without a status, method or path (a server's message, not a request)"
_CADDY_OTHER = "Caddy line of a logger other than http.log.access (its request, if any, is there)"
NOT_REQUESTS = (_NO_FIELDS, _CADDY_OTHER)  # a format's own lines that are no request: they fit
# it (format detection), and are counted and said apart
_HOST_PORT = re.compile(rb"(\[[0-9A-Fa-f:.]+\]|[^\s:]*[^\s:,]):\d+")  # as formats' "vhost" piece


def host_of(name: bytes) -> bytes:
    """A virtual host as the request named it, without its port (`Example.com:443`), as the
    vhost piece of the text formats reads it: JSON's and W3C's had kept it, one site counted
    as two (a trial)."""
    m = _HOST_PORT.fullmatch(name)
    return m.group(1) if m else name


class JsonLine:
    """One JSON object per line (nginx escape=json, Caddy, Traefik); fields found by name."""

    def __init__(self, fmt: LogFormat) -> None:
        self.fmt = fmt
        self.fields = fmt.json_fields

    def parse(self, line: bytes) -> dict | None:
        s = line.strip()
        if s.startswith(BOM):  # a byte order mark, before a file's first line
            s = s[3:].lstrip()
        if not s.startswith(b"{"):
            return None
        try:  # bytes that are not UTF-8 kept as they were written (nginx's escape=json writes
            # them raw: a probe's /\xc0\xaf../ was no line at all, a trial), as text lines
            obj = json.loads(s.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError):
            return None
        if not isinstance(obj, dict):
            return None
        logger = obj.get("logger")
        if isinstance(logger, str) and logger.startswith("http.") and \
                not logger.startswith("http.log.access"):  # Caddy's error log (a 502 counted
            # twice, there and in the access log: a trial), its reverse proxy's debug lines
            raise NotARequest(_CADDY_OTHER)
        flat = _flat(obj, {})
        g: dict = {}
        for key, names in self.fields.items():
            for n in names:
                if n in flat and flat[n] not in (None, ""):
                    g[key] = flat[n]
                    break
        if "time" not in g:
            raise TimeError("JSON line without a time field")
        if not g.keys() & {"status", "path", "request", "method"}:  # "certificate obtained"
            raise NotARequest(_NO_FIELDS)  # was a request of the site named after the file
        t = g.pop("time")
        if isinstance(t, bool):
            raise TimeError("bad time")
        if isinstance(t, (int, float)):
            g["_ts"], g["_off"] = parse_time(str(t).encode(), "epoch")
        else:
            g["_ts"], g["_off"] = parse_time(_bytes(t), "auto")
        out = {k: _bytes(v) for k, v in g.items() if not k.startswith("_")}
        status = g.get("status")
        if isinstance(status, (int, float)) and not isinstance(status, bool):
            out["status"] = str(int(status)).encode() if math.isfinite(status) else b"-"
        if out.get("vhost"):
            out["vhost"] = host_of(out["vhost"])
        out["_ts"], out["_off"] = g["_ts"], g["_off"]
        return out

    def summary(self, line: bytes) -> str | None:
        """A request's JSON line as a combined line reads, its site first (`shop.example
        198.51.100.1 - - [05/Dec/2026:19:46:40 +0000] "GET /a" 200 512 "-" "curl/8"`): a Caddy
        line's first 3 rows had been its level, logger and port, its path and status never in
        view (a trial). None where the line is no request."""
        try:
            g = self.parse(line)
        except ValueError:  # (TimeError, NotARequest)
            return None
        if g is None:
            return None

        def text(key: str) -> str:  # a quote written as nginx writes one (a path ending in
            # `" 200 512 "x` read as a request that got 200, a review)
            return (g.get(key) or b"-").decode("utf-8", "surrogateescape").replace(
                "\\", "\\x5C").replace('"', "\\x22")

        off = g["_off"]
        when = time.strftime("%d/%b/%Y:%H:%M:%S", time.gmtime(g["_ts"] + off))
        zone = f"{'+' if off >= 0 else '-'}{abs(off) // 3600:02d}{abs(off) % 3600 // 60:02d}"
        request = text("request") if g.get("request") else f"{text('method')} {text('path')}"
        site = f"{text('vhost').lower()} " if g.get("vhost") else ""  # as its site is named
        return (f'{site}{text("host")} - - [{when} {zone}] "{request}" {text("status")} '
                f'{text("size")} "-" "{text("agent")}"')  # (the referer is not read: "-", so
        # the agent stands where a combined line has it, not in the referer's place: a trial)
