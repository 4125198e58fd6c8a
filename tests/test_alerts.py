"""--alert-cmd: once per anomaly that fires while watching, across restarts; ISO times; a failing
or crashing alert never stops the forecasts and is shown once."""
from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trafficwatch.counting.ingest import IngestReport
from trafficwatch.engine import engine as engine_mod
from trafficwatch.engine.alerts import Alerter, AlertMarks, marks_path
from trafficwatch.engine.anomalies import AnomalyEvent
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.sink import Sink
from trafficwatch.engine.site_forecasts import SETTLE_S
from trafficwatch.logs.records import Records

H = 3600
T0 = int(pd.Timestamp("2026-01-05", tz="UTC").timestamp())
OLD_SPIKE = T0 + (7 * 24 + 3) * H  # in the history the engine starts with
SPIKE = T0 + (10 * 24 + 12) * H  # completes while the engine is watching
START = SPIKE - 2 * H
LINE = 'echo "$TRAFFICWATCH_SITE|$TRAFFICWATCH_START|$TRAFFICWATCH_HOUR|$TRAFFICWATCH_DIRECTION"'


def records(ts: np.ndarray, seed: int = 0) -> Records:
    rng = np.random.default_rng(seed)
    n = len(ts)
    return Records(ts=ts.astype(np.int64), utc_offset=np.zeros(n, np.int32),
                   status=np.full(n, 200, np.int16), size=np.zeros(n, np.int64),
                   is_static=np.zeros(n, bool), is_bot=np.zeros(n, bool),
                   client=rng.integers(0, 500, n).astype(np.uint64),
                   visitor=rng.integers(0, 500, n).astype(np.uint64) << np.uint64(8),
                   vhost=np.full(n, -1, np.int32))


def traffic(days: int = 12, spikes: bool = True, scale: int = 1) -> np.ndarray:
    """The same daily cycle every day (no noise: no anomaly but the spikes), and 5,000 extra
    requests in the two spike hours."""
    hours = np.arange(days * 24)
    per_hour = scale * np.round(50 + 40 * np.sin(2 * np.pi * (hours % 24 - 6) / 24)).astype(int)
    ts = [T0 + h * H + np.arange(n) * (H // n) for h, n in zip(hours, per_hour)]
    ts += [spike + np.arange(5000) % H for spike in (OLD_SPIKE, SPIKE) if spikes]
    return np.sort(np.concatenate(ts))


class SteppedFeed:
    """Releases the requests before `target`, then moves its clock there (log time, as replay
    does); the test moves `target`."""

    def __init__(self, sink: Sink, site: str, clock: int, quiet: str | None = None,
                 held_by: int | None = None, lag: int = 0) -> None:
        self.sink, self.clock, self.target = sink, clock, clock
        self.state_held_by = held_by  # as LiveFeed: the pid saving its state file, if another
        self.report = IngestReport()
        self.tail = ()
        self.ts = {site: traffic()}  # the site with the spikes; `quiet`: one without, and busy
        if quiet is not None:  # enough (up to 1,800 an hour) that a few minutes matter
            self.ts[quiet] = traffic(spikes=False, scale=20)
        self.lag = dict.fromkeys(self.ts, lag)  # seconds a site's lines come after their time
        self.released = dict.fromkeys(self.ts, 0)
        self.step(0)

    def step(self, dt: float) -> None:
        """Every site's requests before `target`, then the clock, in one hold of the lock: a
        clock moved past an hour before the quiet site's requests of it were in made that
        hour an outage there (a 'below' alert, one run in a few under load)."""
        target = self.target
        with self.sink.lock:
            added = False
            for site, ts in self.ts.items():
                hi = int(np.searchsorted(ts, target - self.lag[site], side="left"))
                if hi > self.released[site]:
                    self.sink.series.add(site, records(ts[self.released[site]:hi]))
                    self.released[site] = hi
                    added = True
            if added:
                self.clock = target
        if added:
            self.sink.on_change()


class Run:
    """One engine process: started at `clock` with the stepped feed; frames kept."""

    def __init__(self, monkeypatch, tmp_path: Path, cmd: str, site: str = "shop",
                 clock: int = START, quiet: str | None = None, shown: str | None = None,
                 held_by: int | None = None, lag: int = 0) -> None:
        monkeypatch.setattr(engine_mod, "open_source", lambda sink, cfg, progress: SteppedFeed(
            sink, site, clock, quiet, held_by, lag))
        monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, "no model"))
        self.frames: list = []
        self.new_frame = threading.Condition()

        def on_snapshot(s) -> None:
            with self.new_frame:
                self.frames.append(s)
                self.new_frame.notify_all()

        self.engine = Engine(EngineConfig(paths=["x"], replay=True, fine_tune=False, tick_s=0.01,
                                          alert_cmd=cmd, site=shown or site,
                                          state_path=str(tmp_path / "state.json")), on_snapshot)
        self.engine.start()
        self.first = self.forecast_after(clock - 3 * H)

    def forecast_after(self, hour: int, timeout: float = 20.0):
        """The first frame whose forecast starts after `hour` (predicted with it complete)."""
        end = time.monotonic() + timeout
        with self.new_frame:
            while time.monotonic() < end:
                for s in self.frames:
                    if s.forecast is not None and s.forecast.hours[0] > hour:
                        return s
                self.new_frame.wait(0.2)
        raise AssertionError(f"no forecast after {hour} within {timeout} s")

    def advance(self, clock: int):
        self.engine.source.target = clock
        return self.forecast_after(clock // H * H - H)

    def stop(self) -> None:
        self.engine.stop()


def alert_lines(out: Path, want: int = 0, timeout: float = 10.0) -> list[str]:
    """The alert lines written so far, waiting up to `timeout` for `want` of them
    (and a moment more for any that should not come)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lines = out.read_text().splitlines() if out.exists() else []
        if len(lines) >= want:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    return out.read_text().splitlines() if out.exists() else []


def iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def test_history_never_alerts_a_new_anomaly_alerts_once_with_iso_times(monkeypatch, tmp_path):
    out = tmp_path / "alerts.txt"
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}")
    try:
        assert any(a.start == OLD_SPIKE for a in run.first.anomalies)  # history holds an anomaly
        assert alert_lines(out) == []  # ... that is not alerted
        run.advance(SPIKE + H + 1)  # the spike hour completes while watching
        assert alert_lines(out, 1) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
        run.advance(SPIKE + 2 * H + 1)  # predicted again: the same anomaly is not alerted again
        assert alert_lines(out) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
    finally:
        run.stop()


def test_an_hour_made_anomalous_by_late_lines_just_after_the_start_alerts(monkeypatch, tmp_path):
    """Started a minute after the spike's hour ended, before its lines came (nginx's
    flush=5m): the hour was no anomaly then, and became one when they came. It is news, not
    history: a trial's app showed it "(active)" and never ran --alert-cmd."""
    out = tmp_path / "alerts.txt"
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}", clock=SPIKE + H + 60, lag=H + 120)
    try:
        # (the screen shows the hour as a drop meanwhile; alerts wait for it to settle)
        assert alert_lines(out) == []  # the old spike is history, the hour not settled
        run.engine.source.lag["shop"] = 0  # the late lines come
        run.advance(SPIKE + H + SETTLE_S + 1)
        assert alert_lines(out, 1) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
    finally:
        run.stop()


@pytest.mark.parametrize("view", ["blog", "blog visitors", "all 4xx"])
def test_every_sites_anomaly_alerts_whichever_view_is_on_screen(monkeypatch, tmp_path, view):
    # the screen shows the quiet site (or all sites with a filter that hides the spike): the
    # spike on the other site still alerts, once, under its own name
    from trafficwatch.filters import ViewFilter

    out = tmp_path / "alerts.txt"
    shown, *how = view.split()
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}", quiet="blog",
              shown="" if shown == "all" else shown)
    try:
        if how == ["visitors"]:
            run.engine.set_metric("visitors")
        elif how == ["4xx"]:
            run.engine.set_filter(ViewFilter(status_classes=frozenset({4})))
        run.advance(SPIKE + H + 1)
        assert alert_lines(out, 1) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
        run.advance(SPIKE + 3 * H + 1)
        assert alert_lines(out) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
    finally:
        run.stop()


def test_lines_that_come_late_are_no_drop_and_a_real_drop_alerts_once_settled(monkeypatch,
                                                                             tmp_path):
    # nginx with `buffer=32k flush=5m`: an hour's last minutes are written after it ends
    out = tmp_path / "alerts.txt"
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}", quiet="blog")
    feed = run.engine.source
    try:
        feed.lag["blog"] = SETTLE_S - 60
        run.advance(SPIKE + H + 1)  # blog's 12:00 is 4 minutes short here (read as 1,680 of 1,800)
        assert alert_lines(out, 1) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
        feed.lag["blog"] = 0
        run.advance(SPIKE + H + SETTLE_S + 1)  # they came: blog's hour was whole after all
        assert alert_lines(out) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
        # blog stops (its server is down): the hour with no line alerts once it has settled
        ts = feed.ts["blog"]
        feed.ts["blog"] = ts[ts < SPIKE + H]
        run.advance(SPIKE + 2 * H + 1)
        assert alert_lines(out) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
        run.advance(SPIKE + 2 * H + SETTLE_S + 1)
        assert alert_lines(out, 2)[1:] == [f"blog|{iso(SPIKE + H)}|{iso(SPIKE + H)}|below"]
    finally:
        run.stop()


def test_a_site_whose_log_ended_a_day_ago_is_not_forecast_from_zeros(monkeypatch, tmp_path):
    # a replay of real_logs: one site's log ended, the others went on, and a week later it
    # alerted a drop to 0 for an hour no log covered
    out = tmp_path / "alerts.txt"
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}", quiet="blog")
    feed = run.engine.source
    try:
        ts = feed.ts["blog"]
        feed.ts["blog"] = ts[ts < SPIKE]  # blog's last line: in the hour before the spike
        feed.ts["shop"] = np.concatenate([feed.ts["shop"], traffic(14)[traffic(14) >= T0 + 12 * 86400]])
        run.advance(T0 + 13 * 86400 + 1)  # a day and a half later, shop still logging
        end = time.monotonic() + 10
        while time.monotonic() < end:  # until blog is forecast again after the advance
            with run.engine.lock:
                blog = run.engine.site_forecasts.get("blog")
            if blog is not None and blog.hour >= SPIKE:
                break
            time.sleep(0.05)
        assert blog.hour == SPIKE  # after its last line, not the replay's clock
        assert blog.anomaly == 0
    finally:
        run.stop()


def test_an_anomaly_alerts_once_across_restarts(monkeypatch, tmp_path):
    out = tmp_path / "alerts.txt"
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}")
    try:
        run.advance(SPIKE + H + 1)
        assert len(alert_lines(out, 1)) == 1
    finally:
        run.stop()
    # restarted from the same state, and reading the same hours again: nothing new to alert
    again = Run(monkeypatch, tmp_path, f"{LINE} >> {out}")
    try:
        frame = again.advance(SPIKE + 2 * H + 1)
        assert any(a.start == SPIKE for a in frame.anomalies)
        assert alert_lines(out) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
    finally:
        again.stop()


def test_a_second_trafficwatch_on_the_same_state_leaves_the_alerts_to_the_first(monkeypatch,
                                                                              tmp_path):
    # a trial: two sessions on one server with the same logs and state each ran --alert-cmd for
    # every anomaly (two pages per spike) and wrote the marks over each other's
    out = tmp_path / "alerts.txt"
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}", held_by=4242)
    try:
        frame = run.advance(SPIKE + H + 1)
        assert any(a.start == SPIKE for a in frame.anomalies)  # seen, and shown
        assert alert_lines(out) == []
        assert not marks_path(tmp_path / "state.json").exists()
        notices = " ".join(run.advance(SPIKE + 2 * H + 1).ingest.notices)
        assert "--alert-cmd: not run here: another trafficwatch (pid 4242) saves this state " \
            "file, and alerts are left to it (--state PATH gives this one its own" in notices
        run.engine.source.state_held_by = None  # that one ended: this one took the state over
        frame = run.advance(SPIKE + 3 * H + 1)
        assert "not run here" not in " ".join(frame.ingest.notices)
        assert alert_lines(out) == []  # what fired before it is history, not alerted late
    finally:
        run.stop()


def test_a_site_with_a_nul_alerts_sanitised_and_forecasts_go_on(monkeypatch, tmp_path):
    out = tmp_path / "alerts.txt"
    run = Run(monkeypatch, tmp_path, f"{LINE} >> {out}", site="ev\x00il.example")
    try:
        run.advance(SPIKE + H + 1)
        assert alert_lines(out, 1) == [f"ev\\x00il.example|{iso(SPIKE)}|{iso(SPIKE)}|above"]
        later = run.advance(SPIKE + 3 * H + 1)  # the model thread is still forecasting
        assert later.forecast.hours[0] == SPIKE + 3 * H
    finally:
        run.stop()


@pytest.mark.parametrize("cmd,why", [
    ("exit 3", "exit status 3)"), ("kill -9 $$", "killed by signal 9)"),
    # what it said last on stderr, the reason a user needs (it went nowhere), made safe to show
    ("echo starting >&2; printf 'notify-send: cannot open \\033]0;x\\007display\\n\\n' >&2; exit 1",
     "exit status 1: notify-send: cannot open \\x1b]0;x\\x07display)")])
def test_a_failing_alert_command_is_one_notice_and_forecasts_go_on(monkeypatch, tmp_path, cmd, why):
    run = Run(monkeypatch, tmp_path, cmd)
    try:
        run.advance(SPIKE + H + 1)
        end = time.monotonic() + 10
        while time.monotonic() < end and not run.engine.snapshot().ingest.notices:
            time.sleep(0.05)
        frame = run.advance(SPIKE + 2 * H + 1)
        notices = [n for n in frame.ingest.notices if "alert" in n]
        assert len(notices) == 1 and why in notices[0] and "shop" in notices[0]
    finally:
        run.stop()


def event(fired: int, direction: int = 1) -> AnomalyEvent:
    return AnomalyEvent(start=fired, end=None, peak_hour=fired,
                        actual=500.0 if direction > 0 else 0.0, low=10.0, high=20.0,
                        direction=direction, fired=fired)


def wait_for(out: Path, n: int) -> list[str]:
    end = time.monotonic() + 10
    while time.monotonic() < end and len(out.read_text().splitlines() if out.exists() else []) < n:
        time.sleep(0.05)
    return out.read_text().splitlines() if out.exists() else []


def test_the_mark_is_saved_before_the_command_and_a_missed_anomaly_alerts_after_a_restart(tmp_path):
    out, path = tmp_path / "alerts.txt", marks_path(tmp_path / "state.json")
    first = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    first.begin(START)
    assert first.check("shop", [event(OLD_SPIKE), event(SPIKE)]) == [event(SPIKE)]
    assert wait_for(out, 1) == [f"shop|{iso(SPIKE)}|{iso(SPIKE)}|above"]
    first.stop()
    # stopped for a day; an anomaly fired meanwhile (after the mark): it alerts once, at start
    missed = event(SPIKE + 5 * H, -1)
    second = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    second.begin(SPIKE + 24 * H)
    assert second.check("shop", [event(OLD_SPIKE), event(SPIKE), missed]) == [missed]
    assert second.check("shop", [event(SPIKE), missed]) == []
    assert wait_for(out, 2)[1] == f"shop|{iso(missed.start)}|{iso(missed.start)}|below"
    # a site never alerted before: only what fires after this start, or in the SETTLE_S
    # before it (the hour that had just ended: its late lines may still come)
    assert second.check("blog", [event(SPIKE + 22 * H)]) == []
    assert second.check("blog", [event(SPIKE + 23 * H)]) == [event(SPIKE + 23 * H)]
    second.stop()


def test_a_log_behind_the_clock_alerts_what_fires_while_it_is_watched(tmp_path):
    # an SSH trial: a log whose lines are dated two days behind the clock (batch-shipped, a
    # clock behind): the anomalies its new lines made were on screen and never ran
    # --alert-cmd, every one older than the start by the clock. By its own clock they fired
    # after its latest line at the start: news. What it held then is history still.
    out = tmp_path / "alerts.txt"
    alerter = Alerter(f"{LINE} >> {out}", AlertMarks(marks_path(tmp_path / "state.json")))
    behind = 2 * 24 * H
    last = SPIKE - 2 * H - behind  # its latest line at the start, two days back
    alerter.begin(SPIKE, {"shop": last, "blog": SPIKE - 30})
    old, new = event(last - 3 * H), event(last + H)
    assert alerter.check("shop", [old, new], latest=last) == []  # nothing read since
    assert alerter.check("shop", [old, new], latest=last + 2 * H, behind=True) == [new]
    assert wait_for(out, 1) == [f"shop|{iso(new.start)}|{iso(new.start)}|above"]
    # a log on time: by the clock, as before
    assert alerter.check("blog", [event(SPIKE - 5 * H)], latest=SPIKE + 60) == []
    # a site first judged after the start: what it held then is its history
    assert alerter.check("api", [event(last - H)], latest=last, behind=True) == []
    assert alerter.check("api", [event(last - H), event(last + H)], latest=last + 3 * H,
                         behind=True) == [event(last + H)]
    # caught up past the start in one read (a review): what fired after its latest line
    # then is news still
    alerter.begin(SPIKE, {"web": last})
    assert alerter.check("web", [event(last + 2 * H)], latest=SPIKE + 60, behind=True) == \
        [event(last + 2 * H)]
    alerter.stop()


def test_an_hour_an_earlier_release_paged_for_all_sites_is_not_paged_again_for_its_site(
        tmp_path):
    # an upgrade trial: releases before 2026-12-03 alerted on the sum of all sites, marked "";
    # restarted on the new one just after the hour, it paged the same hour again for its site
    out, path = tmp_path / "alerts.txt", marks_path(tmp_path / "state.json")
    path.write_text(json.dumps({"version": 1, "marks": {"": event(SPIKE).fired_at}}))
    alerter = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    alerter.begin(event(SPIKE).fired_at + 120)  # (within SETTLE_S of the hour that fired)
    assert alerter.check("shop", [event(SPIKE)]) == []
    assert alerter.check("shop", [event(SPIKE), event(SPIKE + H)]) == [event(SPIKE + H)]
    assert wait_for(out, 1) == [f"shop|{iso(SPIKE + H)}|{iso(SPIKE + H)}|above"]
    alerter.stop()


def test_a_mark_for_all_sites_set_ahead_silences_nothing_and_is_not_saved_back(tmp_path):
    # a security review: the earlier releases' "" mark is a floor for every site; set a day
    # ahead in the marks file, it would have held back every site's alerts
    out, path = tmp_path / "alerts.txt", marks_path(tmp_path / "state.json")
    now = time.time()
    path.write_text(json.dumps({"version": 1, "marks": {"": now + 23 * H}}))
    alerter = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    alerter.begin(now)
    soon = event(int(now) // H * H + H)  # fires at the end of the next hour
    assert alerter.check("shop", [soon]) == [soon]
    assert wait_for(out, 1)
    alerter.stop()
    assert "" not in json.loads(path.read_text())["marks"]


def test_alerts_resumed_after_a_takeover_neither_repeat_the_others_nor_undo_its_marks(tmp_path):
    # the other trafficwatch alerted while this one's were off: resumed (this one took the
    # state file over), its marks of its own start had those anomalies run again, and its
    # saves put the other's marks back (a review)
    out, path = tmp_path / "alerts.txt", marks_path(tmp_path / "state.json")
    this = Alerter(f"{LINE} >> {out}", AlertMarks(path))  # its marks read now: none
    this.begin(START)
    this.off("not run here: another trafficwatch saves this state file")
    other = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    other.begin(START)
    assert other.check("shop", [event(SPIKE)]) == [event(SPIKE)]
    assert other.check("blog", [event(SPIKE + H)]) == [event(SPIKE + H)]
    assert len(wait_for(out, 2)) == 2
    other.stop()
    this.resume(SPIKE + 5 * H)
    assert this.check("shop", [event(SPIKE), event(SPIKE + 2 * H)]) == []  # history now
    new = event(SPIKE + 6 * H)
    assert this.check("shop", [event(SPIKE), new]) == [new]
    assert len(wait_for(out, 3)) == 3
    this.stop()
    again = AlertMarks(path)  # the other's mark for blog kept beside this one's for shop
    # (each mark is when its anomaly fired: the end of its hour)
    assert again.get("blog") == SPIKE + 2 * H and again.get("shop") == SPIKE + 7 * H


@pytest.mark.parametrize("content", [b"\x00garbage", b'{"version": 1, "marks": [1]}', b"[]",
                                     b'{"version": 1, "marks": {"shop": 1e300}}'])
def test_a_bad_marks_file_never_crashes_and_never_silences_alerts(tmp_path, content):
    out, path = tmp_path / "alerts.txt", marks_path(tmp_path / "state.json")
    path.write_bytes(content)
    alerter = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    alerter.begin(START)
    assert alerter.check("shop", [event(SPIKE)]) == [event(SPIKE)]
    assert len(wait_for(out, 1)) == 1
    alerter.stop()


def test_a_hung_alert_command_is_killed_and_the_next_one_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("trafficwatch.engine.alerts.RUN_LIMIT_S", 0.5)
    out = tmp_path / "alerts.txt"
    cmd = f'[ "$TRAFFICWATCH_DIRECTION" = above ] && sleep 30; {LINE} >> {out}'
    alerter = Alerter(cmd, AlertMarks(None))
    alerter.begin(START)
    alerter.check("shop", [event(SPIKE), event(SPIKE + 3 * H, -1)])
    assert wait_for(out, 1) == [f"shop|{iso(SPIKE + 3 * H)}|{iso(SPIKE + 3 * H)}|below"]
    assert "ran over" in alerter.notice and "1 of 2 failed" in alerter.notice
    alerter.stop()


def stopped_while_a_runs(tmp_path) -> tuple[Alerter, Path, Path]:
    """An Alerter whose command for site a waits for a gate file, b and c queued behind it,
    stopped while a runs, then the gate opened and a's alert awaited: (it, the alerts' file,
    the marks' file)."""
    out, path = tmp_path / "alerts.txt", marks_path(tmp_path / "state.json")
    gate = tmp_path / "gate"
    first = Alerter(f'while [ ! -e {gate} ]; do sleep 0.02; done; {LINE} >> {out}',
                    AlertMarks(path))
    first.begin(START)
    for site in ("a", "b", "c"):
        first.check(site, [event(SPIKE)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and first.marks.get("a") is None:  # a is running
        time.sleep(0.02)
    first.stop()
    assert first.check("d", [event(SPIKE)]) == []
    gate.touch()
    assert alert_lines(out, 1) == [f"a|{iso(SPIKE)}|{iso(SPIKE)}|above"]
    return first, out, path


def test_stopping_ends_the_runner_after_its_current_alert_and_the_queued_ones_alert_next_start(
        tmp_path):
    # stop() said queued alerts would alert at the next start, but the runner went on through the
    # queue after the engine stopped (and an alert from a stopped test ran inside the next one)
    _, out, path = stopped_while_a_runs(tmp_path)
    second = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    second.begin(START + H)  # restarted at once: b and c fired after it began, a is marked
    for site in ("a", "b", "c"):
        second.check(site, [event(SPIKE)])
    assert [line.split("|")[0] for line in alert_lines(out, 3)] == ["a", "b", "c"]
    second.stop()


def test_alerts_queued_at_a_stop_alert_at_the_next_start_however_late(tmp_path):
    # an alerts trial: q while a slow alert command ran for one site, restarted 7 minutes
    # later: the surges of two other sites, queued behind it, were history by then, never paged
    _, out, path = stopped_while_a_runs(tmp_path)
    second = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    second.begin(START + 10 * H)  # long after: b and c fired before it began
    assert [line.split("|")[0] for line in alert_lines(out, 3)] == ["a", "b", "c"]
    second.stop()
    third = Alerter(f"{LINE} >> {out}", AlertMarks(path))
    third.begin(START + 11 * H)  # once only
    for site in ("a", "b", "c"):
        third.check(site, [event(SPIKE)])
    time.sleep(0.3)
    assert len(alert_lines(out, 3)) == 3
    third.stop()


def test_an_error_the_runner_did_not_expect_is_said_and_every_other_site_still_alerts(
        tmp_path, monkeypatch):
    # a trial under libfaketime: time.sleep inside Popen.wait raised EINVAL, the runner's thread
    # ended, its shell was left a zombie, and of six sites in anomaly only the first was ever
    # alerted, nothing said on screen
    import subprocess

    out = tmp_path / "alerts.txt"
    real_wait, calls = subprocess.Popen.wait, []

    def wait(self, timeout=None):
        if str(out) in str(self.args):  # this alerter's: another test's runner may still wait
            calls.append(self.pid)
            if len(calls) == 1:
                raise OSError(22, "Invalid argument")
        return real_wait(self, timeout)

    monkeypatch.setattr(subprocess.Popen, "wait", wait)
    alerter = Alerter(f"{LINE} >> {out}", AlertMarks(None))
    alerter.begin(START)
    for site in ("a", "b", "c"):
        alerter.check(site, [event(SPIKE)])
    end = time.monotonic() + 10  # c runs last (a's shell may have written before it died)
    while time.monotonic() < end and not (out.exists() and "c|" in out.read_text()):
        time.sleep(0.05)
    sites = [line.split("|")[0] for line in out.read_text().splitlines()]
    assert sites[-2:] == ["b", "c"], sites
    assert "the alert command for a failed: [Errno 22] Invalid argument" in alerter.notice
    first = calls[0]  # its shell reaped (not a zombie) and its group gone
    assert not Path(f"/proc/{first}").exists()
    alerter.stop()


@pytest.mark.parametrize("length", [3, 40])
def test_an_anomaly_judged_hour_after_hour_fires_once_at_its_own_start(length):
    """Each site's anomalies are judged on its last day: one that ran from that day's first hour
    had its start moved with the day, and --alert-cmd ran again every hour once an outage was a
    day old (32 h: 4 alerts), and for a 3-hour surge a day later (a trial). Its true start is
    found by judging further back; still running from beyond a week, it is marked clipped."""
    from trafficwatch.engine.site_forecasts import site_forecast

    hours = np.arange(21 * 24)
    v = np.round(150 + 100 * np.sin(2 * np.pi * (hours % 24 - 6) / 24))
    begin = 18 * 24 + 10  # a surge: ten times the usual
    v[begin:begin + length] *= 10
    idx = pd.date_range(pd.Timestamp(T0, unit="s", tz="UTC"), periods=len(v), freq="h")
    s = pd.Series(v, idx)
    fired = set()
    for end in range(begin + 1, min(begin + length + 30, len(v)) + 1):
        fc = site_forecast(s.iloc[:end], None, None)
        fired |= {e.fired_at for e in fc.events if e.direction > 0 and not e.clipped}
    assert fired == {T0 + (begin + 1) * H}
    marks = AlertMarks(None)
    alerter = Alerter("true", marks)
    alerter.begin(T0)
    late = AnomalyEvent(T0, None, T0, 1.0, 0.0, 0.5, 1, T0 + 5 * H, clipped=True)
    assert alerter.check("x", [late]) == []  # began before the day judged: alerted then


@pytest.mark.parametrize("case", ["young site", "gap at the day's start"])
def test_an_anomaly_of_a_young_site_or_across_a_gap_fires_once_at_its_first_hour_judged(case):
    """A review of the look back: a site's first anomaly, from the first hour it is judged, was
    taken for one begun earlier and never alerted; and an outage with a gap of 3 hours in it
    alerted again once the day judged began in the gap (its start moved past it)."""
    from trafficwatch.engine.site_forecasts import site_forecast

    days = 5 if case == "young site" else 21
    hours = np.arange(days * 24)
    v = np.round(150 + 100 * np.sin(2 * np.pi * (hours % 24 - 6) / 24))
    begin = 24 if case == "young site" else 18 * 24 + 10
    v[begin:begin + 10 if case == "young site" else begin + 40] = 0.0
    if case != "young site":
        v[begin + 20:begin + 23] = np.nan  # no log covers these hours
    idx = pd.date_range(pd.Timestamp(T0, unit="s", tz="UTC"), periods=len(v), freq="h")
    s = pd.Series(v, idx)
    fired = set()
    for end in range(begin + 1, len(v) + 1):
        fc = site_forecast(s.iloc[:end], None, None)
        if fc is not None:
            fired |= {e.fired_at for e in fc.events if e.direction < 0 and not e.clipped}
    assert fired == {T0 + (begin + 1) * H}  # alerted once, at its start


def test_a_site_flapping_at_the_band_s_edge_pages_once(tmp_path):
    """A trial: a steady site whose last day alternated 60 and 84 (band 43-79) paged every two
    hours, 12 times a day. A run that begins an hour after one of its direction ended is that
    one again for --alert-cmd (the screen lists each); one after two hours back inside alerts."""
    from dataclasses import replace

    alerter = Alerter("true", AlertMarks(None))
    alerter.begin(START)
    runs = [replace(event(SPIKE + 2 * k * H), end=SPIKE + (2 * k + 1) * H) for k in range(6)]
    assert alerter.check("shop", runs) == runs[:1]
    later = event(runs[-1].end + 2 * H)  # two hours back inside before it: news
    below = event(runs[-1].end + H, -1)  # a drop just after: another condition
    assert alerter.check("shop", [*runs, below, later]) == [below, later]
    alerter.stop()


def run(start: int, hours: int, actual: float, low: float, high: float, direction: int,
        ended: bool = True) -> AnomalyEvent:
    return AnomalyEvent(start=start, end=start + hours * H if ended else None, peak_hour=start,
                        actual=actual, low=low, high=high, direction=direction, fired=start,
                        last=start + (hours - 1) * H)


def test_an_outage_an_hour_after_a_blip_pages_at_its_start_and_once(tmp_path):
    # an alerts trial: 4 against 4.12-19.4 at 03:00, then no request from 05:00 to 10:59. The
    # outage was held back as that blip again, and paged a day later, once the blip left the
    # day judged; the only page near its start had said "4 vs 4.12"
    path = marks_path(tmp_path / "state.json")
    alerter = Alerter("true", AlertMarks(path))
    alerter.begin(START)
    blip = run(SPIKE, 1, 4.0, 4.12, 19.4, -1)
    assert alerter.check("shop", [blip]) == []  # a request past the edge: no page
    outage = run(SPIKE + 2 * H, 1, 0.0, 46.0, 95.0, -1, ended=False)
    assert alerter.check("shop", [blip, outage]) == [outage]  # at its first hour
    whole = replace(outage, end=outage.start + 6 * H, last=outage.start + 5 * H)
    assert alerter.check("shop", [blip, whole]) == []
    # a page, then a run an hour after it ended: that one again, for good (after a restart
    # too, and once the page left the day judged)
    again = run(whole.end + H, 1, 0.0, 46.0, 95.0, -1, ended=False)
    assert alerter.check("shop", [whole, again]) == []
    alerter.stop()
    later = Alerter("true", AlertMarks(path))
    later.begin(START)
    assert later.check("shop", [again]) == []
    assert later.check("shop", [replace(again, end=again.start + 3 * H)]) == []
    later.stop()


def test_a_single_hour_just_past_the_band_pages_only_once_it_lasts(tmp_path):
    # an alerts trial: 39 pages in 19.5 days of six healthy sites, most a single hour a
    # request or two past the 98 % band (8 vs 8.005-29.2; 145 vs 71.9-144.2)
    alerter = Alerter("true", AlertMarks(None))
    alerter.begin(START)
    low = run(SPIKE, 1, 8.0, 8.0051, 29.15, -1)
    high = run(SPIKE + 5 * H, 1, 145.0, 71.95, 144.225, 1)
    assert alerter.check("shop", [low, high]) == []
    longer = run(SPIKE + 9 * H, 2, 150.0, 71.95, 144.225, 1, ended=False)
    assert alerter.check("shop", [low, high, longer]) == [longer]  # its second hour
    far = run(SPIKE + 20 * H, 1, 300.0, 71.95, 144.225, 1)  # far past: at once
    assert alerter.check("shop", [far]) == [far]
    alerter.stop()


def test_traffic_coming_back_after_a_day_away_is_no_surge_but_a_flood_then_is():
    # an alerts trial: a day at half, then back: 94 against 22.5-82.6 (a forecast made while
    # it was away) paged "above", as a flood would
    alerter = Alerter("true", AlertMarks(None))
    alerter.begin(START)
    away = run(SPIKE - 20 * H, 30, 40.0, 60.0, 140.0, -1)
    back = run(away.end, 3, 94.0, 22.45, 82.56, 1, ended=False)
    assert alerter.check("shop", [away, back]) == []
    other = Alerter("true", AlertMarks(None))
    other.begin(START)
    flood = run(away.end, 2, 400.0, 22.45, 82.56, 1, ended=False)
    assert other.check("shop", [away, flood]) == [flood]
    short = run(SPIKE - 2 * H, 3, 20.0, 60.0, 140.0, -1)  # away 3 hours only: it pages
    assert other.check("blog", [short, replace(back, start=short.end, fired=short.end)]) \
        == [short, replace(back, start=short.end, fired=short.end)]
    alerter.stop()
    other.stop()


@contextlib.contextmanager
def gated(tmp_path) -> Iterator[tuple[Alerter, Path, Path]]:
    """An Alerter begun at START whose command waits for a gate file, then writes its line:
    (it, the alerts' file, the marks' file); the gate opened and it stopped on the way out,
    whatever happened (a failed test had left its command waiting for ever)."""
    out, path = tmp_path / "alerts.txt", marks_path(tmp_path / "state.json")
    gate = tmp_path / "gate"
    alerter = Alerter(f'while [ ! -e {gate} ]; do sleep 0.02; done; {LINE} >> {out}',
                      AlertMarks(path))
    alerter.begin(START)
    try:
        yield alerter, out, path
    finally:
        alerter.stop()
        gate.touch()


def test_alerts_queued_behind_a_running_command_survive_a_kill_9(tmp_path):
    # an alerts trial: kill -9 while one site's command slept, another site's alert queued
    # behind it: the restart never paged it (queued alerts were saved by a clean stop only)
    with gated(tmp_path) as (first, out, path):
        for site in ("a", "b"):
            first.check(site, [event(SPIKE)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and first.marks.get("a") is None:
            time.sleep(0.02)
        saved = json.loads(path.read_text())  # no stop(): the process is gone
        assert [p["site"] for p in saved["pending"]] == ["b"]
        second = Alerter(f"{LINE} >> {out}", AlertMarks(path))
        second.begin(START + 10 * H)
        assert [line.split("|")[0] for line in alert_lines(out, 1)] == ["b"]
        assert json.loads(path.read_text())["pending"] == []
        second.stop()


def test_a_failure_before_a_run_that_went_fine_is_said_as_before_it(tmp_path):
    # an alerts trial: one failing run, then three that paged: "failed (1 of 4 failed)" stayed
    flag = tmp_path / "flag"
    alerter = Alerter(f"test -e {flag} || {{ touch {flag}; echo first-fail >&2; exit 1; }}",
                      AlertMarks(None))
    alerter.begin(START)
    alerter.check("a", [event(SPIKE)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "failed" not in alerter.notice:
        time.sleep(0.02)
    assert alerter.notice.startswith("--alert-cmd: the alert command for a failed")
    alerter.check("b", [event(SPIKE)])
    while time.monotonic() < deadline and "ran fine" not in alerter.notice:
        time.sleep(0.02)
    assert "the last alert ran fine" in alerter.notice and "(1 of 2 failed)" in alerter.notice
    alerter.stop()


def test_an_alert_queued_before_a_run_decided_not_to_page_still_runs_after_a_kill_9(tmp_path):
    # the mark moves past a run decided not to page (that one again): an alert queued in the
    # same pass, fired before it, stays pending until its command starts
    with gated(tmp_path) as (first, out, path):
        paged = run(SPIKE, 2, 0.0, 40.0, 90.0, -1)
        assert first.check("a", [paged]) == [paged]  # runs, held at the gate
        surge = run(SPIKE + 3 * H, 1, 500.0, 40.0, 90.0, 1, ended=False)
        again = run(paged.end + H, 1, 0.0, 40.0, 90.0, -1, ended=False)  # after the surge
        again = replace(again, fired=again.start + H)
        assert first.check("a", [paged, surge, again]) == [surge]
        assert first.marks.get("a") == again.fired_at
        second = Alerter(f"{LINE} >> {out}", AlertMarks(path))  # no stop: killed
        second.begin(START + 10 * H)
        assert [line.split("|")[3] for line in alert_lines(out, 1)] == ["above"]
        second.stop()


def test_an_outage_right_after_a_long_surge_pages_once_it_is_more_than_the_return(tmp_path):
    # a security review: a 6-hour surge (a flood), then an outage whose first hour was only
    # part down: decided "traffic coming back" for good, never paged as it went to 0
    alerter = Alerter("true", AlertMarks(marks_path(tmp_path / "state.json")))
    alerter.begin(START)
    surge = run(SPIKE - 6 * H, 6, 200.0, 40.0, 100.0, 1)
    first = run(surge.end, 1, 30.0, 40.0, 100.0, -1, ended=False)
    assert alerter.check("shop", [surge, first]) == []  # 30 against 40: back, so far
    deeper = replace(first, actual=0.0, peak_hour=first.start + H, last=first.start + H)
    assert alerter.check("shop", [surge, deeper]) == [deeper]
    alerter.stop()


def test_traffic_back_is_not_paged_a_day_later_once_its_absence_left_the_day_judged(tmp_path):
    alerter = Alerter("true", AlertMarks(marks_path(tmp_path / "state.json")))
    alerter.begin(START)
    away = run(SPIKE - 30 * H, 30, 40.0, 60.0, 140.0, -1)
    back = run(away.end, 3, 94.0, 22.45, 82.56, 1, ended=False)
    assert alerter.check("shop", [away, back]) == []
    whole = replace(back, end=back.start + 13 * H, last=back.start + 12 * H)
    assert alerter.check("shop", [away, whole]) == []
    assert alerter.check("shop", [whole]) == []  # the day judged moved on: still a return
    alerter.stop()
    again = Alerter("true", AlertMarks(marks_path(tmp_path / "state.json")))
    again.begin(START)
    assert again.check("shop", [whole]) == []  # restarted too
    again.stop()


def test_a_marks_file_with_a_bad_pending_alert_starts_and_runs_the_good_one(tmp_path):
    # a review: a pending alert whose "fired" was null raised at every start
    path = marks_path(tmp_path / "state.json")
    good = {"site": "a", "start": SPIKE, "end": None, "peak_hour": SPIKE, "actual": 500.0,
            "low": 10.0, "high": 20.0, "direction": 1, "fired": SPIKE, "clipped": False}
    path.write_text(json.dumps({"version": 1, "marks": {}, "pending": [
        {**good, "fired": None}, {**good, "actual": "x"}, {**good, "start": 1e20}, good]}))
    marks = AlertMarks(path)
    assert [ev.fired for _, ev in marks.pending] == [SPIKE]


def test_the_notice_says_an_alert_waits_behind_a_failed_one(tmp_path):
    # an alerts recheck: one waiting behind a slow command was not said ("waiting" from 2 on)
    gate = tmp_path / "gate"
    cmd = (f'[ "$TRAFFICWATCH_SITE" = a ] && exit 1; '
           f'while [ ! -e {gate} ]; do sleep 0.02; done')
    alerter = Alerter(cmd, AlertMarks(None))
    alerter.begin(START)
    try:
        for site in ("a", "b", "c"):
            alerter.check(site, [event(SPIKE)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "1 waiting" not in alerter.notice:
            time.sleep(0.02)
        assert alerter.notice.endswith("(1 of 2 failed; 1 waiting)"), alerter.notice
    finally:
        gate.touch()
        alerter.stop()


def test_a_flood_right_after_an_outage_pages_once_past_a_return(tmp_path):
    # an alerts recheck: a Saturday's 6-hour outage, then three times the traffic for 2 hours:
    # 337 then 353 against 69-232, its first hour 1.45 times the edge (a return, so far), its
    # second 1.52: decided a return for good, never paged
    alerter = Alerter("true", AlertMarks(None))
    alerter.begin(START)
    down = run(SPIKE - 6 * H, 6, 0.0, 63.0, 230.0, -1)
    first = run(down.end, 1, 337.0, 69.0, 232.0, 1, ended=False)
    assert alerter.check("shop", [down, first]) == []
    second = replace(first, actual=353.0, peak_hour=first.start + H, last=first.start + H)
    assert alerter.check("shop", [down, second]) == [second]
    alerter.stop()


@pytest.mark.parametrize("text", ["{garbage", '{"version": -1}'])
def test_marks_that_cannot_be_read_say_what_from_now_on_leaves_out(tmp_path, text):
    # an SSH trial: "alerting anomalies from now on", then the alerts of the hour that had
    # ended a minute before the start (the late lines' grace) ran again
    path = tmp_path / "state.json.alerts"
    path.write_text(text)
    marks = AlertMarks(path)
    assert marks.marks == {} and "from now on" in marks.notice
    assert "the hour that ended in the 5 minutes before this start" in marks.notice
