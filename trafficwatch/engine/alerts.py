"""`--alert-cmd`: run once per anomaly, for anomalies that fired after the last alerted one.

Each site has a "last alerted" mark: when the newest anomaly it was alerted for fired (the end
of the hour that completed its trigger window). An anomaly alerts only when it fired after the
mark, or, for a site without a mark, after this process began watching, so history read at
startup never alerts. The marks are saved atomically beside the state file before each command
starts: a restart neither repeats an alert nor loses one that fired while it was down.
The command runs in a thread of its own, one at a time; its failures are a notice on screen.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from trafficwatch.engine.anomalies import AnomalyEvent
from trafficwatch.files import atomic_write
from trafficwatch.safe import clip_shown, safe_name, safe_text

log = logging.getLogger(__name__)
MARKS_VERSION = 1
LEGACY_MARK = ""  # the site of the marks releases before 2026-12-03 saved (the sum of all sites)
FUTURE_SLACK_S = 86400  # a saved mark this far ahead of the clock is not believed
RUN_LIMIT_S = 60.0  # an alert command still running after this is killed (the next one waits)


def iso_hour(ts: int) -> str:
    """Epoch seconds as ISO 8601 UTC: 2026-12-02T09:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


FROM_NOW = (" (and the hour that ended in the 5 minutes before this start: an alert already "
            "sent for it runs again)")  # what "from now on" leaves out (README: the history
# read at start alerts but for that hour; without the marks, one sent for it is not known)
FLAP_S = 3600  # a run outside the band that begins this soon after one of the same direction
# that paged (or was itself such a run) ended is that one again for --alert-cmd: a site
# flapping at the band's edge (60, 84, 60, 84...) paged every two hours, 12 times a day (a
# trial); the screen lists each run. Decided once, when the run fires: judged again each hour,
# an outage an hour after a blip was held back until the blip left the day judged, then paged
# a day late (an alerts trial)
PAGE_MARGIN = 0.25  # a run pages once it has lasted 2 hours, or at its first hour where that
# hour is past the band's edge by this share of the edge (and PAGE_MIN requests): single hours
# a request or two past the 98 % band's edge (8 against 8.005-29.2, 145 against 72-144.2) paged
# 2.3 times a week a site on traffic with nothing wrong (an alerts trial); an outage (0 against
# 46-95) or a flood pages at its first hour as before
PAGE_MIN = 2.0
PAGE_HOURS = 2
RETURN_HOURS = 6  # a run opposite to one of this many hours or more, beginning within FLAP_S
RETURN_NEAR = 1.5  # of its end and within this factor of the band's edge, is the traffic
# coming back against a forecast made while it was away (a day at half, then back: paged
# "above" as if a flood, an alerts trial), not paged


def significant(e: AnomalyEvent) -> bool:
    """Whether a run is worth a page (PAGE_MARGIN, PAGE_HOURS)."""
    edge = e.high if e.direction > 0 else e.low
    excess = e.actual - e.high if e.direction > 0 else e.low - e.actual
    return e.hours_out >= PAGE_HOURS or excess >= max(PAGE_MARGIN * edge, PAGE_MIN)


def near_edge(e: AnomalyEvent) -> bool:
    """Whether a run's peak is within RETURN_NEAR of the band's edge."""
    return e.actual <= RETURN_NEAR * e.high if e.direction > 0 else e.actual * RETURN_NEAR >= e.low


def is_return(e: AnomalyEvent, events: list[AnomalyEvent]) -> bool:
    """Whether `e` began just after a long run the other way ended."""
    return any(p.direction == -e.direction and p.end is not None
               and p.end - p.start >= RETURN_HOURS * 3600
               and 0 <= e.start - p.end <= FLAP_S for p in events)


def alert_env(site: str, event: AnomalyEvent) -> dict[str, str]:
    """The TRAFFICWATCH_* variables for one anomaly; the site as safe_name shows it."""
    return {
        "TRAFFICWATCH_SITE": safe_name(site),
        "TRAFFICWATCH_HOUR": iso_hour(event.peak_hour),
        "TRAFFICWATCH_START": iso_hour(event.start),
        "TRAFFICWATCH_ACTUAL": f"{event.actual:g}",
        "TRAFFICWATCH_LOW": f"{event.low:g}",
        "TRAFFICWATCH_HIGH": f"{event.high:g}",
        "TRAFFICWATCH_DIRECTION": "above" if event.direction > 0 else "below",
    }


def run_alert(cmd: str, site: str, event: AnomalyEvent,
              stderr: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen:
    """Start `cmd` through the shell for one anomaly; the details go in environment variables.

    Log-derived values are passed only as (sanitised) variables, never pasted into the command
    line, so a crafted site name cannot inject shell syntax.
    """
    env = {**os.environ, **alert_env(site, event)}
    return subprocess.Popen(cmd, shell=True, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=stderr,
                            start_new_session=True)  # its own group: killed whole on timeout


SAID_MAX = 160  # characters of a failing command's last line of stderr shown with its failure


def last_said(err: IO[bytes]) -> str:
    """The last line a command wrote on stderr (a file it wrote it into), as the screen may
    show it: `notify-send: cannot open display`. A failing command's status alone ("exit
    status 1") left its reason unknown: its stderr went nowhere (a trial)."""
    try:
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - 4096))
        tail = err.read()
    except (OSError, ValueError):
        return ""
    lines = [ln.strip() for ln in tail.decode("utf-8", "replace").splitlines() if ln.strip()]
    said = safe_text(lines[-1]) if lines else ""
    return clip_shown(said, SAID_MAX)


def marks_path(state_path: str | os.PathLike) -> Path:
    """Where the alert marks of a state file live: beside it, `<state>.alerts`."""
    p = Path(state_path)
    return p.with_name(p.name + ".alerts")


class AlertMarks:
    """Site -> when its newest alerted anomaly fired (epoch s); saved atomically when a path is set."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.notice = ""
        self.marks: dict[str, float] = {}
        self.legacy: float | None = None  # the mark releases before 2026-12-03 saved for all sites
        self.pending: list[tuple[str, AnomalyEvent]] = []  # queued, not run yet (saved as
        # queued: a kill -9 while a command ran had lost the alerts queued behind it)
        # site -> direction -> [start, end or None] of its latest run that paged, or was that
        # one again (FLAP_S)
        self.chains: dict[str, dict[str, list]] = {}
        self._saving = threading.Lock()  # one save at a time, each of the latest (the runner's
        # mark and a stop's pending ones: the earlier-built write could land last)
        if path is not None:
            self.marks = self._load(path)

    def _load(self, path: Path) -> dict[str, float]:
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # a save killed before its rename
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.notice = f"alert marks {safe_name(path)} unreadable ({safe_text(exc)}); " \
                          f"alerting anomalies from now on{FROM_NOW}"
            return {}
        if not (isinstance(data, dict) and data.get("version") == MARKS_VERSION
                and isinstance(data.get("marks"), dict)):
            self.notice = (f"alert marks {safe_name(path)} not understood; alerting from now "
                           f"on{FROM_NOW}")
            return {}
        self.pending = _events(data.get("pending"))
        self.chains = _chains(data.get("chains"))
        marks = data["marks"]
        now = time.time()
        limit = now + FUTURE_SLACK_S
        got = {str(k): float(v) for k, v in marks.items()
               if isinstance(v, (int, float)) and math.isfinite(v) and v <= limit}
        legacy = got.pop(LEGACY_MARK, None)  # read once, not saved back; never past now (it
        # was a floor for every site's alerts: one set a day ahead silenced them all, a review)
        if legacy is not None:
            self.legacy = min(legacy, now)
        return got

    def reload(self) -> None:
        """Read the marks again (another trafficwatch wrote them since), keeping each site's
        later mark: this one's saves would otherwise put the other's marks back."""
        if self.path is not None:
            loaded = self._load(self.path)
            with self._saving:
                for site, mark in loaded.items():
                    self.marks[site] = max(mark, self.marks.get(site, mark))

    def get(self, site: str) -> float | None:
        return self.marks.get(site)

    def advance(self, site: str, fired_at: float, ran: AnomalyEvent | None = None) -> None:
        """Record that `site` was alerted for an anomaly that fired at `fired_at` (`ran`, no
        longer pending), or that what fired up to then was decided not to page; and save."""
        with self._saving:
            self.marks[site] = max(fired_at, self.marks.get(site, fired_at))
            if ran is not None:
                self.pending = [j for j in self.pending if j != (site, ran)]
        self.save()

    def set_chains(self, site: str, runs: dict[str, list]) -> None:
        """The runs of `site` that paged, were those again, or came back; and save."""
        with self._saving:
            if runs:
                self.chains[site] = runs
            else:
                self.chains.pop(site, None)
        try:
            self.save()
        except OSError as exc:
            log.warning("alert marks not saved: %s", exc)

    def save(self) -> None:
        """Write the marks, the alerts pending and the runs paged (OSError where it cannot)."""
        if self.path is None:
            return
        with self._saving:
            data = json.dumps({"version": MARKS_VERSION, "marks": self.marks, "pending": [
                {"site": site, **dataclasses.asdict(ev)} for site, ev in self.pending],
                "chains": self.chains}).encode()
            _atomic_write(self.path, data)

    def hold(self, jobs: list[tuple[str, AnomalyEvent]]) -> None:
        """Keep alerts queued and not run yet for the next start, and save (a stop, or a
        kill -9, while they wait)."""
        with self._saving:
            self.pending = [*self.pending, *(j for j in jobs if j not in self.pending)]
        self.save()

    def take_pending(self) -> list[tuple[str, AnomalyEvent]]:
        """The alerts the last run left queued and not started (each leaves the list as its
        command starts, with its mark, in one save), once."""
        jobs = list(self.pending)
        if self.pending:
            self.pending = []
            with contextlib.suppress(OSError):
                self.save()
        return jobs


def _events(raw: object) -> list[tuple[str, AnomalyEvent]]:
    """The pending alerts of a marks file (those unreadable left out)."""
    out = []
    for item in raw if isinstance(raw, list) else []:
        try:
            fields = {k: item[k] for k in ("start", "end", "peak_hour", "actual", "low", "high",
                                           "direction", "fired", "clipped")}
            if isinstance(item.get("last"), int):  # (absent from files before it was kept)
                fields["last"] = item["last"]
            times = [fields[k] for k in ("start", "peak_hour", "fired")] + \
                [x for x in (fields["end"], fields.get("last")) if x is not None]
            values = [fields[k] for k in ("actual", "low", "high")]
            if not (all(type(t) is int and 0 <= t < 1 << 40 for t in times)
                    and all(type(x) in (int, float) and math.isfinite(x) for x in values)
                    and fields["direction"] in (1, -1) and type(fields["clipped"]) is bool):
                continue  # (a "fired" of null crashed every start: a review)
            out.append((str(item["site"]), AnomalyEvent(**fields)))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _chains(raw: object) -> dict[str, dict[str, list]]:
    """The paged runs of a marks file (those unreadable left out)."""
    out: dict[str, dict[str, list]] = {}
    for site, by_dir in (raw.items() if isinstance(raw, dict) else ()):
        for d, run in (by_dir.items() if isinstance(by_dir, dict) else ()):
            if d in ("1", "-1", "r1", "r-1") and isinstance(run, list) and len(run) == 2 and \
                    all(x is None or isinstance(x, int) for x in run) and run[0] is not None:
                out.setdefault(str(site), {})[d] = list(run)
    return out


def _atomic_write(path: Path, data: bytes) -> None:
    """The marks file, written atomically in a private folder."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, data)


class Alerter:
    """Decides which anomalies alert (model thread) and runs the command for each (own thread)."""

    def __init__(self, cmd: str, marks: AlertMarks) -> None:
        self.cmd = cmd
        self.marks = marks
        self.since: float | None = None  # when watching began; nothing alerts before it is set
        self._log_start: dict[str, int | None] = {}  # per site: its latest line's time then
        self._queued: dict[str, float] = {}  # per site: the newest fired_at handed to the runner
        self._jobs: queue.SimpleQueue[tuple[str, AnomalyEvent] | None] = queue.SimpleQueue()
        self._runner: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error = ""
        self._failures = 0
        self._runs = 0
        self._waiting = 0  # alerts queued and not run yet
        self._last_ok: float | None = None  # when the latest run that succeeded ended, if it
        # was the latest run (a failure said for good had read as paging still broken)
        self._stopped = False
        self._off = ""
        self._floor = -math.inf  # nothing fired before this alerts (set when alerts resume)

    def begin(self, since: float, log_times: dict[str, int] | None = None) -> None:
        """Watching starts now (clock `since`): anomalies that fired before it are history,
        but for the hour that ended in the SETTLE_S before it: its last lines may still come
        (nginx's flush=5m), and an anomaly they make is news. A trial's app, started a
        minute after an hour whose 600 late lines came 43 s later, showed the anomaly
        "(active)" and never ran --alert-cmd."""
        from trafficwatch.engine.site_forecasts import SETTLE_S

        self.since = since - SETTLE_S
        self._log_start = dict(log_times or {})  # per site: its latest line's time then
        self._put(self.marks.take_pending())  # what the last run left queued: it alerts
        # now, history though it is (a stop while an alert command ran lost the alerts queued
        # behind it: three surges, no page, an alerts trial)

    def _put(self, jobs: list[tuple[str, AnomalyEvent]]) -> None:
        if jobs:
            try:
                self.marks.hold(jobs)
            except OSError as exc:
                log.warning("alerts queued not kept: %s", exc)
        for site, ev in jobs:
            self._queued[site] = max(ev.fired_at, self._queued.get(site, -math.inf))
            with self._lock:
                self._waiting += 1
            self._jobs.put((site, ev))
        if jobs and (self._runner is None or not self._runner.is_alive()):
            self._runner = threading.Thread(target=self._run, name="trafficwatch-alerts",
                                            daemon=True)
            self._runner.start()

    def check(self, site: str, events: Iterable[AnomalyEvent],
              latest: int | None = None, behind: bool = False) -> list[AnomalyEvent]:
        """Queue an alert for each anomaly of `site` not alerted yet; returns those queued.
        `latest`: the time of the site's latest line now (its log's own clock); `behind`: a
        line of it read since the start was dated well before the start (its log is behind
        the clock)."""
        if self.since is None or self._stopped:
            return []
        saved = self.marks.get(site)
        start = self._log_start.setdefault(site, latest) if latest is not None else None
        since = self.since  # history: what fired before watching began, by the clock; for a
        # log behind the clock (batch-shipped, a server's clock behind), lines read since
        # then dated before it, by the log's own: what fired after its latest line then. Its
        # anomalies on screen, fired while it was watched, had never run --alert-cmd (an SSH
        # trial); once so, for good (a review: caught up past the start, its anomalies in
        # between were history again). Not a site's first lines read after the start: what it
        # held then is its history.
        if behind and start is not None and start < self.since:
            since = min(since, float(start))
        # releases before 2026-12-03 alerted on the sum of all sites, marked "": what fired up
        # to their last alert is history here too (after an upgrade, the hour paged for the
        # sum was paged again for its site: an upgrade trial)
        legacy = self.marks.legacy if site != LEGACY_MARK else None
        floor = max(saved if saved is not None else since, self._queued.get(site, -math.inf),
                    self._floor, legacy if legacy is not None else -math.inf)
        events = sorted(events, key=lambda e: e.start)
        chains = {d: list(run) for d, run in self.marks.chains.get(site, {}).items()}
        for e in events:  # a run that paged (or ran on from one), or came back, has ended
            for key in (str(e.direction), f"r{e.direction}"):
                run = chains.get(key)
                if run is not None and run[0] == e.start and run[1] != e.end:
                    run[1] = e.end
        for d, run in list(chains.items()):  # ended before any run here began: done with
            if run[1] is not None and all(e.start > run[1] + FLAP_S for e in events):
                del chains[d]
        new, passed = [], None
        for e in sorted(events, key=lambda e: e.fired_at):
            if e.fired_at <= floor or e.clipped:
                continue
            run = chains.get(str(e.direction))
            back = chains.get(f"r{e.direction}")
            again = run is not None and run[1] is not None and 0 <= e.start - run[1] <= FLAP_S
            if (back is not None and back[0] == e.start or is_return(e, events)) and \
                    near_edge(e):  # traffic back: judged again as it goes on (an outage
                # after a 6-hour surge, its first hour part down, was decided a return for
                # good and never paged: a security review); known as one once its run
                # the other way has left the day judged
                chains[f"r{e.direction}"] = [e.start, e.end]
                continue
            if again:  # decided now, for good
                chains[str(e.direction)] = [e.start, e.end]
                passed = e.fired_at
            elif significant(e):
                chains[str(e.direction)] = [e.start, e.end]
                new.append(e)
            else:  # a run too small to page yet: judged again as it grows
                continue
            floor = e.fired_at
        if chains != self.marks.chains.get(site, {}):
            self.marks.set_chains(site, chains)
        if passed is not None:
            self._queued[site] = max(passed, self._queued.get(site, -math.inf))
            try:  # never judged again, after a restart either (what is queued stays pending)
                self.marks.advance(site, passed)
            except OSError as exc:
                log.warning("alert marks not saved: %s", exc)
        self._put([(site, ev) for ev in new])
        return new

    def off(self, why: str) -> None:
        """Alert nothing from now on, and say why on screen (another trafficwatch alerts)."""
        self._stopped = True
        self._jobs.put(None)
        with self._lock:
            self._off = why

    def resume(self, since: float) -> None:
        """Alert again, from clock `since` (what fired before it is history): the other
        trafficwatch that alerted for this state file has ended, and this one took it over."""
        with self._lock:
            if not self._off:
                return
            self._off = ""
        self._stopped = False
        self._jobs = queue.SimpleQueue()  # (the runner ended on the None that off() put)
        self.begin(since)
        # what the other alerted while this one was off is in the marks file, and what fired
        # before now is history whatever the marks say: a site's mark from this one's start
        # had the other's alerts of the hours since run again (a review)
        self.marks.reload()
        self._floor = self.since

    def stop(self) -> None:
        """Let the runner finish the alert it is running and end (queued ones alert next start:
        their marks are saved only as each runs)."""
        self._stopped = True
        with contextlib.suppress(queue.Empty):  # (kept in the marks' pending as queued)
            while True:
                self._jobs.get_nowait()
        self._jobs.put(None)

    @property
    def notice(self) -> str:
        """One line for the screen: the marks file's trouble, or the latest failing alert."""
        with self._lock:
            if self._off:
                return f"--alert-cmd: {self._off}"
            waiting = f"; {self._waiting} waiting" if self._waiting > 0 else ""
            if self._error and self._last_ok is not None:
                ok = time.strftime("%H:%M", time.localtime(self._last_ok))
                return (f"--alert-cmd: the last alert ran fine ({ok}); before it: "
                        f"{self._error} ({self._failures} of {self._runs} failed{waiting})")
            if self._error:
                return (f"--alert-cmd: {self._error} ({self._failures} of {self._runs} failed"
                        f"{waiting})")
        return self.marks.notice

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None and not self._stopped:
            with self._lock:
                self._waiting -= 1
            try:
                if self._alert(*job):
                    with self._lock:
                        self._last_ok = time.time()
            except Exception as exc:  # noqa: BLE001 (said on screen; the next alerts still run)
                # an error the runner did not expect ended its thread, and every site's alert
                # after it waited for ever, unsaid (a trial under libfaketime: time.sleep in
                # Popen.wait raised EINVAL; only the first site of six was ever alerted)
                site = safe_name(job[0] or "all")
                self._failed(f"the alert command for {site} failed: {safe_text(exc)}")

    def _alert(self, site: str, ev: AnomalyEvent) -> bool:
        """Run the command for one anomaly: the mark saved first, the command waited for (its
        whole group killed past RUN_LIMIT_S, or when waiting for it fails: never left a zombie).
        Whether it ran and succeeded."""
        who = safe_name(site or "all")
        try:
            self.marks.advance(site, ev.fired_at, ev)  # saved before it runs: never twice
        except OSError as exc:
            self._failed(f"cannot save alert marks ({exc.strerror}); alerts may repeat "
                         "after a restart", counted=False)
        with self._lock:
            self._runs += 1
        with tempfile.TemporaryFile(prefix="trafficwatch-alert-") as err:
            try:
                proc = run_alert(self.cmd, site or "all", ev, stderr=err)
            except (OSError, ValueError) as exc:
                self._failed(f"cannot start the alert command for {who}: {safe_text(exc)}")
                return False
            try:
                code = proc.wait(RUN_LIMIT_S)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                said = last_said(err)
                self._failed(f"the alert command for {who} ran over {RUN_LIMIT_S:g} s and was "
                             f"killed{f': {said}' if said else ''}")
                return False
            except BaseException:
                self._kill(proc)
                raise
            if code:
                why = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
                said = last_said(err)
                self._failed(f"the alert command for {who} failed ({why}"
                             f"{f': {said}' if said else ''})")
                return False
        return True

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # ended meanwhile
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(proc.pid, 0)  # reaped here: Popen.wait is what failed

    def _failed(self, message: str, counted: bool = True) -> None:
        with self._lock:
            if message != self._error:
                log.warning("%s", message)
            self._error = message
            self._failures += counted
            self._last_ok = None
