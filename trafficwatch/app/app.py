"""TrafficWatchApp: composes the panes, routes keys to the engine, draws each Snapshot."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Static

from trafficwatch.app.panes import AnomalyPane, ForecastChart, GatePane, LogTail, StatsPane
from trafficwatch.app.screens import FilterScreen, HelpScreen, SitePicker
from trafficwatch.safe import safe_content, safe_name
from trafficwatch.snapshot import Snapshot


class EngineLike(Protocol):
    """What the app needs from the engine (a fake one drives the tests)."""

    latest: Snapshot | None

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def set_site(self, site: str) -> None: ...
    def cycle_metric(self) -> str: ...
    def set_filter(self, flt) -> None: ...


@dataclass
class SnapshotReady(Message):
    """A new complete frame from the engine (a newer one may replace an unhandled older one)."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotReady)


class TrafficWatchApp(App):
    """Actual vs forecast, the LSTM's gates, anomalies and the log tail, for sites being followed."""

    CSS_PATH = "app.tcss"
    TITLE = "trafficwatch"
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("q", "quit", "Quit"), Binding("ctrl+q", "quit", "Quit", show=False),
        Binding("question_mark", "help", "Help"), Binding("f1", "help", "Help", show=False),
        Binding("m", "metric", "Metric"), Binding("s", "site", "Site"),
        Binding("slash", "filter", "Filter"), Binding("w", "week", "Week"),
        Binding("b", "band", "Band"), Binding("l", "log", "Log"), Binding("h", "heatmap", "Gates"),
        Binding("tab", "focus_next", "Next pane", show=False),
        Binding("shift+tab", "focus_previous", "Prev pane", show=False),
        Binding("j", "scroll(1)", show=False), Binding("k", "scroll(-1)", show=False),
        Binding("g", "scroll_home", show=False), Binding("G", "scroll_end", show=False),
    ]

    def __init__(self, engine_factory: Callable[[Callable[[Snapshot], None]], EngineLike]) -> None:
        super().__init__()
        self.engine = engine_factory(lambda snap: self.post_message(SnapshotReady(snap)))
        self.snapshot: Snapshot | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("starting…", id="status")
        with Horizontal(id="top"):
            yield ForecastChart(id="chart")
            with VerticalScroll(id="stats-box", can_focus=True):
                yield StatsPane(id="stats")
        with Horizontal(id="bottom"):
            with VerticalScroll(id="gates-box", can_focus=True):
                yield GatePane("Gates: loading model…", id="gates")
            with Vertical(id="side"):
                with VerticalScroll(id="anomalies-box", can_focus=True):
                    yield AnomalyPane(id="anomalies")
                with VerticalScroll(id="tail-box", can_focus=True):
                    yield LogTail(id="tail")
        yield Footer()

    def on_resize(self, event) -> None:
        self.set_class(event.size.width < 120 or event.size.height < 32, "narrow")

    def on_mount(self) -> None:
        self.set_class(self.size.width < 120 or self.size.height < 32, "narrow")
        self.engine.start()  # threads: returns at once, the first frame is not held up

    def on_snapshot_ready(self, msg: SnapshotReady) -> None:
        self.draw(msg.snapshot)

    def draw(self, snap: Snapshot) -> None:
        """Show one frame in every pane."""
        self.snapshot = snap
        self.sub_title = f"{safe_name(snap.site) if snap.site else 'all sites'} · {snap.metric}"
        status = self.query_one("#status", Static)
        status.update(safe_content(snap.status or (f"filter: {snap.filter}" if snap.filter else
                                                   "following")))
        for pane in ("#chart", "#stats", "#gates", "#anomalies", "#tail"):
            self.query_one(pane).update(snap)

    # -- actions ---------------------------------------------------------------------
    def action_quit(self) -> None:
        self.engine.stop()  # saves state
        self.exit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_metric(self) -> None:
        self.notify(f"metric: {self.engine.cycle_metric()}")

    def action_site(self) -> None:
        sites = self.snapshot.sites if self.snapshot else ()
        if len(sites) < 2:
            self.notify("only one site here")
            return
        self.push_screen(SitePicker(sites), lambda site: self.engine.set_site(site or ""))

    def action_filter(self) -> None:
        self.push_screen(FilterScreen(self.snapshot.sites if self.snapshot else (),
                                      getattr(self.engine, "filter", None)),
                         self._apply_filter)

    def _apply_filter(self, result) -> None:
        if result is None:
            return
        flt, site = result
        if site is not None:
            self.engine.set_site(site)
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

    def action_heatmap(self) -> None:
        gates = self.query_one(GatePane)
        gates.next_mode()
        if gates.heatmap:  # j/k then scroll the units
            self.query_one("#gates-box").focus()
        if self.snapshot is not None:
            gates.update(self.snapshot)

    def action_scroll(self, step: int) -> None:
        w = self.focused
        if w is not None and hasattr(w, "scroll_relative"):
            w.scroll_relative(y=step, animate=False)

    def action_scroll_home(self) -> None:
        if self.focused is not None and hasattr(self.focused, "scroll_home"):
            self.focused.scroll_home(animate=False)

    def action_scroll_end(self) -> None:
        if self.focused is not None and hasattr(self.focused, "scroll_end"):
            self.focused.scroll_end(animate=False)
