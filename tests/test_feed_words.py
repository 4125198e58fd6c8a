"""The status line says honestly how lines arrive: a replay at its speed, or a live log gone quiet."""
from __future__ import annotations

import os

import pandas as pd

from tests.test_engine import engine  # noqa: F401 (the fixture)
from trafficwatch.engine.views import feed_words

NOW = pd.Timestamp("2026-11-20 14:30", tz="UTC").timestamp()


def test_a_replay_says_replay_at_its_speed_and_its_log_time():
    # a replay runs through days of logs: which day it is at is said (it said "14:30" alone)
    assert feed_words(True, 3600, NOW, NOW, 3600) == "replay at 3600x (log time 2026-11-20 15:30)"
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
    from trafficwatch.engine.views import STALE_S, is_stale

    old = pd.Timestamp("2016-03-01 08:00", tz="UTC").timestamp()
    assert is_stale(False, NOW, old)
    assert not is_stale(False, old + 60, old)
    assert is_stale(False, old + STALE_S + 1, old) and not is_stale(False, old + STALE_S, old)
    assert not is_stale(True, NOW, old)  # a replay's clock is the log's
    assert not is_stale(False, NOW, None)  # no line yet: nothing to be stale


def test_a_following_engine_on_an_old_log_is_stale():
    """The engine's frame carries the flag and the words (ViewState -> build_snapshot)."""
    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.logs.formats import COMBINED
    from trafficwatch.logs.parse import ParseOptions, parse_bytes

    line = b'1.2.3.4 - - [01/Mar/2016:08:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n'
    e = Engine(EngineConfig(paths=["x"], replay=False), lambda s: None)
    e.series.add("", parse_bytes(line, COMBINED, ParseOptions(keep_paths=True)).records)
    snap = e.snapshot()
    assert snap.stale and snap.feed == "no new lines since 2016-03-01 08:00 (still watching)"


def test_lines_dated_long_ago_that_still_come_are_not_a_quiet_log(tmp_path):
    """A log shipped in hourly batches, or a server's clock behind: a trial appended 200 lines
    dated 15 days back and the status line said "no new lines since" that day. What was there
    at the start is not lines coming."""
    from tests.test_follow import wait_for
    from tests.test_live import lines
    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.live import LiveFeed

    log = tmp_path / "a.example.access.log"
    log.write_text(lines(0, 3))  # dated 2026-11-20 10:00-10:02, days before the wall clock
    (tmp_path / "b.example.access.log").write_text(lines(0, 1))
    e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False), lambda s: None)
    f = LiveFeed(e.sink, None)
    e.source = f
    try:
        f.step(0.1)
        e.set_site("a.example")
        assert e.snapshot().feed == "no new lines since 2026-11-20 10:02 (still watching)"
        with log.open("a") as fh:
            fh.write(lines(3, 2))
        wait_for(lambda: (f.step(0.05), e.series.total() == 6)[1])
        assert e.snapshot().feed == "following: lines still coming, the last dated 2026-11-20 10:04"
        e.set_site("b.example")  # a site none of them came for
        assert e.snapshot().feed == "no new lines since 2026-11-20 10:00 (still watching)"
        e.set_site("")  # all sites: lines come
        assert e.snapshot().feed.startswith("following: lines still coming")
    finally:
        f.close()
    assert feed_words(False, 1, NOW, NOW - 7200, 0, last_read=NOW - 7200).startswith("no new")


def test_logs_read_whole_are_not_said_to_be_watched(tmp_path):
    """Old compressed logs alone: "(still watching)" stood beside "files followed 0 (6 read)"
    (a trial). Nothing is followed: the status line says so; a plain log beside them is."""
    import gzip

    from tests.test_follow import wait_for
    from tests.test_live import lines
    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.live import LiveFeed

    old = tmp_path / "a.example.access.log.2.gz"
    old.write_bytes(gzip.compress(lines(0, 3).encode()))
    os.utime(old, (NOW - 86400, NOW - 86400))  # rotated yesterday, not being written

    def feed() -> str:
        e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False), lambda s: None)
        f = LiveFeed(e.sink, None)
        e.source = f
        try:
            wait_for(lambda: (f.step(0.05), e.series.total() >= 3)[1])
            return e.snapshot().feed
        finally:
            f.close()

    words = feed()
    assert words == "no new lines since 2026-11-20 10:02 (no log left to follow; new ones are read)"
    assert len(words) <= 78  # one row of the status line at 80 columns
    (tmp_path / "a.example.access.log").write_text(lines(3, 1))
    assert feed() == "no new lines since 2026-11-20 10:03 (still watching)"


async def test_a_stale_logs_forecast_is_labelled_by_its_end():
    from dataclasses import replace

    from tests.test_app import T0, demo_snapshot, make_app

    old = replace(demo_snapshot(feed="no new lines since 2016-03-01 03:00 (still watching)"),
                  stale=True, now=T0 + 13 * 86400)
    async with make_app(old).run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(pilot.app.query_one("#stats").render())
        assert "After the log's last hour, " in text and "Next hour" not in text
        assert "following" not in str(pilot.app.query_one("#status").render())
    # a log silent for 3 hours but written today runs on to now with zeros: its forecast is the
    # next hour's (a trial read "After the log's last hour, 20:00" of a log last written at 15:59)
    silent = replace(old, now=float(old.forecast.hours[0]) + 600)
    async with make_app(silent).run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(pilot.app.query_one("#stats").render())
        assert "Next hour " in text and "After the log's last hour" not in text


async def test_a_replay_says_its_lines_were_all_read_before_it(engine):  # noqa: F811
    # replaying day 9 of 7 weeks, the pane read "Lines read 230,714 · counted 230,714": the
    # whole archive, beside a chart of its first days
    from tests.test_app import make_app

    e, _ = engine
    snap = e.snapshot()
    assert snap.ingest.read_ahead
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert "Lines read" in str(app.query_one("#stats").render())
        assert "(the whole logs, read before replaying them)" in str(app.query_one("#stats").render())
