"""One hour (the chart's cursor) or the last 24 h in detail: numbers, verdict, what made them."""
from __future__ import annotations

import math

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.text import Text

from trafficwatch.app.gate_words import (
    ahead_words,
    fmt_hour,
    hour_gates,
    hour_title,
    shown_offset,
)
from trafficwatch.app.panes import SnapshotPane, anomaly_when
from trafficwatch.app.text import band_ends, band_name, count_range, safe_content
from trafficwatch.app.text import count as num
from trafficwatch.counting.series import PATH_DAYS
from trafficwatch.counting.tops import TOP_CAP, TOP_HOURS
from trafficwatch.engine.snapshot import HourTop, Snapshot
from trafficwatch.hours import HOUR
from trafficwatch.safe import safe_text


def _at(hours: np.ndarray, values: np.ndarray, h: int) -> float:
    i = np.flatnonzero(np.asarray(hours) == h)
    return float(values[i[0]]) if len(i) else math.nan


def hour_numbers(snap: Snapshot, h: int) -> dict:
    """Actual, forecast (p50) and band of hour `h`: for a past hour the day-ahead forecast the
    model made for it, for the hour in progress and later ones the forecast."""
    sv, fv = snap.series, snap.forecast
    actual = _at(sv.hours, sv.counts, h) if sv is not None else math.nan
    partial = sv is not None and sv.partial_hour == h
    future = fv is not None and len(fv.hours) and h >= int(fv.hours[0])
    lo = hi = math.nan  # the anomaly band: past hours only (anomalies are judged on those)
    if fv is None:
        p10 = p50 = p90 = math.nan
    elif future:
        p10, p50, p90 = (_at(fv.hours, v, h) for v in (fv.p10, fv.p50, fv.p90))
    else:
        p10, p50, p90 = (_at(fv.past_hours, v, h) for v in (fv.past_p10, fv.past_p50, fv.past_p90))
        if len(fv.past_alarm_lo) == len(fv.past_hours):
            lo, hi = (_at(fv.past_hours, v, h) for v in (fv.past_alarm_lo, fv.past_alarm_hi))
    return {"actual": actual, "p10": p10, "p50": p50, "p90": p90, "partial": partial,
            "future": bool(future) and not partial and not np.isfinite(actual),
            "alarm_lo": lo, "alarm_hi": hi}


def verdict(snap: Snapshot, h: int, n: dict) -> list[tuple[str, str]]:
    """[(words, style)]: where the hour fell against its band, and the anomaly it is part of."""
    out: list[tuple[str, str]] = []
    if n["future"]:
        # a log that stopped long ago: its hours after the end are not pending, just unlogged
        out.append(("no log after its end: a forecast" if snap.after_log_end else
                    "after the range's end: a forecast" if snap.range_end else
                    "not yet: a forecast",
                    "dim"))
    elif n["partial"] and snap.series is not None and snap.series.log_end is not None:
        out.append(("not judged: the log ends inside it", "dim"))
    elif n["partial"]:
        out.append(("in progress: judged once complete", "dim"))
    elif not np.isfinite(n["actual"]) and snap.series is not None and \
            snap.series.paths_since is not None and h < snap.series.paths_since:
        out.append((f"no verdict: path counts not kept past {PATH_DAYS} days", "dim"))
    elif not np.isfinite(n["actual"]):
        out.append(("no verdict: no log covers this hour", "dim"))
    elif not all(np.isfinite(n[k]) for k in ("p10", "p90")):
        fv = snap.forecast
        if fv is not None and len(fv.past_hours) and h < int(fv.past_hours[0]):
            # older than the days judged: said so (a trial read "no day-ahead forecast" 8 days
            # back as none made, where the README says the cursor reaches back four weeks)
            days = -(-len(fv.past_hours) // 24)
            back = f"{days} day{'s' * (days != 1)}"
            out.append((f"no verdict: day-ahead forecasts go back {back}", "dim"))
        else:
            out.append(("no verdict: no day-ahead forecast for this hour", "dim"))
    else:
        fv = snap.forecast
        # each distance names its band: "51 below the band" was from the 80 % one drawn, beside
        # an anomaly flagged on the 98 % one, 15 below it (a trial)
        drawn = band_name(fv.band if fv else None)
        alert = band_name(fv.anomaly_band if fv else None)
        words = _outside(n, drawn)
        alarm = _outside({**n, "p10": n["alarm_lo"], "p90": n["alarm_hi"]}, alert)
        if words == f"inside the {drawn}" and alarm.startswith(("▲", "▼")):  # the band drawn
            # was widened after a day that broke from it: "inside the band" beside an anomaly
            words = (f"inside the widened {drawn}, {'above' if alarm[0] == '▲' else 'below'} "
                     f"the {alert}")
        out.append((words, "bold" if not words.startswith("inside the ") else ""))
    off = shown_offset(snap.series)
    for a in [] if n["future"] else snap.anomalies:  # one still going is not in the forecast's
        if a.start <= h and (a.end is None or h < a.end):  # hours (they were said to be in it)
            arrow = "▲" if a.direction > 0 else "▼"  # named as the anomaly list names it
            when = anomaly_when(a, off, '%a %H:00')[0]
            # how far outside the band that flagged it (not again after "inside the widened")
            far = _distance(n["actual"], n["alarm_lo"], n["alarm_hi"], alert) \
                if out[0][1] != "dim" and not out[0][0].startswith("inside") else ""
            out.append((f"ANOMALY {arrow} {when}" + (f" ({far})" if far else ""), "bold red"))
            break
    else:
        if not out[0][0].startswith("inside the ") and out[0][1] != "dim":
            fv = snap.forecast
            if fv is None:
                out.append(("not flagged", "dim"))
            elif len(fv.past_alarm_lo) == len(fv.past_hours) and \
                    not np.isfinite(n["alarm_lo"]):  # (predict.ALARM_HISTORY_H)
                out.append(("not flagged: its forecast had under 3 days of logs to go on",
                            "dim"))
            else:
                out.append((f"not flagged: inside the {band_name(fv.anomaly_band)}", "dim"))
    return out


def _distance(a: float, lo: float, hi: float, band: str) -> str:
    """"314 above the 80% band", "32 below the 80% band", or "" inside it (or unknown): from
    the band's ends as shown (band_ends), so '201' against '233–378' is 32 below, not the 31
    of the unrounded end."""
    if not all(np.isfinite(v) for v in (a, lo, hi)):
        return ""
    lo, hi = band_ends(lo, hi)
    return (f"{num(a - hi)} above the {band}" if a > hi else
            f"{num(lo - a)} below the {band}" if a < lo else "")


def _outside(n: dict, band: str = "band") -> str:
    """Above or below the band (named `band`: "80% band"), by how much (_distance), with how
    far in proportion; "inside the 80% band" or "band unknown" otherwise."""
    a, lo, hi = n["actual"], n["p10"], n["p90"]
    if not all(np.isfinite(v) for v in (a, lo, hi)):
        return "band unknown"
    far = _distance(a, lo, hi, band)
    lo, hi = band_ends(lo, hi)
    if a > hi:
        # "(1.0x its top)" said nothing of 2,049 against a top of 2,048
        times = f" ({a / hi:.1f}x its top)" if hi > 0 and f"{a / hi:.1f}" != "1.0" else ""
        return f"▲ {far}{times}"
    if a < lo:
        share = f" ({1 - a / lo:.0%} under)" if lo > 0 else ""
        return f"▼ {far}{share}"
    return f"inside the {band}"


def _fit(raw: str, room: int, middle: bool = False) -> str:
    """A path or client made safe, cut with "…" to the `room` left on its row: wrapped, the
    count stood on one row and its path on the next (19 columns at 80x24, a trial); with
    `middle`, its start and its end kept (an address: 2001:db8:…:def0:1)."""
    text = safe_text(raw)
    if room < 4 or cell_len(text) <= room:  # (room < 4: a pane not laid out yet, width 0)
        return text
    # by the cells it takes, not its characters: a path of CJK characters is twice as wide
    if middle and room >= 7:
        tail = room // 2 - 1
        end = text[-tail:]
        while cell_len(end) > tail:
            end = end[1:]
        return set_cell_size(text, room - 1 - cell_len(end)) + "…" + end
    return set_cell_size(text, room - 1) + "…"


def top_lines(t: Text, top: HourTop | None, width: int, filtered: bool,
              one_hour: bool = False, fleet: bool = False) -> None:
    """Status classes, busiest paths and clients, sanitised (they come from the logs); on the
    fleet (`fleet`), the status classes alone: the agents export no path or client."""
    if top is None:
        t.append("No request in this hour\n" if one_hour else "No request in these hours\n",
                 style="dim")
        return
    old = f"not kept (older than {PATH_DAYS} days)"
    total = sum(n for _, n in top.classes)
    # each share rounded as it is, not made to add up to 100: 5 of 7 read "72%" (a trial);
    # under 1 % is "<1%": 2 of 514 read "1%" (a trial) where 9 of 4,296 read "<1%"
    shares = [int(100 * n / total + 0.5) for _, n in top.classes] if total else []
    t.append("Status ", style="bold")
    if not top.classes_kept:  # a path filter's requests: from the per-path counts, let go
        t.append(old, style="dim")  # of for hours this old (the chart has no count there)
    else:
        t.append(("  " if width >= 60 else " · ").join(
            f"{c} {num(n)}" + (f" {'<1' if 100 * n < total else p}%" if shares and width >= 60
                               else "")
            for (c, n), p in zip(top.classes, shares or [0] * len(top.classes))) or "–")
    t.append("\n")
    if fleet:  # "Top clients: not tallied (read before this start)" was said of the fleet,
        # which never has them (a trial)
        t.append("Paths and clients: the agents export requests by status class only\n",
                 style="dim")
        return
    t.append("Top paths" + (" (filter)" if filtered else "") + "\n", style="bold")
    col = max((len(num(n)) for _, n in top.paths), default=1)
    for path, n in top.paths:
        t.append(f" {num(n):>{col}} ")
        t.append(_fit(path, width - col - 2, middle=True))  # (its end kept too: 97 and 16
        t.append("\n")  # "/downloads/prod…" were /downloads/product_1 and _2, an app trial)
    if not top.paths_kept:
        t.append(f"  {'some hours ' if top.paths else ''}{old}\n", style="dim")
    elif not top.paths:
        t.append("  –\n", style="dim")
    t.append("Top clients" + (f" ({top.clients_of})" if top.clients_of else "") + "\n",
             style="bold")
    if top.clients_of == "any path":  # the status and bot filters apply: said, as `top` says
        t.append("  the path filter is not applied to clients\n", style="dim")  # (a trial)
    if not top.clients_by_cell:  # a state saved before they were tallied by status and bots
        t.append("  not tallied by filter (kept by an older version)\n", style="dim")
        return
    if not top.clients_kept:
        t.append(f"  kept for the last {TOP_HOURS // 24} days only\n" if top.clients_aged else
                 "  not tallied (read before this start)\n", style="dim")
        return
    def count(n: int, err: int) -> str:  # a range where the tally may be off
        return f"{num(n - err)}–{num(n)}" if err else num(n)

    if not top.clients:
        t.append("  –\n", style="dim")
    col = max((len(count(n, e)) for _, n, e in top.clients), default=1)
    for name, n, err in top.clients:
        t.append(f" {count(n, err):>{col}} ")
        t.append(_fit(name, width - col - 2, middle=True))  # two IPv6 addresses of one /64
        t.append("\n")  # read alike, cut at their end (a trial)
    if any(e for _, _, e in top.clients):
        t.append(f"  a–b: a range (the {TOP_CAP} busiest are tallied per hour)\n", style="dim")
    if top.clients_floor:  # one of 2 an hour beside 25 one-offs of 3 an hour is in no hour's
        # tally: the one-offs were listed "3-72" and it not at all (a trial)
        t.append(f"  a client not listed may have sent up to {num(top.clients_floor)}\n",
                 style="dim")


def hour_details(snap: Snapshot, h: int, width: int) -> Text:
    """The stats pane while the chart's cursor is on hour `h` (short lines: 80x24 gives it 24
    columns)."""
    off = shown_offset(snap.series)
    n = hour_numbers(snap, h)
    t = Text()
    t.append(hour_title(h, off) + "\n", style="bold")  # "Sun 11 Oct": not
    # "Sun 11/10", which reads as November in half the world
    ended = n["partial"] and snap.series is not None and snap.series.log_end is not None
    kind = "forecast" if n["future"] or (n["partial"] and not ended) else "day-ahead"
    actual = ("no log" if snap.after_log_end else "outside the range" if snap.range_end
              else "not yet") if n["future"] else num(n["actual"]) + (
        f" to {fmt_hour(snap.series.log_end, off, '%H:%M')}" if ended
        else " so far" if n["partial"] else "")
    fv = snap.forecast
    drawn = count_range(n['p10'], n['p90'])
    if (np.isfinite(n["alarm_lo"]) and np.isfinite(n["alarm_hi"])
            and (n["p10"] < n["alarm_lo"] or n["p90"] > n["alarm_hi"])):
        drawn += " widened"  # wider than the anomalies' band: after a day that broke from it
    # a nominal band (too little history to measure one) is not called an 80% band: the Now
    # pane said "nominal +-50%" of the one this pane called "80% band" (a trial)
    nominal = fv is not None and fv.nominal and (n["future"] or n["partial"])
    rows = [("actual", actual), (kind, num(n["p50"])),
            ("±50% band" if nominal else band_name(fv.band if fv else None), drawn)]
    if fv is not None and np.isfinite(n["alarm_lo"]) and np.isfinite(n["alarm_hi"]):
        rows.append((band_name(fv.anomaly_band), count_range(n['alarm_lo'], n['alarm_hi'])))
    for k, v in rows:
        t.append(f"{k:<10}", style="dim")
        t.append(f"{v}\n", style="bold" if k == "actual" else "")
    for words, style in verdict(snap, h, n):
        t.append(words + "\n", style=style)
    gates = hour_gates(snap.gates, h) or ahead_words(snap.gates, h)
    if gates:
        t.append(gates + "\n", style="dim")
    if (n["future"] or (n["partial"] and not ended)) and fv is not None and fv.choice:
        t.append("Shown: ", style="dim")  # the Now pane's line in full (narrow: in short)
        t.append_text(safe_content(fv.choice, "dim"))
        t.append("\n")
    top = next((x for x in snap.tops if x.start == h), None)
    kept_from = int(snap.series.hours[-1]) - (TOP_HOURS - 1) * HOUR if snap.series else 0
    if not n["future"] and top is None and h < kept_from:  # not "no request in these hours"
        t.append(f"Status classes, paths and clients: kept for the last {TOP_HOURS // 24} days "
                 "only\n", style="dim")
    elif not n["future"]:
        if snap.metric == "visitors":
            t.append("Its requests (not visitors):\n", style="dim")
        top_lines(t, top, width, bool(snap.filter), one_hour=True, fleet=snap.ingest.fleet)
    t.append("←/→ hour · Esc now", style="dim")
    return t


class TopPane(SnapshotPane):
    """The last 24 hours at a glance: status classes, busiest paths and clients."""


    def update(self, snap: Snapshot) -> None:  # type: ignore[override]
        self._snap = snap
        t = Text()
        day = snap.day
        if day is not None:
            off = shown_offset(snap.series)
            t.append(f"{fmt_hour(day.start, off, '%a %H:00')} to "
                     f"{fmt_hour(day.start + day.hours * HOUR, off, '%a %H:00')}", style="dim")
            if snap.filter:
                t.append(" · ", style="dim")
                t.append_text(safe_content(snap.filter, "dim"))
            if snap.metric == "visitors":  # the chart counts visitors; this tallies requests
                t.append(" · requests, not visitors", style="dim")
            t.append("\n")
        top_lines(t, day, self.size.width, bool(snap.filter), fleet=snap.ingest.fleet)
        super().update(t)
