"""Bytes of complete log lines -> Records columns, malformed lines counted by reason."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from trafficwatch.logs.container import (
    CRI,
    ENTRYPOINT,
    STDERR_OTHER,
    SYSTEM,
    entrypoint_line,
    holds_container_lines,
    inner_data,
    join_cri,
    may_hold_cri_parts,
    unwrap,
)
from trafficwatch.logs.fastclf import parse_chunk, span_hash_py, span_hashes
from trafficwatch.logs.formats import (
    COMBINED,
    COMMON,
    SPACED_VHOST,
    VCOMBINED,
    VCOMMON,
    LogFormat,
)
from trafficwatch.logs.records import (
    HOST_IDLE_S,
    NAMED_HOSTS,
    OTHER_HOSTS,
    Malformed,
    ParseResult,
    Records,
)
from trafficwatch.logs.timeparse import APART, TimeError, parse_time
from trafficwatch.logs.w3c import BOM, JsonLine, NotARequest, W3CState

STATIC_EXT = (b".css", b".js", b".mjs", b".map", b".png", b".jpg", b".jpeg", b".gif", b".webp",
              b".avif", b".svg", b".ico", b".woff", b".woff2", b".ttf", b".otf", b".eot", b".mp4",
              b".webm", b".mp3", b".wasm", b".pdf", b".zip", b".gz", b".txt", b".xml", b".json")
_BOT = re.compile(
    rb"bot\b|bot/|crawl|spider|slurp|scan|curl/|wget/|python-requests|python-urllib|go-http-client|"
    rb"libwww|httpclient|okhttp|java/|uptime|pingdom|monitor|statuscake|headless|phantomjs|"
    rb"facebookexternalhit|preview|feedfetcher|ahrefs|semrush|mj12|dotbot|petalbot|yandex|baidu|"
    rb"bingpreview|zgrab|masscan|nmap|nikto|sqlmap|"
    # package managers, configuration agents, feed readers, archivers, probes and libraries: a
    # mirror's 47,323 Debian APT-HTTP lines of 51,462 were "not bots" (a trial)
    rb"apt-http|urlgrabber|yum/|chef client|feedburner|fetcher|archiver|nutch|xenu|"
    rb"siteexplorer|daumoa|daum/|aiohttp|package http|node-fetch|axios/|guzzlehttp|scrapy|"
    rb"wordpress/|kube-probe|elb-healthchecker|googlehc|zabbix|nagios|check_http|"
    rb"blackbox-exporter|feedparser|apt-cacher|tt-rss|ezooms|vsagent|^-?$")
# searched in the lower-cased agent: 3x faster than re.IGNORECASE (7 vs 21 us an agent on the
# real logs' 1,107 distinct agents)


# Control bytes no text log line holds (tab, CR, FF, VT and ESC aside). A line with a NUL (a
# NUL-filled block after a crash, a binary file's bytes), or made of them for a tenth or more,
# is binary: malformed whatever else it holds. A stray one in an agent still counts.
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_CONTROL_BYTES = bytes([*range(9), *range(14, 27), *range(28, 32)])


def is_binary_line(line: bytes) -> bool:
    """The line holds a NUL, or control bytes (see _CONTROL) make up a tenth of it or more."""
    if _CONTROL.search(line) is None:
        return False
    return b"\0" in line or 10 * (len(line) - len(line.translate(None, _CONTROL_BYTES))) >= len(line)


def after_hole(line: bytes) -> bytes:
    """The line without the NUL bytes it begins with: a hole in the file, not text. A writer
    that did not open the log to append (O_APPEND) writes on at its old offset after
    copytruncate, the bytes before it read as zeros: the first line after each truncation was
    joined to them and malformed ("binary": 1299 of 1300 counted, an ops trial). A NUL within
    the line's own bytes still makes it binary."""
    return line.lstrip(b"\0") if line[:1] == b"\0" else line


_MIX_INT = 0x9E3779B97F4A7C15  # visitor = client_hash * _MIX + agent_hash (mod 2**64)
_MIX = np.uint64(_MIX_INT)
_NAME_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53,
                      0x94D049BB133111EB, 0xBF58476D1CE4E5B9], np.uint64)  # a host name's
# 8 words, mixed into one hash (_vhost_codes: grouped by it, the bytes then checked)
_NAME_KEEP = (np.arange(64) < np.arange(65)[:, None]).astype(np.uint8).view(np.uint64) * \
    np.uint64(0xFF)  # [n]: the words' bits of a name's first n bytes
_MASK64 = (1 << 64) - 1


HOST_NAME_MAX = 255  # bytes: DNS's 253, and a bracketed IPv6 literal's port-less form
_OTHER = OTHER_HOSTS.encode()  # the name hosts past NAMED_HOSTS are numbered under
APART_S = 7 * 86400  # a line this far from the lines on both sides of it, both the same way, is
# not counted (APART): one line of 1999 at the end of a 3-week log of 2026 made 27 years of
# hours at 0 (244,856 rows of `counts`), MASE 548 and another forecast shown (a trial). A block
# of lines out of order (`zcat access.log.*.gz`: .10 before .2) is counted: its lines are
# near each other
FIRST_APART_S = 365 * 86400  # a stream's first line this far before the line after it is not
# counted either (APART): a log opening with one line of 1999 (a review); a quiet site's first
# request weeks before its launch is
_ZONE = re.compile(rb"[+-]\d\d:?\d\d\s*\Z")  # a CLF time's zone offset at its end


def client_hash(ip: str | bytes) -> int:
    """The Records.client value for a client address (for --exclude-ip and tests)."""
    return span_hash_py(ip.encode() if isinstance(ip, str) else ip)


@dataclass(frozen=True)
class ParseOptions:
    """What to keep and what to leave out (counted as excluded, never dropped silently)."""

    keep_paths: bool = False
    keep_clients: bool = False  # client addresses as text (the app's top clients per hour)
    # client and visitor hashes (the visitors metric); off, their columns are None and no
    # hash is computed (counting hits or pages needs neither; --exclude-ip still works)
    keep_visitors: bool = True
    exclude_ips: frozenset[str] = frozenset()
    ignore_status: frozenset[int] = frozenset()
    max_line_bytes: int = 65536


def host_name(raw: bytes) -> bytes:
    """The site a virtual host names: lower case, without the root's trailing dot, as nginx's
    $host reads it ("shop.example.com." had been a site beside shop.example.com, a hosting
    trial); OTHER_HOSTS for a name longer than a host name can be (HOST_NAME_MAX: a Host
    header of 3,000 bytes had been a site, its name a /metrics label a Prometheus with
    label_value_length_limit refuses the whole scrape for, a fleet trial); and for one with a
    space or a control byte, which no host name has (nginx answers such a Host header 400): a
    Host header of "(other hosts)" had been a site of that name, read as hosts folded where
    none were (a security trial)."""
    name = raw.lower()
    name = name.rstrip(b".") or name
    return _OTHER if len(name) > HOST_NAME_MAX or _NOT_HOST.search(name) else name


_NOT_HOST = re.compile(rb"[\x00-\x20\x7f]")  # a byte no host name has


@dataclass
class _Columns:
    ts: list[int] = field(default_factory=list)
    off: list[int] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    size: list[int] = field(default_factory=list)
    static: list[bool] = field(default_factory=list)
    bot: list[bool] = field(default_factory=list)
    client: list[int] = field(default_factory=list)
    visitor: list[int] = field(default_factory=list)
    vhost: list[int] = field(default_factory=list)
    path: list[str] = field(default_factory=list)
    client_name: list[str] = field(default_factory=list)


HAPROXY_OWN = "the load balancer's own message"  # HAProxy's "Proxy fe started.", "[WARNING]
# ...", "Server app/web2 is DOWN": malformed at each restart or backend flap (its log's
# malformed counter rose as an error log's had, a trial), and a log opening with a restart's
# lines was no known format
_HAPROXY_OWN = re.compile(rb"\bhaproxy(?:\[\d+\])?: (?!\[?[0-9A-Fa-f:.]+\]?:\d+ \[)")


class Parser:
    """Parses one stream of one format; stateful (W3C `#Fields:` headers may change mid-file)."""

    BOT_CACHE_MAX = 200_000  # agents whose bot flag is remembered across chunks

    def __init__(self, fmt: LogFormat, options: ParseOptions | None = None) -> None:
        self.fmt = fmt
        self.opts = options or ParseOptions()
        self._rx = fmt.regex if fmt.kind == "regex" else None
        self._spaced = SPACED_VHOST.get(fmt.name)  # VCOMMON's, VCOMBINED's
        self._fast = parse_chunk if fmt in (COMBINED, COMMON, VCOMBINED, VCOMMON) else None
        self._w3c = W3CState() if fmt.kind == "w3c" else None
        self._json = JsonLine(fmt) if fmt.kind == "json" else None
        self._vhosts: dict[bytes, int] = {}  # NAMED_HOSTS of them at most, then OTHER_HOSTS
        self._named_at = -1  # log time from which the names were numbered (-1: none yet)
        self._latest = -1  # the latest time of a line read that names a host
        self._vhost_tuple: tuple[str, ...] | None = None  # their names by number, once built
        self._agents: dict[bytes, bool] = {}
        self._bot_keys = np.zeros(0, np.uint64)  # agent hashes seen, sorted, and their bot flags
        self._bot_vals = np.zeros(0, bool)
        self._clients: dict[bytes, int] = {}
        self._excl = {client_hash(form) for ip in self.opts.exclude_ips if "/" not in ip
                      for form in _written(ip)}
        # ranges (--exclude-ip 10.0.0.0/8, as GoAccess takes them): each client address is
        # looked up once, by its hash
        self._nets = tuple(ipaddress.ip_network(x, strict=False)
                           for x in self.opts.exclude_ips if "/" in x)
        self._in_nets: dict[int, bool] = {}
        self._zone: int | None = None  # the offset of the latest line that wrote one
        self._pieces: list[bytes] = []  # a container log's long line, its pieces so far
        self._cri_part: list[bytes] = []  # a CRI log's long line, its P pieces so far
        self._prev_ts: int | None = None  # the time of the last line counted (drop_apart)

    @property
    def w3c_fields(self) -> list[bytes]:
        """The `#Fields:` header in force (W3C logs; empty otherwise), saved across restarts."""
        return list(self._w3c.fields) if self._w3c is not None else []

    @w3c_fields.setter
    def w3c_fields(self, fields: list[bytes]) -> None:
        if self._w3c is not None:
            self._w3c.fields = list(fields)

    def feed(self, data: bytes, *, final: bool = False) -> ParseResult:
        """Parse complete lines; with final=True a last line without newline is parsed too."""
        if len(self._vhosts) >= NAMED_HOSTS and self._latest >= self._named_at + HOST_IDLE_S:
            # numbered anew (each result names its own) once a day of log time has passed: a
            # scanner's made-up hosts had made every host named after them OTHER_HOSTS for as
            # long as the log was followed, the series' slots free again or not. (At every
            # chunk: a scanner's log read 5 times slower, 2,000 names a chunk.)
            self._vhosts, self._vhost_tuple, self._named_at = {}, None, self._latest
        if not final:
            data = data[: data.rfind(b"\n") + 1]
        elif not data[data.rfind(b"\n") + 1:].strip():  # a last line of spaces, without its
            data = data[: data.rfind(b"\n") + 1]  # newline: not a line (as line by line)
        if holds_container_lines(data):
            res = self._feed_container(data)
        elif self._cri_part or may_hold_cri_parts(data):
            res = self._feed_cri(data)
        else:
            res = self._feed_data(data)
        res = self._drop_apart(res, final)
        if len(res.records) and self._vhosts:
            self._latest = max(self._latest, int(res.records.ts.max()))
            if self._named_at < 0:
                self._named_at = int(res.records.ts.min())
        return res

    def _drop_apart(self, res: ParseResult, final: bool) -> ParseResult:
        """`res` without the lines APART_S or more from the lines on both sides of them, both
        before or both after (the stream's last line, `final`: before the line before it by as
        much; its first: FIRST_APART_S or more before the line after it), counted malformed
        (APART) instead. A read's last line is not judged until the stream ends: fed a line at
        a time (a follower), a block of lines back in time had been dropped line after line,
        each against the newer line before the block (a review)."""
        ts = res.records.ts
        if not len(ts):
            return res
        t = ts.astype(np.float64)
        first = self._prev_ts is None
        prev = np.concatenate([[np.nan if first else self._prev_ts], t[:-1]])
        nxt = np.concatenate([t[1:], [np.nan]])
        with np.errstate(invalid="ignore"):
            before = (prev - t >= APART_S) & ((nxt - t >= APART_S) | (np.isnan(nxt) & final))
            after = (t - prev >= APART_S) & (t - nxt >= APART_S)
            if first and len(t) > 1:  # no line before the stream's first: a year before the next
                before[0] = t[1] - t[0] >= FIRST_APART_S
        apart = before | after
        if apart.any():
            res.malformed.add(APART, f"a line dated {_iso(int(ts[apart][0]))}".encode(),
                              int(apart.sum()))
            res = replace(res, records=_take(res.records, np.flatnonzero(~apart)))
        if len(res.records):
            self._prev_ts = int(res.records.ts[-1])
        return res

    def _feed_cri(self, data: bytes) -> ParseResult:
        """Kubernetes' CRI lines whose long lines came in `P` pieces: joined (join_cri)."""
        lines = data.split(b"\n")
        if not lines[-1].strip():
            lines.pop()
        joined, self._cri_part = join_cri(lines, self._cri_part, self.opts.max_line_bytes)
        return self._feed_data(b"\n".join(joined) + b"\n" if joined else b"")

    def _feed_data(self, data: bytes) -> ParseResult:
        if self._fast is not None and data:
            return self._feed_fast(data)
        lines = data.split(b"\n")
        if not lines[-1].strip():
            lines.pop()  # after the last b"\n": empty (or blank)
        cols, mal = _Columns(), Malformed()
        skipped, excluded = self._feed_lines(lines, cols, mal)
        return ParseResult(self._records(cols), mal, lines=len(lines), skipped=skipped,
                           excluded=excluded)

    def _feed_container(self, data: bytes) -> ParseResult:
        """Docker's json-file lines (logs.container): the server's lines inside, read as any;
        the stderr lines that are no request (its error log) and the image's start-up
        messages counted apart."""
        lines = data.split(b"\n")
        if not lines[-1].strip():
            lines.pop()
        whole = None if self._pieces else inner_data(lines)
        if whole is not None:
            return self._feed_data(whole)
        mal, inner = Malformed(), []
        got, self._pieces = unwrap(lines, self._pieces, self.opts.max_line_bytes)
        for line, stream in got:
            if stream == "stderr" and not self._request(line):
                mal.add(STDERR_OTHER, line)
            elif stream == "system":
                mal.add(SYSTEM, line)
            elif stream is not None and entrypoint_line(line):
                mal.add(ENTRYPOINT, line)
            else:
                inner.append(line)
        res = self._feed_data(b"\n".join(inner) + b"\n" if inner else b"")
        res.malformed.merge(mal)
        return replace(res, lines=res.lines + mal.total)

    def _request(self, line: bytes) -> bool:
        """Is `line` one of this format's request lines (one with a bad time too), not a line
        the format cannot read? (A W3C log's header changes its parser: not tried.)"""
        if self._w3c is not None:
            return True
        try:
            return self._fields(line) is not None
        except (TimeError, NotARequest):
            return True

    def unread(self, lines: list[bytes], limit: int | None = None) -> list[int]:
        """The indices of `lines` this format does not read, in order: what logs.refit tries in
        another (blank lines, the server's own lines and lines of the format whose time alone
        cannot be counted are the format's). With `limit`, the last `limit` of them at most,
        looked for from the end (a sample, without reading every line)."""
        out: list[int] = []
        order = range(len(lines)) if limit is None else range(len(lines) - 1, -1, -1)
        for i in order:
            if limit is not None and len(out) >= limit:
                break
            line = lines[i]
            if line.endswith(b"\r"):
                line = line[:-1]
            line = after_hole(line)
            if not line.strip():
                continue
            if is_binary_line(line) or len(line) > self.opts.max_line_bytes:
                continue  # (no format reads them: no sign of one; 20 long requests had the
                # log said to be in no known format, a security review)
            try:
                if self._fields(line) is None and not (
                        self._w3c is not None and line.removeprefix(BOM).startswith(b"#")) \
                        and self._reason(line) not in (HAPROXY_OWN, STDERR_OTHER):
                    out.append(i)
            except (TimeError, NotARequest):
                pass
        return out if limit is None else out[::-1]

    def _feed_lines(self, lines: list[bytes], cols: _Columns, mal: Malformed,
                    line_of: list[int] | None = None) -> tuple[int, int]:
        """Parse `lines` into `cols`; with `line_of`, the index in `lines` of each record added."""
        skipped = excluded = 0
        for i, line in enumerate(lines):
            if line.endswith(b"\r"):
                line = line[:-1]
            line = after_hole(line)
            if is_binary_line(line):
                mal.add("binary", line)
                continue
            if len(line) > self.opts.max_line_bytes:
                mal.add("line too long", line)
                continue
            if not line.strip():
                skipped += 1
                continue
            try:
                fields_list = self._fields(line)
            except (TimeError, NotARequest) as exc:
                mal.add(str(exc), line)
                continue
            if fields_list is None:
                if self._w3c is not None and line.removeprefix(BOM).startswith(b"#"):
                    skipped += 1
                else:
                    mal.add(self._reason(line), line)
                continue
            for f in fields_list:
                dropped = self._add(cols, f)  # 1: excluded, nothing added
                excluded += dropped
                if line_of is not None and not dropped:
                    line_of.append(i)
        return skipped, excluded

    def _feed_fast(self, data: bytes) -> ParseResult:
        """Common/combined: numpy over the chunk; the lines it cannot take go line by line."""
        c, fast, slow, starts, ends, buf = parse_chunk(data, self.fmt in (COMBINED, VCOMBINED),
                                                       vhost=self.fmt in (VCOMMON, VCOMBINED))
        too_long = (ends[fast] - starts[fast]) > self.opts.max_line_bytes
        if too_long.any():
            keep = ~too_long
            slow = np.sort(np.concatenate([slow, fast[too_long]]))
            fast = fast[keep]
            c = {k: (v[0][keep], v[1][keep]) if isinstance(v, tuple) else v[keep]
                 for k, v in c.items()}
        want_h = self.opts.keep_visitors or bool(self._excl) or bool(self._nets)
        host_h = span_hashes(buf, *c["host"], data) if want_h else None
        if "agent" in c:  # agents hashed in numpy; only ones not seen before meet the bot regex
            a0, a1 = c["agent"]
            agent_h = span_hashes(buf, a0, a1, data, words=64)
            bot = self._bots_of(agent_h, a0, a1, data)
        else:
            agent_h = np.full(len(fast), span_hash_py(b""), np.uint64)
            bot = np.zeros(len(fast), bool)  # no user agent written: none told a bot (every
            # request of a COMMON log was one, and --no-bots left nothing)
        keep = np.ones(len(fast), bool)
        if self._excl:
            keep &= ~np.isin(host_h, np.fromiter(self._excl, np.uint64, len(self._excl)))
        if self._nets and len(host_h):
            seen, first = np.unique(host_h, return_index=True)
            h0, h1 = c["host"]
            inside = np.array([self._in_range(h, data[h0[i]:h1[i]]) for h, i in
                               zip(seen.tolist(), first.tolist())], bool)
            keep &= ~np.isin(host_h, seen[inside])
        if self.opts.ignore_status:
            keep &= ~np.isin(c["status"], list(self.opts.ignore_status))
        excluded = int((~keep).sum())
        # The lines it cannot take, line by line, in runs: each run after the fast line before
        # it, whose zone a line without one is read in (_from_match), as line by line
        cols, mal, line_of = _Columns(), Malformed(), []
        lines = [data[starts[i]:ends[i]] for i in slow.tolist()]
        known = len(self._vhosts)  # hosts named before this chunk: their numbers stand
        skipped = ex2 = 0
        if len(slow):
            prev = np.searchsorted(fast, slow) - 1  # (-1: no fast line before it)
            cut = (np.flatnonzero(np.diff(prev)) + 1).tolist()
            for a, z in zip([0, *cut], [*cut, len(slow)]):
                if prev[a] >= 0:
                    self._zone = int(c["off"][prev[a]])
                run: list[int] = []
                n_skip, n_ex = self._feed_lines(lines[a:z], cols, mal, run)
                skipped, ex2 = skipped + n_skip, ex2 + n_ex
                line_of += [a + i for i in run]
        if len(fast) and (not len(slow) or fast[-1] > slow[-1]):
            self._zone = int(c["off"][-1])
        vhost = np.full(int(keep.sum()), -1, np.int32)
        if "vhost" in c:
            v0, v1 = (v[keep] for v in c["vhost"])
            vhost = self._vhost_codes(buf, data, v0, v1, fast[keep], known, cols,
                                      slow[np.asarray(line_of, np.int64)])
        fast_rec = Records(
            ts=c["ts"][keep].astype(np.int64), utc_offset=c["off"][keep].astype(np.int32),
            status=c["status"][keep].astype(np.int16), size=c["size"][keep].astype(np.int64),
            is_static=c["static"][keep], is_bot=bot[keep],
            client=host_h[keep] if self.opts.keep_visitors else None,
            # wraps mod 2**64: a hash of the (client, agent) pair
            visitor=(host_h * _MIX + agent_h)[keep] if self.opts.keep_visitors else None,
            vhost=vhost, vhosts=(names := self._vhost_names()),
            path=_paths(data, c, keep) if self.opts.keep_paths else None,
            client_name=_paths(data, c, keep, key="host") if self.opts.keep_clients else None)
        recs = fast_rec
        if cols.ts:  # in the lines' order: the chunk's last record is its last line (the time
            # a log stopped at, and the offset it was written in), not the last one parsed slowly
            at = np.concatenate([fast[keep], slow[np.asarray(line_of, np.int64)]])
            recs = _take(_concat(fast_rec, self._records(cols, names)),
                         np.argsort(at, kind="stable"))
        return ParseResult(recs, mal, lines=len(starts), skipped=skipped, excluded=excluded + ex2)

    def _vhost_codes(self, buf: np.ndarray, data: bytes, v0: np.ndarray, v1: np.ndarray,
                     at: np.ndarray, known: int, cols: _Columns, slow_at: np.ndarray
                     ) -> np.ndarray:
        """The number of each fast record's virtual host (spans v0..v1 of lines `at`), hosts
        new to this chunk numbered in the order of the lines that first name them, as line by
        line (the first MAX_HOSTS named are sites: series.fold_host); the slow records' (cols,
        of lines `slow_at`), named by _feed_lines already, renumbered to match. Grouped by their
        bytes (at most 63), not a hash alone: a Host header is the client's to choose."""
        words = np.ascontiguousarray(sliding_window_view(buf, 64)[v0]).view(np.uint64)
        words &= _NAME_KEEP[v1 - v0]  # 8 words a name, past its end zeros; as written (each
        # spelling's lower case named below: WWW.Shop.com and www.shop.com are one host)
        h = (words * _NAME_MIX).sum(1)  # grouped by a hash of the bytes, then the bytes checked
        _, first, inv = np.unique(h, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        if not (words == words[first[inv]]).all():  # two names, one hash (made to collide)
            _, first, inv = np.unique(words.view(np.dtype((np.void, 64))).ravel(),
                                      return_index=True, return_inverse=True)
        names = [host_name(data[v0[i]:v1[i]]) for i in first.tolist()]
        new: dict[bytes, int] = {}  # host first named in this chunk -> the line that named it
        for name, i in zip(names, first.tolist()):
            if self._vhosts.get(name, known) >= known:  # (two spellings: the first of either)
                new[name] = min(new.get(name, int(at[i])), int(at[i]))
        if len(self._vhosts) > known:  # named by slow lines: their first lines too
            by_code = {code: name for name, code in self._vhosts.items() if code >= known}
            for code, line in zip(cols.vhost, slow_at.tolist(), strict=True):
                if code >= known:
                    new[by_code[code]] = min(new.get(by_code[code], line), line)
        if new:
            old = {code: name for name, code in self._vhosts.items() if code >= known}
            for name in old.values():
                del self._vhosts[name]
            for name in sorted(new, key=new.__getitem__):
                if name != _OTHER:  # (slow lines past NAMED_HOSTS: numbered after the rest)
                    self._host_code(name)
            remap = {code: self._host_code(name) for code, name in old.items()}
            cols.vhost[:] = [remap.get(v, v) for v in cols.vhost]
        return np.fromiter((self._host_code(n) for n in names), np.int32,
                           len(names))[inv.reshape(-1)]

    def _host_code(self, name: bytes) -> int:
        """The number of the virtual host `name` (lower case), numbered if new: past
        NAMED_HOSTS names, the number of OTHER_HOSTS."""
        code = self._vhosts.get(name)
        if code is None:
            if len(self._vhosts) >= NAMED_HOSTS:
                name = _OTHER
                code = self._vhosts.get(name)
            if code is None:
                code = self._vhosts[name] = len(self._vhosts)
                self._vhost_tuple = None
        return code

    def _vhost_names(self) -> tuple[str, ...]:
        if self._vhost_tuple is None:
            self._vhost_tuple = tuple(
                v.decode("utf-8", "surrogateescape")  # as safe_name reads bytes
                for v, _ in sorted(self._vhosts.items(), key=lambda kv: kv[1]))
        return self._vhost_tuple

    def _bots_of(self, agent_h: np.ndarray, a0: np.ndarray, a1: np.ndarray,
                 data: bytes) -> np.ndarray:
        """The bot flag of each agent (by its hash), from a sorted cache of agents seen before;
        the regex runs once per new agent. Cleared past BOT_CACHE_MAX agents (bounded memory)."""
        keys, vals = self._bot_keys, self._bot_vals
        i = np.minimum(np.searchsorted(keys, agent_h), max(len(keys) - 1, 0))
        known = keys[i] == agent_h if len(keys) else np.zeros(len(agent_h), bool)
        if not known.all():
            if len(keys) + int((~known).sum()) > self.BOT_CACHE_MAX:  # full: this chunk's only
                keys, vals, known = keys[:0], vals[:0], np.zeros(len(agent_h), bool)
            miss = np.flatnonzero(~known)
            new_h, first = np.unique(agent_h[miss], return_index=True)
            new_bot = np.fromiter((self._is_bot(data[a0[j]:a1[j]]) for j in miss[first].tolist()),
                                  bool, len(first))
            keys, vals = np.concatenate([keys, new_h]), np.concatenate([vals, new_bot])
            order = np.argsort(keys, kind="stable")
            self._bot_keys, self._bot_vals = keys, vals = keys[order], vals[order]
            i = np.searchsorted(keys, agent_h)
        return vals[i]

    def _is_bot(self, agent: bytes) -> bool:
        bot = self._agents.get(agent)
        if bot is None:
            if len(self._agents) > 100_000:
                self._agents.clear()
            bot = self._agents[agent] = _BOT.search(agent.lower()) is not None
        return bot

    # -- one line -> field dicts ---------------------------------------------------
    def _fields(self, line: bytes) -> list[dict] | None:
        if self._w3c is not None:
            return self._w3c.line(line)
        if self._json is not None:
            got = self._json.parse(line)
            return [got] if got is not None else None
        out, pos, n = [], 0, len(line)
        while pos < n:
            m = self._rx.match(line, pos)
            if m is None:
                break
            if self._spaced is not None and m.group("ident") != b"-":
                m = self._spaced.match(line, pos) or m  # a vhost of several words, if that
                # reads the ident as nginx's "-" (else an ident as identd gives it)
            out.append(self._from_match(m))
            if m.end() <= pos:
                break
            pos = m.end()
            while pos < n and line[pos] in b" \t":
                pos += 1
        return out or None

    def _from_match(self, m: re.Match[bytes]) -> dict:
        g = m.groupdict()
        fmt = self.fmt
        if g.get("time") is not None:
            ts, off = parse_time(g["time"], "clf" if fmt.time_style in ("clf", "auto") else
                                 fmt.time_style, fmt)
            if fmt.time_style in ("clf", "auto"):
                if g.get("zone") and not _ZONE.search(g["time"]):  # the line's syslog time's
                    # offset, read as an ISO time's is
                    zoff = parse_time(b"2000-01-01T00:00:00" + g["zone"], "iso")[1]
                    ts, off = ts - zoff, zoff
                    self._zone = zoff
                elif _ZONE.search(g["time"]):
                    self._zone = off
                elif self._zone is not None:  # a line without the zone its log writes: in
                    # the log's (a trial's -0700 log: one such line counted 7 hours off, as UTC)
                    ts, off = ts - self._zone, self._zone
        elif g.get("iso") is not None:
            ts, off = parse_time(g["iso"], "iso", fmt)
        elif g.get("epoch") is not None:
            ts, off = parse_time(g["epoch"], "epoch", fmt)
        else:
            ts, off = parse_time(g.get("date", b"") + b" " + g.get("clock", b""), "strptime", fmt)
        g["_ts"], g["_off"] = ts, off
        return g

    def _reason(self, line: bytes) -> str:
        if self.fmt.name == "HAPROXY" and _HAPROXY_OWN.search(line):
            return HAPROXY_OWN
        cri = CRI.match(line)
        if cri is not None and cri.group(2) == b"stderr":  # the container's error log, as in
            return STDERR_OTHER  # Docker's (its nginx's 113 [error] lines were malformed)
        if self._json is not None:
            return "not a JSON object with a time" if line.lstrip().startswith(b"{") else "not JSON"
        if self._w3c is not None:
            return "W3C line before any #Fields header" if not self._w3c.fields else \
                "W3C line with the wrong number of fields"
        if b"[" not in line and b"T" not in line:
            return "no timestamp"
        if line.count(b'"') % 2:
            return "unbalanced quotes (truncated line?)"
        return f"does not match {self.fmt.name.split(':')[0]}"

    # -- field dict -> columns -----------------------------------------------------
    def _add(self, c: _Columns, g: dict) -> int:
        host = g.get("host") or b"-"
        status_b = g.get("status") or b"-"
        # three digits (a JSON or W3C status of 40000 overflowed the int16 column and ended the
        # program; a size of 20 digits the int64 one: a fuzz test)
        status = int(status_b) if status_b.isdigit() and len(status_b) <= 3 else 0
        ch = self._client(host)
        if ch in self._excl or status in self.opts.ignore_status or (
                self._nets and self._in_range(ch, host)):
            return 1
        path = g.get("path")
        if path is None:
            path = _path_of(g.get("request") or b"")
        path = _local(path)
        agent = g.get("agent")  # None: the format writes no user agent (COMMON, HAProxy)
        bot = self._is_bot(agent) if agent is not None else False  # then none is told a bot
        agent = agent or b""
        size_b = g.get("size") or b"-"
        c.ts.append(g["_ts"])
        c.off.append(g["_off"])
        c.status.append(status)
        c.size.append(int(size_b) if size_b.isdigit() and len(size_b) <= 18 else -1)
        c.static.append(path.split(b"?", 1)[0].lower().endswith(STATIC_EXT))
        c.bot.append(bot)
        c.client.append(ch)
        if self.opts.keep_visitors:
            c.visitor.append((ch * _MIX_INT + self._client(agent)) & _MASK64)
        vh = g.get("vhost")
        c.vhost.append(-1 if vh is None else self._host_code(host_name(vh)))
        if self.opts.keep_paths:
            c.path.append(path.split(b"?", 1)[0].decode("utf-8", "surrogateescape"))
        if self.opts.keep_clients:
            c.client_name.append(host.decode("utf-8", "surrogateescape"))
        return 0

    def _client(self, host: bytes) -> int:
        return _cached(self._clients, host, span_hash_py)

    def _in_range(self, h: int, host: bytes) -> bool:
        """Whether the client `host` (its hash `h`) lies in an --exclude-ip range. A name, not
        an address (HostnameLookups), is in none; an IPv4 address written as IPv6
        (::ffff:10.0.0.1) is read as its IPv4 one."""
        got = self._in_nets.get(h)
        if got is None:
            got = in_networks(host, self._nets)
            if len(self._in_nets) < 1_000_000:  # a bound: a flood of addresses is looked up again
                self._in_nets[h] = got
        return got


    def _records(self, c: _Columns, names: tuple[str, ...] | None = None) -> Records:
        names = self._vhost_names() if names is None else names  # (the chunk's, built once)
        return Records(
            ts=np.asarray(c.ts, np.int64), utc_offset=np.asarray(c.off, np.int32),
            status=np.asarray(c.status, np.int16), size=np.asarray(c.size, np.int64),
            is_static=np.asarray(c.static, bool), is_bot=np.asarray(c.bot, bool),
            client=np.asarray(c.client, np.uint64) if self.opts.keep_visitors else None,
            visitor=np.asarray(c.visitor, np.uint64) if self.opts.keep_visitors else None,
            vhost=np.asarray(c.vhost, np.int32), vhosts=names,
            path=np.asarray(c.path, dtype=object) if self.opts.keep_paths else None,
            client_name=np.asarray(c.client_name, dtype=object) if self.opts.keep_clients
            else None)


def _cached(cache: dict[bytes, int], key: bytes, fn) -> int:
    """fn(key) through a bounded cache (cleared when it grows past 200,000 keys)."""
    h = cache.get(key)
    if h is None:
        if len(cache) > 200_000:
            cache.clear()
        h = cache[key] = fn(key)
    return h


def _paths(data: bytes, c: dict, keep: np.ndarray, width: int = 64,
           key: str = "path") -> np.ndarray:
    """Each kept line's path without its query string (or its `key` span), as str objects.

    Only distinct paths become str objects: the first `width` bytes of every path are
    compared exactly in numpy (np.unique on fixed-width rows); longer paths are decoded alone.
    """
    a, z = c[key][0][keep], c[key][1][keep]
    if not len(a):
        return np.empty(0, dtype=object)
    b = np.frombuffer(data + bytes(width), np.uint8)
    n = z - a
    rows = sliding_window_view(b, width)[a]  # a copy, one row per line
    beyond = np.arange(width) >= n[:, None]
    alone = (n > width) | ((rows == 0) & ~beyond).any(1)  # long, or holding NUL (S rows drop it)
    rows[beyond] = 0
    uniq, inv = np.unique(rows.view(f"S{width}").ravel(), return_inverse=True)
    # a byte that is not UTF-8 kept as itself (surrogateescape, as file names are): decoded
    # "\xe9", a raw byte and the four characters \xe9 were one path (a trial); safe_name shows
    # them apart, and a regex's "." matches the byte
    names = np.array([u.decode("utf-8", "surrogateescape") for u in uniq.tolist()],
                     dtype=object)
    out = names[inv.reshape(-1)]
    for i in np.flatnonzero(alone).tolist():
        out[i] = data[a[i]:z[i]].decode("utf-8", "surrogateescape")
    return out


def _concat(a: Records, b: Records) -> Records:
    from dataclasses import fields, replace

    cols = {f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)
            if f.name != "vhosts" and getattr(a, f.name) is not None}
    return replace(a, **cols, vhosts=b.vhosts or a.vhosts)


def _take(r: Records, order: np.ndarray) -> Records:
    from dataclasses import fields, replace

    return replace(r, **{f.name: getattr(r, f.name)[order] for f in fields(r)
                         if f.name != "vhosts" and getattr(r, f.name) is not None})


def _written(ip: str) -> tuple[str, ...]:
    """The ways a log writes one address: an IPv4 one as itself and IPv4-mapped (Node's
    `::ffff:203.0.113.5`, any dual-stack listener), a mapped one as both too. `--exclude-ip
    203.0.113.5` had missed every `::ffff:203.0.113.5` of an Express log that the range
    203.0.113.0/24 caught (a trial)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:  # a host name, written as given
        return (ip,)
    v4 = addr if addr.version == 4 else addr.ipv4_mapped
    if v4 is None:
        return (ip, str(addr))
    return (ip, str(v4), f"::ffff:{v4}", f"::FFFF:{v4}")


def in_networks(host: bytes | str, nets: tuple) -> bool:
    """Whether the client `host` is an address in one of the --exclude-ip ranges `nets`. A name,
    not an address (HostnameLookups), is in none; an IPv4 address written as IPv6
    (::ffff:10.0.0.1) is read as its IPv4 one."""
    try:
        text = host.decode("ascii") if isinstance(host, bytes) else host
        addr = ipaddress.ip_address(text.strip("[]"))
    except (ValueError, UnicodeDecodeError):
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return any(a in n for n in nets for a in (addr, mapped)
               if a is not None and a.version == n.version)


_ABS_URL = re.compile(rb"[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#\s]*")


def _local(path: bytes) -> bytes:
    """A path without the scheme and host of an absolute URL (a proxy's request line, as
    Varnish's varnishncsa writes it, or a load balancer's requestUrl): `--path '^/api'` matched
    none of a Varnish log's paths, each `http://example.com/...` (a trial)."""
    m = _ABS_URL.match(path)
    return (path[m.end():] or b"/") if m else path


def _path_of(request: bytes) -> bytes:
    """The URL of `METHOD URL PROTO`, which may hold spaces or lack the protocol."""
    first = request.find(b" ")
    if first < 0:
        return request
    last = request.rfind(b" ")
    if last > first and request[last + 1:last + 6].upper() == b"HTTP/":
        return request[first + 1:last]
    return request[first + 1:]


def parse_bytes(data: bytes, fmt: LogFormat, options: ParseOptions | None = None) -> ParseResult:
    """Parse a whole buffer (a last line without newline included)."""
    return Parser(fmt, options).feed(data, final=True)


def _iso(ts: int) -> str:
    """`ts` as an ISO time, UTC (an example of a line left out, whose text is not kept)."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
