"""Replay existing logs by their timestamps, so forecasts, anomalies and gates evolve live."""
from __future__ import annotations

import time
from dataclasses import fields, replace

import numpy as np

from trafficwatch.counting.ingest import IngestOptions, IngestReport, ingest, nothing_read
from trafficwatch.counting.series import MAX_HOSTS, HourlySeries, fold_host
from trafficwatch.engine.sink import Sink
from trafficwatch.hours import HOUR
from trafficwatch.logs.records import Records


class _Collector:
    """Stands in for HourlySeries during ingest: keeps the records themselves, per site."""

    track_visitors = True  # the records are replayed into a series that counts visitors

    def __init__(self) -> None:
        self.chunks: dict[str, list[Records]] = {}
        self._hosts: set[str] = set()
        self.folded: set[str] = set()  # as HourlySeries.folded: said by the app as live

    def add(self, site: str, records: Records, host: bool = False) -> str:
        """As HourlySeries.add: a line's virtual host beyond the first MAX_HOSTS is counted
        under OTHER_HOSTS (and kept in `folded`, the first MAX_HOSTS of them)."""
        if host and site not in self.chunks:
            if len(self._hosts) >= MAX_HOSTS:
                site = fold_host(site, self.folded)
            else:
                self._hosts.add(site)
        if len(records):
            self.chunks.setdefault(site, []).append(records)
        return site

    def add_coverage(self, site: str, start_ts: int, end_ts: int) -> None:
        return None  # replay covers everything up to its clock

    def cover_hosts(self, firsts, end_ts: int) -> None:
        return None  # (so are the virtual hosts a file's lines name)

    def sites(self) -> list[str]:
        return sorted(self.chunks)


def _concat_sorted(chunks: list[Records]) -> Records:
    cols = {}
    for f in fields(Records):
        if f.name in ("vhosts", "path", "client_name"):
            continue
        cols[f.name] = np.concatenate([getattr(c, f.name) for c in chunks])
    order = np.argsort(cols["ts"], kind="stable")
    texts = {}
    for name in ("path", "client_name"):  # kept for the path filter and the top clients
        texts[name] = np.concatenate([getattr(c, name) for c in chunks])[order] \
            if all(getattr(c, name) is not None for c in chunks) else None
    return replace(chunks[0], **{k: v[order] for k, v in cols.items()}, **texts)


class Replayer:
    """Reads every file once, then releases requests into a series as a log-time clock advances."""

    def __init__(self, paths: list[str], opts: IngestOptions | None = None,
                 warmup_hours: int = 8 * 24) -> None:
        collector = _Collector()
        _, self.report = ingest(paths, opts, collector)  # type: ignore[arg-type]
        self.records = {site: _concat_sorted(ch) for site, ch in collector.chunks.items()}
        self.folded = collector.folded
        self._pos = dict.fromkeys(self.records, 0)
        starts = [int(r.ts[0]) for r in self.records.values()]
        ends = [int(r.ts[-1]) for r in self.records.values()]
        self.start = min(starts) if starts else 0
        self.end = max(ends) if ends else 0
        # Start a little into the logs so the model has history the moment the screen opens.
        self.clock = min(self.start + warmup_hours * HOUR, self.end)

    @property
    def ingest_report(self) -> IngestReport:
        return self.report

    @property
    def done(self) -> bool:
        return self.clock >= self.end

    def advance(self, series: HourlySeries, to_ts: int | None = None) -> int:
        """Add every request with ts <= to_ts (default: the clock) to `series`; returns how many."""
        if to_ts is not None:
            self.clock = max(self.clock, min(int(to_ts), self.end))
        n = 0
        if self.folded and not series.folded:  # the hosts counted as OTHER_HOSTS, to be said
            series.folded = set(self.folded)
        for site, rec in self.records.items():
            lo = self._pos[site]
            hi = int(np.searchsorted(rec.ts, self.clock, side="right"))
            if hi > lo:
                series.add(site, rec.slice(lo, hi))
                series.add_coverage(site, int(rec.ts[0]), self.clock)
                n += hi - lo
                self._pos[site] = hi
        return n


class ReplayFeed:
    """A source that releases the logs' requests into the sink by their timestamps, at
    `config.speed` log seconds per real second."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.replayer = Replayer(sink.config.paths, sink.config.ingest)
        self.report = self.replayer.report
        self.tail = ()
        self.rate = 0.0
        self.last_update = time.time()
        if not self.replayer.records:
            raise ValueError(nothing_read(self.report, sink.config.paths))
        with sink.lock:
            self.replayer.advance(sink.series)

    @property
    def clock(self) -> int:
        return self.replayer.clock

    @property
    def done(self) -> bool:
        return self.replayer.done

    def step(self, dt: float) -> None:
        if self.replayer.done:
            return
        with self.sink.lock:
            n = self.replayer.advance(self.sink.series,
                                      self.replayer.clock + int(self.sink.config.speed * dt))
        self.rate = n / dt if dt > 0 else 0.0
        self.last_update = time.time()
        self.sink.on_change()
