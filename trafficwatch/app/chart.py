"""The forecast chart: actual vs forecast, band, past forecasts, anomalies; legible without colour."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual import events
from textual.message import Message
from textual_plotext import PlotextPlot

from trafficwatch.app.panes import fmt_hour, num, shown_offset
from trafficwatch.app.text import count, safe_content, set_title, site_title
from trafficwatch.engine.snapshot import Snapshot
from trafficwatch.hours import week_before
from trafficwatch.safe import safe_text

BAND_APART = 1.0  # rows: a band edge nearer the median than this is not drawn at that hour
BAND_ROOM = 1.5  # the count axis reaches this many times the highest count, past forecast or
# forecast at most for the band: a band of 36-433 around a forecast of 145 on a site whose hours
# peak at 220 (a real log of five volatile days) put the counts in the chart's bottom quarter.
# Band hours above it are drawn at its top; the Now pane and an hour's details give the numbers

# Each series has its own marker, so the chart reads the same under NO_COLOR: (marker, legend
# word, short legend word for narrow charts). "braille" is plotext's dense line.
MARKS = {
    "actual": ("braille", "⣿ actual", "⣿ actual"),
    "now": ("◆", "◆ this hour so far{so_far}", "◆ now{short}"),
    "end": ("◆", "◆ last hour, log ends {end}{so_far}", "◆ log end{short}"),
    "forecast": ("•", "• forecast", "• forecast"),
    "band": ("-", "- {band} band", "- band"),
    # not drawn: in brackets, not read with the word before ("· past band: thin", a trial)
    "thin band": ("", "({band} band: thinner than a row)", "(band: thin)"),
    "no band": ("", "({band} band: none, p10 = p90)", "(band: none)"),  # a count repeated, a quiet
    # site at 0: the legend had said nothing of a band (a trial)
    "past": ("·", "· past forecasts", "· past"),
    "week": ("~", "~ same hours last week", "~ last wk"),
    "no week": ("~", "~ last week: no count yet", "~ no last wk"),  # `w` on a young site
    "anomaly": ("x", "x anomaly", "x anomaly"),
    "cursor": ("│", "│ hour {cursor} (←/→, Esc: now)", "│ hour"),
}

# the fewest words that still name each mark: every mark drawn keeps a word where these fit and
# the short ones do not (at 80x24 with last week's line, "· past" and "- band" had been left out
# while both were drawn, and under NO_COLOR the dots and dashes could not be told apart: a trial)
TINY = {"actual": "⣿ actual", "now": "◆ now{short}", "end": "◆ end{short}",
        "forecast": "• fcst", "band": "- band", "thin band": "(band: thin)",
        "no band": "(band: none)", "past": "· past",
        "week": "~ wk", "no week": "~ no wk", "anomaly": "x anom", "cursor": "│ hour"}

# Each series' colour, and its grey under NO_COLOR: Textual then greys every colour by its
# luminance, and red and magenta (the anomalies' x, the past forecasts' dots) became 237 on a
# 234 background, the marks one most needs to see the hardest to see; each grey is set here.
# In colour, as RGB: by name, Textual's theme drew "magenta" and "red" alike (244, 0, 95), and
# a chart of past forecasts' dots read as a chart of anomalies (a trial)
INK = {"actual": (88, 209, 235), "now": (255, 215, 0), "end": (255, 215, 0),
       "forecast": (152, 224, 36), "band": (152, 224, 36), "past": (190, 150, 255),
       "week": (160, 163, 166), "anomaly": (255, 45, 85), "cursor": (255, 255, 255)}
INK_MONO = {"actual": (215, 215, 215), "now": (255, 255, 255), "end": (255, 255, 255),
            "forecast": (185, 185, 185), "band": (135, 135, 135), "past": (160, 160, 160),
            "week": (110, 110, 110), "anomaly": (255, 255, 255), "cursor": (255, 255, 255)}
BELOW = "▼"  # the hour in progress's mark where its count so far is below the axis
BOLD = {"anomaly", "now", "end"}  # single marks over lines: bold as well, in colour or not

FLAT_DEPTH = 0.1  # an axis from above 0 spans this share of its top at the least
FLOOR_SHARE = 0.5  # the count axis starts above 0 when everything drawn is above this share
# of the highest value: a busy, steady site (110-140 an hour) sat in the top 3 rows of an axis
# from 0, its counts, past forecasts, band and forecast drawn over each other


def nice_ticks(top: float, rows: int, low: float = 0.0) -> list[float]:
    """Round tick values (1, 2 or 5 x 10^k apart) up to `top`, about one per 3 rows: from 0, or
    from a round count at or below `low` when `low` is above FLOOR_SHARE of `top`."""
    if not math.isfinite(top) or top < 2:  # counts are whole: no axis of fractions
        return [0.0, 1.0]
    low = min(low, top - max(2.0, FLAT_DEPTH * top)) if math.isfinite(low) and \
        low > FLOOR_SHARE * top else 0.0  # (a flat line, low == top, gets an axis a tenth of
    # its level deep, 2 counts at least: a span of 0 has no ticks, and one hour at 1,004
    # drawn on 1,002-1,003-1,004 read as an axis gone wrong, an app trial)
    raw = (top - low) / max(rows // 3, 2)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    step = max(step, 1.0)  # counts: whole steps
    start = math.floor(low / step) * step
    return [start + i * step for i in range(int((top - start) // step) + 1)]


def log_floor(low: float) -> float:
    """The count a log axis starts at: the power of ten at or below the lowest value drawn (0
    below 1). From 0, a site of 30-400 an hour left the lower half of the plot empty."""
    return 0.0 if not math.isfinite(low) or low < 1 else 10.0 ** math.floor(math.log10(low))


def log_ticks(top: float, rows: int, bottom: float = 0.0) -> tuple[list[float], list[str]]:
    """Positions on a log10(1 + count) axis labelled with real counts: 0, 1, 10, 100... from
    `bottom` (0 or a power of ten)."""
    counts = [0.0, 1.0] if bottom < 1 else [bottom]
    while counts[-1] * 10 <= max(top, 1.0):
        counts.append(counts[-1] * 10)
    if rows >= 3 * 2 * len(counts):  # room for the halfway marks: 3, 30, 300...
        counts = sorted(counts + [3 * c for c in counts if c > 0 and 3 * c <= top])
    if len(counts) < 2 and top > counts[0] + 2:  # a steady site of 100-135 an hour: "100" was
        # its one label; round counts between, as the linear axis would have them
        counts = sorted({*counts, *(t for t in nice_ticks(top, rows, counts[0])
                                    if counts[0] < t <= top)})
    return [math.log10(1 + c) for c in counts], [num(c) for c in counts]


MIN_ROWS = 3  # plot rows a count axis needs: on 1 (80x8) plotext drew every hour on one row
# labelled with the top count, zero read as 5,000; on 0 (80x7, 30x8) it put "0" on the top frame
# line and the top count on the bottom one; on 2 the bottom row, where the zeros are, could take
# the middle count's label (0-400 read "200" on it)


def plot_rows(height: int) -> int:
    """The plot's rows in a chart `height` lines high: less the legend, the frame's top and
    bottom lines and the hours' labels."""
    return height - 4


def too_short(rows: int, width: int) -> str:
    """The one line shown instead of a chart of `rows` plot rows (under MIN_ROWS): the longest
    wording that fits `width` columns."""
    rows = max(rows, 0)
    said = f"window too short for the chart: {rows} plot row{'' if rows == 1 else 's'}"
    words = (f"{said}, needs {MIN_ROWS}: make it taller", f"{said}, needs {MIN_ROWS}", said,
             "window too short for the chart", "too short for the chart", "too short")
    return next((w for w in words if len(w) <= width), words[-1])


class ForecastChart(PlotextPlot):
    """Actual hourly counts, the forecast with its band, past forecasts, anomalies."""

    @dataclass
    class Clicked(Message):
        """A click on the chart, at the shown hour nearest to it (None: off the hours)."""

        hour: int | None

    def on_click(self, event: events.Click) -> None:
        self.post_message(self.Clicked(self.hour_at(event.x)))

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.show_band = True
        self.log_scale = False
        self.week_overlay = False
        self.days = 4
        self.cursor: int | None = None  # the hour inspected (epoch seconds); None: now
        self.back = 0  # hours the window is moved back from the newest (the cursor took it
        # further back than the chart's width: an anomaly of 6 days ago at 80 columns)
        self.hours: list[int] = []  # every hour the chart shows, past and forecast, ascending
        self._snap: Snapshot | None = None
        self._geom: tuple[int, int, int] | None = None  # canvas first column, columns, last x

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        """Keep the snapshot; it is drawn at render time, fitted to the width the chart has then."""
        self._snap = snap
        title = f"{site_title(snap.site, snap.sites)} · {snap.metric} per hour"
        title += (" · log scale" if self.log_scale else "") + (f" · {snap.filter}" if snap.filter else "")
        counts = np.zeros(0)
        if snap.series is not None and len(snap.series.hours):  # the hours drawn at this width
            # (the series' two weeks had "an hour of 644 flattens the rest" said of an hour 16
            # days back, none on screen above 172: a trial)
            start, end = self._window(snap) if self.size.width else (0, None)
            counts = snap.series.counts[start:end]
        top = tower(counts)
        if top is not None and not self.log_scale:  # a crawler's hour of 890 put a week of
            # 40-120 and the forecast in the bottom rows, and nothing said `l` (a trial)
            # the fewest words that still say it where the whole hint does not fit (80x24 had
            # "l: log scale (an hour of 4,11…", a trial)
            hints = (f" · l: log scale (an hour of {count(top)} flattens the rest)",
                     f" · l: log scale ({count(top)} flattens the rest)", " · l: log scale")
            room = self.size.width - 4  # the border's corners and a space each side
            title += next((h for h in hints if len(title) + len(h) <= room or room <= 0),
                          hints[-1])
        set_title(self, safe_content(title))
        if not self.size.area:  # not laid out yet: drawn when it is
            self.refresh()
            return
        # drawn now, at its size, and sent only where it changed: a frame every 5 s for what the
        # clock changes repainted an idle chart all the same (a trial: 5 KB every 5 s at 80x24)
        fresh = self._build()
        if self._built is not None and self._built[0] == self.size and self._built[1] == fresh:
            return
        self._ready = (self.size, fresh)
        self.refresh()

    def _window(self, snap: Snapshot) -> tuple[int, int]:
        """The past hours shown, as a slice of the snapshot's: (start, end), one a column, ending
        `back` hours before the newest (`back` held within the hours there are)."""
        total = len(snap.series.hours)
        n = min(total, self.days * 24, max(self.size.width - 10, 20))
        self.back = min(max(self.back, 0), total - n)
        if not self.back:
            return total - n, total
        # moved back, past hours take the forecast's place too: as many hours across the width
        # as beside now (a day had gone from 18 columns to 27 as the cursor left now, a trial)
        fv, last = snap.forecast, int(snap.series.hours[-1])
        ahead = int((np.asarray(fv.hours) > last).sum()) if fv is not None else 0
        m = min(total, n + ahead)
        self.back = min(self.back, max(total - m, 1))  # (1: every hour there is fits)
        end = max(total - self.back, m)
        return end - m, end

    def shown_hours(self, snap: Snapshot) -> list[int]:
        """The hours the chart shows at its current width: past ones, then the forecast's (when
        the window ends at now)."""
        sv, fv = snap.series, snap.forecast
        if sv is None or not len(sv.hours):
            return []
        start, end = self._window(snap)
        past = [int(h) for h in sv.hours[start:end]]
        if self.back:
            return past
        return sorted(set(past) | {int(h) for h in (fv.hours if fv is not None else ())
                                   if h >= past[0]})

    def reveal(self, hour: int, snap: Snapshot) -> int | None:
        """Move the window so that `hour` is shown (the oldest hour there is at most, now when it
        is a forecast hour); the shown hour nearest to it, for the cursor."""
        sv = snap.series
        if sv is None or not len(sv.hours):
            return None
        if hour > int(sv.hours[-1]):
            self.back = 0
        else:
            i = int(np.searchsorted(sv.hours, max(hour, int(sv.hours[0]))))
            start, end = self._window(snap)
            if i < start:
                self.back += start - i
            elif i >= end:
                self.back -= i - end + 1
        self.hours = self.shown_hours(snap)
        return min(self.hours, key=lambda h: abs(h - hour)) if self.hours else None

    def hour_at(self, column: int) -> int | None:
        """The shown hour nearest to a column of the widget (a mouse click)."""
        if self._geom is None or not self.hours:
            return None
        start, cols, last = self._geom
        xv = (column - start) * last / max(cols - 1, 1)
        xv = min(max(round(xv), 0), last)
        t0 = self.hours[0]
        return min(self.hours, key=lambda h: abs((h - t0) // 3600 - xv))

    _built: tuple | None = None  # (size, what render returned) last
    _ready: tuple | None = None  # (size, the chart update() built) for the refresh it asked for

    def render(self):
        """The chart update() built for this refresh, or one built now (an option toggled, a
        resize)."""
        ready, self._ready = self._ready, None
        out = ready[1] if ready is not None and ready[0] == self.size else self._build()
        self._built = (self.size, out)
        return out

    def _build(self):
        """Draw the last snapshot at the current size (one point per column), then plot it; in a
        window too short for a count axis (MIN_ROWS), a line that says so instead."""
        if self._snap is not None:
            self._draw(self._snap)
            rows = plot_rows(self.size.height)
            if self._snap.series is not None and rows < MIN_ROWS:
                self._geom = None  # no hours drawn: a click is off them
                return Text(too_short(rows, self.size.width), no_wrap=True, overflow="ellipsis")
        return super().render()

    def _draw(self, snap: Snapshot) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        sv, fv = snap.series, snap.forecast
        if sv is None:
            plt.title(safe_text(snap.status) or "no data yet")
            return
        off = shown_offset(sv)
        width = max(self.size.width - 10, 20)
        self.hours = self.shown_hours(snap)
        if self.cursor is not None and self.cursor not in self.hours:
            # the hour inspected went off the chart as hours came (a fast replay): the chart
            # stays on it while the snapshot holds it, back to now after that
            if int(sv.hours[0]) <= self.cursor <= int(sv.hours[-1]):
                self.reveal(self.cursor, snap)
            if self.cursor not in self.hours:
                self.cursor = None
                self.back = 0
                self.hours = self.shown_hours(snap)
        start, end = self._window(snap)
        n = end - start
        hours, counts = sv.hours[start:end], sv.counts[start:end].copy()
        t0, t_last = int(hours[0]), int(hours[-1])
        shown: list[str] = []
        top, low = [0.0], [math.inf]

        def x(ts):  # hours since the first shown hour, so the axis stays numeric
            return ((np.asarray(ts) - t0) // 3600).tolist()

        ink = INK_MONO if getattr(self.app, "no_color", False) else INK

        def line(key: str, xs, ys, scatter: bool = False, cap: float = math.inf,
                 marker: str = "") -> None:
            v = np.minimum(np.asarray(ys, float), cap)
            if np.isfinite(v).any():
                top.append(float(np.nanmax(v)))
                low.append(float(np.nanmin(v)))
            ty = (np.log10(np.maximum(v, 0) + 1) if self.log_scale else v).tolist()
            (plt.scatter if scatter else plt.plot)(xs, ty, color=ink[key],
                                                   marker=marker or MARKS[key][0],
                                                   style="bold" if key in BOLD else None)
            if key not in shown:
                shown.append(key)

        if self.cursor is not None:
            plt.vline((self.cursor - t0) // 3600, ink["cursor"])
        complete = counts.copy()
        partial = sv.partial_hour is not None and sv.partial_hour == hours[-1]
        if partial:
            complete[-1] = np.nan
        if self.week_overlay:
            lw = sv.last_week[start:end] if sv.last_week is not None else np.full(n, np.nan)
            for seg in _runs(lw):
                line("week", x(hours[seg]), lw[seg])
            if not np.isfinite(lw).any():  # said, not silently nothing
                shown.append("no week")
        if fv is not None:
            keep = (fv.past_hours >= t0) & (fv.past_hours <= t_last)
            if keep.any():
                line("past", x(fv.past_hours[keep]), fv.past_p50[keep])
        if fv is not None and not self.back:  # the forecast: shown beside now only
            fx = x(fv.hours)
            if self.show_band:  # under the forecast's dots, scaled to the rest (BAND_ROOM): the
                # lines drawn so far (in `top`) and those drawn after it
                later = [np.asarray(r, float) for r in
                         (complete, fv.p50, [a.actual for a in snap.anomalies if a.hour >= t0])]
                later = [r for r in later if np.isfinite(r).any()]
                # the hour in progress: its count so far takes the axis up, never down
                now = [float(np.nan_to_num(counts[-1]))] if partial else []
                hi = max([1.0, *top, *now] + [float(np.nanmax(r)) for r in later])
                cap = BAND_ROOM * hi
                # an edge within a row of the median is not drawn there: a band of 111-123 on
                # an axis of hundreds interleaved its dashes with the median's dots on the same
                # rows, and the median could not be traced (a trial)
                def y(a):  # as the axis reads it
                    a = np.minimum(np.asarray(a, float), cap)
                    return np.log10(np.maximum(a, 0) + 1) if self.log_scale else a

                rows = max(plot_rows(self.size.height), 4)
                lo = min([*low] + [float(np.nanmin(r)) for r in later])
                floor = log_floor(lo) if self.log_scale else nice_ticks(hi, rows, lo)[0]  # as
                # the axis is drawn below
                row = (y(hi) - y(floor)) / rows
                for edge in (fv.p10, fv.p90):
                    apart = np.where(np.abs(y(edge) - y(fv.p50)) >= BAND_APART * row, edge,
                                     np.nan)
                    for seg in _runs(apart):
                        line("band", fx[seg], apart[seg], cap=cap)
                if "band" not in shown:  # said, not drawn
                    shown.append("thin band" if (fv.p90 > fv.p10).any() else "no band")
            if self.week_overlay:  # on over the forecast too: the check a trial wanted there.
                # Under the forecast's dots (plotext draws later lines on top): drawn after them,
                # its ~ hid all but 2-5 of the 24 hours ahead at 80x24 (a trial)
                ahead = week_before(sv.hours, sv.counts, fv.hours, sv.partial_hour, sv.offsets)
                for seg in _runs(ahead):
                    line("week", fx[seg], ahead[seg])
            line("forecast", fx, fv.p50)
        # the counts over last week's and the past forecasts' lines (plotext draws later lines
        # on top): drawn first, a spike's body became the past forecasts' dots; first in the
        # legend still
        for seg in _runs(complete):  # gaps are breaks in the line, never zeros
            line("actual", x(hours[seg]), complete[seg])
        if "actual" in shown:
            shown.insert(0, shown.pop(shown.index("actual")))
        for a in snap.anomalies:
            if t0 <= a.hour <= t_last:
                line("anomaly", x([a.hour]), [a.actual], scatter=True)
        rows = max(plot_rows(self.size.height), 4)
        ticks = None if self.log_scale else nice_ticks(
            max(top + [float(np.nan_to_num(counts[-1]))], default=1.0), rows, min(low))
        floor = ticks[0] if ticks else log_floor(min(low))
        # the count so far of an hour drawn on the axis floor, below which it is: 41 at 07:06
        # read as the axis' 105 (a newcomer's trial); drawn ▼ there, not ◆ (the ◆ on the 105
        # row read as 105 still, the legend's short words not saying "below": a trial)
        below = partial and float(np.nan_to_num(counts[-1])) < floor
        if partial:  # drawn last: nothing covers the hour in progress. Its count so far is not
            # an hour's and does not take the axis to 0: below the axis it is drawn on it
            line("now" if sv.log_end is None else "end", x([hours[-1]]),
                 [max(counts[-1], floor)], scatter=True, marker=BELOW if below else "")
        if self.cursor is not None:
            shown.append("cursor")
        ylw = self._axes(snap, n, t0, off, max(top), ticks, floor)
        # plotext leaves out a title longer than the figure less its count labels: a legend that
        # did not fit (3,000 on the axis at 80x24) was no legend at all
        room = self.size.width - max(ylw, 3) + 1
        band = f"p{int(50 - fv.band * 50)}–p{int(50 + fv.band * 50)}" if fv else ""
        cur = fmt_hour(self.cursor, off, "%a %H:00") if self.cursor is not None else ""
        end = fmt_hour(sv.log_end, off, "%H:%M") if sv.log_end is not None else ""
        n_so_far = num(float(np.nan_to_num(counts[-1])))
        so_far, short = (f": {n_so_far}, below the axis", f": {n_so_far}") if below else ("", "")
        def mark(word: str, key: str) -> str:
            return word.replace("◆", BELOW) if below and key in ("now", "end") else word

        plt.title(legend([mark(MARKS[k][1].format(band=band, cursor=cur, end=end, so_far=so_far),
                               k) for k in shown],
                         [mark(MARKS[k][2].format(short=short), k) for k in shown],
                         min(width, room), room, shown,
                         [mark(TINY[k].format(short=short), k) for k in shown]))

    def _axes(self, snap: Snapshot, n: int, t0: int, off: int, top: float,
              counts_at: list[float] | None, floor: float = 0.0) -> int:
        """Hour labels that never overlap; a count axis in whole counts (`counts_at`, from 0 or
        above it: nice_ticks; None on a log axis), or log counts. Returns the width of the count labels."""
        plt = self.plt
        last = (self.hours[-1] - t0) // 3600 if self.hours else n - 1
        span = last + 1
        # Labels ("Sun 23:00", 9 columns: a chart of a few days needs no date, and "08/10
        # 18:00" was read as 8 August, a trial) spaced so none overlaps: plotext drops
        # overlapping ones, and which it drops varies between runs.
        cols = max(self.size.width - 10, 20)
        step = next((h for h in (6, 12, 24, 48, 96) if h * cols / max(span, 1) >= 14), 168)
        ticks = list(range(0, span, step))
        form = "%a %H:%M" if span <= 7 * 24 else "%d %b"  # weekdays repeat past a week
        plt.xticks(ticks, [fmt_hour(t0 + 3600 * t, off, form) for t in ticks])
        rows = max(plot_rows(self.size.height), 4)
        # a count axis reaches 1 at least: a quiet or filtered-out view (all 0, a forecast of
        # 0.03) was drawn on an axis of 0.01 steps, its band filling the plot
        top = max(top, 1.0) if math.isfinite(top) else 1.0
        if self.log_scale:
            pos, labels = log_ticks(top, rows, floor)
            plt.ylim(pos[0], pos[0] + (max(math.log10(1 + top), pos[-1]) - pos[0]) * 1.02)
        else:
            pos = counts_at
            labels = [num(v) for v in pos]
            plt.ylim(pos[0], pos[0] + (max(top, pos[-1]) - pos[0]) * 1.02)
        plt.yticks(pos, labels)
        plt.xlim(0, max(last, 1))
        # where the hours fall (plotext: y labels, the left axis, then the canvas up to the right
        # axis), so a click can be mapped back to an hour
        ylw = max(len(lb) for lb in labels)
        self._geom = (ylw + 1, self.size.width - ylw - 2, max(last, 1))
        return ylw


TOWER = 4.0  # an hour this many times the 95th percentile of the hours shown flattens them


def tower(counts: np.ndarray) -> float | None:
    """The highest count of a day or more of `counts` when it is over TOWER times their 95th
    percentile (and 20 or more), else None."""
    c = np.asarray(counts, dtype=float)
    c = c[np.isfinite(c)]
    if len(c) < 24:
        return None
    top, usual = float(c.max()), float(np.percentile(c, 95))
    return top if top >= 20 and top > TOWER * max(usual, 1.0) else None


# what a legend too long for the chart leaves out first: the lines one can tell by their place
# (last week's, the past forecasts', the band around the forecast) before the marks that need
# their word (an anomaly's x, the log's end); the cursor, what the user is looking at, last;
# last week's line after the past forecasts': it is drawn when asked for
LEGEND_DROP = ("past", "band", "thin band", "no band", "week", "no week", "now", "end", "forecast",
               "anomaly", "actual", "cursor")


def legend(long: list[str], short: list[str], long_width: int, width: int,
           keys: list[str], tiny: list[str] | None = None) -> str:
    """The longest legend that fits: long words, short words, tighter, the fewest words (TINY),
    then series left out of the short words in LEGEND_DROP's order (`keys`: the MARKS key of
    each word). At 60 columns "x anomaly" and "◆ log end", the last words, were left out while
    their marks were drawn."""
    for words, sep, room in ((long, "  ", long_width), (short, "  ", width), (short, " ", width),
                             (tiny or short, " ", width)):
        if len(sep.join(words)) <= room:
            return sep.join(words)
    rank = {k: i for i, k in enumerate(LEGEND_DROP)}
    keep = list(range(len(short)))
    for i in sorted(keep, key=lambda j: rank.get(keys[j], len(rank))):
        if len(keep) <= 1 or len(" ".join(short[j] for j in keep)) <= width:
            break
        keep.remove(i)
    return " ".join(short[j] for j in keep)


def _runs(v: np.ndarray) -> list[slice]:
    ok = np.isfinite(v)
    out, start = [], None
    for i, good in enumerate(ok):
        if good and start is None:
            start = i
        if not good and start is not None:
            out.append(slice(start, i))
            start = None
    if start is not None:
        out.append(slice(start, len(v)))
    return out
