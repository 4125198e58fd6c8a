"""The fleet's hourly requests per site, from Prometheus's HTTP API (query_range).

Each agent exports `trafficwatch_requests_total{site, status}`, a counter of the lines it has
counted. The count of hour [T - 1h, T) is, per agent, the counter's value at T minus its value at
T - 1h (the last sample at or before each instant), summed over the agents:

    sum by (site, status) ((X - X offset 3600s) >= 0)
    X = trafficwatch_requests_total{site!="", <--match...>}

evaluated by query_range at hour-aligned steps. Unlike `increase()`, nothing is extrapolated:
the hours add up to the counters' growth exactly. An agent with no sample at one end of an hour
(not yet started, down, or gone) adds nothing to that hour, and an hour no agent covers is a gap
(no value), never a zero. `>= 0` drops an agent whose counter went down (a reset: its state and
its logs both lost) from that hour rather than subtract. Lines count in the hour in which they
were first scraped: see the README ("Fleet") for the skew that gives.
"""
from __future__ import annotations

import http.client
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import numpy as np

from trafficwatch.counting.load import MAX_COUNT
from trafficwatch.counting.series import N_CELLS, ChunkCounts, HourlySeries
from trafficwatch.filters import STATUS_LABELS as STATUS
from trafficwatch.hours import HOUR
from trafficwatch.safe import name_from_shown, safe_name

METRIC = "trafficwatch_requests_total"
MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 steps per query
MAX_BYTES = 256 << 20  # an answer larger than this is refused: narrow with --site or --match
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_TOKEN = re.compile(r"[\x21-\x7e]+\Z")  # a bearer token: visible ASCII (RFC 6750's b64token)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\\n]|\\.)*")\s*\Z')


class PrometheusError(ValueError):
    """Prometheus could not be asked, or did not answer: one line saying which and why."""


def shown_url(url: str) -> str:
    """`url` as it may be printed: credentials in it (user:password@) left out, whether or not
    the rest parses (a trailing space's "Port could not be cast" quoted the password back)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:  # all up to the last @: a password may hold a /, ? or # unquoted (a review:
        # "user:s3cr?et@prom" was quoted back by the parse error)
        rest = "***@" + rest.rsplit("@", 1)[1]
    return safe_name(scheme + sep + rest)


def _has_credentials(url: str) -> bool:
    """An @ anywhere: a Prometheus URL needs none, and "http://user:1234/secret@prom:9090" parses
    as host `user`, port 1234, its password then printed in every message naming the URL."""
    return "@" in url


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def host_form(name: str) -> str:
    """A virtual host as the agents count it: lower case, no port (HourlySeries.resolve)."""
    return re.sub(r":\d+$", "", name).lower()


def _literal(text: str) -> str:
    """`text` as a regular expression (RE2) that matches it and nothing else."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


@dataclass(frozen=True)
class PromConfig:
    """Where the fleet's series is and how to select it."""

    url: str
    site_label: str = "site"
    matchers: tuple[str, ...] = ()  # extra label matchers, checked: name op "value"
    days: int = 60  # how far back the first read goes
    token: str | None = field(default=None, repr=False)  # bearer token (from the environment)
    status_classes: frozenset[int] | None = None  # e.g. {4, 5}; None: every class
    site: str | None = None  # one site only (asked of Prometheus; others it answers: `wants`)
    step: int = HOUR  # seconds per bucket: an hour (tests shorten it: Prometheus's clock is real)
    timeout: float = 10.0  # seconds: connecting, and each wait for more of the answer
    deadline: float = 60.0  # seconds for a whole answer: one sent a byte a second had no end

    @classmethod
    def build(cls, url: str, *, site_label: str = "site", matchers: list[str] | None = None,
              days: int = 60, token: str | None = None,
              status_classes: set[int] | None = None, site: str | None = None,
              step: int = HOUR, timeout: float = 10.0) -> PromConfig:
        """A checked config; ValueError naming the first bad option."""
        shown = shown_url(url)  # never the password: said before anything else is checked
        if _has_credentials(url):
            raise ValueError("--prometheus: no credentials in the URL; put a bearer token in "
                             "$TRAFFICWATCH_PROMETHEUS_TOKEN")
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 -- raises on a port that is no number
        except ValueError as exc:  # "Invalid IPv6 URL", said without the option; not where a
            # part was left out: "Port could not be cast ... 'pa'" of http://al:pa/ss@host
            why = "not a URL" if "***@" in shown else str(exc)
            raise ValueError(f"--prometheus {shown!r}: {why}; use http://HOST:PORT or "
                             "https://HOST[/PATH]") from exc
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"--prometheus {shown!r}: use http://HOST:PORT or "
                             "https://HOST[/PATH]")
        if parts.query or parts.fragment:  # the API's path and query are put after the URL
            raise ValueError(f"--prometheus {shown!r}: no ?query or #fragment; use "
                             "http://HOST:PORT or https://HOST[/PATH]")
        if token is not None and not _TOKEN.match(token):  # a token file saved with \r\n: the
            # header was refused, and the error printed the token
            raise ValueError("$TRAFFICWATCH_PROMETHEUS_TOKEN holds a character an HTTP header "
                             "cannot carry (a space, a control character or a non-ASCII one; "
                             "not shown): set it to the token alone")
        if not 1 <= timeout <= 3600:
            raise ValueError(f"--prometheus-timeout {timeout:g}: from 1 to 3600 seconds")
        if not _LABEL.match(site_label):
            raise ValueError(f"--site-label {site_label!r} is not a label name")
        for m in matchers or []:
            if not _MATCHER.match(m):
                raise ValueError(f'--match {m!r}: use NAME="value" (or !=, =~, !~)')
        if not 1 <= days <= 3650:
            raise ValueError(f"--prometheus-days {days}: from 1 to 3650")
        if not 1 <= step <= HOUR:
            raise ValueError(f"step {step}: from 1 to {HOUR} s")
        return cls(url.rstrip("/"), site_label, tuple(m.strip() for m in matchers or []), days,
                   token, frozenset(status_classes) if status_classes else None, site, step,
                   timeout, max(60.0, 6 * timeout))

    def wants(self, site: object) -> bool:
        """Whether a site label Prometheus answered is one asked for: named (the selector asks
        site!="") and `site` when one was asked for. A broken server's site "" crashed the
        site picker, and one not asked for gave a KeyError."""
        if not isinstance(site, str) or not site:
            return False
        raw = name_from_shown(site)  # --site as written (`counts` prints it so) or as it is:
        # the name `counts --prometheus` printed was refused given back (a trial)
        # (or that form as exported, shown: `Caps\\Back.Example` as counts printed it, of
        # caps\back.example, a fleet recheck)
        return self.site in (None, raw, safe_name(raw)) or host_form(self.site) in (raw, site)

    def selector(self) -> str:
        """The series selector: the site label present, the user's matchers, site and status."""
        parts = [f'{self.site_label}!=""', *self.matchers]
        if self.site:  # the name: our agents export it as shown (safe_name), others as it is;
            # or as a client wrote it, as the logs' --site finds it (`B.Example.com:8080` of
            # b.example.com; "no site" on the fleet only, a trial)
            # (`X"Y\Z.example:80` of x"y\z.example, exported as shown: x"y\\z.example)
            host = host_form(self.site)
            names = list(dict.fromkeys((safe_name(self.site), self.site, host, safe_name(host))))
            parts.append(f"{self.site_label}={_quote(self.site)}" if names == [self.site] else
                         f"{self.site_label}=~{_quote('|'.join(map(_literal, names)))}")
        if self.status_classes:
            parts.append("status=~" + _quote("|".join(STATUS[c] for c in
                                                      sorted(self.status_classes))))
        return f"{METRIC}{{{', '.join(parts)}}}"

    def query(self, span: int | None = None) -> str:
        """Requests per site and status class in the `span` seconds (default: a step) before
        each evaluation instant, summed over the agents: each agent's last sample in those
        seconds less its last sample in the step before them. The last sample, not the value
        at the instant: an agent restarted across an hour's end (a deploy; Prometheus marks its
        series stale at the first failed scrape) had no value at that instant and was left out
        of both hours, its requests lost from the totals, the hours shown whole (a fleet
        trial). Its hours still add up to the counters' growth: the sample that ends one hour
        begins the next."""
        x, step = self.selector(), self.step
        end = step if span is None else max(span, 1)  # (in the hour: an agent dead before it
        # has no sample there, and the hour is a gap, not a 0 for its first 5 minutes)
        grew = (f"(last_over_time({x}[{end}s]) - "
                f"last_over_time({x}[{step}s] offset {span or step}s))")
        # an agent whose counter went down (a reset: its state lost) is left out of the hour
        # for every status class, not for the class that went down only: its others, 0 - 0,
        # had made the site's hour a 0 (a fleet recheck)
        return (f"sum by ({self.site_label}, status) "
                f"({grew} unless ignoring(status) ({grew} < 0))")


@dataclass
class FleetCounts:
    """Bucket starts (epoch seconds) and, per site, requests per status class (NaN: no data)."""

    starts: np.ndarray  # (n,) int64, ascending, one step apart
    sites: dict[str, np.ndarray]  # site -> (n, 6) float64
    asked_at: float = 0.0  # when the data was read (the last bucket may be partial up to here)


class PrometheusClient:
    """GETs on the HTTP API with a timeout, the bearer token, and errors in one line."""

    def __init__(self, cfg: PromConfig) -> None:
        self.cfg = cfg

    def get(self, api: str, params: dict[str, str]) -> object:
        """The `data` of a successful answer; PrometheusError otherwise."""
        url = f"{self.cfg.url}/api/v1/{api}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self.cfg.token:
            # not sent on to where a redirect points
            req.add_unredirected_header("Authorization", f"Bearer {self.cfg.token}")
        redirects = _Redirects()
        where = f"Prometheus at {self.cfg.url}"
        try:
            with urllib.request.build_opener(redirects).open(req, timeout=self.cfg.timeout) \
                    as resp:
                body = self._read(resp, _redirected(where, redirects))
        except PrometheusError:
            raise
        except urllib.error.HTTPError as exc:
            where = _redirected(where, redirects)
            try:
                body = exc.read(1 << 16)
            except (OSError, http.client.HTTPException):  # a 500 whose body stalled (a review)
                body = b""
            why = _error_of(body) or exc.reason
            hint = ("" if exc.code not in (401, 403) else
                    "; set $TRAFFICWATCH_PROMETHEUS_TOKEN" if not self.cfg.token else
                    "; the token in $TRAFFICWATCH_PROMETHEUS_TOKEN was refused")
            raise PrometheusError(f"{where} answered {exc.code}: {self._said(why, redirects)}"
                                  f"{hint}") from exc
        except urllib.error.URLError as exc:
            where = _redirected(where, redirects)
            if isinstance(exc.reason, TimeoutError):
                raise PrometheusError(f"cannot reach {where}: no connection within "
                                      f"{self.cfg.timeout:g} s") from exc
            why = getattr(exc.reason, "strerror", None) or exc.reason
            raise PrometheusError(f"cannot reach {where}: {self._said(why, redirects)}"
                                  f"{self._hint(exc.reason)}") from exc
        except TimeoutError as exc:  # connected; the answer did not come (a heavy query over
            # 60 days of thousands of series was "cannot reach", a trial: one went to look at
            # firewalls)
            where = _redirected(where, redirects)
            raise PrometheusError(
                f"{where} did not answer within {self.cfg.timeout:g} s: a heavy query? narrow "
                "it with --site or --match, or wait longer with --prometheus-timeout") from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:  # resets, a bad
            # answer line (BadStatusLine: a TLS alert to http://; IncompleteRead; a redirect to
            # a port that is no number): they had escaped as tracebacks (a review)
            where = _redirected(where, redirects)
            raise PrometheusError(f"cannot reach {where}: {self._said(exc, redirects)}"
                                  f"{self._hint(exc)}") from exc
        where = _redirected(where, redirects)
        if len(body) > MAX_BYTES:
            raise PrometheusError(f"{where}: answer over {MAX_BYTES >> 20} MiB; narrow it with "
                                  "--site or --match")
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise PrometheusError(f"{where}: not a Prometheus API answer "
                                  f"({self._said(exc)})") from exc
        if not isinstance(doc, dict) or doc.get("status") != "success":
            why = _error_of(body) or "no status"
            raise PrometheusError(f"{where}: query failed: {self._said(why)}")
        return doc.get("data")

    def _hint(self, exc: object) -> str:
        """What to try for errors of TLS: a private CA's certificate, or https:// itself."""
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return " (a private CA: point $SSL_CERT_FILE at its certificate)"
        if self.cfg.url.startswith("http://") and isinstance(
                exc, (ConnectionResetError, http.client.BadStatusLine)):
            return " (does it speak TLS? try https://)"
        return ""

    def _said(self, why: object, redirects: _Redirects | None = None) -> str:
        """An error's words on one line, the token never among them (a redirect loop's message
        spans three lines; http.client quotes a header it refuses), nor a password of the URL
        a redirect pointed at ("nonnumeric port: 'se'" of http://u:se?cret@host, a review)."""
        if redirects is not None and "@" in redirects.to:
            return "the URL it was redirected to holds credentials (the error is not shown)"
        text = " ".join(str(why).split())
        if self.cfg.token:
            text = text.replace(self.cfg.token, "(the token)")
        return safe_name(text)  # the server's words: attacker-controlled

    def _read(self, resp, where: str) -> bytes:
        """The answer's body, MAX_BYTES + 1 at most, within cfg.deadline seconds of asking."""
        end = time.monotonic() + self.cfg.deadline
        parts, size = [], 0
        while size <= MAX_BYTES:
            if time.monotonic() > end:
                raise PrometheusError(f"{where}: no whole answer within "
                                      f"{self.cfg.deadline:g} s ({size:,} bytes came)")
            chunk = resp.read1(min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)

    def matrix(self, query: str, start: int, end: int, step: int) -> list[tuple[dict, list]]:
        """query_range as (labels, [[ts, "value"], ...]) per series."""
        data = self.get("query_range", {"query": query, "start": str(start), "end": str(end),
                                        "step": str(step)})
        return _series_of(data, "matrix", "values")

    def vector(self, query: str, at: float) -> list[tuple[dict, list]]:
        """An instant query as (labels, [[ts, "value"]]) per series."""
        data = self.get("query", {"query": query, "time": f"{at:.3f}"})
        return [(m, [v]) for m, v in _series_of(data, "vector", "value")]


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects as urllib does, remembering the last one's target."""

    to: str = ""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.to = newurl
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _redirected(where: str, redirects: _Redirects) -> str:
    """`where`, naming the redirect's target when there was one: it is what refused or failed,
    not the server asked ("cannot reach" the server that had answered 302, a trial)."""
    if not redirects.to:
        return where
    return f"{where} (redirected to {shown_url(redirects.to).split('?', 1)[0]})"


def _error_of(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    if isinstance(doc, dict) and doc.get("error"):
        return str(doc.get("error"))[:300]
    return ""


def _series_of(data: object, kind: str, key: str) -> list[tuple[dict, list]]:
    if not isinstance(data, dict) or data.get("resultType") != kind or \
            not isinstance(data.get("result"), list):
        raise PrometheusError(f"Prometheus answered no {kind}")
    out = []
    for r in data["result"]:
        if isinstance(r, dict) and isinstance(r.get("metric"), dict) and \
                isinstance(r.get(key), list):
            out.append((r["metric"], r[key]))
    return out


def _value(text: object) -> float:
    try:
        v = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    # a count of requests: 1e19 overflowed int64 into a negative count, and the app grew to
    # 12 GB on it, unable to quit
    return v if math.isfinite(v) and 0 <= v < MAX_COUNT else math.nan


def _instant(text: object) -> float | None:
    """A sample's time (seconds since the epoch, as Prometheus writes it), or None where it
    is not one: a time of "1e400" or null raised OverflowError or TypeError out of `counts`
    and `forecast` as a traceback, and stopped the app's reading for good (a security trial)."""
    try:
        t = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return t if math.isfinite(t) and 0 <= t < 1 << 40 else None


def fetch(client: PrometheusClient, start: int, end: int, now: float | None = None) -> FleetCounts:
    """Complete buckets starting in [start, end) (aligned to the step), and with `now`, the
    bucket in progress up to `now`. Sites and classes with no data stay NaN."""
    cfg, step = client.cfg, client.cfg.step
    start, end = start - start % step, end - end % step
    starts = np.arange(start, end, step, dtype=np.int64)
    partial = now is not None and int(now) - int(now) % step == end
    if partial:
        starts = np.append(starts, end)
    sites: dict[str, np.ndarray] = {}

    def put(labels: dict, values: list) -> None:
        site, status = labels.get(cfg.site_label), labels.get("status")
        if not cfg.wants(site) or status not in STATUS:
            return
        # the agent exported the name as shown (safe_name): the name itself, shown once again
        grid = sites.setdefault(name_from_shown(site), np.full((len(starts), len(STATUS)), np.nan))
        col = STATUS.index(status)
        for pair in values:
            if not (isinstance(pair, list) and len(pair) == 2):
                continue
            t = _instant(pair[0])
            if t is None:
                continue
            i = int((t - step) - start) // step  # the bucket ending at that instant
            if 0 <= i < len(starts) and t == start + (i + 1) * step:
                grid[i, col] = _value(pair[1])

    first = start + step  # the instant that closes the first bucket
    while first <= end:
        last = min(end, first + (MAX_POINTS - 1) * step)
        for labels, values in client.matrix(cfg.query(), first, last, step):
            put(labels, values)
        first = last + step
    if partial and now is not None:
        span = max(1, int(now) - end)
        for labels, (pair,) in client.vector(cfg.query(span), now):
            if isinstance(pair, list) and len(pair) == 2:
                put(labels, [[end + step, pair[1]]])  # stored as the bucket in progress
    return FleetCounts(starts, sites, time.time() if now is None else now)


def add_to_series(series: HourlySeries, counts: FleetCounts, last_ts: int | None = None) -> None:
    """Add the fleet's counts to `series` (hours with data covered, others left as gaps);
    `last_ts`: the time up to which the last bucket is known."""
    if (counts.starts % HOUR).any():
        raise ValueError("the fleet's buckets are not hours: a series counts hours only")
    if last_ts is not None:  # the bucket of the hour asked in is partial up to the last second
        # (read at 08:59:55 the 08:00 bucket was drawn and forecast from as a whole hour)
        series.partial_end_s = 1
    hours = counts.starts // HOUR
    for site, grid in counts.sites.items():
        seen = ~np.isnan(grid).all(axis=1)
        idx = np.flatnonzero(seen)
        if not len(idx):
            continue
        for run in np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1):  # contiguous hours
            cells = np.zeros((len(run), N_CELLS), np.int64)
            cells[:, 0::4] = np.nan_to_num(grid[run]).round().astype(np.int64)  # not bot, not static
            lo, hi = int(counts.starts[run[0]]), int(counts.starts[run[-1]]) + HOUR - 1
            end_ts = hi if last_ts is None else min(hi, max(lo, last_ts))
            series.add_counts(site, ChunkCounts(
                hours[run], cells, np.zeros(len(run), np.int64), None, None, None,
                end_ts, 0, lo, end_ts))
