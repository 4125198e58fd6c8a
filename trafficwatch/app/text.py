"""Untrusted text as Rich Text for the panes: the one sanitiser (trafficwatch.safe), no markup."""
from __future__ import annotations

import math

from rich.text import Text

from trafficwatch.safe import safe_name, safe_text


def site_title(site: str, sites: tuple[str, ...]) -> str:
    """What the view shows, by name (sanitised): its site, the only site there is (all sites
    summed are that one: a title 'all sites' never named it), or 'all sites'."""
    if site:
        return safe_name(site)
    return safe_name(sites[0]) if len(sites) == 1 else "all sites"


def safe_content(value: object, style: str = "") -> Text:
    """A Rich Text of the sanitised value, built without markup parsing ('[/]' stays literal)."""
    return Text(safe_text(value), style=style, no_wrap=True, overflow="ellipsis")


def band_name(p: float | None, fallback: str = "band") -> str:
    """A central probability as the screen names its band: 0.8 -> '80% band'."""
    return fallback if p is None else f"{100 * p:g}% band"


def band_ends(lo: float | None, hi: float | None) -> tuple[float | None, float | None]:
    """A band's ends as they are shown: each rounded inward to what `count` writes (98.6-124.6
    is 99-124), so that a whole count shown outside it is outside the band, one shown inside is
    inside, and a distance to it adds up with the numbers on screen."""
    def inward(x: float | None, up: bool) -> float | None:
        if x is None or not math.isfinite(x):
            return x
        step = 1.0 if abs(x) >= 10 else 0.1
        r = (math.ceil if up else math.floor)(round(x / step, 6)) * step
        return float(round(r, 1))

    return inward(lo, True), inward(hi, False)


def count_range(lo: float | None, hi: float | None) -> str:
    """A band as `count` writes its ends, each rounded inward (band_ends): '99–124'; '–' for
    no band (an hour with no forecast read '–––')."""
    a, b = (count(x) for x in band_ends(lo, hi))
    return "–" if a == b == "–" else f"{a}–{b}"


def count(x: float | None) -> str:
    """A count or a forecast of one, the same everywhere: whole numbers and values from 10 up as
    integers ('8', '172'), a fraction below 10 to one decimal ('1.0', '4.7'); '–' for none."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if abs(x) < 0.05:  # rounds to nothing: "0", not "0.0" beside a "0" ("0–0.0")
        return "0"
    # 9.97 is "10", as it rounds (it read "10.0" beside whole counts, a trial)
    return f"{x:,.0f}" if abs(x) >= 9.95 or float(x).is_integer() else f"{x:,.1f}"


def set_title(widget, title: str | Text) -> None:
    """Set a widget's border title only where it changes: Textual repaints the widget at every
    title set, the same title too (every pane, at every frame of an idle screen: a trial)."""
    key = (title.plain, tuple(title.spans), title.style) if isinstance(title, Text) else title
    if getattr(widget, "_title_set", None) != key:
        widget._title_set = key
        widget.border_title = title
