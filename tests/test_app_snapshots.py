"""What the screen looks like (pytest-textual-snapshot), at 80x24 and 160x50, from a fixed snapshot.

The frames come from a fake engine with a fixed Snapshot, so they change only when the app's
drawing changes; after an intended change, look at the report and run
`pytest tests/test_app_snapshots.py --snapshot-update`.
"""
from __future__ import annotations

import pytest

from tests.test_app import demo_snapshot, make_app


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_main_screen(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size)


def test_hostile_log_lines_in_the_tail_at_160x50(snap_compare):
    from trafficwatch.engine.snapshot import TailLine

    tail = [TailLine(0.0, "shop", s) for s in
            ("[/] [@click=app.quit]x[/] [link=http://x]y[/link]", "\x1b]0;title\x07 \x1b[2J \x9b",
             "\u202eevil \udcff")]
    assert snap_compare(make_app(demo_snapshot(tail=tail)), terminal_size=(160, 50))


def test_filter_and_help_screens_at_80x24(snap_compare):
    async def open_filter(pilot) -> None:
        await pilot.press("slash")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_filter)


def test_gate_heatmap_at_160x50(snap_compare):
    async def heatmap(pilot) -> None:
        await pilot.press("h")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(160, 50), run_before=heatmap)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_main_screen_without_colour(snap_compare, monkeypatch, size):
    """NO_COLOR: each series keeps its own marker; the gate pane reads in words."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=size)


def test_anomalies_pane_brought_forward_and_focused_at_80x24_without_colour(snap_compare,
                                                                            monkeypatch):
    """v shows the anomalies on a small screen; focus shows as a heavy border and reversed title."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def bring(pilot) -> None:
        await pilot.press("v")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=bring)


def test_site_picker_narrowed_at_80x24(snap_compare):
    from tests.test_app import demo_snapshot

    sites = tuple(f"site{i:03d}.example" for i in range(40)) + ("blog.example",)

    async def pick(pilot) -> None:
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"site01")
        await pilot.pause()

    assert snap_compare(make_app(demo_snapshot(sites=sites)), terminal_size=(80, 24),
                        run_before=pick)


@pytest.mark.parametrize("colour", [True, False], ids=["colour", "no-colour"])
@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_cursor_on_an_anomaly_hour(snap_compare, monkeypatch, size, colour):
    """← twice from now: the demo's anomaly hour, marked │ on the chart, its details beside it."""
    if not colour:
        monkeypatch.setenv("NO_COLOR", "1")

    async def back_two_hours(pilot) -> None:
        await pilot.press("left", "left")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=back_two_hours)


def test_top_of_the_last_24_hours_at_160x50(snap_compare):
    async def top(pilot) -> None:
        await pilot.press("t")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(160, 50), run_before=top)
