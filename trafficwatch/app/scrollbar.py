"""A scrollbar drawn with line glyphs, for NO_COLOR: Textual's draws its track as a background
colour and the ends of its thumb as eighth blocks, and with the colours gone a trial read the
blocks left over ("▅▅" beside "Model: lstm:default", "Next hour 13:00: 51") as data."""
from __future__ import annotations

from math import ceil

from rich.color import Color
from rich.segment import Segment, Segments
from rich.style import Style
from textual.actions import SkipAction
from textual.containers import VerticalScroll
from textual.scrollbar import ScrollBarRender

TRACK = {True: "│", False: "─"}  # vertical, horizontal
THUMB = {True: "┃", False: "━"}


class PlainScrollBarRender(ScrollBarRender):
    """Track and thumb in whole cells of line glyphs, no colour needed to tell them apart."""

    @classmethod
    def render_bar(cls, size: int = 25, virtual_size: float = 50, window_size: float = 20,
                   position: float = 0, thickness: int = 1, vertical: bool = True,
                   back_color: Color | None = None, bar_color: Color | None = None) -> Segments:
        width = thickness if vertical else 1
        size = int(size)
        start = end = 0
        if window_size and size and virtual_size and size != virtual_size \
                and virtual_size > window_size:
            thumb = max(1, ceil(window_size * size / virtual_size))
            at = position / (virtual_size - window_size) * (size - thumb)
            start = max(0, min(size - thumb, round(at)))
            end = start + thumb
        up, down = Style(meta={"@mouse.down": "scroll_up"}), Style(meta={"@mouse.down":
                                                                         "scroll_down"})
        grab = Style(bold=True, meta={"@mouse.down": "grab"})

        def cell(glyph: str, style: Style) -> Segment:
            return Segment(glyph + " " * (width - 1), style)

        segments = [cell(THUMB[vertical], grab) if start <= i < end else
                    cell(TRACK[vertical], up if i < start else down) for i in range(size)]
        if vertical:
            return Segments(segments, new_lines=True)
        return Segments((segments + [Segment.line()]) * thickness, new_lines=False)


class Scroll(VerticalScroll):
    """A pane that scrolls on each key at once. Textual's own scroll keys put the scroll off
    until the next refresh, from where the pane then was: keys that came in one read over SSH
    (jjjj, Down Down Down, a key held) moved it one line (a trial)."""

    moves = 0  # the reader's scrolls (each releases Textual's anchor; a scroll to the end
    # does not): a scroll to the end asked before one is not done

    def release_anchor(self) -> None:
        self.moves += 1
        super().release_anchor()

    def on_resize(self) -> None:
        """A pane laid out for its box's height (the anomaly list's "N more below") is laid out
        again when the box changes: a taller terminal left the pane's own size as it was, and
        "5 more below" stood over all nine rows (a review)."""
        for child in self.children:
            snap = getattr(child, "_snap", None)
            if snap is not None and getattr(child, "FITS_BOX", False):
                child.redraw()

    def _by(self, lines: float) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_to(y=self.scroll_y + lines, animate=False, immediate=True)

    def action_scroll_down(self) -> None:
        self._by(1)

    def action_scroll_up(self) -> None:
        self._by(-1)

    def action_page_down(self) -> None:
        self._by(self.scrollable_content_region.height)

    def action_page_up(self) -> None:
        self._by(-self.scrollable_content_region.height)

    def action_scroll_home(self) -> None:
        self._by(-self.scroll_y)

    def action_scroll_end(self) -> None:
        self._by(self.max_scroll_y - self.scroll_y)
        self.caught_up()

    def scroll_end(self, *args, **kw) -> None:
        super().scroll_end(*args, **kw)
        if kw.get("immediate"):
            self.caught_up()

    def caught_up(self) -> None:
        """At the end: a pane that held its lines while the reader was scrolled up (the log
        tail) shows the newest."""
        for child in self.children:
            if hasattr(child, "catch_up"):
                child.catch_up()
