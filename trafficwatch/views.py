"""Turn the engine's series and prediction into the Snapshot the UI draws."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trafficwatch.predict import Prediction
from trafficwatch.series import epoch_seconds
from trafficwatch.snapshot import Anomaly, ForecastView, GateView, IngestView, SeriesView, Snapshot

if TYPE_CHECKING:
    from trafficwatch.engine import Engine

SHOW_HOURS = 28 * 24  # the snapshot carries four weeks; the chart shows what fits


def _epoch(index: pd.DatetimeIndex) -> np.ndarray:
    return epoch_seconds(index)


def series_view(engine: Engine, s: pd.Series) -> SeriesView | None:
    """The last SHOW_HOURS of the view, with the same hours a week earlier aligned."""
    if not len(s):
        return None
    shown = s.iloc[-SHOW_HOURS:]
    week = s.reindex(shown.index - pd.Timedelta(hours=168)).to_numpy(dtype=float)
    partial = engine.series.partial_hour(engine.site or None, now=engine.series_now())
    return SeriesView(
        site=engine.site, metric=engine.metric, hours=_epoch(shown.index),
        counts=shown.to_numpy(dtype=float),
        partial_hour=int(partial.timestamp()) if partial is not None else None,
        tz_offset_s=engine.series.utc_offset(engine.site or None), last_week=week)


def forecast_view(p: Prediction, detail: str, band: float) -> ForecastView:
    """Copy a Prediction into the frozen view type."""
    return ForecastView(
        hours=p.hours, p10=p.p10, p50=p.p50, p90=p.p90, past_hours=p.past_hours,
        past_p10=p.past_p10, past_p50=p.past_p50, past_p90=p.past_p90,
        model_name=p.model_name, model_detail=detail, mase=p.mase, mase_naive=p.mase_naive,
        rel_to_naive=p.rel_to_naive, coverage=p.coverage, band=band, naive_name=p.naive_name,
        choice=p.choice)


def gate_view(g) -> GateView | None:
    """GateStats (model/forecaster.py) -> GateView; None when the LSTM did not run."""
    if g is None:
        return None
    m = g.matrices
    return GateView(
        step_hours=_epoch(g.index), forget=m["forget"], input=m["input"], output=m["output"],
        candidate=m["candidate"], cell=m["cell"], mean_forget=g.forget_mean,
        mean_input=g.input_mean, mean_output=g.output_mean, saturated=dict(g.saturated),
        cell_norm=g.cell_norm, forget_drops=tuple(g.forget_drops), reliance=dict(g.reliance))


def anomalies(p: Prediction) -> tuple[Anomaly, ...]:
    """Newest first."""
    out = [Anomaly(hour=e.peak_hour, start=e.start, actual=e.actual, p10=e.low, p90=e.high,
                   direction=e.direction, active=e.active) for e in p.anomalies]
    return tuple(sorted(out, key=lambda a: a.hour, reverse=True))


def ingest_view(source) -> IngestView:
    """Counts and file states from the feed's report (empty while it starts)."""
    if source is None:
        return IngestView()
    rep = source.report
    mal = rep.malformed
    files = tuple((f.name, f.error or f"{f.format}, {f.lines:,} lines") for f in rep.files)
    return IngestView(
        lines_read=rep.lines, parsed=rep.parsed,
        excluded=rep.excluded, malformed=dict(mal.counts),
        malformed_examples={k: v.decode("utf-8", "backslashreplace") for k, v in mal.examples.items()},
        files=files, skipped=tuple(rep.skipped), lines_per_s=getattr(source, "rate", 0.0),
        last_update_ts=getattr(source, "last_update", 0.0), notices=_notices(source))


def _notices(source) -> tuple[str, ...]:
    """What the operator should read: the state file's fate, failing files, recent warnings."""
    out = [n for n in (getattr(source, "notice", ""),) if n]
    out += [f.error for f in source.report.failed]
    out += list(getattr(source, "warnings", ()))[-3:]
    return tuple(dict.fromkeys(out))


STALE_S = 3600  # a live log silent this long is said to be silent, not "following"


def feed_words(replay: bool, speed: float, now: float, last_ts: float | None, offset: int,
               done: bool = False) -> str:
    """How lines arrive, in words: a replay and its speed, or a live log and whether it is quiet."""
    def when(ts: float) -> str:
        same_day = (int(ts) + offset) // 86400 == (int(now) + offset) // 86400
        return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", time.gmtime(int(ts) + offset))

    if replay:
        if done:
            return f"replay finished at the logs' end ({when(now)})"
        return f"replay at {speed:g}x (log time {when(now)})"
    if last_ts is None:
        return "following: no line yet"
    if now - last_ts > STALE_S:
        return f"following: no new lines since {when(last_ts)}"
    return f"following: last line at {when(last_ts)}"


def build_snapshot(engine: Engine, s: pd.Series, p: Prediction | None, ing: IngestView,
                   status: str) -> Snapshot:
    """One complete frame."""
    detail = engine.tuning_note.get(engine.site, "")
    return Snapshot(
        sites=tuple(engine.series.sites()), site=engine.site, metric=engine.metric,
        series=series_view(engine, s),
        forecast=forecast_view(p, detail, engine.cfg.band) if p is not None else None,
        gates=gate_view(p.gates) if p is not None else None,
        anomalies=anomalies(p) if p is not None else (),
        ingest=ing, tail=tuple(getattr(engine.source, "tail", ())), status=status,
        filter=engine.filter.describe(), now=engine.now(), feed=_feed(engine))


def _feed(engine: Engine) -> str:
    """feed_words for the engine's current source and site."""
    site = engine.site or None
    src = engine.source
    if hasattr(src, "words"):  # the fleet's source says where its data comes from
        return src.words()
    return feed_words(engine.cfg.replay, engine.cfg.speed, engine.now(),
                      engine.series.last_ts(site), engine.series.utc_offset(site),
                      done=bool(getattr(src, "done", False)) if engine.cfg.replay else False)
