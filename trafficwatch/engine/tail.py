"""The log tail as the view's filter narrows it: of the view's last lines, those the filter keeps.

The pane showed every line under a filter, headed "unfiltered" (a sysadmin filtering 5xx looked
there for the failing requests and found 2xx lines). Each tail line is parsed again, with the
format of the file it came from (and a W3C log's `#Fields:` header then in force), and judged as
the counts are: its path (without the query) searched by the filter's regex, its status class,
bot or not, its hour inside the range, a static asset or not under `pages`, and --exclude-ip and
--ignore-status. A line that does not parse (malformed, cut) is not kept, as it is not counted.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from trafficwatch.counting.ingest import IngestOptions, choose_format
from trafficwatch.engine.snapshot import TailLine
from trafficwatch.filters import ViewFilter
from trafficwatch.hours import HOUR
from trafficwatch.logs.formats import LogFormat
from trafficwatch.logs.parse import ParseOptions, Parser, in_networks

SHOWN = 50  # the lines the pane shows at most: judging stops once this many are kept
BATCH = 100  # lines judged at a time, newest first


@dataclass(frozen=True)
class Facts:
    """What one line is, as a filter reads it."""

    ts: int
    cls: int  # status class 0..5 (0: none, or outside 100-599)
    status: int
    bot: bool
    static: bool
    path: str
    client: str


def narrows_lines(f: ViewFilter | None) -> bool:
    """Whether the filter keeps some lines and not others (every part of it does)."""
    return f is not None and bool(f.path or f.status_classes or f.bots is not True
                                  or f.start is not None or f.end is not None)


class TailFilter:
    """Keeps what each tail line parsed to while the line is in the tail: lines are parsed once,
    a batch per file format (one at a time took 1.6 ms a line, 50 in a batch 2.3 ms), and a
    batch with a line that does not parse is halved until it is found (a review: one line left
    out by --exclude-ip sent 200 sites' tails through one parse a line, 23 s)."""

    def __init__(self, ingest: IngestOptions) -> None:
        # parsed with no exclusion: those are judged after (a line they leave out is no record,
        # and a batch that lacks one would be parsed again in halves)
        self.ingest = replace(ingest, parse=replace(
            ingest.parse, keep_paths=True, keep_visitors=False, keep_clients=True,
            exclude_ips=frozenset(), ignore_status=frozenset()))
        self.ignore_status = frozenset(ingest.parse.ignore_status)
        self.exclude = frozenset(x for x in ingest.parse.exclude_ips if "/" not in x)
        self.nets = tuple(ipaddress.ip_network(x, strict=False)
                          for x in ingest.parse.exclude_ips if "/" in x)
        self._facts: dict[int, tuple[TailLine, Facts | None]] = {}
        self._rx: tuple[str, re.Pattern] | None = None
        self._last: tuple | None = None

    def __call__(self, tail: tuple[TailLine, ...], site: str, f: ViewFilter,
                 metric: str = "hits") -> tuple[tuple[TailLine, ...], int]:
        """The newest lines of `site` ("": every site) that `f` keeps, at most SHOWN, oldest
        first, and how many lines were looked at to find them."""
        key = (site, f, metric)
        if self._last is not None and self._last[0] is tail and self._last[1] == key:
            return self._last[2]
        lines = [x for x in tail if not site or x.site == site]
        lines.sort(key=lambda x: x.ts)
        kept: list[TailLine] = []
        looked, i = 0, len(lines)
        while i > 0 and len(kept) < SHOWN:  # newest first, until the pane is full
            part = lines[max(0, i - BATCH):i][::-1]
            i -= len(part)
            for x, got in zip(part, self._parse(part)):
                looked += 1
                if self._keeps(f, metric, got):
                    kept.append(x)
                    if len(kept) == SHOWN:
                        break
        # only the lines in the tail now are remembered (of every site: a view switched to
        # another site and back is not parsed again)
        now = {id(x) for x in tail}
        self._facts = {k: v for k, v in self._facts.items() if k in now}
        out = (tuple(kept[::-1]), looked)
        self._last = (tail, key, out)  # the tuple held: its id is not reused meanwhile
        return out

    def _parse(self, lines: list[TailLine]) -> list[Facts | None]:
        todo: dict[tuple, list[TailLine]] = {}
        for x in lines:
            hit = self._facts.get(id(x))
            if hit is None or hit[0] is not x:
                todo.setdefault((x.site, id(x.fmt), x.fields), []).append(x)
        for group in todo.values():
            for x, v in zip(group, self._parse_group(group)):
                self._facts[id(x)] = (x, v)
        return [self._facts[id(x)][1] for x in lines]

    def _parse_group(self, group: list[TailLine]) -> list[Facts | None]:
        """Lines of one file format (found from them where the file's is not known: an archive
        read whole by a worker)."""
        data = [x.text.encode("utf-8") for x in group]
        fmt = group[0].fmt
        if fmt is None:
            try:
                fmt, _ = choose_format(self.ingest, data[:200])
            except ValueError:
                fmt = None
        if fmt is None:
            return [None] * len(group)
        return each_line(data, fmt, self.ingest.parse, group[0].fields, _facts, None)

    def _keeps(self, f: ViewFilter, metric: str, got: Facts | None) -> bool:
        if got is None:
            return False
        if got.status in self.ignore_status or self._excluded(got.client):
            return False
        if metric == "pages" and got.static:
            return False
        if f.status_classes and got.cls not in f.status_classes:
            return False
        if f.bots is False and got.bot or f.bots == "only" and not got.bot:
            return False
        if f.start is not None and got.ts < f.start.timestamp():
            return False
        if f.end is not None and got.ts >= f.end.timestamp() + HOUR:  # its hour, whole
            return False
        if f.path:
            if self._rx is None or self._rx[0] != f.path:
                self._rx = (f.path, re.compile(f.path))
            return self._rx[1].search(got.path) is not None
        return True

    def _excluded(self, client: str) -> bool:
        """--exclude-ip as the parser applies it: the address as written, or in a range."""
        return client in self.exclude or bool(self.nets) and in_networks(client, self.nets)


def may_name_hosts(fmt: LogFormat | None) -> bool:
    """Whether lines of this format may name their virtual host (vhost-combined, JSON, W3C)."""
    if fmt is None:
        return False
    return fmt.kind != "regex" or b"?P<vhost>" in fmt.pattern


def sites_of_lines(texts: list[str], site: str, fmt: LogFormat | None,
                   fields: tuple[bytes, ...], opts: ParseOptions) -> list[str]:
    """The site each log-tail line is counted under: the virtual host it names, else its file's
    `site` (a line that does not parse too). A Caddy, Traefik or vhost-combined log's lines had
    gone to its file's site (its folder's name), and each site the picker showed from them had
    an empty tail (a trial). Parsed in one batch, halved where a line does not parse."""
    if not texts or not may_name_hosts(fmt):
        return [site] * len(texts)
    opts = replace(opts, keep_paths=False, keep_visitors=False, keep_clients=False,
                   exclude_ips=frozenset(), ignore_status=frozenset())
    return each_line([x.encode("utf-8", "surrogateescape") for x in texts], fmt, opts, fields,
                     lambda r: [r.vhosts[c] if c >= 0 else site for c in r.vhost.tolist()],
                     site)


def each_line(lines: list[bytes], fmt: LogFormat, opts: ParseOptions, fields: tuple[bytes, ...],
              take: Callable, missing):
    """take(records) of each line, `missing` for a line that does not parse: the lines parsed in
    one batch (one at a time took 1.6 ms a line, 50 in a batch 2.3 ms), a batch with a line
    that does not parse halved until it is found."""
    def parse(part: list[bytes]) -> list:
        parser = Parser(fmt, opts)
        if fields:
            parser.w3c_fields = list(fields)
        res = parser.feed(b"\n".join(part) + b"\n", final=True)
        if len(res.records) == len(part) == res.lines:
            return take(res.records)  # every line one record, in the lines' order
        if len(part) == 1:
            return [missing]
        half = len(part) // 2
        return parse(part[:half]) + parse(part[half:])

    return parse(lines)


def _facts(r) -> list[Facts | None]:
    n = len(r)
    paths = r.path if r.path is not None else [""] * n
    clients = r.client_name if r.client_name is not None else [""] * n
    return [Facts(int(t), int(s) // 100 if 100 <= s <= 599 else 0, int(s), bool(b), bool(st),
                  str(p), str(c))
            for t, s, b, st, p, c in zip(r.ts, r.status, r.is_bot, r.is_static, paths, clients)]
