"""The facade the app and CLI use: load a model, forecast a series, look at its gates, fine-tune.

Forecasts run in numpy (numpy_lstm.py) when the model came from a `.npz`; torch is imported only
for a torch model (a `.pt` without its `.npz`, one just trained) and for fine-tuning or saving.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trafficwatch.hours import HOUR_NUMBERS
from trafficwatch.model.baselines import last_values, profile_trend
from trafficwatch.model.checkpoint import Checkpoint, load_model, save_checkpoint
from trafficwatch.model.features import (
    BACK_HOURS,
    BASE_NAMES,
    NEW_NORMAL_HOURS,
    LevelShift,
    added_level,
    check_series,
    ended_shift,
    epoch_hours,
    holiday,
    level_shift,
    make_windows,
    mask_bursts,
    mask_outages,
    mask_stuck,
    nanmedian,
    on_site_clock,
    relevel,
    restore_ended,
    trailing_surge,
    typical_seen,
    usual_counts_before,
)
from trafficwatch.model.numpy_lstm import Internals, NumpyLSTM

if TYPE_CHECKING:
    from trafficwatch.model.lstm import LSTMInternals, QuantileLSTM
    from trafficwatch.model.train import Progress, TrainConfig

FOLLOW_HOURS = 30  # a change of level younger than this is forecast between its level and the
# usual one (Forecaster._hedged), the follower's share half at a day old, all at FOLLOW_HOURS: a
# day alone at 0.3x (a holiday the model does not know, an outage of a day, a blizzard) was
# followed at midnight as the new level, the next day forecast at 0.3x with no hour inside its
# band and flagged whole as an anomaly (a forecasting trial: MASE 3.1 where last week's was 0.69)
HEDGE_HOURS = 72  # ... and its band drawn spans the usual level too until it is this old. On
# the corpus (703 origins of the held-out series after changes 24-100 hours old), changes 30-72
# hours old: the band followed held 44-63 % of the next 48 hours by family (80 % meant), both
# bands together 84-90 %, at a lower MSIS in every family (melbourne 10.25 -> 6.36, auckland
# 5.03 -> 3.85 at 30-48 h). Their medians are followed whole: hedged to 72 hours they were
# better on some families (weather, events: dc_bikeshare, mn_i94) and worse on others
# (Auckland's lockdowns, changes that held), the same on all origins at 24 h (0.688 -> 0.689),
# and a real change's days after it forecast between (a site doubled 2 days ago at 1.4x)
SURGE_OVER = (3, 12)  # hours ahead: a short surge at the series' end (trailing_surge) is read
# as going on up to the first, as over from the second, the forecast moving from one to the
# other between them (Forecaster._surge_over)
MIN_OBSERVED = 24  # hours of observed history below which the caller should use seasonal naive
SATURATED = (0.1, 0.9)  # a gate unit below 0.1 or above 0.9 is "saturated" (closed or open)
RECENT_DAYS = 14  # past daily origins that judge the model on this site and calibrate its band:
# two of each weekday (7 before: bench/forecast.py, whole held-out series, mean MASE 0.547 ->
# 0.544 at 24 h and 0.604 -> 0.598 at 48 h; at 28 days of history 0.603 -> 0.598 and 0.674 ->
# 0.664, series >5 % worse than the better naive 11 -> 8 at 48 h; forecast with gates 10 -> 14 ms)
MIN_RECENT_HOURS = 24  # hours with a count and every candidate's forecast, at the least, before
# the recent check judges the LSTM against seasonal naive (fewer: the LSTM is shown, unjudged)
OUTAGE_P10 = 20.0  # counts: a zero hour under a p10 this high is not traffic (see _recent)
BLEND_STEPS = tuple(k / 10 for k in range(11))  # the LSTM's share in a blend with the better
# naive: 0, 10 %, ..., all of it (finer than quarters: fewer series worse than the naive, bench)
CAL_TAIL = 24 * 7 * 12  # hours of a series of hour numbers its hour of the day and weekday are
# tried on: the 14 days judged, each with the 6 weeks the forecast reads before it, and more
CAL_PHASES = tuple(range(0, 24, 3))  # hours of the day a series of hour numbers is tried at
# (Forecaster._on_calendar): every third, as good as every one on the benchmark, a third of the
# passes
BLEND_TIE = 0.005  # blends whose typical day's errors are this close (relative) are a tie
HOLD = 0.03  # the app's forecast of a view keeps the blend it showed while that blend's error
# on the recent days is within this share of the best one's (Forecaster.forecast_with_gates'
# `keep`): the days judged move on an hour at each forecast, and a replay's choice had changed
# 108 times in 241 hours (50 % -> 60 % -> 50 % LSTM over errors 1 % apart: a trial)
YOUNG_DAYS, YOUNG_MIN_SHARE = 6, 0.5  # judged on fewer days than this (a site two weeks old),
# the LSTM keeps at least half of the forecast shown. bench/forecast.py --days 14: mean MASE 0.749
# -> 0.734 (24 h) and 0.845 -> 0.817 (48 h), series >5 % worse than the better naive 8 -> 5 and
# 16 -> 7; 21 and 28 days and whole series unchanged. (A forecast chosen as a naive alone had
# shown the LSTM until 2026-12-02, by a bug; fixed, that cost young sites as much.)
YOUNG_LUCK = 2.0  # ... unless that half-LSTM blend erred more than the best blend by this
# many times the series' own change from a day to the next (its mean |count - the count 24
# hours before|, MASE's scale): no luck over a few days makes a naive that much better. A series
# of 1,000,000 +- 5 an hour, 3 days old, got a forecast at 500 times the error of "yesterday"
# (the LSTM's median is a thousandth of the level off there: a benchmark trial). As a ratio of
# the two errors instead, a site "yesterday" repeated to the request lost its half of the LSTM
TYPICAL_MIN = 3  # values a typical hour is the median of, at the least, to judge a burst by
BURST = 5.0  # best-base errors (z units) beyond the day's own shift at which a naive's hour is
# a burst, not repeated (bursts): a user's site of 130 an hour was forecast 877 the hour after a
# burst of 3,000 the day before. bench/forecast.py, mean MASE whole series 0.544 -> 0.542 (24 h)
# and 0.598 -> 0.596 (48 h), 28 days 0.598 -> 0.596, 21 days 0.626 -> 0.628, 14 days alike;
# misses alike (+1 at 14, 21 and 28 days): the corpus has few bursts, real web traffic many
DAY_FAR = float(np.log(1.8))  # log1p units: an hour of "last week" unlike its 4 weeks and
# unlike the 7 days since by this much (or BURST best-base errors, the lower) is no new level
# but that day's own (bursts): not repeated. A forecasting trial's site 2 times its level for
# one day 5 days before the end had it forecast again, 90 % "same hour last week" (MASE 4.53,
# yesterday 0.60; 0.5x: 1.92, 3x: 1.54); now 0.70, 0.88, 0.31. At 5 times (BURST_LOG) alone
# before. bench/forecast.py (fold models) 24 h / 48 h: whole series, --days 14 alike;
# --bursts 2 0.691 / 0.735 -> 0.689 / 0.733; --dip 2 --dip-hours 24 1.034 / 1.084 -> 1.031 /
# 1.081, series > 1.05x the better naive 20 / 22 -> 17 / 20; --dip 0.3 --dip-hours 24 0.868 /
# 0.929 -> 0.865 / 0.926; --step 2 0.836 / 0.925 -> 0.837 / 0.926
BURST_LOG = float(np.log(5.0))  # log1p units: an hour five times (or a fifth of) its typical
# one beyond the day's own shift is that far whatever the site's errors (the bar is the lower of
# the two). On a counter quiet at night the best base erred 0.8 log units an hour, so 5 of them
# were 55 times: last week's Australia Day, 20 times its weeks, was shown again as "same hour
# last week" (melb_ped_s11, MASE 20.7 where the LSTM alone had 0.28). bench/forecast.py, held
# out: 7 origins 0.535 -> 0.536 / 0.591, misses 4 -> 3 (24 h), worst 1.14x -> 1.08x (48 h);
# 14 origins 0.554 -> 0.532 and 0.602 -> 0.578 (48 h), worst 4.17x -> 1.17x; 28 origins 0.608
# -> 0.597 and 0.645 -> 0.633, misses 1 -> 0; bursts, steps, trends, 14 days, made-up dates alike
CHANGE_DAYS = 2  # on each of the last this many days judged, the LSTM erred more than
CHANGE_BREAK = 2.0  # this many times its typical day before them, and a seasonal naive less than
CHANGE_RATIO = 0.5  # this share of the LSTM's error on the last of them: traffic changed (a
# new level) and a candidate followed it while the LSTM's 4-week memories still held the old
# weeks. The blend is then chosen on those days alone, with the candidate nearest on the last
# day. After a level step 3-6 days before the end (bench/forecast.py --step 3 / 0.333
# --step-days 3 6) mean MASE 2.172 -> 2.155 and 0.873 -> 0.866 at 24 h with the rule (both
# days followed, nearest over both), 2.144 -> 2.094 and 0.842 -> 0.802 by the last day once
# "the last hour" was a candidate; whole series and 28 origins unchanged. Without the break
# test, a counter whose Fridays differ got "yesterday" on a Friday after two days it won
# (melb_ped_s18, 28 origins: 0.364 -> 0.444)
CHANGE_MIN = 1.0  # and by at least this many requests an hour on the last day: below, a
# "new level" is counting noise (a site of a request a day, forecast from where last week's
# stray hits fell, was said to be "after traffic broke from its weeks": a hosting trial)
CANDIDATES = ("naive24", "naive168", "naive1", "profile")  # beside the LSTM (Recent.mae's keys)
EXTRA = ("naive1", "profile")  # candidates beside the seasonal naives: the last hour repeated
# (a level that wanders with no daily rhythm) and the last 2 weeks' daily and weekly shape and trend
# (baselines.profile_trend: steady growth under noise, which "yesterday" repeats with a day's
# noise and the weeks' medians lag). Judged only where they forecast every hour the naives did,
# and from YOUNG_DAYS days judged. Generated random walks, trends, seasonal random walks, loads
# and AR noise (30 series of 700-960 hours, `eval --horizon 48`): mean MASE 0.946 -> 0.830
# (a second draw 1.007 -> 0.875; AutoETS 1.156, AutoTheta 0.991 on the first).
# bench/forecast.py: whole held-out series 0.544 -> 0.544 (24 h), 0.601 -> 0.603 (48 h); last
# 21 days 0.629 -> 0.622; after a drop to a third 0.866 -> 0.842; see models/README.md
STUCK_HOURS = 24  # the last this many observed hours all at one count (not 0): it is shown,
# repeated, with a band that holds it alone (stuck_at). A benchmark user's series flat for their
# last 72 and 200 hours were forecast with their old days on the second flat day (MASE 4.75 and
# 5.41 at 48 h against "yesterday"'s 3.61 and 3.54; with this 3.46 and 4.19, the first flat
# day being no forecast's to know); the break rule needs 2 days
STUCK_NEW_HOURS = 12  # fewer hours do for a count that is new at those hours (not what the
# same hours held a day or a week before) and not 1, which a quiet site repeats by chance
# (Poisson: 12 hours of a mean of 2 all at 2, 2e-7). A benchmark user's series, flat at a new
# level for its last 20 hours, was forecast with its old days: MASE 5.0 where "yesterday"
# erred 1.2. A count the same hours held before is the site's own (a monitor's alone each
# night): its morning is no anomaly. No corpus series holds a count other than 0 for 8 hours
TRIM_DAYS = 4  # from this many days judged on, the best and the worst day are left out: one
# holiday, outage or surge in the last week must not decide which forecast is shown
MAX_WIDEN = 2.0  # log1p units the calibration may widen the band by, on each side, at most
BROKE_TOP = 1.5  # a band widened above for the last day (or hours: a surge) that broke from it
# reaches at most this many times the last day's highest hour (or its own p90, if higher). A
# benchmark user's surge, 12 hours at 2,430, had a p90 of 4,861 (the cap of twice the six weeks'
# top) for 38 of the next 48 hours. bench/forecast.py, fold models of 2026-12-06, off -> 1.5
# (1.0): MSIS 24 h / 48 h whole 2.76 / 3.21 -> 2.76 / 3.20, 28 origins 3.29 / 3.54 -> 3.27 /
# 3.52, tripled 3-6 days before the end 11.69 / 17.05 -> 11.56 / 16.94 (11.57 / 16.97, medians
# worse), coverage there 71.9 / 65.7 % -> 71.7 / 65.6 % (70.9 / 64.6 %); MASE, a third and
# bursts unchanged
NARROW_HOURS = 168  # hours judged, at least, for the band to narrow (it widens from 48): on
# fewer, the quantile is too unsure to cut below the model's own band. A site 9 days old, 2 days
# judged, got a band of +-30 at 1,400 an hour, narrower than counting noise alone (+-48);
# bench/forecast.py --days 10: coverage 76.4 / 75.0 % -> 77.4 / 76.0 %, MSIS 5.92 / 7.16 ->
# 5.78 / 7.02; --days 14: 78.4 / 77.8 % -> 80.7 / 80.3 %, MSIS 3.89 / 4.50 -> 3.91 / 4.47;
# whole series, --days 21, steps and bursts alike or better. From 48 hours judged to
# NARROW_HOURS it narrows only as far as the farthest hour judged allows, and to counting noise
# at the least (Recent.noise_floor): a series of 1,000,000 +- 5 an hour, 3 to 6 days old, had
# kept the model's band of +-4,000 (a benchmark trial); counting noise alone is +-1,280 there,
# and +-48 at 1,400 an hour. bench/forecast.py --days 10 and 14: coverage and MSIS alike
FEW = 10.0  # requests an hour: below this median, the band's low edge is never above
# counting noise's (Forecaster._forecast). bench/forecast.py (24 h / 48 h): --thin 2 coverage
# 80.2 / 80.9 -> 84.6 / 84.8 %, MSIS 3.21 / 3.34 -> 3.17 / 3.30; --thin 5 79.7 / 80.0 -> 82.5 /
# 82.5 %, MSIS 3.09 / 3.30 -> 3.08 / 3.28; whole series 79.5 / 79.6 -> 79.6 / 79.7 %, MSIS
# 2.75 / 3.22 -> 2.75 / 3.21, MASE the same. Both edges floored so (the high one too) went to
# 85 % at --thin 2, for no better MSIS
MIN_HALF = 1e-6  # log1p units: the least half-width an hour's band is scored against (Recent.stretch)
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SURGE_HOURS = 4  # the last this many hours judged, or more, all above (or all below) the band:
# the forecast says it reads them as a surge that passes, and the band drawn (not the
# anomalies') widens on their side by the median of how far they fell outside. A trial's site
# had doubled 6 hours before the end: the line fell back to the old level under a choice that
# spoke of the last 14 days alone ("the surge is over", it read), and 93 % of its next 48 hours
# were above p90. bench/forecast.py MSIS 24 h / 48 h: tripled 1-3 days before the end 10.28 /
# 16.05 -> 9.69 / 15.43, cut to a third 4.39 / 5.48 -> 4.14 / 5.21 (3-6 days: 12.62 -> 11.72,
# 3.95 -> 3.62); whole series 2.77 / 3.22 -> 2.78 / 3.23, bursts 3.99 / 4.09 -> 4.04 / 4.13
# (from 3 hours: whole 2.79 / 3.24, bursts 4.07 / 4.15)
ONE_SIDE = 0.75  # and this share of its hours outside on one side: a new level. A day outside on
# both sides (a holiday: no evening peak, a busier midday) had widened the band both ways, p90
# at twice a road counter's top and 18 times the next days' errors (a benchmark user's trial).
# bench/forecast.py MSIS and coverage alike (whole 2.75 / 3.21, 28 origins 3.36 -> 3.35 at 24 h,
# steps 3-6 days ago 16.98 -> 17.01 and 4.60 -> 4.62 at 48 h; coverage 0.1-0.2 points less).
# Such a day widens the side it fell on alone (the model card: a road's holidays)
BROKE_SHARE = 0.5  # the last day judged had fewer of its hours inside the band than this: the
# band drawn widens to that day's own errors (Recent.broke). After a level change the 14 days
# the band is calibrated on are unlike the next ones; see the model card for the figures


@dataclass(frozen=True)
class Forecast:
    """Quantile forecast for the hours after a series: p10 <= p50 <= p90 (counts per hour).

    `choice` says in plain words which forecast this is and why; `recent` holds the evidence:
    the mean absolute error of each candidate over the series' own last day-ahead forecasts.
    """

    index: pd.DatetimeIndex
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model: str
    choice: str = ""
    recent: dict[str, float] = field(default_factory=dict)
    choice_short: str = ""  # `choice` in a few words, for a narrow pane
    alarm_p10: np.ndarray | None = None  # the band anomalies are judged on: p10/p90 before the
    alarm_p90: np.ndarray | None = None  # widening for a last day that broke (None: p10/p90)
    band_note: str = ""  # why the band drawn is wider than the anomalies', when it is
    lstm_share: float = 1.0  # the LSTM's share of the median shown (Recent.weights)

    def kept(self) -> tuple[float, str | None]:
        """The blend shown, as forecast_with_gates' `keep` takes it: (the LSTM's share, the
        other candidate or None)."""
        other = next((k for k in self.model.split("+") if k in CANDIDATES), None)
        return self.lstm_share, other

    def alarm(self) -> tuple[np.ndarray, np.ndarray]:
        """(p10, p90) of the band anomalies are judged on (see Recent.broke)."""
        return (self.p10 if self.alarm_p10 is None else self.alarm_p10,
                self.p90 if self.alarm_p90 is None else self.alarm_p90)

    def to_frame(self) -> pd.DataFrame:
        """DataFrame indexed by hour with p10, p50, p90 columns."""
        return pd.DataFrame({"p10": self.p10, "p50": self.p50, "p90": self.p90}, index=self.index)


@dataclass(frozen=True)
class Recent:
    """How the candidates did on the series' own last days, and what to show because of it."""

    mae: dict[str, float]  # lstm, naive24, naive168 (once a week old), naive1 and profile (EXTRA,
    # once YOUNG_DAYS days are judged) -> mean |error| an hour on
    # a typical one of the last days (the best and the worst day left out, see trimmed_mean);
    # empty when there was too little history to judge
    weights: dict[str, float]  # what is shown: the blend of the LSTM with the best other
    # candidate (LSTM share 0, 10 %, ..., 100 %) that erred least on a typical one of those days
    widen: float  # log1p units added to both sides of the band (conformal, when it widens)
    hours: int  # hours scored
    checked: int = 0  # when too few to judge: the hours there were (of MIN_RECENT_HOURS needed)
    held: bool = False  # the naive did better, on too few days to leave the LSTM out (YOUNG_DAYS)
    held_mae: float = float("nan")  # then: the blend that did best, scored as `mae`
    week_old: bool = False  # unjudged: "last week" is there for the forecast, for none of the
    # days before it (a site 145-191 hours old), whose forecasts would judge another model
    stretch: float = 1.0  # each side of every hour's band is this many times as wide as the
    # model's (conformal, when it narrows; 0 collapses it onto the median): scored in the model's
    # half-widths, so an hour the model is sure of stays narrower than one it is not. Narrowed by
    # log1p units, as it is widened, a count of 1,000,000 +- 5 kept a band of +-4,000 in its
    # widest hours and none at all in the others.
    lead: tuple[float, ...] = ()  # for each day ahead after the first (a forecast of more than
    # a day): how many times as wide as the first day's each side of its band is, at least
    # (LEAD_MAX at most; () or 1: as the model's). Measured on this site's past forecasts that
    # far ahead (lead_widths): the model's own band widens with the days ahead as the corpus
    # taught it, and a level that wanders (a random walk) erred further out than it allowed
    noise_floor: bool = False  # narrowed on fewer than NARROW_HOURS hours judged: no side of
    # an hour's band narrower than counting noise (Poisson) there, nor wider than the model's
    broke: tuple[float, float] = (0.0, 0.0)  # log1p units more below and above for the band
    # drawn (not the anomalies'): the last day had fewer than BROKE_SHARE of its hours inside the
    # band, so it widens, on the side or sides that day fell, to hold 80 % of its hours (by the
    # least total widening: a day that fell below no longer lifted p90 to twice the series' top)
    broke_hours: tuple[int, int] = (0, 0)  # that day's hours inside the band, and of how many
    blend_mae: float = float("nan")  # the blend shown, scored as `mae` (when it is a blend)
    kept_best: float = float("nan")  # the blend shown was kept from the forecast before (HOLD):
    # the error of the best one, scored as `mae` (NaN: the one shown is the best)
    changed: bool = False  # traffic broke from the LSTM's weeks on the last CHANGE_DAYS days and
    # a naive followed it: the blend was chosen on those days alone (`mae` is theirs)
    stuck: tuple[float, int] | None = None  # (count, hours): the last hours all held this one
    # count (STUCK_HOURS or more, not 0): it is repeated, the band holds it alone
    level: LevelShift | None = None  # the change of level the series was read after (relevelled)
    surge: tuple[int, int] | None = None  # (hours, +1 above / -1 below): the last hours judged,
    # SURGE_HOURS or more, all outside the band on one side (trailing_run): said, since the
    # forecast takes them for a surge that passes until they hold for a day (level_shift)
    surge_short: bool = False  # the band drawn for a surge was widened as far as it may (MAX_WIDEN)
    # short of the surge's level: said so (it had read "spans their level too" under a p90 a
    # sixth of a surge 100 times the site's level for most of a week, a trial)
    ended: LevelShift | None = None  # a change of level that is over (features.ended_shift):
    # its `hours` and ratio, `at` the hours since it ended; read at the usual level (_inputs)
    silence: tuple[int, bool] | None = None  # (hours, filled): the series ends in this many
    # hours at 0 after traffic, SILENCE_NOTE or more; filled: read as an outage, the forecast
    # the traffic that would have been (mask_outages); else, NEW_NORMAL_HOURS or more, the
    # traffic now. Said: a trial's site silent for 60 hours was forecast at its old level, and
    # nothing said why

    def in_units(self, factor: float) -> Recent:
        """These figures with every count (errors, a stuck count, a level's count added)
        multiplied by `factor`; shares, hours and log1p units as they are (unit_factor)."""
        if factor == 1.0:
            return self
        level, ended = self.level, self.ended
        if level is not None and level.added:
            level = replace(level, added=level.added * factor)
        if ended is not None and ended.added:  # (a bot's count that stopped: in the series'
            # units, "9,962 an hour" of a series in thousands, a review)
            ended = replace(ended, added=ended.added * factor)
        return replace(self, mae={k: v * factor for k, v in self.mae.items()}, ended=ended,
                       held_mae=self.held_mae * factor, blend_mae=self.blend_mae * factor,
                       kept_best=self.kept_best * factor,
                       stuck=None if self.stuck is None else
                       (self.stuck[0] * factor, self.stuck[1]), level=level)

    def silence_note(self) -> str:
        """A sentence on the silence the series ends in, or ""."""
        if self.silence is None:
            return ""
        hours, filled = self.silence
        if filled:
            return (f"The last {hours} hours were at 0, read as an outage or a break in the "
                    "log: the forecast is the traffic that would have been")
        return f"The last {hours} hours were at 0, read as the traffic now"

    def level_note(self) -> str:
        """A sentence on the change of level the forecast follows, or ""."""
        if self.level is None:
            return ""
        if self.level.holiday:
            return (f"Traffic has been at {ratio_text(self.level.ratio)} its usual level for "
                    f"the last {self.level.age()}, in the holidays: the weeks before are kept "
                    "at their level, the model reading it as the holidays' own")
            # ("not read as a new level" was read as the old level forecast, under a median
            # that followed the days since: a trial)
        if self.level.hours < FOLLOW_HOURS:  # half followed at first (Forecaster._hedged)
            at = (f"{added_text(abs(self.level.added))[1:]} "
                  f"{'above' if self.level.added > 0 else 'below'}" if self.level.added else
                  f"at {ratio_text(self.level.ratio)}")
            what = ("a holiday or an outage" if self.level.ratio < 1 and self.level.added <= 0
                    else "an event (a campaign, a crawler)")  # (a rise was "an outage", a review)
            return (f"Traffic has been {at} its usual level for the last {self.level.age()}: a "
                    f"day alone may be {what}, so the forecast lies between that level and the "
                    f"usual one, its band spanning both, until it holds for {FOLLOW_HOURS} hours")
        # its band spans the usual level too for a while (Forecaster._hedged)
        band = (f", its band spanning the usual level too until it holds for "
                f"{HEDGE_HOURS // 24} days" if self.level.hours < HEDGE_HOURS else "")
        if self.level.added:  # "2.4x" of a bot's steady 300 an hour (a trial)
            more = self.level.added > 0  # "at its usual level -302 an hour" read oddly
            return (f"Traffic has held {added_text(abs(self.level.added))[1:]} "
                    f"{'above' if more else 'below'} its usual level for the last "
                    f"{self.level.age()}, every hour alike: the forecast reads the weeks "
                    f"before with that {'added' if more else 'taken off'}{band}")
        # "the weeks before read at that level" was hard to parse (a trial)
        return (f"Traffic has held at {ratio_text(self.level.ratio)} its usual level for the "
                f"last {self.level.age()}: the forecast reads the weeks before at that "
                f"level{band}")

    def band_note(self) -> str:
        """A sentence for the stats pane and `forecast`'s stderr when the band drawn is wider
        than the anomalies' (the app adds that anomalies keep the usual band)."""
        if max(self.broke) <= 0:
            return ""
        if self.broke_hours == (0, 0) and self.surge is not None:  # widened for the last
            # hours outside it, not for a day that broke
            where = "above" if self.surge[1] > 0 else "below"
            if self.surge_short:
                return (f"Band widened {where}: the last {self.surge[0]} hours were {where} it; "
                        "it reaches toward their level (its "
                        f"{'top raised' if where == 'above' else 'bottom lowered'} "
                        f"{np.exp(MAX_WIDEN):.1f}-fold at most)")
            return (f"Band widened {where}: the last {self.surge[0]} hours were {where} it, so "
                    "it spans their level too")
        k, n = self.broke_hours
        side = "" if min(self.broke) > 0 else " below" if self.broke[0] > 0 else " above"
        return (f"Band widened{side}: the last day had {k} of its {n} hours inside it, so it "
                "spans that day's errors")

    def describe(self, name: str) -> str:
        """One line for the stats pane and `forecast`'s stderr: which forecast is shown and
        why (the app adds that the LSTM's gates are still shown where it has no share), after
        the change of level it follows, if any."""
        why = self._describe(name)
        if self.changed and self.hours and self.stuck is None:
            # said after the figures: put before them, "erred far more than usual on the last
            # 2 days (135/h vs 2,766/h)" read as the LSTM's last days against its usual (a trial)
            why += (f"; judged on the last day alone: {name} had erred more than twice its usual "
                    "on each of the last 2 days")
        if self.silence is not None:
            return f"{self.silence_note()}; {why}"
        if self.level is not None:
            return f"{self.level_note()}; {why}"
        if self.ended is not None:  # said: a forecast at the usual level the day traffic came
            # back, beside 3 days at half on the chart
            if self.ended.added:  # a bot's count, not a ratio ("was at 5.2x", a review)
                more = self.ended.added > 0
                was = (f"Traffic was {added_text(abs(self.ended.added))[1:]} "
                       f"{'above' if more else 'below'} its usual level")
            else:
                was = f"Traffic was at {ratio_text(self.ended.ratio)} its usual level"
            return (f"{was} for {self.ended.age()} until {self.ended.at} hour"
                    f"{'s' * (self.ended.at != 1)} ago, back since: read at its usual level; "
                    f"{why}")
        if self.surge is not None:
            hours, side = self.surge
            what = "above the band, read as a surge" if side > 0 else \
                "below the band, read as a dip"
            return f"The last {hours} hours were {what} that passes until it has held for a day; {why}"
        return why

    def _describe(self, name: str) -> str:
        if not self.hours and self.week_old:  # "too little history (0 hours could be)" was
            # said of a week of counts (a benchmark trial)
            return (f"{name}: unjudged: this forecast reads same hour last week, which none of "
                    "the days before it had (judged again from 8 days of counts on)")
        if not self.hours:
            # "0 recent hours have a count and both forecasts" was read against a chart of 28
            # hours of counts (a trial): an hour is checked only with history before its day
            return (f"{name}: unjudged: too little history before the recent days' counts to "
                    f"check it against seasonal naive ({self.checked} "
                    f"hour{'s' * (self.checked != 1)} could be, "
                    f"{MIN_RECENT_HOURS} needed)")
        if self.stuck is not None:
            value, hours = self.stuck
            shown = f"{value:,.0f}" if value == round(value) else per_hour(value)[0]  # a
            # count: "42", not "42.0" (a trial), beside "180"
            return (f"the last hour repeated: the count has been {shown} in each of "
                    f"the last {hours} hours")
        m = self.mae
        best_naive = next((k for k in self.weights if k != "lstm"), None) or best_of(m)
        label = {"naive24": "same hour yesterday", "naive168": "same hour last week",
                 "naive1": "the last hour repeated",
                 "profile": "the last 2 weeks' daily and weekly shape and trend"}
        n = -(-self.hours // 24)  # days judged: 335 hours (a log ending inside its last hour)
        # are 14 days, not "the last 13 days" of a site judged on 14
        days = (f"on a typical one of the last {n} days" if n >= TRIM_DAYS else
                f"over the last {n} days" if n > 1 else "over the last day")
        if self.changed:
            # not "traffic broke from its weeks": after an event of a day the traffic was
            # back to its weeks and it was the LSTM that had followed the event (a trial)
            days = "over the last day"
        lstm, naive, blend = per_hour(m["lstm"], m[best_naive], self.blend_mae)
        if np.isfinite(self.kept_best):  # the blend shown before, within HOLD of the best
            share = self.weights.get("lstm", 0.0)
            shown = (name if share >= 0.999 else label[best_naive] if share <= 0 else
                     f"{100 * share:.0f}% {name}, {100 * (1 - share):.0f}% {label[best_naive]}")
            mine, best = per_hour(self.blend_mae, self.kept_best)
            return (f"{shown}: kept from the forecast before, within {100 * HOLD:.0f}% of the "
                    f"best blend {days} ({mine}/h against {best}/h; {name} alone {lstm}/h, "
                    f"{label[best_naive]} {naive}/h)")
        if self.weights.get("lstm", 0.0) >= 0.999:
            if self.changed and lstm != naive and m["lstm"] > m[best_naive]:
                # the candidates that did not follow the break (not under half the LSTM's error
                # on the last day) are not blended in: none is "as good as" the LSTM then
                return (f"{name}: error {lstm}/h {days}; {label[best_naive]} {naive}/h, not under "
                        f"half of it, so not taken for the new traffic")
            than = "better than" if lstm != naive and m["lstm"] < m[best_naive] else "as good as"
            return f"{name}: error {lstm}/h {days}, {than} {label[best_naive]} ({naive}/h)"
        share = self.weights.get("lstm", 0.0)
        if self.held:
            # (a trial found the words before hard to follow: "a blend with more of ... did
            # better ... (this one ...), but it takes 6 days of that to give ... more than half")
            better, blend, naive, lstm = per_hour(self.held_mae, self.blend_mae, m[best_naive],
                                                  m["lstm"])
            # "more of yesterday would have done better (23.7/h alone; this blend 22.9/h)" read
            # as a contradiction: the better blend's own figure was not said (a benchmark trial)
            alone = better == naive  # the naive alone was the best blend: said once (a review)
            what = (f"{label[best_naive]} alone did better {days} ({naive}/h; this blend "
                    f"{blend}/h" if alone else
                    f"a blend with more of {label[best_naive]} did better {days} ({better}/h; "
                    f"this blend {blend}/h, {label[best_naive]} alone {naive}/h")
            return (f"{100 * share:.0f}% {name}, {100 * (1 - share):.0f}% {label[best_naive]}: "
                    f"{what}, {name} alone {lstm}/h), but a site judged on fewer than "
                    f"{YOUNG_DAYS} days keeps at least half of the LSTM")
        if share > 0:  # (within BLEND_TIE of the least, the most of the LSTM is taken: "did
            # best" beside a part alone that erred a hair less read as false, a recheck)
            did = ("did best" if self.blend_mae <= min(m["lstm"], m[best_naive]) else
                   f"did as well as the best, within {100 * BLEND_TIE:.1f} %,")
            return (f"{100 * share:.0f}% {name}, {100 * (1 - share):.0f}% {label[best_naive]}: "
                    f"the blend {did} {days} ({blend}/h; {name} alone {lstm}/h, "
                    f"{label[best_naive]} {naive}/h)")
        if lstm == naive:  # a tie to the last digit shown: the simpler forecast is kept
            return f"{label[best_naive]}: as good as {name} {days} ({naive}/h each)"
        return f"{label[best_naive]}: it beat {name} {days} ({naive}/h vs {lstm}/h)"

    def short(self, name: str = "lstm") -> str:
        """The same choice in a few words, for a narrow pane: "50% LSTM + 50% last week"
        ("fine-tuned LSTM" for the app's fine-tune, "LSTM (mysite)" for another model: at 80x24
        a kept fine-tune read as the shipped model)."""
        why = self._short(name)
        if self.silence is not None:  # said first, as describe() does: at 80 columns a
            # forecast of 117 beside 10 hours at 0 read as wrong, the reason left out (a trial)
            hours, filled = self.silence
            return f"{why}; last {hours} h at 0: {'outage, usual forecast' if filled else 'as now'}"
        if self.ended is not None and self.level is None:
            what = (added_text(self.ended.added, short=True) if self.ended.added else
                    ratio_text(self.ended.ratio))
            return f"{why}; {what} for {self.ended.age(True)}, over"
        if self.level is not None and self.level.holiday:
            return f"{why}; holiday dip, not a new level" if self.level.ratio < 1 else \
                f"{why}; holiday rise, not a new level"
        if self.level is not None and self.level.hours < FOLLOW_HOURS:  # half followed
            what = (added_text(self.level.added, short=True) if self.level.added else
                    ratio_text(self.level.ratio))
            return f"{why}; {what} for {self.level.age(True)}, band spans usual"
        if self.level is not None and self.level.added:
            return f"{why}, usual {added_text(self.level.added, True)} (for {self.level.age(True)})"
        if self.level is not None:
            return (f"{why}, at {ratio_text(self.level.ratio)} the usual level "
                    f"(for {self.level.age(True)})")
        if self.surge is not None:
            return f"{why}; last {self.surge[0]} h {'above' if self.surge[1] > 0 else 'below'} band"
        return why

    def _short(self, name: str) -> str:
        lstm = ("LSTM" if name in ("lstm", "lstm:default") else
                "fine-tuned LSTM" if name == "fine-tuned" else
                f"LSTM ({name.removeprefix('lstm:')})")
        if not self.hours:
            return f"{lstm} (unjudged: too few recent hours)"
        # (in a blend, alone)
        label = {"naive24": ("yesterday", "same hour yesterday"),
                 "naive168": ("last week", "same hour last week"),
                 "naive1": ("last hour", "last hour repeated"),
                 "profile": ("2-week shape+trend", "2-week shape+trend")}
        share = self.weights.get("lstm", 0.0)
        other = next((label[k] for k in self.weights if k != "lstm"), ("", ""))
        if share >= 0.999:
            return lstm
        if share <= 0:
            return other[1]
        return f"{100 * share:.0f}% {lstm} + {100 * (1 - share):.0f}% {other[0]}"


@dataclass(frozen=True)
class GateStats:
    """What the LSTM's gates did over the latest input window (T steps, U units)."""

    index: pd.DatetimeIndex  # (T,) the input hours
    observed: np.ndarray  # (T,) bool: False for gaps and left padding
    forget_mean: np.ndarray  # (T,) mean forget gate over units
    input_mean: np.ndarray  # (T,)
    output_mean: np.ndarray  # (T,)
    saturated: dict[str, np.ndarray]  # gate -> (T,) share of units < 0.1 or > 0.9
    cell_norm: np.ndarray  # (T,) L2 norm of the cell state
    matrices: dict[str, np.ndarray]  # forget/input/output/candidate/cell/hidden -> (T, U)
    forget_drops: list[int] = field(default_factory=list)  # steps where the forget gate fell
    reliance: dict[str, float] = field(default_factory=dict)  # base -> weight in the next 24 h
    ahead: Ahead | None = None  # how the LSTM made each hour's median ahead (None: not said)


@dataclass(frozen=True)
class Ahead:
    """How the LSTM made its own median of each hour ahead (counts an hour), before the blend
    and the checks on recent days: the weight it gave each seasonal base (model/lstm.py: the
    median is the weighted mean of the bases, in log1p units, then its own shift). A trial read
    the gate pane and could not say why the next hours looked as they did."""

    index: pd.DatetimeIndex  # (H,) the hours ahead
    weights: np.ndarray  # (H, K) each base's weight (features.BASE_NAMES order), rows sum to 1
    bases: np.ndarray  # (H, K) each base's value (NaN: the history has none for that hour)
    mixed: np.ndarray  # (H,) the weighted bases alone
    median: np.ndarray  # (H,) the LSTM's median: `mixed` moved by its own shift


class Forecaster:
    """A loaded LSTM with what the app needs; refuses series it cannot use, saying why."""

    def __init__(self, model: QuantileLSTM | NumpyLSTM, name: str = "lstm",
                 checkpoint: Checkpoint | None = None, calibrate: bool = True):
        self.net = model if isinstance(model, NumpyLSTM) else model.cpu().eval()  # what forecasts
        self._torch = None if isinstance(model, NumpyLSTM) else self.net
        self.cfg = model.cfg
        self.name = name
        self.checkpoint = checkpoint
        self.calibrate = calibrate  # conformal band adjustment from the series' own recent days

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Forecaster:
        """Load a checkpoint; None = the shipped default model. Raises CheckpointError."""
        if path is None:
            from trafficwatch.resources import default_model_path

            path = default_model_path()
        ck = load_model(path)
        return cls(ck.model, name=f"lstm:{Path(path).stem}", checkpoint=ck)

    @property
    def model(self) -> QuantileLSTM:
        """The torch model (built from the numpy weights on first use: imports torch)."""
        if self._torch is None:
            self._torch = self.net.torch_model()
        return self._torch

    def _predict(self, *inputs: np.ndarray) -> np.ndarray:
        """(x, bases, bmask, skill, cal) arrays -> (B, H, Q) scaled quantiles, numpy or torch."""
        if isinstance(self.net, NumpyLSTM):
            return self.net.predict(*inputs)
        import torch

        from trafficwatch.model.train import limit_threads

        with limit_threads(1):  # small batches: threads only add synchronisation
            return self.net.predict(*(torch.from_numpy(a) for a in inputs)).numpy()

    def _internals(self, *inputs: np.ndarray) -> tuple[np.ndarray, Internals | LSTMInternals]:
        """Quantiles of every window and the last layer's gates from the explicit equations
        (numpy: of the last window only, which is all a forecast shows), numpy or torch."""
        if isinstance(self.net, NumpyLSTM):
            return self.net.internals(*inputs, rows=slice(-1, None))
        import torch

        from trafficwatch.model.train import limit_threads

        with limit_threads(1):
            zq, inner = self.net.internals(*(torch.from_numpy(a) for a in inputs))
        return zq.numpy(), inner

    def save(self, path: str | os.PathLike, data: dict | None = None,
             metrics: dict | None = None) -> Path:
        """Write this model as a checkpoint (atomic)."""
        return save_checkpoint(path, self.model, data=data, metrics=metrics)

    def check(self, series: pd.Series) -> pd.Series:
        """The series as float if it can be forecast; ValueError saying why not otherwise."""
        if series is None or len(series) == 0:
            raise ValueError("empty series: no hour to forecast from")
        s = check_series(series)
        seen = int(np.isfinite(s.to_numpy()[-self.cfg.window:]).sum())
        if seen == 0:
            n = min(len(s), self.cfg.window)
            raise ValueError(f"no observed hour in the last {n} hour{'s' if n > 1 else ''} "
                             "(all gaps): nothing to forecast from")
        if seen < MIN_OBSERVED:
            missing = MIN_OBSERVED - seen  # "more needed": "23 hours missing" read as gaps
            # to a user whose series was one row long
            where = ("the series has" if len(s) <= self.cfg.window else  # a long series: its
                     f"its last {self.cfg.window} hours have")  # 7 weeks "had 1" (a trial)
            raise ValueError(f"needs at least {MIN_OBSERVED} observed hours, {where} "
                             f"{seen}: {missing} more needed")
        return s

    def _check_horizon(self, horizon: int) -> None:
        if not 1 <= horizon <= self.cfg.horizon:
            raise ValueError(f"horizon {horizon} h: this model forecasts "
                             f"1..{self.cfg.horizon} hours")

    def _batch(self, s: pd.Series, gates: bool = False, horizon: int = 0):
        """One pass of the model over the last RECENT_DAYS daily origins and the forecast's own:
        (windows, scaled quantiles (N, H, Q), the forecast's gates or None). The last row is the
        forecast from the series' end. H: `horizon` hours, and a day at least (the past days
        are judged on a day, the gates' mixture is a day's)."""
        v = s.to_numpy()  # outages filled in (_inputs); `_recent` scores on the raw counts
        n, day = len(v), min(24, self.cfg.horizon)
        past = [n - day * k for k in range(RECENT_DAYS, 0, -1)] if self.calibrate else []
        origins = np.array([o for o in past if o >= day] + [n])  # as predict()'s backtest
        # the hours asked for, not the model's 168: the bases, the holiday flags and the head
        # of 24 hours cost a seventh of a week's (a forecast with gates 19.0 -> 16.1 ms, bench)
        w = make_windows(v, int(epoch_hours(s.index[:1])[0]), self.cfg.window,
                         max(horizon, day), origins=origins, min_observed=1, min_target=0)
        inputs = (w.x, *w.inputs())
        if not gates:
            return w, self._predict(*inputs), None
        zq, inner = self._internals(*inputs)
        last = {f.name: getattr(inner, f.name) for f in fields(inner)}
        last.update({k: a[-1:] for k, a in last.items() if hasattr(a, "shape")})
        return w, zq, type(inner)(**last)

    def recent(self, series: pd.Series) -> Recent:
        """Day-ahead forecasts of the LSTM and both seasonal naives over the last RECENT_DAYS
        days (each from the hours before it), their errors, the blend to show, the band's fix."""
        series, k = in_count_units(series)
        return self._recent_of(self._on_calendar(series)[0]).in_units(1 / k)

    def _recent_of(self, series: pd.Series) -> Recent:
        s, shift = relevelled(on_site_clock(check_series(series)))
        inp = _inputs(s)
        w, zq, _ = self._batch(inp)
        return self._recent(s.to_numpy(), inp.to_numpy(), w, zq, self._extra(inp, w, shift),
                            shift, ended=inp.attrs.get(ENDED),
                            start=int(epoch_hours(s.index[:1])[0]) if len(s) else None)

    def _on_calendar(self, series: pd.Series) -> tuple[pd.Series, int]:
        """(the series on the calendar the forecast reads it on, hours it was moved back).

        A series whose times were hour numbers (HOUR_NUMBERS: a benchmark's made-up dates) has
        no weekdays of its own, nor hours of the day: it is read at the hour of the day
        (CAL_PHASES) and then on the one of the 7 days that the LSTM forecast its last
        RECENT_DAYS days best on (its mean error a day, as Recent.mae), so its nights and
        weekends fall where the model's do. bench/forecast.py --no-statsforecast
        --made-up-dates, every series 3 days off its dates (--shift-hours 72): mean MASE 0.587
        -> 0.547 at 24 h, 0.641 -> 0.601 at 48 h with the weekdays alone (on their true dates
        0.538 / 0.593: the holidays and the true weekdays are worth a little more). Moved by
        hours too (--shift-hours 7, 13, 19: a benchmark's hours of the day are anyone's), the
        weekdays alone left 0.573 / 0.573 / 0.561 at 24 h and 0.631 / 0.628 / 0.614 at 48 h;
        with the hour of the day, 0.551 / 0.556 / 0.553 and 0.607 / 0.611 / 0.608 (every hour,
        not every third: 0.552 / 0.608 at 7). Where the numbers had been put right (72), 0.543
        / 0.596 -> 0.551 / 0.608: another hour fits one fortnight by chance. 14 passes: a
        forecast takes about 160 ms, not 11. Any other series: as it is, 0."""
        if series.attrs.get(HOUR_NUMBERS) is None or not len(series):
            return series, 0
        probe = series.iloc[-CAL_TAIL:]  # each pass reads the whole series: a CSV of 300,000
        # hours took 77 ms a pass, 15 an origin, eval quadratic in its length (a review)

        def error(hours: int) -> float:
            return self._recent_of(_moved(probe, hours)).mae.get("lstm", np.nan)

        try:
            at_hour = [error(h) for h in CAL_PHASES]
            if not np.isfinite(at_hour).any():  # too young to judge: as the numbers were put
                return series, 0
            hour = CAL_PHASES[int(np.nanargmin(at_hour))]
            moves = [hour + 24 * d for d in range(7)]
            errors = [np.nanmin(at_hour)] + [error(h) for h in moves[1:]]
        except ValueError:  # not forecastable at all: check() says why, unmoved
            return series, 0
        hours = moves[int(np.nanargmin(errors))]
        return _moved(series, hours), hours

    def _extra(self, inp: pd.Series, w, shift: LevelShift | None = None) -> dict[str, np.ndarray]:
        """Candidates beyond the naives, (N, horizon) counts at each of the batch's origins.
        After a change of level (`shift`), the daily shape and trend keeps no weekday levels:
        the weeks before it were moved to the new level, and a fall that goes on for days (a
        tournament's site after its final) read as a week whose last days are low ones."""
        v, h = inp.to_numpy(), w.bases.shape[1]
        return {"naive1": last_values(v, w.origin, h),
                "profile": profile_trend(v, w.origin, h, weekly=shift is None, as_last=True)}

    def _no_doubt(self, v: np.ndarray, w, zq: np.ndarray, rows: np.ndarray, day: int) -> bool:
        """Whether, on the days `rows` begin (made without last week: a site 145 to 191 hours
        old), half of the LSTM erred more than "yesterday" by YOUNG_LUCK times the series'
        own change from a day to the next: no luck, and no week's memory, closes such a gap.
        Its days are then judged (against yesterday alone), as a younger site's are: a series
        of 1,000,000 +- 5 an hour, 7 days old, was shown the LSTM unjudged, 470 times as far
        off as yesterday (a benchmark trial)."""
        mid, k = self.cfg.quantiles.index(0.5), BASE_NAMES.index("yesterday")
        lq = np.minimum(zq[rows, :day, mid] * w.scale[rows, None] + w.loc[rows, None],
                        w.cap[rows, None])
        naive = np.where(w.bmask[rows, :day, k] > 0,
                         np.expm1(w.bases[rows, :day, k] * w.scale[rows, None]
                                  + w.loc[rows, None]), np.nan)
        actual = np.stack([v[o:o + day] for o in w.origin[rows]])
        ok = np.isfinite(actual) & np.isfinite(naive)
        if ok.sum() < MIN_RECENT_HOURS:
            return False
        half = np.abs(0.5 * np.expm1(lq) + 0.5 * naive - actual)[ok].mean()
        return bool(half - np.abs(naive - actual)[ok].mean() > YOUNG_LUCK * daily_change(v))

    def _unjudged_surge(self, v: np.ndarray, read: np.ndarray, w, zq: np.ndarray,
                        keep: np.ndarray, day: int
                        ) -> tuple[tuple[int, int] | None, tuple[float, float], bool]:
        """(surge, broke, surge_short) as Recent has them, of a site too young to judge (145 to
        191 hours old: Recent.week_old, or too few hours with both naives), from the forecast
        made a day before its end alone (its band, not its median, is what is used). A trial's site at 3
        times its level for its last 12 hours had its surge said and the band widened at 144
        and 192 hours, but not at 160 to 191: coverage 0.17-0.54 of the next day where the
        others had 0.92-1.00."""
        none = (None, (0.0, 0.0), False)
        i = len(w.origin) - 2  # the last of the past days
        if i < 0 or not keep[i] or w.origin[i] != len(v) - day:
            return none
        mid = self.cfg.quantiles.index(0.5)
        lq = np.minimum(zq[i, :day] * w.scale[i] + w.loc[i], w.cap[i])  # (day, Q) log1p
        o = int(w.origin[i])
        actual = v[o:o + day]
        # an outage's hours (zeros the model read filled in) are no surge nor dip: as _recent
        # leaves them out (a review: a young site's last 10 hours at 0, "read as an outage",
        # had its p10 cut from 152 to 20)
        ok = np.isfinite(actual) & ~((actual == 0) & (read[o:o + day] != 0))
        if not len(actual) or not ok[-1]:
            return none
        m = lq[:, mid]
        below = np.maximum(m - lq[:, 0], MIN_HALF)[ok]
        above = np.maximum(lq[:, -1] - m, MIN_HALF)[ok]
        y, a, m = np.log1p(np.clip(actual[ok], 0, None)), actual[ok], m[ok]
        near = np.where(y >= m, np.maximum(np.log1p(np.clip(a - 0.5, 0, None)), m),
                        np.minimum(np.log1p(np.clip(a, 0, None) + 0.5), m))  # (as _recent)
        under, over = (m - near) - below, (near - m) - above
        surge = trailing_run(under, over)
        if surge is None:
            return none
        run, side = surge
        gap = float(np.median((over if side > 0 else under)[-run:]))
        return surge, ((0.0, min(gap, MAX_WIDEN)) if side > 0 else (min(gap, MAX_WIDEN), 0.0)), \
            gap > MAX_WIDEN

    def _recent(self, v: np.ndarray, read: np.ndarray, w, zq: np.ndarray,
                extra: dict[str, np.ndarray] | None = None,
                moved: LevelShift | None = None,
                before: tuple[float, str | None] | None = None,
                ended: tuple[int, int, float] | None = None,
                start: int | None = None) -> Recent:
        """recent() from the batch's past rows (all but the last); `v`: the counts, `read`:
        the same as the model read them (_inputs: outages filled in); `moved`: the change of
        level the series was read after (relevelled), said in its words; `start`: the epoch
        hour (UTC) of v[0], for the days of "last week" (bursts)."""
        day = min(24, self.cfg.horizon)
        silence = trailing_silence(v, read)
        was = None if ended is None else LevelShift(at=len(v) - ended[1],
                                                     hours=ended[1] - ended[0], ratio=ended[2],
                                                     added=added_level(v[:ended[1]], ended[0]))
        none = Recent({}, {"lstm": 1.0}, 0.0, 0, level=moved, silence=silence, ended=was)
        # every past origin whose input the model could forecast from (as check() asks), judged
        # on the hours of its day that have a count: a day with gaps still counts for its hours
        keep = np.array([(w.x[i, :, 1].sum() >= MIN_OBSERVED) and np.isfinite(v[o:o + day]).any()
                         for i, o in enumerate(w.origin[:-1])], dtype=bool)
        # a past day judges today's forecast only if the model then had "last week" when it has
        # it now: on a site 7 days old, the LSTM's forecasts from the days before, made without
        # its weekly memory, say nothing about the one it makes now (bench --days 14: they chose
        # "yesterday" there, 9 times the error of last week on a Melbourne counter)
        week = w.bmask[:, :day, BASE_NAMES.index("last week")].any(axis=1)  # (N,)
        # So a site 145 to 191 hours old (last week for its forecast, for too few hours of its
        # past days) is shown the LSTM unjudged. Judged on all its days against yesterday alone
        # instead, a trial's generated series did better (a weekly and daily cycle at 150 hours:
        # MASE 1.82 -> 0.92, "yesterday" 0.14), but held-out corpus series did worse where it
        # matters most, from 168 hours (bench/young_sites.py, 24 h: 150 h 0.747 -> 0.737, 168 h
        # 0.905 -> 1.133, 180 h 0.724 -> 0.807, 190 h 0.596 -> 0.642; bench/forecast.py --days
        # 14 0.728 -> 0.767, series >5 % worse than the better naive at 48 h 5 -> 13)
        weekly = bool(week[-1]) and keep.any() and not (keep & week[:-1]).any()
        usable = keep.copy()  # (before the rows without last week are left out)
        if not (weekly and self._no_doubt(v, w, zq, np.flatnonzero(keep), day)):
            keep &= week[:-1] >= week[-1]
        if not keep.any():
            if weekly:  # unjudged, but the last hours outside the band still say a surge
                surge, broke, short = self._unjudged_surge(v, read, w, zq, usable, day)
                return replace(none, week_old=True, surge=surge, broke=broke, surge_short=short)
            return replace(none, week_old=weekly)
        rows = np.flatnonzero(keep)
        whole = zq
        zq, origin = zq[rows], w.origin[rows]
        scale, loc, cap = w.scale[rows], w.loc[rows], w.cap[rows]
        lq = np.minimum(zq[:, :day] * scale[:, None, None] + loc[:, None, None],
                        cap[:, None, None])  # (N, 24, Q) log1p units
        actual = np.stack([v[o:o + day] for o in origin])  # (N, 24)
        # hours of an outage (zeros mask_outages fills in for the inputs) judge no candidate:
        # scored on them, the one nearest 0 won, and a day after a 2-day outage of a daily
        # cycle of 50-250 an hour "the last hour" was shown, 55 flat (a trial's quiet stretch)
        gone = ((v == 0) & (read != 0)) | (np.isfinite(v) & (mask_stuck(v) != v))
        if ended is not None:  # nor those of a change of level that is over (_inputs): the
            # LSTM read them at the usual level, and "the last hour" (back at it) won the days
            gone[ended[0]:ended[1]] = True
        ok = np.isfinite(actual) & ~np.stack([gone[o:o + day] for o in origin])
        preds = {"lstm": np.expm1(lq[..., self.cfg.quantiles.index(0.5)])}
        raw = {}
        for name, k in (("naive24", BASE_NAMES.index("yesterday")),
                        ("naive168", BASE_NAMES.index("last week"))):
            burst, zm = bursts(w.bases[rows, :day], w.bmask[rows, :day], name, scale,
                               typical_seen(read, origin, day, name),
                               None if start is None else start + origin)
            z, seen = w.bases[rows, :day, k], w.bmask[rows, :day, k] > 0
            preds[name] = np.where(seen, np.expm1(np.where(burst, zm, z) * scale[:, None]
                                                  + loc[:, None]), np.nan)
            raw[name] = np.where(seen, np.expm1(z * scale[:, None] + loc[:, None]), np.nan)
        for name, p in (extra or {}).items():
            if np.isfinite(p[-1]).all():  # only one that can forecast from the end, too
                raw[name] = preds[name] = p[:-1][keep][:, :day]
        # a young site has no "last week" yet: it is judged against yesterday alone
        preds = {k: p for k, p in preds.items() if np.isfinite(p[ok]).any()}
        optional = {k: preds.pop(k) for k in EXTRA if k in preds}
        ok &= np.all([np.isfinite(p) for p in preds.values()], axis=0)
        # a candidate beyond the seasonal naives is judged only where it forecast every hour
        # they did (a day it lacks, a gap of a day before its origin, must not drop out of the
        # others' scores), and only once there are YOUNG_DAYS days to judge it on: on a site 8
        # days old, judged on one day, "the last hour" had beaten the naives by luck on a rainy
        # day and took half of the forecast (bench/forecast.py --days 14: Auckland +0.15 MASE)
        if ok.any(axis=1).sum() >= YOUNG_DAYS:
            preds.update({k: p for k, p in optional.items() if np.isfinite(p[ok]).all()})
        if len(preds) < 2 or ok.sum() < MIN_RECENT_HOURS:  # unjudged (a surge still said)
            surge, broke, short = self._unjudged_surge(v, read, w, whole, usable, day)
            return replace(none, hours=0, checked=int(ok.sum()) if len(preds) >= 2 else 0,
                           surge=surge, broke=broke, surge_short=short)
        def daily(pred: np.ndarray) -> np.ndarray:  # mean |error| of each day, NaN: none
            n = ok.sum(axis=1)
            return np.where(n > 0, np.where(ok, np.abs(pred - actual), 0.0).sum(axis=1)
                            / np.maximum(n, 1), np.nan)

        def typical(pred: np.ndarray, since: int = 0) -> float:  # a typical day (TRIM_DAYS)
            days = daily(pred)[since:]
            return trimmed_mean(days[np.isfinite(days)])

        mae = {k: typical(p) for k, p in preds.items()}
        size = float(np.abs(actual[ok]).mean())  # the counts' size, for best_of's ties
        best_naive = best_of(mae, size)
        since, changed = 0, False
        lstm_days = daily(preds["lstm"])
        last = lstm_days[-CHANGE_DAYS:]
        earlier = lstm_days[:-CHANGE_DAYS]
        earlier = earlier[np.isfinite(earlier)]
        if (len(earlier) and np.isfinite(last).all() and len(origin) > CHANGE_DAYS
                and origin[-1] == len(v) - day  # the days just ended, one after the other
                and (np.diff(origin[-CHANGE_DAYS:]) == day).all()
                and (last > CHANGE_BREAK * trimmed_mean(earlier)).all()
                and last[-1] >= CHANGE_MIN):
            # the naives as they are: an hour far from last week's typical one is the new
            # traffic here, not a burst (read as one, a count stuck near the old peak did not
            # count as followed, and the old weeks were forecast on)
            followed = {k: daily(raw[k])[-CHANGE_DAYS:] for k in preds if k != "lstm"}
            followed = {k: d for k, d in followed.items()  # by the last day: on the first
                        # day of a new level "yesterday" still held the old one
                        if np.isfinite(d[-1]) and d[-1] < CHANGE_RATIO * last[-1]}
            if followed:  # traffic changed and a naive followed it: judged on the last day
                # alone, the most like tomorrow, with the one nearest there: over both days "the
                # last hour" (at the new level from the first hour on) beat "yesterday" (the
                # old level on the first day, the new one to the hour on the second). Its share
                # was chosen over both days: a drop 30 hours old, on the first of them for 6
                # hours, left "the last hour" (far off then) no share, and the LSTM was shown
                # alone at the old level, "as good as" yesterday's 677/h at 825/h (bench --step
                # 0.33 --step-days 3 6: 0.807 -> 0.804; --step 3: 2.087 alike)
                best_naive = best_of({k: d[-1] for k, d in followed.items()}, size)
                since, changed = len(lstm_days) - 1, True
                preds = {k: raw.get(k, p) for k, p in preds.items()}
                mae = {k: typical(p, since) for k, p in preds.items()}
        # the LSTM's share in a blend with the better naive: whichever erred least on these days
        err = {a: typical(a * preds["lstm"] + (1 - a) * preds[best_naive], since)
               for a in BLEND_STEPS}
        least = min(err.values())  # the most of the LSTM within BLEND_TIE of the least error:
        # a trial's blend was chosen, and said, on 7.3599/h against the LSTM's 7.3604/h
        a = max((step for step in BLEND_STEPS if err[step] <= least * (1 + BLEND_TIE)),
                default=min(BLEND_STEPS, key=lambda step: (err[step], -step)))
        kept_best = float("nan")  # the best blend's error, where the one shown before is kept
        if before is not None and not changed and moved is None:  # the blend shown before,
            # while it errs within HOLD of the best (not after a break or at a new level: the
            # new traffic is followed at once)
            share, other = before
            other = other if share < 0.999 else best_naive
            if other in preds and (share, other) != (a, best_naive):
                mine = typical(share * preds["lstm"] + (1 - share) * preds[other], since)
                if mine <= least * (1 + HOLD):  # said as kept only where it errs more (it
                    # may be the least itself, the tie rule's choice another: "13.9/h against
                    # 13.9/h", a replay trial)
                    a, best_naive = share, other
                    kept_best = least if mine > least else float("nan")
                    err[a] = mine
        held = (ok.any(axis=1).sum() < YOUNG_DAYS and a < YOUNG_MIN_SHARE
                and err[YOUNG_MIN_SHARE] - err[a] <= YOUNG_LUCK * daily_change(v))
        held_mae = err[a] if held else float("nan")
        if held:  # a few days cannot tell a naive's luck from its skill
            a, kept_best = YOUNG_MIN_SHARE, float("nan")  # (said as held, not as kept)
        stuck = stuck_at(v) if "naive1" in preds else None
        if stuck is not None:  # one count, hour after hour: repeated
            a, best_naive, held, kept_best = 0.0, "naive1", False, float("nan")
        weights = ({"lstm": 1.0} if a >= 1.0 else
                   {"lstm": a, best_naive: 1 - a} if a > 0 else {best_naive: 1.0})
        mid = sum(weights.get(k, 0.0) * preds[k] for k in preds)  # (N, 24) counts
        shift = np.log1p(np.clip(mid, 0, None)) - lq[..., self.cfg.quantiles.index(0.5)]
        y = np.log1p(np.clip(actual, 0, None))
        # an hour at 0 where even p10 says 20 or more is an outage or a break in the log (Poisson:
        # below e^-20 by chance), not the spread of traffic: it must not widen next week's band
        outage = (actual == 0) & (np.expm1(lq[..., 0] + shift) >= OUTAGE_P10)
        # conformalised quantile regression on this site's own days: how far outside the band
        # each hour fell (log1p units), and how far from the median shown in the model's
        # half-widths on its side (1 is on p10 or p90); the band widens by the first, the same
        # for every hour, and narrows by the second, in proportion to each hour's width
        qmid = lq[..., self.cfg.quantiles.index(0.5)]
        below = np.maximum(qmid - lq[..., 0], MIN_HALF)
        above = np.maximum(lq[..., -1] - qmid, MIN_HALF)
        m = qmid + shift
        half = np.where(y >= m, above, below)  # (N, 24) the half of the band each hour fell in
        valid = ok & ~outage
        calib = valid.copy()  # the hours that calibrate the band: after a break, only those
        calib[:since] = False  # since it (the blend chosen there was not the one shown before:
        # 90 % "the last hour repeated" over the 14 days of a daily cycle widened a new level's
        # band to twice the site's highest hour)
        widen, stretch, noise_floor = 0.0, 1.0, False
        if stuck is not None:  # the band holds the count, no more:
            stretch = 0.0  # when it moves again, that is news (an anomaly)
        elif calib.sum() >= 48:
            level = min(1.0, 0.8 * (1 + 1 / calib.sum()))
            gap = np.abs(y - m)[calib]
            widen = float(np.clip(np.quantile(gap - half[calib], level), 0.0, MAX_WIDEN))
            if widen <= 0:
                few = calib.sum() < NARROW_HOURS  # too few for the quantile: to the farthest
                stretch = float(min(np.quantile(gap / half[calib], 1.0 if few else level), 1.0))
                noise_floor = few and stretch < 1.0
        broke, broke_hours = (0.0, 0.0), (0, 0)
        # outside the band, counts being whole: within half a count of it is inside (a site of
        # 0.1 requests an hour, its zeros a hair below a median of 1e-10, was told its band
        # "widened: the last day had 0 of its 24 hours inside it" beside a band of 0-0)
        ya, ma, ok1 = actual[-1], m[-1], valid[-1]  # the last day judged
        near = np.where(y[-1] >= ma, np.maximum(np.log1p(np.clip(ya - 0.5, 0, None)), ma),
                        np.minimum(np.log1p(np.clip(ya, 0, None) + 0.5), ma))[ok1]
        under = (ma[ok1] - near) - below[-1][ok1] * stretch - widen  # > 0: below the band
        over = (near - ma[ok1]) - above[-1][ok1] * stretch - widen  # > 0: above it
        surge, short = None, False
        if (origin[-1] == len(v) - day and len(under) >= day // 2  # the day just ended
                and stuck is None):  # (not when the count is stuck: its band is its own)
            inside = int(((under <= 0) & (over <= 0)).sum())
            n_under, n_over = int((under > 0).sum()), int((over > 0).sum())
            one_side = max(n_under, n_over) >= ONE_SIDE * (n_under + n_over)
            if inside < BROKE_SHARE * len(under) and one_side:
                # on the side it fell only: the few hours on the other side widened that one
                # too (a road counter's Christmas Day, 15 hours below and 4 above: p90 1.65
                # times the series' top, a trial)
                below = n_under >= n_over
                dist = near - ma[ok1]  # log1p units from the median: > 0 above
                dc = np.expm1(near) - np.expm1(ma[ok1])  # and counts
                broke = widen_to_hold(latest(np.where(below, under, 0.0), -dist, -dc),
                                      latest(np.where(below, 0.0, over), dist, dc), 0.8,
                                      MAX_WIDEN - widen)
                broke_hours = (inside, len(under))
            surge = trailing_run(under, over) if ok1[-1] else None
            if surge is not None and max(broke) <= 0:
                # a change of hours may last: the band drawn spans its level too (a trial's
                # site doubled 6 hours before the end had 93 % of its next 48 hours above p90)
                run, side = surge
                dist = (near - ma[ok1]) * side  # log1p units from the median, on its side
                dc = (np.expm1(near) - np.expm1(ma[ok1])) * side  # and counts
                gap = float(np.median(latest(over if side > 0 else under, dist, dc)[-run:]))
                short = gap > MAX_WIDEN - widen
                gap = min(gap, MAX_WIDEN - widen)
                broke = (0.0, gap) if side > 0 else (gap, 0.0)
        lead = lead_widths(v, w, whole, rows, day, self.cfg.quantiles.index(0.5),
                           gone) if stuck is None else ()
        return Recent(mae, weights, widen, int(ok.sum()), held=bool(held), held_mae=held_mae,
                      lead=lead,
                      broke=broke, kept_best=kept_best, ended=was,
                      silence=silence,
                      stretch=stretch, noise_floor=noise_floor, level=moved, surge=surge,
                      surge_short=short,
                      broke_hours=broke_hours, blend_mae=typical(mid, since), changed=changed,
                      stuck=stuck)

    def _forecast(self, zq: np.ndarray, loc: np.ndarray, scale: np.ndarray, cap: np.ndarray,
                  end: int, horizon: int, history: pd.Series, recent: Recent,
                  bases: tuple[np.ndarray, np.ndarray] | None = None,
                  extra: dict[str, np.ndarray] | None = None,
                  last_top: float | None = None) -> Forecast:
        from trafficwatch.model.baselines import naive24, naive168

        mid = self.cfg.quantiles.index(0.5)
        lq = zq.astype(np.float64)[0, :horizon] * scale[0] + loc[0]  # (H, Q) log1p
        share = recent.weights.get("lstm", 0.0)  # {"naive24": 1.0}: none of the LSTM's median
        exact = None  # the blend's median in counts: expm1(log1p(100)) is 100.00000000000003,
        # and a band collapsed onto that median then missed a constant series' every hour
        typical_hours = {}  # naive -> hours of it shown as their typical hour (bursts)
        if share < 0.999:  # move the band onto the blend's median
            p50 = share * np.expm1(lq[:, mid])
            for name, fn in (("naive24", naive24), ("naive168", naive168)):
                weight = recent.weights.get(name, 0.0)
                if weight <= 0:
                    continue
                naive = fn(history, horizon)[:, 1]
                if bases is not None and not recent.changed:  # as judged: a burst it would
                    # repeat is the typical hour (after a break, as judged: as it is)
                    # (over a day at least: the day's own shift is a median over its hours,
                    # and over one hour a burst would be its own shift)
                    span = max(horizon, 24)
                    seen = typical_seen(history.to_numpy(dtype=float), [len(history)], span,
                                        name)
                    burst, zm = bursts(bases[0][:, :span], bases[1][:, :span], name, scale[:1],
                                       seen, np.array([end]))
                    typical = np.expm1(zm[0, :horizon] * scale[0] + loc[0])
                    changed = burst[0, :horizon] & (np.abs(typical - naive) > 1e-9 * naive)
                    typical_hours[name] = int(changed.sum())
                    naive = np.where(burst[0, :horizon], typical, naive)
                p50 += weight * naive
            for name, p in (extra or {}).items():
                if recent.weights.get(name, 0.0) > 0:
                    p50 += recent.weights[name] * p[-1, :horizon]
            exact = np.clip(p50, 0, None)
            lq += (np.log1p(exact) - lq[:, mid])[:, None]
        qs = self.cfg.quantiles
        lo_k, hi_k = (qs.index(0.1) if 0.1 in qs else 0), (qs.index(0.9) if 0.9 in qs else -1)

        def band(below: float, above: float) -> np.ndarray:  # (H, Q) counts: the band
            b = lq.copy()  # stretched, then widened by these log1p units on each side
            centre = lq[:, mid:mid + 1]
            ahead = np.ones((len(lq), 1))  # days ahead after the first: as measured
            for d, k in enumerate(recent.lead, start=1):
                ahead[24 * d:24 * (d + 1)] = k
            down = (centre - lq[:, :mid]) * recent.stretch * ahead
            up = (lq[:, mid + 1:] - centre) * recent.stretch * ahead
            noise_down, noise_up = counting_noise(centre, qs[:mid], qs[mid + 1:])
            if recent.noise_floor:  # narrowed on few hours: to counting noise at the least
                down = np.maximum(down, np.minimum(noise_down, centre - lq[:, :mid]))
                up = np.maximum(up, np.minimum(noise_up, lq[:, mid + 1:] - centre))
            # and at a few requests an hour (a median under FEW), never a low edge above
            # counting noise's: at a median of 1, a low edge of 0.2 left out 0, the commonest
            # count (a night of 0-3 an hour: 17 of 35 hours inside the band, a trial). (Above
            # it, a site may be steadier than counting: 1,000,000 +- 5 an hour. A count stuck
            # for hours keeps its band on it.)
            if recent.stuck is None:
                down = np.where(centre < np.log1p(FEW), np.maximum(down, noise_down), down)
            # a median cut to the cap keeps its band below it (clipped alone, p10 = p50 = p90
            # in a growing series' farthest hours: sure where it is least so, a trial)
            b[:, :mid] = centre - down - below - np.maximum(centre - cap[0], 0.0)
            b[:, mid + 1:] = centre + up + above
            out = np.clip(np.expm1(np.minimum(b, cap[0])), 0.0, None)
            if exact is not None:
                med = np.minimum(exact, np.expm1(float(cap[0])))  # under the cap, as the band
                out[:, mid] = med
                out[:, :mid] = np.minimum(out[:, :mid], med[:, None])
                out[:, mid + 1:] = np.maximum(out[:, mid + 1:], med[:, None])
                # a band collapsed onto the median is the median: expm1(log1p(360)) printed
                # a stuck count's p10 as 359.9999999999999
                out = np.where(np.isclose(out, med[:, None], rtol=1e-12, atol=0.0),
                               med[:, None], out)
            return out

        q = band(recent.widen, recent.widen)
        drawn = (band(recent.widen + recent.broke[0], recent.widen + recent.broke[1])
                 if max(recent.broke) > 0 else q)
        idx = pd.date_range(pd.Timestamp(end * 3600, unit="s", tz="UTC"), periods=horizon, freq="h")
        name = "+".join(k if k != "lstm" else self.name for k in recent.weights)
        seen = counted_days(history)
        unseen = unseen_days(seen, idx)
        down, up = unseen_kind(seen, idx)  # (H,) log1p units, 0 where the kind of day was seen
        if down.any() or up.any():  # a weekend from weekdays alone (or the reverse): its level
            # is not known (a trial's 3-day site: 3 % of its first weekend inside the band)
            def wider(a: np.ndarray) -> np.ndarray:
                out = a.copy()
                out[:, lo_k] = np.clip(np.expm1(np.log1p(a[:, lo_k]) - down), 0.0, None)
                out[:, hi_k] = np.expm1(np.log1p(a[:, hi_k]) + up)
                return out
            q_band, drawn = wider(q), wider(drawn)
        else:
            q_band = q
        if recent.broke[1] > 0 and last_top is not None:
            # widened above for the last day (or hours) that broke from the band: to their
            # errors, as far as half as much again as the last day's highest hour (BROKE_TOP);
            # after the widening for days not seen yet, which had undone it (a review)
            top = np.maximum(q_band[:, mid + 1:], BROKE_TOP * last_top)
            drawn = drawn.copy()
            drawn[:, mid + 1:] = np.minimum(drawn[:, mid + 1:], top)
        choice, short = recent.describe(self.name), recent.short(self.name)
        for base, n in typical_hours.items():  # said: "same hour last week" had shown 5 of
            # a benchmark user's 48 hours unlike last week's, and said nothing
            if n:
                naive, span = (("same hour yesterday", "7 days") if base == "naive24" else
                               ("same hour last week", "4 weeks"))
                choice += (f"; of {naive}, {n} hour{'s' if n > 1 else ''} of {horizon} stood "
                           f"out from their {span}: their median there")
        capped = int((lq[:, mid] > cap[0]).sum())
        if capped:  # said: the median stops there, whatever the trend (a trial read the hours
            # at the cap as a forecast sure of itself)
            choice += (f"; {capped} hour{'s' if capped > 1 else ''} of {horizon} reach"
                       f"{'es' if capped == 1 else ''} twice the highest hour of the last 6 "
                       f"weeks: forecast no higher there")
        if unseen:  # a site 3 days old forecast its first Saturday with a weekday's peak, 2x
            days = " or ".join(unseen) if len(unseen) <= 2 else \
                ", ".join(unseen[:-1]) + " or " + unseen[-1]
            choice += (f"; the counts hold no {days} yet: forecast like the days they hold")
            if down.any() or up.any():  # said: the band of those hours is the corpus's, not
                # the site's (p90 +26 %, p10 -54 % on a series of +-5 with nothing said, a
                # recheck)
                lo, hi = np.exp(-float(down.max())), np.exp(float(up.max()))  # (as widened:
                # weekdays from a weekend alone the other way round, a review)
                choice += (f", their band as wide as weekends and weekdays differ on other "
                           f"sites ({lo:.2f}x to {hi:.2f}x)")
            short += f"; no {', '.join(unseen)} counted yet"  # "no Thu seen" puzzled a trial
        return Forecast(idx, drawn[:, lo_k], q[:, mid], drawn[:, hi_k], name, choice,
                        recent.mae, short, q_band[:, lo_k], q_band[:, hi_k], recent.band_note(),
                        lstm_share=float(recent.weights.get("lstm", 0.0)))

    def _shown(self, s: pd.Series, inp: pd.Series, w, zq: np.ndarray, end: int, horizon: int,
               shift: LevelShift | None, unit: float = 1.0,
               keep: tuple[float, str | None] | None = None) -> Forecast:
        """The forecast shown after the series' last hour (as chosen by _recent); a count stuck
        for hours (stuck_at) is repeated, its band widened by stuck_band. `unit`: the series
        was read `unit` times as it was given (in_count_units), and its figures are given back
        in its own units."""
        extra = self._extra(inp, w, shift)
        head = (zq[-1:], w.loc[-1:], w.scale[-1:], w.cap[-1:], end, horizon, inp)
        bases = (w.bases[-1:], w.bmask[-1:])
        recent = self._recent(s.to_numpy(), inp.to_numpy(), w, zq, extra, shift, keep,
                              inp.attrs.get(ENDED), int(epoch_hours(s.index[:1])[0]))
        # its errors and counts in the series' own units: they are only said, and kept in
        # Forecast.recent (what _forecast computes with, shares and log1p units, is the same)
        recent = recent.in_units(1 / unit)
        last = s.to_numpy(dtype=float)[-24:]
        top = float(np.nanmax(last)) if np.isfinite(last).any() else None
        fc = self._forecast(*head, recent, bases, extra, last_top=top)
        if recent.stuck is None:
            return in_units(fc, 1 / unit)
        # the site's usual hours: each hour's 4-week median (a run of days is one of its four
        # weeks), with the LSTM's own spread around it
        k = BASE_NAMES.index("4-week median")
        seen = w.bmask[-1, :horizon, k] > 0
        lq = zq[-1, :horizon].astype(np.float64) * w.scale[-1] + w.loc[-1]  # (H, Q) log1p
        mid = self.cfg.quantiles.index(0.5)
        typical = w.bases[-1, :horizon, k] * w.scale[-1] + w.loc[-1]
        cap = float(w.cap[-1])
        lo = np.expm1(np.minimum(typical - (lq[:, mid] - lq[:, 0]), cap)).clip(0, None)
        hi = np.expm1(np.minimum(typical + (lq[:, -1] - lq[:, mid]), cap))
        at = np.expm1(np.minimum(typical, cap)).clip(0, None)
        usual = (lo, np.where(seen, at, np.nan), hi)
        return in_units(stuck_band(fc, usual, recent.stuck[1]), 1 / unit)

    def forecast(self, series: pd.Series, horizon: int = 24,
                 keep: tuple[float, str | None] | None = None) -> Forecast:
        """p10/p50/p90 for each of the `horizon` hours after the series' last hour (`keep`: as
        forecast_with_gates')."""
        self._check_horizon(horizon)
        numbered = series.attrs.get(HOUR_NUMBERS) is not None
        series, unit = in_count_units(self.check(series))
        series, moved = self._on_calendar(series)
        site = on_site_clock(series)
        s, shift = relevelled(site)
        inp = _inputs(s)
        w, zq, _ = self._batch(inp, horizon=horizon)
        end = int(epoch_hours(s.index[-1:])[0]) + 1
        fc = self._shown(s, inp, w, zq, end, horizon, shift, unit, keep)
        fc = self._hedged(fc, site, shift, end, horizon, unit, keep)
        fc = self._surge_over(fc, site, shift, end, horizon, unit, keep)
        fc = made_up_days(fc) if numbered else fc
        return replace(fc, index=fc.index + pd.Timedelta(hours=moved)) if moved else fc

    def forecast_with_gates(self, series: pd.Series, horizon: int = 24,
                            keep: tuple[float, str | None] | None = None,
                            ) -> tuple[Forecast, GateStats]:
        """Forecast and gate statistics from one explicit pass over the latest window. `keep`:
        the blend shown before for this series (Forecast.kept(): the LSTM's share and the other
        candidate), shown again while it errs within HOLD of the best (the app's forecast of a
        view, made again every few minutes, changed its choice over noise)."""
        self._check_horizon(horizon)
        numbered = series.attrs.get(HOUR_NUMBERS) is not None
        series, unit = in_count_units(self.check(series))
        series, moved_h = self._on_calendar(series)
        site = on_site_clock(series)
        s, shift = relevelled(site)
        inp = _inputs(s)
        w, zq, inner = self._batch(inp, gates=True, horizon=horizon)
        end = int(epoch_hours(s.index[-1:])[0]) + 1
        mask = w.x[-1, :, 1] > 0.5
        idx = pd.date_range(pd.Timestamp((end - self.cfg.window) * 3600, unit="s", tz="UTC"),
                            periods=self.cfg.window, freq="h")
        fc = self._shown(s, inp, w, zq, end, horizon, shift, unit, keep)
        fc = self._hedged(fc, site, shift, end, horizon, unit, keep)
        fc = self._surge_over(fc, site, shift, end, horizon, unit, keep)
        fc = made_up_days(fc) if numbered else fc
        # each hour's median from the bases, said only at the series' own level (after a level
        # change the LSTM read the weeks moved to it: its bases are not the history's)
        ahead = self._ahead(w, zq, inner, fc.index, horizon, unit) if shift is None else None
        if moved_h:  # back on the series' own hours
            moved = pd.Timedelta(hours=moved_h)
            fc, idx = replace(fc, index=fc.index + moved), idx + moved
            ahead = replace(ahead, index=fc.index) if ahead is not None else None
        return fc, replace(gate_stats(inner, idx, mask), ahead=ahead)

    def _hedged(self, fc: Forecast, site: pd.Series, shift: LevelShift | None, end: int,
                horizon: int, unit: float, keep: tuple[float, str | None] | None) -> Forecast:
        """`fc` (the forecast after a change of level `shift`) hedged while the change is
        younger than HEDGE_HOURS: its band drawn spanning its own and the forecast's of `site`
        with the change read as over (restore_ended); while younger than FOLLOW_HOURS its
        median between the two too, the follower's weighing half at a day old and all of it at
        FOLLOW_HOURS, and the anomalies' band spanning both. Another forecast's pass, only
        then."""
        if shift is None or shift.holiday or shift.hours >= HEDGE_HOURS:
            return fc
        v = site.to_numpy(dtype=np.float64)
        since = hours_back(v, shift)  # the last hours back near the usual level: may be over
        back = pd.Series(restore_ended(v, (shift.at, len(v), shift.ratio)), site.index,
                         name=site.name)
        back.attrs.update(site.attrs)
        inp = _inputs(back)
        w, zq, _ = self._batch(inp, horizon=horizon)
        other = self._shown(back, inp, w, zq, end, horizon, None, unit, keep)
        if shift.hours < FOLLOW_HOURS:
            share = float(np.clip(0.5 + 0.5 * (shift.hours - since - 24) / (FOLLOW_HOURS - 24),
                                  0.5, 1.0)) * (1 - since / BACK_HOURS)
            p50 = np.expm1(share * np.log1p(np.clip(fc.p50, 0, None))
                           + (1 - share) * np.log1p(np.clip(other.p50, 0, None)))
        else:  # followed: the band drawn alone spans the usual level too (the anomalies'
            # stays the new level's: spanning both, at 98 % it reached 0, and a dead hour 2 days
            # after a tripling was no anomaly)
            p10, p90 = np.minimum(fc.p10, other.p10), np.maximum(fc.p90, other.p90)
            return replace(fc, p10=np.minimum(p10, fc.p50), p90=np.maximum(p90, fc.p50))
        (a10, a90), (b10, b90) = fc.alarm(), other.alarm()
        p10, p90 = np.minimum(fc.p10, other.p10), np.maximum(fc.p90, other.p90)
        return replace(fc, p10=np.minimum(p10, p50), p50=p50, p90=np.maximum(p90, p50),
                       alarm_p10=np.minimum(np.minimum(a10, b10), p50),
                       alarm_p90=np.maximum(np.maximum(a90, b90), p50))

    def _surge_over(self, fc: Forecast, site: pd.Series, shift: LevelShift | None, end: int,
                    horizon: int, unit: float, keep: tuple[float, str | None] | None
                    ) -> Forecast:
        """`fc` with its hours from SURGE_OVER[1] on forecast as if a short surge at the
        series' end (trailing_surge) were over, moving to that from SURGE_OVER[0] (each
        median, p10 and the anomalies' band, log-interpolated; p90 kept): the hours next still
        read it.
        Another forecast's pass, only then; not after a change of level (followed as such)."""
        v = site.to_numpy(dtype=np.float64)
        if shift is not None or horizon <= SURGE_OVER[0] or stuck_at(v) is not None:
            return fc  # (a count stuck is repeated: no surge)
        over = trailing_surge(v)
        if over is None:
            return fc
        calm = pd.Series(over, site.index, name=site.name)
        calm.attrs.update(site.attrs)
        inp = _inputs(calm)
        w, zq, _ = self._batch(inp, horizon=horizon)
        other = self._shown(calm, inp, w, zq, end, horizon, None, unit, keep)
        lead = np.arange(1, horizon + 1, dtype=np.float64)
        k = np.clip((lead - SURGE_OVER[0]) / (SURGE_OVER[1] - SURGE_OVER[0]), 0.0, 1.0)

        def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            a, b = np.clip(a, 0, None), np.clip(b, 0, None)
            return np.expm1((1 - k) * np.log1p(a) + k * np.log1p(b))

        (a10, a90), (b10, b90) = fc.alarm(), other.alarm()
        p10, p50 = mix(fc.p10, other.p10), mix(fc.p50, other.p50)
        # the band drawn keeps its top: the surge may go on (a site doubled for its last 6
        # hours: a trial's next 48 hours 93 % above a p90 that had not allowed it)
        choice, short = fc.choice, fc.choice_short
        if "surge" not in choice:  # said (from 4 hours outside the band it is already: a
            # recheck found 1 or 2 hours read as over said nowhere)
            run = int(np.sum((over != v) & np.isfinite(v)))  # (a gap: NaN != NaN)
            choice += (f"; the last {run} hour{'s' * (run != 1)} far above their usual, read as "
                       f"a surge that is over from {SURGE_OVER[1]} hours ahead")
            short += f"; last {run} h surge, over from {SURGE_OVER[1]} h"
        return replace(fc, p10=np.minimum(p10, p50), p50=p50, p90=np.maximum(fc.p90, p50),
                       alarm_p10=np.minimum(mix(a10, b10), p50),
                       alarm_p90=np.maximum(mix(a90, b90), p50), choice=choice,
                       choice_short=short)

    def _ahead(self, w, zq: np.ndarray, inner, index: pd.DatetimeIndex,
               horizon: int, unit: float = 1.0) -> Ahead | None:
        """Ahead for the latest window of `w` (its LSTM quantiles `zq`, internals `inner`), in
        the series' own units (`unit`: as in _shown)."""
        if inner.mix is None:
            return None
        mix = np.asarray(inner.mix[0, :horizon], dtype=np.float64)  # (H, K)
        scale, loc, cap = float(w.scale[-1]), float(w.loc[-1]), float(w.cap[-1])
        logb = w.bases[-1, :horizon].astype(np.float64) * scale + loc  # (H, K) log1p units
        seen = w.bmask[-1, :horizon] > 0
        counts = lambda x: np.expm1(np.minimum(x, cap)).clip(0, None) / unit
        mid = self.cfg.quantiles.index(0.5)
        median = counts(zq[-1, :horizon, mid].astype(np.float64) * scale + loc)
        mixed = counts((mix * logb).sum(axis=-1))
        return Ahead(index[:horizon], mix, np.where(seen, counts(logb), np.nan), mixed, median)

    def gates(self, series: pd.Series) -> GateStats:
        """Gate statistics over the latest input window (the one the next forecast reads)."""
        return self.forecast_with_gates(series, 1)[1]

    def as_function(self, alarm: bool = False) -> Callable[[pd.Series, int], np.ndarray]:
        """(history, horizon) -> (H, 3) p10/p50/p90, the shape the backtest expects; with
        `alarm`, (H, 5): the anomalies' p10 and p90 after them (see Forecast.alarm)."""
        def run(history: pd.Series, horizon: int) -> np.ndarray:
            """p10/p50/p90 (and the anomalies' p10/p90) as one array."""
            f = self.forecast(history, horizon)
            return np.stack([f.p10, f.p50, f.p90, *(f.alarm() if alarm else ())], axis=-1)
        return run

    def fine_tune(self, series: pd.Series, tcfg: TrainConfig | None = None,
                  on_progress: Callable[[Progress], None] | None = None) -> Forecaster:
        """A new Forecaster fine-tuned on one site's series (default: train.FINE_TUNE); this one
        is left as it was. Imports torch."""
        from trafficwatch.model.train import FINE_TUNE, fine_tune

        s = on_site_clock(self.check(series))  # as the forecast reads it
        model, result = fine_tune(self.model, s, FINE_TUNE if tcfg is None else tcfg, on_progress)
        out = Forecaster(model, name=f"{self.name}+fine-tuned", calibrate=self.calibrate)
        out.train_result = result  # type: ignore[attr-defined]
        return out


UNIT_LEVEL = 1000.0  # a series of measurements (values that are not whole counts) is read with
# its typical hour at this level or above (in_count_units)


_UNSEEN_SAID = re.compile(r"the counts hold no (.+?) yet: forecast like the days they hold")
_UNSEEN_SHORT = re.compile(r"; no (.+?) counted yet")


def made_up_days(fc: Forecast) -> Forecast:
    """A forecast of a series of hour numbers (HOUR_NUMBERS), whose weekdays are the made-up
    calendar's: the days of the week it has not shown yet counted, not named ("the counts hold
    no Wed, Thu, Fri or Sat yet" puzzled a benchmark user, whose series has no Wednesdays)."""
    def said(m: re.Match[str]) -> str:
        k = len(re.split(r", | or ", m[1]))
        return (f"the hours ahead fall on {k} day{'s' if k > 1 else ''} of the week the series "
                "has not shown yet (its weekdays are made up): forecast like the days it holds")

    def short(m: re.Match[str]) -> str:
        k = len(m[1].split(", "))
        return f"; {k} day{'s' if k > 1 else ''} of the week not seen yet"

    return replace(fc, choice=_UNSEEN_SAID.sub(said, fc.choice),
                   choice_short=_UNSEEN_SHORT.sub(short, fc.choice_short))


def in_count_units(series: pd.Series) -> tuple[pd.Series, float]:
    """(the series as the model reads it, the factor it was multiplied by).

    The model reads counts: log1p and the Poisson-like spread of a few requests an hour set
    its band and its trust in each hour at low levels, and above some tens of an hour it reads
    any multiple of a series alike. A series whose values are not whole numbers is no count
    (requests in thousands, a rate, a mean): its unit says nothing of its noise, and read as
    counts, bike hires in thousands (0.01-1.2 an hour) were forecast with MASE 0.735 where in
    hires they had 0.566, the choice of forecast flipped from the LSTM to "yesterday", and the
    band was 9 times as wide (a trial). It is read multiplied by the power of ten that puts
    the median of its positive hours at UNIT_LEVEL or above, where the model's reading no
    longer depends on the unit; whole counts (any level) are read as they are."""
    v = series.to_numpy(dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v) or np.all(np.abs(v - np.round(v)) <= 1e-9 * np.maximum(1.0, np.abs(v))):
        return series, 1.0
    positive = v[v > 0]
    if not len(positive) or np.median(positive) >= UNIT_LEVEL:
        return series, 1.0
    k = 10.0 ** math.ceil(math.log10(UNIT_LEVEL / float(np.median(positive))))
    out = series * k
    out.attrs = dict(series.attrs)
    return out, k


def in_units(fc: Forecast, factor: float) -> Forecast:
    """The forecast's counts (not its words, nor `recent`, already in its units) times
    `factor`."""
    if factor == 1.0:
        return fc
    scaled = lambda a: None if a is None else np.asarray(a) * factor
    return replace(fc, p10=fc.p10 * factor, p50=fc.p50 * factor, p90=fc.p90 * factor,
                   alarm_p10=scaled(fc.alarm_p10), alarm_p90=scaled(fc.alarm_p90))


def _moved(s: pd.Series, hours: int) -> pd.Series:
    """The series with its hours `hours` hours earlier (its attrs kept)."""
    if not hours:
        return s
    out = pd.Series(s.to_numpy(), s.index - pd.Timedelta(hours=hours), name=s.name)
    out.attrs.update(s.attrs)
    return out


def hours_back(v: np.ndarray, shift: LevelShift) -> int:
    """How many of the last observed hours after a change of level (`shift`, young) are nearer
    their usual count (the weeks before it) than its level: fewer than BACK_HOURS, or it would
    be over (came_back). Two hours back after a day at 0.3x had weighed the hedge toward
    the day's level (26 hours old: 0.67), MASE 2.54 -> 3.00 (a review)."""
    t = np.arange(shift.at, len(v))
    y = v[t]
    ok = np.isfinite(y)
    if not ok.any():
        return 0
    usual = np.clip(usual_counts_before(v, t, shift.at), 0, None)
    lu = np.log1p(usual)
    d = np.log1p(np.clip(y, 0, None)) - lu
    side = (np.log1p(np.clip(usual + shift.added, 0, None)) - lu if shift.added else
            np.full(len(t), float(np.log(shift.ratio))))
    near = np.abs(d) < np.abs(d - side)  # NaN (no usual count): not near
    run = 0
    for i in np.flatnonzero(ok)[::-1]:
        if not near[i]:
            break
        run += 1
    return min(run, BACK_HOURS - 1)


def relevelled(s: pd.Series) -> tuple[pd.Series, LevelShift | None]:
    """The series as the forecast reads it after a change of level that has held for a day
    (features.level_shift): the hours before it moved to the new level, so the LSTM and the
    candidates read the weeks' shape at today's level. After a fall to a quarter 30 hours before
    the end, the LSTM's weeks held the old level, "the last hour repeated" was shown: a flat
    line at twice the new traffic, through the night and the weekend."""
    v = s.to_numpy(dtype=np.float64)
    if not len(s) or stuck_at(v) is not None:  # a counter stuck on one count: not a level
        return s, None
    shift = level_shift(v, int(epoch_hours(s.index[:1])[0]))
    if shift is None or shift.holiday:  # the holidays' own: the model knows them, they end
        return s, shift
    # its age in hours with a count: a day at 0.3x after 12 hours no log covered was "36 h"
    # old, past the hedge, followed whole, the normal day after it flagged (a review)
    shift = replace(shift, hours=int(np.isfinite(v[shift.at:]).sum()))
    out = pd.Series(relevel(v, shift), s.index, name=s.name)
    out.attrs.update(s.attrs)
    return out, shift


def ratio_text(ratio: float) -> str:
    """A ratio as the notes write it: "0.33x", "1.8x", "12x", "210x" ("2.1e+02x" had been
    said of a series that rose from about 0, a trial)."""
    return f"{ratio:.2g}x" if ratio < 10 else f"{ratio:,.0f}x"


def added_text(added: float, short: bool = False) -> str:
    """A count added to every hour as the notes write it: "+300 an hour" ("+300/h"), "-42 an
    hour", three significant figures."""
    n = f"{added:+,.0f}" if abs(added) >= 100 else f"{added:+.3g}"
    return f"{n}/h" if short else f"{n} an hour"


SILENCE_NOTE = 6  # hours at 0 at the series' end, after traffic, that the forecast's line names


def trailing_silence(v: np.ndarray, read: np.ndarray) -> tuple[int, bool] | None:
    """(hours, filled) of the run of hours at 0 the counts `v` end in, when SILENCE_NOTE or
    more and an hour before it had traffic, and either filled as an outage (`read`, the counts
    as the model read them, holds a count there) or NEW_NORMAL_HOURS or more long; else None."""
    v = np.asarray(v, dtype=np.float64)
    seen = np.flatnonzero(np.isfinite(v))
    if not len(seen) or v[seen[-1]] != 0:
        return None
    nonzero = seen[v[seen] != 0]
    if not len(nonzero) or nonzero[-1] < seen[0]:
        return None
    hours = int(seen[-1] - nonzero[-1])
    run = np.asarray(read, dtype=np.float64)[nonzero[-1] + 1:]
    filled = bool((np.nan_to_num(run) != 0).any())
    if hours < SILENCE_NOTE or not (filled or hours >= NEW_NORMAL_HOURS):
        return None
    return hours, filled


def _inputs(s: pd.Series) -> pd.Series:
    """The history forecasts read, outages filled in (features.mask_outages): an 8-hour outage
    ending at the origin put the next day's median at 0.70 of normal (shipped model; 0.99 with
    this), one ending 8 hours before at 0.68 (0.95), and its p90 below normal. bench/forecast.py,
    whole held-out series: mean MASE 0.545 -> 0.544 (24 h), 0.601 alike (48 h); misses 6 -> 6
    and 4 -> 3: the corpus has few outages, logs many (a full disk, a crashed logger).
    Bursts over are taken out too (features.mask_bursts). A change of level that is over
    (features.ended_shift: a day or more at another level, traffic back for the last 4 to 96
    hours) is read at the usual level too, its hours judging no candidate (Recent.ended)."""
    v = s.to_numpy(dtype=np.float64)
    ended = ended_shift(v, int(epoch_hours(s.index[:1])[0])) if len(s) else None
    out = pd.Series(mask_bursts(mask_outages(mask_stuck(restore_ended(v, ended)))), s.index)
    out.attrs[ENDED] = ended
    return out


ENDED = "ended_shift"  # _inputs' attrs key: features.ended_shift's (first, end, ratio) or None


ZERO_SHARE = 1e-5  # an error shown beside others below this share of the largest reads 0


def per_hour(*errors: float) -> list[str]:
    """Mean errors a hour, in counts, as the stats pane shows them: three significant figures
    (no exponent: 1,234, 41.9, 0.0495, 0.000240: "0/h vs 0.000772/h" read as a perfect
    forecast beside another on a trial's series of millionths), 0 below 1e-9 (a rounding
    error: 7.11e-15 and 3.2e-15 are a tie, not a win) or below ZERO_SHARE of the largest of
    them (a naive's errors are read back from the model's float32 inputs: "0.000000428/h vs
    0.436/h" on a log that repeats its days exactly, an app trial), and as many more decimals
    (two at most) as it takes for different values not to read alike ('41.9 vs 41.9')."""
    finite = [abs(x) for x in errors if np.isfinite(x)]
    floor = max(1e-9, ZERO_SHARE * max(finite, default=0.0))

    def fmt(x: float, extra: int) -> str:
        if not np.isfinite(x):
            return "–"
        if abs(x) < floor:
            return "0"
        decimals = max(0, 2 - int(np.floor(np.log10(abs(x))))) + extra
        return f"{x:,.{min(decimals, 12)}f}"

    for extra in range(3):
        out = [fmt(x, extra) for x in errors]
        if len(set(out)) == len(set(errors)):
            break
    return out


def bursts(bases: np.ndarray, bmask: np.ndarray, name: str, scale: np.ndarray,
           seen: np.ndarray | None = None,
           first: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, K) bases in z units -> the hours (N, H) where the seasonal naive `name` would repeat
    a burst, and the typical hour (7-day median for yesterday, 4-week median for last week) to
    use there. `scale` (N,): each row's best-base error (log1p units), the z unit. A burst stands
    out from the typical by more than BURST best-base errors (or BURST_LOG) beyond the day's own
    shift from it: a new level (traffic tripled three days ago) moves every hour
    alike and is repeated, as a naive should. A burst of 3,000 requests in an hour of 130 was
    otherwise forecast again the next day, 20 % of it: 690. An hour of "last week" is also one
    when it is that far from both today's level and the 7-day median of the hour: a holiday,
    a whole day away from its weeks, is its own shift and would be repeated otherwise.
    `seen` (N, H): how many values each typical hour is the median of (typical_seen); one of
    fewer than TYPICAL_MIN is no typical to judge by (a Melbourne counter 16 days old: its
    Sunday evening event, there last week and this, read as a burst against the median of two
    weeks, one of them a holiday's, and forecast at a fifth: bench --days 21, 2.7 times the
    error of "last week").
    `first` (N,): the epoch hour (UTC) of each row's first hour; with it, a whole day of
    "last week" that stands apart (DAY_APART) is its own day too, each of its hours though
    nearer than DAY_FAR."""
    k = BASE_NAMES.index("yesterday" if name == "naive24" else "last week")
    typical = BASE_NAMES.index("7-day median" if name == "naive24" else "4-week median")
    z, zm = bases[..., k], bases[..., typical]
    both = (bmask[..., typical] > 0) & (bmask[..., k] > 0)
    if seen is not None:
        both &= seen >= TYPICAL_MIN
    gap = np.where(both, z - zm, np.nan)
    shift = np.zeros(gap.shape[:-1])
    seen = np.isfinite(gap).any(axis=-1)
    shift[seen] = nanmedian(gap[seen], axis=-1)  # a sort: np.nanmedian takes 5x as long
    far = np.minimum(BURST, BURST_LOG / np.asarray(scale, np.float64))[:, None]  # (N, 1)
    burst = both & (np.abs(np.nan_to_num(gap - shift[..., None])) > far)
    if name == "naive168":  # a day of last week unlike its weeks, unlike today's level and
        # unlike the 7 days since (a holiday last Monday: "last week" forecast this Monday at a
        # tenth of its traffic, chosen at 90 % on the 14 days that had judged it well) is no
        # new level: not repeated. A commuter counter's weekdays after the holidays are unlike
        # its January weeks, but like the last 7 days: repeated
        now, d7 = BASE_NAMES.index("4-week median at today's level"), BASE_NAMES.index("7-day median")
        today = bases[..., now] - zm  # today's shift from the weeks (the same for every hour)
        day_far = np.minimum(far, DAY_FAR / np.asarray(scale, np.float64)[:, None])
        unlike_today = both & (bmask[..., now] > 0) & \
            (np.abs(np.nan_to_num(gap - today)) > day_far)
        unlike_days = (bmask[..., d7] > 0) & (np.abs(z - bases[..., d7]) > day_far)
        burst |= unlike_today & unlike_days
        if first is not None:
            # (today's shift where the 24 hours before had a count: else none, a review)
            burst |= days_apart(gap, gap - np.where(bmask[..., now] > 0, today, 0.0),
                                np.where(bmask[..., d7] > 0, z - bases[..., d7], np.nan), both,
                                scale, first)
    return burst, zm


DAY_APART = (float(np.log(1.3)), 1.5, 12)  # a day of "last week" whose hours sit, by their
# median, this far (log1p units) from its weeks at today's level and from the 7 days since,
# each the same way, and that many best-base errors at least (the median of 12 hours or more:
# its noise is a third of one), is a day of its own (a holiday the model does not know, an
# outage, a campaign): not repeated, each hour its weeks' median. A forecasting trial's
# Monday holiday at 0.6x (as a Sunday) was shown again the Monday after, 60 % "same hour last
# week": 35/h where the LSTM alone erred 17.6/h, the normal Monday flagged; only 4 of its hours
# were DAY_FAR (1.8x) from their weeks


def days_apart(gap: np.ndarray, moved: np.ndarray, since: np.ndarray, both: np.ndarray,
               scale: np.ndarray, first: np.ndarray) -> np.ndarray:
    """(N, H) hours of whole days of "last week" apart (DAY_APART) from its weeks (`gap`), from
    them at today's level (`moved`) and from its 7-day median (`since`, NaN where none), all
    three the same way, each (N, H) in z units (`scale` (N,) log1p units each); `first` (N,)
    the epoch hour of each row's first hour, the days split at each of DAY_STARTS. A normal
    Saturday after a busy Friday was apart from today's level and from the week's days (mostly
    weekdays), not from its own weeks (a review). Not a day in the holidays the model flags
    (features.holiday): it reads them as such (last week's Christmas Day was New Year's Day's
    best guess: melb_ped_s15, 1.06x -> 1.11x "last week")."""
    out = np.zeros(gap.shape, dtype=bool)
    far, z_min, hours = DAY_APART
    bar = np.maximum(far / np.asarray(scale, np.float64), z_min)[:, None]  # (N, 1)
    at_hour = np.asarray(first, np.int64)[:, None] + np.arange(gap.shape[1])
    usable = both & np.isfinite(since) & (holiday(at_hour) == 0)  # (N, H)
    for start in DAY_STARTS:  # a site's own midnight is not known here: days from each
        day = (at_hour - start) // 24
        day -= day[:, :1]  # 0, 1, 2 within each row
        for d in range(int(day.max()) + 1):
            at = (day == d) & usable
            enough = at.sum(axis=1) >= hours  # (N,)
            if not enough.any():
                continue
            med = [nanmedian(np.where(at, a, np.nan), axis=1)[:, None] for a in (gap, moved, since)]
            side = np.sign(med[0])
            apart = enough[:, None] & np.all([np.abs(m) > bar for m in med], axis=0) & \
                (np.sign(med[1]) == side) & (np.sign(med[2]) == side)
            # each hour of it on the day's side, itself that far: a normal hour beside an event
            # was replaced by noise alone in half of the windows (a review)
            out |= apart & at & (gap * side > bar)
    return out


DAY_STARTS = (0, 6, 12, 18)  # UTC hours a day of "last week" is taken to begin at (days_apart):
# a site's own midnight is not known to the forecast (its log's offset is read into the hours'
# order only). Split at UTC midnight alone, a holiday of a site at UTC+10 had 6 of its hours
# repeated (a review); an hour is replaced where it is itself as far on its day's side, and
# not in the holidays


LEAD_MAX = 3.0  # a day ahead's band is this many times as wide as the first day's at most
LEAD_LEVEL = 0.8  # the share of hours a day ahead that the band is widened to hold
LEAD_MIN_HOURS = 48  # judged hours a day ahead needs, at least, to widen its band


def lead_widths(v: np.ndarray, w, zq: np.ndarray, rows: np.ndarray, day: int, mid: int,
                gone: np.ndarray) -> tuple[float, ...]:
    """For each day ahead after the first that `zq` (the batch's scaled quantiles; `rows`: the
    past ones judged) forecast: how far its hours fell from the model's median, in the model's
    half-widths on their side (the LEAD_LEVEL quantile), against the same on the first day:
    the ratio, 1 at the least, non-decreasing with the days ahead, LEAD_MAX at most; () where
    the forecast is of a day or too few days were judged. A wandering level (a random walk of
    +-20 at 10,000) had 0.77 of its first day inside the band and 0.40 of its seventh, the
    band a third of what those days needed (a forecasting trial)."""
    h = zq.shape[1]
    if h <= day or not len(rows):
        return ()
    days = -(-h // day)  # (the last one maybe a part of a day: 30 hours ahead)
    o = w.origin[rows].astype(np.int64)
    at = o[:, None] + np.arange(h)[None, :]  # (R, h) the hours ahead
    inside = at < len(v)
    y = np.where(inside, v[np.minimum(at, len(v) - 1)], np.nan)
    ok = np.isfinite(y) & ~np.where(inside, gone[np.minimum(at, len(v) - 1)], True)
    lq = np.minimum(zq[rows, :h] * w.scale[rows, None, None] + w.loc[rows, None, None],
                    w.cap[rows, None, None])  # (R, h, Q)
    m = lq[..., mid]
    ly = np.log1p(np.clip(np.nan_to_num(y), 0, None))
    half = np.where(ly >= m, lq[..., -1] - m, m - lq[..., 0])
    pad = ((0, 0), (0, days * day - h))
    gap = np.pad(np.abs(ly - m) / np.maximum(half, MIN_HALF), pad).reshape(len(o), days, day)
    ok = np.pad(ok, pad).reshape(len(o), days, day)

    def level(d: int, upto: int) -> float:  # on the origins whose day `upto` ahead is counted
        use = o + day * (upto + 1) <= len(v)
        g = gap[use, d][ok[use, d]]
        return float(np.quantile(g, LEAD_LEVEL)) if len(g) >= LEAD_MIN_HOURS else float("nan")

    out, most = [], 1.0
    for d in range(1, days):
        k, first = level(d, d), level(0, d)  # on the same origins: their days alike
        if not (np.isfinite(k) and np.isfinite(first) and first > 0):
            break
        most = min(max(most, k / first), LEAD_MAX)
        out.append(round(most, 2))  # (to a hundredth: float32's noise in a quantile of
        # ratios is not a wider band, numpy's and torch's LSTM alike)
    return tuple(out)


def daily_change(v: np.ndarray) -> float:
    """The mean |count - the count 24 hours before| over a series' hours (MASE's scale; inf
    where no hour has one a day before)."""
    d = np.abs(v[24:] - v[:-24])
    d = d[np.isfinite(d)]
    return float(d.mean()) if len(d) else float("inf")


def counting_noise(centre: np.ndarray, lower: tuple[float, ...], upper: tuple[float, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(below, above): log1p units from `centre` (log1p of a count, (H, 1)) to the quantiles
    `lower` and `upper` of counting noise alone around it (Poisson, as a normal: +-1.28 times
    the root of the count for p10 and p90), each (H, len(quantiles))."""
    m = np.expm1(np.clip(centre, 0.0, None))
    z_lo = np.array([NormalDist().inv_cdf(q) for q in lower])[None, :]
    z_hi = np.array([NormalDist().inv_cdf(q) for q in upper])[None, :]
    below = centre - np.log1p(np.clip(m + z_lo * np.sqrt(m), 0.0, None))
    above = np.log1p(m + z_hi * np.sqrt(m)) - centre
    return below, above


def widen_to_hold(under: np.ndarray, over: np.ndarray, share: float,
                  most: float) -> tuple[float, float]:
    """(below, above): the least widening (their sum) of a band that holds `share` of the hours,
    given how far each fell under it and over it (> 0: outside on that side), each at most
    `most`."""
    need = max(int(np.ceil(share * len(under))) - int(((under <= 0) & (over <= 0)).sum()), 0)
    lo, hi = np.sort(under[under > 0]), np.sort(over[over > 0])
    best = (0.0, 0.0)
    for i in range(max(0, need - len(hi)), min(need, len(lo)) + 1):  # i of them below
        cut = (float(lo[i - 1]) if i else 0.0, float(hi[need - i - 1]) if need - i else 0.0)
        if i == max(0, need - len(hi)) or sum(cut) < sum(best):
            best = cut
    return min(best[0], most), min(best[1], most)


def counted_days(history: pd.Series) -> set[int]:
    """The days of the week (UTC, Monday 0) that hold a counted hour of `history`."""
    return set(history.index[np.isfinite(history.to_numpy(dtype=float))].day_of_week)


def unseen_days(seen: set[int], index: pd.DatetimeIndex) -> list[str]:
    """The days of the week the forecast's hours fall on that are not in `seen`
    (counted_days), in the forecast's order ("Sat", "Sun"); [] once a week of days is counted."""
    if len(seen) == 7:
        return []
    out: list[str] = []
    for d in index.day_of_week:
        name = DAY_NAMES[d]
        if d not in seen and name not in out:
            out.append(name)
    return out


WEEKEND_SPREAD = (0.78, 0.23)  # log units: a weekend day's level against the weekdays' is
# 0.46x to 1.26x (10th and 90th percentiles over the corpus's 78 series, both weekend days);
# a weekend forecast from weekdays alone widens by these (down, up), weekdays from a weekend
# alone by the reverse


def unseen_kind(seen: set[int], index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """(down, up) log units to widen each hour of `index` by: WEEKEND_SPREAD for an hour of a
    weekend (UTC) when the days `seen` (counted_days) hold no weekend day, reversed for a
    weekday hour when they hold no weekday; 0 otherwise."""
    weekend = np.asarray(index.day_of_week) >= 5
    down, up = np.zeros(len(index)), np.zeros(len(index))
    if seen and not seen & {5, 6}:
        down[weekend], up[weekend] = WEEKEND_SPREAD
    if seen and not seen - {5, 6}:
        down[~weekend], up[~weekend] = WEEKEND_SPREAD[::-1]
    return down, up


LATEST_HOURS = 3  # a day's hours outside the band that fade (a burst) widen it no further than
# they would at the distance from the median of the last this many of them on that side: the
# traffic's level now. A link on a news site (2,000 extra requests at 14:00, fading to 2x the
# usual by midnight) had the next day's 80 % band widened to 4.5 times its median, wider than
# the 98 % anomaly band (a forecasting trial)
FADED = (0.75, 0.5)  # ... fading: the last hours' median distance from the median under these
# shares of the upper quartile of all the hours outside, in log units (a ratio that holds: a day
# at 0.7x, its nights in a wider band, had lost most of its widening, 0.23 -> 0.03, a review)
# and in counts (a count added that holds: a crawler's steady 300 an hour on a site of 3,000,
# 1.5x at night and 1.1x by day, 0.23 of it in log units and 0.66 in counts, noisy, had its
# band's coverage 73 -> 64 %), both; the news link's 0.56 and 0.13


def latest(out: np.ndarray, dist: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """How far each hour fell outside the band on one side (> 0: outside); where those hours
    fade (FADED, against their upper quartile, by `dist`, log1p units from the median, and by
    `counts`, both > 0 on that side), each as if it were as far from the median as the last
    LATEST_HOURS outside are by their median, where it was further: a burst widens the band to
    where it has come down to, a level that holds (a ratio, a count added) to all of it."""
    out = np.asarray(out, dtype=np.float64)
    at = np.flatnonzero(out > 0)
    if not len(at):
        return out
    dist, counts = np.asarray(dist, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    last = at[-LATEST_HOURS:]
    now = float(np.median(dist[last]))
    if now >= FADED[0] * float(np.quantile(dist[at], 0.75)) or \
            float(np.median(counts[last])) >= FADED[1] * float(np.quantile(counts[at], 0.75)):
        return out
    return np.where(out > 0, out - np.clip(dist - now, 0.0, None), out)


def trailing_run(under: np.ndarray, over: np.ndarray) -> tuple[int, int] | None:
    """(hours, side) of the run of hours ending the arrays all outside the band on one side
    (over > 0: above, +1; under > 0: below, -1), when SURGE_HOURS or longer; else None."""
    for side, out in ((1, np.asarray(over) > 0), (-1, np.asarray(under) > 0)):
        if len(out) and out[-1]:
            inside = np.flatnonzero(~out)
            run = len(out) - (int(inside[-1]) + 1 if len(inside) else 0)
            return (run, side) if run >= SURGE_HOURS else None
    return None


def stuck_at(v: np.ndarray) -> tuple[float, int] | None:
    """(count, hours) when the last STUCK_HOURS observed hours or more all held one count other
    than 0: a count stuck at one value (a site gone but for a monitor's requests; a benchmark
    series' flat stretch, a value carried forward; a series constant from its first hour, whose
    band was 99.42-100.52 around 100). 0 is left to the outage rule (mask_outages). From
    STUCK_NEW_HOURS when the count is new at those hours (the same hours a day and a week
    before held it in fewer than half) and not 1."""
    at = np.flatnonzero(np.isfinite(v))
    seen = v[at]
    if len(seen) < STUCK_NEW_HOURS or seen[-1] == 0:
        return None
    count = seen[-1]
    moved = np.flatnonzero(seen != count)
    hours = len(seen) - (moved[-1] + 1) if len(moved) else len(seen)
    if hours >= STUCK_HOURS:
        return float(count), int(hours)
    if hours < STUCK_NEW_HOURS or count == 1:
        return None
    start = int(at[len(seen) - hours])  # the run's first hour in v
    for lag in (24, 168):
        if start >= lag:
            before = v[start - lag:start - lag + hours]
            before = before[np.isfinite(before)]
            if len(before) and (before == count).mean() >= 0.5:
                return None  # the site's own at these hours
    return float(count), int(hours)


STUCK_SURE = 0.9  # odds, at the least, that a stuck count still holds for its band to be the
# count alone (stuck_band)


def stuck_band(stuck: Forecast, usual: tuple[np.ndarray, np.ndarray, np.ndarray],
               hours: int) -> Forecast:
    """A count repeated for `hours` (stuck_at): the forecast `stuck`, its band widened to hold
    the band `usual` (p10, p50, p90: the site's usual hours; NaN where unknown) too where its
    p50 is another count (a series constant from its first hour has none), from the hour where
    the odds that the count still holds fall below STUCK_SURE. Those odds are hours / (hours +
    h) at h hours ahead: with nothing else known, a run lasts as long again as it has lasted,
    at even odds (the delta-t argument). Nothing tells a value carried forward that goes on from one
    about to end: a benchmark trial's series flat for their last 48-120 hours, then back on
    their daily cycle, had 0.3 % of the 48 hours ahead inside the band of the count alone.
    Their three last origins (own script): coverage 50 -> 91 %, MSIS 27.5 -> 9.9; where the
    count went on, MSIS 0 -> 6.8 (the width), where it came back 55.4 -> 16.1. The median
    stays the count (an earlier trial's series flat at a new level went on flat). Anomalies
    are still judged on the count alone: a count that moves is news."""
    ahead = np.arange(1, len(stuck.p50) + 1)
    low, mid, high = usual
    wide = ((hours / (hours + ahead) < STUCK_SURE) & np.isfinite(mid)
            & ~np.isclose(mid, stuck.p50, rtol=1e-6, atol=0.0))  # the usual hour is another count
    if not wide.any():
        return stuck
    first = int(ahead[wide][0])
    lo = np.where(wide, np.minimum(stuck.p10, low), stuck.p10)
    hi = np.where(wide, np.maximum(stuck.p90, high), stuck.p90)
    lo_a, hi_a = stuck.alarm()
    at = "the next hour" if first == 1 else f"{first} hours ahead"
    note = (f"Band spans the usual hours too from {at}: a count held {hours} hours may end any "
            "time (anomalies are judged on the count alone)")
    return replace(stuck, p10=lo, p90=hi, alarm_p10=lo_a, alarm_p90=hi_a, band_note=note)


def best_of(mae: dict[str, float], level: float = 0.0) -> str:
    """The candidate beside the LSTM that erred least; within a millionth of it or of the
    series' `level`, the first (the seasonal naives before the others: a series that repeats
    yesterday exactly is "yesterday", not a fit that repeats it to the 14th digit)."""
    others = {k: e for k, e in mae.items() if k != "lstm"}
    low = min(others.values())
    return next(k for k, e in others.items() if e <= low + 1e-6 * max(abs(low), level))


def trimmed_mean(days: np.ndarray) -> float:
    """Mean of per-day errors without the best and the worst day once there are TRIM_DAYS."""
    d = np.sort(days)
    return float(d[1:-1].mean() if len(d) >= TRIM_DAYS else d.mean()) if len(d) else np.nan


WARM_HOURS = 24  # the window's first hours, from its first count, where no memory reset is named


def gate_stats(inner: Internals | LSTMInternals, index: pd.DatetimeIndex, observed: np.ndarray) -> GateStats:
    """Summaries of one window's internals (batch of one) for the gate pane."""
    mats = {name: np.asarray(getattr(inner, attr)[0]) for name, attr in (
        ("forget", "forget_gate"), ("input", "input_gate"), ("output", "output_gate"),
        ("candidate", "candidate"), ("cell", "cell"), ("hidden", "hidden"))}  # each (T, U)
    lo, hi = SATURATED
    sat = {g: ((mats[g] < lo) | (mats[g] > hi)).mean(axis=1) for g in ("forget", "input", "output")}
    f = mats["forget"].mean(axis=1)
    reliance = {}
    if inner.mix is not None:  # (1, H, K): the mixture weights of the first day ahead
        from trafficwatch.model.features import BASE_NAMES

        w = np.asarray(inner.mix[0, :24]).mean(axis=0)
        reliance = {name: float(x) for name, x in zip(BASE_NAMES, w)}
    # a step whose hour is a gap (an hour no log covers, or the unfinished one) is no change of
    # traffic: a drop there is the model reading a hole ("dropped sharply 5 times this week
    # (last Thu 04 07:00)", 07:00 the hour in progress, a trial)
    seen = np.asarray(observed, dtype=bool)
    # nor is one in the window's first day (from its first hour with a count): the memory
    # fills from nothing there, and its swings are the model waking, not the traffic. A
    # trial's "Memory last reset: Sun 04 15:00" came a week after that hour, for the 3 hours
    # it was at the window's start, then went; the sample logs' windows, hour after hour, had
    # 11 such drops, each in a window or two, all in its first 13 hours
    awake = (int(np.argmax(seen)) if seen.any() else 0) + WARM_HOURS
    drops = [t for t in forget_drops(f) if t >= awake and (t >= len(seen) or seen[t])]
    return GateStats(index, observed, f, mats["input"].mean(axis=1), mats["output"].mean(axis=1),
                     sat, np.linalg.norm(mats["cell"], axis=1), mats, drops, reliance)


def forget_drops(forget_mean: np.ndarray, min_drop: float = 0.01, factor: float = 4.0) -> list[int]:
    """Steps where the mean forget gate fell by more than `factor` x its typical step change.

    The mean over units moves little (the default model: median step 0.004); its largest falls
    (about 0.02) line up with sudden traffic rises, e.g. x1.7-3.4 within an hour on World Cup 98.
    """
    d = np.diff(forget_mean)
    if not len(d):
        return []
    typical = float(np.median(np.abs(d)))
    threshold = max(min_drop, factor * typical)
    return [int(t) + 1 for t in np.flatnonzero(d < -threshold)]
