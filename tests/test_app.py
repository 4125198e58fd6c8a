"""The app with a fake engine: panes show the snapshot's numbers, keys reach the engine."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from trafficwatch.app.app import SnapshotReady, TrafficWatchApp
from trafficwatch.engine.snapshot import (
    Anomaly,
    ForecastView,
    GateView,
    HourTop,
    IngestView,
    SeriesView,
    Snapshot,
    TailLine,
)

T0 = 1_795_000_000 // 3600 * 3600


def demo_snapshot(tail=(), examples=None, skipped=(), sites=("shop", "blog"), status="",
                  feed="following: last line at 12:59") -> Snapshot:
    rng = np.random.default_rng(0)
    hours = T0 + 3600 * np.arange(-96, 1)
    counts = 100 + 50 * np.sin(np.arange(97) / 24 * 2 * np.pi) + rng.normal(0, 5, 97)
    counts[10:13] = np.nan  # a gap
    past = counts[:-1].copy()  # the day-ahead forecasts: right, but for the anomaly
    counts[94] = 400.0  # the anomaly two hours ago
    fh = T0 + 3600 * np.arange(24)
    p50 = np.full(24, 123.0)
    gates = {k: rng.random((168, 8)).astype(np.float32) for k in
             ("forget", "input", "output", "candidate", "cell")}
    return Snapshot(
        sites=sites, site="shop", metric="hits",
        series=SeriesView("shop", "hits", hours, counts, partial_hour=int(T0), tz_offset_s=3600,
                          last_week=counts[::-1].copy()),
        forecast=ForecastView(fh, p50 - 20, p50, p50 + 30, hours[:-1], past - 10, past,
                              past + 10, "lstm:default", "trained 2026-11-20 on cpu",
                              0.71, 0.95, 0.75, 0.82, past_alarm_lo=past - 20,
                              past_alarm_hi=past + 20),
        gates=GateView(T0 - 3600 * np.arange(168)[::-1], *(gates[k] for k in
                       ("forget", "input", "output", "candidate", "cell")),
                       gates["forget"].mean(1), gates["input"].mean(1), gates["output"].mean(1),
                       {"forget": np.zeros(168), "input": np.zeros(168), "output": np.zeros(168)},
                       np.linspace(1, 3, 168), (100,),
                       reliance={"last week": 0.52, "4-week median": 0.31, "yesterday": 0.09,
                                 "last hour": 0.08}),
        anomalies=(Anomaly(int(T0 - 7200), int(T0 - 7200), 400.0, past[94] - 20, past[94] + 20, 1,
                           False,
                           end=int(T0 - 3600)),),
        ingest=IngestView(lines_read=1234, parsed=1230, malformed={"bad time": 4},
                          malformed_examples=examples or {"bad time": "x [99/Foo/2026] y"},
                          malformed_files={"bad time": ("/var/log/nginx/access.log",)},
                          files=(("access.log", "COMBINED"),), skipped=skipped),
        tail=tuple(tail), status=status, feed=feed, tops=demo_tops(hours),
        day=HourTop(int(T0 - 23 * 3600), 24, (("2xx", 2100), ("3xx", 300), ("4xx", 480),
                                               ("5xx", 20)),
                    (("/", 900), ("/wp-login.php", 610), ("/api/cart", 305)),
                    (("203.0.113.66", 700, 0), ("198.51.100.7", 410, 0), ("192.0.2.1", 95, 3))))


def demo_tops(hours) -> tuple[HourTop, ...]:
    """Each shown hour's breakdown; the anomaly hour (two hours ago) is a login flood."""
    out = []
    for h in hours.tolist():
        if h == T0 - 7200:
            out.append(HourTop(h, 1, (("2xx", 90), ("4xx", 300), ("5xx", 10)),
                               (("/wp-login.php", 290), ("/", 60), ("/about", 12)),
                               (("203.0.113.66", 288, 0), ("198.51.100.7", 40, 0),
                                ("192.0.2.1", 9, 2))))
        else:
            out.append(HourTop(h, 1, (("2xx", 80), ("3xx", 15), ("4xx", 5)),
                               (("/", 40), ("/api/cart", 20)), (("198.51.100.7", 30, 0),),
                               clients_kept=h >= T0 - 48 * 3600))
    return tuple(out)


class FakeEngine:
    """Records what the app asked for; hands out a fixed snapshot."""

    def __init__(self, cb, snap: Snapshot) -> None:
        self.cb, self.snap, self.calls = cb, snap, []
        self.latest = snap

    def start(self) -> None:
        self.cb(self.snap)

    def stop(self) -> None:
        self.calls.append("stop")

    def set_site(self, site: str) -> None:
        self.calls.append(("site", site))

    def cycle_metric(self) -> str:
        self.calls.append("metric")
        return "pages"

    def set_filter(self, flt) -> None:
        self.calls.append(("filter", flt))


def make_app(snap: Snapshot | None = None) -> TrafficWatchApp:
    return TrafficWatchApp(lambda cb: FakeEngine(cb, snap or demo_snapshot()))


def screen_text(app: TrafficWatchApp) -> str:
    """The screen's text (the SVG export without tags, non-breaking spaces as spaces)."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


async def settled_text(app: TrafficWatchApp, pilot, *wanted: str, timeout: float = 20.0) -> str:
    """The screen's text once every `wanted` string is on it, or after `timeout` seconds.

    The footer draws its keys a refresh after the screen mounts: on a busy CI one pause was
    too few (the footer was still empty).
    """
    import time

    end = time.monotonic() + timeout
    text = screen_text(app)
    while not all(w in text for w in wanted) and time.monotonic() < end:
        await pilot.pause(0.05)
        text = screen_text(app)
    return text


async def footer_keys(app: TrafficWatchApp, pilot, timeout: float = 20.0) -> list:
    """The footer's keys once it has drawn them (see `settled_text`)."""
    import time

    from textual.widgets._footer import FooterKey

    end = time.monotonic() + timeout
    while not any(k.description == "Quit" for k in app.query(FooterKey)) \
            and time.monotonic() < end:
        await pilot.pause(0.05)
    return list(app.query(FooterKey))


async def test_a_site_in_its_first_hour_shows_its_count_so_far():
    # no complete hour yet, so no forecast: the Now pane said nothing of the hour being counted
    from dataclasses import replace

    snap = demo_snapshot()
    first = replace(snap, forecast=None, gates=None, anomalies=(), series=replace(
        snap.series, hours=snap.series.hours[-1:], counts=np.array([37.0]), last_week=None))
    app = make_app(first)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        stats = str(app.query_one("#stats").render())
        assert "This hour (12:00) so far: 37" in stats and "no forecast until" in stats


async def test_an_hour_already_above_its_forecast_says_so():
    # a replay read "This hour (21:00) so far: 285 of ~123 forecast"
    from dataclasses import replace

    snap = demo_snapshot()
    counts = snap.series.counts.copy()
    counts[-1] = 285.0
    async with make_app(replace(snap, series=replace(snap.series, counts=counts))).run_test(
            size=(160, 50)) as pilot:
        await pilot.pause()
        stats = str(pilot.app.query_one("#stats").render())
        assert "so far: 285, above the ~123 forecast for the hour" in stats


async def test_stats_pane_shows_the_snapshots_numbers():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        stats = str(app.query_one("#stats").render())
        assert "so far: 101 of ~123 forecast" in stats
        assert "Next hour" in stats and "123" in stats and "103–153" in stats
        assert "(80% band 103–153)" in stats  # the band named: "(103–153)" alone was not read as one
        assert "MASE 0.71" in stats and "ratio 0.75" in stats and "82%" in stats
        assert "lstm:default" in stats and "malformed 4" in stats
        assert "4 bad time in access.log: x [99/Foo/2026] y" in stats  # which file, by name


async def test_an_hour_that_flattens_the_chart_points_to_the_log_scale():
    # a trial: after a crawler's hour of 890, a week of 40-120 and the forecast sat in the
    # chart's bottom rows, and nothing said that `l` would show them
    from dataclasses import replace

    from trafficwatch.app.chart import ForecastChart

    snap = demo_snapshot()
    counts = snap.series.counts.copy()
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        chart = app.query_one(ForecastChart)
        assert "log scale" not in str(chart.border_title)
        counts[-30] = 10 * np.nanmax(counts)
        chart.update(replace(snap, series=replace(snap.series, counts=counts)))
        assert f"l: log scale (an hour of {int(counts[-30]):,} flattens the rest)" in \
            str(chart.border_title)
        # an hour of the series that the chart does not show (off its left edge at 80
        # columns) flattens nothing: not said (a trial: an hour 16 days back, none drawn)
        old = snap.series.counts.copy()
        old[0] = 10 * np.nanmax(old)
        assert len(old) > 80
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        chart.update(replace(snap, series=replace(snap.series, counts=old)))
        assert "log scale" not in str(chart.border_title)
        chart.update(replace(snap, series=replace(snap.series, counts=counts)))
        # at 80 columns in the fewest words that fit whole (it had been cut: "(an hour of
        # 4,11…", a trial)
        title = str(chart.border_title)
        assert title.endswith((f"· l: log scale ({int(counts[-30]):,} flattens the rest)",
                               "· l: log scale")), title
        assert len(title) <= chart.size.width - 4
        await pilot.press("l")
        await pilot.pause()
        assert str(chart.border_title).endswith(" · log scale")


@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
async def test_a_nominal_band_is_called_so_not_80_percent(size):
    """A trial's 15 hours of log: "80% band 62-184", while `forecast` said the band was the
    median +-50 %, too little history to measure one."""
    from dataclasses import replace

    snap = demo_snapshot()
    app = make_app(replace(snap, forecast=replace(snap.forecast, nominal=True)))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        stats = " ".join(str(app.query_one("#stats").render()).split())
        assert "(nominal +-50%: 103–153)" in stats and "80% band" not in stats


@pytest.mark.parametrize("n_reasons", [4, 5, 7])
async def test_every_malformed_reason_is_listed_or_summed_in_the_now_pane(n_reasons):
    # the total said "malformed 4" and three reasons were listed: the fourth line was nowhere
    from dataclasses import replace

    snap = demo_snapshot()
    reasons = {f"reason {k}": 10 - k for k in range(n_reasons)}
    app = make_app(replace(snap, ingest=replace(
        snap.ingest, malformed=reasons, malformed_examples={r: f"ex{r[-1]}" for r in reasons})))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        stats = str(app.query_one("#stats").render())
    listed = re.findall(r"^ +(\d+) reason (\d): ex(\d)$", stats, flags=re.MULTILINE)
    more = re.findall(r"^ +(\d+) more in (\d+) other reasons", stats, flags=re.MULTILINE)
    assert sum(int(n) for n, *_ in listed) + sum(int(n) for n, _ in more) == sum(reasons.values())
    assert len(listed) + sum(int(k) for _, k in more) == n_reasons
    assert len(listed) <= 5 and all(a == b for _, a, b in listed)


async def test_keys_reach_the_engine_and_quit_saves_state():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("m")
        await pilot.press("q")
    assert app.engine.calls[0] == "metric" and "stop" in app.engine.calls


async def test_the_metric_key_pressed_again_keeps_one_toast():
    """m pressed a few times piled "metric: visitors", "metric: hits"... over the gates pane for
    seconds (a trial): the last one alone is shown."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, "m", 4)
        await pilot.pause()
        said = [n.message for n in app._notifications]  # (the test screen draws no toasts)
        assert len([m for m in said if m.startswith("metric: ")]) == 1, said


async def test_the_footer_fits_80_columns_and_the_keys_it_leaves_out_still_work():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        footer = (await settled_text(app, pilot, "^p palette")).rstrip().splitlines()[-1].rstrip()
        assert footer.endswith("^p palette") and "Top" in footer  # no stray character after it
        assert "Week" not in footer
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert "Week" in (await settled_text(app, pilot, "Week")).rstrip().splitlines()[-1]
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        chart = app.query_one("#chart")
        await pilot.press("w", "b", "l")
        assert chart.week_overlay and not chart.show_band and chart.log_scale


@pytest.mark.parametrize("size", [(60, 16), (64, 24), (80, 24)])
async def test_a_narrow_footer_keeps_the_keys_most_needed(size):
    # at 60x16 the footer ended at "/ Filter": v, the only way to the other panes there, was
    # left out for keys of less use, by their order alone
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        shown = {k.description for k in await footer_keys(app, pilot)}
    assert {"Quit", "Help", "Panes", "Hour"} <= shown


@pytest.mark.parametrize("width", [60, 64, 72, 80, 100])
async def test_no_footer_key_runs_under_the_palettes_key_at_any_width(width):
    # below 80 columns the keys ran under the docked "^p palette", and a letter of the key it
    # covered showed after it ("h Gat▏^p palettet")
    app = make_app()
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        keys = await footer_keys(app, pilot)
        palette = next(k for k in keys if "command_palette" in k.action)
        shown = [k for k in keys if k is not palette]
        assert {k.description for k in shown} >= {"Quit", "Help"}
        assert all(k.region.right <= palette.region.x + 1 for k in shown), \
            [(k.description, k.region) for k in shown]
        assert palette.region.right >= width - 1  # docked at the right edge


async def test_the_gates_pane_says_the_lstms_share_of_the_line_drawn():
    from dataclasses import replace

    from trafficwatch.engine.predict import predict
    from trafficwatch.model.forecaster import Forecaster

    snap = demo_snapshot()
    app = make_app(replace(snap, forecast=replace(snap.forecast, lstm_share=0.1)))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        words = " ".join(str(app.query_one("#gates").render()).split())
    assert "Relying on (the LSTM, 10% of the line drawn): same hours last week 52%" in words
    # on two lines where on one "others" would outweigh every base named (a trial: "typical
    # week at today's level 24%, others 76%")
    spread = {"4-week median at today's level": 0.24, "7-day median": 0.2, "yesterday": 0.19,
              "last week": 0.15, "last hour": 0.12, "week's mean": 0.1}
    app = make_app(replace(snap, forecast=replace(snap.forecast, lstm_share=0.3),
                           gates=replace(snap.gates, reliance=spread)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        words = " ".join(str(app.query_one("#gates").render()).split())
    assert ("Relying on (the LSTM, 30% of the line drawn): typical week at today's level 24%, "
            "typical day of the last 7 20%, yesterday 19%, others 37%") in words, words
    # the share is the forecast's own: predict passes it on
    idx = pd.date_range("2026-10-01", periods=24 * 28, freq="h", tz="UTC")
    s = pd.Series(np.random.default_rng(0).poisson(80, len(idx)).astype(float), index=idx)
    f, p = Forecaster.load().forecast(s, 24), predict(s, Forecaster.load())
    assert p.lstm_share == pytest.approx(f.lstm_share) and 0 <= f.lstm_share <= 1


async def test_chart_and_gate_toggles():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart")
        words = str(app.query_one("#gates").render())
        assert "Relying on: same hours last week 52%, typical week 31%, yesterday 9%" in words
        assert "Memory last reset: " in words and re.search(r"^forget gate [▁-█]+ ", words, re.MULTILINE)
        await pilot.press("w", "b", "l", "h")
        assert chart.week_overlay and not chart.show_band and chart.log_scale
        assert app.query_one("#gates").heatmap
        assert "Forget gate, 8 units × the week" in str(app.query_one("#gates").render())
        seen = []
        for _ in range(4):  # input, output, cell, then back to words
            await pilot.press("h")
            seen.append(str(app.query_one("#gates").render()).split(" ", 1)[0])
        assert seen == ["Input", "Output", "Memory", "Relying"]


async def test_each_gate_heatmap_opens_at_its_title_and_j_k_keep_it_in_view():
    # scrolled down the forget gate's units with j, h showed the input gate scrolled as far,
    # the line naming it off the top; and j/k scrolled the gate's name and the hour axis away
    import re

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("h", "j", "j", "j", "j")
        await pilot.pause()
        text = screen_text(app)
        rows = re.findall(r"^u(\d+) ", text, re.MULTILINE)
        assert rows and rows[0] == "4", text  # the units moved on by four
        assert "Forget gate" in text and "j/k: units u4–" in text  # the header stayed
        await pilot.press("k", "k", "k", "k", "k", "k")  # past the first unit: it stops there
        await pilot.pause()
        assert re.findall(r"^u(\d+) ", screen_text(app), re.MULTILINE)[0] == "0"
        await pilot.press("G")  # the last units, the last one at the bottom
        await pilot.pause()
        text = screen_text(app)
        units = int(re.search(r"j/k: units u\d+–u\d+ of (\d+)", text)[1])
        assert re.findall(r"^u(\d+) ", text, re.MULTILINE)[-1] == str(units - 1)
        await pilot.press("j", "h")
        await pilot.pause()
        text = screen_text(app)
        assert "Input gate" in text and re.findall(r"^u(\d+) ", text, re.MULTILINE)[0] == "0"


async def test_help_and_filter_screens_open_and_filter_applies():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        await pilot.press("slash")
        assert app.screen.__class__.__name__ == "FilterScreen"
        app.screen.query_one("#status").value = "4xx,5xx"
        await pilot.press("enter")
        await pilot.pause()
    flt = next(c[1] for c in app.engine.calls if c[0] == "filter")
    assert flt.status_classes == frozenset({4, 5})


@pytest.mark.parametrize("typed, bots, site, error", [
    ("sho", "", "shop", None),  # a part of one name, as the site picker finds it; bots empty:
    ("all", "none", "", None),  # all (it was refused); "all": every site
    ("o", "all", None, "site 'o' is part of 2 names: shop, blog"),
    ("zzz", "all", None, "no site's name holds 'zzz' (sites: shop, blog; all: every site)"),
])
async def test_the_filter_s_site_field_reads_as_the_picker_and_an_empty_bots_field_is_all(
        typed, bots, site, error):
    # a trial: "blog" was "no site 'blog'", no word gave all sites back, the error named no
    # site, and an emptied bots field was refused where every other empty field is its default
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await enter_filter(app, pilot, site=typed, bots=bots)
        if error is not None:
            assert app.screen.__class__.__name__ == "FilterScreen"
            assert error in str(app.screen.query_one("#error").render())
            return
    assert ("site", site) in app.engine.calls
    flt = next(c[1] for c in app.engine.calls if c[0] == "filter")
    assert flt.bots is (bots != "none")


async def enter_filter(app: TrafficWatchApp, pilot, **values: str) -> None:
    """`/`, these fields typed (by id), Enter."""
    await pilot.press("slash")
    await pilot.pause()
    for field, value in values.items():
        app.screen.query_one(f"#{field}").value = value
    await pilot.press("enter")
    await pilot.pause()


async def open_help(app: TrafficWatchApp, pilot):
    """The help screen's scrolling box, once the app is up and `?` was pressed."""
    await pilot.pause()
    await pilot.press("question_mark")
    await pilot.pause()
    return app.screen.query_one("#help")


def burst(app: TrafficWatchApp, key: str, n: int) -> None:
    """`key` n times as a terminal sends keys pressed quickly: in one read, all posted at once."""
    from textual import events

    for _ in range(n):
        app.post_message(events.Key(key, key if len(key) == 1 else None))


async def test_help_scrolls_with_the_keys_every_pane_scrolls_with():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        box = await open_help(app, pilot)
        assert box.max_scroll_y > 10  # at 80x24 the help is longer than its window
        # the keys first: they were its last paragraph, two pages down (a trial)
        text = " ".join(screen_text(app).split())
        assert "Keys q (ctrl+q) quit" in text and "ctrl+z suspend" in text
        await pilot.press("j", "j")
        await pilot.pause()
        assert box.scroll_y == 2
        await pilot.press("G")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y
        await pilot.press("k")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y - 1
        await pilot.press("g")
        await pilot.pause()
        assert box.scroll_y == 0


async def test_keys_that_arrive_together_each_scroll_a_line():
    """Over SSH keys come in bursts (a key held down, a slow link): jjjj in one read scrolled
    the help one line, Down Down Down a pane one line (each scroll was put off until the next
    refresh, and each began from where the one before had not yet gone: a trial)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        async def scrolled(widget, key: str, n: int) -> float:  # n keys in one read
            burst(app, key, n)
            await pilot.pause()
            return widget.scroll_y

        box = await open_help(app, pilot)
        assert await scrolled(box, "j", 4) == 4
        assert await scrolled(box, "down", 3) == 7
        await pilot.press("escape")
        await pilot.pause()
        pane = app.query_one("#stats-box")
        pane.focus()
        await pilot.pause()
        assert pane.max_scroll_y >= 5, pane.max_scroll_y
        assert await scrolled(pane, "j", 2) == 2
        assert await scrolled(pane, "down", 2) == 4
        assert await scrolled(pane, "k", 3) == 1


async def test_path_regex_filter_applies_and_a_bad_one_is_refused():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        assert "Apply" in screen_text(app) and "Path regex" in screen_text(app)  # fits 80x24
        await pilot.press(*"(api")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "FilterScreen"
        assert "path regex" in str(app.screen.query_one("#error").render())
        app.screen.query_one("#path").value = r"^/api/"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ != "FilterScreen"
    (flt,) = [c[1] for c in app.engine.calls if c[0] == "filter"]
    assert flt.path == r"^/api/"


async def test_a_filter_is_cleared_in_one_go_from_its_screen_or_the_palette():
    # a trial: the only way to drop a filter was to empty each of its fields with ctrl+u
    from trafficwatch.filters import ViewFilter

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.engine.filter = ViewFilter(path="^/api/", bots=False)
        await pilot.press("slash")
        await pilot.pause()
        assert "Clear all" in screen_text(app) and "Esc cancels" in screen_text(app)  # 80 cols
        await pilot.click("#clear")
        await pilot.pause()
        assert app.screen.__class__.__name__ != "FilterScreen"
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        titles["Filter: clear"].callback()
        # from the palette over an open filter dialog: "Filter…" opens no second one, and
        # "Filter: clear" closes it (left open, its old values came back with Enter: a trial)
        await pilot.press("slash")
        await pilot.pause()
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        titles["Filter…"].callback()
        await pilot.pause()
        assert sum(s.__class__.__name__ == "FilterScreen" for s in app.screen_stack) == 1
        titles["Filter: clear"].callback()
        await pilot.pause()
        assert not any(s.__class__.__name__ == "FilterScreen" for s in app.screen_stack)
    assert [c[1] for c in app.engine.calls if c[0] == "filter"] == [ViewFilter()] * 3
    assert not [c for c in app.engine.calls if c[0] == "site"]  # the site is kept


async def test_bad_filter_is_shown_not_applied():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        app.screen.query_one("#bots").value = "maybe"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "FilterScreen"
        assert "bots" in str(app.screen.query_one("#error").render())
        app.screen.query_one("#bots").value = "none"  # fixed: the error is not left standing
        await pilot.pause()
        assert str(app.screen.query_one("#error").render()) == ""
    assert not [c for c in app.engine.calls if c[0] == "filter"]


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_small_and_large_terminals_render(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert "Next hour" in screen_text(app)


async def test_empty_and_error_states_are_messages_on_screen():
    snap = Snapshot(sites=(), site="", metric="hits", series=None, forecast=None, gates=None,
                    anomalies=(), ingest=IngestView(),
                    status="no access log found in /var/log/empty: point trafficwatch at a log")
    app = make_app(snap)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "no access log found" in text
        assert "Gates: shown once the LSTM runs" in text


async def test_small_screen_reaches_anomalies_and_tail_with_v():
    app = make_app(demo_snapshot(tail=[TailLine(0.0, "shop", "GET /tail-line")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = await settled_text(app, pilot, "h Gates", "v Panes")
        assert "Relying on" in text and "400 vs 57–96" not in text
        assert "h Gates" in text and "v Panes" in text  # both keys fit the footer
        assert "v: top" in text
        await pilot.press("v")
        await pilot.pause()
        text = screen_text(app)
        assert "Top, last 24 h · v: anomalies (1)" in text and "610 /wp-login.php" in text
        await pilot.press("v")
        await pilot.pause()
        text = screen_text(app)
        assert "400 vs 57–96" in text and "Relying on" not in text
        assert app.focused is app.query_one("#anomalies-box")
        await pilot.press("v")
        await pilot.pause()
        assert "GET /tail-line" in screen_text(app)


async def test_the_command_palette_offers_the_apps_actions():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Filter…", "Site…", "Chart: log scale", "Panes: gates / top / anomalies / log tail",
                "Top: the last 24 h", "Hour: previous", "Hour: back to now"} <= set(titles)


async def test_chart_legend_names_each_series_by_its_marker():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "⣿ actual" in text and "• forecast" in text and "· past forecasts" in text
        assert "x anomaly" in text and "~" not in text.split("shop · hits per hour")[1][:200]
        await pilot.press("w", "l")
        await pilot.pause()
        text = screen_text(app)
        assert "~ same hours last week" in text or "~ last wk" in text
        assert "shop · hits per hour · log scale" in text


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_the_legend_stays_when_the_count_labels_are_wide(size):
    # a burst of 3,000 in an hour widens the count labels: plotext then left out a legend that
    # fitted the pane but not the figure beside them, and the chart had no legend at all
    from dataclasses import replace

    snap = demo_snapshot()
    counts = snap.series.counts.copy()
    counts[-30] = 123_456.0
    app = make_app(replace(snap, series=replace(snap.series, counts=counts)))
    async with app.run_test(size=size) as pilot:
        await pilot.press("w")  # one more series in the legend
        await pilot.pause()
        text = screen_text(app)
    title = next(line for line in text.splitlines() if "⣿ actual" in line or "actual" in line)
    assert "⣿ actual" in title and "• forecast" in title


@pytest.mark.parametrize("size", [(60, 20), (64, 24), (80, 24)])
async def test_a_narrow_legend_keeps_the_words_of_marks_one_cannot_place(size):
    # at 60 columns the legend left out its last words, "x anomaly" and "◆ log end", while both
    # marks were drawn; the band's dashes and the past forecasts' dots read by their place
    from dataclasses import replace

    snap = demo_snapshot()
    app = make_app(replace(snap, series=replace(snap.series, log_end=int(T0) + 1800)))
    async with app.run_test(size=size) as pilot:
        await pilot.press("w")  # last week's line too: one more word to fit
        await pilot.pause()
        text = screen_text(app)
    title = next(line for line in text.splitlines() if "actual" in line)
    if size[0] >= 80:  # every mark drawn keeps a word, the fewest that name it (TINY): "·
        # past" and "- band" had been left out at 80x24 with last week's line, and under
        # NO_COLOR the dots and dashes could not be told apart (a trial)
        for word in ("⣿ actual", "~ wk", "· past", "band: thin", "• fcst", "x anom", "◆ end"):
            assert word in title, title
        return
    assert "⣿ actual" in title and "x anomaly" in title and "• forecast" in title, title
    assert "◆ log end" not in title, title  # below: the mark at the end
    # what is left out where not every word fits: the lines one can tell by their place
    assert "~ last wk" not in title and "- band" not in title and "· past" not in title


@pytest.mark.parametrize(("so_far", "said"), [(3.0, "▼ now: 3"), (120.0, "◆ now")])
async def test_an_hour_so_far_drawn_on_the_axis_floor_says_its_count_in_the_legend(so_far, said):
    # a newcomer's trial: the logs' last hour, 41 requests by 07:06, sat on the axis' "105"
    # (the axis does not go to 0 for it) and read as 105
    from dataclasses import replace

    snap = demo_snapshot()
    counts = snap.series.counts.copy()
    counts[-1] = so_far
    app = make_app(replace(snap, series=replace(snap.series, counts=counts)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")  # a log axis starts at the power of ten under the lowest line: 10
        await pilot.pause()
        text = screen_text(app)
    legend = next(line for line in text.splitlines() if "actual" in line)
    assert said in legend and ("now:" in legend) == (so_far < 10), legend
    assert ("▼" in legend) == (so_far < 10) != ("◆" in legend), legend  # (a ▼ drawn below)


@pytest.mark.parametrize("replay", [True, False])
async def test_a_replay_s_rate_is_its_pace_not_a_reading_speed(replay):
    # a trial read "164 lines/s" in a replay, whose every line was read before it began
    from dataclasses import replace

    snap = demo_snapshot()
    app = make_app(replace(snap, ingest=replace(snap.ingest, lines_per_s=164.0,
                                                read_ahead=replay)))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = " ".join(screen_text(app).split())
    assert "164" in text and ("replaying 164" in text) == replay  # (the line may wrap after)


async def test_status_line_says_replay_and_a_quiet_log_honestly():
    for feed in ("replay at 3600x (log time 12:00)", "no new lines since 2016-03-01 03:00 (still watching)"):
        app = make_app(demo_snapshot(feed=feed))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert str(app.query_one("#status").render()) == feed
    # a log silent for weeks and too short for the LSTM: both said, the silence first
    from dataclasses import replace

    feed = "no new lines since 2026-11-20 06:22 (still watching)"
    why = "seasonal naive shown, not the LSTM: needs at least 24 observed hours, the series has 23"
    app = make_app(replace(demo_snapshot(feed=feed), status=why))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert str(app.query_one("#status").render()) == f"{feed} · {why}"
        assert app.query_one("#status").size.height == 1
        await pilot.resize_terminal(120, 40)  # too long for one row: a second, not cut off
        await pilot.pause()
        assert app.query_one("#status").size.height == 2
        assert "the series has 23" in " ".join(screen_text(app).split())
    longer = why + ": 1 more needed; the last day has 23 hours with a count"
    app = make_app(replace(demo_snapshot(feed=feed), status=longer))
    async with app.run_test(size=(80, 24)) as pilot:  # too long for two rows: cut at a word,
        await pilot.pause()  # with "…" (it was cut mid-word at the second row's end, unsaid)
        status = app.query_one("#status")
        text = str(status.render())
        assert status.size.height == 2 and text.endswith(" …") and len(text) <= 2 * 78 - 8
        assert text.startswith(feed) and f"{feed} · {longer}".startswith(text[:-2])


async def test_the_status_line_points_to_notices_below_the_fold_of_a_small_screen():
    # a trial at 80x24: "state file ... is in use by another trafficwatch" sat at the foot of
    # the Now pane, out of sight, while the app did not save its state
    from dataclasses import replace

    snap = demo_snapshot(feed="following: last line at 14:14")
    lock = ("state file /home/u/.local/state/trafficwatch/app-1.json is in use by another "
            "trafficwatch (pid 4242) on these logs: this one counts from the logs and does not "
            "save state (--state PATH gives it its own)")
    app = make_app(replace(snap, ingest=replace(snap.ingest, notices=(lock,))))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert str(app.query_one("#status").render()) == \
            "following: last line at 14:14 · 1 notice at the foot of Now"
    # a longer line says it shorter, on one line (it wrapped "... at the foot of" / "Now")
    long = "no new lines since 2022-12-23 02:00 (still watching)"
    app = make_app(replace(snap, feed=long, ingest=replace(snap.ingest, notices=(lock,))))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert str(app.query_one("#status").render()) == f"{long} · 1 notice in Now"


async def test_a_filter_that_would_wrap_the_status_line_is_left_to_the_chart_title():
    # a trial at 80x24: "replay at 3600x (...) · forecasting this view… · filter:" / "path ~
    # ^/cart" grew the status line a row, and every pane moved down and back
    from dataclasses import replace

    feed = "replay at 3600x (log time 2026-10-14 18:24)"
    snap = replace(demo_snapshot(feed=feed, status="forecasting this view…"),
                   filter="path ~ ^/cart")
    for size, want in (((80, 24), f"{feed} · forecasting this view…"),
                       ((160, 50), f"{feed} · forecasting this view… · filter: path ~ ^/cart")):
        app = make_app(snap)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            status = app.query_one("#status")
            assert str(status.render()) == want and status.size.height == 1
            assert "path ~ ^/cart" in str(app.query_one("#chart").border_title or "") \
                or "path ~ ^/cart" in screen_text(app)


async def filter_typed(start: str, end: str):
    """The filter applied after typing From and To in the demo (its logs at UTC+01:00)."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        assert "chart's UTC+01:00)" in screen_text(app)
        app.screen.query_one("#start").value = start
        app.screen.query_one("#end").value = end
        await pilot.press("enter")
        await pilot.pause()
    (flt,) = [c[1] for c in app.engine.calls if c[0] == "filter"]
    return flt


async def test_filter_dates_are_typed_in_the_charts_offset():
    flt = await filter_typed("2026-11-20 10:00", "2026-11-20 12:00+00:00")
    assert flt.start == pd.Timestamp("2026-11-20 09:00", tz="UTC")
    assert flt.end == pd.Timestamp("2026-11-20 12:00", tz="UTC")


async def test_a_day_alone_as_the_filter_s_end_includes_that_day_and_is_shown_as_typed():
    """'to 2026-11-21' left the 21st out (its midnight was the end), and the status line said
    '2026-11-20 09:00:00+00:00 – ...': UTC with seconds beside a chart at UTC+01:00 (trial)."""
    from trafficwatch.filters import ViewFilter

    flt = await filter_typed("2026-11-20", "2026-11-21")
    assert flt.start == pd.Timestamp("2026-11-19 23:00", tz="UTC")
    assert flt.end == pd.Timestamp("2026-11-21 22:00", tz="UTC")  # 23:00 at UTC+01:00
    assert flt.describe(3600) == "2026-11-20 00:00 – 2026-11-21 23:00"
    assert ViewFilter(end=flt.end).describe() == "… – 2026-11-21 22:00"


MANY_SITES = tuple(f"site{i:03d}.example" for i in range(500)) + ("blog.example",)


async def test_site_picker_has_a_title_and_narrows_as_you_type():
    app = make_app(demo_snapshot(sites=MANY_SITES))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert "Show which site? (501 sites + all)" in screen_text(app)
        await pilot.press(*"BLO")
        await pilot.pause()
        assert app.screen.query_one("#sites").option_count == 1
        await pilot.press("enter")
        await pilot.pause()
        assert ("site", "blog.example") in app.engine.calls
        await pilot.press("s", *"all")  # the entry for every site, found by its name too (a
        await pilot.pause()  # trial: "no site's name contains 'all'" beside it)
        listing = app.screen.query_one("#sites")
        assert listing.get_option_at_index(0).id == "all" and listing.option_count == 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.engine.calls[-1] == ("site", "")
        picked = len(app.engine.calls)
        await pilot.press("s", "escape")  # cancelled: the view as it was (it had turned to
        await pilot.pause()  # all sites, a trial)
        assert app.screen.__class__.__name__ != "SitePicker"
        assert not [c for c in app.engine.calls[picked:] if c[0] == "site"], app.engine.calls


async def test_the_site_picker_pages_goes_to_either_end_and_sorts_names_in_any_case():
    # a hosting trial: 165 sites, ten screens at 80x24 a line a key (Page Down, End did
    # nothing), "Shop.EXAMPLE.com" listed before "a.example" (sorted by code point)
    sites = MANY_SITES[:60] + ("Shop.EXAMPLE.com", "a.example")
    app = make_app(demo_snapshot(sites=sites))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        listing = app.screen.query_one("#sites")
        ids = [listing.get_option_at_index(i).id for i in range(listing.option_count)]
        assert ids[:4] == ["all", "site:a.example", "site:Shop.EXAMPLE.com",
                           "site:site000.example"] and ids[-1] == "site:site059.example"
        await pilot.press("pagedown")
        await pilot.pause()
        page = listing.highlighted
        assert page >= 5
        await pilot.press("pagedown")
        await pilot.pause()
        assert listing.highlighted == 2 * page
        await pilot.press("end")
        await pilot.pause()
        assert listing.highlighted == listing.option_count - 1
        await pilot.press("pageup", "home")
        await pilot.pause()
        assert listing.highlighted == 0
        await pilot.press("end", "enter")
        await pilot.pause()
    assert app.engine.calls[-1] == ("site", "site059.example")


async def test_the_site_picker_puts_the_name_typed_whole_first():
    """'shop' and Enter opened api.bigshop.com, listed before shop (a busy server's trial)."""
    app = make_app(demo_snapshot(sites=("api.bigshop.com", "www.bigshop.com", "shop",
                                        "shop.example.com")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s", *"shop")
        await pilot.pause()
        listing = app.screen.query_one("#sites")
        assert [listing.get_option_at_index(i).id for i in range(listing.option_count)] == [
            "site:shop", "site:shop.example.com", "site:api.bigshop.com", "site:www.bigshop.com"]
        await pilot.press("enter")
        await pilot.pause()
    assert app.engine.calls[-1] == ("site", "shop")


async def test_site_picker_still_narrows_when_the_list_has_the_focus():
    """The list focused (a click): typing there must narrow it, not be lost (a user trial
    typed there and saw nothing happen), Backspace widens it again, Up from the top goes
    back."""
    app = make_app(demo_snapshot(sites=MANY_SITES))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        search, listing = app.screen.query_one("#site-search"), app.screen.query_one("#sites")
        listing.focus()
        await pilot.pause()
        assert app.focused is listing
        await pilot.press(*"blox")
        await pilot.pause()
        assert search.value == "blox" and listing.option_count == 1  # the hint, no site
        assert listing.get_option_at_index(0).disabled
        assert "no site's name contains 'blox'" in screen_text(app)
        await pilot.press("enter")  # nothing to pick: the picker stays, the hint says why
        await pilot.pause()
        assert app.screen.__class__.__name__ == "SitePicker"
        assert not [c for c in app.engine.calls if c[0] == "site"]
        assert app.focused is search
        listing.focus()
        await pilot.press("backspace")
        await pilot.pause()
        assert search.value == "blo" and listing.option_count == 1
        listing.focus()
        await pilot.press("up")
        await pilot.pause()
        assert app.focused is search
        await pilot.press("enter")
        await pilot.pause()
    assert ("site", "blog.example") in app.engine.calls


async def test_up_and_down_move_the_site_enter_picks_while_the_field_keeps_the_keys():
    """"s Down Down Enter" at once (tmux, SSH) picked "all sites": Down moved the focus to the
    list, and the keys after it reached the search field before the focus had moved. Up and
    Down now move the entry picked, from the first, and the field keeps the keys."""
    app = make_app(demo_snapshot(sites=("blog.example", "shop.example", "wiki.example")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s", "down", "down", "down", "up", "enter")
        await pilot.pause()
    assert [c for c in app.engine.calls if c[0] == "site"] == [("site", "shop.example")]


async def test_a_site_with_an_empty_name_is_its_own_entry_in_the_picker():
    """A Prometheus answered a site "": its entry's id was the 'all sites' entry's, and the
    picker crashed the app (DuplicateID) as it opened."""
    app = make_app(demo_snapshot(sites=("", "blog.example")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "SitePicker"
        assert app.screen.query_one("#sites").option_count == 3
        await pilot.press("down", "down", "enter")  # past all sites and "" to blog
        await pilot.pause()
    assert [c for c in app.engine.calls if c[0] == "site"] == [("site", "blog.example")]


async def test_keys_typed_as_the_filter_screen_opens_are_not_lost():
    """`/` then a regex at once: the keys after `/` reach the main screen before the filter
    screen is up; they must end in the path field (they were lost for ~0.4 s)."""
    from textual import events

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key, char in (("slash", "/"), ("circumflex_accent", "^"), ("slash", "/"),
                          ("a", "a"), ("b", "b"), ("h", "h")):
            app.post_message(events.Key(key, char))  # all queued before any is handled
        await pilot.pause()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "FilterScreen"
        assert app.screen.query_one("#path").value == "^/abh"
        assert app.focused is app.screen.query_one("#path")


async def test_keys_typed_at_once_after_tab_go_to_the_next_field():
    """`^/posts/`, Tab, `4xx` at once (a paste, SSH): Tab, bubbled up from the path field, moved
    the focus only after the 4xx had gone into the path field: "path ~ ^/posts/4xx" (a trial)."""
    from textual import events

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"^/p")
        for key, char in (("tab", "\t"), ("4", "4"), ("x", "x"), ("x", "x")):
            app.post_message(events.Key(key, char))  # all queued before any is handled
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one("#path").value == "^/p"
        assert app.screen.query_one("#status").value == "4xx"


async def test_keys_typed_as_the_site_picker_opens_are_not_lost():
    """`s` then a site's name at once: the letters reached the main screen before the picker
    was up and were lost (a trial typed `s` `b` `l` `o` and saw every site)."""
    from textual import events

    app = make_app(demo_snapshot(sites=("shop.example", "blog.example")))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key, char in (("s", "s"), ("b", "b"), ("l", "l"), ("o", "o")):
            app.post_message(events.Key(key, char))  # all queued before any is handled
        await pilot.pause()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "SitePicker"
        search = app.screen.query_one("#site-search")
        assert search.value == "blo" and app.focused is search
        await pilot.press("enter")
        await pilot.pause()
    assert [c for c in app.engine.calls if c[0] == "site"] == [("site", "blog.example")]


async def test_the_log_tail_shows_its_newest_line_as_tail_f_does():
    tail = [TailLine(0.0, "shop", f"GET /line-{i:03d}") for i in range(150)]
    app = make_app(demo_snapshot(tail=tail))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "GET /line-149" in text and "GET /line-100" not in text  # the oldest shown: off
        box = app.query_one("#tail-box")
        assert box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y


async def test_the_log_tail_shows_its_newest_line_after_the_terminal_grows():
    # a trial: 80x24 (the tail one of the bottom panes, hidden), then 160x50: the tail showed
    # its oldest lines, scrolled to the top, until the reader scrolled
    from dataclasses import replace

    tail = [TailLine(0.0, "shop", f"GET /line-{i:03d}") for i in range(150)]
    app = make_app(demo_snapshot(tail=tail))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        await pilot.pause()
        box = app.query_one("#tail-box")  # at once, before another frame comes (it showed
        # its oldest lines for 5-8 seconds, until one did: a trial)
        assert box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        await pilot.pause()
        assert box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y
        more = tail + [TailLine(1.0, "shop", "GET /line-150")]
        app.draw(replace(demo_snapshot(tail=more)))
        await pilot.pause()
        await pilot.pause()
        box = app.query_one("#tail-box")
        assert box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y
        assert "GET /line-150" in screen_text(app)
        box.scroll_to(y=0, animate=False)  # the reader scrolls up: it stays there
        await pilot.pause()
        app.draw(replace(demo_snapshot(tail=more + [TailLine(2.0, "shop", "GET /line-151")])))
        await pilot.pause()
        await pilot.pause()
        assert box.scroll_y == 0


async def test_the_log_tail_holds_the_lines_a_reader_scrolled_up_to_as_lines_come():
    """Scrolled up, each line that came took the oldest away and the view moved on by a line
    (a trial, lnav's and Toolong's readers expect it to stay); a `g` pressed as lines came was
    undone by the scroll to the end that followed them. Held, with the newer lines counted
    below; G shows them at once."""
    from dataclasses import replace

    tail = [TailLine(float(i), "shop", f"GET /line-{i:03d}") for i in range(50)]
    app = make_app(demo_snapshot(tail=tail))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        box = app.query_one("#tail-box")
        pane = app.query_one("#tail")
        box.focus()
        await pilot.pause()
        await pilot.press("g")
        await pilot.pause()
        assert box.scroll_y == 0
        before = pane.render().plain
        for k in range(3):  # as a live feed: the oldest dropped, the newest added
            tail = tail[1:] + [TailLine(50.0 + k, "shop", f"GET /line-{50 + k:03d}")]
            app.draw(replace(demo_snapshot(tail=tail)))
            await pilot.pause()
        await pilot.pause()
        assert box.scroll_y == 0
        held = pane.render().plain
        assert held.startswith(before) and "GET /line-000" in held
        assert held.rstrip().endswith("3 newer lines since you scrolled up: G shows them")
        # said in the title too, in view wherever the reader is (a busy site's trial)
        assert "Log tail · held: 3 newer lines, G shows them" in screen_text(app)
        burst = [TailLine(60.0 + k, "shop", f"GET /burst-{k:03d}") for k in range(80)]
        app.draw(replace(demo_snapshot(tail=burst[-50:])))  # the feed keeps 50 a site
        await pilot.pause()
        assert pane.render().plain.rstrip().endswith(
            "50 or more newer lines since you scrolled up: G shows them")
        app.draw(replace(demo_snapshot(tail=tail)))
        await pilot.press("G")
        await pilot.pause()
        await pilot.pause()
        now = pane.render().plain
        assert "GET /line-052" in now and "GET /line-000" not in now and "newer line" not in now
        assert box.scroll_y == box.max_scroll_y > 0
        tail = tail[1:] + [TailLine(60.0, "shop", "GET /line-060")]  # following again
        app.draw(replace(demo_snapshot(tail=tail)))
        await pilot.pause()
        await pilot.pause()
        assert "GET /line-060" in pane.render().plain and box.scroll_y == box.max_scroll_y
        assert "held" not in str(box.border_title)
        await pilot.press("k")  # one line up from the end holds too (it scrolled a blank row)
        await pilot.pause()
        tail = tail[1:] + [TailLine(61.0, "shop", "GET /line-061")]
        app.draw(replace(demo_snapshot(tail=tail)))
        await pilot.pause()
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y - 2 and "held: 1 newer line," in str(
            box.border_title)


async def test_a_held_tail_follows_again_for_another_site_and_never_counts_down():
    # back to all sites from a held site's tail, the all-sites tail was held at once ("held:
    # 203 newer lines"); held on all sites, the count went down as a quiet host's lines gave
    # way (1,032 to 915), and a vhost's lines named their site twice (a busy server's trial)
    from dataclasses import replace

    def lines(site, start, n):
        return [TailLine(float(start + i), site, f"{site}:443 GET /{site}-{start + i:03d}")
                for i in range(n)]

    def every(tail, site=""):  # all sites shown
        return replace(demo_snapshot(tail=tail), site=site)

    shop, blog = lines("shop", 0, 40), lines("blog", 100, 40)
    app = make_app(every(shop + blog))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        box, pane = app.query_one("#tail-box"), app.query_one("#tail")
        box.focus()
        await pilot.press("g")  # held, all sites
        await pilot.pause()
        assert box.scroll_y == 0
        blog = blog[5:] + lines("blog", 140, 5)
        app.draw(every(shop + blog))
        await pilot.pause()
        await pilot.pause()
        assert box.scroll_y == 0
        assert "held: 5 newer lines" in str(box.border_title)
        blog = blog[-2:]  # the host's tail given way: 2 of the 5 newer kept, none held
        app.draw(every(shop + blog))
        await pilot.pause()
        assert "held: 5 or more newer lines" in str(box.border_title)  # not 0, not fewer
        assert "shop: shop:443" not in pane.render().plain  # its name once
        app.draw(every(shop + blog, "shop"))  # another view:
        await pilot.pause()  # its newest lines, followed
        await pilot.pause()
        assert "held" not in str(box.border_title)
        assert box.scroll_y == box.max_scroll_y and "GET /shop-039" in screen_text(app)


async def test_the_log_tail_says_the_logs_are_being_read_while_they_are():
    """It said "nothing read since this start ... no line has been appended since" during the
    first read of 1 GB, 420 lines a second coming (a busy server's trial)."""
    from dataclasses import replace

    from trafficwatch.engine.snapshot import READING

    app = make_app(replace(demo_snapshot(tail=()), feed=READING))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = " ".join(str(app.query_one("#tail").render()).split())
        assert "No live lines: the logs are being read; their last lines show here" in text


async def test_the_log_tail_follows_its_newest_line_after_the_first_read_without_a_key():
    # a busy server's tail stood still at the lines of the first read's end for as long as
    # the app ran: the scroll to the end came before the lines were laid out (to row 0 of 0),
    # the pane then read as scrolled up by the reader, and held (said below its last row,
    # out of view at 160x50). Only the reader's own scroll holds it
    from dataclasses import replace

    from trafficwatch.engine.snapshot import READING

    app = make_app(replace(demo_snapshot(tail=()), feed=READING))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        pane = app.query_one("#tail")
        # its scroll to the end as it came there: before the new lines were laid out
        pane.call_after_refresh = lambda callback, *args: callback(*args)
        tail = [TailLine(float(i), "shop", f"GET /line-{i:03d} " + "x" * 90) for i in range(50)]
        for k in range(4):  # as lines come after the first read
            tail = tail[1:] + [TailLine(50.0 + k, "shop", f"GET /line-{50 + k:03d} " + "x" * 90)]
            app.draw(demo_snapshot(tail=tail))
            await pilot.pause()
        await pilot.pause()
        box = app.query_one("#tail-box")
        assert box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y
        assert "GET /line-053" in screen_text(app)
        assert "held" not in str(box.border_title)


async def test_the_focused_pane_is_focused_again_after_the_window_shrank_below_it():
    # after 40x12 and back to 100x30 no pane was focused: j/k and the arrows did nothing
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        box = app.query_one("#stats-box")
        box.focus()
        await pilot.pause()
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        await pilot.pause()
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        await pilot.pause()
        assert app.focused is box


async def test_a_long_line_takes_three_rows_of_the_log_tail_not_the_whole_pane():
    """One request of 3,000 characters filled the pane with AAAA... (a trial)."""
    tail = [TailLine(0.0, "shop", "GET /before"),
            TailLine(1.0, "shop", '1.2.3.4 - - "GET /' + "A" * 3000 + ' HTTP/1.1" 414'),
            TailLine(2.0, "shop", "GET /after")]
    app = make_app(demo_snapshot(tail=tail))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.draw(demo_snapshot(tail=tail))  # the next frame, laid out
        await pilot.pause()
        pane = app.query_one("#tail")
        rows = pane.render().plain.splitlines()
        long = next(r for r in rows if "AAAA" in r)
        assert len(long) <= 3 * pane.size.width
        assert long.endswith(f"… ({len(tail[1].text):,} characters)")
        assert rows[0] == "GET /before" and rows[-1] == "GET /after"
        # one the feed cut already says the whole line's length, not that of what was kept
        from trafficwatch.logs.read import tail_text

        cut = TailLine(3.0, "shop", tail_text(b"GET /" + b"B" * 8000, 8005))
        app.draw(demo_snapshot(tail=[*tail, cut]))
        await pilot.pause()
        rows = pane.render().plain.splitlines()
        assert rows[-1].endswith("… (a line of 8,005 bytes)") and "BBBB" in rows[-1]


async def test_the_log_tail_follows_the_site_shown_and_names_sites_when_all_are_shown():
    # the tail showed every file's lines whatever the site picked, grouped by file, and opened
    # at its oldest line when `v` brought it forward
    from dataclasses import replace

    tail = ([TailLine(100.0 + i, "shop", f"GET /shop-{i:02d}") for i in range(40)]
            + [TailLine(120.5 + i, "\x1b[2Jblog\tb", f"GET /blog-{i:02d}\tua") for i in range(40)])
    app = make_app(demo_snapshot(tail=tail))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(3):  # gates -> top -> anomalies -> tail
            await pilot.press("v")
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "GET /shop-39" in text and "/blog-" not in text
        box = app.query_one("#tail-box")
        assert box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y
    app = make_app(replace(demo_snapshot(tail=tail), site=""))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.pause()
        shown = str(app.query_one("#tail").render())
        lines = shown.splitlines()
        # by time, each named, made safe: a tab too, in the name and in the line (a trial)
        assert lines[-1] == "\\x1b[2Jblog\\x09b: GET /blog-39\\x09ua"
        assert "shop: GET /shop-39" in lines and lines.index("shop: GET /shop-39") < len(lines) - 1
    # all sites shown but every line kept is one site's (sample_logs): still named
    app = make_app(replace(demo_snapshot(tail=tail[:40]), site=""))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert str(app.query_one("#tail").render()).splitlines()[-1] == "shop: GET /shop-39"


async def test_the_now_pane_names_hours_by_the_clock_even_from_a_forecast_an_hour_old():
    """A frame between the hour turning and the model's next pass (every second in a fast
    replay) holds a forecast made the hour before: 'Next hour' is still the hour after now."""
    from dataclasses import replace

    from trafficwatch.app.gate_words import fmt_hour

    snap = demo_snapshot()
    fv = snap.forecast
    old = replace(fv, hours=fv.hours - 3600)  # made when T0 - 1 h was in progress
    app = make_app(replace(snap, forecast=old))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#stats").render())
        assert f"This hour ({fmt_hour(T0, 3600, '%H:00')}) so far" in text
        assert f"Next hour {fmt_hour(T0 + 3600, 3600, '%H:00')}:" in text


async def test_the_now_pane_says_a_forecast_is_on_its_way_not_that_no_hour_is_complete():
    """A site resumed from its state with 1,000 hours, its forecast not made yet: the Now pane
    said "no forecast until an hour is complete" (a trial). That is for a site whose first
    hour is still running."""
    from dataclasses import replace

    snap = replace(demo_snapshot(), forecast=None)  # the model's first pass not done
    for sv, words in ((snap.series, "forecasting…"),
                      (replace(snap.series, hours=snap.series.hours[-1:],
                               counts=snap.series.counts[-1:],
                               last_week=snap.series.last_week[-1:]),
                       "no forecast until an hour is complete")):
        app = make_app(replace(snap, series=sv))
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            text = str(app.query_one("#stats").render())
            assert "This hour" in text and words in text, text
            assert ("until an hour is complete" in text) == (words != "forecasting…")
    # the forecast refused (a week of gaps before the hour): not on its way
    app = make_app(replace(snap, status="seasonal naive shown, not the LSTM: no observed hour "
                                        "in the last 168 hours (all gaps): nothing to forecast"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#stats").render())
        assert "no forecast (the status line says why)" in text and "forecasting…" not in text


async def test_the_narrow_now_pane_gives_each_band_note_its_own_reason():
    """At 80x24 every band note read "Band widened: the last day broke from it", a stuck
    count's band (which no day broke) too."""
    from dataclasses import replace

    snap = demo_snapshot()
    note = ("Band spans the usual hours too from 3 hours ahead: a count held 24 hours may end "
            "any time (anomalies are judged on the count alone)")
    app = make_app(replace(snap, forecast=replace(snap.forecast, band_note=note)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = " ".join(str(app.query_one("#stats").render()).split())
        assert "Band spans the usual hours too from 3 hours ahead" in text, text
        assert "broke" not in text


async def test_the_week_overlay_says_so_when_there_is_no_last_week_to_draw():
    # `w` on a site of five days drew nothing and said nothing
    from dataclasses import replace

    snap = demo_snapshot()
    young = replace(snap, series=replace(snap.series, last_week=np.full(len(snap.series.hours),
                                                                        np.nan)))
    app = make_app(young)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        text = screen_text(app)  # the legend's long or short words
        assert "~ last week: no count yet" in text or "~ no last wk" in text
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        text = screen_text(app)
        assert "no count yet" not in text and "no last wk" not in text and "~ " in text


async def test_a_tiny_terminal_shows_the_whole_chart_and_v_gives_the_panes_its_place():
    """40x12 (a tmux split): the chart had 3 rows and was drawn past the right edge, its data
    cut off. Now it alone fills the screen, whole, and v shows the Now pane and then each pane
    below in its place, in turn, then the chart again."""
    app = make_app()

    def shown() -> list[str]:
        top = app.query_one("#top").display
        bottom = app.query_one("#bottom").display
        return ([n for n in ("#chart", "#stats-box") if top and app.query_one(n).display] +
                [n for n in ("#gates-box", "#top-box", "#anomalies-box", "#tail-box")
                 if bottom and app.query_one(n).display])

    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        lines = screen_text(app).splitlines()
        chart = app.query_one("#chart")
        assert chart.region.right <= 40 and chart.region.height >= 8, chart.region
        assert any(line.rstrip().endswith("┐") for line in lines), "the chart's right edge"
        seen = [shown()]
        for _ in range(6):
            await pilot.press("v")
            await pilot.pause()
            seen.append(shown())
        assert seen == [["#chart"], ["#stats-box"], ["#gates-box"], ["#top-box"],
                        ["#anomalies-box"], ["#tail-box"], ["#chart"]], seen
        await pilot.press("v")
        await pilot.pause()
        assert "Next hour" in screen_text(app) or "After the log" in screen_text(app)
    app = make_app()
    async with app.run_test(size=(50, 24)) as pilot:  # slim, not short: the gates below the
        await pilot.pause()  # chart, and `v` brings the Now pane first, as the README says
        seen = [shown()]
        for _ in range(5):
            await pilot.press("v")
            await pilot.pause()
            seen.append(shown())
        assert seen == [["#chart", "#gates-box"], ["#stats-box"], ["#chart", "#top-box"],
                        ["#chart", "#anomalies-box"], ["#chart", "#tail-box"],
                        ["#chart", "#gates-box"]], seen
    for size in ((60, 24), (80, 24)):  # room for both: chart, Now pane and a pane below
        async with make_app().run_test(size=size) as pilot:
            await pilot.pause()
            assert all(w.display for w in pilot.app.query("#chart, #stats-box, #gates-box"))


async def test_the_log_tail_is_at_its_newest_line_after_switching_site():
    # a user trial picked a site at 160x50 and its tail opened at its oldest line
    from dataclasses import replace

    from trafficwatch.app.app import SnapshotReady

    tail = tuple(TailLine(100.0 + i, f"site{i % 3}", f"GET /{i % 3}-{i:03d}") for i in range(150))
    app = make_app(replace(demo_snapshot(tail=tail), site=""))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        box = app.query_one("#tail-box")
        for site in ("site1", "site2", ""):
            app.post_message(SnapshotReady(replace(app.snapshot, site=site)))
            await pilot.pause()
            await pilot.pause()
            last = [x for x in tail if not site or x.site == site][-1].text
            assert last in screen_text(app), (site, last)
            assert box.scroll_y == box.max_scroll_y > 0, site
        box.scroll_home(animate=False)  # the reader scrolls up: new frames leave it there
        await pilot.pause()
        app.post_message(SnapshotReady(replace(app.snapshot, site="")))
        await pilot.pause()
        await pilot.pause()
        assert box.scroll_y == 0


async def test_the_filter_refuses_a_backwards_or_unreadable_date_range_and_keeps_the_offset():
    from dataclasses import replace

    from trafficwatch.app.app import SnapshotReady

    app = make_app()  # the demo's logs are at UTC+01:00
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for start, end, *words in (("2026-10-20", "2026-10-10", "from (2026-10-20) is after to"),
                                   ("yesterday-ish", "", "from: 'yesterday-ish' is not a date"),
                                   ("x", "y", "from: 'x' is not", "to: 'y' is not")):
            await enter_filter(app, pilot, start=start, end=end)
            shown = " ".join(screen_text(app).split())  # the message wraps in the dialog
            assert all(w in shown for w in words) and "Unknown datetime" not in shown, shown
            assert app.screen.__class__.__name__ == "FilterScreen"
            await pilot.press("escape")
            await pilot.pause()
        assert not [c for c in app.engine.calls if c[0] == "filter"]
        # a filter that leaves nothing to show: the dates are still in the logs' offset
        app.post_message(SnapshotReady(replace(app.snapshot, series=None)))
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        assert "chart's UTC+01:00)" in screen_text(app)


@pytest.mark.parametrize("n", [3, 12, 25])
async def test_the_anomaly_list_says_how_many_are_below_its_edge_or_not_listed(n):
    # a trial: "Anomalies (9)" above six rows, the other three below the pane's edge, unsaid
    import re
    from dataclasses import replace

    runs = tuple(Anomaly(int(T0 - 3600 * (2 + 3 * k)), int(T0 - 3600 * (2 + 3 * k)), 0.0, 19.0,
                         45.0, -1, False, int(T0 - 3600 * (1 + 3 * k))) for k in range(n))
    app = make_app(replace(demo_snapshot(), anomalies=runs))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.query_one("#anomalies").update(app.snapshot)  # once laid out: its height known
        await pilot.pause()
        text = str(app.query_one("#anomalies").render())
        seen = " ".join(screen_text(app).split())
    rows = len(re.findall(r"^▼ ", text, re.MULTILINE))
    assert rows == min(n, 20)
    more = re.search(r"newest first · (\d+) more below \(Tab to this pane, then j\):", text)
    if n == 3:
        assert more is None and "newest first:" in text
    else:  # what the screen shows and what is below its edge add up to the list
        assert more is not None and 0 < int(more[1]) < rows
        assert seen.count("▼ ") + int(more[1]) == rows, seen
    assert ("… and 5 older, not listed" in text) == (n == 25)


@pytest.mark.parametrize("taller", [False, True])
async def test_the_anomaly_list_brought_forward_by_v_says_what_is_below_its_edge(taller):
    # a trial at 80x24: `v` to "Anomalies (9)" showed five rows and no word of the rest (the
    # list was laid out while hidden, and no new snapshot came: the logs had ended); then a
    # taller terminal, the list's own size as it was and its box grown: "5 more below" stood
    # over all nine rows (a review)
    import re
    from dataclasses import replace

    runs = tuple(Anomaly(int(T0 - 3600 * (2 + 3 * k)), int(T0 - 3600 * (2 + 3 * k)), 0.0, 19.0,
                         45.0, -1, False, int(T0 - 3600 * (1 + 3 * k))) for k in range(9))
    app = make_app(replace(demo_snapshot(), anomalies=runs))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        while app.bottom != "anomalies":
            await pilot.press("v")
            await pilot.pause()
        if taller:
            await pilot.resize_terminal(80, 50)
        for _ in range(3):
            await pilot.pause()
        text = str(app.query_one("#anomalies").render())
        seen = " ".join(screen_text(app).split())
    more = re.search(r"(\d+) more below", text)
    if taller:
        assert more is None and seen.count("▼ ") == 9, text
    else:
        assert more is not None, text
        assert seen.count("▼ ") + int(more[1]) == 9, seen


async def test_an_anomaly_band_that_reaches_0_says_no_drop_can_be_flagged():
    # a trial: a bursty site's anomalies read "vs 0–113", "vs 0–135", and nothing said that
    # a drop could never be one there
    import re
    from dataclasses import replace

    snap = demo_snapshot()
    lo = snap.forecast.past_alarm_lo.copy()
    for low, said in ((lo, False), (np.where(np.arange(len(lo)) % 4 == 0, lo, 0.0), True)):
        for anomalies in (snap.anomalies, ()):
            app = make_app(replace(snap, anomalies=anomalies,
                                   forecast=replace(snap.forecast, past_alarm_lo=low)))
            async with app.run_test(size=(160, 50)) as pilot:
                await pilot.pause()
                text = " ".join(str(app.query_one("#anomalies").render()).split())
            assert bool(re.search(r"its low end is 0 in 7\d% of the hours, where no drop can "
                                  "be flagged", text)) == said, text


async def test_an_anomaly_of_several_hours_is_listed_by_its_hours_and_its_worst():
    import time

    # the list named a 03:00-06:00 run "Wed 02 05:00" (its worst hour) while the cursor said
    # 03:00-06:00 and the README says it fires at the first hour outside
    from dataclasses import replace

    start = int(T0 - 10 * 3600)
    run = Anomaly(start + 7200, start, 0.0, 19.0, 45.0, -1, False, start + 3 * 3600)
    app = make_app(replace(demo_snapshot(), anomalies=(run,)))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#anomalies").render())
    first = time.strftime("%a %d %H:00", time.gmtime(start + 3600))  # the demo is at UTC+01:00
    end = time.strftime("%H:00", time.gmtime(start + 4 * 3600))
    worst = time.strftime("%H:00", time.gmtime(start + 3 * 3600))
    assert f"▼ {first}–{end}  0 at {worst} vs 19–45" in text, text
    # over two days, its worst hour says which day's: "Mon 30 22:00–Wed 02 00:00 117 at 14:00"
    day = 86400 - (start + 3600) % 86400  # hours to the next midnight at UTC+01:00
    long = Anomaly(start + day + 5 * 3600, start, 0.0, 19.0, 45.0, -1, False,
                   start + day + 8 * 3600)
    app = make_app(replace(demo_snapshot(), anomalies=(long,)))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#anomalies").render())
    worst = time.strftime("%a %H:00", time.gmtime(start + day + 6 * 3600))
    assert f"0 at {worst} vs 19–45" in text, text


async def test_the_gate_words_of_a_young_site_speak_of_the_hours_it_has_not_a_week():
    """"No memory reset this week", "high for its week" were said over a site's 25 hours of
    logs (a trial)."""
    from dataclasses import replace

    snap = demo_snapshot()
    hours = len(snap.gates.step_hours)
    gates = replace(snap.gates, padded=hours - 25)
    app = make_app(replace(snap, gates=gates))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        young = " ".join(str(app.query_one("#gates").render()).split())
    assert "in the 25 hours read" in young and "this week" not in young, young
    assert "Sparklines: last week, the site's 25 hours at the right" in young
    assert "for its week" not in young and "for the week" not in young
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        whole = " ".join(str(app.query_one("#gates").render()).split())
    assert "25 hours" not in whole and "hours read" not in whole


async def test_gate_heatmaps_are_blank_before_the_logs_first_hour():
    # a log begun Mon 12:00 showed gates "for" Fri to Mon: the window's padding, read as data
    from dataclasses import replace

    snap = demo_snapshot()
    gates = replace(snap.gates, padded=84)  # the first half of the week: no log yet
    app = make_app(replace(snap, gates=gates))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("h")  # words -> forget-gate heatmap
        await pilot.pause()
        text = str(app.query_one("#gates").render())
    rows = [line[4:] for line in text.splitlines() if line.startswith("u")]
    assert rows and "no log yet" in text
    # a date filter's range that begins in the week: blank before it, but the log goes back
    app = make_app(replace(snap, gates=gates, filter="2026-11-17 00:00 – 2026-11-20 12:00"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("h")
        await pilot.pause()
        filtered = " ".join(str(app.query_one("#gates").render()).split())
    assert "no log yet" not in filtered and "blank before" in filtered
    assert "no hour of this view" in filtered
    half = len(rows[0]) // 2
    assert all(not r[:half - 1].strip() for r in rows), rows[0]  # blank before the start
    assert all(r[half + 1:].strip() for r in rows[:8]), rows[0]  # gates after it


async def test_an_empty_log_tail_says_why_for_a_replay_and_for_a_restart():
    # it said "(replay, or nothing appended yet)" either way, after a restart from state too
    from dataclasses import replace

    from trafficwatch.app.app import SnapshotReady

    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        for read_ahead, words in ((True, "a replay shows the logs' hours"),
                                  (False, "no line has been appended since")):
            snap = app.snapshot
            app.post_message(SnapshotReady(replace(
                snap, tail=(), ingest=replace(snap.ingest, read_ahead=read_ahead))))
            await pilot.pause()
            await pilot.pause()
            assert words in " ".join(screen_text(app).split())


@pytest.mark.parametrize("size", [(60, 24), (80, 24), (160, 50)])
async def test_a_heatmap_shows_every_unit_its_header_names(size):
    # at 80x24 the header wrapped to more lines than counted, and a unit it named was below
    # the pane's edge (a scrollbar for it)
    import re

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("h", "j")
        await pilot.pause()
        text = screen_text(app)
        named = re.search(r"units u(\d+)–u(\d+) of", " ".join(text.split()))
        rows = [int(u) for u in re.findall(r"^u(\d+) ", text, re.MULTILINE)]
        if named:
            assert rows == list(range(int(named[1]), int(named[2]) + 1)), text
            # a few of them: said that a taller terminal shows more (at 80x24: one of 64)
            few = "(a taller terminal shows more)" in " ".join(text.split())
            assert few == (len(rows) < 8) or size == (60, 24) and not few, text  # (no room)
            # the header in fewer words where the long ones took two rows: a unit more
            assert size != (80, 24) or len(rows) >= 2, text
        else:  # every unit fits
            assert rows == list(range(len(rows))) and rows, text


async def test_a_kept_fine_tune_is_announced_once_not_swapped_in_silently():
    # the forecast, its band and the anomalies all changed at once, with no word of why
    from dataclasses import replace

    snap = demo_snapshot()
    tuned = replace(snap, forecast=replace(snap.forecast, model_name="fine-tuned"))
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.draw(snap)
        await pilot.pause()
        assert not [n for n in app._notifications if n.title == "Fine-tune kept"]
        app.draw(tuned)
        await pilot.pause()
        said = [n for n in app._notifications if n.title == "Fine-tune kept"]
        assert len(said) == 1 and said[0].message.startswith("shop: the fine-tuned model")
        n = len(app._notifications)
        app.draw(tuned)  # the next frame: nothing new to say
        app.draw(replace(tuned, site="blog"))  # another site's view: not a change of model
        await pilot.pause()
        assert len(app._notifications) == n


def colour(monkeypatch, on: bool) -> None:
    """The app started with colour, or under NO_COLOR."""
    if on:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.parametrize("no_color", [True, False])
async def test_anomalies_and_past_forecasts_stand_out_with_and_without_colour(monkeypatch,
                                                                              no_color):
    # under NO_COLOR Textual greys each colour by its luminance: the red x of an anomaly and the
    # magenta dots of past forecasts became grey 237 on a 234 background, all but invisible
    from textual.color import Color

    colour(monkeypatch, not no_color)
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart")
        marks: dict[str, list] = {"x": [], "·": []}
        for y in range(chart.size.height):
            for seg in chart.render_line(y):
                if seg.text in marks and seg.style is not None and seg.style.color is not None:
                    rgb = seg.style.color.get_truecolor()  # an ANSI colour as terminals show it
                    marks[seg.text].append((Color(*rgb), seg.style))
    assert app.no_color is no_color
    assert marks["x"] and marks["·"]
    assert all(style.bold for _, style in marks["x"])
    if no_color:  # as greys: the anomaly the brightest mark, past forecasts well above 234
        assert all(c.monochrome.r >= 250 for c, _ in marks["x"])
        assert all(c.monochrome.r >= 150 for c, _ in marks["·"])
    else:  # in colour: red, not a grey
        assert all(c.r > 2 * max(c.g, c.b) for c, _ in marks["x"])


@pytest.mark.parametrize("scored, words", [(45, "45 h: MASE 0.71"),
                                            (167, "7 days: MASE 0.71"),
                                            (168, "7 days: MASE 0.71")])
async def test_the_narrow_now_pane_says_how_many_hours_its_score_is_over(scored, words):
    # on a log of 3 days the narrow form said "7 days: MASE 0.68" (the wide form: 45 h)
    from dataclasses import replace

    snap = demo_snapshot()
    app = make_app(replace(snap, forecast=replace(snap.forecast, hours_scored=scored)))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        stats = app.query_one("#stats")
        assert 0 < stats.size.width < 60  # the narrow form
        assert words in str(stats.render())


@pytest.mark.parametrize("note, short", [
    (("default kept: no epoch of fine-tuning did better than it on the week before the last 7 "
     "days (2026-11-20 10:39)"), "fine-tune not kept: no better"),
    (("default kept: fine-tuned MASE 0.69 vs default 0.70 in eval's backtest of the last 7 days, "
      "under 5% better: too close to call (2026-11-20 10:39)"), "fine-tune not kept: too close to call"),
    (("default kept: the fine-tune could not be scored in eval's backtest of the last 7 days "
      "(2026-11-20 10:39)"), "fine-tune not kept: unscored"),
    (("kept: tuned 2026-11-20 10:39 on 8 weeks, MASE 0.61 vs default 0.70 in eval's backtest of "
     "the last 7 days"), "fine-tuned here, kept"),
    ("fine-tuning on this site: epoch 3/10, started 10:39, low priority (nice 19)",
     "fine-tuning: epoch 3/10"),
    ("fine-tuning on this site: done, backtesting it against the default",
     "fine-tuned, checking it against the default"),
    ("fine-tuning failed (out of memory); default kept", "fine-tuning failed"),
    (("not fine-tuned: it learns from the weeks before the last one and is checked on the last, "
      "and the 168 hours before the last week (from 2022-12-09) have no hour with a count (24 "
      "needed)"), "not fine-tuned"),
    ("not fine-tuned yet: that needs 7 days of counts, this view has 3 days",
     "not fine-tuned yet"),
    ("not fine-tuned: switched off (--no-fine-tune)", "fine-tuning off")])
async def test_the_narrow_now_pane_says_the_fine_tunes_note_in_a_few_words(note, short):
    # at 80x24 the note took 8 of the Now pane's 12 lines and hid the lines read below it
    from dataclasses import replace

    from trafficwatch.engine.views import detail_short

    snap = demo_snapshot()
    fv = replace(snap.forecast, model_detail=note, model_detail_short=detail_short(note))
    for size, shown, hidden in (((100, 40), short, note), ((160, 50), note, short)):
        app = make_app(replace(snap, forecast=fv))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            text = str(app.query_one("#stats").render())
            assert shown in text and (hidden in shown or hidden not in text), size


@pytest.mark.parametrize("sites, site, words", [
    (("shop", "blog"), "shop", "Lines read (all sites) 1,234"),
    (("shop",), "shop", "Lines read 1,234"), (("shop", "blog"), "", "Lines read 1,234")])
async def test_the_ingest_figures_say_they_are_every_sites(sites, site, words):
    # shown beside one site of four, "Lines read 230,714 · files followed 4" read as that site's
    from dataclasses import replace

    app = make_app(replace(demo_snapshot(sites=sites), site=site))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert words in str(app.query_one("#stats").render())


async def test_the_only_site_is_named_not_called_all_sites():
    """One site's logs: the title and the chart named it "all sites", and `s` only said there
    was one (a new user never saw which site the app had found)."""
    from dataclasses import replace

    app = make_app(replace(demo_snapshot(sites=("shop.example",)), site=""))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.sub_title == "shop.example · hits"
        assert "shop.example · hits per hour" in screen_text(app)
        await pilot.press("s")
        await pilot.pause()
        assert [n.message for n in app._notifications][-1] == "only one site here: shop.example"
    app = make_app(replace(demo_snapshot(), site=""))  # two: their sum is "all sites"
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.sub_title == "all sites · hits"


async def test_the_cursor_takes_the_chart_back_to_an_anomaly_older_than_its_width():
    """At 80 columns the chart shows two days: an anomaly of four days ago, in the list, could
    not be reached by the cursor (a new user's trial)."""
    from dataclasses import replace

    from trafficwatch.app.chart import ForecastChart

    snap = demo_snapshot()
    sv = snap.series  # a day more than the four of the busiest paths' and clients' tallies
    sv = replace(sv, hours=np.concatenate([sv.hours[0] - 3600 * np.arange(24, 0, -1), sv.hours]),
                 counts=np.concatenate([np.full(24, 100.0), sv.counts]),
                 last_week=np.concatenate([np.full(24, np.nan), sv.last_week]))
    old = int(sv.hours[30])
    counts = sv.counts.copy()
    counts[30] = 500.0
    snap = replace(snap, series=replace(sv, counts=counts), anomalies=(
        *snap.anomalies, Anomaly(old, old, 500.0, 80.0, 120.0, 1, False, end=old + 3600)))
    app = make_app(snap)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        chart = app.query_one(ForecastChart)
        assert old not in chart.hours  # out of the chart's width
        span = len(chart.hours)  # past and forecast: as many hours across moved back (a
        # day's columns had grown by half as the cursor left now: a trial)
        for _ in range(3):
            await pilot.press("shift+left")
        await pilot.pause()
        assert chart.back > 0 and len(chart.hours) == span
        for _ in range(3):
            await pilot.press("shift+left")  # a day at a time, to the oldest hour there is
        await pilot.pause()
        assert chart.cursor == int(sv.hours[0]) and chart.hours[0] == chart.cursor
        assert len(chart.hours) == span
        # older than the four days of tallies: said so, not "No request in these hours"
        stats = str(app.query_one("#stats").render())
        assert "kept for the last 4 days only" in stats
        assert "no verdict: day-ahead forecasts go back 4 days" in stats  # its count is there
        for _ in range(30):
            await pilot.press("right")
        await pilot.pause()
        assert chart.cursor == old and old in chart.hours
        stats = str(app.query_one("#stats").render())
        assert "ANOMALY ▲" in stats and "500" in stats, stats
        assert "kept for the last" not in stats  # within the tallies' four days
        assert int(snap.forecast.hours[-1]) not in chart.hours  # the window is the past's
        await pilot.press("escape")
        await pilot.pause()
        assert chart.cursor is None and chart.back == 0
        assert int(snap.forecast.hours[-1]) in chart.hours


async def test_no_forecast_is_not_called_no_anomaly():
    """A view whose forecast is still to come has had no hour judged: the anomaly pane said
    "No anomaly in the last 7 days" meanwhile."""
    from dataclasses import replace

    app = make_app(replace(demo_snapshot(), forecast=None, gates=None, anomalies=(),
                           status="forecasting this view…"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#anomalies").render())
        assert "judged once there is a forecast" in text and "No anomaly" not in text, text
        assert "forecasting this view…" in str(app.query_one("#gates").render())
    # at the start, before the first forecast, nothing in the status line: the gates pane
    # said "seasonal naive in use" for 5-10 s, then showed the LSTM's (a trial)
    app = make_app(replace(demo_snapshot(), forecast=None, gates=None, anomalies=(), status=""))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = str(app.query_one("#gates").render())
        assert "first forecast is being made" in text and "naive" not in text, text
    snap = replace(demo_snapshot(), anomalies=())  # judged, and none found: in the days
    days = len(snap.forecast.past_alarm_lo) // 24  # judged (the demo's 4; the app's 7)
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert f"No anomaly in the last {days} days" in str(app.query_one("#anomalies").render())
    assert days == 4


async def test_the_chart_stays_on_the_hour_inspected_as_new_hours_push_it_off():
    """In a fast replay the cursor's hour went off the chart's left edge and the cursor was
    dropped without a word ("Hour Fri 19:00" became "Now"; a new user's trial)."""
    from dataclasses import replace

    from trafficwatch.app.chart import ForecastChart

    snap = demo_snapshot()
    sv = snap.series
    app = make_app(replace(snap, series=replace(sv, hours=sv.hours[:-48], counts=sv.counts[:-48],
                                                last_week=sv.last_week[:-48],
                                                partial_hour=int(sv.hours[-49]))))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        chart = app.query_one(ForecastChart)
        for _ in range(3):
            await pilot.press("left")
        await pilot.pause()
        inspected = chart.cursor
        assert inspected == int(sv.hours[-52])
        app.post_message(SnapshotReady(snap))  # 48 hours later: that hour is off a 2-day chart
        await pilot.pause()
        assert chart.cursor == inspected and inspected in chart.hours and chart.back > 0
        assert app.query_one("#stats-box").border_title.startswith("Hour ")


async def test_mase_undefined_for_want_of_a_day_before_says_so():
    from dataclasses import replace

    snap = demo_snapshot()
    for no_scale, says in ((True, "no day of counts before them in this view"),
                           (False, "traffic did not change from one day to the next")):
        app = make_app(replace(snap, forecast=replace(snap.forecast, mase=float("nan"),
                                                      hours_scored=30, no_scale=no_scale)))
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            assert says in " ".join(str(app.query_one("#stats").render()).split())


async def test_the_filter_form_fits_a_60x16_terminal():
    """It was 66 columns wide whatever the screen: cut on the right at 60 columns, its Apply
    row below the screen's last row (second trial)."""
    app = make_app()
    async with app.run_test(size=(60, 16)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        form = app.screen.query_one("#filter")
        assert form.region.right <= 60 and form.region.bottom <= 16, form.region
        app.screen.query_one("#apply").scroll_visible(animate=False)
        await pilot.pause()
        apply = app.screen.query_one("#apply")
        assert form.region.contains_region(apply.region) or \
            apply.region.intersection(form.region).area > 0


async def test_last_week_s_line_keeps_its_word_in_a_legend_at_80_columns():
    """`w` drew last week's line (~) but a legend too long for 80 columns left its word out
    first (second trial): the past forecasts' dots, placed by the hours they sit on, go first."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        await pilot.pause()
        title = next(line for line in screen_text(app).splitlines() if "actual" in line)
    assert "~ wk" in title or "~ last wk" in title or "~ same hours last week" in title, title


async def test_last_weeks_line_is_drawn_over_the_forecast_hours_too():
    # `w` drew last week's counts up to now only, none over the forecast (a trial wanted it
    # there as a check on the line)
    from dataclasses import replace

    from trafficwatch.app.chart import MARKS, ForecastChart

    snap = demo_snapshot()
    hours = T0 + 3600 * np.arange(-199, 1)  # 8 days: the week before every forecast hour
    counts = 100 + 50 * np.sin(np.arange(200) / 24 * 2 * np.pi)
    snap = replace(snap, series=replace(snap.series, hours=hours, counts=counts,
                                        last_week=np.r_[np.full(168, np.nan), counts[:32]]))
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        chart = app.query_one(ForecastChart)
        drawn, plot = [], chart.plt.plot

        def record(xs, ys, **kw):
            drawn.append((kw.get("marker"), list(xs), list(ys)))
            return plot(xs, ys, **kw)

        chart.plt.plot = record
        await pilot.press("w")
        await pilot.pause()
        past = (int(hours[-1]) - chart.hours[0]) // 3600  # the x of the hour in progress
        week = [xs for marker, xs, ys in drawn if marker == MARKS["week"][0]]
        assert week and max(max(xs) for xs in week) > past, (past, week)


def test_the_help_says_what_each_legend_word_for_the_diamond_means():
    # a new user's trial: the legend said "◆ log end" while the help spoke only of "the current
    # hour so far"
    from trafficwatch.app.chart import MARKS
    from trafficwatch.app.screens import HELP

    for key in ("now", "end"):
        mark, _, short = MARKS[key]
        assert f"'{short.format(short='').removeprefix(mark + ' ')}'" in HELP


@pytest.mark.parametrize("no_color", [True, False])
async def test_scrollbars_are_line_glyphs_without_colour(monkeypatch, no_color):
    # a trial under NO_COLOR: the track (a background colour) was gone and the thumb's ends
    # (eighth blocks) read as data beside the text: "Model: lstm:default▅▅", "Next hour: 51▅▅"
    from textual.scrollbar import ScrollBar

    from trafficwatch.app.scrollbar import PlainScrollBarRender

    colour(monkeypatch, not no_color)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert (ScrollBar.renderer is PlainScrollBarRender) == no_color  # never left over
    for position in (0, 15, 30):
        bar = PlainScrollBarRender.render_bar(size=10, virtual_size=40, window_size=10,
                                              position=position, thickness=2)
        cells = [s.text for s in bar.segments]
        assert set("".join(cells)) <= {"│", "┃", " "} and all(len(c) == 2 for c in cells)
        thumb = [i for i, c in enumerate(cells) if c.startswith("┃")]
        assert len(thumb) == 3 and thumb == list(range(thumb[0], thumb[0] + 3))
        assert thumb[0] == {0: 0, 15: 4, 30: 7}[position]  # top, middle, bottom


async def test_the_filter_dialogs_words_wrap_on_a_narrow_screen_and_its_buttons_are_reached():
    """At 60x20 the dialog's labels were cut mid-word ("(query string not incl", "Tab:"), and
    at 40x12 its buttons were out of reach (a trial): they wrap, and Tab scrolls to them."""
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        text = screen_text(app)
        for words in ("(query string not", "included)", "Esc cancels", "Tab: next",
                      "Bots (all | none | only)"):
            assert words in text, text
    app = make_app()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        for _ in range(6):  # path, status, bots, from, to, site, then Apply
            await pilot.press("tab")
        await pilot.pause()
        assert app.screen.focused.id == "apply"
        assert "Apply" in screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_a_frame_that_changes_nothing_repaints_nothing(size, monkeypatch):
    """A trial over SSH: an idle screen sent a full frame every 5 s (the engine's frame for
    what the clock changes), 10 KB a second at 250x70: every pane, title and chart was painted
    again with what it showed. A frame repaints only what it changes."""
    from textual.widget import Widget

    painted: list[str] = []
    refresh = Widget.refresh

    def counted(self, *args, **kw):
        painted.append(f"{type(self).__name__}#{self.id}")
        return refresh(self, *args, **kw)

    tail = [TailLine(0.0, "shop", "GET /a")]
    app = make_app(demo_snapshot(tail=tail))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        snap = app.snapshot
        assert snap is not None
        app.draw(demo_snapshot(tail=tail))  # laid out (the status line's first frame came
        await pilot.pause()  # before it had a size)
        monkeypatch.setattr(Widget, "refresh", counted)
        for _ in range(3):  # the same frame, built anew (as the engine does every 5 s)
            app.draw(demo_snapshot(tail=tail))
            await pilot.pause()
        assert painted == [], painted
        app.draw(demo_snapshot(tail=[*tail, TailLine(1.0, "shop", "GET /b")]))
        await pilot.pause()
        assert "LogTail#tail" in painted, painted  # a new line is drawn
        assert not any(p.startswith("ForecastChart") for p in painted), painted


@pytest.mark.parametrize("size", [(80, 15), (60, 15)])
async def test_t_and_h_bring_their_pane_into_view_on_a_short_screen(size):
    """A trial at 80x15 (a tmux split): `t` focused the hidden Top pane and nothing changed on
    the screen but the Now pane's border; `h` changed nothing at all. Under 18 rows each brings
    its pane in the chart's place, as `v` brings a pane, and focus goes to a pane in view."""
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert "610 /wp-login.php" not in screen_text(app)
        await pilot.press("t")
        await pilot.pause()
        text = screen_text(app)
        assert "610 /wp-login.php" in text, text
        box = app.query_one("#top-box")
        assert app.focused is box and box.region.height > 0
        await pilot.press("t")  # back to the gates, in the same place
        await pilot.pause()
        assert "Relying on" in screen_text(app)
        assert app.focused is app.query_one("#gates-box")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert "Relying on" not in screen_text(app)
        await pilot.press("h")  # the gates come forward, in the view they had
        await pilot.pause()
        assert "Relying on" in screen_text(app)
        assert not app.query_one("#gates").heatmap
        await pilot.press("h")  # in view: the next view
        await pilot.pause()
        assert app.query_one("#gates").heatmap


@pytest.mark.parametrize("size", [(160, 50), (200, 60)])
async def test_a_window_grown_shows_the_now_panes_last_lines(size):
    # a trial: started at 80x24, then resized, the Now pane kept the height its text had at
    # the old width: its last lines (the one notice, which the status line pointed to) were
    # hidden until a new frame, which logs no longer written never send
    import dataclasses

    snap = demo_snapshot()
    notice = ("logs that ended a week or more before the others: elastic_apache_logs "
              "(2015-05-20), elastic_nginx_logs (2015-06-04), secrepo_2021_all (2021-10-27); "
              "not in the sum drawn (s shows one site) THE END")
    snap = dataclasses.replace(snap, ingest=dataclasses.replace(snap.ingest, notices=(notice,)))
    app = make_app(snap)
    async with app.run_test(size=(80, 24)) as pilot:
        await settled_text(app, pilot, "^p palette")
        await pilot.resize_terminal(*size)
        text = await settled_text(app, pilot, "THE END", timeout=5)
    assert "THE END" in text


async def test_the_help_screen_footer_is_its_own_and_the_main_keys_act_from_it():
    # a trial: over the help, the main screen's footer listed m, s, /, v, t: pressed, they
    # did nothing
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settled_text(app, pilot, "^p palette")
        await pilot.press("question_mark")
        last = (await settled_text(app, pilot, "Esc Close")).rstrip().splitlines()[-1]
        assert "Esc Close" in last and "Metric" not in last
        await pilot.press("m")
        await pilot.pause(0.3)
        assert app.screen is app.screen_stack[0]  # the help closed, and the key did its work
        assert "metric: pages" in [n.message for n in app._notifications]


def test_a_range_typed_before_a_clock_change_is_read_in_that_hours_offset():
    # a trial in London: "from 2026-10-25 00:00" a day the clock went back was read in today's
    # +00:00, the hour after the one typed (the chart labelled it 00:00+01:00); in Kathmandu
    # (+05:45) "from 14:00" began at the 14:45 hour, a range of two hours holding one
    from trafficwatch.app.gate_words import shown_offset
    from trafficwatch.app.screens import FilterScreen

    change = pd.Timestamp("2026-10-25T01:00Z").timestamp()  # BST ends
    hours = np.arange(change - 48 * 3600, change + 48 * 3600, 3600, dtype=np.int64)
    sv = SeriesView("x", "hits", hours, np.ones(len(hours)), None, 0,
                    label_hours=hours, label_offsets=np.where(hours < change, 3600, 0))
    london = FilterScreen(("x",), offset=shown_offset(sv))
    assert london._when("2026-10-24 00:00", "from") == pd.Timestamp("2026-10-23T23:00Z")
    assert london._when("2026-10-26 00:00", "from") == pd.Timestamp("2026-10-26T00:00Z")
    ktm = FilterScreen(("x",), offset=20700)
    assert ktm._when("2026-11-20 14:00", "from") == pd.Timestamp("2026-11-20T08:00Z")  # 13:45


def test_a_range_at_the_edge_of_the_dates_shown_is_said_in_words():
    # a review: "Out of bounds nanosecond timestamp: -9223374600000000000", naming no field
    from trafficwatch.app.screens import FilterScreen

    try:  # (pandas 3 reads dates of year 1677 in seconds: a date, no error at all)
        FilterScreen(("x",), offset=3600)._when("1677-09-21 01:00", "from")
    except ValueError as exc:
        assert str(exc) == "from: '1677-09-21 01:00' is out of the range of dates shown"


async def test_lines_that_are_no_request_are_not_called_malformed_on_screen():
    # a trial: the Now pane said "malformed 32" where `counts` said "1 malformed, 31 no
    # request" of the same folder (a server's own lines are no fault of the log)
    import dataclasses

    from trafficwatch.logs.parse import HAPROXY_OWN

    snap = demo_snapshot()
    ing = dataclasses.replace(snap.ingest, malformed={"bad time": 4, HAPROXY_OWN: 3},
                              malformed_examples={"bad time": "x", HAPROXY_OWN: "Proxy started"})
    app = make_app(dataclasses.replace(snap, ingest=ing))
    async with app.run_test(size=(160, 50)) as pilot:
        text = " ".join((await settled_text(app, pilot, "no request 3")).split())
    assert "malformed 4 ·" in text and "no request 3 · files" in text  # (wrapped between)
    assert "3 no request, the load balancer" in text


@pytest.mark.parametrize("term, said", [("linux", True), ("xterm-256color", False)])
async def test_the_linux_console_is_told_what_its_fonts_lack(monkeypatch, term, said):
    """A trial: on the Linux console the chart's braille came out as boxes, nothing said (the
    README says it; a user at the console does not read it there)."""
    monkeypatch.setenv("TERM", term)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        toasts = [n.message for n in app._notifications]
        assert any("TERM=linux: the Linux console's fonts have no braille" in m
                   for m in toasts) is said, toasts
