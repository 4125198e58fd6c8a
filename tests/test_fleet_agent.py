"""The agent: every site's counters on /metrics, monotonic across restarts and lost state, with
no UI, torch or pandas loaded; --prometheus errors in one line."""
from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from trafficwatch.cli.main import main
from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.engine.agent import Agent
from trafficwatch.engine.exposition import CounterFloor, metrics_path

LINE = '1.2.3.4 - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET / HTTP/1.1" {s} 1 "-" "ua"\n'


def scrape(agent: Agent) -> dict[str, float]:
    host, port = agent.address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for row in text.splitlines():
        if row and not row.startswith("#"):
            name, value = row.rsplit(" ", 1)
            out[name] = float(value)
    return out


def scrape_once(path: Path) -> dict[str, float]:
    """/metrics of an agent started on `path` (no state), read once, the agent closed."""
    agent = Agent([str(path)], IngestOptions(), "127.0.0.1:0", None)
    agent.start()
    try:
        return scrape(agent)
    finally:
        agent.close()


def make_logs(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.example.access.log").write_text(LINE.format(m=1, s=200) * 3 + LINE.format(m=2, s=503))
    (logs / "b.example.access.log").write_text(LINE.format(m=1, s=404) * 2 + "garbage\n")
    return logs


def test_agent_exports_every_site_by_status_class(tmp_path):
    m = scrape_once(make_logs(tmp_path))
    assert m['trafficwatch_requests_total{site="a.example",status="2xx"}'] == 3
    assert m['trafficwatch_requests_total{site="a.example",status="5xx"}'] == 1
    assert m['trafficwatch_requests_total{site="b.example",status="4xx"}'] == 2
    # the same label set for every site, whatever it has seen
    assert sum(k.startswith('trafficwatch_requests_total{site="b.example"') for k in m) == 6
    assert m["trafficwatch_lines_read_total"] == 7
    assert m["trafficwatch_malformed_lines_total"] == 1
    assert m["trafficwatch_files_followed"] == 2 and m["trafficwatch_files_skipped"] == 0
    assert m['trafficwatch_last_line_timestamp_seconds{site="a.example"}'] == 1795168920


def test_a_line_dated_ahead_of_the_clock_counts_when_its_hour_comes(tmp_path):
    """An agent counted a line dated 2 hours ahead at once, so the fleet put it in the hour of
    the scrape, where the README says such lines count when their hour comes (a trial)."""
    logs = make_logs(tmp_path)
    now = 1795168920 + 600  # 10:12 on the logs' day
    ahead = '1.2.3.4 - - [20/Nov/2026:12:30:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"\n'
    with (logs / "a.example.access.log").open("a") as f:
        f.write(ahead)
    (logs / "soon.example.access.log").write_text(ahead)  # a site of lines ahead only
    clock = [now]
    agent = Agent([str(logs)], IngestOptions(), "127.0.0.1:0", None, clock=lambda: clock[0])
    agent.start()
    last = 'trafficwatch_last_line_timestamp_seconds{site="%s"}'
    try:
        m = scrape(agent)
        assert m['trafficwatch_requests_total{site="a.example",status="2xx"}'] == 3
        # lines read rose by it, requests not: the gauge says why (a trial)
        assert m["trafficwatch_requests_ahead"] == 2
        # the latest request counted, not the one waiting for its hour (it had said 12:30,
        # and a site of lines ahead only had a time while its counters were 0: a trial)
        assert m[last % "a.example"] == now  # its 10:02 line, within the hour counted: 10:12
        assert last % "soon.example" not in m
        clock[0] += 2.5 * 3600  # its hour has come
        m = scrape(agent)
        assert m['trafficwatch_requests_total{site="a.example",status="2xx"}'] == 4
        assert m["trafficwatch_requests_ahead"] == 0
        assert m[last % "a.example"] == m[last % "soon.example"] == 1795168920 + 9000 - 120
    finally:
        agent.close()


def test_counters_go_on_from_their_totals_after_a_restart_and_after_lost_state(tmp_path):
    logs, state = make_logs(tmp_path), tmp_path / "state.json"
    key = 'trafficwatch_requests_total{site="a.example",status="2xx"}'
    agent = Agent([str(logs)], IngestOptions(), "127.0.0.1:0", str(state))
    agent.start()
    with (logs / "a.example.access.log").open("a") as fh:
        fh.write(LINE.format(m=3, s=200) * 4)
    deadline = time.monotonic() + 10
    while scrape(agent)[key] != 7 and time.monotonic() < deadline:
        agent.step(0.1)
    assert scrape(agent)[key] == 7
    agent.close()
    assert json.loads(metrics_path(state).read_text())["version"] == 1

    # restarted with its state: the same totals, nothing counted twice
    agent = Agent([str(logs)], IngestOptions(), "127.0.0.1:0", str(state))
    agent.start()
    assert scrape(agent)[key] == 7
    agent.close()

    # state lost and the log rotated away meanwhile: the logs now hold fewer lines than were
    # served, and the counter must not go down (Prometheus would read a reset)
    state.unlink()
    (logs / "a.example.access.log").write_text(LINE.format(m=4, s=200) * 2)
    agent = Agent([str(logs)], IngestOptions(), "127.0.0.1:0", str(state))
    agent.start()
    try:
        assert scrape(agent)[key] == 7
        with (logs / "a.example.access.log").open("a") as fh:
            fh.write(LINE.format(m=5, s=200))
        deadline = time.monotonic() + 10
        while scrape(agent)[key] != 8 and time.monotonic() < deadline:
            agent.step(0.1)
        assert scrape(agent)[key] == 8  # and it goes on counting from there
    finally:
        agent.close()


def test_counter_floor_rejects_a_corrupt_file_and_starts_anew(tmp_path):
    path = tmp_path / "s.json.metrics"
    path.write_text('{"version": 1, "counters": [["x", [], -5, "a"]]}')
    floor = CounterFloor(path)
    assert "unusable" in floor.notice
    floor.settle({("x", ()): 3})
    assert floor.export({("x", ()): 3}) == {("x", ()): 3}


def test_counter_floors_that_cannot_be_saved_are_said_once(tmp_path, capsys, monkeypatch):
    """A trial (chattr +i on the state folder): "cannot save counter floors" was logged, then
    said again as the floor's notice at the agent's start; and (a full disk) logged bare, the
    only line without "trafficwatch:". The agent says it once, as its other lines."""
    import errno
    import re

    from trafficwatch.cli.agent import run_agent
    from trafficwatch.cli.main import build_parser
    from trafficwatch.engine import exposition

    def refused(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(exposition, "atomic_write", refused)
    logs = make_logs(tmp_path)
    args = build_parser().parse_args(["agent", str(logs), "--metrics-addr", "127.0.0.1:0",
                                      "--state", str(tmp_path / "state" / "s.json")])
    stop = threading.Event()
    t = threading.Thread(target=run_agent, args=(args, stop))
    t.start()
    err = ""
    try:
        deadline = time.monotonic() + 10
        while "serving" not in err and time.monotonic() < deadline:
            err += capsys.readouterr().err
            time.sleep(0.05)
        url = re.search(r"serving (http://\S+)", err).group(1)
        for _ in range(3):  # each scrape saves floors that changed
            with open(logs / "a.example.access.log", "a") as h:
                h.write(LINE.format(m=3, s=200))
            time.sleep(0.6)
            urllib.request.urlopen(url if url.endswith("/metrics") else url + "/metrics",
                                   timeout=5).read()
    finally:
        stop.set()
        t.join(timeout=10)
    err += capsys.readouterr().err
    said = [x for x in err.splitlines() if "cannot save counter floors" in x]
    assert len(said) == 1, err
    assert said[0].startswith("trafficwatch: cannot save counter floors to ") and \
        said[0].endswith("No space left on device"), said


def test_agent_command_serves_until_stopped_and_exits_0(tmp_path):
    logs = make_logs(tmp_path)
    stop = threading.Event()
    from trafficwatch.cli.agent import run_agent
    from trafficwatch.cli.main import build_parser

    args = build_parser().parse_args(["agent", str(logs), "--metrics-addr", "127.0.0.1:0",
                                      "--no-state"])
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("rc", run_agent(args, stop)))
    t.start()
    time.sleep(1.0)
    stop.set()
    t.join(timeout=10)
    assert done.get("rc") == 0


@pytest.mark.parametrize("argv", [
    ["counts", "--prometheus", "http://127.0.0.1:9"],
    ["forecast", "--prometheus", "http://127.0.0.1:9"],
    ["eval", "--prometheus", "http://127.0.0.1:9", "--site", "x"],
])
def test_unreachable_prometheus_is_one_line_and_exit_2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach Prometheus at http://127.0.0.1:9" in err


@pytest.mark.parametrize(("argv", "says"), [
    (["counts", "x.log", "--prometheus", "http://p:9090"], "not both"),
    (["forecast", "--prometheus", "ftp://p"], "use http://"),
    (["forecast", "--prometheus", "http://u:pw@p:9090"], "no credentials"),
    (["eval", "--prometheus", "http://p", "--match", "job=x"], "--match"),
    (["watch", "--prometheus", "http://p", "--metric", "visitors"], "hits"),
    (["counts", "--prometheus", "http://p", "--site-label", "bad-label"], "--site-label"),
])
def test_bad_fleet_options_are_usage_errors(capsys, argv, says):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


def test_the_token_comes_from_the_environment_and_is_never_shown(monkeypatch, capsys):
    monkeypatch.setenv("TRAFFICWATCH_PROMETHEUS_TOKEN", "s3cret-token")
    from trafficwatch.cli.options import prometheus_config

    args = type("A", (), {"prometheus": "http://127.0.0.1:9", "site_label": "site",
                          "match": [], "prometheus_days": 7, "status": None})()
    cfg = prometheus_config(args)
    assert cfg.token == "s3cret-token" and "s3cret" not in repr(cfg)
    assert main(["counts", "--prometheus", "http://127.0.0.1:9"]) == 2
    assert "s3cret" not in capsys.readouterr().err


def test_fleet_counts_become_a_series_with_gaps_kept_and_status_classes_apart():
    import numpy as np

    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.fleet.prometheus import FleetCounts, add_to_series

    h0 = 1_795_165_200  # an hour start
    nan = np.nan
    grid = np.array([[0, 0, 5, 0, 1, 0],          # other, 1xx, 2xx, 3xx, 4xx, 5xx
                     [nan] * 6,                   # no agent covered this hour: a gap
                     [0, 0, 0, 0, 0, 0],          # covered and quiet: a zero
                     [nan, nan, 7, nan, nan, 2]])  # one class seen: the hour counts
    series = HourlySeries(track_visitors=False)
    add_to_series(series, FleetCounts(h0 + 3600 * np.arange(4), {"a.example": grid}),
                  last_ts=h0 + 3 * 3600 + 60)
    s = series.series("a.example", "hits")
    assert s.index[0].timestamp() == h0
    assert np.array_equal(s.to_numpy(), [6, nan, 0, 9], equal_nan=True)
    assert series.series("a.example", "hits", status_classes={5}).tolist()[-1] == 2
    with pytest.raises(ValueError, match="not hours"):
        add_to_series(series, FleetCounts(np.array([h0 + 6]), {"a.example": grid[:1]}))


class _FakeClient:
    """Prometheus's answers for PrometheusFeed, without a server: per bucket end, 2xx requests."""

    def __init__(self, cfg, per_end: dict[int, float]) -> None:
        self.cfg, self.per_end, self.down = cfg, per_end, False

    def matrix(self, query, start, end, step):
        from trafficwatch.fleet.prometheus import PrometheusError

        if self.down:
            raise PrometheusError(f"cannot reach Prometheus at {self.cfg.url}: refused")
        return [({"site": "a.example", "status": "2xx"},
                 [[t, str(v)] for t, v in self.per_end.items() if start <= t <= end])]

    def vector(self, query, at):
        return []


def test_the_fleet_source_writes_through_the_sink_and_keeps_data_when_prometheus_goes_down():
    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.engine.prometheus import PrometheusFeed
    from trafficwatch.engine.sink import Sink, SourceConfig
    from trafficwatch.fleet.prometheus import PromConfig

    cfg = PromConfig.build("http://p:9090", days=1)
    end = int(time.time()) // 3600 * 3600
    client = _FakeClient(cfg, {end - 3600: 10.0, end: 4.0})  # hours end-2h and end-1h
    changes = []
    sink = Sink(SourceConfig([]), HourlySeries(track_visitors=False),
                on_change=lambda: changes.append(1))
    feed = PrometheusFeed(sink, cfg, client)  # reads at once
    s = sink.series.series("a.example", "hits")
    assert s.dropna().tolist() == [10, 4] and changes and not feed.error
    client.per_end[end] = 6.0  # a late scrape raised the last complete hour
    feed.refresh()
    assert sink.series.series("a.example", "hits").dropna().tolist() == [10, 6]
    client.down = True
    feed.refresh()
    assert "cannot reach Prometheus" in feed.error and "asking again" in feed.error
    assert sink.series.series("a.example", "hits").dropna().tolist() == [10, 6]


def test_a_site_name_with_a_backslash_and_an_escape_shows_the_same_through_a_fleet(tmp_path):
    # the agent exports the name as shown (safe_name); the fleet escaped that once more, so
    # 'we\ird' read 'we\\\\ird' in a fleet where the app on the server itself shows 'we\\ird'
    import re

    from trafficwatch.fleet.prometheus import PromConfig, fetch
    from trafficwatch.safe import safe_name

    logs = tmp_path / "logs"
    logs.mkdir()
    raw = "we\\ird\x1b[31m"
    (logs / f"{raw}.access.log").write_text(LINE.format(m=1, s=200) * 3)
    metrics = scrape_once(logs)
    (exported,) = [k for k in metrics if k.startswith("trafficwatch_requests_total") and "2xx" in k]
    text = re.fullmatch(r'[a-z_]+\{site="(.*)",status="2xx"\}', exported).group(1)
    label = re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), text)  # as read
    assert "\x1b" not in label  # written sanitised

    class Client:
        cfg = PromConfig.build("http://p:9090", days=1)

        def matrix(self, query, start, end, step):
            return [({"site": label, "status": "2xx"}, [[end, "3"]]),
                    ({"site": "foreign\\label\x07", "status": "2xx"}, [[end, "1"]])]

        def vector(self, query, at):
            return []

    h0 = 1_795_165_200
    counts = fetch(Client(), h0, h0 + 3600)
    assert set(counts.sites) == {raw, "foreign\\label\x07"}  # another exporter's: as it came
    assert safe_name(raw) == "we\\\\ird\\x1b[31m"  # what the app on the server shows


def test_hours_prometheus_has_no_sample_for_are_gaps_not_zeros():
    """Prometheus had lost every agent of the fleet for 3 hours: the app drew those hours at 0,
    listed "▼ 0 vs 171-304" and exported trafficwatch_anomaly -1 (a trial), where `counts
    --prometheus` ended at the last hour with a sample. They are gaps; a quiet hour the agents
    did report (0 requests) is still a 0."""
    import numpy as np

    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.prometheus import PrometheusFeed
    from trafficwatch.fleet.prometheus import PromConfig

    cfg = PromConfig.build("http://p:9090", days=30)
    end = int(time.time()) // 3600 * 3600
    per_end = {end - 3600 * k: 100.0 + 50 * np.sin(k / 24 * 2 * np.pi) for k in range(3, 24 * 20)}
    per_end[end - 3 * 3600] = 0.0  # the last hour with a sample: reported, and quiet
    e = Engine(EngineConfig(paths=[], fine_tune=False, prometheus=cfg), lambda s: None)
    e.source = PrometheusFeed(e.sink, cfg, _FakeClient(cfg, per_end))
    s = e.view_series(whole_hours=True)
    assert s.index[-1].timestamp() == end - 4 * 3600  # the hour that bucket closes
    assert s.iloc[-1] == 0 and s.iloc[-2] > 0


def fleet_at(monkeypatch, mid: int):
    """An engine on a fake fleet of 20 days of hourly counts, its clock held at `mid` (the hour
    cannot turn between the reads), Prometheus's last bucket the hour in progress there."""
    import numpy as np

    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.prometheus import PrometheusFeed
    from trafficwatch.fleet.prometheus import PromConfig

    monkeypatch.setattr(time, "time", lambda: float(mid))

    class Now(_FakeClient):
        def vector(self, query, at):
            return [({"site": "a.example", "status": "2xx"}, [[at, "7"]])]

    cfg = PromConfig.build("http://p:9090", days=30)
    end = mid // 3600 * 3600
    per_end = {end - 3600 * k: 100.0 + 50 * np.sin(k / 24 * 2 * np.pi) for k in range(24 * 20)}
    e = Engine(EngineConfig(paths=[], fine_tune=False, prometheus=cfg), lambda s: None)
    e.source = PrometheusFeed(e.sink, cfg, Now(cfg, per_end))
    return e


@pytest.mark.parametrize("before_end", [1800, 5])
def test_a_fleets_hour_in_progress_is_drawn_as_such_not_as_a_log_that_ended(monkeypatch,
                                                                            before_end):
    """The fleet's last bucket is the hour in progress when Prometheus was asked; the chart's
    legend read "◆ last hour, log ends 04:13", as if the agents had stopped (a trial). Read in
    an hour's last minute (CI at 08:59:5x) it was a whole hour, as a log's last line then."""
    mid = int(time.time()) // 3600 * 3600 - before_end
    e = fleet_at(monkeypatch, mid)
    state = e.view_state(e.view_series())
    assert state.partial_hour is not None and state.partial_hour.timestamp() == mid // 3600 * 3600
    assert state.log_end is None


def test_a_fleets_forecast_gauges_and_screen_are_for_the_hour_in_progress(monkeypatch):
    """A trial: at 04:44 the fleet app served trafficwatch_yhat for 05:00 (the HELP says the
    current hour), and its Now pane said "Next hour 06:00" at 05:01, with no forecast for the
    hour being counted: Prometheus's last bucket was read as a whole hour."""
    mid = int(time.time()) // 3600 * 3600 + 1800
    e = fleet_at(monkeypatch, mid)
    e.forecaster = None  # seasonal naive: the hours are what is tested
    e.forecast_sites()
    assert e.site_forecasts["a.example"].hour == mid // 3600 * 3600
    e._predict_once()
    assert e.snapshot().forecast.hours[0] == mid // 3600 * 3600


def test_a_fleets_hours_prometheus_no_longer_has_become_gaps_again(monkeypatch):
    """The only agent of a site died in the hour in progress: the app kept that hour at the
    60 read before it (the all-sites total too) where `counts --prometheus` shows a gap (a
    trial). An hour read before that the next read has no sample for is a gap again; one
    read again with a sample is its new count."""
    import numpy as np
    import pandas as pd

    mid = int(time.time()) // 3600 * 3600 + 1800
    e = fleet_at(monkeypatch, mid)
    feed, end = e.source, mid // 3600 * 3600

    def hour(h):
        s = e.sink.series.series("a.example", "hits")
        return s.get(pd.Timestamp(h, unit="s", tz="UTC"))

    assert hour(end) == 7 and hour(end - 3600) > 0
    total = e.sink.series.total()
    feed.client.vector = lambda query, at: []  # the agent died: no sample now
    del feed.client.per_end[end]  # nor at the end of the hour before (its bucket's close)
    feed.refresh()
    assert hour(end) is None or np.isnan(hour(end))
    assert hour(end - 3600) is None or np.isnan(hour(end - 3600))
    assert e.sink.series.total() < total - 7
    feed.client.per_end[end] = 42.0  # a late scrape brings it back
    feed.refresh()
    assert hour(end - 3600) == 42
    # a site whose only hours are gone is no site (a review: a blank one in the picker)
    from trafficwatch.counting.series import HourlySeries

    series = HourlySeries(track_visitors=False)
    series.add_coverage("b.example", end, end + 60)
    series.forget_hour("b.example", end // 3600)
    assert "b.example" not in series.sites()


def test_a_fleet_with_nothing_to_show_says_why_as_counts_does():
    """The app on --match 'job="nope"' said "nothing to forecast: no hour of the logs in this
    view"; `counts --prometheus` says the selector matched nothing. The app's status line
    says it too, and that it asks again; a fleet whose agents have no whole hour yet says
    when counts begin."""
    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.engine.prometheus import PrometheusFeed
    from trafficwatch.engine.sink import Sink, SourceConfig
    from trafficwatch.fleet.prometheus import PromConfig

    cfg = PromConfig.build("http://p:9090", days=1, matchers=['job="nope"'])
    client = _FakeClient(cfg, {})
    feed = PrometheusFeed(Sink(SourceConfig([]), HourlySeries(track_visitors=False)), cfg,
                          client)
    assert feed.error == ('Prometheus at http://p:9090 has no trafficwatch_requests_total'
                          '{site!="", job="nope"} over the last day: are the agents scraped '
                          '(and --site-label, --match right)?; asking again every 60 s')
    client.vector = lambda query, at: [({"site": "shop.example.com"}, "6")]  # young agents
    feed.refresh()
    assert "has the agents' counters for shop.example.com, but no whole hour" in feed.error


def test_an_agent_whose_state_was_lost_says_so_at_start(tmp_path, capsys):
    """State deleted, the log moved away while stopped: the agent went on from its counter
    floors and skipped the lines written meanwhile without a word (a trial)."""
    from trafficwatch.cli.agent import run_agent
    from trafficwatch.cli.main import build_parser

    logs, state = make_logs(tmp_path), tmp_path / "state.json"

    def start_and_stop() -> str:
        stop = threading.Event()
        args = build_parser().parse_args(["agent", str(logs), "--metrics-addr", "127.0.0.1:0",
                                          "--state", str(state)])
        t = threading.Thread(target=run_agent, args=(args, stop))
        t.start()
        time.sleep(1.0)
        stop.set()
        t.join(timeout=10)
        return capsys.readouterr().err

    assert "no saved state" not in start_and_stop()  # the first start: nothing served before
    assert "no saved state" not in start_and_stop()  # a restart from its state
    state.unlink()
    err = start_and_stop()
    assert "no saved state to go on from beside" in err, err
    assert ("lines written since the last save are counted only where the logs now hold more "
            "than it had counted (after a rotation, none of them)") in err, err


def test_an_agent_on_a_log_still_empty_says_so_not_of_0_sites(tmp_path, capsys):
    """A trial: "agent: 1 file of 0 sites followed" for an access.log nginx had just created."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text("")
    with agent_started(logs, capsys) as err:
        (said,) = [x for x in err.splitlines() if "serving" in x]
        assert said.startswith("trafficwatch: agent: 1 file followed (no line read yet: its "
                               "sites show once lines come); serving http://127.0.0.1:"), said


@contextlib.contextmanager
def agent_started(logs, capsys):
    """An agent on `logs` (no state) in a thread, until it says it is serving: its stderr."""
    from trafficwatch.cli.agent import run_agent
    from trafficwatch.cli.main import build_parser

    stop = threading.Event()
    args = build_parser().parse_args(["agent", str(logs), "--metrics-addr", "127.0.0.1:0",
                                      "--no-state"])
    t = threading.Thread(target=run_agent, args=(args, stop))
    t.start()
    try:
        deadline = time.monotonic() + 10
        err = ""
        while "serving" not in err and time.monotonic() < deadline:
            err += capsys.readouterr().err
            time.sleep(0.05)
        yield err
    finally:
        stop.set()
        t.join(timeout=10)


def test_a_log_the_agent_cannot_read_is_said_at_start_and_counted_in_a_gauge(tmp_path, capsys):
    """A site's log the agent lacked the rights to (not in group adm) was left out without a
    word, where `counts --follow` named it (a trial). A FIFO stands for it here: skipped alike,
    whoever runs the test."""
    import os

    logs = make_logs(tmp_path)
    os.mkfifo(logs / "other.access.log")
    with agent_started(logs, capsys) as err:
        lines = err.splitlines()
        (said,) = [x for x in lines if "other.access.log" in x]
        assert "skipped: not a regular file" in said
        assert "(1 skipped, said above)" in lines[-1] and lines.index(said) < len(lines) - 1
    agent = Agent([str(logs)], IngestOptions(), "127.0.0.1:0", None)
    agent.start()
    try:
        got = scrape(agent)
        assert got["trafficwatch_files_skipped"] == 1.0
        assert got["trafficwatch_files_followed"] == 2.0
    finally:
        agent.close()


def test_a_fleet_site_is_picked_by_the_name_counts_prints_as_well_as_by_its_own():
    """`counts --prometheus` printed a site `back\\\\slash` (as names are written), and that name,
    given back to --site, was refused: only the name as it is had been taken (a trial)."""
    from trafficwatch.fleet.prometheus import PromConfig, _literal, _quote
    from trafficwatch.safe import safe_name

    raw = "back\\slash"
    label = safe_name(raw)  # as the agents export it
    for given in (raw, safe_name(raw)):
        cfg = PromConfig.build("http://p:9090", days=1, site=given)
        assert cfg.wants(label), given
        assert not cfg.wants("other")
    assert PromConfig.build("http://p:9090", days=1).wants(label)
    # a host as a client wrote it, as the logs' --site finds it (a fleet trial: "no site
    # B.Example.com:8080" of b.example.com, found in the logs themselves)
    for given, label in (("B.Example.com:8080", "b.example.com"), ("BÜCHER.de", "bücher.de")):
        cfg = PromConfig.build("http://p:9090", days=1, site=given)
        assert cfg.wants(label) and not cfg.wants("c.example.com")
        assert label.split(".")[0] + "\\\\." in cfg.selector(), cfg.selector()
    # a host with a backslash and capitals: exported as shown, lower case (a fleet trial: not
    # found on the fleet where the logs' --site found it)
    cfg = PromConfig.build("http://p:9090", days=1, site='X"Y\\Z.example:80')
    shown = safe_name('x"y\\z.example')
    assert cfg.wants(shown)
    assert _quote("|".join(map(_literal, [shown])))[1:-1] in cfg.selector(), cfg.selector()
    # and in its shown form with capitals, as counts printed it (a fleet recheck: "no site")
    assert PromConfig.build("http://p:9090", days=1, site="Caps\\\\Back.Example").wants(
        safe_name("caps\\back.example"))


def test_counts_of_a_fleet_site_named_as_counts_prints_it(monkeypatch, capsys):
    """`counts --prometheus URL --site 'back\\\\slash'` (the name as counts printed it) crashed
    with a KeyError once the site had been found (a trial)."""
    import numpy as np

    from trafficwatch.cli import counts as counts_cmd
    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.fleet.prometheus import FleetCounts, add_to_series

    h0 = 1_795_165_200
    series = HourlySeries(track_visitors=False)
    add_to_series(series, FleetCounts(h0 + 3600 * np.arange(2),
                                      {"back\\slash": np.array([[0, 0, 5, 0, 1, 0]] * 2)}),
                  last_ts=h0 + 3600 + 60)
    monkeypatch.setattr(counts_cmd, "load_fleet", lambda cfg, partial, warn=None: series)
    for given in ("back\\\\slash", "back\\slash"):
        assert main(["counts", "--prometheus", "http://p:9090", "--site", given]) == 0
        rows = capsys.readouterr().out.splitlines()
        assert len(rows) == 3 and rows[1].split(",")[1:4] == ["back\\\\slash", "hits", "6"], rows


def test_an_agent_prometheus_no_longer_scrapes_is_said_not_read_as_a_fall():
    """An SRE's trial: an agent killed, Prometheus marked its series stale at the next scrape,
    the hour in progress fell by its requests (325 -> 231) and the screen said nothing of an
    agent down, though Prometheus knew (up 0)."""
    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.engine.prometheus import PrometheusFeed
    from trafficwatch.engine.sink import Sink, SourceConfig
    from trafficwatch.fleet.prometheus import PromConfig

    cfg = PromConfig.build("http://p:9090", days=1)
    end = int(time.time()) // 3600 * 3600
    agents = ["10.0.0.1:9877", "10.0.0.2:9877", "evil\x1b]0;x\x07:1"]

    class Fleet(_FakeClient):
        live: set[str]

        def vector(self, query, at):
            if "count by (instance, job)" not in query:
                return []
            names = agents if "last_over_time" in query else sorted(self.live)
            return [({"instance": n, "job": "tw"}, [at, "6"]) for n in names]

    client = Fleet(cfg, {end: 4.0})
    client.live = set(agents)
    sink = Sink(SourceConfig([]), HourlySeries(track_visitors=False))
    feed = PrometheusFeed(sink, cfg, client)
    assert "not reporting" not in feed.words()
    client.live = {agents[0]}
    feed.refresh()
    words = feed.words()
    assert ("2 of 3 agents not reporting (10.0.0.2:9877, evil\\x1b]0;x\\x07:1): the hours lack "
            "their requests") in words, words
    client.live = set(agents)  # back: said no more
    feed.refresh()
    assert "not reporting" not in feed.words()


def test_a_mistyped_site_on_a_fleet_is_told_the_nearest_names():
    # a trial: `counts --prometheus URL --site shop.example.co` said "has no ... over the last
    # 60 days: are the agents scraped?" of a fleet that had shop.example.com
    from trafficwatch.fleet.load import why_empty
    from trafficwatch.fleet.prometheus import PromConfig

    class Sites:
        def vector(self, query, at):
            names = ["example.com", "shop.example.com"]
            if 'site="shop.example.co"' in query:
                names = []
            return [({"site": n}, 1.0) for n in names]

    cfg = PromConfig.build("http://p:9090", site="shop.example.co")
    said = why_empty(cfg, time.time(), Sites())
    assert "no site shop.example.co; did you mean shop.example.com" in said, said
    # the nearest in any case first (it had put c.example.com before b.example.com for
    # B.Exmple.com, a trial), and the fleet's own way to list them
    from trafficwatch.counting.series import no_site

    sites = ["a.example.com", "b.example.com", "c.example.com"] + [f"s{i}.org" for i in range(9)]
    said = no_site("B.Exmple.com:8080", sites, "trafficwatch counts --prometheus URL")
    assert "did you mean b.example.com or " in said, said
    assert said.endswith("trafficwatch counts --prometheus URL lists them)"), said


def test_a_host_whose_slot_was_given_is_served_no_more_after_a_restart(tmp_path):
    # a fleet trial: after a restart, a host whose slot went to a new one was served at its
    # last value beside "(other hosts)", which holds its requests now: counted twice in the sum
    path = tmp_path / "s.json.metrics"
    gone, other = ("t", (("site", "scan.example"),)), ("t", (("site", "(other hosts)"),))
    floor = CounterFloor(path)
    floor.settle({})
    floor.export({gone: 1, other: 5})
    again = CounterFloor(path)  # restarted: every key served has a base
    again.settle({gone: 1, other: 5})
    assert again.export({gone: 1, other: 5}) == {gone: 1, other: 5}
    assert again.export({other: 6}) == {gone: 1, other: 6}  # its logs gone: kept
    assert again.export({other: 6}, gone=["scan.example"]) == {other: 6}  # its slot given
    assert again.export({other: 6}) == {other: 6}  # and not again
