"""The app's panes; each draws a Snapshot through `update(snapshot)` and nothing else."""
from __future__ import annotations

import math
import time

import numpy as np
from rich.text import Text
from textual.widgets import Static
from textual_plotext import PlotextPlot

from trafficwatch.gate_words import (
    gate_reading,
    heat_rows,
    hour_axis,
    memory_reading,
    reliance_words,
    reset_words,
)
from trafficwatch.safe import safe_content, safe_name, safe_text
from trafficwatch.snapshot import Snapshot

BLOCKS = " ▁▂▃▄▅▆▇█"


def fmt_hour(ts: int, offset: int, form: str = "%a %d %H:00") -> str:
    """An epoch hour in the log's own offset."""
    return time.strftime(form, time.gmtime(int(ts) + offset))


def num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:,.2f}"


def sparkline(values: np.ndarray, width: int, lo: float = 0.0, hi: float = 1.0) -> str:
    """Values resampled to `width` columns as block characters scaled to [lo, hi]."""
    v = np.asarray(values, dtype=float)
    if not len(v) or width <= 0:
        return ""
    idx = np.linspace(0, len(v) - 1, num=min(width, len(v))).round().astype(int)
    v = v[idx]
    span = hi - lo if hi > lo else 1.0
    levels = np.clip(((v - lo) / span * (len(BLOCKS) - 1)).round(), 0, len(BLOCKS) - 1)
    return "".join(BLOCKS[int(x)] if np.isfinite(x) else " " for x in levels)


class ForecastChart(PlotextPlot):
    """Actual hourly counts, the forecast with its band, past forecasts, anomalies."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.show_band = True
        self.log_scale = False
        self.week_overlay = False
        self.days = 4
        self._snap: Snapshot | None = None

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        """Keep the snapshot; it is drawn at render time, fitted to the width the chart has then."""
        self._snap = snap
        self.refresh()

    def render(self):
        """Draw the last snapshot at the current size (one point per column), then plot it."""
        if self._snap is not None:
            self._draw(self._snap)
        return super().render()

    def _draw(self, snap: Snapshot) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        sv, fv = snap.series, snap.forecast
        if sv is None:
            plt.title(safe_text(snap.status) or "no data yet")
            return
        off = sv.tz_offset_s
        width = max(self.size.width - 10, 20)
        n = min(len(sv.hours), self.days * 24, width)
        hours, counts = sv.hours[-n:], sv.counts[-n:].copy()
        t0 = int(hours[0])

        def x(ts):  # hours since the first shown hour, so the axis stays numeric
            return ((np.asarray(ts) - t0) // 3600).tolist()

        tr = (lambda v: np.log10(np.maximum(np.asarray(v, float), 0) + 1)) if self.log_scale \
            else (lambda v: np.asarray(v, float))
        complete = counts.copy()
        if sv.partial_hour is not None and sv.partial_hour == hours[-1]:
            complete[-1] = np.nan
            plt.scatter(x([hours[-1]]), tr([counts[-1]]).tolist(), marker="◆", color="yellow",
                        label="this hour so far")
        for seg in _runs(complete):  # gaps are breaks in the line, never zeros
            plt.plot(x(hours[seg]), tr(complete[seg]).tolist(), color="cyan", marker="braille",
                     label="actual" if seg.start == _runs(complete)[0].start else None)
        if self.week_overlay and sv.last_week is not None:
            lw = sv.last_week[-n:]
            for seg in _runs(lw):
                plt.plot(x(hours[seg]), tr(lw[seg]).tolist(), color="gray", marker="dot")
        if fv is not None:
            keep = fv.past_hours >= t0
            if keep.any():
                plt.plot(x(fv.past_hours[keep]), tr(fv.past_p50[keep]).tolist(), color="magenta",
                         marker="dot", label="past forecasts")
            fx = x(fv.hours)
            if self.show_band:
                plt.plot(fx, tr(fv.p10).tolist(), color="green", marker="dot")
                plt.plot(fx, tr(fv.p90).tolist(), color="green", marker="dot",
                         label=f"p{int(50 - fv.band * 50)}-p{int(50 + fv.band * 50)} band")
            plt.plot(fx, tr(fv.p50).tolist(), color="green", marker="braille", label="forecast")
        for a in snap.anomalies:
            if a.hour >= t0:
                plt.scatter(x([a.hour]), tr([a.actual]).tolist(), marker="x", color="red")
        span = n + (len(fv.hours) if fv else 0)
        # Labels ("15/11 23:00", 11 columns) spaced so none overlaps: plotext drops overlapping
        # ones, and which it drops varies between runs.
        cols = max(self.size.width - 10, 20)
        step = next((h for h in (6, 12, 24, 48, 96) if h * cols / max(span, 1) >= 14), 168)
        ticks = list(range(0, span, step))
        plt.xticks(ticks, [fmt_hour(t0 + 3600 * t, off, "%d/%m %H:%M") for t in ticks])
        plt.title(f"{safe_name(snap.site) if snap.site else 'all sites'} · {snap.metric} per hour"
                  + (" (log10)" if self.log_scale else "") + (f" · {snap.filter}" if snap.filter else ""))


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


class StatsPane(Static):
    """This hour vs its forecast, next hour, recent error, model in use, ingest figures."""

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        t = Text()
        sv, fv, ing = snap.series, snap.forecast, snap.ingest
        if sv is not None and fv is not None and len(fv.hours):
            off = sv.tz_offset_s
            if sv.partial_hour is not None and fv.hours[0] == sv.partial_hour:
                t.append(f"This hour ({fmt_hour(fv.hours[0], off, '%H:00')}) so far: "
                         f"{num(sv.counts[-1])} of ~{num(fv.p50[0])} forecast\n")
                nxt = 1 if len(fv.hours) > 1 else 0
            else:
                nxt = 0
            t.append(f"Next hour {fmt_hour(fv.hours[nxt], off, '%H:00')}: {num(fv.p50[nxt])} "
                     f"({num(fv.p10[nxt])}–{num(fv.p90[nxt])})\n", style="bold")
            t.append(f"Last 7 days: MASE {num(fv.mase)} · best seasonal naive ({fv.naive_name}) "
                     f"{num(fv.mase_naive)} · ratio {num(fv.rel_to_naive)} · band coverage "
                     f"{'–' if math.isnan(fv.coverage) else f'{fv.coverage:.0%}'}\n")
            t.append("Model: ")
            t.append_text(safe_content(fv.model_name))
            if fv.model_detail:
                t.append(" · ")
                t.append_text(safe_content(fv.model_detail))
            t.append("\n")
            if fv.choice:
                t.append("Shown: ")
                t.append_text(safe_content(fv.choice))
                t.append("\n")
        t.append(f"Lines read {ing.lines_read:,} · counted {ing.parsed:,} · malformed "
                 f"{sum(ing.malformed.values()):,}")
        if ing.lines_per_s:
            t.append(f" · {ing.lines_per_s:,.0f} lines/s")
        t.append(f" · files {len(ing.files)}\n")
        for reason, n in sorted(ing.malformed.items(), key=lambda kv: -kv[1])[:3]:
            t.append(f"  {n:,} {reason}: ", style="yellow")
            t.append_text(safe_content(ing.malformed_examples.get(reason, "")[:80]))
            t.append("\n")
        for name, why in ing.skipped[:3]:
            t.append("  skipped ", style="yellow")
            t.append_text(safe_content(f"{name}: {why}"))
            t.append("\n")
        for note in ing.notices[:4]:
            t.append("  ")
            t.append_text(safe_content(note))
            t.append("\n")
        super().update(t)


class GatePane(Static):
    """The LSTM's gates in plain words; `h` cycles through heatmaps of each gate (all units)."""

    MODES = ("words", "forget", "input", "output", "cell")
    mode = "words"

    @property
    def heatmap(self) -> bool:
        """True while a heatmap (not the words) is shown."""
        return self.mode != "words"

    def next_mode(self) -> str:
        """Words -> forget -> input -> output -> cell -> words."""
        self.mode = self.MODES[(self.MODES.index(self.mode) + 1) % len(self.MODES)]
        return self.mode

    _snap: Snapshot | None = None

    def on_resize(self) -> None:
        """Fit the sparklines and heatmap to the new width."""
        if self._snap is not None:
            self.update(self._snap)

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        self._snap = snap
        g = snap.gates
        if g is None:
            super().update(Text("Gates: shown once the LSTM runs "
                                f"({safe_text(snap.status) or 'seasonal naive in use'})", style="dim"))
            return
        off = snap.series.tz_offset_s if snap.series else 0
        width = max(self.size.width, 30)
        super().update(self._heatmap(g, off, width) if self.heatmap else self._words(g, off, width))

    def _words(self, g, off: int, width: int) -> Text:
        t = Text()
        t.append(reliance_words(g.reliance) + "\n", style="bold")
        t.append(reset_words(g.step_hours, g.forget_drops, off) + "\n", style="yellow")
        rows = [(gate_reading(n, float(m[-1]) if len(m) else float("nan")), m, 0.0, 1.0,
                 f" avg {np.mean(m):.2f}, {np.mean(g.saturated.get(n, np.zeros(1))):.0%} pinned")
                for n, m in (("forget", g.mean_forget), ("input", g.mean_input),
                             ("output", g.mean_output))]
        top = float(np.nanmax(g.cell_norm)) if len(g.cell_norm) else 1.0
        rows.append((memory_reading(g.cell_norm), g.cell_norm, 0.0, top, ""))
        pad = max(len(r[0]) for r in rows) + 1
        for words, series, lo, hi, stats in rows:
            t.append(words.ljust(pad))
            spark = width - pad - len(stats) - 1
            if spark >= 8:
                t.append(sparkline(series, spark, lo, hi), style="cyan")
                t.append(stats, style="dim")
            t.append("\n")
        t.append("Sparklines: the last week, oldest left · h: heatmaps of every unit · ?: what "
                 "the gates are", style="dim")
        return t

    def _heatmap(self, g, off: int, width: int) -> Text:
        m = np.asarray(getattr(g, self.mode), dtype=float)
        cols = max(width - 5, 10)
        t = Text()
        nxt = self.MODES[(self.MODES.index(self.mode) + 1) % len(self.MODES)]
        if self.mode == "cell":
            m = np.abs(m)
            lo, hi = 0.0, float(np.nanmax(m)) if m.size else 1.0
            t.append(f"Memory (cell state) of each of its {m.shape[1]} units over the week: "
                     f"█ largest (|c| {hi:.1f}), blank ≈0", style="bold")
        else:
            lo, hi = 0.0, 1.0
            meaning = {"forget": "keep", "input": "take in", "output": "pass on"}[self.mode]
            t.append(f"{self.mode.capitalize()} gate of each of its {m.shape[1]} units over the "
                     f"week: █ open ≈1 ({meaning}), blank closed ≈0", style="bold")
        t.append(f"\nh: next ({nxt if nxt != 'words' else 'back to words'}) · Tab here, "
                 "then j/k to scroll the units\n", style="dim")
        t.append("    " + hour_axis(g.step_hours, cols, off) + "\n", style="yellow")
        for u, row in enumerate(heat_rows(m, cols, lo, hi)):
            t.append(f"u{u:<3}" + row + "\n")
        return t


class AnomalyPane(Static):
    """Completed hours outside the band, newest first."""

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        off = snap.series.tz_offset_s if snap.series else 0
        if not snap.anomalies:
            super().update(Text("No anomaly in the last 7 days", style="dim"))
            return
        t = Text()
        for a in snap.anomalies[:20]:
            arrow = "▲" if a.direction > 0 else "▼"
            t.append(f"{arrow} {fmt_hour(a.hour, off)}  {num(a.actual)} vs {num(a.p10)}–{num(a.p90)}"
                     f"{'  (active)' if a.active else ''}\n", style="red" if a.active else "")
        super().update(t)


class LogTail(Static):
    """The latest log lines, sanitised: log content is attacker-controlled."""

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        if not snap.tail:
            super().update(Text("No live lines (replay, or nothing appended yet)", style="dim"))
            return
        t = Text()
        for line in snap.tail[-50:]:
            t.append_text(safe_content(line.text))
            t.append("\n")
        super().update(t)
