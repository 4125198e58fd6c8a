"""The one-way data flow behind the app: logs -> series -> forecaster -> Snapshot (no Textual)."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pandas as pd

from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.counting.series import (
    METRICS,
    PATH_DAYS,
    PATHS_SINCE,
    HourlySeries,
    ahead_note,
    ended_sites_note,
    young_sites_note,
)
from trafficwatch.engine import tuning
from trafficwatch.engine.alerts import Alerter, AlertMarks, marks_path
from trafficwatch.engine.anomalies import ANOMALY_BAND
from trafficwatch.engine.live import LiveFeed
from trafficwatch.engine.predict import Prediction, predict
from trafficwatch.engine.prometheus import PrometheusFeed
from trafficwatch.engine.replay import ReplayFeed
from trafficwatch.engine.sink import Sink, SourceConfig
from trafficwatch.engine.site_forecasts import SiteForecast, forecast_due, settled_hour
from trafficwatch.engine.snapshot import READING, IngestView, Snapshot
from trafficwatch.engine.tail import TailFilter, narrows_lines
from trafficwatch.engine.tuning import TuneResult
from trafficwatch.engine.views import ViewState, build_snapshot, hour_tops, ingest_view
from trafficwatch.files import sweep_orphans
from trafficwatch.filters import ViewFilter
from trafficwatch.fleet.prometheus import PromConfig
from trafficwatch.hours import DAY, HOUR, epoch
from trafficwatch.safe import safe_name

log = logging.getLogger(__name__)


REFRESH_S = 5.0  # a frame at least this often, for what the clock alone changes
KEPT_MAX = 4096  # blends remembered (views and sites, Engine._keep): the latest kept, as a
# hosting provider's 1,000 sites and the filters typed on them come and go
MODEL_WAIT_S = 5.0  # the model looks at most this often for new lines to forecast again from
FRAME_SHARE = 0.2  # frames that new lines alone call for take at most this share of a core
LINES_FRAME_S = 2.0  # ... though a frame comes at least this often while lines come
TOPS_S = 5.0  # the top view is built again for new lines alone at most this often, and
TOPS_SHARE = 10  # at most every this many times what it took to build


def frame_interval(tick_s: float, cost_s: float) -> float:
    """Seconds from one frame to the next that new lines alone call for, when building one
    and drawing it costs `cost_s` of CPU: at most FRAME_SHARE of a core, no more often than
    `tick_s` and at least every LINES_FRAME_S. A busy server's 420 lines a second had 4 frames
    a second built and drawn, 0.2 s each: the app took 74 % of a core to show what one frame a
    second shows (a trial). A change of the view (a site, metric or filter chosen, a forecast
    made) is drawn at the next tick all the same."""
    return min(max(tick_s, cost_s / FRAME_SHARE), max(tick_s, LINES_FRAME_S))


@dataclass
class EngineConfig:
    """How the engine reads, models and alerts (from the command line)."""

    paths: list[str]
    ingest: IngestOptions = field(default_factory=IngestOptions)
    replay: bool = False
    speed: float = 3600.0
    poll: bool = False
    state_path: str | None = None  # live following: counts and offsets kept across restarts
    model_path: str | None = None
    device: str = "auto"
    band: float = 0.8
    anomaly_band: float = ANOMALY_BAND  # anomalies (and --alert-cmd) judge this wider band
    horizon: int = 24
    alert_cmd: str | None = None
    metric: str = "hits"
    site: str | None = None
    filter: ViewFilter = field(default_factory=ViewFilter)
    fine_tune: bool = True
    tick_s: float = 0.25
    tz: dt.tzinfo | None = None  # times shown in this zone (None: the log's own offset)
    prometheus: PromConfig | None = None  # the fleet's series instead of logs (--prometheus)

    def source_config(self) -> SourceConfig:
        """What the sources need of it."""
        return SourceConfig(paths=self.paths, ingest=self.ingest, poll=self.poll, speed=self.speed)


def open_source(sink: Sink, cfg: EngineConfig, on_progress: Callable[[int, int], None]):
    """The source the configuration asks for: a replay of the logs, the fleet's series from
    Prometheus, or the live logs."""
    if cfg.replay:
        return ReplayFeed(sink)
    if cfg.prometheus is not None:
        return PrometheusFeed(sink, cfg.prometheus)
    return LiveFeed(sink, cfg.state_path, on_progress=on_progress)


class Engine:
    """Owns the series and the model; calls `on_snapshot` from its threads with fresh frames."""

    def __init__(self, cfg: EngineConfig, on_snapshot: Callable[[Snapshot], None]) -> None:
        # The path filter needs each request's path: parsed, and counted per path; the top view
        # the client addresses of recent hours.
        self.cfg = cfg = replace(cfg, ingest=replace(
            cfg.ingest, parse=replace(cfg.ingest.parse, keep_paths=True, keep_clients=True)))
        self.on_snapshot = on_snapshot
        fleet = cfg.prometheus is not None  # the fleet's series: requests only (no visitors, paths)
        self.series = HourlySeries(track_visitors=not fleet, track_paths=not fleet)
        self.lock = threading.RLock()
        self._tops_cache: tuple | None = None  # (view, generation, when, hour_tops(), its cost)
        self._tail_filter = TailFilter(cfg.ingest)  # the log tail as the view's filter keeps it
        self._tail_lock = threading.Lock()
        self._generation = 0  # counts _changed() calls: what the caches above compare
        self.metric = cfg.metric
        self.site = ""  # --site's once the logs are read (_resolve_site); "" = all sites
        self._given_site = cfg.site or None  # --site, as the user gave it: resolved once
        self.wanted_site = ""  # --site not among the sites read (yet): all are shown until it is
        self.filter = cfg.filter
        self.status = "reading logs…"
        self.fatal = ""  # why no source could be opened: nothing could be read
        self.crashed = ""  # the traceback that ended the data or model thread (_guarded)
        self.model_status = "loading model…"
        self.forecaster = None  # the default model once loaded
        self.tuned: dict[str, object] = {}  # site -> fine-tuned Forecaster that backtests better
        self.tuning_note: dict[str, str] = {}
        self.prediction: tuple[tuple, Prediction] | None = None
        # the blend each view's forecast showed (Prediction.kept), by view and model: kept by
        # the next forecast of the view while it errs within forecaster.HOLD of the best
        self._kept: dict[tuple, tuple[float, str | None]] = {}
        # why the model's thread made no forecast for a view (its key's first three): said in
        # the status line instead of "forecasting this view…", which no forecast would end
        self.no_forecast: tuple[tuple, str] | None = None
        # every site's forecast for /metrics, whatever is on screen; key: (hour, model) it is for
        self.site_forecasts: dict[str, SiteForecast] = {}
        self._site_keys: dict[str, tuple] = {}
        self.site_forecast_s: list[float] = []  # seconds each site took in the latest step
        self.source = None  # ReplayFeed, LiveFeed or PrometheusFeed: they write through the sink
        self._data_generation = 0  # new lines counted: the model forecasts again for them
        self.sink = Sink(cfg.source_config(), self.series, self.lock, self._data_changed)
        self._stop = threading.Event()
        self._stop_lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._source_closed = False
        self._model_wake = threading.Event()
        self._dirty = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tuner: threading.Thread | None = None
        self._recalled: set[str] = set()  # sites whose kept fine-tune decision was looked for
        self._source_tried = threading.Event()  # the logs were read (or failed): load the model
        self.alerts: Alerter | None = None  # with --alert-cmd
        if cfg.alert_cmd:
            path = marks_path(cfg.state_path) if cfg.state_path else None
            self.alerts = Alerter(cfg.alert_cmd, AlertMarks(path))
        self._started_at = time.time()
        self.latest: Snapshot | None = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start the data and model threads; returns at once."""
        self._started_at = time.time()
        for name, target in (("data", self._data_loop), ("model", self._model_loop)):
            t = threading.Thread(target=self._guarded, args=(name, target),
                                 name=f"trafficwatch-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def _guarded(self, name: str, target: Callable[[], None]) -> None:
        """Run a thread's loop; an exception that ends it reaches the app as the last frame
        with `crashed`, its traceback (the app ends on it): a data thread that died left the
        screen frozen on its last frame, saying nothing (a security trial)."""
        try:
            target()
        except Exception:  # noqa: BLE001 (any bug: said, not a frozen screen)
            self.crashed = f"the {name} thread stopped:\n{traceback.format_exc()}"
            log.error("%s", self.crashed)
            last = self.latest
            if last is None:
                try:
                    last = self.snapshot()
                except Exception:  # noqa: BLE001 (what it is built from broke: a bare frame)
                    last = Snapshot(sites=(), site="", metric=self.metric, series=None,
                                    forecast=None, gates=None, anomalies=(),
                                    ingest=IngestView(), status=self.status)
            self.on_snapshot(replace(last, crashed=self.crashed))

    def join(self, timeout: float = 10.0) -> bool:
        """After stop(): wait up to `timeout` s for the data, model and fine-tuning threads to
        end (stop() waits for the reader alone); True when they all have. A test that stops an
        engine joins it, so that its model thread does not run on into the next test."""
        end = time.monotonic() + timeout
        threads = [*self._threads, *([self._tuner] if self._tuner is not None else [])]
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def stop(self, timeout: float = 1.0) -> None:
        """Stop following and save state (q, a signal); waits `timeout` s at most for the reader.

        The model and fine-tuning threads are not waited for: they own nothing to save and see
        the stop at their next step (a torch import or a training child can take seconds).
        Safe to call twice and from two threads at once (q while a signal's shutdown runs).
        """
        with self._stop_lock:
            if self._stop.is_set():
                return
            self._stop.set()
            self._model_wake.set()
            if self.alerts is not None:
                self.alerts.stop()  # non-blocking: the runner ends after its current alert
            for t in self._threads[:1]:  # the data thread: the state is saved once it is out
                t.join(timeout=timeout)
            self._close_source()  # else the data thread does, once its first read is over

    def _close_source(self) -> None:
        """Close the source once: from stop(), or from the data thread when stop() came during
        the first read (a stop that waited 1 s for it left the follower running and the counts
        read unsaved). The second caller waits for the first's close: stop() returns with the
        state saved, whichever thread saved it."""
        with self._close_lock:
            if self._source_closed or self.source is None or not hasattr(self.source, "close"):
                return
            self._source_closed = True
            self.source.close()

    # -- commands from the UI ----------------------------------------------------
    def set_site(self, site: str) -> None:
        with self.lock:
            self.site, self.wanted_site, self._given_site = site, "", None
        self._changed(model=True)

    def _resolve_site(self) -> None:
        """--site's site, once it is among those read: until then (a typo, a vhost not logged
        yet, a fleet whose agents have sent no whole hour) every site is shown, and said. The
        view asked the series for a site it did not hold, the engine's threads died, and the
        app sat on "starting…" for 40 minutes (a trial)."""
        with self.lock:
            if self._given_site is not None:  # as trafficwatch writes it, or as it is
                given, self._given_site = self._given_site, None
                name = self.series.resolve(given)
                self.site, self.wanted_site = (name, "") if name else ("", given)
            elif self.wanted_site and self.series.resolve(self.wanted_site) is not None:
                self.site, self.wanted_site = self.series.resolve(self.wanted_site), ""
            elif self.site and self.site not in self.series.sites():  # a virtual host's slot
                # given to a new one (series._free_slot): every site, said, until it is back
                self.site, self.wanted_site = "", self.site
            else:
                return
        self._changed(model=True)

    def set_metric(self, metric: str) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        with self.lock:
            self.metric = metric
        self._changed(model=True)

    def cycle_metric(self) -> str:
        if self.cfg.prometheus is not None:
            return "hits (the fleet's agents export requests only)"
        nxt = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.set_metric(nxt)
        return nxt

    def set_filter(self, flt: ViewFilter) -> None:
        if self.cfg.prometheus is not None:  # the fleet's counters: by status class only
            flt = replace(flt, path=None, bots=True)
        with self.lock:
            self.filter = flt
        self._changed(model=True)

    # -- internals ---------------------------------------------------------------
    def _data_changed(self) -> None:
        """New lines were counted (the source's thread)."""
        self._data_generation += 1
        self._changed(lines=True)

    def _changed(self, model: bool = False, lines: bool = False) -> None:
        self._generation += 1  # every change of the data or the view comes through here
        if not lines:  # drawn at the next tick, not paced as lines are (frame_interval)
            self._view_changed = True
        self._dirty.set()
        if model:
            self._model_wake.set()

    _reading = False  # the first read of the logs is under way (open_source)
    _view_changed = False  # a change since the last frame that is not new lines alone
    _alerts_held = False  # alerts off: another trafficwatch saves the state file (and alerts)
    _build_s = 0.0  # CPU seconds the latest frames took to build (smoothed)
    _draw_s = 0.0  # ... and to draw, as the UI says (frame_drawn)

    def frame_drawn(self, cpu_s: float) -> None:
        """The UI's CPU seconds since the frame before: what drawing a frame costs it (its
        thread's own clock), for frame_interval."""
        self._draw_s = 0.7 * self._draw_s + 0.3 * max(cpu_s, 0.0)

    def reading_progress(self, done: int, total: int) -> None:
        """The first read of big logs takes a while: say how far it got (data thread)."""
        self._reading = True
        share = f"{done / total:.0%} of " if total else ""
        self.status = f"reading logs… {share}{total / 1e9:.2f} GB" if total >= 1e8 else \
            f"reading logs… {share}{total / 1e6:.0f} MB"
        self._publish()

    def now(self) -> float:
        src = self.source
        return float(src.clock) if self.cfg.replay and src is not None else time.time()

    def save_failed(self) -> str:
        """Why the last save of the state failed, "" when it worked (or none is kept)."""
        return getattr(self.source, "save_failed", "") or ""

    def files_lost(self) -> list[str]:
        """Why each file skipped or not wholly read was (the exit status's 1), one line each
        (names sanitised); empty when none was."""
        report = getattr(self.source, "report", None)
        if report is None:
            return []
        return [f.error for f in report.failed] + [f"{name}: skipped: {why}"
                                                   for name, why in report.skipped]

    def in_progress(self, site: str | None, clock: float | None) -> pd.Timestamp | None:
        """The hour being counted (forecast first, not judged yet): a followed log's at `clock`
        (series.partial_hour); on a fleet, whose quiet hours are gaps (no clock), the hour of
        now when Prometheus's last bucket is it. The fleet's was read as a whole hour: its
        gauges and the Now pane forecast the hour after it (yhat of 05:00 at 04:44, "the
        current hour" said the HELP; a trial). Under the lock."""
        partial = self.series.partial_hour(site, now=clock)
        last = self.series.last_ts(site)
        if partial is None and isinstance(self.source, PrometheusFeed) and last is not None \
                and int(last) // HOUR == int(time.time()) // HOUR:
            partial = pd.Timestamp(int(last) // HOUR * HOUR, unit="s", tz="UTC")
        return partial

    def series_now(self) -> float | None:
        """The clock up to which quiet hours count as zeros: None for logs no longer written."""
        return self._clock_for(self.site or None)

    def _clock_for(self, site: str | None) -> float | None:
        """series_now for `site` (all sites when None)."""
        src = self.source
        if src is None:  # the first read, still going: what it has read so far ends at its
            return None  # last line, not at the clock (the hours after it, not read yet, were
            # drawn as zeros up to now: an outage on a busy server's screen, a trial)
        last = self.series.last_ts(site)
        recent = last is not None and self.now() - last < DAY  # a copied archive is not live
        if self.cfg.replay:  # a site whose log ended a day before the replay's clock (others
            # go on) is a log no longer written, as live: its hours after it are not zeros (a
            # replay of real_logs alerted a 'drop' to 0 a week after one site's log ended)
            if getattr(src, "done", False):  # the replay reached the logs' end: they end
                return None  # there, their last hour is where they stop, not in progress
            return self.now() if recent or last is None else None
        return self.now() if recent and getattr(src, "fresh", True) else None

    def view_series(self, whole_hours: bool = False, history: bool = False) -> pd.Series:
        """The selected site/metric/filter as an hourly series (NaN = gap); `whole_hours`: as
        the model reads it (a log's first hour is a gap when the log began inside it);
        `history`: from the logs' first hour, whatever the filter's start (what the forecast
        reads: a range from 2 days ago had left it 2 days, MASE 9 and a band of 246-682 about
        a site doing 70 an hour, nothing said)."""
        f = self.filter
        with self.lock:
            if not self.series.sites():
                return pd.Series(dtype=float)
            if self.site and self.site not in self.series.sites():
                self._resolve_site()  # its slot given to a new virtual host since the last step
            # visitors are not counted per path: that metric ignores the path filter
            path = f.path if self.metric != "visitors" else None
            s = self.series.series(self.site or None, self.metric, bots=f.bots,
                                   status_classes=f.status_classes, now=self.series_now(),
                                   path=path, whole_hours=whole_hours)
        if f.start is not None and not history:
            s = s[s.index >= f.start]
        if f.end is not None:
            s = s[s.index <= f.end]
        return s

    def _data_loop(self) -> None:
        try:
            self._reading = True
            try:
                self.source = open_source(self.sink, self.cfg, self.reading_progress)
            finally:
                self._reading = False
            if self.alerts is not None:  # what the logs held when watching began is history
                with self.sink.lock:  # (each site's latest line: its log's clock then)
                    series = self.sink.series
                    log_times = {} if self.cfg.replay else {
                        x: t for x in series.sites() if (t := series.last_ts(x)) is not None}
                self.alerts.begin(self.now() if self.cfg.replay else self._started_at,
                                  log_times)
                held = getattr(self.source, "state_held_by", None)
                if held is not None:  # its alerts and their marks are that one's: run here
                    # too, every anomaly was alerted twice and the marks written by both
                    pid = f" (pid {held})" if held else ""
                    # (not "that one runs it": it may have no --alert-cmd, a trial found)
                    self.alerts.off(f"not run here: another trafficwatch{pid} saves this state "
                                    "file, and alerts are left to it (--state PATH gives this "
                                    "one its own, to alert from here)")
                    self._alerts_held = True
        except (OSError, ValueError) as exc:
            self.status = self.fatal = str(exc)
            self._publish()
            return
        finally:
            self._resolve_site()  # before the model thread reads a view of it
            self._source_tried.set()
        self.status = ""
        self._changed(model=True)
        last_hour = None
        last_pub = 0.0
        last_step = time.monotonic()
        while not self._stop.is_set():
            # The time that really passed since the last step, so a replay runs at its speed
            # however long publishing took (at most a second's worth: a suspended laptop does
            # not jump the replay ahead)
            now_m = time.monotonic()
            self.source.step(min(now_m - last_step, 1.0))
            last_step = now_m
            self._resolve_site()
            held = getattr(self.source, "state_held_by", None)
            if self._alerts_held and held is None:
                self._alerts_held = False  # the other has ended, its state file taken over
                self.alerts.resume(self.now())
            elif held is not None and not self._alerts_held:  # taken by another while this
                # one ran (its folder removed and made again): both ran --alert-cmd for every
                # anomaly and wrote its marks (a review)
                pid = f" (pid {held})" if held else ""
                self.alerts.off(f"not run here: another trafficwatch{pid} took this state "
                                "file after its folder was removed, and alerts are left to it")
                self._alerts_held = True
            hour = settled_hour(self.now())  # a new hour, then the same hour settled
            if hour != last_hour:
                last_hour = hour
                self._model_wake.set()
            if time.monotonic() - last_pub >= REFRESH_S:  # what the clock alone changes (a
                # log gone stale): a frame now and then, though no line came
                self._dirty.set()
            wait = (self.cfg.tick_s if self._view_changed or self.cfg.replay else  # (a replay
                    # is a demo or a look back: its hours move at the tick, as they always did)
                    frame_interval(self.cfg.tick_s, self._build_s + self._draw_s))
            if self._dirty.is_set() and time.monotonic() - last_pub >= wait:
                self._dirty.clear()
                self._view_changed = False
                last_pub = time.monotonic()
                cpu = time.thread_time()
                self._publish()
                self._build_s = 0.7 * self._build_s + 0.3 * (time.thread_time() - cpu)
            self._stop.wait(self.cfg.tick_s)
        self._close_source()

    def _model_loop(self) -> None:
        # Importing torch is a second of mostly GIL-holding Python: done while the logs are
        # being read, it slows the first frame with data by more than it saves.
        while not self._source_tried.wait(0.1):
            if self._stop.is_set():
                return
        sweep_orphans()  # what an app killed with -9 left in /tmp: a site's counts, stdin's copy
        self.forecaster, self.model_status = tuning.load_default(self.cfg.model_path)
        self._changed()  # a frame saying so: with no data yet (a directory awaiting its first
        # log) nothing else would replace "loading model…" on screen
        self._model_wake.set()
        pending = False  # other sites' forecasts still due: the next step comes at once
        seen = -1  # the data generation the view was last forecast from
        while not self._stop.is_set():
            woken = self._model_wake.wait(timeout=0 if pending else MODEL_WAIT_S)
            if self._stop.is_set():
                return
            # the screen's view first, as before: when woken (a new hour, another view), and
            # every MODEL_WAIT_S when new lines came. Forecast again every 5 s on an idle
            # screen, 300 sites summed cost a core's fifth, a snapshot each time (a trial)
            if woken or (not pending and self._data_generation != seen):
                seen = self._data_generation
                self._model_wake.clear()
                self.recall_fine_tune(self.site)
                self._predict_once()
                if self.cfg.fine_tune and self.forecaster is not None and not self._stop.is_set():
                    self._tune_in_background()
            if self._stop.is_set():  # stopped during a forecast: no other site's is started
                return
            pending = self.forecast_sites()

    def forecast_sites(self, budget_s: float | None = None) -> bool:
        """One step of every site's forecast (for /metrics): the sites whose hour or model changed
        since their last forecast, new sites first, for `budget_s` seconds at most (at least
        one site). True while sites remain due."""
        with self.lock:
            sites = list(self.series.sites())
            for gone in set(self._site_keys) - set(sites):  # a virtual host's slot given to a
                del self._site_keys[gone]  # new one (series._free_slot): its forecast goes too
                self.site_forecasts.pop(gone, None)
        for site in sites:
            self.recall_fine_tune(site)
        with self.lock:
            due = []
            for site in sites:
                clock = self._clock_for(site)
                hour = self.series.partial_hour_number(site, clock)
                settling = self._settling(site, clock)
                if hour is None:  # logs no longer written: the hour after their last line
                    last = self.series.last_ts(site)
                    hour = None if last is None else last // HOUR + 1
                key = (hour, settling, id(self.tuned.get(site) or self.forecaster))
                if self._site_keys.get(site) != key:
                    due.append((site, key))
            due.sort(key=lambda d: d[0] in self._site_keys)  # never forecast first
        if not due:
            return False

        def read(site: str):
            with self.lock:
                clock = self._clock_for(site)
                return (self.series.series(site, "hits", now=clock, whole_hours=True),
                        self.in_progress(site, clock),
                        self._offset(self.series.utc_offset(site), self.now()),
                        self._settling(site, clock))

        def kept_key(site: str) -> tuple:  # the screen's key for the site's hits, unfiltered:
            # the gauge and the screen keep one blend (engine._kept)
            return (site, "hits", ViewFilter(), id(self.tuned.get(site) or self.forecaster))

        def keep_for(site: str):
            with self.lock:
                return self._kept.get(kept_key(site))

        kw = {} if budget_s is None else {"budget_s": budget_s}
        done = forecast_due(due, read, lambda site: self.tuned.get(site) or self.forecaster,
                            self.cfg.band, lambda: self._stop.is_set() or self._model_wake.is_set(),
                            anomaly_band=self.cfg.anomaly_band, keep_for=keep_for, **kw)
        with self.lock:
            for d in done:
                self._site_keys[d.site] = d.key
                if d.forecast is None:
                    self.site_forecasts.pop(d.site, None)
                else:
                    self.site_forecasts[d.site] = d.forecast
                    if d.forecast.kept is not None:
                        self._keep(kept_key(d.site), d.forecast.kept)
            self.site_forecast_s = [d.seconds for d in done]
        if self.alerts is not None:  # every site's anomalies, whichever view is on screen
            for d in done:
                if d.forecast is not None:
                    with self.sink.lock:
                        latest = None if self.cfg.replay else self.sink.series.last_ts(d.site)
                    self.alerts.check(d.site, d.forecast.events, latest,
                                      d.site in getattr(self.source, "behind", ()))
        return len(done) < len(due)

    def _settling(self, site: str, clock: float | None) -> bool:
        """Whether `site`'s last complete hour ended under SETTLE_S before `clock` (a drop in
        it waits); never for logs no longer written (no clock)."""
        return self.series.partial_hour_number(site, clock) is not None \
            and not settled_hour(clock)[1]

    def recall_fine_tune(self, site: str) -> bool:
        """Take the fine-tune decision kept for `site` by an earlier start (tuning.recall), once,
        before the site's first forecast; True when it brought a fine-tuned model. Left to the
        tuner thread, a restart forecast with the default first, then swapped the fine-tuned
        model in: its band and anomalies moved, and "Fine-tune kept" was said again."""
        if (not self.cfg.fine_tune or self.forecaster is None or site in self._recalled
                or site in self.tuning_note):
            return False
        self._recalled.add(site)
        store = tuning.tune_store(self.cfg.state_path)
        res = tuning.recall(store, site, self.cfg.model_path) \
            if store is not None and store.is_dir() else None
        return self._apply_tuning(res) if res is not None else False

    def fine_tune_once(self) -> bool:
        """Fine-tune the current site's model when tuning.maybe_fine_tune says so, and take its
        result; True when the model in use for the site changed."""
        site = self.site
        if site in self.tuning_note or self.forecaster is None:
            return False  # decided once per site
        res = tuning.maybe_fine_tune(site, self.view_series(whole_hours=True, history=True),
                                     self.forecaster,
                                     self.cfg.model_path, self.cfg.device,
                                     on_progress=self._apply_tuning,
                                     store=tuning.tune_store(self.cfg.state_path))
        return self._apply_tuning(res) if res is not None else False

    def _apply_tuning(self, res: TuneResult) -> bool:
        """The engine writes its own state: the note, and the tuned model when it is kept."""
        with self.lock:
            self.tuning_note[res.site] = res.note
            if res.tuned is not None:
                self.tuned[res.site] = res.tuned
        self._changed()
        return res.tuned is not None

    def _tune_in_background(self) -> None:
        """Fine-tuning takes minutes: it runs beside the model loop, which keeps predicting."""
        if self._tuner is not None and self._tuner.is_alive():
            return
        site = self.site

        def run() -> None:
            try:
                if self.fine_tune_once():
                    self._model_wake.set()  # predict again with the fine-tuned model
            except Exception as exc:  # noqa: BLE001 (shown on screen; the default model stays)
                log.warning("fine-tuning %s failed: %s", site or "all sites", exc)
                why = str(exc).removeprefix("fine-tuning failed: ")[:200]
                self._apply_tuning(TuneResult(
                    site, f"fine-tuning failed ({why}); "
                          f"{tuning.base_name(self.cfg.model_path)} kept"))

        self._tuner = threading.Thread(target=run, name="trafficwatch-tune", daemon=True)
        self._tuner.start()

    def _keep(self, key: tuple, kept: tuple[float, str | None]) -> None:
        """Remember the blend a view's (or a site's) forecast showed, the latest KEPT_MAX
        (under the lock): every filter typed and every site was kept for good (a review)."""
        self._kept.pop(key, None)
        self._kept[key] = kept
        while len(self._kept) > KEPT_MAX:
            self._kept.pop(next(iter(self._kept)))

    def current_forecaster(self):
        return self.tuned.get(self.site) or self.forecaster

    def _predict_once(self) -> None:
        s = self.view_series(whole_hours=True, history=True)  # what the forecast reads
        start = self.filter.start
        view = s[s.index >= start] if start is not None else s  # what the view shows
        key = (self.site, self.metric, self.filter, id(self.current_forecaster()))
        if not len(view) or not view.notna().any():
            # a new site whose one hour is in progress (a trial: "forecasting this view…" for
            # minutes, while the Now pane said no forecast until an hour is complete), or a
            # filter's range with no hour of the logs in it
            whole = self.view_series()
            kept = whole.attrs.get(PATHS_SINCE)
            with self.lock:
                self.no_forecast = (key[:3], "no forecast until an hour is complete"
                                    if len(whole) and whole.notna().any() else
                                    f"nothing to forecast: the path filter's counts are kept "
                                    f"for the last {PATH_DAYS} days"
                                    if kept is not None and len(whole) and
                                    epoch(whole.index[-1]) < kept else
                                    "nothing to forecast: no hour of the logs in this view")
            self._changed()
            return
        with self.lock:
            partial = self.in_progress(self.site or None, self.series_now())
            offset = self._offset(self.series.utc_offset(self.site or None), self.now())
        try:
            p = predict(s, self.current_forecaster(), partial=partial, horizon=self.cfg.horizon,
                        band=self.cfg.band, anomaly_band=self.cfg.anomaly_band,
                        day_offset_s=offset, keep=self._kept.get(key))
        except ValueError as exc:
            with self.lock:  # ("no complete hour with data yet: nothing to forecast from")
                self.no_forecast = (key[:3], str(exc))
            self._changed()
            return
        with self.lock:
            self.prediction, self.no_forecast = (key, p), None
            if p.kept is not None:  # the next forecast of this view keeps it while it holds
                self._keep(key, p.kept)
        self._changed()

    def _publish(self) -> None:
        snap = self.snapshot()
        self.latest = snap
        self.on_snapshot(snap)

    def snapshot(self) -> Snapshot:
        """A complete frame of the current state (cheap: no model work here), of one view: a
        site chosen while it was built had its name over the sites' data before it, and a
        forecast of one beside the other's counts (a trial at 450 sites: 0.5 s of the old
        chart under the new name)."""
        with self.lock:  # (reentrant: the parts below take it too)
            return self._snapshot()

    def _snapshot(self) -> Snapshot:
        with self.lock:
            pred = self.prediction
            key = (self.site, self.metric, self.filter, id(self.current_forecaster()))
            usable = pred[1] if pred is not None and pred[0][:3] == key[:3] else None
            # made by the model in use before this one (a fine-tune kept since): shown until the
            # next pass, but its note must not describe the new model as the one shown
            old_model = usable is not None and pred[0][3] != key[3]
            model_note = self.model_status if self.forecaster is None else ""
            source_error = getattr(self.source, "error", "")  # the fleet's Prometheus is down
            # a forecast made for another view (a site or filter just chosen): this one's is on
            # its way, not missing (it read "seasonal naive in use", "No anomaly" for seconds)
            pending = "forecasting this view…" if usable is None and pred is not None else ""
            why_none = self.no_forecast
            if usable is None and why_none is not None and why_none[0] == key[:3]:
                pending = why_none[1]
            wanted = ""
            if self.wanted_site:  # --site not read (yet): what is shown instead, and why
                known = self.series.sites()
                found = (f"found: {', '.join(safe_name(x) for x in known[:3])}"
                         f"{', …' if len(known) > 3 else ''}" if known else "none yet")
                wanted = (f"no site {safe_name(self.wanted_site)} in what was read ({found}): "
                          "all sites shown until it comes; s picks one")
            status = (self.status or source_error or wanted or model_note or
                      (usable.status if usable else pending))
            ing = ingest_view(self.source, reading=self._reading and not self.cfg.prometheus)
        if self.alerts is not None and self.alerts.notice:
            ing = replace(ing, notices=(self.alerts.notice, *ing.notices))
        ahead = self.ahead_notice()
        if ahead:
            ing = replace(ing, notices=(ahead, *ing.notices))
        with self.lock:  # hosts past MAX_HOSTS, one site: said by counts, top and the agent,
            folded = self.series.folded_note()  # and not on the screen (a review)
        if folded:
            ing = replace(ing, notices=(folded, *ing.notices))
        if not self.site:  # every site summed: one with no whole hour yet is not in its forecast
            with self.lock:
                young = young_sites_note(self.series, self.now())
                ended = ended_sites_note(self.series)
            for note in (ended, young):
                if note:
                    ing = replace(ing, notices=(note, *ing.notices))
        s = self.view_series()
        state = self.view_state(s)
        if old_model:
            state = replace(state, tuning_note=(
                "fine-tuned model kept: forecasting again with it…" if self.site in self.tuned
                else "model loaded: forecasting with it…"))
        return replace(build_snapshot(state, s, usable, ing, status), fatal=self.fatal)

    def ahead_notice(self) -> str:
        """series.ahead_note for the view's site, on a followed log only."""
        now = self.series_now()
        if now is None or self.cfg.replay:
            return ""
        with self.lock:
            return ahead_note(self.series, self.site or None, now)

    def _offset(self, log_offset: int, now: float) -> int:
        """Seconds east of UTC that hours are shown (and days start) in: --tz's now, or the log's."""
        if self.cfg.tz is not None:
            return int(dt.datetime.fromtimestamp(now, self.cfg.tz).utcoffset().total_seconds())
        return log_offset

    def view_state(self, s: pd.Series) -> ViewState:
        """A read-only record of what a frame of the view `s` shows, for views.build_snapshot."""
        site = self.site or None
        now, series_now = self.now(), self.series_now()
        with self.lock:
            partial = self.series.partial_hour(site, now=series_now)
            offset = self.series.utc_offset(site)
            last_ts = self.series.last_ts(site)
            cut = self.series.partial_end(site) if series_now is None else None
            if cut is not None:  # logs no longer written that ended inside their last hour
                partial = pd.Timestamp(cut * HOUR, unit="s", tz="UTC")
            if partial is not None and len(s) and partial > s.index[-1]:
                partial = cut = None  # the view ends before it (a filter's end in the past):
                # its last hour is a whole one, and its next is the first forecast
            sites = tuple(self.series.sites())
            note = self.tuning_note.get(self.site, "")
            if not note and self.forecaster is not None:
                note = tuning.waiting_note(s, self.cfg.fine_tune)
            # the top view costs ~16 ms a frame, a busy server's 100-200 ms: built again when
            # the view changed, and for new lines alone at most every TOPS_S (at 420 lines a
            # second it was built at every frame, half of what frames cost, a trial)
            # and not more than a tenth of the time, under the lock: a filter's clients are its
            # cells' (up to 24 tallies a site's hour), 300 busy sites' 97 hours 4 s (a review)
            view, have = (self.site, self.metric, self.filter, len(s)), self._tops_cache
            if (have is None or have[0] != view or have[1] != self._generation
                    and time.monotonic() - have[2] >= max(TOPS_S, TOPS_SHARE * have[4])):
                t0 = time.monotonic()
                got = hour_tops(self.series, self.site, self.metric, self.filter, s)
                self._tops_cache = (view, self._generation, time.monotonic(), got,
                                    time.monotonic() - t0)
            tops, day = self._tops_cache[3]
        offset = self._offset(offset, now)
        src = self.source
        tail, tail_of = tuple(getattr(src, "tail", ())), 0
        view = (self.site, self.filter, self.metric)  # read once: one frame, one view
        if tail and (narrows_lines(view[1]) or view[2] == "pages"):  # the lines the filter
            # and the metric keep, as the counts (pages: a font's 304 shown under "pages")
            with self._tail_lock:
                tail, tail_of = self._tail_filter(tail, *view)
        if series_now is not None and last_ts is not None and last_ts > now:
            # a line dated ahead of the clock (it waits for its hour): the status line's "last
            # line at" is when lines last came, not that line's time ("18:31" at 15:35)
            last_ts = min(last_ts, getattr(src, "last_update", now))
        return ViewState(
            sites=sites, site=self.site, metric=self.metric, filter=self.filter,
            band=self.cfg.band, anomaly_band=self.cfg.anomaly_band, replay=self.cfg.replay,
            speed=self.cfg.speed, now=now,
            partial_hour=partial, tz_offset_s=offset, tz=self.cfg.tz, last_ts=last_ts,
            tuning_note=note,
            last_read=_last_read(src, site),
            # a fleet's last bucket is the hour in progress when Prometheus was asked: no log
            # ended there ("◆ last hour, log ends 04:13" read as if the agents had stopped)
            log_end=last_ts if cut is not None and not getattr(src, "fleet", False) else None,
            tail=tail, tail_of=tail_of,
            # the first read of big logs: not "no new lines since" the history's last line,
            # while lines were being appended (a busy server's trial, 80 s of it)
            feed=(src.words() if isinstance(src, PrometheusFeed) else
                  READING if src is None and self._reading else ""),
            done=bool(getattr(src, "done", False)) if self.cfg.replay else False,
            tops=tops, day=day)


def _last_read(source, site: str | None) -> float | None:
    """When (wall clock) the source last handed over lines of `site` (of any site: None), if
    it keeps that (a followed log does)."""
    reads = dict(getattr(source, "last_read", None) or {})
    got = [reads.get(site)] if site else list(reads.values())
    got = [t for t in got if t is not None]
    return max(got) if got else None
