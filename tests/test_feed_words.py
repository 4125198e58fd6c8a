"""The status line says honestly how lines arrive: a replay at its speed, or a live log gone quiet."""
from __future__ import annotations

import pandas as pd

from tests.test_engine import engine  # noqa: F401 (the fixture)
from trafficwatch.views import feed_words

NOW = pd.Timestamp("2026-11-20 14:30", tz="UTC").timestamp()


def test_a_replay_says_replay_at_its_speed_and_its_log_time():
    assert feed_words(True, 3600, NOW, NOW, 3600) == "replay at 3600x (log time 15:30)"
    assert feed_words(True, 3600, NOW, NOW, 0, done=True).startswith("replay finished")


def test_a_log_whose_last_line_is_old_says_so_in_the_displayed_offset():
    old = pd.Timestamp("2016-03-01 08:00", tz="UTC").timestamp()
    assert feed_words(False, 1, NOW, old, -5 * 3600) == (
        "no new lines since 2016-03-01 03:00 (still watching)")
    assert feed_words(False, 1, NOW, NOW - 60, 0) == "following: last line at 14:29"
    assert feed_words(False, 1, NOW, None, 0) == "following: no line yet"


def test_the_replaying_engine_says_replay_not_following(engine):  # noqa: F811
    e, _ = engine
    assert e.snapshot().feed.startswith("replay at 3600x (log time ")


def test_a_stale_log_is_flagged_and_its_forecast_is_not_called_the_next_hour():
    from types import SimpleNamespace

    from trafficwatch.series import HourlySeries
    from trafficwatch.views import _stale

    s = HourlySeries()
    old = int(pd.Timestamp("2016-03-01 08:00", tz="UTC").timestamp())
    s.add_coverage("shop", old, old)
    s._sites["shop"].last_ts = old
    live = SimpleNamespace(cfg=SimpleNamespace(replay=False), series=s, site="", now=lambda: NOW)
    assert _stale(live)
    assert not _stale(SimpleNamespace(cfg=live.cfg, series=s, site="", now=lambda: old + 60))
    assert not _stale(SimpleNamespace(cfg=SimpleNamespace(replay=True), series=s, site="",
                                      now=lambda: NOW))


async def test_a_stale_logs_forecast_is_labelled_by_its_end():
    from dataclasses import replace

    from tests.test_app import demo_snapshot, make_app

    app = make_app(replace(demo_snapshot(feed="no new lines since 2016-03-01 03:00 (still "
                                              "watching)"), stale=True))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#stats").render())
        assert "After the log's last hour, " in text and "Next hour" not in text
        assert "following" not in str(app.query_one("#status").render())
