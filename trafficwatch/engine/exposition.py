"""What the agent (engine/agent.py) exports: every site's counters, kept monotonic across
restarts. Served by engine/metrics.py's server, beside the app's own metrics (metrics_view.py).

Counters are totals of what the follower counted (the series and the ingest report, restored
from the follower state at a restart, so they continue where they stopped). A CounterFloor adds
the one thing the state cannot give: when the state is lost or rebuilt (moved aside, options
changed) and rotated logs are gone, the recount is lower than what Prometheus last saw, which
Prometheus would read as a reset (and `increase()` as a burst of every request again). The floor
remembers the last value served per counter, written before it is served, and adds the
shortfall to that counter from then on.
"""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from trafficwatch.counting.ingest import IngestReport
from trafficwatch.counting.series import HourlySeries
from trafficwatch.counting.state import check_state_path
from trafficwatch.engine.metrics import Sample
from trafficwatch.files import atomic_write
from trafficwatch.filters import STATUS_LABELS as STATUS
from trafficwatch.hours import HOUR
from trafficwatch.logs.detect import said_apart
from trafficwatch.logs.records import OTHER_HOSTS
from trafficwatch.safe import safe_name

log = logging.getLogger(__name__)
CATALOGUE = {
    "trafficwatch_requests_total": (
        "counter", ("Requests counted from the logs (parsed, not excluded), by site and status "
                    "class (other: lines without a status).")),
    "trafficwatch_lines_read_total": ("counter", "Complete log lines read, of every kind."),
    "trafficwatch_malformed_lines_total": (
        "counter", "Log lines that did not parse (the lines of other_lines_total aside)."),
    "trafficwatch_other_lines_total": (
        "counter", ("Lines of a log that are no request and no fault: an error log's among a "
                    "container's, a server's own messages, lines already counted.")),
    "trafficwatch_excluded_lines_total": (
        "counter", "Lines left out by --exclude-ip or --ignore-status."),
    "trafficwatch_files_followed": ("gauge", "Log files followed now."),
    "trafficwatch_files_skipped": (
        "gauge", ("Files the last listing of the paths found and could not read (unreadable, "
                  "not a regular file...): each named on the agent's stderr. A file in no "
                  "known format is followed, its lines in malformed_lines_total.")),
    "trafficwatch_last_line_timestamp_seconds": (
        "gauge", ("Log time of the latest request counted, by site (Unix seconds; while later "
                  "lines wait for their hour, the end of the latest hour counted, at most now).")),
    "trafficwatch_requests_ahead": (
        "gauge", ("Requests read that are dated in an hour after this machine's clock's (a "
                  "server clock or time zone ahead): in trafficwatch_requests_total when their "
                  "hour comes.")),
}
Key = tuple[str, tuple[tuple[str, str], ...]]  # metric name, labels


def counter_values(series: HourlySeries, report: IngestReport,
                   now: float | None = None) -> dict[Key, int]:
    """The raw counters: requests per site and status class, lines read, malformed, excluded.
    With `now`, a request dated in an hour after now's counts once that hour comes: the README
    promised it, and an agent counted a line dated 2 hours ahead at once, into the fleet's
    hour of the scrape (a trial)."""
    out: dict[Key, int] = {}
    until = None if now is None else int(now) // HOUR
    for site in series.sites():
        cells = series.cell_totals(site, until)
        if site == OTHER_HOSTS:  # hosts' requests it took with their slots: not new ones
            cells = np.clip(cells - series.absorbed, 0, None)
        cells = cells.reshape(len(STATUS), -1).sum(axis=1)
        for status, n in zip(STATUS, cells.tolist()):
            out[("trafficwatch_requests_total", (("site", site), ("status", status)))] = int(n)
    out[("trafficwatch_lines_read_total", ())] = int(report.lines)
    apart = said_apart(report.malformed.counts)
    out[("trafficwatch_malformed_lines_total", ())] = int(report.malformed.total - apart)
    out[("trafficwatch_other_lines_total", ())] = int(apart)
    out[("trafficwatch_excluded_lines_total", ())] = int(report.excluded)
    return out


def gauge_samples(series: HourlySeries, files: int, skipped: int = 0,
                  now: float | None = None) -> list[Sample]:
    """Files followed and skipped, each site's last line time and, with `now`, the requests
    waiting for their hour (lines read rose by them, requests not: nothing said why, a trial)."""
    out = [Sample("trafficwatch_files_followed", (), float(files)),
           Sample("trafficwatch_files_skipped", (), float(skipped))]
    if now is not None:
        ahead = sum(series.requests_after(x, int(now) // HOUR) for x in series.sites())
        out.append(Sample("trafficwatch_requests_ahead", (), float(ahead)))
    for site in series.sites():  # with `now`, as the counters: a site of lines dated ahead
        # only had its future time here, its counters at 0 (a trial)
        ts = series.last_ts(site) if now is None else series.last_counted_ts(site, now)
        if ts is not None:
            out.append(Sample("trafficwatch_last_line_timestamp_seconds", (("site", site),),
                              float(ts)))
    return out


def metrics_path(state_path: str | Path) -> Path:
    """Where the counter floors live: beside the follower state (STATE.metrics)."""
    p = Path(state_path)
    return p.with_name(p.name + ".metrics")


class CounterFloor:
    """Exported counter = raw count + a per-counter base, never below a value already served.

    `path` None keeps nothing (--no-state): counters are then what the logs hold at each start.
    """

    VERSION = 1

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.notice = ""  # why the saved floors could not be used (said once at the start)
        self.save_error = ""  # the last failure to save them ("" once one worked), logged
        self._lock = threading.Lock()
        self._base: dict[Key, int] = {}
        self._served: dict[Key, int] = {}
        self._saved: dict[Key, int] = {}  # what the file holds
        if self.path is not None:
            check_state_path(self.path)  # UntrustedState: the caller says so and stops
            self._saved = self._load()
        # counts were served before this start: the floors file held some
        self.resumed = any(v > 0 for v in self._saved.values())

    def _load(self) -> dict[Key, int]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.notice = f"counter floors {self.path} unusable ({str(exc)[:100]}); starting anew"
            return {}
        try:
            if data.get("version") != self.VERSION:
                raise ValueError("version")
            out: dict[Key, list[int]] = {}
            for row in data["counters"]:
                name, labels, base, value = row
                key = (str(name), tuple((str(k), str(v)) for k, v in labels))
                if not all(type(x) is int and 0 <= x < 1 << 62 for x in (base, value)):
                    raise ValueError("bad count")
                out[key] = [base, value]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            self.notice = f"counter floors {self.path} unusable ({str(exc)[:100]}); starting anew"
            return {}
        self._base = {k: b for k, (b, _) in out.items()}
        return {k: v for k, (_, v) in out.items()}


    def settle(self, raw: Mapping[Key, int]) -> None:
        """Once the restart has read what was appended meanwhile: each counter goes on from
        max(saved base + raw, last value served), so it never goes down."""
        with self._lock:
            for key, last in self._saved.items():
                self._base[key] = max(self._base.get(key, 0), last - raw.get(key, 0))
            self._served = dict(self._saved)

    def export(self, raw: Mapping[Key, int], gone: Iterable[str] = ()) -> dict[Key, int]:
        """The values to serve now, saved (atomically) first when they changed. `gone`: sites
        whose counts went to another's (a virtual host whose slot was given: its requests are
        under OTHER_HOSTS now), no longer served: served at its last value beside them, after a
        restart, it counted them twice in a fleet's sum (a fleet trial)."""
        with self._lock:
            gone = set(gone)
            for key in [k for k in self._base if k not in raw and dict(k[1]).get("site") in gone]:
                del self._base[key]
            out = {}
            for key in {**self._base, **raw}:
                v = self._base.get(key, 0) + raw.get(key, 0)
                out[key] = max(v, self._served.get(key, 0))
            self._served = out
            if self.path is not None and out != self._saved:
                self._save(out)
            return out

    def _save(self, values: dict[Key, int]) -> None:
        rows = [[name, [list(kv) for kv in labels], self._base.get((name, labels), 0), v]
                for (name, labels), v in sorted(values.items())]
        data = json.dumps({"version": self.VERSION, "counters": rows},
                          separators=(",", ":")).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self.path, data, mode=0o600)
        except OSError as exc:
            msg = f"cannot save counter floors to {safe_name(str(self.path))}: " \
                f"{exc.strerror or exc}"
            if msg != self.save_error:  # logged once (not again as `notice`, which the agent
                log.debug(msg)  # prints at its start: twice there, a trial); the agent says it
            self.save_error = msg  # with its other lines, as they change (cli/agent.py)
            return
        self._saved = dict(values)
        self.save_error = ""


def samples(values: Mapping[Key, int]) -> list[Sample]:
    """Counter values as samples, requests first, in a stable order."""
    return [Sample(name, labels, float(v)) for (name, labels), v in sorted(values.items())]
