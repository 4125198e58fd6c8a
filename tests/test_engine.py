"""The engine: feeds -> series -> prediction -> snapshots, driven without a UI or a model."""
from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pandas as pd
import pytest

from trafficwatch.counting.ingest import IngestReport
from trafficwatch.engine import engine as engine_mod
from trafficwatch.engine.engine import Engine, EngineConfig, open_source
from trafficwatch.engine.sink import Sink
from trafficwatch.engine.snapshot import READING
from trafficwatch.filters import ViewFilter
from trafficwatch.logs.records import Records

from .test_follow import wait_for

T0 = int(pd.Timestamp("2026-01-05", tz="UTC").timestamp())


def synthetic(days: int = 10, seed: int = 0) -> Records:
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    per_hour = rng.poisson(50 + 40 * np.sin(2 * np.pi * (hours % 24 - 6) / 24))
    return hourly_records(per_hour, T0, rng)


def hourly_records(per_hour: np.ndarray, start: int, rng: np.random.Generator) -> Records:
    """Requests at random seconds of consecutive hours from `start`, per_hour[i] in hour i: 90 %
    200, 8 % 404, 2 % 500; 30 % static, 10 % bots; 500 clients and visitors."""
    ts = np.concatenate([start + h * 3600 + np.sort(rng.integers(0, 3600, n))
                         for h, n in enumerate(per_hour)]).astype(np.int64)
    n = len(ts)
    return Records(ts=ts, utc_offset=np.zeros(n, np.int32),
                   status=rng.choice([200, 404, 500], n, p=[.9, .08, .02]).astype(np.int16),
                   size=np.zeros(n, np.int64), is_static=rng.random(n) < .3,
                   is_bot=rng.random(n) < .1, client=rng.integers(0, 500, n).astype(np.uint64),
                   visitor=rng.integers(0, 500, n).astype(np.uint64) << np.uint64(8),
                   vhost=np.full(n, -1, np.int32))


class FakeFeed:
    """A feed that puts ten days of requests into the series at once."""

    def __init__(self, sink: Sink) -> None:
        self.report = IngestReport()
        self.tail = ()
        self.clock = T0 + 10 * 24 * 3600
        with sink.lock:
            sink.series.add("site-a", synthetic())

    def step(self, dt: float) -> None:
        return None


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setattr(engine_mod, "open_source", lambda sink, cfg, progress: FakeFeed(sink))
    monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, "no model in tests"))
    got: list = []
    ready = threading.Event()

    def on_snapshot(s):
        got.append(s)
        if s.forecast is not None:
            ready.set()

    e = Engine(EngineConfig(paths=["x"], replay=True, fine_tune=False, tick_s=0.01), on_snapshot)
    e.start()
    assert ready.wait(10), "no snapshot with a forecast"
    yield e, got
    e.stop()


def test_snapshots_carry_series_and_seasonal_naive_forecast_until_a_model_loads(engine):
    e, got = engine
    snap = next(s for s in reversed(got) if s.forecast is not None)
    assert snap.sites == ("site-a",)
    assert snap.forecast.model_name == "seasonal naive"
    assert "no model in tests" in snap.status
    total = np.nansum(snap.series.counts)
    assert total == e.series.series(None, "hits").iloc[-len(snap.series.counts):].sum()
    # The clock's hour is in progress: it ends the series and is the first hour forecast.
    assert snap.series.partial_hour == snap.series.hours[-1]
    assert snap.forecast.hours[0] == snap.series.partial_hour


def test_the_blends_kept_for_views_and_sites_are_the_latest_few_thousand(engine):
    """A review: every filter typed and every site (a hosting provider's thousand) kept its
    blend (forecaster.HOLD) in the engine for good. The latest KEPT_MAX are kept; one used
    again is the latest again."""
    e, _ = engine
    with e.lock:
        for k in range(engine_mod.KEPT_MAX + 500):
            e._keep((f"site-{k}", "hits", None, 0), (0.5, "naive24"))
        e._keep(("site-600", "hits", None, 0), (0.3, "naive168"))  # used again
        e._keep(("site-new", "hits", None, 0), (1.0, None))
        kept = dict(e._kept)
    assert len(kept) == engine_mod.KEPT_MAX
    assert ("site-0", "hits", None, 0) not in kept and ("site-500", "hits", None, 0) not in kept
    assert ("site-501", "hits", None, 0) in kept  # (the oldest left)
    assert kept[("site-600", "hits", None, 0)] == (0.3, "naive168")
    assert kept[("site-new", "hits", None, 0)] == (1.0, None)


def test_metric_change_reaches_the_next_snapshot(engine):
    e, _ = engine
    e.set_metric("pages")
    snap = e.snapshot()
    assert snap.metric == "pages"
    expected = e.series.series("site-a", "pages", now=e.now()).to_numpy()[-len(snap.series.counts):]
    np.testing.assert_array_equal(snap.series.counts, expected)


def test_filter_narrows_the_series_and_is_described(engine):
    e, _ = engine
    e.set_site("site-a")
    e.set_filter(ViewFilter(status_classes=frozenset({5}), bots=False))
    snap = e.snapshot()
    assert snap.filter == "status 5xx; no bots"
    assert np.nansum(snap.series.counts) == e.series.series("site-a", bots=False,
                                                            status_classes={5}).sum()


def test_unknown_metric_is_refused(engine):
    e, _ = engine
    with pytest.raises(ValueError):
        e.set_metric("bytes")


def test_a_source_that_cannot_open_shows_its_error(monkeypatch):
    def boom(sink, cfg, progress):
        raise ValueError("no access log found in /nowhere: point trafficwatch at a log file")

    monkeypatch.setattr(engine_mod, "open_source", boom)
    got = []
    done = threading.Event()
    e = Engine(EngineConfig(paths=["/nowhere"], fine_tune=False, tick_s=0.01),
               lambda s: (got.append(s), done.set()))
    monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, ""))
    e.start()
    assert done.wait(5)
    e.stop()
    assert "no access log found" in got[0].status
    assert got[0].fatal == "no access log found in /nowhere: point trafficwatch at a log file"
    assert got[0].series is None


@pytest.fixture
def started(monkeypatch):
    """started(Feed): an engine over that fake feed, running, with no model (stopped after)."""
    engines: list[Engine] = []

    def start(feed, model=None) -> Engine:
        monkeypatch.setattr(engine_mod, "open_source", lambda sink, cfg, p: feed(sink))
        monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (model, ""))
        e = Engine(EngineConfig(paths=["x"], replay=True, fine_tune=False, tick_s=0.01),
                   lambda s: None)
        engines.append(e)
        e.start()
        return e

    yield start
    for e in engines:
        e.stop()


class FinishedReplay(FakeFeed):
    """A replay that has reached the logs' end (its clock on their last line)."""

    done = True

    def __init__(self, sink: Sink) -> None:
        super().__init__(sink)
        self.clock = int(sink.series.last_ts("site-a"))


def test_a_finished_replay_s_last_hour_is_where_the_logs_end_not_an_hour_in_progress(
        started):
    """Its count is all the logs hold: not "in progress" beside the forecast of a whole hour."""
    e = started(FinishedReplay)
    wait_for(lambda: e.latest is not None and e.latest.series is not None)
    snap = e.snapshot()
    last = int(e.series.last_ts("site-a"))
    assert snap.series.log_end == last
    assert snap.series.partial_hour == last // 3600 * 3600 == snap.series.hours[-1]
    assert snap.feed.startswith("replay finished at the logs' end")
    assert snap.stale  # "After the log's last hour", not "Next hour", as a log no longer written


def test_a_path_filter_narrows_replayed_and_live_logs_alike(tmp_path):
    """The count under a path regex equals the lines of the log whose path matches."""
    import re

    lines = [f'192.0.2.{i % 50} - - [20/Nov/2026:{10 + i // 40}:{i % 60:02d}:00 +0000] '
             f'"GET {p} HTTP/1.1" 200 5 "-" "ua"\n'
             for i, p in enumerate(["/api/items", "/", "/api/cart?x=1", "/blog/api/"] * 30)]
    (tmp_path / "access.log").write_text("".join(lines))
    want = sum(bool(re.search(r"^/api/", ln.split('"')[1].split()[1].split("?")[0]))
               for ln in lines)
    for replay in (True, False):
        e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False, replay=replay,
                                speed=1e9), lambda s: None)
        e.source = open_source(e.sink, e.cfg, e.reading_progress)
        try:
            if replay:
                e.source.step(1.0)  # releases everything
            e.set_filter(ViewFilter(path=r"^/api/"))
            assert np.nansum(e.view_series()) == want == 60
            assert e.snapshot().filter == "path ~ ^/api/"
            e.set_metric("visitors")  # not counted per path: the filter does not apply
            assert np.nansum(e.view_series()) == np.nansum(
                e.series.series(None, "visitors", now=e.series_now()))
            # and the view says so (a trial: 48 visitors of /cart beside 17 requests to it,
            # under a title that named the filter), while the top paths, which count requests,
            # are the filter's (/static/app.js was listed under "Top paths (filter)")
            snap = e.snapshot()
            assert snap.filter == "path ~ ^/api/ (not applied to visitors)"
            paths = {p for top in snap.tops for p, _ in top.paths} | {
                p for p, _ in snap.day.paths}
            assert paths == {"/api/items", "/api/cart"}, paths
        finally:
            if hasattr(e.source, "close"):
                e.source.close()


def test_the_first_read_of_big_logs_shows_its_progress():
    frames = []
    e = Engine(EngineConfig(paths=["x"], fine_tune=False), frames.append)
    e.reading_progress(150_000_000, 300_000_000)
    assert frames[-1].status == "reading logs… 50% of 0.30 GB"
    e.reading_progress(2_000_000, 8_000_000)
    assert frames[-1].status == "reading logs… 25% of 8 MB"
    # not "no new lines since" the history's last line while it is read (a busy server's
    # trial, 80 s of it as 420 lines a second came)
    assert frames[-1].feed == READING


def test_the_top_view_follows_lines_counted_after_the_last_frame(engine, monkeypatch):
    e, _ = engine
    before = sum(n for _, n in e.snapshot().day.classes)
    assert before == sum(n for _, n in e.snapshot().day.classes)  # nothing new: the same view
    # built again for new lines alone at most every TOPS_S: a busy server's was built at
    # every frame, half of what its frames cost (a trial)
    monkeypatch.setattr(engine_mod, "TOPS_S", 3600.0)
    late = hourly_records(np.array([37]), T0 + 10 * 24 * 3600 - 3600, np.random.default_rng(5))
    with e.sink.lock:
        e.sink.series.add("site-a", late)
    e.sink.on_change()
    assert sum(n for _, n in e.snapshot().day.classes) == before  # not yet
    monkeypatch.setattr(engine_mod, "TOPS_S", 0.0)
    monkeypatch.setattr(engine_mod, "TOPS_SHARE", 0.0)  # (not the cost's wait: a slow CI's)
    assert sum(n for _, n in e.snapshot().day.classes) == before + 37
    # nor more often than TOPS_SHARE times what it takes: a filter's clients over 300 busy
    # sites took 4 s, under the lock, every TOPS_S (a review)
    monkeypatch.setattr(engine_mod, "TOPS_SHARE", 1e12)  # (any build takes a microsecond)
    with e.sink.lock:
        e.sink.series.add("site-a", late)
    e.sink.on_change()
    assert sum(n for _, n in e.snapshot().day.classes) == before + 37  # not yet: too dear
    monkeypatch.setattr(engine_mod, "TOPS_SHARE", 0.0)
    assert sum(n for _, n in e.snapshot().day.classes) == before + 74


def test_the_model_line_says_why_the_site_is_not_fine_tuned(engine):
    """A site of ten days, or fine-tuning switched off, showed only "Model: lstm:default", with
    no word on fine-tuning, while other sites said theirs."""
    from dataclasses import replace

    from trafficwatch.model.forecaster import Forecaster

    e, _ = engine
    e.stop()
    e.forecaster = Forecaster.load()
    s = e.view_series(whole_hours=True)
    assert e.view_state(s).tuning_note == "not fine-tuned: switched off (--no-fine-tune)"
    e.cfg = replace(e.cfg, fine_tune=True)
    assert e.view_state(s).tuning_note == (
        "not fine-tuned yet: that needs 14 days of counts, this view has 10 days")
    e.series.add("site-a", hourly_records(np.full(24 * 5, 30), T0 - 5 * 86400,
                                          np.random.default_rng(1)))  # 5 days before: 15
    s = e.view_series(whole_hours=True)
    assert e.view_state(s).tuning_note == "fine-tuning on this site: waiting to start"
    e.tuning_note["site-a"] = "default kept: fine-tuned MASE 0.81 vs default 0.80"
    e.set_site("site-a")
    assert e.view_state(e.view_series()).tuning_note.startswith("default kept")
    # on another view, the note's MASE is the hits' one; that the fine-tuned model forecasts
    # every view is said only where it was kept (it read so beside "default kept", a trial)
    e.set_metric("pages")
    e._predict_once()
    assert e.snapshot().forecast.model_detail == (
        "default kept: fine-tuned MASE 0.81 vs default 0.80 (on its hits, unfiltered)")
    e.tuning_note["site-a"] = "kept: tuned 2026-12-04 15:24 on cpu, MASE 0.78 vs default 0.80"
    assert e.snapshot().forecast.model_detail.endswith(
        "(on its hits, unfiltered: the model fine-tuned on them forecasts every view)")


def test_a_view_just_chosen_says_its_forecast_is_coming_not_that_there_is_none(started):
    """Between choosing a site or filter and its forecast, the frame has none: it said
    "seasonal naive in use" and "No anomaly" for seconds in a fast replay (ops trial)."""
    e = started(FakeFeed)
    wait_for(lambda: e.snapshot().forecast is not None)
    assert e.snapshot().status != "forecasting this view…"
    with e.lock:  # the model's thread cannot store the new view's forecast meanwhile
        e.set_filter(ViewFilter(bots=False))
        snap = e.snapshot()
    assert snap.forecast is None and snap.status == "forecasting this view…"
    wait_for(lambda: e.snapshot().forecast is not None)
    assert e.snapshot().status != "forecasting this view…"


def test_a_filter_range_without_the_logs_says_no_forecast_will_come(started):
    # a trial: From 2020-01-01 To 2020-01-02 on logs of 2026 read "forecasting this view…"
    # for minutes, for ever
    e = started(FakeFeed)
    wait_for(lambda: e.snapshot().forecast is not None)
    e.set_filter(ViewFilter(start=pd.Timestamp("2020-01-01", tz="UTC"),
                            end=pd.Timestamp("2020-01-02", tz="UTC")))
    time.sleep(0.5)  # the model's thread has had its turn: it forecasts nothing for no hour
    snap = e.snapshot()
    assert snap.forecast is None
    assert snap.status == "nothing to forecast: no hour of the logs in this view", snap.status


def test_a_date_range_narrows_the_chart_not_the_history_the_forecast_reads(started):
    """A trial's From two days back left the forecast those two days: "Next hour 16:00: 423
    (80% band 246-682)" where the whole logs gave 70 (57-85), MASE 9.06, nothing said; and a
    To in the past was forecast as "Next hour 00:00" of a day whose counts were in the logs."""
    from trafficwatch.model.forecaster import Forecaster

    e = started(FakeFeed, Forecaster.load())
    wait_for(lambda: e.snapshot().forecast is not None
             and e.snapshot().forecast.model_name != "seasonal naive")
    whole = e.snapshot().forecast
    start = pd.Timestamp(T0 + 8 * 86400, unit="s", tz="UTC")
    e.set_filter(ViewFilter(start=start))
    wait_for(lambda: e.snapshot().forecast is not None)
    snap = e.snapshot()
    assert snap.series.hours[0] == start.timestamp()  # the chart from the range's start
    np.testing.assert_allclose(snap.forecast.p50, whole.p50)  # the forecast from all of it
    np.testing.assert_allclose(snap.forecast.p90, whole.p90)
    assert all(a.end is None or a.end > start.timestamp() for a in snap.anomalies)
    assert not snap.range_end
    end = pd.Timestamp(T0 + 7 * 86400 + 5 * 3600, unit="s", tz="UTC")
    e.set_filter(ViewFilter(start=start - pd.Timedelta(days=3), end=end))
    wait_for(lambda: e.snapshot().forecast is not None)
    snap = e.snapshot()
    assert snap.series.hours[-1] == end.timestamp()
    assert snap.range_end and snap.forecast.hours[0] == end.timestamp() + 3600


def small_forecaster():
    import torch

    from trafficwatch.model.config import LSTMConfig
    from trafficwatch.model.forecaster import Forecaster
    from trafficwatch.model.lstm import QuantileLSTM

    torch.manual_seed(0)
    return Forecaster(QuantileLSTM(LSTMConfig(window=72, horizon=48, hidden=8)))


class NewSite(FakeFeed):
    """site-a's ten days, and site-b, new, with a few requests in the hour in progress."""

    def __init__(self, sink: Sink) -> None:
        super().__init__(sink)
        self.clock += 1800
        rng = np.random.default_rng(1)
        with sink.lock:
            sink.series.add("site-b", hourly_records(np.array([5]), self.clock - 1800, rng))


@pytest.mark.parametrize("model", [False, True])
def test_a_new_site_with_only_its_hour_in_progress_says_why_no_forecast_comes(started, model):
    # a trial: a new site's file of 20 lines, chosen in the picker, read "forecasting this
    # view…" in the status line and the Gates pane for minutes, while the Now pane said no
    # forecast until an hour is complete. With no model, the reason stuck in the status line
    # after a site with hours was chosen again
    e = started(NewSite, small_forecaster() if model else None)
    wait_for(lambda: e.snapshot().forecast is not None)
    e.set_site("site-b")
    time.sleep(0.5)  # the model's thread has had its turn
    snap = e.snapshot()
    assert snap.forecast is None
    assert snap.status == "no complete hour with data yet: nothing to forecast from"
    e.set_site("site-a")
    wait_for(lambda: e.snapshot().forecast is not None)
    assert "nothing to forecast" not in e.snapshot().status


def test_a_filter_that_ends_in_the_past_has_no_hour_in_progress(engine):
    """Its last hour is a whole one and the forecast begins after it: the view took the logs'
    hour in progress (days later) as its own, drew no actual for its last hour and called the
    24th forecast hour "Next hour" (a new user's trial)."""
    e, _ = engine
    end = pd.Timestamp(T0 + 5 * 24 * 3600 + 22 * 3600, unit="s", tz="UTC")
    e.set_filter(ViewFilter(end=end))
    wait_for(lambda: e.snapshot().forecast is not None)
    snap = e.snapshot()
    assert snap.series.hours[-1] == end.timestamp()
    assert snap.series.partial_hour is None and snap.series.log_end is None
    assert snap.forecast.hours[0] == end.timestamp() + 3600


def test_a_stop_during_the_first_read_still_closes_the_source(monkeypatch):
    # stop() waited 1 s for the first read and closed the source only if it was open by then: a
    # longer read (weeks of logs) left its follower running and what it had counted unsaved
    opened, closed = threading.Event(), []

    class SlowFeed(FakeFeed):
        def close(self) -> None:
            closed.append(threading.current_thread().name)

    def slow(sink, cfg, progress):
        opened.wait(10)  # the first read goes on after stop() gave up waiting for it
        return SlowFeed(sink)

    monkeypatch.setattr(engine_mod, "open_source", slow)
    monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, ""))
    e = Engine(EngineConfig(paths=["x"], fine_tune=False, tick_s=0.01), lambda s: None)
    e.start()
    e.stop(timeout=0.1)
    assert closed == []  # not open yet: nothing to close
    opened.set()
    assert e.join(10)
    assert closed == ["trafficwatch-data"]  # once, by the data thread, when its read was over
    e.stop()
    assert len(closed) == 1


def test_an_idle_view_is_not_forecast_again_and_new_lines_are(tmp_path, monkeypatch):
    """With 300 sites the app kept a core busy on an idle screen: the view was forecast again
    every 5 s though no line had come (a scale trial). It is forecast again for new lines."""
    import time

    from trafficwatch.engine import engine as engine_mod

    monkeypatch.setattr(engine_mod, "MODEL_WAIT_S", 0.05)
    now = time.time()
    line = '192.0.2.{i} - - [{t}] "GET / HTTP/1.1" 200 5 "-" "ua"\n'
    stamp = lambda ts: time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
    log = tmp_path / "access.log"
    log.write_text("".join(line.format(i=i % 50, t=stamp(now - 3 * 86400 + 600 * i))
                           for i in range(3 * 144)))
    e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False, tick_s=0.02), lambda s: None)
    calls = []
    real = e._predict_once
    monkeypatch.setattr(e, "_predict_once", lambda: (calls.append(time.monotonic()), real()))
    e.start()
    try:
        deadline = time.monotonic() + 30
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        settled = len(calls)
        time.sleep(0.6)  # a dozen of the model's looks, no line
        assert len(calls) == settled, (settled, len(calls))
        with log.open("a") as f:
            f.write(line.format(i=7, t=stamp(time.time())))
        deadline = time.monotonic() + 10
        while len(calls) == settled and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(calls) > settled  # the new line is forecast from
    finally:
        e.stop()


def test_frames_for_new_lines_are_paced_by_what_a_frame_costs_a_view_change_is_not(monkeypatch):
    # a busy server's lines had 4 frames a second built and drawn (74 % of a core, a trial):
    # frames that lines alone call for come no faster than a share of a core allows, and a
    # site chosen is drawn at once all the same
    from trafficwatch.engine.engine import FRAME_SHARE, LINES_FRAME_S, frame_interval

    assert frame_interval(0.25, 0.01) == 0.25  # a cheap frame: at the tick
    assert frame_interval(0.25, 0.2) == pytest.approx(0.2 / FRAME_SHARE)
    assert frame_interval(0.25, 60.0) == LINES_FRAME_S  # never less than one now and then

    class Busy(FakeFeed):  # new lines at every step
        def __init__(self, sink):
            super().__init__(sink)
            self.sink, self.rng = sink, np.random.default_rng(1)

        def step(self, dt):
            with self.sink.lock:
                self.sink.series.add("site-b", hourly_records(np.array([3]), T0, self.rng))
            self.sink.on_change()

    monkeypatch.setattr(engine_mod, "open_source", lambda sink, cfg, progress: Busy(sink))
    monkeypatch.setattr("trafficwatch.engine.tuning.load_default",
                        lambda cfg: (None, "no model in tests"))
    times: list[tuple[float, str]] = []
    e = Engine(EngineConfig(paths=["x"], fine_tune=False, tick_s=0.01),
               lambda s: times.append((time.monotonic(), s.site)))
    e.start()
    try:
        wait_for(lambda: len(times) >= 3)
        for _ in range(8):  # the UI says each frame costs it 0.5 s (smoothed: a frame
            e.frame_drawn(0.5)  # every LINES_FRAME_S)
        time.sleep(0.1)
        n = len(times)
        wait_for(lambda: len(times) > n, 2 * LINES_FRAME_S)  # a frame just drawn
        n = len(times)
        time.sleep(1.0)
        assert len(times) - n <= 1, len(times) - n  # at the tick (0.01 s): ~100
        t = time.monotonic()
        e.set_site("site-a")
        wait_for(lambda: any(s == "site-a" for _, s in times))
        assert next(w for w, s in times if s == "site-a") - t < 0.5  # not a second later
    finally:
        e.stop()
    # a replay (the demo, a look back) moves at the tick as it always did: at 2 s a frame
    # its hours jumped half an hour of log time at a time (a review)
    times.clear()
    r = Engine(EngineConfig(paths=["x"], replay=True, fine_tune=False, tick_s=0.01),
               lambda s: times.append((time.monotonic(), s.site)))
    r.start()
    try:
        wait_for(lambda: len(times) >= 3)
        for _ in range(8):
            r.frame_drawn(0.5)
        n = len(times)
        time.sleep(1.0)
        assert len(times) - n >= 10, len(times) - n
    finally:
        r.stop()


class AgedPaths(FakeFeed):
    """Forty days of requests to /cart, their per-path counts aged as at a save (PATH_DAYS)."""

    def __init__(self, sink: Sink) -> None:
        self.report = IngestReport()
        self.tail = ()
        rng = np.random.default_rng(4)
        rec = hourly_records(np.full(40 * 24, 20), T0, rng)
        with sink.lock:
            sink.series.add("site-a", dataclasses.replace(
                rec, path=np.full(len(rec), "/cart", object)))
            sink.series.age()
        self.clock = int(sink.series.last_ts("site-a"))


def test_a_path_filters_range_before_its_counts_kept_says_so_not_that_no_log_covers_it(
        started):
    from trafficwatch.counting.series import PATH_DAYS

    e = started(AgedPaths)
    # (30 s: the model's thread on a CI runner's three workers on two cores once took over 10)
    wait_for(lambda: e.snapshot().forecast is not None, 30.0)
    e.set_filter(ViewFilter(path="^/cart", start=pd.Timestamp(T0 + 86400, unit="s", tz="UTC"),
                            end=pd.Timestamp(T0 + 3 * 86400, unit="s", tz="UTC")))
    want = f"nothing to forecast: the path filter's counts are kept for the last {PATH_DAYS} days"
    wait_for(lambda: e.snapshot().status == want, 30.0)  # the model's thread has had its turn
    assert e.snapshot().forecast is None
    e.set_filter(ViewFilter(start=pd.Timestamp(T0 + 86400, unit="s", tz="UTC"),
                            end=pd.Timestamp(T0 + 3 * 86400, unit="s", tz="UTC")))
    wait_for(lambda: e.snapshot().forecast is not None, 30.0)  # no path filter: whole counts


def test_while_the_first_read_goes_on_the_hours_not_read_yet_are_not_zeros_up_to_now():
    """A busy server's trial: the chart drew the hours after what the first read had reached as
    a flat 0 up to the clock (an outage), and the stats pane "Lines read 0 · counted 0"."""
    e = Engine(EngineConfig(paths=["x"], fine_tune=False), lambda s: None)
    now = time.time()
    e.series.add("site-a", hourly_records(np.full(48, 20), int(now) // 3600 * 3600 - 72 * 3600,
                                          np.random.default_rng(2)))  # read so far: 2 of 3 days
    s = e.view_series()
    assert len(s) == 48 and s.notna().all()  # up to its last line, not 24 zeros to the clock


def test_the_stats_pane_says_reading_while_the_first_read_goes_on_and_not_after_it_failed(
        monkeypatch):
    seen = []

    def reading(sink, cfg, progress):
        seen.append(e.snapshot().ingest.reading)  # while the read goes on
        if len(seen) == 1:
            raise ValueError("nothing to read: x: no such file")
        return FakeFeed(sink)

    monkeypatch.setattr(engine_mod, "open_source", reading)
    monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, ""))
    e = Engine(EngineConfig(paths=["x"], fine_tune=False, tick_s=0.01), lambda s: None)
    e.start()
    try:
        wait_for(lambda: e.snapshot().fatal)
        assert seen == [True] and not e.snapshot().ingest.reading  # failed: not "going on"
    finally:
        e.stop()


def test_a_site_chosen_while_a_frame_is_built_never_mixes_two_views(engine, monkeypatch):
    """A trial at 450 sites: a site chosen while the sites' summed frame was built (1-2 s)
    showed its name over the sites' data for 0.5 s. The frame is one view, whichever."""
    e, _ = engine
    with e.lock:
        e.series.add("site-b", synthetic(seed=1).slice(0, 500))
    real = Engine.view_series
    chooser: list[threading.Thread] = []

    def slow(self, *args, **kw):
        if not chooser:  # a choice made while this frame's series is being read
            chooser.append(threading.Thread(target=self.set_site, args=("site-b",)))
            chooser[0].start()
            time.sleep(0.3)
        return real(self, *args, **kw)

    monkeypatch.setattr(Engine, "view_series", slow)
    e.set_site("")
    chooser.clear()
    snap = e.snapshot()
    chooser[0].join(5)
    want = e.series.series(snap.site or None, "hits", now=e.now())
    assert np.nansum(snap.series.counts) == np.nansum(want.iloc[-len(snap.series.counts):])
    assert e.snapshot().site == "site-b"
