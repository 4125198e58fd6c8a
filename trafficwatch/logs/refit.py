"""A log whose lines change format within the file: read in the new one from where it begins.

An admin edits nginx's `log_format` (JSON for a log shipper, $host in front, a format of their
own) and reloads: the same access.log goes on in the new format. Read in the format found at
its head, every line after the change was malformed until the log rotated, in `counts` and in
the app alike, and restarting changed nothing (the format is found again from the head): the
site's traffic fell to nothing on the chart and the alerts said so.

A run of REFIT_MIN lines in a row, at the end of what has been read, that the format in force
does not read (its own lines said apart, and lines whose time alone cannot be counted: those
are its lines) is tried with every known format; where one reads at least REFIT_FIT of them,
the lines from the first of the run are read in it. Lines of the run that came in an earlier
chunk (a followed log's lines come a few at a time) stay counted malformed, where they were
counted as they came (a counter does not go back): fewer than REFIT_MIN lines, once a change.
A run no format reads is not tried again until the format in force reads a line again.
`--log-format` names the format of every line: nothing is tried then.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from trafficwatch.logs.container import CRI_PART, holds_container_lines
from trafficwatch.logs.detect import SAID_APART, TIME_REASONS, detect_format
from trafficwatch.logs.parse import Parser
from trafficwatch.logs.records import ParseResult

REFIT_MIN = 20  # lines in a row the format in force does not read before another is tried
REFIT_FIT = 0.9  # share of them the new format must read
RUN_KEEP = 200  # lines of the run kept to try formats on (its latest)
_NOT_BAD = SAID_APART | TIME_REASONS


@dataclass
class Run:
    """The latest lines of a stream, in a row, that its format does not read."""

    lines: list[bytes] = field(default_factory=list)
    tried: bool = False  # no format read them: not tried again until the run ends
    earlier: int = 0  # at a change: the lines of the run that came before the chunk read in
    # the new format (counted malformed as they came)


def _bad(res: ParseResult) -> int:
    return sum(n for r, n in res.malformed.counts.items() if r not in _NOT_BAD)


def _good(fmt, opts, lines: list[bytes]) -> int:
    """Lines of `lines` that `fmt` reads (or knows as its own)."""
    if not lines:
        return 0
    res = Parser(fmt, opts).feed(b"\n".join(lines) + b"\n", final=True)
    return res.lines - _bad(res)


def _lines(data: bytes, final: bool) -> list[bytes]:
    """The complete lines of `data` as Parser.feed reads them."""
    if not final or not data[data.rfind(b"\n") + 1:].strip():
        data = data[: data.rfind(b"\n") + 1]
    lines = data.split(b"\n")
    if not lines[-1].strip():
        lines.pop()
    return lines


def _run_start(parser: Parser, lines: list[bytes], good: int) -> int:
    """The index of the first line after the last one `parser`'s format reads: the smallest
    prefix that holds all `good` lines (a binary search: the count only grows with it)."""
    lo, hi = 0, len(lines)
    while lo < hi:
        mid = (lo + hi) // 2
        if _good(parser.fmt, parser.opts, lines[:mid]) >= good:
            hi = mid
        else:
            lo = mid + 1
    return lo


def feed(parser: Parser, data: bytes, run: Run, *, final: bool = False,
         fixed: bool = False) -> tuple[Parser, list[ParseResult]]:
    """`parser.feed(data)`, and where the lines changed format at the end of it, the parser
    of the new format and the lines read in both: (the parser in force after `data`, the
    results in order; the last one's `changed` names the new format)."""
    res = parser.feed(data, final=final)
    if fixed or parser.fmt.kind == "w3c" or holds_container_lines(data) or any(
            p in data for p in CRI_PART):  # (a W3C log's header says its fields itself; a
        return parser, [res]  # container's lines are pieces of the server's, joined first)
    bad = _bad(res)
    if not bad:
        run.lines, run.tried = [], False
        return parser, [res]
    lines = _lines(data, final)
    if not lines:
        return parser, [res]
    if _good(parser.fmt, parser.opts, lines[-1:]):  # the run, if any, has ended
        run.lines, run.tried = [], False
        return parser, [res]
    if run.tried:
        return parser, [res]
    tail = lines[-REFIT_MIN:]
    i = len(tail)
    while i and not _good(parser.fmt, parser.opts, tail[i - 1:i]):
        i -= 1
    if i or len(lines) <= REFIT_MIN:  # the run began within the last REFIT_MIN lines (or
        k = len(lines) - len(tail) + i  # before this chunk)
    else:
        k = _run_start(parser, lines, res.lines - bad)
    if k:
        run.lines = []
    earlier = len(run.lines)
    run.lines = (run.lines + lines[k:])[-RUN_KEEP:]
    if len(run.lines) < REFIT_MIN:
        return parser, [res]
    det = detect_format(run.lines)
    new = det.format
    if new is None or new.name == parser.fmt.name or det.scores.get(new.name, 0.0) < REFIT_FIT:
        run.tried = True
        return parser, [res]
    # the lines of this chunk read again: its first k in the format in force, the rest in the
    # new one (a fresh parser of the old format: the one in force has read them all once)
    old = Parser(parser.fmt, parser.opts)
    results = [old.feed(b"\n".join(lines[:k]) + b"\n", final=True)] if k else []
    nxt = Parser(new, parser.opts)
    got = nxt.feed(b"\n".join(lines[k:]) + b"\n", final=True)
    results.append(replace(got, changed=new.name))
    run.lines, run.tried, run.earlier = [], False, earlier
    return nxt, results
