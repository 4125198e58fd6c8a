"""Bounded per-hour tallies of the busiest clients (a mergeable space-saving summary per hour).

Paths and status classes are counted exactly per hour elsewhere (series.PathCounts and the
count cells); client addresses are too many to keep for every hour, so each site keeps, for its
last TOP_HOURS hours only, the TOP_CAP clients that sent the most requests in each hour.
"""
from __future__ import annotations

import numpy as np

TOP_CAP = 20  # clients kept per hour: the pane shows 5; the rest keep the estimates honest
TOP_HOURS = 4 * 24 + 1  # hours kept per site, back from its latest: what the chart can show
ALL_CELLS = 26  # a tally's cell: series.N_CELLS of them (status class x bot x asset), and
EVERY_CELL = 24  # every request of the hour (alone in a state saved before 2026-12-06), and
LEGACY_CELL = 25  # an empty tally marking an hour such a state began: its cells' tallies hold
# only what came after, never a filter's clients (a review: a 5xx client of 5 was left out)


def factorize(values) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize of strings (codes, uniques), those holding bytes that were not UTF-8 (read
    as surrogates) kept apart: pandas' hash table reads every such string as one, and a
    log's `/a\\xff`, `/b\\xfe` and `/c\\x9bX` were one path, its first, their requests added
    (a security trial: a scan hidden under another path, the path filter finding none)."""
    import pandas as pd

    codes, uniques = pd.factorize(values)
    if not any(_surrogates(u) for u in uniques.tolist()):
        return codes, uniques
    index: dict[object, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
    return codes, np.array(list(index), dtype=object)


def _surrogates(u: object) -> bool:
    if not isinstance(u, str) or u.isascii():
        return False
    try:
        u.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class TopK:
    """The busiest keys of a stream, within TOP_CAP entries (space-saving, mergeable).

    Each kept key has an estimate `count` and an `err` with count - err <= true count <= count
    (err 0: exact). `floor` bounds the true count of any key not kept (0 while none was dropped).
    """

    __slots__ = ("counts", "errs", "floor")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.errs: dict[str, int] = {}
        self.floor = 0

    def merge(self, counts: dict[str, int], errs: dict[str, int] | None = None, floor: int = 0,
              cap: int = TOP_CAP) -> None:
        """Add another summary (exact counts of a batch: errs None, floor 0)."""
        errs = errs or {}
        est, err = {}, {}
        for k in self.counts.keys() | counts.keys():
            a = self.counts.get(k)
            b = counts.get(k)
            est[k] = (self.floor if a is None else a) + (floor if b is None else b)
            err[k] = (self.floor if a is None else self.errs[k]) + \
                (floor if b is None else errs.get(k, 0))
        new_floor = self.floor + floor
        if len(est) > cap:
            order = sorted(est, key=lambda k: (-est[k], k))
            for k in order[cap:]:
                new_floor = max(new_floor, est.pop(k))
                err.pop(k)
        self.counts, self.errs, self.floor = est, err, new_floor

    def top(self, n: int) -> list[tuple[str, int, int]]:
        """(key, count, err), busiest first by the count each surely has (count - err), then by
        the most it may have, then by key (a stable order). Ranked by the most, a day's one-off
        visitors, each "2-37" from the floors of the hours they were not kept in, came before
        a client of exactly 13 (a trial)."""
        order = sorted(self.counts, key=lambda k: (self.errs[k] - self.counts[k],
                                                   -self.counts[k], k))[:n]
        return [(k, self.counts[k], self.errs[k]) for k in order]

    def unlisted_most(self, n: int) -> int:
        """The most a key not among top(n) may have: the floor (one not kept), or the most a
        kept one ranked after the first n may have (an app trial: "a client not listed may have
        sent up to 27" beside three unlisted of 64-68, kept but ranked 6th to 8th)."""
        rest = [self.counts[k] for k, _, _ in self.top(len(self.counts))[n:]]
        return max([self.floor, *rest])

    def to_dict(self) -> dict:
        return {"counts": self.counts, "errs": self.errs, "floor": self.floor}

    @classmethod
    def from_dict(cls, d: dict) -> TopK:
        """From to_dict(); ValueError for anything else (a state file is input like any other)."""
        out = cls()
        counts, errs, floor = d["counts"], d["errs"], d["floor"]
        if not (isinstance(counts, dict) and isinstance(errs, dict) and counts.keys() == errs.keys()
                and len(counts) <= TOP_CAP):
            raise ValueError("client tally: not a bounded summary")
        for k in counts:
            c, e = counts[k], errs[k]
            if not (isinstance(k, str) and type(c) is int and type(e) is int and 0 <= e <= c):
                raise ValueError("client tally: a bad entry")
        if type(floor) is not int or floor < 0:
            raise ValueError("client tally: a bad floor")
        out.counts, out.errs, out.floor = dict(counts), dict(errs), floor
        return out


def chunk_tallies(hours: np.ndarray, names: np.ndarray, cells: np.ndarray,
                  cap: int = TOP_CAP) -> dict[int, dict[int, TopK]]:
    """Exact counts of a chunk's client names per hour and count cell (`cells`: each
    request's, status class x bot x asset), and of every request of the hour (EVERY_CELL),
    each cut to its `cap` busiest: the clients of a filter's requests are those of its cells
    (who sent the 5xx); with no filter, the hour's own tally (the cells' summed, a client
    where a cell did not keep it is that cell's floor: a range, where it was exact)."""
    out: dict[int, dict[int, TopK]] = {}
    if not len(hours):
        return out
    codes, uniques = factorize(names)
    h0 = int(hours.min())
    span = (hours.astype(np.int64) - h0) * ALL_CELLS
    slot = np.concatenate([span + cells.astype(np.int64), span + EVERY_CELL])
    codes = np.concatenate([codes, codes])
    keys, n = np.unique(slot * len(uniques) + codes, return_counts=True)
    ks, kc = keys // len(uniques), keys % len(uniques)
    bounds = np.flatnonzero(np.diff(ks)) + 1
    for idx in np.split(np.arange(len(keys)), bounds):
        t = TopK()
        t.merge({str(uniques[c]): int(v) for c, v in zip(kc[idx].tolist(), n[idx].tolist())},
                cap=cap)
        h, cell = divmod(int(ks[idx[0]]), ALL_CELLS)
        out.setdefault(h + h0, {})[cell] = t
    return out


def add_tallies(into: dict[int, dict[int, TopK]], new: dict[int, dict[int, TopK]],
                last_hour: int) -> None:
    """Merge per-hour, per-cell tallies into `into`, keeping only the TOP_HOURS hours up to
    `last_hour`."""
    lo = last_hour - TOP_HOURS + 1
    for h, cells in new.items():
        if h < lo:
            continue
        mine = into.setdefault(h, {})
        for cell, t in cells.items():
            cur = mine.get(cell)
            if cur is None:
                mine[cell] = cur = TopK()
            cur.merge(t.counts, t.errs, t.floor)
    for h in [h for h in into if h < lo]:
        del into[h]


def combined(tallies: list[TopK]) -> TopK:
    """Several hours' (or sites') tallies as one summary, every client of them kept (it is
    for the screen, never saved). Cut to TOP_CAP at each merge, the hours' floors had added up
    into every client's bounds: one-off visitors read "2-37".

    What merging them one by one without a cap gives, in one pass: a client's count is its
    count where a tally kept it and that tally's floor where it did not (its err likewise).
    Merged one by one, each merge went over every client so far: a day of 300 sites' hours
    (7,200 tallies) kept a core busy on an idle screen (a trial)."""
    floor = sum(t.floor for t in tallies)
    est: dict[str, int] = {}
    err: dict[str, int] = {}
    for t in tallies:
        errs = t.errs
        for k, c in t.counts.items():  # this tally's own count in place of its floor
            est[k] = est.get(k, floor) + c - t.floor
            err[k] = err.get(k, floor) + errs[k] - t.floor
    out = TopK()
    out.counts, out.errs, out.floor = est, err, floor
    return out
