"""Immutable snapshots the engine fills and the UI only reads (no Textual here)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from trafficwatch.engine.anomalies import ANOMALY_BAND
from trafficwatch.hours import HOUR

if TYPE_CHECKING:
    from trafficwatch.logs.formats import LogFormat


@dataclass(frozen=True)
class SeriesView:
    """Actual hourly values of the selected site, metric and filter."""

    site: str  # "" = all sites summed
    metric: str
    hours: np.ndarray  # int64 epoch seconds, UTC hour starts
    counts: np.ndarray  # float64; NaN = gap (no log covers that hour)
    partial_hour: int | None  # the current, unfinished hour (its count so far is in `counts`)
    tz_offset_s: int  # display offset, seconds east of UTC
    last_week: np.ndarray | None = None  # the same hours a week earlier, aligned to `hours`
    offsets: np.ndarray | None = None  # the log's UTC offset (seconds east) at each of `hours`,
    # where it changed (daylight saving): hours.week_before reads the same local hours with it
    paths_since: int | None = None  # a path filter's counts are kept from this hour on
    # (series.PATH_DAYS): its NaN before it are hours let go of, not hours no log covers
    log_end: int | None = None  # set when partial_hour is unfinished because the logs, no longer
    # written, ended inside it (their last line's time), not because it is in progress
    # the offset each hour is shown in, where not tz_offset_s for all: --tz's zone at each of
    # label_hours (epoch seconds, the shown ones and a week ahead), else the log's own where it
    # changed (daylight saving): an hour before a change was labelled an hour off (a trial)
    label_hours: np.ndarray | None = None
    label_offsets: np.ndarray | None = None

    def offset_at(self, ts: int) -> int:
        """Seconds east of UTC that the hour holding `ts` is shown in."""
        if self.label_hours is None or self.label_offsets is None or not len(self.label_hours):
            return self.tz_offset_s
        i = int(np.searchsorted(self.label_hours, ts, side="right")) - 1
        return int(self.label_offsets[min(max(i, 0), len(self.label_offsets) - 1)])


@dataclass(frozen=True)
class ForecastView:
    """Forecast for the coming hours, the day-ahead forecasts made for past hours, and its error."""

    hours: np.ndarray
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    past_hours: np.ndarray
    past_p10: np.ndarray
    past_p50: np.ndarray
    past_p90: np.ndarray
    model_name: str  # "default", "fine-tuned", "seasonal naive"
    model_detail: str  # trained when, on what, on which device
    mase: float  # over the last 7 days, day-ahead
    mase_naive: float  # the better seasonal naive (24 h or 168 h) over the same hours
    rel_to_naive: float  # mase / mase_naive: below 1 beats the baseline
    coverage: float  # share of past hours inside the band
    band: float = 0.8  # central probability of the band drawn
    anomaly_band: float = ANOMALY_BAND  # central probability of the band anomalies are judged on
    naive_name: str = "naive 24 h"  # which seasonal naive mase_naive belongs to
    choice: str = ""  # which forecast is shown and why (the model's own check on recent days)
    choice_short: str = ""  # the same in a few words, for a narrow pane
    model_detail_short: str = ""  # model_detail in a few words, for a narrow pane
    hours_scored: int = 0  # hours with a count that mase and coverage are over
    no_scale: bool = False  # mase undefined for want of a day of counts before the days scored
    holiday_hours: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # of
    # `hours`, those the model flags as a holiday (features.holiday: UTC dates)
    past_alarm_lo: np.ndarray = field(default_factory=lambda: np.zeros(0))  # of past_hours: the
    past_alarm_hi: np.ndarray = field(default_factory=lambda: np.zeros(0))  # anomaly band
    band_note: str = ""  # why the band drawn is wider than the anomalies' band, when it is
    lstm_share: float = 1.0  # the LSTM's share of the median drawn: the gates explain that much
    nominal: bool = False  # the band is a nominal +-50 % (Prediction.nominal)


@dataclass(frozen=True)
class GateView:
    """The LSTM's gates over its latest input window (T steps, U units)."""

    step_hours: np.ndarray  # (T,) int64
    forget: np.ndarray  # (T, U)
    input: np.ndarray
    output: np.ndarray
    candidate: np.ndarray
    cell: np.ndarray
    mean_forget: np.ndarray  # (T,)
    mean_input: np.ndarray
    mean_output: np.ndarray
    saturated: dict[str, np.ndarray]  # gate -> (T,) share of units < 0.1 or > 0.9
    cell_norm: np.ndarray  # (T,)
    forget_drops: tuple[int, ...]  # steps where the forget gate fell sharply
    reliance: dict[str, float] = field(default_factory=dict)  # seasonal base -> weight, next 24 h
    padded: int = 0  # first steps before the series' first observed hour: the window's padding,
    # where the model read nothing (heatmaps leave them blank)
    # how the LSTM made its own median of each hour ahead (forecaster.Ahead): the hours (epoch
    # seconds), each base's name, weight and value, the weighted bases alone and the median
    ahead_hours: np.ndarray | None = None  # (H,)
    ahead_names: tuple[str, ...] = ()  # (K,)
    ahead_weights: np.ndarray | None = None  # (H, K)
    ahead_bases: np.ndarray | None = None  # (H, K) NaN: no such base for that hour
    ahead_mixed: np.ndarray | None = None  # (H,)
    ahead_median: np.ndarray | None = None  # (H,)


@dataclass(frozen=True)
class Anomaly:
    """A run of completed hours outside the anomaly band (ForecastView.anomaly_band)."""

    hour: int  # peak hour, epoch seconds
    start: int
    actual: float
    p10: float  # the anomaly band at the peak hour: its low and high end (p1 and p99 at the
    p90: float  # default 98 %), not the p10-p90 drawn
    direction: int  # +1 above, -1 below
    active: bool
    end: int | None = None  # first hour of the recovery that cleared it; None while active
    last: int | None = None  # while not cleared: the last hour judged, which it runs to
    clipped: bool = False  # it runs from the first hour judged: it may have begun before


@dataclass(frozen=True)
class IngestView:
    """What reading the logs gave: volumes, malformed lines by reason, files."""

    lines_read: int = 0
    parsed: int = 0
    reading: bool = False  # the first read is going on (its figures come once it is done)
    excluded: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    malformed_examples: dict[str, str] = field(default_factory=dict)  # raw, untrusted
    malformed_files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the files
    # (names untrusted) holding lines of each reason, most first
    files: tuple[tuple[str, str], ...] = ()  # (name, status), names untrusted
    files_read: int = 0  # `files` and those let go of since (rotated away and deleted)
    followed: int | None = None  # files followed now (None: not known, e.g. a replay); `files`
    # also holds those read since the start and rotated away since
    skipped: tuple[tuple[str, str], ...] = ()  # (name, reason)
    lines_per_s: float = 0.0
    last_update_ts: float = 0.0
    notices: tuple[str, ...] = ()  # state file resumed or moved aside, files failing, truncations
    read_ahead: bool = False  # a replay: every line was read before it began, not up to its clock
    fleet: bool = False  # the agents' counters through Prometheus: no log line is read here


READING = "not following yet"  # (the status beside it: "reading logs… 11% of 1.02 GB")


@dataclass(frozen=True)
class TailLine:
    """One recent log line (raw and untrusted: shown only through safe_text)."""

    ts: float
    site: str
    text: str
    # the format of the file it came from (None: not known here, found again from the lines
    # when a filter asks); not part of what the line is
    fmt: LogFormat | None = field(default=None, compare=False, repr=False)
    fields: tuple[bytes, ...] = field(default=(), compare=False, repr=False)  # a W3C log's
    # `#Fields:` header in force when it was read (its lines parse by it alone)
    shown: str = field(default="", compare=False)  # what the pane shows for `text` where not
    # itself: a JSON request as a combined line (raw and untrusted too)


@dataclass(frozen=True)
class HourTop:
    """What one hour (or the last 24 h) was made of: status classes, busiest paths and clients."""

    start: int  # epoch seconds, UTC, of the first hour
    hours: int  # 1, or 24 for the last day
    classes: tuple[tuple[str, int], ...]  # ("2xx", requests), ..., ("other", n): the metric's
    paths: tuple[tuple[str, int], ...]  # (path, requests), busiest first; raw, untrusted
    clients: tuple[tuple[str, int, int], ...]  # (address, requests, err): raw, untrusted;
    # the true count is within [requests - err, requests] (err 0: exact); the requests of the
    # metric and the status and bot filters, of every path (clients are not tallied by path)
    clients_kept: bool = True  # False: no tally for these hours (read before this start)
    clients_by_cell: bool = True  # False: tallied over every request alone (a state saved
    # before 2026-12-06), so not for this filter: none shown
    clients_of: str = ""  # what they are of, after "Top clients": "filter", "any path", ""
    clients_floor: int = 0  # a client not listed may have sent up to this many (the hours'
    # tallies keep their 20 busiest: one of 2 an hour beside 25 one-offs of 3 is in none)
    clients_aged: bool = False  # no tally: the hours are older than the TOP_HOURS kept
    paths_kept: bool = True  # False: older than the per-path counts kept (series.PATH_DAYS)
    classes_kept: bool = True  # False: so are `classes` (a path filter's requests: unknown)


@dataclass(frozen=True)
class Snapshot:
    """Everything one frame of the app shows."""

    sites: tuple[str, ...]
    site: str
    metric: str
    series: SeriesView | None
    forecast: ForecastView | None
    gates: GateView | None
    anomalies: tuple[Anomaly, ...]
    ingest: IngestView
    tail: tuple[TailLine, ...] = ()
    tail_of: int = 0  # a filter on lines: `tail` is those it keeps of the view's last tail_of
    status: str = ""  # "loading model…", "seasonal naive shown, not the LSTM: …", "no parsable …"
    filter: str = ""  # a description of the active filter, "" when none
    now: float = 0.0  # the engine's clock (log time in replay), epoch seconds
    feed: str = ""  # how lines arrive, honestly: "replay at 3600x", "no new lines since ...",
    # READING while the logs there were at the start are being read
    tops: tuple[HourTop, ...] = ()  # the last hours of `series` (up to four days), ascending
    day: HourTop | None = None  # the last 24 hours together
    stale: bool = False  # a followed log with no new line for STALE_S (see after_log_end)
    range_end: bool = False  # the filter's range ends before the hour in progress: the
    # forecast is of the hours after it, passed (it read "Next hour 00:00" of a day before)
    fatal: str = ""  # nothing could be read (no log, none parsable): the whole reason, in one
    # line; the app ends and says it, exit status 2, as every command does
    crashed: str = ""  # the traceback of an exception that ended the engine's data or model
    # thread: the app ends, shows it and exits 70 (such a thread had ended without a word, the
    # screen frozen on its last frame: a security trial's Prometheus answer)
    created_at: float = field(default_factory=time.time)

    @property
    def after_log_end(self) -> bool:
        """The forecast starts after the logs' last hour, not at the present: logs nobody writes
        any more (their quiet hours are not zeros) or a finished replay. A stale log written in
        the last day runs on to now with zeros: its forecast is the next hour's (it read "After
        the log's last hour, 20:00" of a log whose last line was at 15:59)."""
        fv = self.forecast
        return self.stale and (self.ingest.read_ahead or fv is None or not len(fv.hours)
                               or int(fv.hours[0]) + HOUR <= self.now)
