"""A log whose lines change format within the file: read in the new one from where it begins.

An admin edits nginx's `log_format` (JSON for a log shipper, a format of their own) and reloads:
the same access.log goes on in the new format, while the old workers finish their requests in
the old one for a while. Read in the format found at its head, every line after the change was
malformed until the log rotated, in `counts` and in the app alike, and restarting changed
nothing (the format is found again from the head): the site's traffic fell to nothing on the
chart and the alerts said so.

Lines the format in force does not read (its own lines, lines whose time alone cannot be
counted, over-long and binary lines aside) are counted in runs: chunks mostly of such lines add
theirs, a chunk of REFIT_MIN lines or more mostly read ends the run. Formats are tried on the
run's latest lines once it holds REFIT_MIN (again when it has doubled), once one format reads
the latest REFIT_MIN in a row, or at once where REFIT_MIN (and TRY_SHARE) are among a chunk
mostly read; where one reads REFIT_FIT of them, each line of the chunk is read in the format
that reads it. A change goes only to a server's own formats (REFIT_TO), and never to one that
reads the old format's latest lines too (combined reads a vhost log's lines, common a combined
one's): a client's crafted Host or X-Forwarded-For changes nothing. After a change, lines the
new format does not read are tried in the one before it (an old worker's line after a
reload), for PREV_LINES lines; REFIT_MIN of them in chunks mostly of them bring it back. Lines
of a followed log come a few at a time: the run's lines that came before the chunk it changed
in stay counted malformed, where they were counted as they came (a counter does not go back),
fewer than REFIT_MIN, said with the change. A file read whole holds back the lines its chunk
ends with that its format does not read (`hold`): read with the chunk after them, none is lost
at a chunk's edge; `flush` reads what is held at its end (in another format where one reads
every line of it). `--log-format` names the format of every line (`fixed`): nothing is tried then.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from trafficwatch.logs.container import CRI, holds_container_lines
from trafficwatch.logs.detect import SAID_APART, TIME_REASONS, detect_format
from trafficwatch.logs.formats import PRESETS, LogFormat
from trafficwatch.logs.parse import Parser
from trafficwatch.logs.records import ParseResult

REFIT_MIN = 20  # lines in a row the format in force does not read before another is tried
REFIT_FIT = 0.9  # share of them the new format must read
# The formats a log's lines may change to: a server's own formats (a looser one, HAProxy's,
# read lines whose X-Forwarded-For a client wrote as one, at the time it chose: a security
# review)
REFIT_TO = frozenset({"COMBINED", "COMMON", "VCOMBINED", "VCOMMON", "JSON"})
READS_OLD = frozenset({("COMBINED", "VCOMBINED"), ("COMMON", "COMBINED"), ("COMMON", "VCOMBINED"),
                       ("COMMON", "VCOMMON"), ("VCOMMON", "VCOMBINED")})  # (new, old): new
# reads old's lines (as _reads_old finds it on a log's own lines, where none is known yet)
RUN_KEEP = 2 * REFIT_MIN  # the run's latest lines, what formats are tried on
TRY_SHARE = 0.02  # ... and this share of its lines at least (a log's junk lines, 1 % of them,
# had each chunk tried: `counts` 3 to 5 times slower)
QUIET_CHUNKS = 8  # after lines among a chunk mostly read were tried in vain (a log with junk
# lines: each try reads every line of the chunk one by one), this many are not tried
GOOD_BYTES = 16384  # the end of a chunk read whole, where its latest lines read are taken
PREV_LINES = 100_000  # lines read after a change before its old format is let go of (each
# chunk with a line unread was read again line by line while it was kept: 5 times slower)
FLUSH_MIN = 1  # lines held at a file's end (or a part's) read in another format that reads
# every one of them (5 had left a part's last 3 lines of the new format malformed: a trial)
_NOT_BAD = SAID_APART | TIME_REASONS | {"line too long", "binary"}  # no line of any format


@dataclass
class Run:
    """A stream's lines that its format does not read, and its change of format so far."""

    lines: list[bytes] = field(default_factory=list)  # the run's latest (RUN_KEEP)
    count: int = 0  # lines in the run
    next_try: int = REFIT_MIN  # its length at the next try of the formats
    prev: LogFormat | None = None  # the format before the last change
    earlier: int = 0  # at a change: the run's lines counted malformed before the chunk it
    # changed in (as they came)
    unknown: int = 0  # the length of a run no known format read at its last try (0: none)
    held: bytes = b""  # (hold) lines a chunk ended with that its format does not read
    good: list[bytes] = field(default_factory=list)  # the latest lines its format read
    since: int = 0  # lines read since the last change (its old format is let go of at PREV_LINES)
    quiet: int = 0  # chunks mostly read before REFIT_MIN lines among one are tried again

    streaks: dict[str, int] = field(default_factory=dict)  # format -> the latest unread lines
    # in a row it reads
    candidates: dict[str, Parser] = field(default_factory=dict)  # (their parsers, kept)
    back: int = 0  # lines of the old format read in chunks mostly of them, in a row

    def end(self) -> None:
        self.lines, self.count, self.next_try, self.unknown = [], 0, REFIT_MIN, 0
        self.streaks, self.back = {}, 0


def _bad(res: ParseResult) -> int:
    return sum(n for r, n in res.malformed.counts.items() if r not in _NOT_BAD)


def _lines(data: bytes, final: bool) -> list[bytes]:
    """The complete lines of `data` as Parser.feed reads them."""
    if not final or not data[data.rfind(b"\n") + 1:].strip():
        data = data[: data.rfind(b"\n") + 1]
    lines = data.split(b"\n")
    if not lines[-1].strip():
        lines.pop()
    return lines


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n" if lines else b""


def _split(lines: list[bytes], idx: list[int]) -> tuple[list[bytes], list[bytes]]:
    """(the lines not at `idx`, those at `idx`), each in file order."""
    at = set(idx)
    return [ln for i, ln in enumerate(lines) if i not in at], [lines[i] for i in idx]


def _trailing(parser: Parser, lines: list[bytes]) -> int:
    """The index of the first of the lines `lines` ends with that `parser`'s format does not
    read (len(lines): none); looked for in a tail that doubles until it holds a line read."""
    n = RUN_KEEP
    while True:
        tail = lines[-n:]
        unread = parser.unread(tail)
        if len(unread) < len(tail) or n >= len(lines):
            break
        n *= 2
    k = len(tail)
    for i in reversed(unread):
        if i != k - 1:
            break
        k = i
    return len(lines) - len(tail) + k


def feed(parser: Parser, data: bytes, run: Run, *, final: bool = False, fixed: bool = False,
         hold: bool = False) -> tuple[Parser, list[ParseResult]]:
    """`parser.feed(data)`, following a change of the lines' format: (the parser in force after
    `data`, the results of its lines in order; a result whose lines a new format read names it
    in `changed`)."""
    if run.held:
        data, run.held = run.held + data, b""
    res = parser.feed(data, final=final)
    if fixed or parser.fmt.kind == "w3c" or holds_container_lines(data) or \
            CRI.match(data) is not None:  # (a W3C log's header says its fields itself; a
        # container's lines are pieces of the server's, joined first; known by how its lines
        # begin: " stdout P " in a user agent had turned this off, a security review)
        return parser, [res]
    bad = _bad(res)
    if not bad:
        if res.lines >= REFIT_MIN:
            run.end()
        run.good = (run.good + _lines(data[-GOOD_BYTES:], final)[1:])[-RUN_KEEP:]
        if run.prev is not None:
            run.since += res.lines
            if run.since >= PREV_LINES:  # the old format's last lines are long written
                run.prev = None
        return parser, [res]
    lines = _lines(data, final)
    if run.prev is not None:  # lines the new format does not read, tried in the old one
        got = _old_lines(parser, lines, run)
        if got is not None:
            return got
    if 2 * bad < res.lines:  # mostly read: a run ends where REFIT_MIN lines are
        if bad >= max(REFIT_MIN, TRY_SHARE * res.lines) and not run.quiet:  # of another kind
            # among them (a change, then an old worker's line at the chunk's end): tried at once
            sample = [lines[i] for i in parser.unread(lines, RUN_KEEP)]
            got = _switch(parser, lines, run, sample, 0)
            if got is not None:
                return got
            run.quiet = QUIET_CHUNKS
        elif run.quiet:
            run.quiet -= 1
        if res.lines - bad < REFIT_MIN:  # (a stray line of the old format: no end)
            return parser, [res]
        run.end()
        k = _trailing(parser, lines)  # the lines it ends with that it does not read: a run
        if k == len(lines):
            return parser, [res]
        if hold:  # read with the next chunk
            run.held = _join(lines[k:])
            return parser, [parser.feed(_join(lines[:k]), final=True)]
        run.lines, run.count = lines[k:][-RUN_KEEP:], len(lines) - k
        return parser, [res]
    new = [lines[i] for i in parser.unread(lines, RUN_KEEP)]
    run.lines = (run.lines + new)[-RUN_KEEP:]
    run.count += bad
    ready = _streak(parser, run, new)  # the latest REFIT_MIN all read by one format: tried
    # now (after a run of an admin's own format, JSON waited for the run to double: a trial)
    if run.count < run.next_try and not ready:
        return parser, [res]
    got = _switch(parser, lines, run, run.lines[-REFIT_MIN:] if ready else run.lines,
                  run.count - bad)
    if got is None:
        if run.count >= run.next_try:
            run.next_try, run.unknown = 2 * run.count, run.count  # tried again when doubled
        return parser, [res]
    return got


def _streak(parser: Parser, run: Run, new: list[bytes]) -> bool:
    """Count, for each format a change may go to, the latest unread lines in a row it reads
    (`new`: the latest of them, in order); whether one has REFIT_MIN."""
    for fmt in REFIT_TO - {parser.fmt.name}:
        p = run.candidates.get(fmt)
        if p is None:
            p = run.candidates[fmt] = Parser(PRESETS[fmt], parser.opts)
        n = run.streaks.get(fmt, 0)
        for ln in new:
            n = n + 1 if not p.unread([ln]) else 0
        run.streaks[fmt] = n
    return max(run.streaks.values(), default=0) >= REFIT_MIN


def _old_lines(parser: Parser, lines: list[bytes], run: Run
               ) -> tuple[Parser, list[ParseResult]] | None:
    """After a change: the lines the format in force does not read that the one before it
    does, read in that one (and that one back in force where they are most of `lines`); None
    where none is (looked for in the last RUN_KEEP such lines first: a log's junk lines are not
    each read twice)."""
    old = Parser(run.prev, parser.opts)
    sample = parser.unread(lines, RUN_KEEP)
    if len(old.unread([lines[i] for i in sample])) == len(sample):
        return None
    idx = parser.unread(lines) if len(sample) == RUN_KEEP else sample
    theirs = set(old.unread([lines[i] for i in idx]))
    back = [i for j, i in enumerate(idx) if j not in theirs]
    rest, mine = _split(lines, back)
    got = [parser.feed(_join(rest), final=True)] if rest else []
    read = old.feed(_join(mine), final=True)
    run.back = run.back + len(back) if 2 * len(back) >= len(lines) else 0
    if run.back >= REFIT_MIN:  # REFIT_MIN in chunks mostly of them: the old format is back (a
        # stray line written alone had flipped it, and said so, at every such line: a trial)
        run.prev, parser = parser.fmt, old
        read = replace(read, changed=old.fmt.name)
        run.end()
        run.since, run.good, run.earlier = 0, [], 0  # (its lines were read: none malformed;
        # the change before's number had been said again, a trial)
    return parser, [*got, read]


def _switch(parser: Parser, lines: list[bytes], run: Run, sample: list[bytes],
            earlier: int) -> tuple[Parser, list[ParseResult]] | None:
    """Where a format other than `parser`'s reads REFIT_FIT of `sample`: the new parser, and
    `lines` read, those the old one does not read in it, the others in the old one. None where
    none does."""
    det = detect_format(sample)
    new = det.format
    if new is None or new.name == parser.fmt.name or new.name not in REFIT_TO or \
            det.scores.get(new.name, 0.0) < REFIT_FIT:
        return None
    idx = parser.unread(lines)
    at = set(idx)
    if _reads_old(new, parser, run.good + [ln for i, ln in enumerate(lines) if i not in at]):
        return None
    rest, theirs = _split(lines, idx)
    got = [parser.feed(_join(rest), final=True)] if rest else []
    nxt = Parser(new, parser.opts)
    got.append(replace(nxt.feed(_join(theirs), final=True), changed=new.name))
    run.end()
    run.prev, run.earlier, run.since, run.good = parser.fmt, earlier, 0, []
    return nxt, got


def _reads_old(new: LogFormat, parser: Parser, good: list[bytes]) -> bool:
    """Whether `new` reads most of the latest of `good`, lines `parser`'s format read: it reads
    the old format's lines too (combined reads a vhost log's, common a combined one's), and
    what it reads of them is no change of the server's format (20 requests with a Host of
    "evil," had made a vhost log combined for good, every site one: a security review)."""
    mine = good[-RUN_KEEP:]
    if not mine:  # none read yet (a restart, then crafted requests first): as formats go
        return (new.name, parser.fmt.name) in READS_OLD
    return len(Parser(new, parser.opts).unread(mine)) < len(mine) / 2


def whole(parser: Parser, data: bytes, *, fixed: bool = False) -> list[ParseResult]:
    """The results of `data` read whole (a part of a big file read by a worker): fed once,
    holding back and then reading what its end holds, with a run of its own."""
    run = Run()
    parser, got = feed(parser, data, run, final=True, fixed=fixed, hold=True)
    return got + flush(parser, run)[1]


def flush(parser: Parser, run: Run) -> tuple[Parser, list[ParseResult]]:
    """What `hold` kept back at the end of a file (or of the part read): read in the format in
    force, or, FLUSH_MIN lines or more that another reads every one of, in that one."""
    if not run.held:
        return parser, []
    lines, run.held = _lines(run.held, True), b""
    if len(lines) >= FLUSH_MIN:
        det = detect_format(lines)
        new = det.format
        if new is not None and new.name != parser.fmt.name and new.name in REFIT_TO and \
                det.scores.get(new.name, 0.0) >= 1.0 and not _reads_old(new, parser, run.good):
            nxt = Parser(new, parser.opts)
            run.prev = parser.fmt
            return nxt, [replace(nxt.feed(_join(lines), final=True), changed=new.name)]
    return parser, [parser.feed(_join(lines), final=True)]
