"""/metrics carries every site's forecast with the same series whatever is on screen."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

from trafficwatch.counting.ingest import IngestReport
from trafficwatch.engine import engine as engine_mod
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.metrics import MetricsServer, render
from trafficwatch.engine.metrics_view import samples_for
from trafficwatch.engine.site_forecasts import site_forecast
from trafficwatch.filters import ViewFilter
from trafficwatch.logs.records import Records

from .test_engine import hourly_records

T0 = int(pd.Timestamp("2026-01-05", tz="UTC").timestamp())
DAYS = 10
HOSTILE = 'ev"il\\site\n# TYPE x counter'  # a vhost name from a log line
SITES = {"site-a": (DAYS * 24, 50), "site-b": (DAYS * 24, 400), HOSTILE: (DAYS * 24, 20),
         "young": (10, 30)}  # name: (hours of history before the clock, mean requests per hour)
FORECAST_NAMES = ("trafficwatch_yhat", "trafficwatch_yhat_lower", "trafficwatch_yhat_upper",
                  "trafficwatch_anomaly", "trafficwatch_forecast",
                  "trafficwatch_forecast_hour_timestamp_seconds")


def records(hours: int, level: float, seed: int) -> Records:
    rng = np.random.default_rng(seed)
    start = T0 + (DAYS * 24 - hours) * 3600
    h = np.arange(hours) + (DAYS * 24 - hours)
    per_hour = rng.poisson(level * (1 + 0.8 * np.sin(2 * np.pi * (h % 24 - 6) / 24)))
    return hourly_records(per_hour, start, rng)


class TwoSiteFeed:
    """A source that counts four sites' requests at once, then holds its clock still."""

    def __init__(self, sink) -> None:
        self.report = IngestReport()
        self.tail = ()
        self.clock = T0 + DAYS * 24 * 3600 + 1800  # half way into the hour after the data
        with sink.lock:
            for seed, (site, (hours, level)) in enumerate(SITES.items()):
                sink.series.add(site, records(hours, level, seed))

    def step(self, dt: float) -> None:
        return None


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setattr(engine_mod, "open_source", lambda sink, cfg, progress: TwoSiteFeed(sink))
    e = Engine(EngineConfig(paths=["x"], replay=True, fine_tune=False, tick_s=0.01,
                            site="site-a"), lambda s: None)
    e.start()
    deadline = time.monotonic() + 60  # the model loads and forecasts three sites: well under
    while time.monotonic() < deadline and len(e.site_forecasts) < 3:
        time.sleep(0.05)
    assert len(e.site_forecasts) == 3, "the sites' forecasts never came"
    yield e
    e.stop()


SAMPLE = re.compile(r'^(\w+)(\{.*\})? (\S+)$')


def scrape(e) -> dict[str, float]:
    """The exposition as {'name{labels}': value} (comments left out)."""
    out = {}
    for line in render(samples_for(e)).splitlines():
        if not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, f"not one sample per line: {line!r}"
            out[m[1] + (m[2] or "")] = float(m[3])
    return out


def forecast_series(scraped: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in scraped.items() if k.split("{")[0] in FORECAST_NAMES}


def wait_for_screen(e, site: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snap = e.snapshot()
        if snap.site == site and snap.forecast is not None:
            return
        time.sleep(0.05)
    raise AssertionError(f"no forecast on screen for {site}")


def test_switching_site_metric_or_filter_leaves_metrics_series_unchanged(engine):
    e = engine
    wait_for_screen(e, "site-a")
    before = scrape(e)
    both = forecast_series(before)
    for site in ("site-a", "site-b"):
        assert f'trafficwatch_yhat{{site="{site}"}}' in both
        for q in ("0.1", "0.5", "0.9"):
            assert f'trafficwatch_forecast{{site="{site}",q="{q}"}}' in both
    # each site its own forecast: the busier site's median is far above the quieter one's
    assert both['trafficwatch_yhat{site="site-b"}'] > 3 * both['trafficwatch_yhat{site="site-a"}']
    e.set_site("site-b")
    wait_for_screen(e, "site-b")
    e.set_metric("pages")
    e.set_filter(ViewFilter(status_classes=frozenset({5}), bots=False))
    e.snapshot()
    after = scrape(e)
    assert after.keys() == before.keys()
    assert forecast_series(after) == both


def test_the_site_on_screen_has_the_screens_forecast(engine):
    e = engine
    for site in ("site-a", "site-b"):
        e.set_site(site)
        wait_for_screen(e, site)
        fv = e.snapshot().forecast
        got = scrape(e)
        assert got[f'trafficwatch_yhat{{site="{site}"}}'] == pytest.approx(fv.p50[0], rel=1e-6)
        assert got[f'trafficwatch_yhat_lower{{site="{site}"}}'] == pytest.approx(fv.p10[0], rel=1e-6)
        assert got[f'trafficwatch_yhat_upper{{site="{site}"}}'] == pytest.approx(fv.p90[0], rel=1e-6)
        hour = got[f'trafficwatch_forecast_hour_timestamp_seconds{{site="{site}"}}']
        assert hour == fv.hours[0] == T0 + DAYS * 24 * 3600


def test_a_site_with_too_little_history_has_no_forecast_gauge(engine):
    engine.set_site("young")  # even on screen, where seasonal naive stands in
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (engine.latest is None or engine.latest.site != "young"):
        time.sleep(0.05)
    got = scrape(engine)
    young = [k for k in got if 'site="young"' in k]
    assert young and all(k.startswith("trafficwatch_requests_total") for k in young)


def test_a_forecast_for_an_hour_gone_by_is_not_served(engine):
    # a fleet trial: a site whose agents had stopped was served its forecast for 13:00 at
    # 14:19, where yhat is the hour being counted now
    assert 'trafficwatch_yhat{site="site-a"}' in scrape(engine)
    engine.source.clock += 2 * 3600  # two hours on, no line since: its hours stopped
    got = scrape(engine)
    assert not forecast_series(got), forecast_series(got)
    assert 'trafficwatch_requests_total{site="site-a",status="2xx"}' in got


def test_site_names_from_logs_are_escaped_in_the_exposition(engine):
    text = render(samples_for(engine))
    # the quote and backslash escaped, the newline never reaches the output as a line break
    assert 'trafficwatch_yhat{site="ev\\"il\\\\\\\\site\\\\x0a# TYPE x counter"} ' in text
    assert "\n# TYPE x counter" not in text
    assert all(SAMPLE.match(ln) or ln.startswith(("# HELP ", "# TYPE trafficwatch_"))
               for ln in text.splitlines())


def test_metrics_endpoint_serves_every_site(engine):
    server = MetricsServer("127.0.0.1:0", lambda: samples_for(engine))
    server.start()
    try:
        host, port = server.address[:2]
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
    finally:
        server.stop()
    assert 'trafficwatch_yhat{site="site-a"}' in body and 'trafficwatch_yhat{site="site-b"}' in body


def test_site_forecast_needs_a_days_observed_hours():
    from trafficwatch.model.forecaster import Forecaster

    idx = pd.date_range("2026-01-01", periods=23, freq="h", tz="UTC")
    model = Forecaster.load(None)
    assert site_forecast(pd.Series(np.full(23, 10.0), index=idx), model, None) is None
    idx = pd.date_range("2026-01-01", periods=72, freq="h", tz="UTC")
    fc = site_forecast(pd.Series(np.full(72, 10.0), index=idx), model, None)
    assert fc is not None and fc.hour == int(idx[-1].timestamp()) + 3600
    assert 0 <= fc.p10 <= fc.p50 <= fc.p90


def test_model_loop_is_not_blocked_by_many_sites(monkeypatch):
    """forecast_sites does a bounded step: with a zero budget, one site per call."""
    monkeypatch.setattr(engine_mod, "open_source", lambda sink, cfg, progress: TwoSiteFeed(sink))
    e = Engine(EngineConfig(paths=["x"], replay=True, fine_tune=False), lambda s: None)
    e.source = engine_mod.open_source(e.sink, e.cfg, None)
    steps = 1
    while e.forecast_sites(budget_s=0.0):
        steps += 1
        assert steps <= len(SITES)
    assert steps == len(SITES)
    assert set(e.site_forecasts) == {"site-a", "site-b", HOSTILE}  # seasonal naive: no model
    assert not e.forecast_sites()  # nothing due until the hour or the model changes


def test_the_anomaly_gauge_judges_the_last_hour_on_the_anomaly_band():
    # the last hour is pushed just above its 80 % band (not an anomaly), then far above its 98 %
    # band (one): the gauge follows the wider band, as the screen's anomaly list does
    from trafficwatch.engine.predict import predict

    rng = np.random.default_rng(4)
    idx = pd.date_range("2026-01-05", periods=24 * 21, freq="h", tz="UTC")
    s = pd.Series(rng.poisson(1000 + 300 * np.sin(2 * np.pi * (idx.hour - 6) / 24)).astype(float),
                  index=idx)
    p = predict(s, None)  # seasonal naive: its day-ahead band for the last hour
    hi80, hi98 = p.past_p90[-1], p.past_alarm_hi[-1]
    assert hi98 > hi80 + 2
    s.iloc[-1] = hi80 + 1
    assert site_forecast(s, None, None, anomaly_band=0.8).anomaly == 1  # the old rule
    assert site_forecast(s, None, None).anomaly == 0
    s.iloc[-1] = hi98 + 1
    assert site_forecast(s, None, None).anomaly == 1
    assert p.past_alarm_lo[-1] > 0
    s.iloc[-1] = 0.0  # no request at all: below even the wider band
    assert site_forecast(s, None, None).anomaly == -1


def served(samples) -> str:
    """What a real /metrics server answers with these samples."""
    server = MetricsServer("127.0.0.1:0", samples)
    server.start()
    try:
        host, port = server.address[:2]
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
            return resp.read().decode()
    finally:
        server.stop()


LABEL = re.compile(r'(\w+)="(?:[^"\\]|\\.)*"')


def test_no_gauge_carries_a_label_reserved_for_summaries_or_histograms(engine):
    # `quantile` belongs to summaries and `le` to histograms in the exposition format: on a
    # gauge, promtool and Prometheus's parsers reject the family
    text = served(lambda: samples_for(engine))
    kinds = dict(ln.split()[2:4] for ln in text.splitlines() if ln.startswith("# TYPE "))
    labelled = 0
    for ln in text.splitlines():
        m = SAMPLE.match(ln)
        if ln.startswith("#") or not m or not m[2]:
            continue
        names = LABEL.findall(m[2])
        labelled += 1
        if kinds[m[1]] != "summary":
            assert "quantile" not in names, ln
        if kinds[m[1]] != "histogram":
            assert "le" not in names, ln
    assert labelled and kinds["trafficwatch_forecast"] == "gauge"
    assert 'trafficwatch_forecast{site="site-a",q="0.9"} ' in text


def test_the_apps_metrics_pass_promtool(engine):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: prometheus)")
    text = served(lambda: samples_for(engine))
    assert "trafficwatch_forecast{" in text and HOSTILE.split('"')[0] in text
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_app_on_the_fleet_serves_no_request_counters_of_its_own(engine):
    """On --prometheus the requests are the agents' counters read back: served again under the
    same name, a scrape of the app added them to the fleet's sums a second time."""
    from dataclasses import replace

    from trafficwatch.fleet.prometheus import PromConfig

    local = scrape(engine)
    assert any(k.startswith("trafficwatch_requests_total{") for k in local)
    engine.cfg = replace(engine.cfg, prometheus=PromConfig.build("http://127.0.0.1:9"))
    fleet = scrape(engine)
    assert not [k for k in fleet if k.startswith(("trafficwatch_requests_total",
                                                  "trafficwatch_malformed_lines_total"))]
    assert forecast_series(fleet) == forecast_series(local)  # anomalies and forecasts stay


def test_the_apps_counters_count_a_line_dated_ahead_when_its_hour_comes():
    """As the agent's (counter_values): a request dated 2 hours ahead of the clock is not in
    trafficwatch_requests_total until its hour comes."""
    e = Engine(EngineConfig(paths=["x"], replay=False, fine_tune=False), lambda s: None)
    now = int(time.time())
    ts = np.array([now - 60, now + 2 * 3600], np.int64)
    n = len(ts)
    e.series.add("shop", Records(ts=ts, utc_offset=np.zeros(n, np.int32),
                                 status=np.full(n, 200, np.int16), size=np.zeros(n, np.int64),
                                 is_static=np.zeros(n, bool), is_bot=np.zeros(n, bool),
                                 client=np.zeros(n, np.uint64), visitor=np.zeros(n, np.uint64),
                                 vhost=np.full(n, -1, np.int32)))
    total = {s.labels: s.value for s in samples_for(e) if s.name == "trafficwatch_requests_total"}
    assert total[(("site", "shop"), ("status", "2xx"))] == 1
    assert total[(("site", "shop"), ("status", "4xx"))] == 0 and len(total) == 5
