"""Hourly request counts per site and metric, kept in UTC, with gaps told apart from zeros."""
from __future__ import annotations

import base64
import binascii
import itertools
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from trafficwatch.counting.state import int_in, natural
from trafficwatch.counting.tops import (
    ALL_CELLS,
    EVERY_CELL,
    LEGACY_CELL,
    TOP_HOURS,
    TopK,
    add_tallies,
    chunk_tallies,
    combined,
    factorize,
)
from trafficwatch.hours import DAY, HOUR, OFFSETS, clock_changes, epoch_seconds
from trafficwatch.logs.records import HOST_IDLE_S, MAX_HOSTS, OTHER_HOSTS, Records
from trafficwatch.safe import clip_shown, safe_name

if TYPE_CHECKING:  # pandas is imported where it is used: `counts` runs without it
    import pandas as pd

METRICS = ("hits", "pages", "visitors")
# A count cell: 6 status classes (0 = none/other, 1xx..5xx) x bot x static asset.
N_CELLS = 24
assert N_CELLS == EVERY_CELL  # tops' tallies: a cell each, and one past them for every request
SLOT_GIVEN_MAX = 100  # requests, at most, a silent virtual host has had to give its slot
# (series._free_slot): one scanner's made-up name, not a real site down for a day (a security
# review: one new Host had moved a site silent 25 hours, 500 requests, into OTHER_HOSTS)
MAX_HOUR = 1 << 21  # hour numbers from 1970 up to the year 2209: anything later is not a log's
_VISITOR_CELL_BITS = 5  # low bits of a visitor key hold its cell (N_CELLS <= 32)


def _cell(records: Records) -> np.ndarray:
    cls = records.status.astype(np.int64) // 100
    cls[(cls < 1) | (cls > 5)] = 0
    return cls * 4 + records.is_bot.astype(np.int64) * 2 + records.is_static.astype(np.int64)


def cell_mask(metric: str, bots: bool | str = True, status_classes: Iterable[int] | None = None) -> np.ndarray:
    """Which of the N_CELLS count cells a metric and filter select.

    bots: True keeps bots and humans, False keeps humans only, "only" keeps bots only.
    status_classes: e.g. {4, 5}; None keeps every class (and lines without a status).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: choose one of {', '.join(METRICS)}")
    cells = np.arange(N_CELLS)
    cls, bot, static = cells // 4, (cells // 2) % 2, cells % 2
    keep = np.ones(N_CELLS, bool)
    if metric == "pages":
        keep &= static == 0
    if bots is False:
        keep &= bot == 0
    elif bots == "only":
        keep &= bot == 1
    if status_classes is not None:
        keep &= np.isin(cls, list(status_classes))
    return keep


def distinct(a: np.ndarray) -> np.ndarray:
    """np.unique(a) for plain keys, by a sort and a neighbour test: numpy 2.4 takes a hash path
    for uint64 that was 10x slower on the visitor keys of a busy hour (80 ms for 300,000)."""
    a = np.sort(a)
    keep = np.empty(len(a), bool)
    keep[:1] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


_SET_SHIFT = np.uint64(40)  # a cell_sets() row: cells << 40 | visitors


def add_cell_sets(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
    """Two cell_sets() tables as one (their visitors added: not known to differ)."""
    if a is None:
        return b
    both = np.concatenate([a, b])
    sets, inv = np.unique(both >> _SET_SHIFT, return_inverse=True)
    n = np.bincount(inv.reshape(-1), weights=(both & _SET_COUNT).astype(np.float64),
                    minlength=len(sets))
    return sets << _SET_SHIFT | n.astype(np.uint64)


def cell_sets(a: np.ndarray, b: np.ndarray, keys: np.ndarray
              ) -> dict[tuple[int, int], np.ndarray]:
    """Visitor keys (visitor << _VISITOR_CELL_BITS | cell) of groups (a, b) (site, hour) ->
    each group's table of how many visitors asked for exactly each set of cells (a bit per
    cell), one row (cells << 40 | visitors) per set met: never more rows than visitors, and
    some 10-100 for an hour of thousands of them. Any filter's visitors are read from it:
    those whose set meets the filter's cells (visitors_in). In one pass over every group (a
    first save after weeks of a thousand hosts, group by group, took 47 s, a review)."""
    order = np.lexsort((keys, b, a))
    a, b, keys = a[order], b[order], keys[order]
    new = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (keys[1:] != keys[:-1])]
    a, b, keys = a[new], b[new], keys[new]  # distinct keys per group
    who = keys >> np.uint64(_VISITOR_CELL_BITS)
    bits = np.left_shift(np.uint64(1), keys & np.uint64((1 << _VISITOR_CELL_BITS) - 1))
    at = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1]) | (who[1:] != who[:-1])])
    a, b, sets = a[at], b[at], np.bitwise_or.reduceat(bits, at)  # one row a visitor
    order = np.lexsort((sets, b, a))
    a, b, sets = a[order], b[order], sets[order]
    at = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1]) |
                              (sets[1:] != sets[:-1])])
    n = np.diff(np.r_[at, len(sets)]).astype(np.uint64)
    a, b, rows = a[at], b[at], sets[at] << _SET_SHIFT | n  # one row a set of cells
    cut = np.flatnonzero(np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]).tolist()
    return {(int(a[i]), int(b[i])): rows[i:j] for i, j in zip(cut, [*cut[1:], len(rows)])}


def visitors_in(table: np.ndarray, cells: np.ndarray) -> int:
    """Visitors of a cell_sets() table who asked for any of `cells` (cell numbers)."""
    want = np.uint64(sum(1 << int(c) for c in cells))
    return int((table[((table >> _SET_SHIFT) & want) != 0] & _SET_COUNT).sum())


_SET_COUNT = np.uint64((1 << 40) - 1)


MAX_PATHS = 100_000  # distinct paths per site kept for the path filter; later ones are "other"
# How far back, from the latest line, the app keeps what grows with a site's traffic (a busy
# site's visitor keys and per-path counts took about 5 MB a day, in memory and in the state
# file, for as long as the state lived). Older hours keep exact visitor counts per site and for
# every site together (a visitor counted once however many sites it asked), as the number of
# visitors of each set of cells (see cell_sets), and no per-path counts: the path filter reaches
# back PATH_DAYS.
VISITOR_KEYS_DAYS = 8
PATH_DAYS = 35
PATHS_SINCE = "paths_since"  # series(path=...).attrs: the epoch second from which the path
# filter's counts are kept (hours before it are NaN because they were let go of, not unlogged)
_PENDING_MAX = 1 << 20
PARTIAL_START_S = 300  # a site's first line this far past its hour: the log began inside the
# hour (a rotation at 06:25, the oldest file kept), so that hour holds only part of its traffic
PARTIAL_END_S = 60  # a log no longer written whose last line is further than this from the end
# of its hour ended inside it (an archive copied at 07:06): that hour holds part of its traffic
AHEAD_NOTE_S = 600  # lines dated this far past the clock are worth a notice (ahead): a few
# minutes are ordinary skew between two machines' clocks


def _by_hour_busiest(hours: np.ndarray, counts: np.ndarray, rank: np.ndarray,
                     n_rank: int) -> np.ndarray:
    """The order of rows by hour (from 0), then busiest first, then by rank: as np.lexsort of
    the three, in one argsort of one key where it fits in 62 bits (a lexsort of a busy
    server's 97 hours of paths was a fifth of the top view's time at each frame)."""
    if not len(hours):
        return np.zeros(0, np.int64)
    top = int(counts.max()) + 1
    span = int(hours.max()) + 1
    if span * top * max(n_rank, 1) < 1 << 62:
        key = (hours * top + (top - 1 - counts)) * max(n_rank, 1) + rank
        return np.argsort(key, kind="stable")
    return np.lexsort((rank, -counts, hours))


class PathCounts:
    """Requests per (hour, path, cell) of one site, for the path filter.

    Paths are kept without their query string. Keys pack hour << 40 | path id << 8 | cell into
    one int64, kept sorted and unique with their counts; new chunks wait in a pending list and
    are folded in when it grows or when counts are read. After MAX_PATHS distinct paths, new ones
    are counted in `overflow` (shown as what the filter cannot see), never silently dropped.
    """

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []
        self.overflow = 0
        self.keys = np.empty(0, np.int64)
        self.counts = np.empty(0, np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray | None]] = []  # keys, counts (None: 1s)
        self._pending_n = 0
        self._match_cache: tuple[str, int, np.ndarray] | None = None
        self._hourly_cache: tuple[tuple, tuple[np.ndarray, np.ndarray]] | None = None
        self._folds = 0  # how many times keys were merged: the cache's version
        self._gid_map: tuple[dict, np.ndarray] | None = None  # see HourlySeries._global_ids
        self.since = 0  # the first hour whose counts are kept (older ones were let go)

    def add(self, hours: np.ndarray, cells: np.ndarray, paths: np.ndarray) -> None:
        codes, uniques = factorize(paths)
        ids = np.fromiter((self._intern(str(u).split("?", 1)[0]) for u in uniques), np.int64,
                          len(uniques))
        pid = ids[codes]
        keep = pid >= 0
        self.overflow += int((~keep).sum())
        self._wait((hours[keep].astype(np.int64) << 40) | (pid[keep] << 8)
                   | cells[keep].astype(np.int64), None)

    def _wait(self, keys: np.ndarray, counts: np.ndarray | None) -> None:
        self._pending.append((keys, counts))
        self._pending_n += len(keys)
        if self._pending_n > _PENDING_MAX:
            self._fold()

    def _intern(self, path: str) -> int:
        i = self.ids.get(path)
        if i is None:
            if len(self.names) >= MAX_PATHS:
                return -1
            i = self.ids[path] = len(self.names)
            self.names.append(path)
        return i

    def _fold(self) -> None:
        if not self._pending:
            return
        parts_k = [self.keys, *(k for k, _ in self._pending)]
        parts_c = [self.counts, *(np.ones(len(k), np.int64) if c is None else c
                                  for k, c in self._pending)]
        k, c = np.concatenate(parts_k), np.concatenate(parts_c)
        self.keys, inv = np.unique(k, return_inverse=True)
        self.counts = np.bincount(inv.reshape(-1), weights=c, minlength=len(self.keys)).astype(
            np.int64)
        self._pending, self._pending_n = [], 0
        self._folds += 1

    def drop_before(self, hour: int) -> None:
        """Let go of the counts of hours before `hour` (the path filter no longer sees them)."""
        if hour <= self.since:
            return
        self._fold()
        keep = self.keys >= hour << 40
        if not keep.all():
            self.keys, self.counts = self.keys[keep], self.counts[keep]
            self._folds += 1  # the cached answers are of the keys before
        self.since = hour

    def matching(self, pattern: str) -> np.ndarray:
        """Ids of the paths `pattern` (a regex, searched anywhere in the path) matches."""
        cache = self._match_cache
        if cache is not None and cache[0] == pattern and cache[1] == len(self.names):
            return cache[2]
        rx = re.compile(pattern)
        ids = np.fromiter((i for i, n in enumerate(self.names) if rx.search(n)), np.int64)
        self._match_cache = (pattern, len(self.names), ids)
        return ids

    def hourly(self, pattern: str, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hours, counts) of requests whose path matches and whose cell `mask` selects.

        Hours may repeat (sum them, e.g. with np.add.at). Asked at every frame while a path
        filter is on: the merged keys' answer is kept until they change, and keys still
        waiting are read as they are instead of being merged (a sort of everything) first.
        """
        ids = self.matching(pattern)
        cache_key = (pattern, len(self.names), mask.tobytes(), self._folds)
        if self._hourly_cache is None or self._hourly_cache[0] != cache_key:
            self._hourly_cache = (cache_key, self._select(self.keys, self.counts, ids, mask))
        parts = [self._hourly_cache[1]]
        parts += [self._select(k, c, ids, mask) for k, c in self._pending]
        return (np.concatenate([h for h, _ in parts]),
                np.concatenate([c for _, c in parts]))

    @staticmethod
    def _select(keys: np.ndarray, counts: np.ndarray | None, ids: np.ndarray,
                mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sel = np.isin((keys >> 8) & 0xFFFFFFFF, ids) & mask[keys & 0xFF]
        hours, inv = np.unique(keys[sel] >> 40, return_inverse=True)
        weights = None if counts is None else counts[sel]
        return hours, np.bincount(inv.reshape(-1), weights=weights, minlength=len(hours))

    def by_hour(self, h0: int, h1: int, mask: np.ndarray,
                ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hours, path ids, counts) of hours h0..h1 whose cell `mask` selects (and whose path
        is in `ids`, when given), one row per (hour, path), by hour then path."""
        lo, hi = np.searchsorted(self.keys, [h0 << 40, (h1 + 1) << 40])
        ks, cs = [self.keys[lo:hi]], [self.counts[lo:hi]]
        for pk, pc in self._pending:  # read as they are: folding sorts everything
            near = (pk >> 40 >= h0) & (pk >> 40 <= h1)
            ks.append(pk[near])
            cs.append(np.ones(int(near.sum()), np.int64) if pc is None else pc[near])
        k, c = np.concatenate(ks), np.concatenate(cs)
        sel = mask[k & 0xFF]
        if ids is not None:
            sel &= np.isin((k >> 8) & 0xFFFFFFFF, ids)
        hp, inv = np.unique(k[sel] >> 8, return_inverse=True)
        n = np.bincount(inv.reshape(-1), weights=c[sel], minlength=len(hp)).astype(np.int64)
        return hp >> 32, hp & 0xFFFFFFFF, n

    def merge(self, other: PathCounts) -> None:
        other._fold()
        remap = np.fromiter((self._intern(n) for n in other.names), np.int64, len(other.names))
        pid = remap[(other.keys >> 8) & 0xFFFFFFFF]
        keep = pid >= 0
        self.overflow += other.overflow + int(other.counts[~keep].sum())
        k = (other.keys[keep] & ~np.int64(0xFFFFFFFF << 8)) | (pid[keep] << 8)
        self._wait(k, other.counts[keep])  # merged with the rest when they are folded
        self.drop_before(other.since)  # (a state read back: its older hours are not known)

    def to_dict(self) -> dict:
        self._fold()
        return {"names": list(self.names), "overflow": self.overflow, "since": self.since,
                "keys": base64.b64encode(self.keys.astype("<i8").tobytes()).decode(),
                "counts": base64.b64encode(self.counts.astype("<i8").tobytes()).decode()}

    @classmethod
    def from_dict(cls, d: dict) -> PathCounts:
        out = cls()
        if not isinstance(d["names"], list):
            raise ValueError("path counts: names is not a list")  # noqa: TRY004
        out.names = [str(n) for n in d["names"]]
        out.ids = {n: i for i, n in enumerate(out.names)}
        out.overflow = natural(d["overflow"], "path overflow")
        out.since = int_in(d.get("since", 0), "hour", 0, MAX_HOUR)  # absent before it was kept
        out.keys = np.frombuffer(base64.b64decode(d["keys"], validate=True), "<i8").astype(np.int64)
        out.counts = np.frombuffer(base64.b64decode(d["counts"], validate=True), "<i8").astype(
            np.int64)
        if len(out.keys) != len(out.counts):
            raise ValueError("path counts: keys and counts differ in length")
        pid, cell = (out.keys >> 8) & 0xFFFFFFFF, out.keys & 0xFF
        if (out.counts < 0).any() or (out.keys < 0).any() or (pid >= len(out.names)).any() \
                or (cell >= N_CELLS).any():
            raise ValueError("path counts: a negative count or a key out of range")
        return out


@dataclass
class _Site:
    """Counts of one site: hour -> cell counts, visitor keys, covered time spans."""

    cells: dict[int, np.ndarray] = field(default_factory=dict)
    visitors: dict[int, np.ndarray] = field(default_factory=dict)
    coverage: list[tuple[int, int]] = field(default_factory=list)  # merged [start_h, end_h]
    utc_offset: int = 0  # offset of the latest line seen, for display
    offsets: dict[int, int] = field(default_factory=dict)  # hour -> offset its lines were written in
    last_ts: int | None = None
    first_ts: int | None = None  # the earliest line counted (None: read from an older state)
    # the latest time a log that covers it reached (its last line), a shared log's (vhost)
    # too: where the site's own last line is an hour before, that log's end ends its hours
    covered_ts: int | None = None
    paths: PathCounts | None = None  # only when the series tracks paths (the app's path filter)
    # hour -> cell -> its busiest clients, for the last TOP_HOURS hours only (when names are
    # parsed); cell EVERY_CELL: every request of the hour (a state saved before cells were)
    clients: dict[int, dict[int, TopK]] = field(default_factory=dict)
    # Visitor keys of an hour arrive chunk by chunk; they wait here and are merged into
    # `visitors` when they outgrow it (or when read), so a busy hour is not re-sorted per chunk.
    pending: dict[int, list[np.ndarray]] = field(default_factory=dict)
    pending_n: dict[int, int] = field(default_factory=dict)
    host: bool = False  # named by its lines' virtual host (not by a file): MAX_HOSTS of them
    requests: int = 0  # every request counted (summed at each look for a slot: 4.5 s a new
    # host at a year of hours, a review)
    # hour -> cell_sets() of its visitors, for hours older than VISITOR_KEYS_DAYS (their keys
    # let go); an hour may have both where lines for it came after (see HourlySeries.age)
    visitor_sets: dict[int, np.ndarray] = field(default_factory=dict)

    def add_visitors(self, h: int, keys: np.ndarray) -> None:
        cur = self.visitors.get(h)
        if cur is None and h not in self.pending:
            self.visitors[h] = keys
            return
        self.pending.setdefault(h, []).append(keys)
        n = self.pending_n[h] = self.pending_n.get(h, 0) + len(keys)
        if n > max(0 if cur is None else len(cur), 4096):
            self.fold(h)

    def fold(self, h: int | None = None) -> None:
        """Merge waiting visitor keys (of hour h, or of every hour) into `visitors`."""
        for hour in ([h] if h is not None else list(self.pending)):
            parts = self.pending.pop(hour, [])
            self.pending_n.pop(hour, None)
            cur = self.visitors.get(hour)
            self.visitors[hour] = distinct(np.concatenate(([] if cur is None else [cur]) + parts))


@dataclass
class ChunkCounts:
    """One chunk's requests of one site, counted: small next to the records (it crosses from
    the worker that parsed the chunk to the series)."""

    hours: np.ndarray  # distinct hour numbers (UTC epoch seconds // 3600), ascending
    grid: np.ndarray  # (hours, N_CELLS) request counts
    offsets: np.ndarray  # the UTC offset of each hour's last line
    visitor_keys: np.ndarray | None  # each hour's distinct visitor keys, one hour after another
    visitor_bounds: np.ndarray | None  # hour i's keys: visitor_keys[bounds[i]:bounds[i + 1]]
    paths: PathCounts | None
    last_ts: int  # the time of the chunk's last line, and its offset
    last_offset: int
    min_ts: int
    max_ts: int
    # hour -> cell -> busiest clients (records.client_name kept)
    clients: dict[int, dict[int, TopK]] | None = None


def count_chunk(records: Records, visitors: bool, paths: bool = False) -> ChunkCounts:
    """Count parsed requests (a non-empty chunk) per hour and cell; with `visitors`, each
    hour's distinct visitor keys; with `paths` (records.path kept), per-path counts."""
    hours = records.ts // HOUR
    cell = _cell(records)
    h0, h1 = int(hours.min()), int(hours.max())
    if h1 - h0 < 100_000:
        uniq = np.flatnonzero(np.bincount(hours - h0)) + h0
        inv = np.searchsorted(uniq, hours)
    else:  # sparse hours far apart: sort instead of a huge bincount
        uniq, inv = np.unique(hours, return_inverse=True)
    grid = np.bincount(inv * N_CELLS + cell, minlength=len(uniq) * N_CELLS)
    grid = grid.reshape(len(uniq), N_CELLS)
    last_of = np.zeros(len(uniq), dtype=np.int64)
    last_of[inv] = np.arange(len(inv))  # the last line of each hour (last write wins)
    keys = bounds = None
    if visitors:
        if records.visitor is None:
            raise ValueError("visitors asked for: parse with keep_visitors=True")
        keys = (records.visitor.astype(np.uint64) >> np.uint64(_VISITOR_CELL_BITS))
        keys = (keys << np.uint64(_VISITOR_CELL_BITS)) | cell.astype(np.uint64)
        order = np.lexsort((keys, inv))  # by hour, then key: each hour's keys made distinct
        keys, hour_of = keys[order], inv[order]
        new = np.ones(len(keys), bool)
        new[1:] = (keys[1:] != keys[:-1]) | (hour_of[1:] != hour_of[:-1])
        keys, hour_of = keys[new], hour_of[new]
        bounds = np.searchsorted(hour_of, np.arange(len(uniq) + 1))
    pc = None
    if paths and records.path is not None:
        pc = PathCounts()
        pc.add(hours, cell, records.path)
    tops = (chunk_tallies(hours, records.client_name, cell) if records.client_name is not None
            else None)
    return ChunkCounts(uniq, grid, records.utc_offset[last_of].astype(np.int64), keys, bounds,
                       pc, int(records.ts[-1]), int(records.utc_offset[-1]),
                       int(records.ts.min()), int(records.ts.max()), tops)


def fold_host(site: str, folded: set[str]) -> str:
    """A virtual host past the first MAX_HOSTS: OTHER_HOSTS, its name kept in `folded` (the
    first MAX_HOSTS of them, to be said) unless it is OTHER_HOSTS itself (merged from a part
    or a state: not a host of its own, said as one, a check found)."""
    if len(folded) < MAX_HOSTS and site != OTHER_HOSTS:
        folded.add(site)
    return OTHER_HOSTS


class HourlySeries:
    """Hourly counts per site (UTC), for hits/pages/visitors with bot and status filters."""

    def __init__(self, track_visitors: bool = True, track_paths: bool = False) -> None:
        self.track_visitors = track_visitors
        # partial_end's slack: a fleet's bucket read before its hour's end is in progress at any
        # second (fleet.prometheus.add_to_series sets 1: its whole bucket ends at HOUR - 1)
        self.partial_end_s = PARTIAL_END_S
        self.track_paths = track_paths  # counts per path for the path filter (needs keep_paths)
        self._sites: dict[str, _Site] = {}
        # every site's paths under one numbering, for breakdown (see _global_ids)
        self._gids: dict[str, int] = {}
        self._gnames: list[str] = []
        self._rank: np.ndarray | None = None
        self._sorted_names = np.empty(0, object)  # _gnames in order
        self._hosts = 0  # sites named by their lines' virtual host
        self._no_slot_before = 0  # no host's slot is free before this time (_free_slot)
        self.evicted: list[str] = []  # the latest MAX_HOSTS hosts whose slots were given
        self.n_evicted = 0  # how many were, in all
        # their requests, per count cell, now OTHER_HOSTS': not new requests of it (its counter
        # on /metrics leaves them out: it grew by 100 a host given, read as a surge, a review)
        self.absorbed = np.zeros(N_CELLS, np.int64)
        self.folded: set[str] = set()  # host names counted as OTHER_HOSTS (the first MAX_HOSTS)
        # hour -> cell_sets() of every site's visitors together, for the hours age() let go of
        # their keys: a visitor of two sites is one visitor of all of them
        self._all_sets: dict[int, np.ndarray] = {}

    def age(self, now: float | None = None) -> None:
        """Let go of what grows with traffic for hours far behind the latest line (or `now`,
        where it is earlier: one line dated years ahead must not age everything): visitor keys
        older than VISITOR_KEYS_DAYS become exact counts by set of cells, per site and for
        every site together; per-path counts older than PATH_DAYS go. Lines that come later
        for an hour whose keys were let go count their visitors anew (one already counted
        there is counted twice: lines that come more than a week late)."""
        last = [x.last_ts for x in self._sites.values() if x.last_ts is not None]
        if not last:
            return
        latest = max(last) // HOUR if now is None else min(max(last), int(now)) // HOUR
        cut = latest - VISITOR_KEYS_DAYS * 24
        sites = list(self._sites.values())
        site_of, hour_of, parts = [], [], []  # every old hour's keys, of every site at once
        for i, x in enumerate(sites):
            for h in [h for h in itertools.chain(x.visitors, x.pending) if h < cut]:
                if h in x.pending:
                    x.fold(h)
                if h in x.visitors:
                    site_of.append(i)
                    hour_of.append(h)
                    parts.append(x.visitors.pop(h))
        if parts:
            n = [len(k) for k in parts]
            site_of, hour_of = (np.repeat(np.asarray(a, np.int64), n) for a in (site_of, hour_of))
            keys = np.concatenate(parts).astype(np.uint64, copy=False)
            aged = set(np.unique(hour_of).tolist())
            prior = {h: [i for i, x in enumerate(sites) if h in x.visitor_sets] for h in aged}
            before = {(i, h): sites[i].visitor_sets[h] for h, got in prior.items() for i in got}
            named = {h: set(got) for h, got in prior.items()}
            for (i, h), table in cell_sets(site_of, hour_of, keys).items():
                sites[i].visitor_sets[h] = add_cell_sets(sites[i].visitor_sets.get(h), table)
                named[h].add(i)
            every = [h for h in aged if h in self._all_sets or len(named[h]) > 1]
            if every:  # every site's visitors together: a visitor of two sites is one
                sel = np.isin(hour_of, np.asarray(every, np.int64))
                for (_, h), table in cell_sets(np.zeros(int(sel.sum()), np.int64),
                                                    hour_of[sel], keys[sel]).items():
                    if h in self._all_sets:
                        self._all_sets[h] = add_cell_sets(self._all_sets[h], table)
                    else:  # with the tables of the sites aged before (their lines came late)
                        base = None
                        for i in prior[h]:
                            base = add_cell_sets(base, before[i, h])
                        self._all_sets[h] = add_cell_sets(base, table)
        for x in self._sites.values():  # each site's from its own latest line (an app trial:
            # a log that ended a year before another's had its last days' paths let go of,
            # "not kept (older than 35 days)" beside its own last hours; what it keeps grows no
            # more once it ends)
            if x.paths is not None and x.last_ts is not None:
                own = x.last_ts if now is None else min(x.last_ts, int(now))
                x.paths.drop_before(own // HOUR - PATH_DAYS * 24)

    def _aged_hours(self) -> set[int]:
        return set(self._all_sets).union(*(x.visitor_sets for x in self._sites.values()))

    def _every_table(self, h: int) -> np.ndarray | None:
        """The cell_sets() of every site's visitors of aged hour h."""
        if h in self._all_sets:
            return self._all_sets[h]
        out = None
        for x in self._sites.values():
            if h in x.visitor_sets:
                out = add_cell_sets(out, x.visitor_sets[h])
        return out

    # -- feeding -----------------------------------------------------------------
    def _site(self, site: str, host: bool, when: int | None = None) -> tuple[str, _Site]:
        """The site a chunk is counted under, made if new: a virtual host a line names is a
        site of its own while there are fewer than MAX_HOSTS, or (lines of time `when`) where
        one of them has been silent HOST_IDLE_S (see _free_slot); else OTHER_HOSTS. Where nginx
        logs `$host`, a scanner names it: 5,000 made-up hosts were 5,000 sites, and 35,000
        series on the agent's /metrics (a trial)."""
        s = self._sites.get(site)
        if s is not None:
            return site, s
        if host and self._hosts >= MAX_HOSTS and (
                when is None or site == OTHER_HOSTS or not self._free_slot(when)):
            site = fold_host(site, self.folded)
            s = self._sites.get(site)
            if s is not None:
                return site, s
        s = self._sites[site] = _Site(host=host)
        self._hosts += host and site != OTHER_HOSTS  # (no slot: restored before the hosts
        # that took slots from silent ones, it had taken the last one's, and a restart folded
        # that host and counted its request twice, a fleet trial)
        return site, s

    def _free_slot(self, when: int) -> bool:
        """Give up the slot of the virtual host silent longest, where it has been silent
        HOST_IDLE_S before `when` and has had SLOT_GIVEN_MAX requests at most (a scanner's made-up
        name: a real site down for a day keeps its slot): its counts join OTHER_HOSTS' (every
        total stays) and its name is kept in `evicted`. One scanner's burst of made-up hosts
        took every slot for good, and every real virtual host added later was counted as
        OTHER_HOSTS (a trial)."""
        if when < self._no_slot_before:  # (a scanner's new host a line: not a search each)
            return False
        idle = [(x.last_ts, name) for name, x in self._sites.items()
                if x.host and name != OTHER_HOSTS and x.last_ts is not None
                and x.requests <= SLOT_GIVEN_MAX]
        if not idle:  # (none can be until a slot frees, and none frees without one)
            self._no_slot_before = when + HOST_IDLE_S
            return False
        last, name = min(idle)
        if last > when - HOST_IDLE_S:  # none before then: the hosts' last lines only move on
            self._no_slot_before = last + HOST_IDLE_S
            return False
        gone = self._sites.pop(name)
        self._hosts -= 1
        other = self._sites.get(OTHER_HOSTS)
        if other is None:
            other = self._sites[OTHER_HOSTS] = _Site(host=True)
        if gone.cells:
            self.absorbed = self.absorbed + np.sum(np.stack(list(gone.cells.values())), axis=0)
        self._absorb(OTHER_HOSTS, other, gone)
        self.evicted = [*self.evicted, name][-MAX_HOSTS:]
        self.n_evicted += 1
        return True

    def folded_note(self) -> str:
        """One line on the virtual hosts counted as OTHER_HOSTS ("" when none were)."""
        said = []
        if self.folded:
            n, first = len(self.folded), min(self.folded)
            more = " or more" if n >= MAX_HOSTS else ""
            said.append(f"{n:,}{more} virtual hosts named by the lines after the first "
                        f"{MAX_HOSTS:,} were counted together as {OTHER_HOSTS}, e.g. "
                        f"{clip_shown(safe_name(first), 80)} (where the log writes the "
                        "request's Host, as nginx's $host, anyone names one)")
        if self.n_evicted:  # (said apart: a trial read them as hosts past the first 1,000)
            said.append(f"{self.n_evicted:,} virtual hosts of {SLOT_GIVEN_MAX} requests or "
                        f"fewer, silent for a day, gave their slots to new ones, their counts "
                        f"now under {OTHER_HOSTS}, e.g. "
                        f"{clip_shown(safe_name(self.evicted[-1]), 80)}")
        return "; ".join(said)

    def add(self, site: str, records: Records, host: bool = False) -> str:
        """Count a chunk of parsed requests for `site` (late lines update their closed hour);
        `host`: the name is a virtual host its lines gave. The site it was counted under."""
        if len(records) == 0:
            return site
        if self.track_visitors and records.visitor is None:
            raise ValueError("this series counts visitors: parse with keep_visitors=True")
        site = self.add_counts(site, count_chunk(records, visitors=self.track_visitors), host)
        if self.track_paths and records.path is not None:
            s = self._sites[site]
            if s.paths is None:
                s.paths = PathCounts()
            s.paths.add(records.ts // HOUR, _cell(records), records.path)
        return site

    def add_counts(self, site: str, cc: ChunkCounts, host: bool = False) -> str:
        """Add a chunk already counted by count_chunk (in a worker, or by add); the site it
        was counted under (see _site)."""
        site, s = self._site(site, host, cc.max_ts)
        for h, row, off in zip(cc.hours.tolist(), cc.grid, cc.offsets.tolist()):
            cur = s.cells.get(h)
            s.cells[h] = row if cur is None else cur + row
            s.offsets[h] = off
        s.requests += int(cc.grid.sum())
        if self.track_visitors:
            if cc.visitor_keys is None:
                raise ValueError("this series counts visitors: count the chunk with visitors")
            b = cc.visitor_bounds.tolist()
            for i, h in enumerate(cc.hours.tolist()):
                s.add_visitors(h, cc.visitor_keys[b[i]:b[i + 1]])
        if cc.paths is not None and self.track_paths:
            if s.paths is None:
                s.paths = PathCounts()
            s.paths.merge(cc.paths)
        if s.last_ts is None or cc.last_ts >= s.last_ts:
            s.last_ts, s.utc_offset = cc.last_ts, cc.last_offset
        if cc.clients:
            add_tallies(s.clients, cc.clients, max(s.last_ts, cc.max_ts) // HOUR)
        self.add_coverage(site, cc.min_ts, cc.max_ts)
        return site

    def cover_hosts(self, firsts: dict[str, int], end_ts: int) -> None:
        """A file read up to `end_ts` (its last line) covers each virtual host its lines named
        from that host's first line in it (`firsts`: host -> time): a quiet host's hours
        between two reads of a busy shared log are zeros, not gaps (a trial's admin host read
        "no log covers this hour" wherever its quiet hours crossed a 2 MiB read). Sites named
        by a file: its own coverage (add_coverage)."""
        for name, first in firsts.items():
            if name in self._sites and first <= end_ts:
                self.add_coverage(name, first, end_ts)

    def add_coverage(self, site: str, start_ts: int, end_ts: int, lines: bool = True) -> None:
        """Mark [start_ts, end_ts] as covered by a log: its empty hours are zeros, not gaps
        (`lines`: the times of lines, end_ts its last; not whole hours, as a merge's)."""
        s = self._sites.setdefault(site, _Site())
        s.first_ts = start_ts if s.first_ts is None else min(s.first_ts, start_ts)
        if lines:
            s.covered_ts = end_ts if s.covered_ts is None else max(s.covered_ts, end_ts)
        new = (start_ts // HOUR, end_ts // HOUR)
        spans = sorted(s.coverage + [new])
        merged: list[tuple[int, int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        s.coverage = merged

    def forget_hour(self, site: str, h: int) -> None:
        """Make hour `h` (an epoch hour number) of `site` a gap again: counted from a source
        that no longer has it (the fleet's hour in progress whose agents died in it, which
        Prometheus then has no sample for), so it is drawn and forecast from as no log covering
        it, not as the part read before (kept at 60 in the app where `counts` showed a gap, a
        trial)."""
        s = self._sites.get(site)
        if s is None:
            return
        row = s.cells.pop(h, None)
        if row is not None:
            s.requests -= int(row.sum())
        for table in (s.offsets, s.visitors, s.pending, s.pending_n, s.visitor_sets, s.clients):
            table.pop(h, None)
        s.coverage = [part for a, b in s.coverage
                      for part in ((a, min(b, h - 1)), (max(a, h + 1), b)) if part[0] <= part[1]]
        kept = [x for x in s.cells if x < h]
        before = max(kept) * HOUR + HOUR - 1 if kept else None  # the end of the hour before
        if s.last_ts is not None and s.last_ts // HOUR == h:
            s.last_ts = before
        if s.covered_ts is not None and s.covered_ts // HOUR == h:
            s.covered_ts = before
        if not s.cells:  # its only hours gone: no site (listed, it was a blank one to pick, and
            # a fleet with none left no longer said why nothing was shown, a review)
            del self._sites[site]
            self._hosts -= s.host

    def merge(self, other: HourlySeries) -> None:
        """Add every count of `other` into this one."""
        self.folded |= set(list(other.folded)[:max(0, MAX_HOSTS - len(self.folded))])
        self.evicted = [*self.evicted, *other.evicted][-MAX_HOSTS:]
        self.n_evicted += other.n_evicted
        self.absorbed = self.absorbed + other.absorbed
        mine = self._aged_hours()
        for h in other._aged_hours():  # every site's visitors of an hour aged on both sides:
            # each side's, added (not known to differ); of one side: what that side had
            if h in mine:
                self._all_sets[h] = add_cell_sets(self._every_table(h), other._every_table(h))
            elif h in other._all_sets:
                self._all_sets[h] = other._all_sets[h]
        for site, o in other._sites.items():
            site, s = self._site(site, o.host)
            self._absorb(site, s, o)

    def keep_hours_of(self, other: HourlySeries) -> int:
        """Take from `other` the hours of each site that this series has no count of, and
        the time spans it covered: a state saved by another trafficwatch on the same logs,
        taken over when it ended (engine.live). Both counted the logs there are; only `other`
        the logs deleted since (logrotate's oldest): its saves had replaced them with this
        one's, history gone for good (5,728 requests became 1,432, a trial). An hour both
        have takes each cell's larger count: each side counted lines of it the other may not
        have (the deleted log's: 50 of 90 were kept, a recheck; the lines since the other
        ended). Per-path counts of such hours are not taken (the path filter shows them as
        unknown, as aged hours). The number of hours taken or raised."""
        took = 0
        mine = self._aged_hours()
        for h in other._aged_hours() - mine:
            table = other._every_table(h)
            if table is not None:
                self._all_sets[h] = table
        for name, o in other._sites.items():
            o.fold()
            name, s = self._site(name, o.host)
            for h in sorted(set(o.cells) & set(s.cells)):  # both: each cell's larger count
                more = np.maximum(s.cells[h], o.cells[h])
                took += int(more.sum() > s.cells[h].sum())  # (said: a review)
                s.requests += int(more.sum() - s.cells[h].sum())
                s.cells[h] = more
                if h in o.visitors:  # visitors: both sides' keys, once each
                    s.add_visitors(h, o.visitors[h])
            for h in sorted(set(o.cells) - set(s.cells)):
                s.cells[h] = o.cells[h].copy()
                s.requests += int(o.cells[h].sum())
                if h in o.offsets:
                    s.offsets[h] = o.offsets[h]
                if h in o.visitors:
                    s.add_visitors(h, o.visitors[h])
                if h in o.visitor_sets:
                    s.visitor_sets[h] = o.visitor_sets[h]
                took += 1
            for a, b in o.coverage:
                self.add_coverage(name, a * HOUR, b * HOUR, lines=False)
            known = [t for t in (s.first_ts, o.first_ts) if t is not None]
            s.first_ts = min(known) if known else s.first_ts
            if s.last_ts is None and o.last_ts is not None:
                s.last_ts, s.utc_offset = o.last_ts, o.utc_offset
        return took

    def _absorb(self, site: str, s: _Site, o: _Site) -> None:
        """Add every count of site `o` into `s`, the site named `site` of this series."""
        o.fold()
        for h, row in o.cells.items():
            s.cells[h] = s.cells[h] + row if h in s.cells else row.copy()
        s.requests += o.requests
        for h, keys in o.visitors.items():
            s.add_visitors(h, keys)
        for h, table in o.visitor_sets.items():
            s.visitor_sets[h] = add_cell_sets(s.visitor_sets.get(h), table)
        s.offsets.update(o.offsets)
        first = s.first_ts
        for a, b in o.coverage:
            self.add_coverage(site, a * HOUR, b * HOUR, lines=False)
        if o.covered_ts is not None:
            s.covered_ts = max(s.covered_ts or 0, o.covered_ts)
        known = [t for t in (first, o.first_ts) if t is not None]
        s.first_ts = min(known) if known else s.first_ts
        if o.last_ts is not None and (s.last_ts is None or o.last_ts >= s.last_ts):
            s.last_ts, s.utc_offset = o.last_ts, o.utc_offset
        if o.clients and s.last_ts is not None:
            add_tallies(s.clients, o.clients, s.last_ts // HOUR)
        if o.paths is not None:
            if s.paths is None:
                s.paths = PathCounts()
            s.paths.merge(o.paths)

    # -- reading -----------------------------------------------------------------
    def sites(self) -> list[str]:
        """Sites with any count or coverage, sorted by name."""
        return sorted(self._sites)

    def utc_offset(self, site: str | None = None) -> int:
        """Offset (seconds east of UTC) of the latest line: the log's own time zone."""
        sites = [site] if site else self.sites()
        latest = max((self._sites[x] for x in sites if x in self._sites),
                     key=lambda s: s.last_ts or 0, default=None)
        return latest.utc_offset if latest else 0

    def offsets_for(self, site: str, index: pd.DatetimeIndex) -> np.ndarray:
        """The log's own offset for each hour of `index` (carried over quiet hours and gaps)."""
        return self.offsets_at(site, epoch_seconds(index) // HOUR)

    def offsets_at(self, site: str, hours: np.ndarray) -> np.ndarray:
        """offsets_for, for hour numbers (UTC epoch seconds // 3600): each hour's, or that of
        the nearest hour with lines (the earlier on a tie). The latest before it had labelled
        the empty days between a 2021 log (-07:00) and a 2022 one (-08:00) in the 2021 log's
        offset: the chart's axis jumped an hour where the 2022 log began (a trial)."""
        s = self._sites[site]
        hours = np.asarray(hours, dtype=np.int64)
        if not s.offsets:
            return np.full(len(hours), s.utc_offset, dtype=np.int64)
        known = np.fromiter(s.offsets, dtype=np.int64, count=len(s.offsets))
        order = np.argsort(known)
        known = known[order]
        values = np.fromiter(s.offsets.values(), dtype=np.int64, count=len(known))[order]
        at = np.clip(np.searchsorted(known, hours, side="right") - 1, 0, None)  # the latest
        # hour with lines (before the first: the first), or the next one where it is nearer
        nxt = np.minimum(at + 1, len(known) - 1)
        nearer = (hours > known[at]) & (known[nxt] - hours < hours - known[at])
        return values[np.where(nearer, nxt, at)]

    def last_ts(self, site: str | None = None) -> int | None:
        """Time of the latest request seen for `site` (all sites when None)."""
        vals = [self._sites[x].last_ts for x in ([site] if site else self.sites()) if x in self._sites]
        vals = [v for v in vals if v is not None]
        return max(vals) if vals else None

    def first_ts(self, site: str) -> int | None:
        """Time of the earliest request seen for `site`."""
        return self._sites[site].first_ts if site in self._sites else None

    def total(self, site: str | None = None) -> int:
        """Every request counted, all cells, for `site` (all sites when None)."""
        return sum(int(r.sum()) for x in self._selected(site) for r in self._sites[x].cells.values())

    def cell_totals(self, site: str, until_hour: int | None = None) -> np.ndarray:
        """Every request of `site` ever counted, per count cell (N_CELLS,): totals for counters.
        `until_hour` (an epoch hour number): only the hours up to it, so a line dated ahead of
        the clock counts when its hour comes, as it does on screen."""
        cells = self._sites[site].cells if site in self._sites else {}
        rows = [c for h, c in cells.items() if until_hour is None or h <= until_hour]
        return np.sum(np.stack(rows), axis=0) if rows else np.zeros(N_CELLS, np.int64)

    def last_counted_ts(self, site: str, now: float) -> int | None:
        """The latest request of `site` counted by `now` (hourly: up to now's hour): its time
        where it is in that hour or before, else the end of the latest such hour with a request,
        at most `now` (only the latest line's time is kept; lines dated after now's hour wait
        for it: requests_after); None when none is counted."""
        ts, hour = self.last_ts(site), int(now) // HOUR
        if ts is None or ts // HOUR <= hour:
            return ts
        cells = self._sites[site].cells if site in self._sites else {}
        done = [h for h, c in cells.items() if h <= hour and c.sum() > 0]
        return min(max(done) * HOUR + HOUR - 1, int(now)) if done else None

    def requests_after(self, site: str, hour: int) -> int:
        """Requests of `site` counted in the hours after `hour` (an epoch hour number): lines
        dated ahead of the clock, waiting for their hour (see cell_totals)."""
        cells = self._sites[site].cells if site in self._sites else {}
        return int(sum(int(c.sum()) for h, c in cells.items() if h > hour))

    def partial_hour(self, site: str | None = None, now: float | None = None) -> pd.Timestamp | None:
        """The hour of `now`, still in progress, once data has reached it or the hour before.

        While logs are followed the current hour is partial even before its first line.
        """
        import pandas as pd

        h = self.partial_hour_number(site, now)
        return None if h is None else pd.Timestamp(h * HOUR, unit="s", tz="UTC")

    def partial_hour_number(self, site: str | None = None, now: float | None = None) -> int | None:
        """partial_hour as an hour number (UTC epoch seconds // 3600)."""
        if self.last_ts(site) is None or now is None:
            return None
        return int(now) // HOUR  # also when lines dated after it came (they wait, see ahead)

    def ahead(self, site: str | None, now: float) -> tuple[int, int] | None:
        """(requests in the hours after `now`'s, latest time) once the latest line is dated more
        than AHEAD_NOTE_S past `now` and such hours hold some, else None: a server whose clock
        or time zone runs ahead of this machine's. A followed series leaves them out until their
        hour comes (hourly with `now`)."""
        last = self.last_ts(site)
        if last is None:
            return None
        h_now = int(now) // HOUR
        later = [(h, int(row.sum())) for x in self._selected(site)
                 for h, row in self._sites[x].cells.items() if h > h_now]
        # the latest line's time, or the start of the latest hour with lines when a line dated
        # ahead came before the log's last one (a trial: no word of it at start-up)
        # (or, read once in parallel, the latest line of any read, which the covered span
        # keeps: "latest 20:00 UTC, 1 h 26 min ahead" of a line dated 20:32, an SSH trial)
        covered = [c for x in self._selected(site) if not self._sites[x].host  # (a host's is
                   # its shared log's last line, another host's maybe: a review)
                   and (c := self._sites[x].covered_ts) is not None and c // HOUR > h_now]
        latest = max([last] + [h * HOUR for h, k in later if k] + covered)
        n = sum(k for _, k in later)
        if latest - now <= AHEAD_NOTE_S:
            return None
        return (n, int(latest)) if n else None  # ahead inside the hour in progress: no harm

    def series(
        self,
        site: str | None = None,
        metric: str = "hits",
        bots: bool | str = True,
        status_classes: Iterable[int] | None = None,
        now: float | None = None,
        path: str | None = None,
        whole_hours: bool = False,
    ) -> pd.Series:
        """Hourly values on a UTC index: NaN where no log covers the hour, 0 where it is quiet.

        site None sums every site. With `now`, coverage extends to the hour of `now` (a
        followed log that stays quiet is covered: zeros, not gaps). `path`: only requests whose
        path (without query string) the regex matches (re.search); needs track_paths.
        `whole_hours`: a site's first hour is NaN when its log began inside it (see
        partial_starts), and without `now` (logs no longer written) so is the last line's hour
        when the logs ended inside it (partial_end): what a model reads and is scored on, not
        what a chart shows.
        """
        import pandas as pd

        first, values = self.hourly(site, metric, bots, status_classes, now, path)
        if whole_hours and len(values):
            cut = self.partial_starts(site)
            end = self.partial_end(site) if now is None else None
            for h in cut + ([end] if end is not None else []):
                if first <= h < first + len(values):
                    values[h - first] = np.nan
        if not len(values):
            return pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype="float64",
                             name=metric)
        index = pd.date_range(pd.Timestamp(first * HOUR, unit="s", tz="UTC"), periods=len(values),
                              freq="h")
        out = pd.Series(values, index=index, name=metric)
        if path:
            since = max((self._sites[x].paths.since for x in self._selected(site)
                         if self._sites[x].paths is not None), default=0)
            if since > first:
                out.attrs[PATHS_SINCE] = since * HOUR
        latest = max(self._selected(site), key=lambda x: self._sites[x].last_ts or 0, default=None)
        if latest is not None:  # the log's offset of each hour: the forecast follows a
            # daylight-saving change with it, the chart's "same hours last week" too
            off = self.offsets_at(latest, first + np.arange(len(values)))
            if (off != off[-1]).any() and clock_changes(off) is None:  # (offsets that flip
                # back and forth are two servers writing into one log, not a clock: followed as
                # clock changes, each flip made gaps of hours, a trial's forecast 16 vs 25)
                out.attrs[OFFSETS] = pd.Series(off, index=index)
        return out

    def partial_starts(self, site: str | None = None) -> list[int]:
        """Hour numbers where a selected site's log began more than PARTIAL_START_S past the
        hour: the log cannot say whether the minutes before were quiet or not logged (as a
        Prometheus scrape leaves the hour before an agent started a gap)."""
        out = []
        for x in self._selected(site):
            s = self._sites[x]
            if s.first_ts is None or not s.coverage:
                continue
            h = s.first_ts // HOUR
            if h == min(a for a, _ in s.coverage) and s.first_ts - h * HOUR > PARTIAL_START_S:
                out.append(h)
        return sorted(set(out))

    def unfinished_hours(self, site: str | None, clock: float, report: bool = True) -> list[int]:
        """The hour numbers of the selection whose count is not a whole hour's (`partial`): the
        hour in progress by `clock`, or the last of logs no longer written (no line for a day)
        when they ended inside it; in a `report` (not followed) of lines dated past the clock,
        the logs' own last hour too (a server's clock ahead, or a stray line); and the hour a
        log began inside (partial_starts). What `counts` marks partial and what forecast, eval
        and train read as gaps."""
        out = [self.partial_hour_number(site, now=clock)]
        last = self.last_ts(site)
        if last is not None and clock - last > DAY:
            out = [self.partial_end(site)]  # logs no longer written that ended mid-hour
        elif last is not None and out[0] is not None and report:
            # the clock's hour is still in progress here, and the logs' own last hour there
            # (a server's clock ahead: the hours before it are whole ones) or the latest hour
            # with lines, where a line dated ahead came before the last one (it was a whole
            # hour, a trial); followed, hours past the clock wait for their hour
            latest = max((h for x in self._selected(site) for h in self._sites[x].cells),
                         default=last // HOUR)
            out += sorted({h for h in (last // HOUR, latest) if h > out[0]})
        return [h for h in out if h is not None] + self.partial_starts(site)

    def without_whole_hour(self, before: int) -> list[str]:
        """Sites, when there are several, with no whole hour before hour number `before` (the
        sum's hour in progress, or its last hour when that is partial): each hour covered is the
        one its log began inside, or later. Their traffic is in none of the hours a forecast of
        the sum reads: it is the other sites' alone, whatever "N sites summed" says."""
        if len(self._sites) < 2:
            return []
        out = []
        for x in self.sites():
            s = self._sites[x]
            if not s.coverage:
                continue
            start = min(a for a, _ in s.coverage)
            began_inside = s.first_ts is not None and s.first_ts // HOUR == start \
                and s.first_ts - start * HOUR > PARTIAL_START_S
            if start + began_inside >= before:
                out.append(x)
        return out

    def partial_end(self, site: str | None = None) -> int | None:
        """For logs no longer written: the hour number of the selection's last line when that
        line came more than PARTIAL_END_S before the hour's end (the log stopped, or was copied,
        inside the hour: the minutes after it are not known to be quiet), else None."""
        last = self.last_ts(site)
        ends = [b for x in self._selected(site) for _, b in self._sites[x].coverage]
        if last is None or not ends:
            return None
        covered = max((c for x in self._selected(site)
                       if (c := self._sites[x].covered_ts) is not None), default=None)
        if covered is not None and covered > last and int(covered) // HOUR == max(ends):
            # a host quiet at the end of a shared (vhost) log: that log's end is its too (its
            # last hour read as a whole-hour 0 where the other hosts' was partial, a trial)
            last = covered
        if int(last) // HOUR != max(ends):
            return None  # lines out of order: the latest hour's end is not known
        h = int(last) // HOUR
        return h if (h + 1) * HOUR - int(last) > self.partial_end_s else None

    def hourly(
        self,
        site: str | None = None,
        metric: str = "hits",
        bots: bool | str = True,
        status_classes: Iterable[int] | None = None,
        now: float | None = None,
        path: str | None = None,
    ) -> tuple[int, np.ndarray]:
        """What `series` gives, without pandas: (first hour number, one value per hour on)."""
        mask = cell_mask(metric, bots, status_classes)
        if metric == "visitors" and not self.track_visitors:
            raise ValueError("visitors were not tracked for this series")
        if path:
            if metric == "visitors":
                raise ValueError("visitors cannot be narrowed by path: use hits or pages")
            if not self.track_paths:
                raise ValueError("paths were not kept for this series")
            re.compile(path)  # re.error (a ValueError) for a bad pattern, before any work
        sites = self._selected(site)
        spans = sorted(sp for x in sites for sp in self._sites[x].coverage)
        if not spans:
            return 0, np.zeros(0)
        lo, hi = spans[0][0], max(b for _, b in spans)
        if now is not None:  # a followed log: up to the hour in progress. Lines dated past it
            # (a server's clock or time zone ahead of this machine's) wait for their hour; they
            # must not make it "now" (see ahead)
            hi = int(now) // HOUR
            lo = min(lo, hi)
        values = np.full(hi - lo + 1, np.nan)
        for a, b in spans:
            values[a - lo : b - lo + 1] = 0.0
        if now is not None and sites:
            last_end = max(b for _, b in spans)
            values[last_end - lo :] = 0.0
        if metric == "visitors":
            for x in sites:
                self._sites[x].fold()
            cells_kept = np.flatnonzero(mask)
            every = site is None  # every site together: a visitor of two sites is one
            for h in sorted({h for x in sites for h in itertools.chain(
                    self._sites[x].visitors, self._sites[x].visitor_sets) if lo <= h <= hi}):
                keys = [self._sites[x].visitors[h] for x in sites if h in self._sites[x].visitors]
                n = 0
                if keys:
                    k = np.concatenate(keys) if len(keys) > 1 else keys[0]
                    k = k[np.isin(k & np.uint64(N_CELLS_MASK), cells_kept)]
                    n = len(distinct(k >> np.uint64(_VISITOR_CELL_BITS)))
                tables = ([self._all_sets[h]] if every and h in self._all_sets else
                          [self._sites[x].visitor_sets[h] for x in sites
                           if h in self._sites[x].visitor_sets])
                values[h - lo] = n + sum(visitors_in(t, cells_kept) for t in tables)
        elif path:
            for x in sites:
                pc = self._sites[x].paths
                if pc is not None:
                    hours, counts = pc.hourly(path, mask)
                    kept = hours <= hi
                    np.add.at(values, hours[kept] - lo, counts[kept])
                    values[:max(0, min(pc.since - lo, len(values)))] = np.nan  # not kept: unknown
        else:
            for x in sites:
                for h, row in self._sites[x].cells.items():
                    if h <= hi:
                        values[h - lo] += row[mask].sum()
        return lo, values

    def breakdown(self, site: str | None, h0: int, h1: int, metric: str = "hits",
                  bots: bool | str = True, status_classes: Iterable[int] | None = None,
                  path: str | None = None, n: int = 5, whole: bool = False) -> dict[int, dict]:
        """What hours h0..h1 (hour numbers) were made of: for each hour with requests,
        {"classes": {1..5 or 0: requests}, "paths": [(path, requests)] busiest first (n),
        "clients": TopK or None (not tallied for that hour, or not by cell: a state saved
        before 2026-12-06, under a filter), "paths_kept": False where the hour is older than
        the per-path counts kept (PATH_DAYS), "classes_kept": False where its classes are then
        unknown too (those of the `path` filter's requests)}. Requests of the metric and filter
        (`visitors` counts requests; with `path`, the classes too are those of matching paths);
        clients are those of the requests of the metric and the status and bot filters (of
        every path: they are not tallied by path). With `whole`, hours h0..h1 together, under
        h0."""
        mask = cell_mask("hits" if metric == "visitors" else metric, bots, status_classes)
        out: dict[int, dict] = {}
        sites = self._selected(site)
        cls_of = np.arange(N_CELLS) // 4
        since = max((self._sites[x].paths.since for x in sites
                     if self._sites[x].paths is not None), default=0)
        if h0 < since:  # hours whose paths were let go of (age): said so, not "no path"
            for x in sites:
                for h in self._sites[x].cells:
                    if h0 <= h <= h1 and h < since:
                        d = out.setdefault(h0 if whole else h, {"classes": np.zeros(6),
                                                                "paths": {}, "clients": []})
                        d["paths_kept"] = False
                        if path and h < since:  # its classes are the filter's: unknown too
                            d["classes_kept"] = False
        for x in sites:
            pc = self._sites[x].paths
            if path and pc is not None:  # the filter's paths only: from the per-path counts
                ids = pc.matching(path)
                for c in range(6):
                    hours, _, counts = pc.by_hour(h0, h1, mask & (cls_of == c), ids)
                    for h, k in zip(hours.tolist(), counts.tolist(), strict=True):
                        d = out.setdefault(h0 if whole else h, {"classes": np.zeros(6),
                                                                "paths": {}, "clients": []})
                        d["classes"][c] += k
                continue
            for h, row in self._sites[x].cells.items():
                if h0 <= h <= h1:
                    got = np.bincount(cls_of[mask], weights=row[mask], minlength=6)
                    d = out.setdefault(h0 if whole else h, {"classes": np.zeros(6), "paths": {}, "clients": []})
                    d["classes"] += got
        # every site's (hour, path, requests), on one set of path ids: summed over the sites
        # before the busiest are taken (each site's own 5 first, all sites' hour had left out
        # a path 2 + 2 requests that neither site's 5 held: a trial)
        parts_h, parts_p, parts_c = [], [], []
        for x in sites:
            pc = self._sites[x].paths
            if pc is None:
                continue
            ids = pc.matching(path) if path else None
            hours, pids, counts = pc.by_hour(h0, h1, mask, ids)
            if not len(hours):
                continue
            parts_h.append(np.full(len(hours), h0, np.int64) if whole else
                           hours.astype(np.int64))
            parts_p.append(self._global_ids(pc)[pids])
            parts_c.append(counts.astype(np.int64))
        if parts_h:
            gnames, rank = self._gnames, self._name_rank()
            keys, inv = np.unique((np.concatenate(parts_h) - h0) << 32 | np.concatenate(parts_p),
                                  return_inverse=True)
            counts = np.bincount(inv.reshape(-1), weights=np.concatenate(parts_c),
                                 minlength=len(keys)).astype(np.int64)
            hours, pids = (keys >> 32) + h0, keys & 0xFFFFFFFF
            order = _by_hour_busiest(hours - h0, counts, rank[pids], len(rank))
            hours, pids, counts = hours[order], pids[order], counts[order]
            starts = np.flatnonzero(np.r_[True, np.diff(hours) != 0])
            for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(hours)]):
                d = out.setdefault(int(hours[a]), {"classes": np.zeros(6), "paths": {},
                                                   "clients": []})
                for i in range(a, min(b, a + n)):
                    d["paths"][gnames[int(pids[i])]] = int(counts[i])
        every = bool(mask.all())
        for x in sites:
            for h, cells in self._sites[x].clients.items():
                if h0 <= h <= h1:
                    d = out.setdefault(h0 if whole else h, {"classes": np.zeros(6),
                                                            "paths": {}, "clients": []})
                    d["tallied"] = True  # (none of the filter's: an empty tally, not None)
                    if every and EVERY_CELL in cells:  # the hour's own: exact where kept
                        d["clients"].append(cells[EVERY_CELL])
                    elif not every and LEGACY_CELL in cells:  # begun before cells were
                        d["clients_unknown"] = True
                    else:
                        d["clients"] += [t for c, t in cells.items()
                                         if c < N_CELLS and mask[c]]
        for d in out.values():
            d["classes"] = {c: int(v) for c, v in enumerate(d["classes"].tolist()) if v}
            d["paths"] = sorted(d["paths"].items(), key=lambda kv: (-kv[1], kv[0]))[:n]
            d["clients_by_cell"] = not d.pop("clients_unknown", False)
            tallied = d.pop("tallied", False) and d["clients_by_cell"]
            d["clients"] = combined(d["clients"]) if tallied else None
            d.setdefault("paths_kept", True)
            d.setdefault("classes_kept", True)
        return out

    def _global_ids(self, pc: PathCounts) -> np.ndarray:
        """Each of `pc`'s path ids as an id of every site's paths (one numbering, kept and
        extended as names come: a site's names are only ever appended). Built anew at each
        frame, the names of 30 busy hosts' paths were mapped one by one (half a core on a
        busy server, a profile of the top view)."""
        have = pc._gid_map
        if have is not None and have[0] is self._gids and len(have[1]) == len(pc.names):
            return have[1]
        start = len(have[1]) if have is not None and have[0] is self._gids else 0
        gids = self._gids
        more = np.fromiter((gids.setdefault(n, len(gids)) for n in pc.names[start:]), np.int64,
                           len(pc.names) - start)
        got = more if not start else np.concatenate([have[1], more])
        pc._gid_map = (gids, got)
        return got

    def _name_rank(self) -> np.ndarray:
        """Each global path id's place in the order of the paths' names (ties among the
        busiest are broken by name). New names are sorted among themselves and merged in: a
        server probed at random paths brings new names at every frame, and sorting all of up to
        MAX_PATHS names a site again each time would cost more than the frame."""
        gnames = self._gnames
        if len(gnames) < len(self._gids):
            gnames.extend(itertools.islice(self._gids, len(gnames), None))
        have = 0 if self._rank is None else len(self._rank)
        if have == len(gnames):
            return self._rank
        new = gnames[have:]
        order = np.array(sorted(range(len(new)), key=new.__getitem__), np.int64)
        new_sorted = np.empty(len(new), object)
        new_sorted[:] = [new[i] for i in order.tolist()]
        # where each new name goes among the old ones, sorted (names are unique: no ties)
        pos = np.searchsorted(self._sorted_names, new_sorted)
        rank = np.empty(len(gnames), np.int64)
        if have:  # an old name moves on by the new names that go before it
            rank[:have] = self._rank + np.searchsorted(pos, self._rank, side="right")
        rank[have + order] = pos + np.arange(len(new))
        self._sorted_names = np.insert(self._sorted_names, pos, new_sorted)
        self._rank = rank
        return rank

    def resolve(self, site: str) -> str | None:
        """The site named `site`: as it is, or as trafficwatch writes it (safe_name: a name
        with a line end or an escape byte is written `new\\x0aline.com`, and that was refused
        when given back to --site, a trial); None when no site or more than one is. The name
        as written comes first: a site named `new\\x0aline.com` itself is written
        `new\\\\x0aline.com`, and the name written for the other one had picked it (a trial)."""
        if site in self._sites and safe_name(site) == site:  # an ordinary name, as written
            return site
        alike = [x for x in self._sites if safe_name(x) == site]
        if len(alike) == 1:
            return alike[0]
        if site in self._sites:
            return site
        # a virtual host as a client asked for it: the lines' hosts are counted in lower case
        # and without their port ("no site WWW.SHOP.COM" of www.shop.com, a trial)
        host = re.sub(r":\d+$", "", site).lower()
        return host if host != site and host in self._sites else None

    def _selected(self, site: str | None) -> list[str]:
        if site is None:
            return self.sites()
        name = site if site in self._sites else self.resolve(site)  # a name from here: its own
        if name is None:
            raise KeyError(f"no such site {site!r}; known: {', '.join(self.sites()) or 'none'}")
        return [name]

    # -- state -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-able copy of every count (for the state file)."""
        out: dict = {"version": 1, "track_visitors": self.track_visitors,
                     "track_paths": self.track_paths, "sites": {},
                     "folded": sorted(self.folded),  # (said again after a restart)
                     "evicted": self.evicted, "n_evicted": self.n_evicted,
                     "absorbed": self.absorbed.tolist(),
                     "all_visitor_sets": _tables_out(self._all_sets)}
        for name, s in self._sites.items():
            s.fold()
            hours = sorted(s.cells)
            out["sites"][name] = {
                "hours": hours,
                "cells": [s.cells[h].tolist() for h in hours],
                "visitors": {str(h): base64.b64encode(v.astype("<u8").tobytes()).decode()
                             for h, v in s.visitors.items()},
                "visitor_sets": _tables_out(s.visitor_sets),
                "coverage": [list(c) for c in s.coverage],
                "offsets": {str(h): o for h, o in s.offsets.items()},
                "utc_offset": s.utc_offset,
                "last_ts": s.last_ts,
                "first_ts": s.first_ts,
                "covered_ts": s.covered_ts,
                "paths": s.paths.to_dict() if s.paths is not None else None,
                # "client_cells" since 2026-12-06: "clients" held a tally per hour alone
                "client_cells": {str(h): {str(c): t.to_dict() for c, t in cells.items()}
                                 for h, cells in s.clients.items()},
                "host": s.host,
            }
        return out

    @classmethod
    def from_dict(cls, data: dict) -> HourlySeries:
        """Rebuild from `to_dict()` output; ValueError when it is not such a dict."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version-1 hourly series")
        out = cls(track_visitors=bool(data.get("track_visitors", True)),
                  track_paths=bool(data.get("track_paths", False)))
        folded = data.get("folded", [])  # absent from states written before it was kept
        if not isinstance(folded, list) or len(folded) > MAX_HOSTS or \
                not all(isinstance(x, str) for x in folded):
            raise ValueError("malformed hourly series: its folded hosts")
        out.folded = set(folded)
        evicted, n_evicted = data.get("evicted", []), data.get("n_evicted", 0)  # (since 2026-12-07)
        if not isinstance(evicted, list) or len(evicted) > MAX_HOSTS or \
                not all(isinstance(x, str) for x in evicted) or type(n_evicted) is not int or \
                not len(evicted) <= n_evicted < 1 << 53:
            raise ValueError("malformed hourly series: its hosts whose slots were given")
        out.evicted, out.n_evicted = list(evicted), n_evicted
        absorbed = data.get("absorbed", [0] * N_CELLS)
        if not isinstance(absorbed, list) or len(absorbed) != N_CELLS or \
                not all(type(x) is int and 0 <= x < 1 << 53 for x in absorbed):
            raise ValueError("malformed hourly series: the counts of hosts whose slots were given")
        out.absorbed = np.asarray(absorbed, np.int64)
        try:
            out._all_sets = _tables_in(data.get("all_visitor_sets", {}))  # absent before 2026-12
            for name, d in data["sites"].items():
                s = out._sites.setdefault(name, _Site())
                s.host = d.get("host") is True  # absent from states written before it was kept
                out._hosts += s.host and name != OTHER_HOSTS
                hours, cells = _int_array(d["hours"], (-1,)), _int_array(d["cells"], (-1, N_CELLS))
                if len(hours) != len(cells) or (hours < 0).any() or (hours > MAX_HOUR).any() \
                        or (cells < 0).any() or (cells > 1 << 53).any():
                    raise ValueError("hours or cell counts out of range")
                s.cells.update(zip(hours.tolist(), cells))
                s.requests += int(cells.sum())
                for h, b64 in d["visitors"].items():
                    keys = base64.b64decode(b64, validate=True)
                    if len(keys) % 8:
                        raise ValueError("bad visitor keys")
                    s.visitors[int_in(int(h), "hour", 0, MAX_HOUR)] = \
                        np.frombuffer(keys, "<u8").astype(np.uint64)
                s.visitor_sets = _tables_in(d.get("visitor_sets", {}))
                if not set(s.visitors).union(s.visitor_sets) <= s.cells.keys():
                    raise ValueError("visitors for an hour with no request")
                s.coverage = [(int_in(a, "hour", 0, MAX_HOUR), int_in(b, "hour", a, MAX_HOUR))
                              for a, b in d["coverage"]]
                spans = np.asarray(sorted(s.coverage), dtype=np.int64).reshape(-1, 2)
                hours = np.fromiter(s.cells, dtype=np.int64)
                at = np.searchsorted(spans[:, 0], hours, side="right") - 1
                if (at < 0).any() or (hours > spans[at.clip(0), 1]).any():
                    raise ValueError("counts for an hour no log covers")
                s.offsets = {int_in(int(h), "hour", 0, MAX_HOUR): int_in(o, "offset", -DAY, DAY)
                             for h, o in d.get("offsets", {}).items()}
                s.utc_offset = int_in(d["utc_offset"], "offset", -DAY, DAY)
                s.last_ts = None if d["last_ts"] is None else \
                    int_in(d["last_ts"], "time", 0, MAX_HOUR * HOUR)
                first = d.get("first_ts")  # absent from states written before it was kept
                s.first_ts = None if first is None else int_in(first, "time", 0, MAX_HOUR * HOUR)
                cov = d.get("covered_ts")  # absent from states written before 2026-12-07
                s.covered_ts = None if cov is None else int_in(cov, "time", 0, MAX_HOUR * HOUR)
                if d.get("paths") is not None:
                    s.paths = PathCounts.from_dict(d["paths"])
                s.clients = {int_in(int(h), "hour", 0, MAX_HOUR): {
                    EVERY_CELL: TopK.from_dict(t), LEGACY_CELL: TopK()}  # before cells were
                    for h, t in d.get("clients", {}).items()}
                for h, cells in d.get("client_cells", {}).items():
                    s.clients.setdefault(int_in(int(h), "hour", 0, MAX_HOUR), {}).update(
                        {int_in(int(c), "cell", 0, ALL_CELLS - 1): TopK.from_dict(t)
                         for c, t in cells.items()})
                if len(s.clients) > TOP_HOURS:
                    raise ValueError("client tallies for more hours than are kept")
        except (KeyError, TypeError, AttributeError, binascii.Error, OverflowError) as exc:
            raise ValueError(f"malformed hourly series: {exc}") from exc
        if not out._all_sets.keys() <= {h for x in out._sites.values() for h in x.cells}:
            raise ValueError("malformed hourly series: visitors for an hour with no request")
        return out


N_CELLS_MASK = (1 << _VISITOR_CELL_BITS) - 1


def _tables_out(tables: dict[int, np.ndarray]) -> dict[str, str]:
    return {str(h): base64.b64encode(t.astype("<u8").tobytes()).decode()
            for h, t in tables.items()}


def _tables_in(data: object) -> dict[int, np.ndarray]:
    """_tables_out's dict read back; ValueError where it is not one."""
    if not isinstance(data, dict):
        raise ValueError("visitor sets: not a dict")  # noqa: TRY004
    out = {}
    for h, b64 in data.items():
        raw = base64.b64decode(b64, validate=True)
        if len(raw) % 8:
            raise ValueError("bad visitor sets")
        t = np.frombuffer(raw, "<u8").astype(np.uint64)  # (any 64 bits are a row: 24 cells)
        out[int_in(int(h), "hour", 0, MAX_HOUR)] = t
    return out


def _int_array(values: object, shape: tuple[int, ...]) -> np.ndarray:
    """A JSON list of ints (or of rows of ints) as int64; ValueError for floats, strings, nulls,
    ragged rows or numbers beyond 64 bits (a state file is input like any other)."""
    if not isinstance(values, list):
        raise ValueError("not a list")  # noqa: TRY004 (one error type: unusable)
    if not values:
        return np.zeros((0, *shape[1:]), dtype=np.int64)
    try:
        arr = np.asarray(values)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a list of whole numbers: {exc}") from exc
    if arr.dtype.kind not in "iu" or arr.ndim != len(shape) or arr.shape[1:] != shape[1:]:
        raise ValueError("not a list of whole numbers of the expected shape")
    return arr.astype(np.int64)  # uint64 beyond int64 turns negative: refused by the caller


def young_sites_note(series: HourlySeries, now: float) -> str:
    """A line saying which sites a forecast of every site summed leaves out, and why ("" when
    none): HourlySeries.without_whole_hour before the sum's first hour that is not whole (the
    hour of `now`, in progress, or the logs' last hour when they ended inside it)."""
    last, cut = series.last_ts(None), series.partial_end(None)
    if last is None:
        return ""
    young = series.without_whole_hour(
        min(int(now) // HOUR, cut if cut is not None else int(last) // HOUR + 1))
    if not young:
        return ""
    began = ", ".join(
        f"{safe_name(x)} (its log began {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t))})"
        if (t := series.first_ts(x)) is not None else safe_name(x) for x in young[:5])
    more = f" and {len(young) - 5} more" if len(young) > 5 else ""
    if len(young) == len(series.sites()):  # none has a whole hour: there are no others
        return (f"no whole hour yet for any site: {began}{more}; the forecast starts with the "
                "first hour one of them completes")
    return (f"not in the forecast of the sites summed, no whole hour yet: {began}{more}; "
            "it is the other sites' alone")


ENDED_APART_S = 7 * DAY  # a site whose log ended this long before the latest line of all


def ended_sites_note(series: HourlySeries, pick: str = "s shows one site") -> str:
    """A line saying which sites' logs ended ENDED_APART_S or more before the latest line of
    every site summed ("" when none): their hours are not in the sum's last weeks, which is the
    others' alone. A trial's real logs of 2015, 2021 and 2022 read "4 sites + all", a chart of
    Dec 2022 and "Last 7 days: 2 hours with a count", nothing said."""
    last = series.last_ts(None)
    if last is None or len(series.sites()) < 2:
        return ""
    ended = [(x, t) for x in series.sites()
             if (t := series.last_ts(x)) is not None and last - t >= ENDED_APART_S]
    if not ended:
        return ""
    said = ", ".join(f"{safe_name(x)} ({time.strftime('%Y-%m-%d', time.gmtime(t))})"
                     for x, t in ended[:4])
    more = f" and {len(ended) - 4} more" if len(ended) > 4 else ""
    return (f"logs that ended a week or more before the others: {said}{more}; the sites summed "
            f"show the others' recent hours alone ({pick})")


def ahead_note(series: HourlySeries, site: str | None, now: float, once: bool = False) -> str:
    """A line for the operator when followed logs hold lines dated well past this machine's
    clock (HourlySeries.ahead): they wait for their hour and are not taken for "now". `once`:
    logs read once (`counts`), which writes those hours out marked partial."""
    got = series.ahead(site, now)
    if got is None:
        return ""
    n, last = got
    minutes = (last - int(now)) // 60
    lead = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(last))
    return (f"{n:,} line{'s' * (n != 1)} dated ahead of this machine's clock (latest {stamp}, "
            f"{lead} ahead): "
            + ("counted in their hours, marked partial (not over yet here)" if once
               else "counted when their hour comes")
            + "; check the server's clock and time zone")


SITES_LISTED = 8  # a --site not found: the sites named when there are this few


def no_site(wanted: str, sites: list[str], lister: str = "trafficwatch counts") -> str:
    """"no site X; ..." for a --site that names none of `sites`: the nearest names (in any
    case: "did you mean c.example.com or b.example.com" of B.Example.com:8080, a trial), and
    the sites themselves when they are few (450 of them made a line of 9,006 characters, and
    no "did you mean" for a typo: a trial); `lister`: the command that lists them."""
    import difflib

    lower = {}
    for x in sites:
        lower.setdefault(x.lower(), x)
    near = [lower[x] for x in difflib.get_close_matches(
        re.sub(r":\d+$", "", wanted).lower(), list(lower), n=3, cutoff=0.6)]
    said = f"no site {safe_name(wanted)}"
    if near:
        said += f"; did you mean {' or '.join(safe_name(x) for x in near)}?"
    if not sites:
        return said + "; found: none"
    if len(sites) <= SITES_LISTED:
        return said + f"; found: {', '.join(safe_name(x) for x in sites)}"
    return said + (f" ({len(sites)} sites: {', '.join(safe_name(x) for x in sites[:3])}, …; "
                   f"{lister} lists them)")

