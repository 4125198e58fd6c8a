"""The app's panes; each draws a Snapshot through `update(snapshot)` and nothing else."""
from __future__ import annotations

import math
import textwrap

import numpy as np
from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from trafficwatch.app.gate_words import (
    fmt_hour,
    gate_reading,
    heat_rows,
    hour_axis,
    memory_reading,
    read_span,
    reliance_words,
    reset_marks,
    reset_words,
    shown_offset,
    standout_words,
)
from trafficwatch.app.text import band_name, count, count_range, safe_content, site_title
from trafficwatch.engine.snapshot import READING, Anomaly, Snapshot
from trafficwatch.hours import DAY, HOUR
from trafficwatch.logs.detect import NO_REQUEST, SAID_APART, said_apart
from trafficwatch.logs.read import CUT_LINE
from trafficwatch.model.forecaster import MIN_RECENT_HOURS
from trafficwatch.safe import safe_name, safe_text


class Unchanged(Static):
    """A Static that sends nothing to the terminal when what it is given is what it shows: the
    engine sends a frame every few seconds for what the clock changes, and a pane updated with
    the same text was painted again all the same (an idle screen sent a full frame every 5 s,
    10 KB a second at 250x70 over SSH: a trial)."""

    _content_shown: object = None
    _size_shown = None  # the size it had then: at another, it is laid out again

    def update(self, content: object = "", *,  # type: ignore[override]
               layout: bool = True) -> None:
        if self.size == self._size_shown and _same(content, self._content_shown):
            return
        self._content_shown, self._size_shown = content, self.size
        super().update(content, layout=layout)


def _same(a: object, b: object) -> bool:
    """Whether two contents of a Static draw alike (rich Text: its text, spans and style)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Text):
        return (a.plain == b.plain and a.spans == b.spans and a.style == b.style
                and (a.justify, a.overflow, a.no_wrap, a.end) == (b.justify, b.overflow,
                                                                  b.no_wrap, b.end))
    if isinstance(a, str):
        return a == b
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 (a content that cannot be compared is drawn)
        return False


class SnapshotPane(Unchanged):
    """A pane drawn from the latest Snapshot, drawn again when its size changes (the text is laid
    out for its width); subclasses keep `_snap` up to date in update()."""

    _snap: Snapshot | None = None

    def on_resize(self) -> None:
        """Laid out, shown again or resized: fit the new width (drawn even where the text is
        the same: Textual's layout of a scrolled box settles on the second pass)."""
        if self._snap is not None:
            self.redraw()
            # and measured again once that layout is done: the height of text drawn during
            # it stayed the old width's (a window grown from 80x24 hid the Now pane's last
            # lines, a notice among them, until the next frame, which ended logs never send)
            self.call_after_refresh(self.refresh, layout=True)

    def redraw(self) -> None:
        """Draw the last snapshot again, sent to the terminal whatever it holds."""
        self._size_shown = None
        self.update(self._snap)

BLOCKS = "▁▂▃▄▅▆▇█"  # a value at the week's low is the lowest block, never a blank: blank is
# an hour with no value (a sparkline on its own range drew its lowest hour as a hole)


def num(x: float) -> str:
    """A count or a figure: whole numbers as integers ('2', not '2.00'), small fractions to 2 places."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if abs(x) >= 10 or float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.2f}".rstrip("0").rstrip(".")


def ratio(x: float) -> str:
    """A MASE or a ratio of errors, always to 2 places ("0.80", not "0.8" beside "0.87")."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:,.2f}"


def ratio_to_one(x: float) -> str:
    """A ratio of two errors, as ratio() writes it, with a digit or two more where it would
    read 1.00 and is not 1: "Worse than same hour yesterday (ratio 1.00)" read as a
    contradiction (a trial); "1.004" says how little worse."""
    if x is None or not math.isfinite(x):
        return ratio(x)
    for places in (2, 3, 4):
        if x == 1.0 or round(x, places) != 1.0:
            break
    return f"{x:,.{places}f}"


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


SPARK_MIN, SPARK_MAX = 8, 24  # columns of a gate's sparkline: at the least, and at the most

MAX_REASONS = 5  # malformed-line reasons listed one a line; beyond, the rest in one line
NARROW = 60  # columns below which the Now pane says which forecast is shown in a few words
NAIVE_WORDS = {"naive 24 h": "same hour yesterday", "naive 168 h": "same hour last week"}


def holiday_line(hours: np.ndarray, narrow: bool = False) -> str:
    """'Holiday ahead: Wed 24 Dec, Thu 25 Dec (the model flags 24 Dec-1 Jan and Easter)': the
    forecast's days that the model reads as holidays (by UTC date, as it does)."""
    days = list(dict.fromkeys(fmt_hour(h, 0, "%a %d %b") for h in hours))
    if narrow:
        return f"Holiday ahead: {', '.join(days)}"
    return (f"Holiday ahead: {', '.join(days)} (the model flags 24 Dec–1 Jan and Easter, "
            "UTC dates)")


VERDICT_HOURS = 72  # hours scored, at least, for the pane to say the forecast was worse


def error_lines(fv, narrow: bool = False) -> Text:
    """The day-ahead error over the last days and, plainly, when seasonal naive did better."""
    t = Text()
    n = fv.hours_scored
    if math.isnan(fv.mase) and n >= MIN_RECENT_HOURS:  # scored, but nothing to scale by
        cov = "–" if math.isnan(fv.coverage) else f"{fv.coverage:.0%}"
        why = ("no day of counts before them in this view to scale by" if fv.no_scale else
               "traffic did not change from one day to the next before them: no scale")
        t.append(f"Last 7 days: MASE undefined ({why}) · band coverage {cov}\n", style="dim")
        return t
    if math.isnan(fv.mase):
        t.append(f"Last 7 days: {n} hour{'s' if n != 1 else ''} with a count and a forecast, "
                 "too few to score "
                 f"({MIN_RECENT_HOURS} needed)\n",
                 style="dim")
        return t
    cov = "–" if math.isnan(fv.coverage) else f"{fv.coverage:.0%}"
    naive = NAIVE_WORDS.get(fv.naive_name, fv.naive_name)
    if fv.mase == 0 and fv.mase_naive == 0:  # a week of the same count (a quiet site's 0s):
        # "MASE 0.00 vs yesterday 0.00" read as a score (a trial); both were exact
        t.append(f"Last 7 days: the forecasts drawn and {naive} were both exact, every hour "
                 f"({n} h): nothing to tell them apart · band coverage {cov}\n", style="dim")
        return t
    if narrow:
        # 45 h read as a week's score; "167 h: MASE" alone, with no word before it, was not
        # read as the hours scored (a trial)
        span = f"{n} h" if 0 < n < 7 * 24 - 12 else "7 days"
        # the naive's own MASE beside it: "0.78x last week" read as traffic at 0.78x (trial),
        # and "(last week 0.96)" as the model's score a week ago (another trial), and "vs
        # yesterday 1.03" as the model 1.03x worse than yesterday (a third): the copy's own,
        # in three rows of the 19 columns the pane has at 80x24
        t.append(f"{span}: MASE {ratio(fv.mase)}, {naive.removeprefix('same hour ')}'s copy "
                 f"{ratio(fv.mase_naive)}, {cov} in band\n")
    else:  # what is scored: the past forecasts drawn (each made at its midnight, as it was
        # shown then), not eval's backtest (daily origins before the end), whose MASE differs
        hours = f", {n} h with a count" if 0 < n < 7 * 24 else ""
        # no ratio where too few hours judge it: "ratio 0.84" then "Too few hours scored (45)
        # to say which is better" gave a verdict and took it back (a trial)
        rel = f" · ratio {ratio_to_one(fv.rel_to_naive)}" if not 0 < n < VERDICT_HOURS else ""
        # the band's own aim beside its coverage: "62%" alone read as fine (trial)
        t.append(f"Last 7 days (the forecasts drawn, each from its midnight{hours}): MASE "
                 f"{ratio(fv.mase)} · {naive} {ratio(fv.mase_naive)}{rel} · "
                 f"band coverage {cov} (80% meant)\n")
    if 0 < n < VERDICT_HOURS:  # a day or two: each MASE's scale is a day's, and the verdict flips
        # with the origins (a trial's 3-day site: "Worse than same hour yesterday", ratio 1.39,
        # beside eval's 1.049 vs 1.077 for yesterday)
        # "Too few hours to judge" under a MASE read as the score taken back (a trial): it
        # is which of the two is better that is not judged
        # (of the forecasts drawn: "which is better" beside "Shown: ... better than same hour
        # yesterday", judged on other forecasts, read as a contradiction, a trial)
        t.append(f"Too few to rank them ({VERDICT_HOURS // 24} days needed)\n"
                 if narrow else
                 f"Too few hours scored ({n}) to rank the forecasts drawn against {naive}: "
                 f"{VERDICT_HOURS // 24} days are needed\n", style="dim")
    elif round(fv.rel_to_naive, 4) > 1:  # (not "Worse ... (ratio 1.0000)": alike to 4 places)
        # beside "Shown: ... the blend did best on a typical one of the last 13 days", read as
        # a contradiction (a trial): two windows, two measures, both said
        chosen = "" if narrow or not fv.choice else \
            "; what is shown was chosen on a typical day of the last 2 weeks"
        t.append(f"Worse than {naive} on those 7 days (ratio {ratio_to_one(fv.rel_to_naive)})"
                 f"{chosen}\n",
                 style="bold yellow")
    return t


class StatsPane(SnapshotPane):
    """This hour vs its forecast, next hour, recent error, model in use, ingest figures."""

    cursor: int | None = None  # the chart's cursor hour: its details replace the pane

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        self._snap = snap
        if self.cursor is not None:
            from trafficwatch.app.hour_detail import hour_details

            super().update(hour_details(snap, self.cursor, self.size.width))
            return
        t = Text()
        sv, fv, ing = snap.series, snap.forecast, snap.ingest
        narrow = 0 < self.size.width < NARROW
        if sv is not None and fv is not None and len(fv.hours):
            off = shown_offset(sv)
            # by hour, not by position: a forecast made before the hour turned (a frame before
            # the model's next pass; every second in a fast replay) still covers the hours now
            ph = sv.partial_hour
            now = np.flatnonzero(fv.hours == ph) if ph is not None and sv.log_end is None else []
            if len(now):
                i = int(now[0])
                so_far, whole = count(sv.counts[-1]), count(fv.p50[i])
                # "285 of ~123 forecast" read oddly of an hour already above its forecast
                of = (f", above the ~{whole} forecast for the hour" if sv.counts[-1] > fv.p50[i]
                      and so_far != whole else f" of ~{whole} forecast")
                t.append(f"This hour ({fmt_hour(fv.hours[i], off, '%H:00')}) so far: "
                         f"{so_far}{of}\n")
            later = np.flatnonzero(fv.hours > ph) if ph is not None else [0]
            nxt = int(later[0]) if len(later) else len(fv.hours) - 1
            date = fmt_hour(fv.hours[nxt], off, '%Y-%m-%d %H:00')
            when = (f"After the log's last hour, {date}" if snap.after_log_end else
                    f"After the range's end, {date}" if snap.range_end else
                    f"Next hour {fmt_hour(fv.hours[nxt], off, '%H:00')}")
            # the band named where there is room: "(290–428)" alone was not read as one (trial)
            band = ("nominal +-50%: " if fv.nominal else "" if narrow else
                    f"{100 * fv.band:.0f}% band ")
            t.append(f"{when}: {count(fv.p50[nxt])} "
                     f"({band}{count_range(fv.p10[nxt], fv.p90[nxt])})\n", style="bold")
            if len(fv.holiday_hours):
                t.append(holiday_line(fv.holiday_hours, narrow) + "\n")
            choice = fv.choice_short if narrow and fv.choice_short else fv.choice
            if choice:  # before the long lines below: at 80x24 it must not need scrolling
                t.append("Shown: ")
                t.append_text(safe_content(choice))
                t.append("\n")
            t.append_text(error_lines(fv, narrow))
            t.append("Model: ")
            t.append_text(safe_content(fv.model_name))
            detail = fv.model_detail_short if narrow and fv.model_detail_short else fv.model_detail
            if detail:
                t.append(" · ")
                t.append_text(safe_content(detail))
            t.append("\n")
            if fv.band_note:  # narrow: its first words ("Band widened above", "Band spans
                # the usual hours too from 3 hours ahead"), not one reason for every note
                head = fv.band_note.split(":")[0]
                short = head + (": the last day broke from it" if "the last day had" in
                                fv.band_note else "")
                t.append((short if narrow else fv.band_note) + "\n")
        elif sv is not None and sv.partial_hour is not None and sv.log_end is None \
                and len(sv.counts) and sv.hours[-1] == sv.partial_hour:
            # its count, and why there is no forecast: a site whose first hour is still running,
            # or one whose forecast is being made (it said "until an hour is complete" of a
            # site resumed with 1,000 hours, a trial)
            why = ("no forecast until an hour is complete" if not np.isfinite(
                sv.counts[:-1]).any() else "forecasting…" if not snap.status or
                snap.status.endswith("…") else "no forecast (the status line says why)")
            # (a week of gaps before the hour: the forecast refused, it is not on its way)
            t.append(f"This hour ({fmt_hour(sv.partial_hour, shown_offset(sv), '%H:00')}) so far: "
                     f"{count(sv.counts[-1])} · {why}\n")
        ahead = " (the whole logs, read before replaying them)" if ing.read_ahead else ""  # not
        # up to the replay's clock: every line was read first, the chart follows its clock
        if ing.fleet:  # no line is read here: "Lines read 0" read as a fleet that counted nothing
            t.append("Requests: the agents' counters, summed by Prometheus (their lines, files "
                     "and malformed lines: each agent's /metrics)\n")
        elif ing.reading:  # "Lines read 0 · counted 0 · files 0" beside a chart of what was
            # read so far (a trial): the status line says how far the read is
            t.append("Lines: the first read is going on (the status line says how far)\n")
        else:
            # the ingest figures are every file's: said so beside one site of several
            every = " (all sites)" if snap.site and len(snap.sites) > 1 else ""
            # lines that are no request (a server's own, a container's error log) apart from
            # the malformed, as `counts` says them (the app had called them all malformed)
            apart = said_apart(ing.malformed)
            t.append(f"Lines read{every} {ing.lines_read:,}{ahead} · counted {ing.parsed:,} · "
                     f"malformed {sum(ing.malformed.values()) - apart:,}"
                     + (f" · {NO_REQUEST} {apart:,}" if apart else ""))
            if ing.lines_per_s:  # a replay's: the pace its lines are replayed at, not read at
                t.append(f" · {'replaying ' if ing.read_ahead else ''}"
                         f"{ing.lines_per_s:,.0f} "
                         f"line{'' if round(ing.lines_per_s) == 1 else 's'}/s")
            # the files followed now, as the agent's files_followed says: the reports also hold
            # every file read since the start, which grew by one at each rotation
            # ("files 0" for a folder of archives read whole said nothing was read)
            read = max(ing.files_read, len(ing.files))
            if ing.followed is None or ing.followed == read:
                t.append(f" · files {read}\n")
            else:
                t.append(f" · files followed {ing.followed} ({read:,} read since the start)\n")
        reasons = sorted(ing.malformed.items(), key=lambda kv: -kv[1])
        shown = reasons if len(reasons) <= MAX_REASONS else reasons[:MAX_REASONS - 1]
        for reason, n in shown:  # each reason the total counts (the 4th of 4 was left out)
            t.append(f"  {n:,} {NO_REQUEST + ', ' if reason in SAID_APART else ''}{reason}",
                     style="yellow")
            files = ing.malformed_files.get(reason, ())
            if files:  # where (a trial's two sites' reasons named no file)
                t.append(" in ", style="yellow")
                t.append_text(safe_content(files[0].rsplit("/", 1)[-1]))  # shown already
                if len(files) > 1:
                    t.append(f" and {len(files) - 1} other file{'s' * (len(files) > 2)}",
                             style="yellow")
            t.append(": ", style="yellow")
            t.append_text(safe_content(ing.malformed_examples.get(reason, "")[:80]))
            t.append("\n")
        if len(shown) < len(reasons):
            rest = reasons[len(shown):]
            t.append(f"  {sum(n for _, n in rest):,} more in {len(rest)} other reasons "
                     "(trafficwatch counts lists each)\n", style="yellow")
        for name, why in ing.skipped[:3]:
            t.append("  skipped ", style="yellow")
            t.append_text(safe_content(f"{name}: {why}"))
            t.append("\n")
        for note in ing.notices[:4]:
            t.append("  ")
            t.append_text(safe_content(note))
            t.append("\n")
        super().update(t)


class GatePane(SnapshotPane):
    """The LSTM's gates in plain words; `h` cycles through heatmaps of each gate (all units)."""

    MODES = ("words", "forget", "input", "output", "cell")
    mode = "words"
    first_unit = 0  # the heatmap's top row: j/k move through the units under a header that stays

    @property
    def heatmap(self) -> bool:
        """True while a heatmap (not the words) is shown."""
        return self.mode != "words"

    def next_mode(self) -> str:
        """Words -> forget -> input -> output -> cell -> words."""
        self.mode = self.MODES[(self.MODES.index(self.mode) + 1) % len(self.MODES)]
        self.first_unit = 0  # each gate opens at its first units
        return self.mode

    def scroll_units(self, step: int) -> None:
        """j/k in a heatmap: the units move, the gate's name and the hour axis stay (scrolling
        the pane took them off the top, and the units could no longer be read against hours)."""
        self.first_unit = max(0, self.first_unit + step)
        if self._snap is not None:
            self.update(self._snap)


    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        self._snap = snap
        g = snap.gates
        if g is None:  # the status line says what went wrong with the files: not again here
            # (no forecast yet: the model is still on its first pass, which names no model:
            # "seasonal naive in use" was said for 5-10 s before the LSTM's came, a trial)
            why = ("no hour counted yet" if snap.series is None else safe_text(snap.status) or (
                "the first forecast is being made" if snap.forecast is None
                else "seasonal naive in use"))
            super().update(Text(f"Gates: shown once the LSTM runs ({why})", style="dim"))
            return
        off = shown_offset(snap.series)
        width = max(self.size.width, 30)
        super().update(self._heatmap(g, off, width) if self.heatmap else self._words(g, off, width))

    def _words(self, g, off: int, width: int) -> Text:
        t = Text()
        fv = self._snap.forecast if self._snap is not None else None
        share = fv.lstm_share if fv is not None else 1.0
        # a line, or two where on one "others" would outweigh every base named (under "(the
        # LSTM, 30% of the line drawn)" one base was named and "others" held 76 %: a trial)
        t.append(reliance_words(g.reliance, width=width, share=share, spill=2 * width - 2)
                 + "\n", style="bold")
        # the hours read: a site younger than the window (168 h) has fewer ("no memory reset
        # this week" was said over a site's 25 hours: a trial)
        span = read_span(g)
        when_read = "this week" if span == "week" else f"in the {span} read"
        t.append(reset_words(g.step_hours, [d for d in g.forget_drops if d >= g.padded], off,
                             when_read) + "\n", style="yellow")
        latest = {n: (float(m[-1]) if len(m) else float("nan"),
                      np.asarray(m, dtype=float)[g.padded:])
                  for n, m in (("forget", g.mean_forget), ("input", g.mean_input),
                               ("output", g.mean_output))}
        now = standout_words(latest, span)
        if now:
            t.append(now + "\n", style="bold" if "nothing stands out" not in now else "")
        rows = []  # each gate's sparkline spans its own week's range, given after it: on 0-1
        # the mean of 64 units (near 0.5 everywhere) drew a flat bar on every site
        for n, m in (("forget", g.mean_forget), ("input", g.mean_input),
                     ("output", g.mean_output)):
            m = np.asarray(m, dtype=float)
            lo, hi = (float(np.nanmin(m)), float(np.nanmax(m))) if np.isfinite(m).any() \
                else (0.0, 1.0)
            rows.append((gate_reading(n, float(m[-1]) if len(m) else float("nan"),
                                      m[g.padded:], span), m, lo, hi, f"{lo:.2f}–{hi:.2f}"))
        top = float(np.nanmax(g.cell_norm)) if len(g.cell_norm) else 1.0
        rows.append((memory_reading(g.cell_norm), g.cell_norm, 0.0, top, f"0–{top:.1f}"))
        # name, sparkline and range first, in columns, then the words: after the words (as
        # before) the sparklines had no room once the words grew ("..., high for its week"),
        # and were gone at 160 columns. One width for all four: they share the week's hours.
        split = [r[0].partition(": ") for r in rows]
        split[-1] = ("memory", *split[-1][1:])  # "(cell state)": the help and the heatmap's name
        name_w = max(len(s[0]) for s in split)
        range_w = max(len(r[4]) for r in rows)
        longest = max(len(s[2]) for s in split)
        spark = min(SPARK_MAX, max(SPARK_MIN, width - name_w - range_w - 4 - longest))
        for (name, _, words), (_, series, lo, hi, stats) in zip(split, rows):
            t.append(name.ljust(name_w + 1))
            t.append(sparkline(series, spark, lo, hi).ljust(spark), style="cyan")
            t.append(" " + stats.ljust(range_w) + "  ", style="dim")
            t.append(words + "\n")
        drawn = "last week" if span == "week" else f"last week, the site's {span} at the right"
        t.append(f"Sparklines: {drawn}, oldest left, scaled to the range beside each · h: "
                 "heatmaps · ?: help", style="dim")
        return t

    def _heatmap(self, g, off: int, width: int) -> Text:
        m = np.asarray(getattr(g, self.mode), dtype=float)
        if g.padded:  # before the log's first hour the model read nothing: blank, not gates
            m = m.copy()
            m[:g.padded] = np.nan
        cols = max(width - 5, 10)
        nxt = self.MODES[(self.MODES.index(self.mode) + 1) % len(self.MODES)]
        if self.mode == "cell":
            m = np.abs(m)
            lo, hi = 0.0, float(np.nanmax(m)) if m.size else 1.0
            title = (f"Memory (cell state), {m.shape[1]} units × the week: █ largest ({hi:.1f}), "
                     "blank ≈0")
        else:
            lo, hi = 0.0, 1.0
            meaning = {"forget": "keep", "input": "take in", "output": "pass on"}[self.mode]
            title = (f"{self.mode.capitalize()} gate, {m.shape[1]} units × the week: █ open ≈1 "
                     f"({meaning}), blank ≈0")
        # a filter's range that begins inside the week is blank before it too: "no log yet"
        # there was untrue (the log went back years)
        why = "no hour of this view" if self._snap is not None and self._snap.filter \
            else "no log yet"
        before = (f" · blank before {fmt_hour(g.step_hours[g.padded], off)}: {why}"
                  if 0 < g.padded < len(g.step_hours) else "")

        def hint(shown: str) -> str:
            full = (f"h: next ({nxt if nxt != 'words' else 'back to words'}) · j/k: {shown}"
                    f"{' · ▼ memory reset' if g.forget_drops else ''}{before}")
            if len(full) <= width:
                return full
            # in fewer words where the long ones take two rows: at 80x24 they left one unit's
            # row of 64 (a trial)
            return (f"h: {nxt if nxt != 'words' else 'words'} · j/k: {shown}"
                    f"{' · ▼ reset' if g.forget_drops else ''}{before}")

        n = m.shape[1]
        height = self.parent.size.height if self.parent is not None else 0
        # the rows under the header, as wrapped at this width (at 80 columns the hint takes two
        # lines); before the first layout, all of them
        def header(note: str) -> int:
            return sum(len(textwrap.wrap(line, width)) or 1
                       for line in (title, hint(f"units u{n}–u{n} of {n}{note}"))) \
                + 1 + bool(g.forget_drops)

        fits = max(1, height - header("")) if height > 0 else n
        note = ""
        if height > 0 and fits < min(n, FEW_UNITS) and height - header(FEW_NOTE) >= 1:
            fits, note = height - header(FEW_NOTE), FEW_NOTE  # at 80x24: 1 unit of 64, unsaid
        first = self.first_unit = min(self.first_unit, max(0, n - fits))
        last = min(n, first + fits) - 1
        t = Text()
        t.append(title, style="bold")
        shown = f"units u{first}–u{last} of {n}{note}" if fits < n else "the units"
        t.append("\n" + hint(shown) + "\n", style="dim")
        if g.forget_drops:
            t.append("    " + reset_marks(len(g.step_hours), g.forget_drops, cols) + "\n",
                     style="yellow")
        t.append("    " + hour_axis(g.step_hours, cols, off) + "\n", style="yellow")
        for u, row in enumerate(heat_rows(m, cols, lo, hi)[first:last + 1], first):
            t.append(f"u{u:<3}" + row + "\n")
        t.rstrip()  # a last empty line would overflow the box by one: a scrollbar for nothing
        return t


FEW_UNITS = 8  # a gate heatmap showing fewer units than this says a taller terminal shows more
FEW_NOTE = " (a taller terminal shows more)"  # (where it leaves a unit's row)


MAX_ANOMALIES = 20  # listed, newest first (the others are counted)
FLOOR_SHARE = 0.5  # the anomaly band's low end at 0 in this share of the past hours: said


class AnomalyPane(SnapshotPane):
    """Runs of completed hours outside the anomaly band, newest first."""

    FITS_BOX = True  # its rows are fitted to its box's height (Scroll.on_resize)

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        # drawn again when shown or resized: the rows that fit depend on the box's height, and
        # one laid out while hidden (`v` at 80x24, no new line since) had no "more below"
        self._snap = snap
        off = shown_offset(snap.series)
        band = band_name(snap.forecast.anomaly_band if snap.forecast else None, "anomaly band")
        if snap.forecast is None and snap.series is not None:  # none judged: not "no anomaly"
            super().update(Text(f"Anomalies: hours outside the {band} of their day-ahead "
                                "forecast, judged once there is a forecast", style="dim"))
            return
        floor = ""  # a band whose low end is 0 flags no drop (a trial asked why none could be)
        lo = np.asarray(snap.forecast.past_alarm_lo if snap.forecast is not None else [], float)
        days = round(len(lo) / 24) or 7  # the days judged a day ahead: the list's window (its
        # count went 4, 3, 4 as old ones left it, and the header named no window: a trial)
        last = f"the last {days} days" if days > 1 else "the last day"
        lo = lo[np.isfinite(lo)]
        if len(lo) >= 24 and np.mean(lo <= 0) >= FLOOR_SHARE:
            floor = (f" · its low end is 0 in {np.mean(lo <= 0):.0%} of the hours, where no "
                     "drop can be flagged")
        if not snap.anomalies:
            super().update(Text(f"No anomaly in {last} (hours outside the {band} of "
                                f"their day-ahead forecast){floor}", style="dim"))
            return
        listed = snap.anomalies[:MAX_ANOMALIES]
        rows = [self._row(a, off) for a in listed]
        # "Anomalies (9)" above six rows read as nine of them, the three below the pane's
        # edge unsaid (a trial): the rows that fit under the header, as wrapped at this width
        height = self.parent.size.height if self.parent is not None else 0
        width = max(self.size.width, 20)

        def lines(text: str) -> int:
            return len(textwrap.wrap(text, width)) or 1

        head, more = f"Outside the {band} in {last}, newest first{floor}", ""
        if height > 0 and lines(head + ":") + sum(map(lines, rows)) > height:
            for shown in range(len(rows), -1, -1):
                more = f" · {len(rows) - shown} more below (Tab to this pane, then j)"
                if lines(head + more + ":") + sum(map(lines, rows[:shown])) <= height:
                    break
        t = Text(f"{head}{more}:\n", style="dim")
        for a, row in zip(listed, rows):
            t.append(row + "\n", style="red" if a.active else "")
        if len(snap.anomalies) > len(listed):
            t.append(f"… and {len(snap.anomalies) - len(listed)} older, not listed\n",
                     style="dim")
        super().update(t)

    @staticmethod
    def _row(a: Anomaly, off: int) -> str:
        """One anomaly's line: when, its worst hour's count and band, active or not."""
        arrow = "▲" if a.direction > 0 else "▼"
        # a run of hours by its hours, as the hour cursor names it, and its worst hour's
        # numbers: it was named by that hour alone (05:00 for a run from 03:00)
        when, run = anomaly_when(a, off)
        # the worst hour's day when the run spans days ("22:00–Wed 02 00:00 117 at 14:00"
        # did not say which day's 14:00)
        other = (a.hour + off) // DAY != (a.start + off) // DAY
        worst = f" at {fmt_hour(a.hour, off, '%a %H:00' if other else '%H:00')}" if run else ""
        return (f"{arrow} {when}  {count(a.actual)}{worst} vs "
                f"{count_range(a.p10, a.p90)}{'  (active)' if a.active else ''}")


def anomaly_when(a: Anomaly, off: int, form: str = "%a %d %H:00") -> tuple[str, bool]:
    """When an anomaly was, in words, and whether it is a run of hours: one hour by its start
    ("Fri 20 05:00"), a run from its first hour to the hour after its last ("Fri 20 03:00–06:00",
    the end's day said when it is another: "Thu 03 10:00–Fri 01:00", "Thu 03 10:00–24:00" at
    midnight: "–00:00" read backwards), one still going "since" its first."""
    # one not cleared runs to the last hour judged: three hours at 0 read as one, "Fri 16:00",
    # its peak being its first hour
    run = a.end - a.start > HOUR if a.end is not None else max(a.hour, a.last or 0) > a.start
    # one that runs from the first hour judged may have begun before it: said by its end
    # alone, "until Fri 02 00:00" (its start had moved on an hour every hour, a week on, and
    # "before Thu 01 12:00" read oddly where the list had said 00:00 all week: trials)
    if getattr(a, "clipped", False):
        if a.end is None:
            return "for the 7 days judged and more", True
        return f"until {fmt_hour(a.end, off, form)}", True
    if not run:
        return fmt_hour(a.start, off, form), False
    if a.end is None:
        return f"since {fmt_hour(a.start, off, form)}", True
    # "10:00–01:00" read as one day's hours, backwards: the day is said
    same_day = (a.end - HOUR + off) // DAY == (a.start + off) // DAY
    end_form = ("%H:00" if same_day else "%a %H:00") if a.end - a.start < DAY else form
    end = fmt_hour(a.end, off, end_form)
    if same_day and a.end - a.start < DAY and (a.end + off) % DAY == 0:
        end = "24:00"
    return f"{fmt_hour(a.start, off, form)}–{end}", True


LINE_ROWS = 3  # rows of the log tail one line may take


class LogTail(Unchanged):
    """The latest log lines, sanitised: log content is attacker-controlled."""

    _follow = True  # the newest line kept in view (the reader has not scrolled up)
    _seen_size = None  # the box's size at the last update
    _moves_seen = 0  # the reader's scrolls (Scroll.moves) as of the last update
    _snap: Snapshot | None = None
    # the lines shown and their text while the reader is scrolled up: held as they are, the
    # newer ones counted below them (lines coming took the oldest away, and the view moved on
    # by a line each time: a trial)
    _held: tuple[tuple, list, Text] | None = None  # (view, lines, text)
    _holding = False  # the lines shown are held (the reader scrolled up as lines came)
    _newer = 0  # the newer lines said while held
    held_note = ""  # what the title says of lines held ("" when none are)

    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        """The site shown's lines (every site's, each named, for all sites), oldest first."""
        self._snap = snap
        box = self.parent
        # as tail -f: the newest line in view at the bottom, unless the reader scrolled up.
        # Judged only where the pane was seen at this size before: hidden (one bottom pane at a
        # time at 80x24) or just resized, its scroll position says nothing of the reader (a
        # trial: after a resize to 160x50 it showed its oldest lines, scrolled to the top)
        judged = box is not None and bool(box.size.area) and box.size == self._seen_size
        # and only where the reader scrolled since (a key, the wheel, the bar): a scroll to the
        # end that came before the new lines were laid out (to row 0 of 0) had a busy server's
        # tail read as scrolled up, and held at the first read's last lines for good (a trial)
        moves = getattr(box, "moves", 0)
        if judged and (moves != self._moves_seen or not self._follow):
            # (a line up from the end is scrolled up: a trial's k did not hold)
            self._follow = box.scroll_y >= box.max_scroll_y - 0.5
        self._moves_seen = moves
        self._seen_size = box.size if box is not None else None
        lines = [x for x in snap.tail if not snap.site or x.site == snap.site]
        view = (snap.site, snap.metric, snap.filter, bool(snap.tail_of))
        held = self._held
        if held is not None and held[0] != view:  # another site, metric or filter: its newest
            self._follow = True  # lines, as a tail opened anew (back to all sites from a held
            # site's tail, it was held at once, 200 newer lines and counting: a trial)
        if judged and not self._follow and held is not None and held[0] == view:
            shown = {id(x) for x in held[1]}
            # the newer lines, as far as the feed keeps them (50 a site): never fewer than said
            # before (a quiet host's lines given way took the count down, 1,032 to 915: a trial)
            newer = self._newer = max(sum(id(x) not in shown for x in lines),
                                      self._newer if self._holding else 0)
            t = held[2].copy()
            if newer:  # below the lines held: the view stays where the reader put it
                # none held left among those kept, of all or of a site: more may have come
                # than are kept (a review; all sites' 1,000 newer lines were 12,000, a trial)
                kept = {x.site for x in lines if id(x) in shown}
                more = (" or more" if newer >= len(lines) or {x.site for x in held[1]} - kept
                        else "")
                said = (f"{newer:,}{more} newer line{'s' if newer != 1 or more else ''} since "
                        "you scrolled up: G shows them")
                t.append(f"\n⋯ {said}", style="dim italic")
                # and in the pane's title, in view wherever the reader is (below the lines it
                # was seen only from the last row: a trial; the box has no bottom border, where
                # it had been said too, unseen)
                s = "s" if newer != 1 or more else ""
                self._say_held(f"held: {newer:,}{more} newer line{s}, G shows them")
            self._holding = True
            super().update(t)
            return
        self._held = None
        self._holding = False
        self._say_held("")
        where = site_title(snap.site, snap.sites)
        if snap.tail_of and not lines:  # the filter keeps none of the last lines read
            why = (": its range ended before them" if snap.range_end else  # (no line can come)
                   ": lines it keeps show here as they come")
            if snap.metric == "pages":  # ^/static under pages: "none" read as no such request
                why += " (the pages metric leaves static files out)"
            if not snap.filter:  # --metric pages alone
                why = ": page requests show here as they come (static files are left out)"
            keeps = "matches the filter" if snap.filter else "is a page request"
            super().update(Text(f"None of the last {snap.tail_of:,} lines of {where} read here "
                                f"{keeps}{why}", style="dim"))
            return
        if not lines:
            which = f" of {safe_name(snap.site)}" if snap.site and snap.tail else ""
            why = ("the fleet's counts come from Prometheus, not from log lines read here"
                   if snap.ingest.fleet else
                   "the logs are being read; their last lines show here once they are"
                   if snap.feed == READING else
                   "a replay shows the logs' hours, not their lines" if snap.ingest.read_ahead
                   else "nothing read since this start: the logs were counted before it, and "
                   "no line has been appended since")
            super().update(Text(f"No live lines{which}: {why}", style="dim"))
            return
        # all sites shown: each line says whose, even when the last ones are all one site's
        named = not snap.site and len(set(snap.sites) | {x.site for x in lines}) > 1
        t = Text()
        if snap.tail_of:  # the lines the view's filter keeps, judged as the counts judge them
            # (the filter in the chart's title: under visitors its path is said not applied
            # there, and lines are judged by it)
            # under visitors the path is applied here, to requests, and said so: the chart's
            # title says it is not applied to visitors (a trial read a contradiction)
            path = (" (its path too: these are requests)"
                    if snap.metric == "visitors" and "not applied to visitors" in snap.filter
                    else " (pages: static files left out)" if snap.metric == "pages" else "")
            keeps = f"match the filter{path}" if snap.filter else \
                "are page requests (static files left out)"  # --metric pages alone
            t.append(f"{len(lines):,} of the last {snap.tail_of:,} lines of {where} read here "
                     f"{keeps}\n", style="dim")
        # a line of its first LINE_ROWS rows at most: one request of 3,000 characters filled the
        # pane (a trial)
        cap = LINE_ROWS * (self.size.width or 80)
        for line in sorted(lines, key=lambda x: x.ts)[-50:]:  # in the order they were read
            if named and not (line.shown or line.text).startswith((f"{line.site}:",
                                                                   f"{line.site} ")):  # as
                # the picker and the title name it (a tab in a name was a gap here); not before
                # a virtual host's line that begins with it ("shop.com: shop.com:443 ...")
                t.append_text(safe_content(safe_name(line.site)))
                t.append(": ", style="dim")
            # a tab too is shown as an escape: expanded, it was a gap of spaces no reader could
            # tell from the line's own (a trial)
            text = safe_text(line.shown or line.text, tabs=False)
            # a line the feed cut already (read.TAIL_LINE_SHOWN) says its whole length: the
            # length of what was kept of a line of 8,070 read "4,131 characters" (a trial)
            whole = CUT_LINE.search(text)
            more = (f"… (a line of {whole.group(1)} bytes)" if whole else
                    f"… ({len(text):,} characters)")
            t.append_text(safe_content(text if len(text) <= cap else text[:cap - len(more)]))
            if len(text) > cap:
                t.append(more, style="dim")
            t.append("\n")
        t.right_crop(1)  # no blank row below the last line (one k from the end scrolled only
        # that off, and the pane went on following: a trial)
        self._held = (view, lines, t)
        super().update(t)
        if self._follow and box is not None:
            self.call_after_refresh(self._to_end, box, getattr(box, "moves", 0))

    def on_resize(self) -> None:
        """Laid out at another size: the newest line back in view at once where the pane
        follows them (the layout had put the oldest in view until the next frame came, 5 to 8
        seconds after a window grew: a trial)."""
        box = self.parent
        if self._follow and not self._holding and box is not None and self._snap is not None:
            self.call_after_refresh(self._to_end, box, getattr(box, "moves", 0))

    class Held(Message):
        """The lines held, or no longer: the app says so in the pane's title."""

    def _say_held(self, note: str) -> None:
        if note != self.held_note:
            self.held_note = note
            self.post_message(self.Held())

    def catch_up(self) -> None:
        """Scrolled to the end: the lines held give way to the newest at once, not at the next
        snapshot."""
        if self._holding and self._snap is not None:
            self.update(self._snap)

    def _to_end(self, box, moves: int) -> None:
        """The newest line into view, unless the reader scrolled since it was asked (g pressed
        as lines came was undone by the scroll to the end that followed them)."""
        if getattr(box, "moves", 0) == moves:  # now: Textual's own puts it off a refresh more,
            # and a g pressed then was undone (a busy site's trial, 4 times in 10)
            box.scroll_end(animate=False, immediate=True)
            self._seen_size = box.size  # at the end at this size: where the reader scrolls
            # from here says what they want (the first frame came before the layout, size 0)
