"""The hour cursor on the chart and the top view: keys and clicks move it; the details show the
numbers of the hour it is on, from the engine's snapshot (a fake engine here)."""
from __future__ import annotations

from tests.test_app import T0, demo_snapshot, make_app, screen_text
from trafficwatch.app.chart import ForecastChart
from trafficwatch.engine.snapshot import HourTop


def stats(app) -> str:
    return str(app.query_one("#stats").render())


async def test_left_right_move_the_cursor_and_escape_returns_to_now():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        chart = app.query_one(ForecastChart)
        assert chart.cursor is None and "Next hour" in stats(app)
        await pilot.press("left")
        assert chart.cursor == T0 - 3600  # from now (the hour in progress) an hour back
        await pilot.press("left")
        await pilot.pause()
        assert chart.cursor == T0 - 7200
        text = stats(app)
        # the anomaly hour of the demo: its count, the day-ahead forecast and band made for it
        assert "actual    400" in text and "day-ahead" in text
        assert "▲ 314 above the 80% band" in text
        assert "ANOMALY ▲ Wed 10:00 (304 above the 98% band)" in text  # each band named
        assert "290 /wp-login.php" in text and "288 203.0.113.66" in text
        assert "4xx 300" in text
        assert "Hour " in app.query_one("#stats-box").border_title
        assert "│ hour" in screen_text(app)  # the legend names the cursor's marker
        await pilot.press("right", "right", "right")
        await pilot.pause()
        assert chart.cursor == T0 + 3600  # a forecast hour
        text = stats(app)
        assert "not yet" in text and "forecast  123" in text and "80% band  103–153" in text
        await pilot.press("escape")
        await pilot.pause()
        assert chart.cursor is None and "Next hour" in stats(app)


async def test_the_cursor_stops_at_the_ends_of_the_chart():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        chart = app.query_one(ForecastChart)
        # past the first hour, a day and an hour at a time (200 presses of "left" took 16 s)
        await pilot.press(*["shift+left"] * 8, *["left"] * 5)
        assert chart.cursor == chart.hours[0]
        await pilot.press("home")
        assert chart.cursor is None
        await pilot.press("shift+right", "shift+right", *["right"] * 5)
        assert chart.cursor == chart.hours[-1] == T0 + 23 * 3600


async def test_a_click_on_the_chart_puts_the_cursor_on_the_nearest_hour():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        chart = app.query_one(ForecastChart)
        start, cols, last = chart._geom
        for target in (chart.hours[0], T0 - 7200, chart.hours[-1]):
            x = (target - chart.hours[0]) // 3600
            column = start + round(x * (cols - 1) / last)
            await pilot.click(ForecastChart, offset=(column, 10))
            await pilot.pause()
            assert chart.cursor == target
        # the vertical line is drawn in the column clicked
        text = "\n".join(str(line) for line in chart.render().split())
        assert "│" in text


async def test_an_hour_read_before_this_start_says_its_clients_were_not_tallied():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        app.set_cursor(T0 - 72 * 3600)  # the demo tallies clients for its last 48 hours only
        await pilot.pause()
        assert "not tallied (read before this start)" in stats(app)


async def test_log_text_in_the_details_goes_through_the_sanitiser():
    snap = demo_snapshot()
    hostile = HourTop(T0 - 3600, 1, (("2xx", 1),), (("/\x1b[2J[red]x[/red]", 1),),
                      (("\u202eevil", 1, 0),))
    tops = tuple(hostile if t.start == T0 - 3600 else t for t in snap.tops)
    from dataclasses import replace

    app = make_app(replace(snap, tops=tops))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("left")
        await pilot.pause()
        text = stats(app)
        assert "\x1b" not in text and "\u202e" not in text
        assert "\\x1b[2J[red]x[/red]" in text


async def test_t_shows_the_top_of_the_last_24_hours_in_place_of_the_gates():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert "610 /wp-login.php" not in screen_text(app)
        await pilot.press("t")
        await pilot.pause()
        text = screen_text(app)
        assert "Top, last 24 h" in text and "610 /wp-login.php" in text
        assert "700 203.0.113.66" in text and "92–95 192.0.2.1" in text
        assert "4xx 480 17%" in text and "Relying on" not in text
        assert "Anomalies (1)" in text  # the anomalies stay on screen
        await pilot.press("t")
        await pilot.pause()
        assert "Relying on" in screen_text(app)
        # h with Top in front brings the gates forward as they were; it had cycled the hidden
        # gate pane's views, the screen unchanged (trial)
        await pilot.press("t", "h")
        await pilot.pause()
        assert "Relying on" in screen_text(app) and "Top, last 24 h" not in screen_text(app)
        await pilot.press("h")
        await pilot.pause()
        assert "Forget gate" in screen_text(app)


async def test_the_last_hour_of_a_log_that_ended_inside_it_is_named_by_its_end():
    """An archive copied at 13:06: its last hour is drawn as the log's end, and its details say
    it is not judged, not that it is in progress."""
    from dataclasses import replace

    import numpy as np

    from trafficwatch.app.gate_words import fmt_hour

    snap = demo_snapshot(feed="no new lines since 13:06 (still watching)")
    fv = snap.forecast
    snap = replace(snap, stale=True, series=replace(snap.series, log_end=int(T0 + 360)),
                   forecast=replace(fv, hours=fv.hours + 3600,
                                    past_hours=np.append(fv.past_hours, T0),
                                    **{k: np.append(getattr(fv, k), 120.0) for k in
                                       ("past_p10", "past_p50", "past_p90")}))
    app = make_app(snap)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert "◆ log end" in screen_text(app) and "this hour so far" not in screen_text(app)
        app.query_one(ForecastChart).cursor = int(T0)
        await pilot.press("left", "right")
        await pilot.pause()
        text = stats(app)
        end = fmt_hour(T0 + 360, 3600, "%H:%M")
        assert f"to {end}" in text and "not judged: the log ends inside it" in text
        assert "so far" not in text and "in progress" not in text and "day-ahead 120" in text


async def test_an_hours_details_open_at_their_first_line_however_the_pane_was_scrolled():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = app.query_one("#stats-box")
        box.scroll_end(animate=False)
        await pilot.pause()
        assert box.scroll_y > 0  # at 80x24 the Now pane scrolls
        await pilot.press("left")
        await pilot.pause()
        assert box.scroll_y == 0 and "actual" in stats(app)


async def test_the_fleets_top_says_what_the_agents_export_not_read_before_this_start():
    """On the fleet the Top view said clients were "not tallied (read before this start)": the
    fleet never has paths or clients (a trial)."""
    from dataclasses import replace

    snap = demo_snapshot()
    app = make_app(replace(snap, ingest=replace(snap.ingest, fleet=True)))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "Paths and clients: the agents export requests by status class only" in text
        assert "not tallied" not in text and "Top paths" not in text and "4xx 480" in text


async def test_the_top_view_says_it_counts_requests_when_the_chart_counts_visitors():
    from dataclasses import replace

    app = make_app(replace(demo_snapshot(), metric="visitors"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert "requests, not visitors" in screen_text(app)
        await pilot.press("left", "left")
        await pilot.pause()
        assert "Its requests (not visitors):" in stats(app)


async def test_an_hour_after_a_stale_logs_end_is_not_called_pending():
    # the log's last line was 13 days old and the hour after it read "actual  not yet"
    from dataclasses import replace

    app = make_app(replace(demo_snapshot(), stale=True, now=T0 + 13 * 86400))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        chart = app.query_one(ForecastChart)
        await pilot.press("right")
        await pilot.pause()
        assert chart.cursor == T0 + 3600  # the first hour after the log's last one
        text = stats(app)
        assert "actual    no log" in text and "no log after its end" in text
        assert "not yet" not in text and "forecast  123" in text


async def test_an_hours_long_paths_and_clients_are_cut_on_their_count_s_row():
    # a trial at 80x24 (19 columns): "  12" on one row, "/static/logo.png" on the next
    from dataclasses import replace

    snap = demo_snapshot()
    long_path, v6 = "/static/js/application.bundle.min.js", "2001:db8:85a3::8a2e:370:7334"
    wide = "/商品/詳細/とても長い名前のページ"  # two cells a character
    tops = tuple(replace(t, paths=((long_path, 1234), (wide, 9)), clients=((v6, 77, 0),))
                 for t in snap.tops)
    for size in ((80, 24), (160, 50)):
        app = make_app(replace(snap, tops=tops))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await pilot.press("left")
            await pilot.pause()
            pane = app.query_one("#stats")
            rows = str(pane.render()).splitlines()
            path_row = next(r for r in rows if r.startswith(" 1,234 "))
            client_row = next(r for r in rows if r.startswith(" 77 "))
            if size[0] == 80:
                # a path cut in its middle, its end kept too (/downloads/product_1 and _2 read
                # alike, an app trial)
                assert path_row.startswith(" 1,234 /stat") and path_row.endswith("in.js")
                assert "…" in path_row and len(path_row) <= pane.size.width
                # an address cut in its middle, its end kept (two of one /64 read alike)
                assert client_row.startswith(" 77 2001:db8") and client_row.endswith("7334")
                assert "…" in client_row
                assert len(client_row) <= pane.size.width
                from rich.cells import cell_len

                wide_row = next(r for r in rows if r.startswith("     9 /商品"))
                assert "…" in wide_row and wide_row.endswith("ージ")
                assert cell_len(wide_row) <= pane.size.width
            else:  # room enough: whole
                assert path_row == f" 1,234 {long_path}" and client_row == f" 77 {v6}"
