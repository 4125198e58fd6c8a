"""The app on --prometheus: an unreachable server is one line on screen, and the UI stays live."""
from __future__ import annotations

import time

from tests.test_app import screen_text
from trafficwatch.app.app import TrafficWatchApp
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.fleet.prometheus import PromConfig


async def test_unreachable_prometheus_is_one_line_on_screen_not_a_crash(monkeypatch):
    monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, "no model in tests"))
    cfg = EngineConfig(paths=[], fine_tune=False, tick_s=0.05,
                       prometheus=PromConfig.build("http://127.0.0.1:9"))
    held = {}
    app = TrafficWatchApp(lambda cb: held.setdefault("engine", Engine(cfg, cb)))
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
