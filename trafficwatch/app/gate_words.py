"""The LSTM's gates read out in plain words for the gate pane (pure functions, no Textual)."""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from trafficwatch.app.text import count

# What each seasonal base (model/features.py BASE_NAMES) means to someone watching a site.
BASE_WORDS = {
    "yesterday": "yesterday",
    "last week": "same hours last week",
    "7-day median": "typical day of the last 7",  # "7-day typical" was not understood (trial)
    "4-week median": "typical week",  # of the last 4 the history holds (not '4-week' on 8 days)
    "last hour": "the last whole hour",  # "the last hour 201" beside an hour in progress of
    # 344 so far read as the wrong hour (a trial): it is the last one the log has whole
    "4-week median at today's level": "typical week at today's level",
    "week's mean": "the week's average",
}

# Per gate: (threshold, reading) from the most open down; the first threshold the value reaches.
GATE_READINGS: dict[str, tuple[tuple[float, str], ...]] = {
    "forget": ((0.8, "keeping most of its memory"), (0.6, "keeping much of its memory"),
               (0.4, "keeping about half of its memory"), (0.1, "letting most of its memory go"),
               (0.0, "wiping its memory")),
    "input": ((0.8, "taking in a lot of new information"), (0.6, "taking in much new information"),
              (0.4, "taking in some new information"), (0.1, "taking in little new"),
              (0.0, "taking in almost nothing new")),
    "output": ((0.8, "using most of its memory"),
               (0.6, "using much of its memory"),
               (0.4, "using about half of its memory"),
               (0.1, "using little of its memory"),
               (0.0, "using almost none of its memory")),
}

SHADES = " ░▒▓█"


def base_phrase(name: str) -> str:
    """A seasonal base's name as a watcher would say it (unknown names pass through)."""
    return BASE_WORDS.get(name, name)


def percentages(counts: Sequence[float]) -> list[int]:
    """Whole percentages that add up to 100 (largest remainder); [] when there is nothing."""
    total = sum(counts)
    if not total:
        return []
    exact = [100 * n / total for n in counts]
    out = [math.floor(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: out[i] - exact[i])[:100 - sum(out)]:
        out[i] += 1
    return out


OTHERS_SPILL = 0.25  # "others" holding more than this share of the mix takes the second line
# (`spill`) to name more: a 94-column pane at 160x50 read "typical week at today's level 52%,
# others 48%" where the 76-column one at 80x24 named three bases on two lines (a trial)


def reliance_words(reliance: dict[str, float], top: int = 3, width: int = 0,
                   share: float = 1.0, spill: int = 0) -> str:
    """'Relying on: same hours last week 52%, 4-week typical 31%, yesterday 9%, others 8%';
    fewer bases named (the largest), the rest summed as others, when `width` (0 = any) is short.
    `share`: the LSTM's share of the line shown; under all of it, said first (a trial read "Relying
    on: typical week at today's level 37%" as what the line drawn did, 90% "the last hour").
    `spill`: a longer width (a second line) taken when within `width` "others" would outweigh
    every base named ("typical week at today's level 24%, others 76%", a trial), or hold more
    than OTHERS_SPILL of the mix."""
    lead = ("Relying on: " if share >= 0.995 else
            f"Relying on (the LSTM, {100 * share:.0f}% of the line drawn): " if share > 0.005
            else "Relying on (the LSTM, not in the line drawn): ")
    items = [(k, float(v)) for k, v in reliance.items() if np.isfinite(v) and v > 0]
    total = sum(v for _, v in items)
    if not items or total <= 0:
        return f"{lead}its own reading of the last week (no seasonal mix reported)"
    items.sort(key=lambda kv: -kv[1])

    def pick(limit: int) -> tuple[str, list[int]]:
        """The most bases (up to `top`) whose line fits `limit` (0: any), the rest as others."""
        for n in range(min(top, len(items)), 0, -1):  # the rest always shows, as "others"
            rest = sum(v for _, v in items[n:])
            pct = percentages([v for _, v in items[:n]] + [rest])  # they add up to 100
            shown = [f"{base_phrase(k)} {p}%" for (k, _), p in zip(items[:n], pct)]
            out = lead + ", ".join(shown + ([f"others {pct[-1]}%"] if pct[-1] else []))
            if not limit or len(out) <= limit:
                break
        return out, pct

    out, pct = pick(width)
    rest = sum(v for _, v in items[len(pct) - 1:])
    if spill > width and (len(out) > width or rest > min(items[0][1], OTHERS_SPILL * total)):
        out, pct = pick(spill)
        if pct[-1] > min(pct[:-1]):  # others still hides a base larger than one named (at 50
            # columns "typical day of the last 7 46%, others 54%", yesterday's 44 % in it: a
            # trial): every base named, on the lines it takes
            out, _ = pick(0)
    return out


RELATIVE_SHARE = 0.9  # the latest value above (below) this share of the week's hours reads as
# high (low) for the week. The mean over 64 units sits near 0.5 on every site (0.56-0.59 forget,
# 0.46-0.49 input on sample and real logs alike): read alone, the words were the same
# everywhere; against the gate's own week they say what is unusual now


def standing(value: float, week: np.ndarray | None) -> str | None:
    """"high", "low" or "usual" for its week (RELATIVE_SHARE of its hours below or above it);
    None without a week of 24 hours that moved at all."""
    w = np.asarray(week if week is not None else [], dtype=float)
    w = w[np.isfinite(w)]
    if not np.isfinite(value) or len(w) < 24 or np.ptp(w) < 0.01:
        return None
    if (w < value).mean() >= RELATIVE_SHARE:
        return "high"
    if (w > value).mean() >= RELATIVE_SHARE:
        return "low"
    return "usual"


def gate_reading(gate: str, value: float, week: np.ndarray | None = None,
                 span: str = "week") -> str:
    """'forget gate: high for its week (0.62 of 1)', 'input gate: usual (0.41: ...)': one
    gate's latest value against its own week first, then (when usual) in absolute words;
    without a week to read it
    against, 'forget gate: keeping most of its memory (0.91)'. The mean of 64 units sits near
    0.5 on every site: "keeping about half of its memory" first read the same everywhere (two
    trials), where how this hour stands in the gate's week differs. `span`: what the hours
    read are ("week", or "25 hours" for a site younger than the window: "high for its week"
    was said of a day's hours, a trial)."""
    if not np.isfinite(value):
        return f"{gate} gate: no reading"
    words = next(w for lim, w in GATE_READINGS[gate] if value >= lim)
    rel = standing(value, week)
    if rel is None:
        return f"{gate} gate: {words} ({value:.2f})"
    if rel == "usual":  # (short: the sparklines beside it keep their width)
        return f"{gate} gate: usual ({value:.2f}: {words})"
    # high or low for its week, the value alone: "high for its week (0.44: taking in some new
    # information)" read as a contradiction to two new users (the mean of 64 units sits near
    # 0.5: "some" is its usual, "high" its week's)
    return f"{gate} gate: {rel} for its {span} ({value:.2f} of 1)"


# What a gate high (low) for its week means for the forecast, in a watcher's words
STANDOUT_WORDS = {
    ("forget", "high"): "holding on to its memory of the weeks more than usual",
    ("forget", "low"): "letting its memory go more than usual (traffic unlike its weeks)",
    ("input", "high"): "taking in the latest hours more than usual",
    ("input", "low"): "taking in the latest hours less than usual",
    ("output", "high"): "letting its memory shape the forecast more than usual",
    ("output", "low"): "letting its memory shape the forecast less than usual",
}


def standout_words(latest: dict[str, tuple[float, np.ndarray]], span: str = "week") -> str:
    """One line on the gates at the latest hour against their week: what stands out and what
    it means ("Now: the input gate is high for its week: taking in the latest hours more than
    usual"), or that nothing does; "" when no gate has a week to be read against."""
    said, judged = [], False
    for gate, (value, week) in latest.items():
        rel = standing(value, week)
        judged |= rel is not None
        if rel in ("high", "low"):
            said.append(f"the {gate} gate is {rel} for its {span}: "
                        f"{STANDOUT_WORDS[(gate, rel)]}")
    if not judged:
        return ""
    if not said:
        return f"Now: every gate within its usual range for the {span} (nothing stands out)"
    return "Now: " + "; ".join(said)


def memory_reading(cell_norm: np.ndarray, recent: int = 24) -> str:
    """'memory: growing over the last day (size 36.3)': the cell state's size and its trend."""
    v = np.asarray(cell_norm, dtype=float)
    if not len(v) or not np.isfinite(v[-1]):
        return "memory (cell state): no reading"
    before = v[max(len(v) - 1 - recent, 0)]
    change = (v[-1] - before) / max(abs(before), 1e-9)
    trend = "growing" if change > 0.1 else "shrinking" if change < -0.1 else "steady"
    return f"memory (cell state): {trend} over the last day (size {v[-1]:.1f})"


class ShownOffset(int):
    """The offset hours are shown in now (an int, for what is reckoned in it), which knows each
    hour's own (`SeriesView.offset_at`): fmt_hour shows an hour before a daylight-saving change
    in the offset it had, as `counts` writes it."""

    def __new__(cls, series) -> ShownOffset:  # noqa: PYI034 (Self: Python 3.11)
        out = super().__new__(cls, series.tz_offset_s)
        out.series = series
        return out

    def at(self, ts: int) -> int:
        return self.series.offset_at(ts)


def shown_offset(series) -> int:
    """The offset a SeriesView's hours are shown in (ShownOffset); 0 without one."""
    return ShownOffset(series) if series is not None else 0


def fmt_hour(ts: int, offset: int, form: str = "%a %d %H:00") -> str:
    """An epoch hour in the displayed offset (a ShownOffset: the hour's own). "%H:00" is written
    with the hour's minutes: in a zone half an hour or 45 minutes off UTC its hours begin at
    :30 or :45 (Kathmandu's 14:45-15:45 was "This hour (14:00)", beside an axis at 14:45)."""
    off = offset.at(int(ts)) if isinstance(offset, ShownOffset) else offset
    return time.strftime(form.replace("%H:00", "%H:%M"), time.gmtime(int(ts) + off))


def hour_title(ts: int, offset: int, form: str = "%a %d %b %H:00") -> str:
    """fmt_hour, with the hour's UTC offset where the hour before or after it reads the same
    (the hour repeated when the clocks go back): both read "Sun 25 Oct 02:00" (a trial)."""
    said = fmt_hour(ts, offset, form)
    if not any(fmt_hour(ts + d, offset, form) == said for d in (-3600, 3600)):
        return said
    off = offset.at(int(ts)) if isinstance(offset, ShownOffset) else int(offset)
    sign, off = "+-"[off < 0], abs(off)
    return f"{said} ({sign}{off // 3600:02d}:{off % 3600 // 60:02d})"


def distinct_drops(drops: Sequence[int]) -> list[int]:
    """The sharp drops as events: a fall spread over consecutive steps is one drop (its last)."""
    out: list[int] = []
    for d in sorted(drops):
        if out and d - out[-1] <= 1:
            out[-1] = d
        else:
            out.append(d)
    return out


def reset_words(step_hours: np.ndarray, drops: Sequence[int], offset: int,
                when_read: str = "this week") -> str:
    """When the forget gate last dropped sharply (the model set aside what it knew), in words:
    what the gate did, not why (a trial's steady site, nothing changed, read "a change of
    regime"); many in a week read as the routine turns they usually are."""
    drops = distinct_drops(drops)
    if not len(drops) or not len(step_hours):
        return f"No memory reset {when_read} (the forget gate never dropped sharply)"
    when = fmt_hour(step_hours[min(drops[-1], len(step_hours) - 1)], offset)
    if len(drops) <= 3:
        more = f", {len(drops) - 1} earlier {when_read}" if len(drops) > 1 else ""
        return f"Memory last reset: {when} (the forget gate dropped sharply{more})"
    return (f"Forget gate dropped sharply {len(drops)} times {when_read} (last {when}): each at "
            "a sudden change in traffic, not each a new regime")


def bins(n: int, width: int) -> list[slice]:
    """Split n steps into at most `width` consecutive, nearly equal bins."""
    k = max(min(n, width), 1)
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in pairwise(edges) if b > a]


def heat_rows(m: np.ndarray, width: int, lo: float, hi: float) -> list[str]:
    """(T, U) values -> one shaded row per unit, T compressed to `width` columns by bin means."""
    span = hi - lo if hi > lo else 1.0
    with warnings.catch_warnings():  # a bin of padding only ("Mean of empty slice"): blank
        warnings.simplefilter("ignore", RuntimeWarning)
        cols = np.stack([np.nanmean(m[s], axis=0) for s in bins(m.shape[0], width)])  # (W, U)
    lv = np.clip(((cols - lo) / span * (len(SHADES) - 1)).round(), 0, len(SHADES) - 1)
    return ["".join(SHADES[int(x)] if np.isfinite(x) else " " for x in lv[:, u])
            for u in range(m.shape[1])]


def hour_axis(step_hours: np.ndarray, width: int, offset: int) -> str:
    """A line under the heatmap: '|Sat 10' at each column where a day starts in the offset."""
    sl = bins(len(step_hours), width)
    out = [" "] * len(sl)
    day = [(int(step_hours[s.start]) + offset) // 86400 for s in sl]
    free = 0
    for i in range(1, len(sl)):
        if day[i] != day[i - 1] and i >= free:
            # the whole label, or the day of the month alone at the right edge ("|Fri" read as
            # a label, but it was "|Fri 20" cut short), or the day's mark alone
            label = next((lb for lb in ("|" + fmt_hour(step_hours[sl[i].start], offset, form)
                                        for form in ("%a %d", "%d")) if len(lb) <= len(sl) - i),
                         "|")
            out[i:i + len(label)] = label
            free = i + len(label) + 1
    return "".join(out)


def reset_marks(n: int, drops: Sequence[int], width: int) -> str:
    """A line with ▼ above each heatmap column that holds a memory reset (forget-gate drop)."""
    hit = set(drops)
    return "".join("▼" if any(t in hit for t in range(s.start, s.stop)) else " "
                   for s in bins(n, width))


def read_span(g) -> str:
    """The hours the LSTM read, in words: "week", or "25 hours" for a site younger than the
    window (its gates over the padding before its first hour are not its own: "high for its
    week" was said over a site's 25 hours, a trial)."""
    read = len(g.step_hours) - g.padded
    return "week" if read >= 168 else f"{read} hours"


AHEAD_LEAST = 0.05  # a base weighing less than this in an hour ahead is among its "others"
# The bases that copy an hour repeat the latest one with a count (features.seasonal_bases): 25 h
# ahead, or after a gap, "yesterday 607" was Thursday's count for a Saturday (a trial)
COPIED = {"yesterday": "the latest day's same hour", "last week": "the latest week's same hour"}


def ahead_words(g, h: int) -> str:
    """How the LSTM made its own median of hour `h` (epoch seconds) ahead, from the weight it
    gave each seasonal base: 'The LSTM's own 416 here (before the blend), its bases weighed on a
    log scale: typical week at today's level 596 (54%), the last hour 165 (14%), typical week
    557 (14%), the latest day's same hour 373 (11%), others 7%; then its own shift -13%'; ""
    when the hour is not one it forecast. Every base of AHEAD_LEAST or more is named (with
    three, an unnamed 21% held the last hour's 165, and the parts did not make the value: a
    trial)."""
    if g is None or g.ahead_hours is None:
        return ""
    at = np.flatnonzero(np.asarray(g.ahead_hours) == h)
    if not len(at):
        return ""
    i = int(at[0])
    w = np.asarray(g.ahead_weights[i], dtype=float)
    b = np.asarray(g.ahead_bases[i], dtype=float)
    median, mixed = float(g.ahead_median[i]), float(g.ahead_mixed[i])
    if not (np.isfinite(median) and np.isfinite(mixed)):
        return ""
    order = [k for k in np.argsort(-w, kind="stable") if w[k] >= AHEAD_LEAST and np.isfinite(b[k])]
    pct = percentages([w[k] for k in order] + [max(0.0, 1.0 - sum(w[k] for k in order))])
    parts = [f"{COPIED.get(g.ahead_names[k]) or base_phrase(g.ahead_names[k])} {count(b[k])} "
             f"({p}%)" for k, p in zip(order, pct)]
    if pct and pct[-1]:
        parts.append(f"others {pct[-1]}%")
    moved = (1 + median) / (1 + mixed) - 1  # its shift, in log1p units: a ratio of 1 + counts
    shift = f"; then its own shift {moved:+.0%}" if abs(moved) >= 0.005 else ""
    return (f"The LSTM's own {count(median)} here (before the blend), its bases weighed on a log "
            f"scale: {', '.join(parts)}{shift}")


def hour_gates(g, h: int) -> str:
    """The gates where the LSTM read hour `h` (epoch seconds) in its window, against their own
    week: 'LSTM here: forget 0.55, input 0.61 (high for its week), output 0.47; memory 6.2',
    and a memory reset there said; "" when the window (the last week) does not hold the hour
    or the model read nothing there. A trial looked at an anomaly's hour with the cursor: the
    gate pane said the same as at any other hour, and the hour's details had no gate."""
    if g is None:
        return ""
    at = np.flatnonzero(np.asarray(g.step_hours) == h)
    if not len(at) or int(at[0]) < g.padded:
        return ""
    i = int(at[0])
    parts = []
    span = f"its {read_span(g)}"  # a site younger than the window: its hours, as the gate
    # pane says (a trial)
    for name, series in (("forget", g.mean_forget), ("input", g.mean_input),
                         ("output", g.mean_output)):
        w = np.asarray(series, dtype=float)[g.padded:]
        v = float(series[i])
        if not np.isfinite(v):
            return ""
        rel = standing(v, w)
        parts.append(f"{name} {v:.2f}" + (f" ({rel} for {span})" if rel in ("high", "low")
                                          else ""))
    out = "LSTM here: " + ", ".join(parts) + f"; memory {float(g.cell_norm[i]):.1f}"
    if any(abs(i - d) <= 1 for d in distinct_drops(g.forget_drops)):
        out += "; its memory reset here (the forget gate dropped sharply)"
    return out
