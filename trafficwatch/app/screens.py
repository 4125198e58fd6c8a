"""Modal screens: help, site picker, filter."""
from __future__ import annotations

import re
from typing import ClassVar

import pandas as pd
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from trafficwatch.app.scrollbar import Scroll
from trafficwatch.app.text import safe_content
from trafficwatch.filters import ViewFilter, class_words, parse_status_classes
from trafficwatch.safe import safe_name

# One line per paragraph (a backslash ends each source line): the Static wraps it to the width.
HELP = """\
[b]trafficwatch[/b] follows access logs, counts requests per hour and forecasts the next \
hours. Esc, q or ? closes this help.

[b]Keys[/b]  q (ctrl+q) quit · ? (F1) help · m metric (hits/pages/visitors) · s site · / filter · h gates: \
words, then heatmaps · v panes: on small screens, gates, top, anomalies or the log tail (under \
18 rows each in the chart's place, then the chart again; under 54 columns the chart has the \
width alone, and v shows the Now pane first) · t top of the last 24 h · ←/→ hour cursor (Shift: \
a day), Esc (Home) now · w same hours last week · b band · l log scale · Tab/Shift+Tab panes · j/k g/G \
scroll · ctrl+p command palette (every action by name) · ctrl+z suspend (fg resumes)

[b]Forecast chart[/b]  ⣿ actual requests per hour (a break in the line is an hour no log \
covers, not a zero); ◆ the current hour so far ('now'), or, when the logs are no longer \
written, the hour their last line fell in ('log end'), ▼ on the axis' floor where its count \
so far is below the axis (the legend gives that count: '▼ now: 3'); • the forecast (median) \
and - its band (p10–p90: 8 hours in 10 should fall inside; '(band: thin)' where it is within a \
row of the median, not drawn; '(band: none)' where p10 = p90); · what the model forecast a day \
ahead for hours now past, so you can see how good it has been; x anomalies; ~ the same hours \
last week (w). The legend is the line above the plot.

[b]Now[/b]  this hour vs its forecast, the next hour with its band, and the error over the \
last 7 days of the forecasts drawn (each made at its day's midnight, as shown then): MASE \
(1.0 = as bad as 'same hour yesterday' in-sample) and its ratio to the better of 'same hour \
yesterday' and 'same hour last week' over those days, the one named (below 1: the forecast \
beats both). `trafficwatch eval` forecasts from other hours (daily origins before the log's \
end), so its MASE differs a little. 'Shown:' says which forecast is drawn and why: the LSTM, \
or its blend with the candidate that erred least on the site's last 14 days (fewer on a \
younger site: the pane says how many): same hour yesterday, same hour last week, the last hour \
repeated, or the last 2 weeks' daily and weekly shape and trend; or on the last day alone when traffic \
broke from the LSTM's weeks on the last 2 days and a candidate followed it. A count that held one value \
(not 0) for the last 24 hours or more is repeated, its band that value alone. 'Band widened' says the last day broke \
from the band (a new level): the band drawn then spans that day's errors on the side it fell \
('below' after a drop), and an hour's details mark it 'widened' beside the anomalies' band.

[b]What the model is doing[/b]  the LSTM reads the last week hour by hour and forecasts by \
mixing seasonal guesses (the same hours yesterday, last week, averages of past weeks...): \
'Relying on' says how much each weighs in the next 24 hours ('typical week': each hour's \
median over the last 4 weeks; 'typical day of the last 7': over the last 7 days; 'at today's \
level': moved to today's traffic). Its memory (the cell state) \
carries what it knows from hour to hour; at each hour the [b]forget[/b] gate decides how much \
of that memory to keep (near 1: keep, near 0: wipe), the [b]input[/b] gate how much new \
information to write, and the [b]output[/b] gate how much of the memory to use for the \
forecast. A sharp drop of the forget gate is a memory reset: the model set aside what it had, \
often at a sudden change such as a spike or an outage (on a steady site, at a turn of its day \
or week). Each gate's number is the mean of its 64 \
units, near 0.5 on most sites, so each is read against its own week first: 'high (low) for \
its week' when it stands above (below) 9 in 10 of the week's hours, 'usual' otherwise; the \
'Now' line says what that means for the forecast, and its sparkline spans the week's own \
range, given beside it. The \
memory's size is the length of its 64 values together. Press h for heatmaps of each gate, one row per unit, one column per hour or two.

[b]Hour cursor[/b]  ←/→ (or a click on the chart) put a cursor (a line, │) on an hour; \
the top-right pane then shows its count, forecast and band, whether it is outside the band \
or part of an \
anomaly, and its status classes, busiest paths and clients (a range where the tally of the \
busiest clients may be off). Shift+←/→ move it a day; past the chart's first hour the chart \
moves back with it, through the last four weeks. Esc: back to now.

[b]Top, last 24 h[/b]  t shows the last day's status classes, busiest paths and clients in \
place of the gates.

[b]Anomalies[/b]  completed hours outside the wider anomaly band of their day-ahead forecast \
(98% by default, --anomaly-band; outside the 80% band drawn is one hour in five by design). \
An anomaly clears at the first hour back inside it. --alert-cmd runs at an anomaly's start, \
once however long it lasts; one that begins within an hour of another of its direction (a \
site flapping at the band's edge) pages once, where this pane lists each.

[b]Log tail[/b]  the site's last lines as read (every site's, each named, for all sites), \
the newest at the bottom as tail -f shows them; 50 at most, a line cut after three rows. \
Scrolled up (k, g), the pane holds the lines shown and counts the newer ones below them and \
in its title; G \
(or scrolling to the end) shows the newest and follows again. Under a filter, the lines it \
keeps. A replay (--replay, and the demo opened without a path) shows the logs' hours, not \
their lines: the pane stays empty; point trafficwatch at a live log folder \
(trafficwatch /var/log/nginx) to see the tail.

[b]Filter[/b]  / narrows everything (chart, counts, forecast, anomalies) by a path regex \
(searched in the path without its query string), status classes, bots, a date range and the \
site.
"""


class HelpScreen(ModalScreen[None]):
    """What each pane and each gate means, in plain words."""

    # the main screen's keys close the help and do what they do there: its footer, under
    # this screen, listed them, and they did nothing (a trial pressed m, t, / and v)
    APP_KEYS: ClassVar[dict[str, str]] = {
        "m": "metric", "s": "site", "slash": "filter", "h": "heatmap", "v": "bottom",
        "t": "top", "w": "week", "b": "band", "l": "log"}
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", key_display="Esc"),
        # the keys that scroll every other pane scroll this one too
        Binding("j", "scroll('down')", "Scroll", key_display="j k"),
        Binding("k", "scroll('up')", show=False),
        Binding("g", "scroll('home')", show=False), Binding("G", "scroll('end')", show=False),
        *(Binding(key, f"then('{action}')", show=False) for key, action in APP_KEYS.items())]

    def compose(self) -> ComposeResult:
        with Scroll(id="help"):
            yield Static(HELP)  # our own text: markup here is trusted
        yield Footer()  # its own keys, over the main screen's

    def action_then(self, action: str) -> None:
        """Close the help, then do what the main screen's key does."""
        self.dismiss()
        self.app.call_later(self.app.run_action, action)

    def action_scroll(self, where: str) -> None:
        box = self.query_one("#help", Scroll)
        {"down": box.action_scroll_down, "up": box.action_scroll_up,
         "home": box.action_scroll_home, "end": box.action_scroll_end}[where]()


class SitePicker(ModalScreen[str | None]):
    """Choose one site, or all; typing narrows the list (a directory of logs may hold hundreds)."""

    # Up and Down move the entry picked while the search field keeps the keys: Down had moved
    # the focus to the list, and "s Down Down Enter" typed at once (over SSH, as tmux sends
    # them) reached the field before the focus had moved, and Enter picked "all sites" (a
    # trial)
    # Page Up/Down, Home and End move by a page and to either end, whichever has the focus (a
    # hosting trial's 165 sites: ten screens at 80x24, one line a key)
    BINDINGS: ClassVar[list[Binding]] = [Binding("escape", "dismiss(None)", "Cancel"),
                                         Binding("down", "move(1)", show=False),
                                         Binding("up", "move(-1)", show=False),
                                         Binding("pagedown", "page(1)", show=False, priority=True),
                                         Binding("pageup", "page(-1)", show=False, priority=True),
                                         Binding("home", "end(-1)", show=False, priority=True),
                                         Binding("end", "end(1)", show=False, priority=True)]

    def __init__(self, sites: tuple[str, ...]) -> None:
        super().__init__()
        # by their shown names in any case: by code point, "Shop.EXAMPLE.com" and "[2001:db8::1]"
        # came before "a.example" and an escaped name by its raw character (a hosting trial)
        self.sites = tuple(sorted(sites, key=lambda s: (safe_name(s).lower(), safe_name(s), s)))

    def compose(self) -> ComposeResult:
        with Vertical(id="picker") as box:
            n = len(self.sites)
            box.border_title = f"Show which site? ({n} site{'s' if n != 1 else ''} + all)"
            yield Input(placeholder="type to narrow · ↑↓ PgUp PgDn move · Enter picks",
                        id="site-search", select_on_focus=False)  # typing in the list adds to it
            yield OptionList(*self._options(""), id="sites")

    def _options(self, query: str) -> list[Option]:
        """'all sites' then every site whose shown name contains `query` (any case): the one
        named so exactly first, then those it begins."""
        q = query.strip().lower()
        # ids: "all", and "site:" + the name, so no name (not even "") is the entry for all
        # (a Prometheus that answered a site "" crashed the picker: duplicated IDs)
        # typed, "all" finds it too (a trial: "no site's name contains 'all'" beside it); one or
        # two letters of it narrow to the sites, as for any other word
        every = not q or (len(q) >= 3 and "all sites".startswith(q))
        opts = [Option("all sites", id="all")] if every else []
        found = [s for s in dict.fromkeys(self.sites) if q in safe_name(s).lower()]
        if q:  # the name typed whole first, then names it begins, then the others as listed:
            # "shop" and Enter had opened api.bigshop.com, listed before shop (a trial)
            found.sort(key=lambda s: (safe_name(s).lower() != q,
                                      not safe_name(s).lower().startswith(q)))
        opts += [Option(safe_content(safe_name(s)), id=f"site:{s}") for s in found]
        if not opts:  # said, not an empty box that Enter does nothing in
            hint = safe_content(f"no site's name contains {query.strip()!r} · Backspace "
                                "widens · Esc cancels", "dim")
            opts = [Option(hint, id=None, disabled=True)]
        return opts

    def on_input_changed(self, event: Input.Changed) -> None:
        sites = self.query_one("#sites", OptionList)
        sites.clear_options()
        sites.add_options(self._options(event.value))
        if not sites.get_option_at_index(0).disabled:
            sites.highlighted = 0

    def on_input_submitted(self) -> None:
        sites = self.query_one("#sites", OptionList)
        option = sites.get_option_at_index(sites.highlighted or 0)
        if not option.disabled:  # no match: the hint stays, Backspace or Esc
            self.dismiss(_site_of(option.id))

    def on_mount(self) -> None:
        self.query_one("#sites", OptionList).highlighted = 0  # what Enter picks, shown

    def action_move(self, step: int) -> None:
        sites = self.query_one("#sites", OptionList)
        if sites.option_count and not sites.get_option_at_index(0).disabled:
            sites.highlighted = min(max((sites.highlighted or 0) + step, 0),
                                    sites.option_count - 1)

    def action_page(self, direction: int) -> None:
        """A page of the list up or down (its height in lines, less one kept in view)."""
        self.action_move(direction * max(self.query_one("#sites", OptionList).size.height - 1, 1))

    def action_end(self, direction: int) -> None:
        self.action_move(direction * self.query_one("#sites", OptionList).option_count)

    def on_key(self, event: events.Key) -> None:
        """Typing while the list has the focus still narrows it: the key goes to the search
        field (as does Backspace), and Up from the list's first line goes back there. Keys
        typed while the picker was still opening (`s` then a name at once) reach the picker
        itself, nothing focused yet: they go to the search field too (they were lost)."""
        sites = self.query_one("#sites", OptionList)
        search = self.query_one("#site-search", Input)
        if self.focused is not sites:  # (the search field keeps the keys it takes)
            if event.is_printable and event.character:
                search.focus()
                search.insert_text_at_cursor(event.character)
                event.stop()
            return
        if event.is_printable and event.character:
            search.insert_text_at_cursor(event.character)
        elif event.key == "backspace":
            search.action_delete_left()
        elif event.key == "up" and not sites.highlighted:
            pass
        else:
            return
        event.stop()
        event.prevent_default()
        search.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(_site_of(event.option.id))


def _site_of(option_id: str | None) -> str:
    """The site a picker entry's id names: "" for all sites."""
    return (option_id or "").removeprefix("site:") if option_id != "all" else ""


class FilterScreen(ModalScreen[tuple[ViewFilter, str | None] | None]):
    """Path regex, status classes, bots, date range and site; Enter applies, Escape cancels."""

    # Tab as a priority binding: taken by the app as it comes, before the keys after it are
    # handed to the focused field; bubbled up from the field, it moved the focus only after
    # "4xx" typed at once behind it had gone into the path field (a trial: "path ~ ^/posts/4xx")
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True)]

    def __init__(self, sites: tuple[str, ...], current: ViewFilter | None = None,
                 offset: int = 0) -> None:
        super().__init__()
        self.sites = sites
        self.current = current or ViewFilter()
        self.tz_offset = offset  # the chart's display offset, seconds east of UTC: dates are in it
        # (a ShownOffset: each hour's own, as the chart labels it, before a clock change too)

    def compose(self) -> ComposeResult:
        cur = self.current
        bots = {True: "all", False: "none", "only": "only"}.get(cur.bots, "all")

        def fmt(t: pd.Timestamp | None) -> str:
            return "" if t is None else (t + pd.Timedelta(seconds=self._offset_at(t))).strftime(
                "%Y-%m-%d %H:%M")

        with Vertical(id="filter"):
            yield Label("Path regex, e.g. ^/api/ or \\.php$ (query string not included)")
            yield Input(value=cur.path or "", placeholder="(every path)", id="path")
            with Horizontal(classes="labels"):  # each over its own field
                yield Label("Status classes (4xx,5xx)")
                yield Label("Bots (all | none | only)")
            with Horizontal(classes="pair"):
                yield Input(value=class_words(cur.status_classes or ()),
                            placeholder="(all)", id="status")
                yield Input(value=bots, placeholder="(all)", id="bots")
            yield Label(f"From · to, inclusive (YYYY-MM-DD[ HH:MM], chart's "
                        f"{utc_name(self.tz_offset)})")
            with Horizontal(classes="pair"):
                yield Input(value=fmt(cur.start), placeholder="(open)", id="start")
                yield Input(value=fmt(cur.end), placeholder="(open)", id="end")
            yield Label("Site (part of its name; all: every site; empty = keep)")
            yield Input(placeholder="(keep the site shown)", id="site")
            yield Static("", id="error")
            with Horizontal(classes="pair"):
                yield Button("Apply", id="apply", variant="primary")
                # every field emptied in one go (a trial found no way but ctrl+u in each)
                yield Button("Clear all", id="clear")
                yield Label("Enter applies · Esc cancels · Tab: next", classes="hint")

    def on_mount(self) -> None:
        """The path field has the focus as soon as the screen is up (not after a refresh)."""
        self.query_one("#path", Input).focus()

    def on_key(self, event: events.Key) -> None:
        """Keys typed while the screen was still opening reach the screen itself, not a field
        (an Input keeps the printable keys it takes): they go to the field with the focus, the
        path field at first, instead of being lost."""
        if event.is_printable and event.character:
            field = self.focused if isinstance(self.focused, Input) else self.query_one("#path", Input)
            field.focus()
            field.insert_text_at_cursor(event.character)
            event.stop()

    def on_input_submitted(self) -> None:
        self._apply()

    def on_input_changed(self) -> None:
        """An error said of what was typed before is gone once it is edited (a fixed regex went
        on saying "unterminated subpattern" until Apply)."""
        self.query_one("#error", Static).update("")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "clear":  # no filter, the site kept
            self.dismiss((ViewFilter(), None))
        else:
            self._apply()

    def _apply(self) -> None:
        """Apply the filter, or name every field that is wrong (all of them, not the first)."""
        val = {w.id: w.value.strip() for w in self.query(Input)}
        errors: list[str] = []

        def check(fn):
            try:
                return fn()
            except ValueError as exc:
                errors.append(str(exc))
                return None

        classes = check(lambda: parse_status_classes(val["status"]))  # as --status reads it
        # empty is all, as every other field's empty is its default (it was refused: a trial)
        bots = {"all": True, "": True, "none": False, "only": "only"}.get(val["bots"].lower())
        if bots is None:
            errors.append("bots: all, none or only")
        start = check(lambda: self._when(val["start"], "from"))
        end = check(lambda: self._when(val["end"], "to", day_end=True))
        if start is not None and end is not None and start > end:
            errors.append(f"from ({val['start']}) is after to ({val['end']})")
        site = check(lambda: self._site(val["site"]))
        path = val["path"] or None
        if path is not None:
            try:
                re.compile(path)
            except re.error as exc:
                errors.append(f"path regex: {exc}")
        if errors:
            self.query_one("#error", Static).update(safe_content("; ".join(errors), "red"))
            return
        self.dismiss((ViewFilter(status_classes=classes, bots=bots, start=start, end=end,
                                 path=path), site))

    def _site(self, text: str) -> str | None:
        """The site typed: None keeps the one shown, "" is every site ("all"); a name, or a part
        of one name alone, as the site picker finds them (a trial: "blog" was "no site", and
        no word gave all sites back). ValueError names the sites there are."""
        if not text:
            return None
        if text in self.sites:
            return text
        if text.lower() in ("all", "all sites", "*"):
            return ""
        hits = [x for x in self.sites if x.lower() == text.lower()] or [  # Blog.example.org
            x for x in self.sites if text.lower() in x.lower()]  # before blog.example.org.uk
        if len(hits) == 1:
            return hits[0]
        some = ", ".join(safe_name(x) for x in (hits or list(self.sites))[:4])
        more = ", …" if len(hits or self.sites) > 4 else ""
        if hits:
            raise ValueError(f"site {text!r} is part of {len(hits)} names: {some}{more}")
        raise ValueError(f"no site's name holds {text!r} (sites: {some}{more}; all: every site)")

    def _when(self, text: str, field: str, day_end: bool = False) -> pd.Timestamp | None:
        """A date typed in the chart's offset (or with its own) as UTC; ValueError if unreadable.
        `day_end`: a day alone ("to 2026-12-03") means its last hour, so the day is in."""
        if not text:
            return None
        try:
            t = pd.Timestamp(text)
        except (ValueError, OverflowError) as exc:  # dateutil's own words name no field
            raise ValueError(f"{field}: {text!r} is not a date: YYYY-MM-DD or YYYY-MM-DD HH:MM "
                             "(and an offset such as +02:00 if not the chart's)") from exc
        if pd.isna(t):
            raise ValueError(f"{field}: a date is needed, or nothing for an open end")
        if day_end and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            t += pd.Timedelta(hours=23)
        try:
            if t.tzinfo is None:  # in the offset the chart shows that hour in: a date before a
                # clock change was read in today's, the hour after the one typed (a trial)
                guess = (t - pd.Timedelta(seconds=int(self.tz_offset))).tz_localize("UTC")
                t = (t - pd.Timedelta(seconds=self._offset_at(guess))).tz_localize("UTC")
            else:
                t = t.tz_convert("UTC")
            # the hour that holds it, whatever its minutes: "from 14:00" in Kathmandu (+05:45)
            # is the hour 13:45-14:45, the chart's; it began at the next one, a range of two
            # hours holding one (a trial)
            return t.floor("h") if not day_end else t
        except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:  # 1677-09-21 01:30
            raise ValueError(f"{field}: {text!r} is out of the range of dates shown") from exc

    def _offset_at(self, t: pd.Timestamp) -> int:
        """Seconds east of UTC the chart shows the hour holding UTC time `t` in."""
        at = getattr(self.tz_offset, "at", None)
        return int(at(int(t.timestamp()))) if at is not None else int(self.tz_offset)


def utc_name(offset: int) -> str:
    """'UTC', 'UTC+01:00', 'UTC-05:30'."""
    if not offset:
        return "UTC"
    sign, off = ("+" if offset > 0 else "-"), abs(offset)
    return f"UTC{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
