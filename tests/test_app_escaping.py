"""Log content never becomes terminal escapes, markup or actions on screen."""
from __future__ import annotations

import re

from tests.test_app import demo_snapshot, make_app, screen_text
from trafficwatch.engine.snapshot import TailLine

HOSTILE = ["[/]", "[@click=app.quit]x[/]", "[link=http://x]y[/link]", "\x1b]0;title\x07",
           "\x1b[2J", "\x9b", "\u202e", "GET /search?q=[/] HTTP/1.1",
           b"\xff\xfe bad utf8".decode("utf-8", "surrogateescape")]


async def test_hostile_log_content_in_every_pane_is_inert():
    joined = " ".join(HOSTILE)
    snap = demo_snapshot(
        tail=[TailLine(0, "shop", h) for h in HOSTILE],  # the site shown
        examples={"bad time": joined, "[b]reason[/b]": joined},
        skipped=((joined, "binary"),), sites=("[@click=app.quit]", "\x1b[2J"))
    app = make_app(snap)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        await pilot.click("#tail")  # an injected [@click] would quit the app here
        await pilot.pause()
        assert app.is_running
        svg = app.export_screenshot()
        text = screen_text(app)
        assert "\x1b" not in svg and "\x9b" not in svg and "\u202e" not in svg
        assert "\\x1b]0;title\\x07" in text
        assert not re.findall(r'href="[^"]*quit', svg)
        tail = app.query_one("#tail").render()
        assert all(not s.style or not getattr(s.style, "link", None) for s in tail.spans)
        assert "[@click=app.quit]x[/]" in tail.plain


async def test_a_site_name_in_a_toast_is_text_not_markup_or_an_action():
    """The only site's name in `s`'s toast was read as markup: a log named
    "[@click=app.screenshot('pwned.svg','work')]CLICK.access.log" wrote a file when the toast
    was clicked (a security trial). Every toast is plain text."""
    from dataclasses import replace

    name = "[@click=app.quit]CLICK[/] [reverse]REV"
    app = make_app(replace(demo_snapshot(sites=(name,)), site=""))
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        toast = app.screen.query_one("Toast")
        assert f"only one site here: {name}" in str(toast.render())
        assert "only one site here: [@click=app.quit]CLICK[/]" in screen_text(app)
        await pilot.click(toast, offset=(len("only one site here: ") + 3, 1))
        await pilot.pause()
        assert app.is_running
