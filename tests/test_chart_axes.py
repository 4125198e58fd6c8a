"""The chart's count axis: whole counts from 0, and real counts (not log10 values) on a log axis."""
from __future__ import annotations

import math

from trafficwatch.app.chart import log_ticks, nice_ticks
from trafficwatch.app.panes import num


def test_linear_ticks_are_round_whole_counts_from_zero():
    assert nice_ticks(560, 30) == [0, 100, 200, 300, 400, 500]
    assert nice_ticks(7, 12) == [0, 2, 4, 6]
    assert [num(t) for t in nice_ticks(3, 30)] == ["0", "1", "2", "3"]


def test_log_axis_is_labelled_with_counts():
    pos, labels = log_ticks(560, 10)
    assert labels == ["0", "1", "10", "100"]
    assert pos == [0.0, math.log10(2), math.log10(11), math.log10(101)]
    assert log_ticks(560, 40)[1] == ["0", "1", "3", "10", "30", "100", "300"]


def test_counts_under_ten_are_integers_and_fractions_stay_short():
    assert [num(x) for x in (2.0, 0.0, 2.5, 0.71, 12.4, float("nan"))] == [
        "2", "0", "2.5", "0.71", "12", "–"]


def test_a_view_with_nothing_in_it_keeps_a_whole_count_axis():
    assert nice_ticks(0.04, 30) == [0.0, 1.0] and nice_ticks(1.5, 30) == [0.0, 1.0]


async def test_a_filtered_out_view_is_drawn_on_zero_to_one_not_on_fractions():
    # "/" 5xx on a site without a 5xx: every count 0, the forecast 0.0-0.04. The axis read
    # 0.01, then 0 four times, and the band filled the plot.
    from dataclasses import replace

    import numpy as np

    from tests.test_app import demo_snapshot, make_app, screen_text

    snap = demo_snapshot()
    zero = replace(snap, anomalies=(), series=replace(
        snap.series, counts=np.zeros(len(snap.series.counts)), last_week=None),
        forecast=replace(snap.forecast, p10=np.zeros(24), p50=np.full(24, 0.01),
                         p90=np.full(24, 0.04), past_p10=np.zeros(96),
                         past_p50=np.full(96, 0.01), past_p90=np.full(96, 0.03),
                         past_alarm_lo=np.zeros(96), past_alarm_hi=np.full(96, 3.0)))
    app = make_app(zero)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        text = screen_text(app)
    axis = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
    assert axis and all(label in ("0", "1") for label in axis), axis


async def test_a_band_far_above_the_data_does_not_flatten_it():
    # a real log of five volatile days: forecast 145, band 36-433, hours peaking at 220; the
    # axis followed the band and the counts sat in the chart's bottom quarter
    from dataclasses import replace

    import numpy as np

    from tests.test_app import demo_snapshot, make_app, screen_text

    snap = demo_snapshot()
    c = snap.series.counts.copy()
    c[94] = 140.0  # no anomaly: the data tops out near 155
    wide = replace(snap, anomalies=(), series=replace(snap.series, counts=c, last_week=None),
                   forecast=replace(snap.forecast, p90=np.full(24, 5000.0)))
    top = float(np.nanmax(np.concatenate([c, wide.forecast.p50, wide.forecast.past_p50])))
    for band in (True, False):
        app = make_app(wide)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            if not band:
                await pilot.press("b")
                await pilot.pause()
            text = screen_text(app)
        axis = [float(line.split("┤")[0].strip().replace(",", ""))
                for line in text.splitlines() if "┤" in line]
        assert axis and top <= max(axis) * 1.3 and max(axis) <= 1.5 * top, (band, axis, top)


def test_a_steady_busy_site_gets_an_axis_from_below_its_lowest_count_not_from_zero():
    # elastic_apache_logs at 80x24: 110-140 an hour, drawn in the top 3 rows of a 0-140 axis
    assert nice_ticks(140, 20, low=110) == [110, 115, 120, 125, 130, 135, 140]
    assert nice_ticks(140, 20, low=60)[0] == 0  # under half the top: from 0, as before
    assert nice_ticks(1_460, 12, low=1_020) == [1_000, 1_200, 1_400]
    # a flat line (one value drawn, or the same count every hour): an axis around it
    assert nice_ticks(100, 20, low=100) == [90, 92, 94, 96, 98, 100]
    assert nice_ticks(2, 20, low=2) == [0, 1, 2]
    # a tenth of the level deep, from a round count: one hour at 1,004 had 1,002-1,004 (a trial)
    assert nice_ticks(1_004, 10, low=1_004) == [900, 950, 1_000]


async def test_a_steady_busy_site_fills_the_chart_and_the_hour_so_far_stays_on_it():
    from dataclasses import replace

    import numpy as np

    from tests.test_app import demo_snapshot, make_app

    snap = demo_snapshot()
    rng = np.random.default_rng(0)
    c = 110 + rng.integers(0, 30, len(snap.series.counts)).astype(float)
    c[-1] = 9.0  # five minutes into the hour in progress
    busy = replace(snap, anomalies=(), series=replace(snap.series, counts=c, last_week=None),
                   forecast=replace(snap.forecast, p10=np.full(24, 112.0),
                                    p50=np.full(24, 125.0), p90=np.full(24, 138.0),
                                    past_p50=np.full(96, 125.0)))
    app = make_app(busy)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart")
        lines = ["".join(seg.text for seg in chart.render_line(y))
                 for y in range(chart.size.height)]
    text = "\n".join(lines)
    axis = [float(line.split("┤")[0].strip().replace(",", ""))
            for line in lines if "┤" in line]
    assert 90 <= min(axis) <= 110 and max(axis) >= 125, text  # not 0-140
    # the hour so far (9), below the axis: on its floor, drawn ▼ and its count in the legend
    # (a ◆ there read as the floor's count: a trial)
    plot = [line[4:] for line in lines[2:-2]]
    assert "▼" in plot[-1] and "◆" not in text, text
    assert "▼ now: 9" in lines[0], text
    # and the band is judged on the axis drawn, not one down to 9: a band of 112-138 on an
    # axis of 110-135 read "band: thin" and was not drawn (a trial)
    assert "band: thin" not in lines[0] and sum(line.count("-") for line in plot) > 10, text


def test_any_top_and_low_give_round_ticks_that_cover_them():
    import random

    rng = random.Random(0)
    for _ in range(2000):
        top = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0]) if rng.random() < 0.2 else \
            10 ** rng.uniform(0, 6)
        low = rng.choice([top, 0.0, math.inf, top * rng.uniform(0, 1)])
        for rows in (4, 20, 46):
            ticks = nice_ticks(top, rows, low)
            assert ticks[0] <= min(low, top) or ticks[0] == 0
            assert ticks[-1] <= max(top, 1.0) and ticks == sorted(set(ticks))


async def test_the_counts_are_drawn_over_the_past_forecasts_and_last_week():
    # the past day-ahead forecasts and last week's overlay were drawn after the counts: where
    # they met, a spike's body became a column of the forecasts' dots
    import re
    from dataclasses import replace

    import numpy as np

    from tests.test_app import demo_snapshot, make_app
    from trafficwatch.app.chart import ForecastChart

    snap = demo_snapshot()
    sv, fv = snap.series, snap.forecast
    c = sv.counts.copy()
    past = np.isin(sv.hours, fv.past_hours)
    base = replace(snap, anomalies=(), series=replace(sv, last_week=c.copy(), partial_hour=None))

    async def plot(snapshot, keys: str) -> list[str]:
        app = make_app(snapshot)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            await pilot.press(*keys)
            await pilot.pause()  # the chart's own canvas: the screen's export drops its blanks
            text = re.sub(r"\x1b\[[0-9;]*m", "", app.query_one(ForecastChart).plt.build())
        lines = text.splitlines()
        assert "~ same hours last week" in lines[0] or keys != "w"  # the overlay is on
        top = next(i for i, line in enumerate(lines) if "┌" in line)
        bottom = next(i for i, line in enumerate(lines) if "└" in line)
        return [re.match(r"^(\s*[\d,.]*[┤│].*?)│", line)[1] for line in lines[top + 1:bottom]]

    def braille(ch: str) -> bool:
        return "⠀" < ch <= "⣿"

    alone = await plot(replace(base, forecast=replace(fv, past_p50=np.full(past.sum(), np.nan))),
                       "")
    over = await plot(replace(base, forecast=replace(fv, past_p50=c[past])), "w")
    cells = [(r, k) for r, line in enumerate(alone) for k, ch in enumerate(line) if braille(ch)]
    assert len(cells) > 40  # the counts' line
    covered = [(r, k) for r, k in cells if not braille(over[r][k])]
    assert not covered, "\n".join(over)  # every cell of the counts' line is still theirs
    assert any("·" in line for line in over)  # drawn too, between the line's cells


def test_a_log_axis_starts_at_the_power_of_ten_under_the_lowest_value():
    from trafficwatch.app.chart import log_floor

    assert [log_floor(x) for x in (0.0, 0.5, 1.0, 9.9, 30.0, 100.0, 4321.0, math.inf)] == [
        0.0, 0.0, 1.0, 1.0, 10.0, 100.0, 1000.0, 0.0]
    assert log_ticks(560, 10, 10.0)[1] == ["10", "100"]
    assert log_ticks(560, 40, 10.0)[1] == ["10", "30", "100", "300"]
    # a steady site of 100-135 an hour: more than its floor's "100" (a trial saw it alone)
    assert log_ticks(135, 20, 100.0)[1] == ["100", "110", "120", "130"]


async def test_a_busy_site_on_a_log_axis_fills_the_plot():
    # shop.example.com stays above about 30 an hour; on `l` its axis ran down to 0, 1, 3, 10 and
    # the lower half of the chart was empty
    from tests.test_app import demo_snapshot, make_app, screen_text

    app = make_app(demo_snapshot())  # counts 50-150 (a gap), forecasts 83-160, the anomaly 400
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        text = screen_text(app)
    axis = [line.split("┤")[0].strip() for line in text.splitlines() if "┤" in line]
    assert axis[-1] == "10" and "0" not in axis and "1" not in axis, axis


def test_last_weeks_line_goes_on_over_the_forecast_hours():
    # `w` drew last week's counts up to now only: over the forecast, where a trial wanted it as
    # a check on the line, nothing
    import numpy as np

    from trafficwatch.hours import week_before

    hours = 1_800_000_000 - 1_800_000_000 % 3600 + 3600 * np.arange(200)
    counts = np.arange(200, dtype=float)
    ahead = hours[-1] + 3600 * np.arange(1, 5)  # the next 4 hours
    got = week_before(hours, counts, ahead, skip=None)
    np.testing.assert_array_equal(got, counts[200 - 168 + np.arange(4)])
    # the hour in progress a week before is not the hour's count; before the series: none
    got = week_before(hours, counts, ahead, skip=int(hours[200 - 168]))
    assert np.isnan(got[0]) and got[1] == counts[33]
    assert np.isnan(week_before(hours, counts, hours[:2], None)).all()


async def test_a_band_within_a_row_of_the_median_leaves_the_median_drawn_alone():
    # a trial: a band of 111-123 drew its dashes among the median's dots on the same rows
    # ("••••-•---••--"), and the forecast line could not be traced
    from dataclasses import replace

    import numpy as np

    from tests.test_app import demo_snapshot, make_app

    snap = demo_snapshot()
    p50 = 120 + 60 * np.sin(np.arange(24) / 24 * 2 * np.pi)  # a day's cycle: rows change

    async def dashes(p10, p90) -> int:
        app = make_app(replace(snap, forecast=replace(snap.forecast, p10=p10, p50=p50, p90=p90)))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            chart = app.query_one("#chart")
            lines = ["".join(seg.text for seg in chart.render_line(y))
                     for y in range(chart.size.height)]
            body = lines[2:-2]  # the plot, not the legend
            thin = "band: thin" in lines[0]  # the legend says it is there, undrawn
            n = sum(line.split("│", 1)[-1].count("-") for line in body)
            assert thin == (n == 0), lines[0]
            return n

    # the axis runs 0-400 over 10 rows: 40 a row
    assert await dashes(p50 - 25, p50 + 25) == 0  # within a row: the median alone
    assert await dashes(p50 - 90, p50 + 90) > 10  # a band that is one: drawn


async def test_a_forecast_without_a_band_says_so_in_the_legend():
    """A count repeated, a quiet site at 0: p10 = p50 = p90, and the legend had said nothing
    of a band (a trial), where a thin one says "band: thin"."""
    from dataclasses import replace

    import numpy as np

    from tests.test_app import demo_snapshot, make_app

    snap = demo_snapshot()
    flat = np.full(24, 120.0)
    app = make_app(replace(snap, forecast=replace(snap.forecast, p10=flat, p50=flat, p90=flat)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart")
        legend = "".join(seg.text for seg in chart.render_line(0))
        assert "band: none" in legend and "band: thin" not in legend, legend


async def test_the_forecast_is_drawn_over_last_weeks_line():
    # a user at 80x24: `w` drew last week's ~ over the forecast's dots, 21-24 of them on the
    # chart without it, 2-5 with it; the forecast, the 24 hours ahead, must stay in sight
    from dataclasses import replace

    import numpy as np

    from tests.test_app import T0, demo_snapshot, demo_tops, make_app

    snap = demo_snapshot()
    hours = T0 + 3600 * np.arange(-200, 1)  # over a week: last week's counts for the hours ahead
    counts = 123.0 + 30 * np.sin(np.arange(201) / 24 * 2 * np.pi)
    counts[-169:-145] = 123.0  # a week before the hours ahead: the forecast's 123, then 30
    counts[-157:-145] = 30.0
    week = replace(snap, anomalies=(), tops=demo_tops(hours), series=replace(
        snap.series, hours=hours, counts=counts, last_week=counts - 5))

    async def chart(keys: str) -> list[str]:
        app = make_app(week)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            if keys:
                await pilot.press(*keys)
                await pilot.pause()
            plot = app.query_one("#chart")
            lines = ["".join(seg.text for seg in plot.render_line(y))
                     for y in range(plot.size.height)]
        assert ("~ " in lines[0]) == (keys == "w"), lines[0]  # the overlay's legend: it is on
        return lines[2:-2]  # the plot rows

    alone, over = await chart(""), await chart("w")
    dots = sum(line.count("•") for line in alone)
    assert dots >= 18, "\n".join(alone)
    assert sum(line.count("•") for line in over) == dots, "\n".join(over)
    ahead = [line[-19:-1] for line in over]  # the forecast's columns
    assert sum(line.count("~") for line in ahead) >= 4, "\n".join(over)  # last week's: drawn


async def _chart_lines_before_and_after(size: tuple[int, int], keys: str) -> list[list[str]]:
    """The chart's lines as the app opens and, with `keys`, after they are pressed: in one app,
    since pressing them there is what a fresh app would do (an app costs 0.3-0.5 s to open)."""
    from tests.test_app import demo_snapshot, make_app

    app = make_app(demo_snapshot())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        chart = app.query_one("#chart")
        out = [["".join(seg.text for seg in chart.render_line(y))
                for y in range(chart.size.height)]]
        if keys:
            await pilot.press(*keys)
            await pilot.pause()
            out.append(["".join(seg.text for seg in chart.render_line(y))
                        for y in range(chart.size.height)])
        return out


async def test_a_window_too_short_for_an_axis_says_so_and_shows_no_count():
    # a user in tmux: at 80x7 and 30x8 the axis put 0 on the top frame line and 5,000 on the
    # bottom one; at 80x8 its one plot row read 5,000, zero-count hours drawn on it
    from trafficwatch.app.chart import MIN_ROWS

    seen = {}
    for size, keys in (((80, 7), ""), ((80, 8), "l"), ((30, 8), ""), ((80, 9), ""),
                       ((80, 8), "w")):
        # the first and, with keys, after them (80x8: as it opens, after `l`, after `w`)
        for typed, lines in zip(("", keys), await _chart_lines_before_and_after(size, keys)):
            seen.setdefault((size, typed), lines)
            text = "\n".join(lines)
            assert "too short for the chart" in lines[0], (size, typed, text)
            assert not "".join(lines[1:]).strip(), (size, typed, text)  # no axis, no plot
    assert MIN_ROWS == 3
    lines = seen[(80, 8), ""]
    assert lines[0].strip() == "window too short for the chart: 1 plot row, needs 3", lines


async def test_a_short_chart_that_has_room_keeps_an_axis_that_reads_upwards():
    # from MIN_ROWS plot rows (80x10) up: every count label on the row that holds its count,
    # rising from the bottom row, which is the axis' floor
    for height in range(10, 17):  # as the app opens, then after `l`: in one app (a fresh one
        # pressing `l` does the same)
        for keys, lines in zip(("", "l"), await _chart_lines_before_and_after((80, height), "l")):
            rows = lines[2:-2]
            assert rows and all(line[3] in "┤│" for line in rows), (height, lines)
            labels = [(i, float(line.split("┤")[0].replace(",", "")))
                      for i, line in enumerate(rows) if "┤" in line]
            assert len(labels) >= 2, (height, keys, lines)
            values = [v for _, v in labels]
            assert values == sorted(values, reverse=True), (height, keys, lines)
            assert labels[-1][0] >= len(rows) - 2, (height, keys, lines)  # the floor, low down
