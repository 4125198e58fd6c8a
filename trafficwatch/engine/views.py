"""Turn a read-only record of the engine's state, its series and prediction into the Snapshot
the UI draws (nothing here writes to the engine, or imports it)."""
from __future__ import annotations

import datetime as dt
import functools
import re
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from trafficwatch.counting.series import PATHS_SINCE, HourlySeries
from trafficwatch.counting.tops import TOP_HOURS
from trafficwatch.engine.anomalies import ANOMALY_BAND
from trafficwatch.engine.predict import Prediction
from trafficwatch.engine.snapshot import (
    Anomaly,
    ForecastView,
    GateView,
    HourTop,
    IngestView,
    SeriesView,
    Snapshot,
)
from trafficwatch.filters import CLASS_NAMES, ViewFilter
from trafficwatch.hours import (
    DAY,
    HOUR,
    OFFSETS,
    epoch,
    epoch_seconds,
    week_before,
    zone_offsets,
)

SHOW_HOURS = 28 * 24  # the snapshot carries four weeks; the chart shows what fits


@dataclass(frozen=True)
class ViewState:
    """What a frame shows beside the series and the prediction, read under the engine's lock."""

    sites: tuple[str, ...]
    site: str  # "" = all sites
    metric: str
    filter: ViewFilter
    band: float
    replay: bool
    speed: float
    now: float  # the engine's clock (log time in a replay)
    partial_hour: pd.Timestamp | None  # the hour in progress
    tz_offset_s: int  # seconds east of UTC that times are shown in
    last_ts: float | None  # the site's last line
    last_read: float | None = None  # when (wall clock) a line of the view last came, if known
    tuning_note: str = ""
    tail: tuple = ()
    tail_of: int = 0  # a filter on lines: `tail` is those it keeps of the view's last tail_of
    done: bool = False  # a replay that reached the logs' end
    tops: tuple[HourTop, ...] = ()  # hour_tops() of the view, read under the engine's lock
    day: HourTop | None = None
    feed: str = ""  # the source's own account of where lines come from (the fleet's), if any
    anomaly_band: float = ANOMALY_BAND  # the band anomalies are judged on (wider than `band`)
    log_end: float | None = None  # logs no longer written that ended inside partial_hour: when
    tz: dt.tzinfo | None = None  # --tz: hours shown in this zone (None: the log's own offset)


LABEL_AHEAD = 170  # hours past the last shown whose offset is known: a forecast's 168


@functools.lru_cache(maxsize=8)
def _zone_labels(first: int, last: int, tz: dt.tzinfo) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, offsets) of the hours first..last + LABEL_AHEAD in the zone `tz` (one
    frame after another asks for the same ones)."""
    numbers = np.arange(first, last + LABEL_AHEAD + 1, dtype=np.int64)
    return numbers * HOUR, zone_offsets(numbers, tz)


def series_view(state: ViewState, s: pd.Series) -> SeriesView | None:
    """The last SHOW_HOURS of the view, with the same hours a week earlier aligned."""
    if not len(s):
        return None
    shown = s.iloc[-SHOW_HOURS:]
    hours = epoch_seconds(s.index)
    off = s.attrs.get(OFFSETS)
    offsets = (None if off is None else
               off.reindex(s.index).ffill().bfill().to_numpy(dtype=np.int64))
    week = week_before(hours, s.to_numpy(dtype=float), hours[-len(shown):], offsets=offsets)
    partial = state.partial_hour
    label_hours = label_offsets = None
    if state.tz is not None:  # the zone's offset at each hour, a week ahead too (forecasts)
        label_hours, label_offsets = _zone_labels(int(hours[-len(shown)]) // HOUR,
                                                  int(hours[-1]) // HOUR, state.tz)
    elif offsets is not None:
        label_hours, label_offsets = hours[-len(shown):], offsets[-len(shown):]
    return SeriesView(
        site=state.site, metric=state.metric, hours=epoch_seconds(shown.index),
        counts=shown.to_numpy(dtype=float),
        partial_hour=epoch(partial) if partial is not None else None,
        tz_offset_s=state.tz_offset_s, last_week=week,
        offsets=offsets[-len(shown):] if offsets is not None else None,
        log_end=int(state.log_end) if state.log_end is not None else None,
        paths_since=s.attrs.get(PATHS_SINCE), label_hours=label_hours,
        label_offsets=label_offsets)


def forecast_view(p: Prediction, detail: str, band: float,
                  anomaly_band: float = ANOMALY_BAND) -> ForecastView:
    """Copy a Prediction into the frozen view type."""
    return ForecastView(
        hours=p.hours, p10=p.p10, p50=p.p50, p90=p.p90, past_hours=p.past_hours,
        past_p10=p.past_p10, past_p50=p.past_p50, past_p90=p.past_p90,
        model_name=p.model_name, model_detail=detail, model_detail_short=detail_short(detail),
        mase=p.mase, mase_naive=p.mase_naive,
        rel_to_naive=p.rel_to_naive, coverage=p.coverage, band=band, anomaly_band=anomaly_band,
        naive_name=p.naive_name,
        choice=p.choice, choice_short=p.choice_short, hours_scored=p.hours_scored,
        no_scale=p.no_scale,
        holiday_hours=p.holiday_hours, past_alarm_lo=p.past_alarm_lo,
        past_alarm_hi=p.past_alarm_hi, band_note=p.band_note, lstm_share=p.lstm_share,
        nominal=p.nominal)


def detail_short(detail: str) -> str:
    """The fine-tune's note in a few words, for a narrow pane: at 80x24 "default kept: no epoch
    of fine-tuning did better than it on the week before the last 7 days (...)" took 8 of the
    Now pane's 12 lines and pushed the lines read out of sight (a new user's trial)."""
    if re.match(r".+? kept: (?:no epoch|the fine-tune|fine-tuned)", detail):  # "default
        # kept" (or a --model file's name), and why, in a word or two (a trial: no reason at 80
        # columns, only at 160)
        why = ("unscored" if "could not be scored" in detail else
               "too close to call" if "too close to call" in detail else "no better")
        return f"fine-tune not kept: {why}"
    if detail.startswith("kept"):
        return "fine-tuned here, kept"
    if detail.startswith("fine-tuning on this site: done"):  # not in use yet: "fine-tuning:
        # done" beside "Model: lstm:default" read as a fine-tune in use (a trial)
        return "fine-tuned, checking it against " + (
            "the default" if detail.endswith("the default") else "the model")
    if detail.startswith("fine-tuning on this site: "):
        return "fine-tuning: " + detail.removeprefix("fine-tuning on this site: ").split(",")[0]
    if detail.startswith("fine-tuning failed"):
        return "fine-tuning failed"
    if detail.startswith("not fine-tuned: switched off"):
        return "fine-tuning off"
    if detail.startswith("not fine-tuned"):  # yet (too few days), or too few hours to check
        return detail.split(":")[0]
    return ""  # another note: as it is


def gate_view(g) -> GateView | None:
    """GateStats (model/forecaster.py) -> GateView; None when the LSTM did not run."""
    if g is None:
        return None
    m = g.matrices
    return GateView(
        step_hours=epoch_seconds(g.index), forget=m["forget"], input=m["input"], output=m["output"],
        candidate=m["candidate"], cell=m["cell"], mean_forget=g.forget_mean,
        mean_input=g.input_mean, mean_output=g.output_mean, saturated=dict(g.saturated),
        cell_norm=g.cell_norm, forget_drops=tuple(g.forget_drops), reliance=dict(g.reliance),
        padded=int(np.argmax(g.observed)) if np.any(g.observed) else len(g.observed),
        **_ahead(g.ahead))


def _ahead(a) -> dict:
    """forecaster.Ahead as GateView's ahead_* fields ({} without one)."""
    if a is None:
        return {}
    from trafficwatch.model.features import BASE_NAMES

    return {"ahead_hours": epoch_seconds(a.index), "ahead_names": tuple(BASE_NAMES),
            "ahead_weights": a.weights, "ahead_bases": a.bases, "ahead_mixed": a.mixed,
            "ahead_median": a.median}


def anomalies(p: Prediction, stale: bool = False) -> tuple[Anomaly, ...]:
    """Newest first. Nothing is active in a stale log: its last run of hours outside the band
    ended with the log, not now."""
    last = int(p.past_hours[-1]) if len(p.past_hours) else None  # a run not cleared runs to it
    out = [Anomaly(hour=e.peak_hour, start=e.start, actual=e.actual, p10=e.low, p90=e.high,
                   direction=e.direction, active=e.active and not stale, end=e.end,
                   last=last if e.end is None else None, clipped=e.clipped)
           for e in p.anomalies]
    return tuple(sorted(out, key=lambda a: a.hour, reverse=True))


def ingest_view(source, reading: bool = False) -> IngestView:
    """Counts and file states from the feed's report (empty while it starts: `reading`, the
    first read is under way; not after it failed)."""
    if source is None:
        return IngestView(reading=reading)
    rep = source.report
    mal = rep.malformed
    files = tuple((f.name, f.error or f"{f.format}, {f.lines:,} lines") for f in rep.files)
    where: dict[str, list[tuple[int, str]]] = {}  # reason -> (lines, file)
    for f in list(rep.files):
        for reason, n in list(f.malformed.counts.items()):
            where.setdefault(reason, []).append((n, f.name))
    follower = getattr(source, "follower", None)
    followed = follower.following() if follower is not None else None
    return IngestView(
        lines_read=rep.lines, parsed=rep.parsed,
        excluded=rep.excluded, malformed=dict(mal.counts),
        malformed_examples={k: v.decode("utf-8", "backslashreplace") for k, v in mal.examples.items()},
        malformed_files={k: tuple(name for _, name in sorted(v, key=lambda x: -x[0]))
                         for k, v in where.items()},
        files=files, files_read=len(files) + rep.folded, followed=followed, skipped=tuple(rep.skipped), lines_per_s=getattr(source, "rate", 0.0),
        last_update_ts=getattr(source, "last_update", 0.0), notices=_notices(source),
        fleet=bool(getattr(source, "fleet", False)))


def _notices(source) -> tuple[str, ...]:
    """What the operator should read: the state file's fate, failing files, recent warnings."""
    out = [n for n in (getattr(source, "notice", ""), getattr(source, "waiting", "")) if n]
    out += [f.error for f in source.report.failed]
    out += list(getattr(source, "warnings", ()))[-3:]
    return tuple(dict.fromkeys(out))


STALE_S = HOUR  # a live log silent this long is said to be silent, not "following"


def feed_words(replay: bool, speed: float, now: float, last_ts: float | None, offset: int,
               done: bool = False, last_read: float | None = None,
               followed: int | None = None) -> str:
    """How lines arrive, in words: a replay and its speed, or a live log and whether it is quiet
    (`last_read`: when a line last came, by the wall clock; lines dated long ago that still
    come are not a quiet log)."""
    def when(ts: float) -> str:  # a replay's clock is log time itself: always with its date
        same_day = (int(ts) + offset) // DAY == (int(now) + offset) // DAY and not replay
        return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", time.gmtime(int(ts) + offset))

    if replay:
        if done:
            return f"replay finished at the logs' end ({when(now)})"
        return f"replay at {speed:g}x (log time {when(now)})"
    if last_ts is None:
        return "following: no line yet"
    if now - last_ts > STALE_S:
        if last_read is not None and now - last_read <= STALE_S:  # a trial's 200 lines just
            # appended, dated 15 days back, read "no new lines since" that day
            return f"following: lines still coming, the last dated {when(last_ts)}"
        if followed == 0:  # archives read whole, or the files gone: "still watching" read as
            # if they were followed, beside the pane's "files followed 0" (a trial)
            # (in 78 columns with a date: it wrapped the status line at 80x24, a trial)
            return f"no new lines since {when(last_ts)} (no log left to follow; new ones are read)"
        return f"no new lines since {when(last_ts)} (still watching)"
    return f"following: last line at {when(last_ts)}"


def build_snapshot(state: ViewState, s: pd.Series, p: Prediction | None, ing: IngestView,
                   status: str) -> Snapshot:
    """One complete frame."""
    # a replay at the logs' end is a log nobody writes any more: its forecast is labelled from
    # the log's last hour, not "Next hour" (a trial), and nothing is active at its end
    stale = is_stale(state.replay, state.now, state.last_ts) or (state.replay and state.done)
    note = state.tuning_note
    if ("MASE" in note or "sMAPE" in note) and (state.metric != "hits" or state.filter.describe()):
        # the fine-tuned model forecasts every view only where it was kept (it read so beside
        # "default kept", a trial)
        note += (" (on its hits, unfiltered: the model fine-tuned on them forecasts every view)"
                 if note.startswith("kept") else " (on its hits, unfiltered)")
    # the forecast of a range that ends before the hour in progress: its hours have passed
    range_end = (state.filter.end is not None and p is not None and len(p.hours) > 0
                 and int(p.hours[0]) + HOUR <= state.now)
    # nothing is active at a past range's end (an app trial: "(active)" on an hour two days
    # back, under a range of that day)
    shown = anomalies(p, stale or range_end) if p is not None else ()
    if state.filter.start is not None and len(s):  # the forecast reads the days before the
        # range too: their anomalies are not the view's
        first = epoch(s.index[0])
        shown = tuple(a for a in shown if a.end is None or a.end > first)
    return Snapshot(
        sites=state.sites, site=state.site, metric=state.metric,
        series=series_view(state, s),
        forecast=(forecast_view(p, note, state.band, state.anomaly_band)
                  if p is not None else None),
        gates=gate_view(p.gates) if p is not None else None,
        anomalies=shown, range_end=range_end,
        ingest=replace(ing, read_ahead=state.replay), tail=state.tail,
        tail_of=state.tail_of,
        status=status,
        filter=state.filter.describe(state.tz_offset_s, state.metric), now=state.now,
        feed=state.feed or feed_words(state.replay, state.speed, state.now, state.last_ts,
                                      state.tz_offset_s, done=state.done,
                                      last_read=state.last_read, followed=ing.followed),
        tops=state.tops, day=state.day, stale=stale)


TOP_N = 5  # paths and clients shown per hour


def hour_tops(series: HourlySeries, site: str, metric: str, flt: ViewFilter,
              s: pd.Series) -> tuple[tuple[HourTop, ...], HourTop | None]:
    """Status classes, busiest paths and clients of the view `s`'s last TOP_HOURS hours, one by
    one, and of its last 24 hours together (the metric and filter apply; clients: of every
    path, not tallied by path). Reads `series` only: the engine calls it under its lock."""
    if not len(s):
        return (), None
    last = int(s.index[-1].timestamp()) // HOUR
    first = max(last - TOP_HOURS + 1, int(s.index[0].timestamp()) // HOUR)
    d0 = max(first, last - 23)
    kw = {"metric": metric, "bots": flt.bots, "status_classes": flt.status_classes,
          # requests, under visitors too: their paths are the filter's (under "Top paths
          # (filter)" a trial found /static/app.js beside a filter ^/cart)
          "path": flt.path, "n": TOP_N}
    try:
        per_hour = series.breakdown(site or None, first, last, **kw)
        day = series.breakdown(site or None, d0, last, whole=True, **kw)
    except (KeyError, ValueError):  # the site went away, or a path filter it cannot take
        return (), None
    of = "any path" if flt.path else "filter" if (flt.status_classes or flt.bots is not True) \
        else ""
    newest = series.last_ts(site or None)  # tallies are kept for the TOP_HOURS up to it
    kept = newest // HOUR - TOP_HOURS + 1 if newest is not None else first
    tops = tuple(_hour_top(h, 1, per_hour[h], of, kept) for h in sorted(per_hour))
    return tops, _hour_top(d0, last - d0 + 1, day[d0], of, kept) if d0 in day else None


def _hour_top(h: int, n: int, d: dict, of: str, kept: int) -> HourTop:
    """`kept`: the first hour whose clients are still tallied (a range's older hours said
    "read before this start", a trial, where they had aged out)."""
    c = d["clients"]
    return HourTop(
        start=h * HOUR, hours=n,
        classes=tuple((CLASS_NAMES[k], v) for k, v in sorted(d["classes"].items(),
                                                             key=lambda kv: (kv[0] == 0, kv[0]))),
        paths=tuple(d["paths"]),
        clients=tuple(c.top(TOP_N)) if c is not None else (), clients_kept=c is not None,
        clients_by_cell=d["clients_by_cell"], clients_of=of,
        clients_floor=c.unlisted_most(TOP_N) if c is not None else 0,
        clients_aged=c is None and h < kept,
        paths_kept=d["paths_kept"], classes_kept=d["classes_kept"])


def is_stale(replay: bool, now: float, last_ts: float | None) -> bool:
    """A followed log whose last line is more than STALE_S old: its forecast is not the next hour."""
    return not replay and last_ts is not None and now - last_ts > STALE_S
