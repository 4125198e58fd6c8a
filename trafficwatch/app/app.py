"""TrafficWatchApp: composes the panes, routes keys to the engine, draws each Snapshot."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Static

from trafficwatch.app.chart import ForecastChart
from trafficwatch.app.gate_words import fmt_hour, shown_offset
from trafficwatch.app.hour_detail import TopPane
from trafficwatch.app.panes import AnomalyPane, GatePane, LogTail, StatsPane, Unchanged
from trafficwatch.app.screens import FilterScreen, HelpScreen, SitePicker
from trafficwatch.app.scrollbar import Scroll
from trafficwatch.app.text import safe_content, set_title, site_title
from trafficwatch.engine.snapshot import Snapshot
from trafficwatch.filters import ViewFilter
from trafficwatch.hours import HOUR

SHORT_ROWS = 18  # fewer rows than this (a 40x12 pane of tmux): the chart and the panes below it
# take turns (v), since both in 10 rows left the chart 3 rows of nothing but its axis
SLIM_COLUMNS = 54  # fewer columns than this: the chart alone in the top row, the Now pane in its
# place with v (beside the stats pane's 24 columns the chart, 30 at least, was pushed past the
# screen's edge and drew its left half only)


INTERRUPTED = 130  # the exit status after Ctrl-C, as a shell's
NOTHING_READ = 2  # ... when no log could be read (the reason is the app's result)
CRASHED = 70  # ... after an exception the app did not handle (sysexits' EX_SOFTWARE: a bug)


METRIC_TOAST = "metric: "


def job_control() -> bool:
    """Whether a job-control shell runs the app: its process group is not its session's (an
    interactive shell leads the session and puts each job in a group of its own). Where the
    app leads the session, or shares a non-interactive shell's group, nothing would `fg` it."""
    try:
        return os.getpgrp() != os.getsid(0)
    except OSError:
        return False


def glyphs_note(env) -> str:
    """What the Linux console will show of the chart, said at the start ("" elsewhere): its
    fonts have no braille (the chart's line, the gates' blocks), and a trial saw them sent with
    nothing said. (A C locale is no sign: over SSH the emulator shows the UTF-8 it is sent.)"""
    if env.get("TERM", "") != "linux":
        return ""
    return ("TERM=linux: the Linux console's fonts have no braille: the chart's line and marks "
            "may show as boxes or blanks; a terminal emulator over SSH shows them")


class EngineLike(Protocol):
    """What the app needs from the engine (a fake one drives the tests)."""

    latest: Snapshot | None

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def set_site(self, site: str) -> None: ...
    def cycle_metric(self) -> str: ...
    def set_filter(self, flt) -> None: ...
    def files_lost(self) -> list[str]: ...
    def frame_drawn(self, cpu_s: float) -> None: ...  # optional (the tests' fake has none)


@dataclass
class SnapshotReady(Message):
    """A new complete frame from the engine (a newer one may replace an unhandled older one)."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class KeysFooter(Footer):
    """The footer, which at 80 columns leaves out the keys of NARROW_HIDDEN (the help lists
    them): all of them are 88 columns, and the command palette's key, docked over the overflow,
    let a stray character of the keys it covered show in the last column."""

    NARROW_HIDDEN = frozenset({"week", "band", "log"})
    PALETTE = 11  # columns of the command palette's key docked at the right ("▏^p palette",
    # 12) less the last key's trailing space, which its "▏" may cover
    width = 0  # the screen's columns (0: not known yet): keys that would not fit are left out

    # which keys keep their place when not all fit (below 80 columns), most needed first: at
    # 60x16 the footer ended at "/ Filter" and left out v, the only way to the other panes
    PRIORITY = ("quit", "help", "bottom", "hour(-1)", "site", "metric", "filter", "heatmap",
                "top", "week", "band", "log")

    _drawn: tuple | None = None  # the keys last composed, as the screen's bindings gave them

    def bindings_changed(self, screen) -> None:
        """Composed again only when the keys it would show changed: Textual composes the footer
        anew at every focus change (Tab, a click, a pane coming forward), each of its keys
        restyled as it mounts (an eighth of an app test's time, a timing review)."""
        try:
            keys = tuple((k, b.binding.action, b.binding.description, b.binding.show, b.enabled)
                         for k, b in screen.active_bindings.items())
        except Exception:  # noqa: BLE001 (Textual's internals: compose as Textual would)
            keys = None
        drawn = (keys, self.compact, self.width)
        if keys is not None and drawn == self._drawn and self.children:
            self._bindings_ready = True
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._drawn = drawn  # what Textual composes now (not while the app is unfocused)
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        room = self.width - self.PALETTE if self.width else None
        shown = [w for w in super().compose()
                 if not (self.compact and getattr(w, "action", None) in self.NARROW_HIDDEN)]
        keys = [w for w in shown if hasattr(w, "key_display")
                and "command_palette" not in str(getattr(w, "action", ""))]
        left_out: set[int] = set()
        if room is not None:
            rank = {a: i for i, a in enumerate(self.PRIORITY)}
            for w in sorted(keys, key=lambda k: rank.get(k.action, len(rank))):
                need = len(w.key_display or "") + len(w.description or "") + 2  # "q Quit "
                if need > room:  # never a key half shown under the palette's
                    left_out.add(id(w))
                else:
                    room -= need
        yield from (w for w in shown if id(w) not in left_out)


class TrafficWatchApp(App):
    """Actual vs forecast, the LSTM's gates, anomalies and the log tail, for sites being followed."""

    CSS_PATH = "app.tcss"
    TITLE = "trafficwatch"
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("q", "quit", "Quit"), Binding("ctrl+q", "quit", "Quit", show=False),
        # the terminal is raw: Ctrl-C is a key, not SIGINT; it ends the app as it would a shell's
        # command (state saved, exit status 130)
        Binding("ctrl+c", "interrupt", show=False, priority=True),
        # and Ctrl-Z a key too: it suspends the app as a shell's job (`fg` brings it back), as
        # a user over SSH expects (it did nothing: a trial)
        Binding("ctrl+z", "suspend_process", show=False, priority=True),
        Binding("question_mark", "help", "Help"), Binding("f1", "help", "Help", show=False),
        Binding("m", "metric", "Metric"), Binding("s", "site", "Site"),
        Binding("slash", "filter", "Filter"), Binding("h", "heatmap", "Gates"),
        Binding("v", "bottom", "Panes"), Binding("t", "top", "Top"),
        # priority: the focused pane would take them first (and hide them from the footer);
        # check_action lets them through to the inputs of the filter and site screens
        Binding("left", "hour(-1)", "Hour", key_display="←→", priority=True),
        Binding("right", "hour(1)", "Hour", show=False, priority=True),
        Binding("shift+left", "hour(-24)", show=False, priority=True),  # a day at a time
        Binding("shift+right", "hour(24)", show=False, priority=True),
        Binding("escape", "hour_now", "Now", show=False),
        Binding("home", "hour_now", "Now", show=False, priority=True),
        Binding("w", "week", "Week"), Binding("b", "band", "Band"), Binding("l", "log", "Log scale"),
        Binding("tab", "focus_next", "Next pane", show=False),
        Binding("shift+tab", "focus_previous", "Prev pane", show=False),
        Binding("j", "scroll(1)", show=False), Binding("k", "scroll(-1)", show=False),
        Binding("g", "scroll_home", show=False), Binding("G", "scroll_end", show=False),
    ]
    BOTTOM = ("gates", "top", "anomalies", "tail")  # what `v` brings forward in the bottom row
    TITLES: ClassVar[dict[str, str]] = {
        "#stats-box": "Now", "#gates-box": "What the model is doing (LSTM gates)",
        "#top-box": "Top, last 24 h", "#anomalies-box": "Anomalies", "#tail-box": "Log tail"}

    def __init__(self, engine_factory: Callable[[Callable[[Snapshot], None]], EngineLike]) -> None:
        super().__init__()
        self.engine = engine_factory(lambda snap: self.post_message(SnapshotReady(snap)))
        self.snapshot: Snapshot | None = None
        self.bottom = "gates"  # the bottom pane in front on small screens
        self.left = "gates"  # the bottom-left pane on large screens: the gates or the top view
        self.short_pane = False  # short screens: a bottom pane is shown instead of the chart
        self.tz_offset = 0  # the logs' offset as last shown: a filter that empties the view keeps it

    def compose(self) -> ComposeResult:
        yield Header()
        yield Unchanged("starting…", id="status")
        with Horizontal(id="top"):
            yield ForecastChart(id="chart")
            with Scroll(id="stats-box", can_focus=True):
                yield StatsPane(id="stats")
        with Horizontal(id="bottom"):
            with Scroll(id="gates-box", can_focus=True):
                yield GatePane("Gates: loading model…", id="gates")
            with Scroll(id="top-box", can_focus=True):
                yield TopPane(id="top-pane")
            with Vertical(id="side"):
                with Scroll(id="anomalies-box", can_focus=True):
                    yield AnomalyPane(id="anomalies")
                with Scroll(id="tail-box", can_focus=True):
                    yield LogTail(id="tail")
        yield KeysFooter()

    def _fit(self, width: int, height: int) -> None:
        """Small screens (80x24) show one bottom pane at a time and a compact footer."""
        narrow = width < 120 or height < 32
        # in one batch: a class of the app restyles every widget, once per call
        self.update_classes({"narrow": narrow, "short": height < SHORT_ROWS,
                             "slim": width < SLIM_COLUMNS})
        self.short_pane &= height < SHORT_ROWS
        if self.bottom == "now" and width >= SLIM_COLUMNS:
            self.bottom = "gates"  # the Now pane is beside the chart again
        footer = self.query_one(KeysFooter)
        if footer.compact != narrow or footer.width != width:
            footer.compact, footer.width = narrow, width
            footer.refresh(recompose=True)
        self._show_bottom()

    _was_focused = None  # the pane focused before a resize hid it

    def on_resize(self, event) -> None:
        self._was_focused = self.focused or self._was_focused
        self._fit(event.size.width, event.size.height)
        self.call_after_refresh(self._refocus)

    def _refocus(self) -> None:
        """The pane focused before the window shrank below it, focused again once it is shown:
        after 40x12 and back, no pane was, and j/k and the arrows did nothing (a trial)."""
        w = self._was_focused
        if self.focused is None and w is not None and w in self.screen.focus_chain:
            w.focus(scroll_visible=False)

    def on_mount(self) -> None:
        from textual.scrollbar import ScrollBar, ScrollBarRender

        from trafficwatch.app.scrollbar import PlainScrollBarRender

        plain = bool(os.environ.get("NO_COLOR"))
        if plain:  # see app.tcss: what colour alone told is said otherwise
            self.add_class("-no-color")
        # (a class attribute: set by every app, so one run under NO_COLOR leaves no trace)
        ScrollBar.renderer = PlainScrollBarRender if plain else ScrollBarRender
        self._fit(self.size.width, self.size.height)
        self.app_resume_signal.subscribe(self, self._repaint)
        if glyphs := glyphs_note(os.environ):
            self.notify(glyphs, timeout=15)
        self.engine.start()  # threads: returns at once, the first frame is not held up

    def _repaint(self, _app: object = None) -> None:
        """Back from Ctrl-Z (`fg`): the terminal's screen was the shell's, so every widget is
        painted again (the footer stayed blank until a key was pressed: a trial)."""
        for widget in self.screen.walk_children(with_self=True):
            widget.refresh(layout=True)

    def on_key(self, event: events.Key) -> None:
        """Keys typed right after `/` (or `s`) were sent to the main screen before the filter
        screen (the site picker) opened: they reach here unbound and go to that screen, which
        puts them in its first field."""
        if isinstance(self.screen, (FilterScreen, SitePicker)) and event.is_printable and \
                event.character:
            self.screen.post_message(events.Key(event.key, event.character))

    _cpu_at: float | None = None  # this thread's CPU clock at the latest frame

    def on_snapshot_ready(self, msg: SnapshotReady) -> None:
        if msg.snapshot.fatal:  # nothing could be read: said on the terminal once the app ends
            self.engine.stop()
            self.exit(result=msg.snapshot.fatal, return_code=NOTHING_READ)
            return
        if msg.snapshot.crashed:  # an engine thread's exception: its traceback, once it ends
            self.engine.stop()
            self.exit(result=msg.snapshot.crashed, return_code=CRASHED)
            return
        # this thread's CPU since the frame before (drawn, laid out, rendered): the engine
        # builds frames for new lines no faster than both together can take (frame_interval)
        cpu, self._cpu_at = self._cpu_at, time.thread_time()
        drawn = getattr(self.engine, "frame_drawn", None)
        if cpu is not None and drawn is not None:
            drawn(self._cpu_at - cpu)
        self.draw(msg.snapshot)

    def draw(self, snap: Snapshot) -> None:
        """Show one frame in every pane."""
        before, self.snapshot = self.snapshot, snap
        if (before is not None and before.forecast is not None and snap.forecast is not None
                and (before.site, before.metric, before.filter) == (snap.site, snap.metric,
                                                                    snap.filter)
                and before.forecast.model_name != snap.forecast.model_name == "fine-tuned"):
            # the forecast, its band and the anomalies change at once: said, not silent
            self.notify(f"{site_title(snap.site, snap.sites)}: the fine-tuned "
                        "model backtested better and is kept; the forecast, band and anomalies "
                        "are now its own", title="Fine-tune kept", timeout=10)
        if snap.series is not None:
            self.tz_offset = snap.series.tz_offset_s
        self.sub_title = f"{site_title(snap.site, snap.sites)} · {snap.metric}"
        status = self.query_one("#status", Static)
        # how lines arrive, then what holds the forecast back: a log silent for weeks that said
        # only "warming up" read as if it would start soon
        n = len(snap.ingest.notices)
        # a notice (state file in use by another trafficwatch, lines dated ahead, a site not in
        # the forecast) sits at the foot of Now: below the fold at 80x24, unseen unless said
        # the short forms where the long ones would wrap the status line, and it grew a row and
        # moved every pane down (80x24: "...· 1 notice at the foot of" / "Now"; "· filter:" /
        # "path ~ ^/cart", a trial): the filter goes first, the chart's title says it too
        for where, flt in (("at the foot of Now", True), ("in Now", True), ("in Now", False)):
            words = " · ".join(w for w in (snap.feed, snap.status,
                                           f"filter: {snap.filter}" if snap.filter and flt
                                           else "",
                                           f"{n} notice{'s' * (n > 1)} {where}" if n
                                           else "") if w)
            if len(words) <= self.size.width - 2:
                break
        room = 2 * (self.size.width - 2) - 10  # two rows, less what wrapping at words costs
        if len(words) > room > 20:  # cut at a word with "…", not mid-word at the second
            # row's end (a trial: "the series has 3: 21 more", its last word lost)
            words = words[:room].rsplit(" ", 1)[0] + " …"
        status.update(safe_content(words))
        for pane in ("#chart", "#stats", "#gates", "#top-pane", "#anomalies", "#tail"):
            self.query_one(pane).update(snap)
        self._sync_cursor()
        self._show_bottom()

    def _show_bottom(self) -> None:
        """Mark which bottom pane is in front; on small screens only that one is shown, and its
        title says what `v` brings next."""
        if self.bottom in ("gates", "top"):
            self.left = self.bottom
        # one restyle of the whole screen, not one per class (two or three at each `v`)
        self.update_classes({**{f"-bottom-{name}": self.bottom == name
                                for name in ("now", *self.BOTTOM)},
                             "-short-pane": self.short_pane, "-left-top": self.left == "top"})
        n = len(self.snapshot.anomalies) if self.snapshot else 0
        titles = dict(self.TITLES)
        if n:
            titles["#anomalies-box"] = f"Anomalies ({n})"
        snap = self.snapshot
        if snap is not None and snap.tail_of:  # the lines the filter keeps: said in the title,
            # which stays in view (at 80x24 the pane's own first line scrolled off at once and
            # it read as every line: a trial)
            kept = "filtered" if snap.filter else "pages"  # (--metric pages alone: assets out)
            titles["#tail-box"] = f"Log tail, {kept} ({len(snap.tail):,} of {snap.tail_of:,})"
        held = self.query_one(LogTail).held_note
        if held:  # the reader scrolled up as lines came: where it is seen, wherever they are
            titles["#tail-box"] += f" · {held}"
        if self.has_class("narrow"):
            order = self._order()
            i = order.index(self.bottom) if self.bottom in order else -1
            nxt = order[(i + 1) % len(order)]
            back = self.has_class("short") and i == len(order) - 1  # short: then the chart
            name = titles[self._box(nxt)].split(" (LSTM")[0].split(",")[0].split(" · ")[0]
            titles[self._box(self.bottom)] += " · v: chart" if back else f" · v: {name.lower()}"
        else:
            titles[f"#{self.left}-box"] += " · t: " + ("gates" if self.left == "top" else "top 24 h")
        chart = self.query_one(ForecastChart)
        if chart.cursor is not None:
            off = shown_offset(self.snapshot.series if self.snapshot else None)
            titles["#stats-box"] = "Hour " + fmt_hour(chart.cursor, off, "%a %H:00")
        for box, title in titles.items():
            set_title(self.query_one(box), title)

    def on_log_tail_held(self, _msg: LogTail.Held) -> None:
        self._show_bottom()

    # -- actions ---------------------------------------------------------------------
    def action_quit(self) -> None:
        self.engine.stop()  # saves state
        self.exit()

    def action_interrupt(self) -> None:
        self.engine.stop()
        self.exit(return_code=INTERRUPTED)

    def action_suspend_process(self) -> None:
        """Ctrl-Z: stopped as a shell's job only where a shell can bring it back. Started
        without one (`ssh -t host trafficwatch`, tmux's command), the app stopped for good,
        its screen blank (a trial): it says so instead."""
        if job_control():
            super().action_suspend_process()
        else:
            self.notify("ctrl+z: no shell to return to with fg (the app was started without "
                        "one), so it keeps running; q quits", severity="warning")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_metric(self) -> None:
        self.notify(f"{METRIC_TOAST}{self.engine.cycle_metric()}", timeout=2)

    def notify(self, message: str, *, markup: bool = False, **kw) -> None:
        """A toast, plain text unless asked: its words may hold a site's name, and a log named
        "[@click=app.screenshot('x.svg','/etc')]a.access.log" wrote a file where its toast was
        clicked (a security trial)."""
        super().notify(message, markup=markup, **kw)

    def _on_notify(self, event) -> None:
        """One toast for the metric, the last: m pressed a few times had piled them over the
        gates pane for seconds (a trial). Toasts come as messages, in order: the metric's
        before it are taken away as it arrives."""
        if event.notification.message.startswith(METRIC_TOAST):
            for n in [n for n in self._notifications if n.message.startswith(METRIC_TOAST)]:
                self._unnotify(n, refresh=False)
        super()._on_notify(event)

    def action_site(self) -> None:
        sites = self.snapshot.sites if self.snapshot else ()
        if len(sites) < 2:
            fleet = getattr(getattr(self.engine, "cfg", None), "prometheus", None) is not None
            # (on a fleet the agents had counted 300 lines of 12 sites: no whole hour of them
            # in Prometheus yet, which the status line says, a fleet trial)
            self.notify(f"only one site here: {site_title('', sites)}" if sites else
                        "no site yet: no hour of the agents' counts read from Prometheus "
                        "(the status line says why)" if fleet else
                        "no site yet: no log line counted")
            return
        self.push_screen(SitePicker(sites), self._picked_site)

    def _picked_site(self, site: str | None) -> None:
        """The site picked ("": all sites); None, Esc: the view as it was (it had turned to
        all sites, a trial)."""
        if site is not None:
            self.engine.set_site(site)

    def action_filter(self) -> None:
        if any(isinstance(s, FilterScreen) for s in self.screen_stack):
            return  # open already (the palette's "Filter…" over it had opened a second one)
        snap = self.snapshot
        offset = shown_offset(snap.series) if snap and snap.series is not None else self.tz_offset
        self.push_screen(FilterScreen(snap.sites if snap else (), getattr(self.engine, "filter", None),
                                      offset), self._apply_filter)

    def action_clear_filter(self) -> None:
        self.engine.set_filter(ViewFilter())
        # a filter dialog left open under the palette kept the old values: Enter there put
        # them back (a trial). It closes, once the palette has (the screen on top then)
        self.call_after_refresh(self._close_filter_dialogs)

    def _close_filter_dialogs(self) -> None:
        while isinstance(self.screen, FilterScreen):
            self.pop_screen()

    def _apply_filter(self, result) -> None:
        if result is None:
            return
        flt, site = result
        if site is not None:
            self.engine.set_site(site)
        fleet = getattr(getattr(self.engine, "cfg", None), "prometheus", None) is not None
        if fleet and (flt.path or flt.bots is not True):  # (set_filter leaves them out: a
            # fleet trial's ^/api/ was taken and dropped without a word)
            left = " and ".join(w for w, on in (("path", flt.path), ("bots", flt.bots is not True))
                                if on)
            self.notify(f"the fleet's agents count by status class only: the {left} filter "
                        "is left out", severity="warning")
        self.engine.set_filter(flt)

    def _chart_toggle(self, attr: str) -> None:
        chart = self.query_one(ForecastChart)
        setattr(chart, attr, not getattr(chart, attr))
        if self.snapshot is not None:
            chart.update(self.snapshot)

    def action_week(self) -> None:
        self._chart_toggle("week_overlay")

    def action_band(self) -> None:
        self._chart_toggle("show_band")

    def action_log(self) -> None:
        self._chart_toggle("log_scale")

    # -- the hour cursor ---------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The cursor's keys belong to the main screen: elsewhere they edit and move as usual."""
        return action not in ("hour", "hour_now") or self.screen is self.screen_stack[0]

    def action_hour(self, step: int) -> None:
        """Move the chart's cursor `step` hours back or on (from now, the hour in progress); past
        the chart's first hour the chart moves back with it, through every hour the snapshot
        holds (four weeks: the anomalies of the last 7 days all within reach at 80 columns)."""
        chart = self.query_one(ForecastChart)
        sv = self.snapshot.series if self.snapshot else None
        if sv is None or not len(sv.hours):
            return
        if not chart.hours:  # a key before the chart's first draw
            chart.hours = chart.shown_hours(self.snapshot)
        hours = chart.hours
        if chart.cursor in hours:
            i = hours.index(chart.cursor) + step
            if 0 <= i < len(hours):
                self.set_cursor(hours[i])
                return
            target = chart.cursor + step * HOUR
        else:
            target = int(sv.hours[-1]) + step * HOUR
        if target > hours[-1] and not chart.back:
            target = hours[-1]  # the last forecast hour: no further
        self.set_cursor(chart.reveal(target, self.snapshot))

    def action_hour_now(self) -> None:
        self.query_one(ForecastChart).back = 0
        self.set_cursor(None)

    def on_forecast_chart_clicked(self, msg: ForecastChart.Clicked) -> None:
        if msg.hour is not None:
            self.set_cursor(msg.hour)

    def set_cursor(self, hour: int | None) -> None:
        """Put the chart's cursor on `hour` (None: back to now) and show that hour's details."""
        chart = self.query_one(ForecastChart)
        chart.cursor = hour
        self._sync_cursor()
        self._show_bottom()
        if self.snapshot is not None:
            chart.update(self.snapshot)
            self.query_one(StatsPane).update(self.snapshot)

    def _sync_cursor(self) -> None:
        """The stats pane follows the chart's cursor (which drops it once its hour scrolls off)."""
        stats = self.query_one(StatsPane)
        cursor = self.query_one(ForecastChart).cursor
        if stats.cursor != cursor:
            stats.cursor = cursor
            # another hour's details (or back to now) read from their first line, not from
            # where the pane was scrolled to
            self.query_one("#stats-box").scroll_home(animate=False)
            if self.snapshot is not None:
                stats.update(self.snapshot)

    def _order(self) -> tuple[str, ...]:
        """What `v` brings forward in turn: the bottom panes, and first the Now pane where it
        has no room beside the chart (slim). The gates come first on the screen, so Now comes
        right after them: placed before them, `v` brought it last."""
        if not self.has_class("slim"):
            return self.BOTTOM
        if self.has_class("short"):  # the chart alone at first: Now is the first in its place
            return ("now", *self.BOTTOM)
        return self.BOTTOM[:1] + ("now",) + self.BOTTOM[1:]

    @staticmethod
    def _box(name: str) -> str:
        return "#stats-box" if name == "now" else f"#{name}-box"

    def _in_view(self, name: str) -> bool:
        """Whether the bottom pane `name` is on the screen now: on a short screen only once a
        pane took the chart's place, on a narrow one only the one in front, on a wide one the
        left pane and the anomalies and tail beside it."""
        if self.has_class("short") and not self.short_pane:
            return False
        if self.has_class("narrow"):
            return self.bottom == name
        return name in (self.left, "anomalies", "tail")

    def action_top(self) -> None:
        """The top view of the last 24 h in front (or back to the gates, where it was in
        view); on a short screen in the chart's place, as `v` brings a pane (`t` had focused
        the hidden Top pane and nothing changed on the screen: a trial at 80x15)."""
        self.bottom = "gates" if self._in_view("top") else "top"
        if self.has_class("short"):
            self.short_pane = True
        self._show_bottom()
        self.query_one(f"#{self.bottom}-box").focus()

    def action_bottom(self) -> None:
        """Bring the next bottom pane forward (small screens) and focus it for j/k. A short screen
        shows one thing at a time: the chart, then each pane in turn instead of it, then the
        chart again."""
        order = self._order()
        i = order.index(self.bottom) if self.bottom in order else -1
        if self.has_class("short") and not self.short_pane:
            self.short_pane = True  # the first pane takes the chart's place
            self.bottom = order[0]
        elif self.has_class("short") and i == len(order) - 1:
            self.short_pane = False  # the chart again
            self.bottom = self.BOTTOM[0]
            self._show_bottom()
            self.set_focus(None)
            return
        else:
            self.bottom = order[(i + 1) % len(order)]
        self._show_bottom()
        box = self.query_one(self._box(self.bottom))
        box.focus()
        if self.bottom == "tail":  # as tail -f: it comes forward at its newest line
            self.call_after_refresh(box.scroll_end, animate=False)

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        """The app's own actions in the command palette (ctrl+p), beside Textual's."""
        yield from super().get_system_commands(screen)
        for title, help_, action in (
                ("Metric: next", "hits, pages or visitors", self.action_metric),
                ("Site…", "show one site, or all", self.action_site),
                ("Filter…", "path regex, status classes, bots, dates, site", self.action_filter),
                ("Filter: clear", "every path, status, bot and date again (the site kept)",
                 self.action_clear_filter),
                ("Gates: words / heatmaps", "cycle the gate pane's views", self.action_heatmap),
                ("Panes: gates / top / anomalies / log tail", "bring the next bottom pane forward",
                 self.action_bottom),
                ("Top: the last 24 h", "status classes, busiest paths and clients (t)",
                 self.action_top),
                ("Hour: previous", "move the chart's cursor an hour back (←)",
                 lambda: self.action_hour(-1)),
                ("Hour: next", "move the chart's cursor an hour on (→)", lambda: self.action_hour(1)),
                ("Hour: back to now", "drop the chart's cursor (Esc)", self.action_hour_now),
                ("Chart: same hours last week", "toggle the overlay", self.action_week),
                ("Chart: forecast band", "toggle the band", self.action_band),
                ("Chart: log scale", "toggle a log count axis", self.action_log),
                ("Help", "what each pane means", self.action_help)):
            yield SystemCommand(title, help_, action)

    def action_heatmap(self) -> None:
        gates = self.query_one(GatePane)
        if not self._in_view("gates"):  # h with Top in front (or the chart, on a short screen)
            # had cycled the hidden gate pane: it comes forward first, in the view it had (two
            # trials saw nothing happen)
            self.bottom = "gates"
            if self.has_class("short"):
                self.short_pane = True
            self._show_bottom()
        else:
            gates.next_mode()
        box = self.query_one("#gates-box")
        if gates.heatmap:  # j/k then scroll the units
            box.focus()
        if self.snapshot is not None:
            gates.update(self.snapshot)
        # each gate opens at its top: the line saying which gate it is, then its first units
        # (scrolled down the units of one, the next one opened with its title scrolled off)
        box.scroll_home(animate=False)

    def action_scroll(self, step: int) -> None:
        w = self.focused
        if self._in_heatmap():
            self.query_one(GatePane).scroll_units(step)  # the header and the hour axis stay
            return
        if w is not None and hasattr(w, "scroll_relative"):
            w.scroll_to(y=w.scroll_y + step, animate=False, immediate=True)  # (see Scroll)

    def action_scroll_home(self) -> None:
        if self._in_heatmap():
            self.query_one(GatePane).scroll_units(-10**6)  # the first unit
        elif self.focused is not None and hasattr(self.focused, "scroll_home"):
            self.focused.scroll_home(animate=False, immediate=True)

    def action_scroll_end(self) -> None:
        if self._in_heatmap():
            self.query_one(GatePane).scroll_units(10**6)  # the last units
        elif self.focused is not None and hasattr(self.focused, "scroll_end"):
            self.focused.scroll_end(animate=False, immediate=True)

    def _in_heatmap(self) -> bool:
        """The gates pane is focused and shows a heatmap: j/k/g/G move through its units."""
        return self.focused is not None and self.focused.id == "gates-box" and \
            self.query_one(GatePane).heatmap
