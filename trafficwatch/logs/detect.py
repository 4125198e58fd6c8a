"""Which format a log is in, from its first lines: each known format is tried with the parser.

Apart from formats.py (what the formats are) so that the parser can use the formats and
detection the parser, with no import going back up.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from trafficwatch.logs.container import ENTRYPOINT, STDERR_OTHER, SYSTEM
from trafficwatch.logs.formats import DETECT_ORDER, PRESETS, SPACED_VHOST, LogFormat
from trafficwatch.logs.parse import HAPROXY_OWN, Parser
from trafficwatch.logs.timeparse import APART, TOO_EARLY, TOO_LATE
from trafficwatch.logs.w3c import NOT_REQUESTS

# lines of a log that are no request, nor a reason to doubt its format
OWN_LINES = (*NOT_REQUESTS, STDERR_OTHER, ENTRYPOINT, SYSTEM, HAPROXY_OWN)
ALREADY = "already counted from the file it replaced (edited in place?)"  # (engine.live)
NO_REQUEST = "no request"  # what the lines of SAID_APART are called where they are counted
SAID_APART = frozenset((*OWN_LINES, ALREADY))  # counted with the malformed lines, under their
# reasons, and not malformed: their own counter on /metrics (an error log's lines had raised
# trafficwatch_malformed_lines_total with every 404, an alert on ordinary traffic: a trial)
TIME_REASONS = frozenset({"impossible date", "bad time", "bad time zone offset", TOO_EARLY,
                          TOO_LATE, APART})  # a line of a format, but a time that cannot be counted


def said_apart(counts: Mapping[str, int]) -> int:
    """Lines among malformed `counts` (reason -> lines) that are no request and no fault
    (SAID_APART): said apart from the malformed by counts, follow and /metrics alike."""
    return sum(n for r, n in counts.items() if r in SAID_APART)


@dataclass(frozen=True)
class Detection:
    """The format chosen from a sample, and the share of sample lines each candidate parsed."""

    format: LogFormat | None
    scores: dict[str, float]
    # where no format fits: the first whose every line failed on its time alone, and the
    # reason (a one-line file dated 31 Feb read "no known log format matches")
    times: tuple[str, str] | None = None


def fit(fmt: LogFormat, sample: list[bytes]) -> float:
    """Share of the sample's requests (headers and blank lines aside) that `fmt` parses."""
    lines = [ln for ln in sample if ln.strip()]
    if not lines:
        return 0.0
    res = Parser(fmt).feed(b"\n".join(lines) + b"\n", final=True)
    requests = res.lines - res.skipped
    return len(res.records) / requests if requests else 0.0


def detect_format(sample: list[bytes], hint: LogFormat | None = None) -> Detection:
    """Try each known format on the sample; the best one wins if it parses at least half.

    `hint` (the format of another file of the same site, e.g. the previous rotation) saves
    trying the formats after it: when it parses the whole sample, the first format up to it
    that does is what full detection would choose too (ties go to the earlier format).
    """
    if hint is not None and hint in DETECT_ORDER and fit(hint, sample) == 1.0:
        for fmt in DETECT_ORDER[: DETECT_ORDER.index(hint)]:
            if _fits_all(fmt, sample):
                return Detection(fmt, {fmt.name: 1.0})
        return Detection(hint, {hint.name: 1.0})
    return _detect(sample)


def _fits_all(fmt: LogFormat, sample: list[bytes]) -> bool:
    """fit(fmt, sample) == 1.0, answered by the first line alone when that one does not parse
    (a rotation of a combined log is not tried line by line as vhost-combined)."""
    lines = [ln for ln in sample if ln.strip()]
    if fmt.kind != "w3c" and lines and fit(fmt, lines[:1]) < 1.0:
        return False
    return fit(fmt, lines) == 1.0


# A format that reads a line of another and more of it: chosen where it reads RICHER_FIT of the
# sample and ranks within 1 - RICHER_FIT of the one it enlarges. One common line among combined
# ones, dated "[not a date]" (a line of the format, its time unread: it fits), had made a whole
# log COMMON: every user agent lost, --no-bots counting Googlebot (a hosting trial)
RICHER = {"COMMON": "COMBINED", "VCOMMON": "VCOMBINED"}
RICHER_FIT = 0.95

STRAIN = 0.5  # what a line read with an ident other than "-" counts less in a format's rank


def _strained(fmt: LogFormat, lines: list[bytes]) -> int:
    """Lines `fmt` reads only with an ident (Apache's %l) other than "-": a vhost log read as
    combined takes each client for the ident. Three Host headers of "http://x" (no vhost) at a
    log's head made all of it combined, every site one and every client its vhost (a security
    trial)."""
    if fmt.kind != "regex" or b"?P<ident>" not in fmt.pattern:
        return 0
    rx, spaced = fmt.regex, SPACED_VHOST.get(fmt.name)
    n = 0
    for ln in lines:
        m = rx.match(ln)
        if m is not None and m.group("ident") != b"-" and (spaced is None or
                                                          spaced.match(ln) is None):
            n += 1
    return n


def _detect(sample: list[bytes]) -> Detection:
    """Try each known format on the sample; the best one wins if it parses at least half."""
    lines = [ln for ln in sample if ln.strip()]
    if not lines:
        return Detection(None, {})
    data = b"\n".join(lines) + b"\n"
    scores: dict[str, float] = {}
    ranks: dict[str, float] = {}
    times = None
    for fmt in DETECT_ORDER:
        res = Parser(fmt).feed(data, final=True)
        # a server's own lines in its access log's format (Caddy's tls.cache.maintenance, a
        # JSON log's messages) are not lines it fails to read: 30 of them first refused a log
        # of Caddy's (a review)
        own = sum(n for r, n in res.malformed.counts.items() if r in OWN_LINES)
        requests = res.lines - res.skipped - own
        # lines of the format whose time cannot be counted (1989, 31 Feb, two days ahead) fit
        # it: counted malformed under their reason once read in it. Five such lines of nine
        # had the log refused as of no known format (a trial)
        timed = sum(n for r, n in res.malformed.counts.items() if r in TIME_REASONS)
        scores[fmt.name] = ((len(res.records) + timed) / requests
                            if requests and len(res.records) else 0.0)
        ranks[fmt.name] = scores[fmt.name] - STRAIN * (_strained(fmt, lines) / requests
                                                        if scores[fmt.name] else 0.0)
        reasons = res.malformed.counts
        if times is None and requests and not len(res.records) and reasons and all(
                r in TIME_REASONS for r in reasons):
            times = (fmt.name, reasons.most_common(1)[0][0])
    best = max(ranks, key=lambda k: ranks[k])  # DETECT_ORDER breaks ties (max keeps the first)
    richer = RICHER.get(best)
    if richer is not None and scores[richer] >= RICHER_FIT and \
            ranks[richer] >= ranks[best] - (1 - RICHER_FIT):
        best = richer
    if scores[best] >= 0.5:
        return Detection(PRESETS[best], scores)
    return Detection(None, scores, times)


# An nginx or Apache error log line (not a request): `2026/11/20 10:00:00 [error] 12#12: ...` or
# `[Fri Nov 20 10:00:00.123 2026] [core:error] [pid 12] ...` (Apache 2.2: `[error]`).
_LEVEL = rb"(?:emerg|alert|crit|error|warn|notice|info|debug|trace\d)"
_ERROR_LINE = re.compile(
    rb"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[" + _LEVEL + rb"\] \d+#\d+: "
    rb"|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \d{4}\] \[(?:[\w-]+:)?"
    + _LEVEL + rb"\]")


def is_error_log(sample: list[bytes]) -> bool:
    """Most of the sample's lines are nginx or Apache error log lines: not an access log."""
    lines = [ln for ln in sample if ln.strip()]
    return bool(lines) and 2 * sum(_ERROR_LINE.match(ln) is not None for ln in lines) >= len(lines)
