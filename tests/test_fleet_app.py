"""The app on --prometheus: an unreachable server is one line on screen, and the UI stays live."""
from __future__ import annotations

import time

from tests.test_app import screen_text
from trafficwatch.app.app import TrafficWatchApp
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.fleet.prometheus import PromConfig


def fleet_app(monkeypatch) -> tuple[TrafficWatchApp, dict]:
    """The app on a Prometheus no one answers at, with no model: (app, {"engine": its engine}
    once it has started)."""
    monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, "no model in tests"))
    cfg = EngineConfig(paths=[], fine_tune=False, tick_s=0.05,
                       prometheus=PromConfig.build("http://127.0.0.1:9"))
    held: dict = {}
    return TrafficWatchApp(lambda cb: held.setdefault("engine", Engine(cfg, cb))), held


async def test_unreachable_prometheus_is_one_line_on_screen_not_a_crash(monkeypatch):
    app, held = fleet_app(monkeypatch)
    want = "cannot reach Prometheus at http://127.0.0.1:9"
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(100):
            await pilot.pause(0.1)
            if want in screen_text(app):
                break
        text = screen_text(app)
        assert want in text and "asking again every 60 s" in text, text[-2000:]
        # no log is read here: not "Lines read 0 · counted 0", as if the fleet counted nothing
        flat = " ".join(text.split())
        assert "Lines read" not in flat and "the agents' counters, summed by Prometheus" in flat
        from trafficwatch.app.panes import LogTail

        tail = " ".join(str(app.query_one(LogTail).render()).split())
        assert tail == ("No live lines: the fleet's counts come from Prometheus, not from log "
                        "lines read here"), tail
        started = time.monotonic()
        await pilot.press("m")  # the UI answers keys meanwhile; the fleet has requests only
        await pilot.pause(0.2)
        assert time.monotonic() - started < 2
        assert held["engine"].metric == "hits" and want in screen_text(app)
        await pilot.press("q")


def test_the_app_on_a_fleet_keeps_the_alerts_it_sent_across_a_restart(tmp_path, monkeypatch):
    # a trial: restarted a minute after it had paged for 04:00, the fleet app paged again for
    # 04:00; its --state was ignored without a word (the fleet's counts are Prometheus's, but
    # the alerts sent and the fine-tunes kept are the app's own)
    from trafficwatch.cli.main import build_parser
    from trafficwatch.cli.watch import engine_config
    from trafficwatch.engine.alerts import AlertMarks, marks_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    url = ["watch", "--prometheus", "http://127.0.0.1:9/"]

    def state(*more: str) -> str | None:
        return engine_config(build_parser().parse_args([*url, *more])).state_path

    default = state()
    assert default is not None and default.startswith(str(tmp_path / "xdg"))
    assert state() == default != state("--match", 'job="web"')  # named by what it reads
    assert state("--state", str(tmp_path / "mine.json")) == str(tmp_path / "mine.json")
    assert state("--no-state") is None
    first = AlertMarks(marks_path(default))
    first.advance("example.com", 1_796_619_600.0)
    assert AlertMarks(marks_path(default)).get("example.com") == 1_796_619_600.0


async def test_a_path_filter_on_a_fleet_is_said_to_be_left_out(monkeypatch):
    # a fleet trial: `/`, ^/api/, Enter: taken by the dialog and dropped without a word (the
    # agents count by status class only)
    app, held = fleet_app(monkeypatch)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.1)
        await pilot.press("slash")
        await pilot.pause()
        app.screen.query_one("#path").value = r"^/api/"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.screen.__class__.__name__ != "FilterScreen"
        said = [n.message for n in app._notifications]
        assert any("the fleet's agents count by status class only: the path filter is left out"
                   in m for m in said), said
        assert held["engine"].filter.path is None
        await pilot.press("q")


async def test_the_site_picker_on_a_fleet_with_no_hour_yet_does_not_say_no_line_was_counted(
        monkeypatch):
    # a fleet trial: in the fleet's first hour the picker said "no site yet: no log line
    # counted" while the agents had counted 300 lines of 12 sites (no whole hour in Prometheus)
    app, _ = fleet_app(monkeypatch)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.1)
        await pilot.press("s")
        await pilot.pause(0.1)
        said = [n.message for n in app._notifications]
        assert any(m.startswith("no site yet: no hour of the agents' counts read from Prometheus")
                   for m in said), said
        assert not any("no log line counted" in m for m in said)
        await pilot.press("q")
