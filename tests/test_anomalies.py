"""Anomalies fire after the trigger window, clear after the recovery window, skip gaps."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from trafficwatch.engine.alerts import run_alert
from trafficwatch.engine.anomalies import detect

H = 3600


def scan(actual, trigger=1, recovery=1, low=10.0, high=20.0):
    a = np.asarray(actual, float)
    hours = np.arange(len(a)) * H
    return detect(hours, a, np.full(len(a), low), np.full(len(a), high), trigger, recovery)


def test_inside_the_band_is_no_anomaly():
    assert scan([15, 12, 19, 10, 20]) == []


def test_one_hour_above_fires_and_recovers():
    (ev,) = scan([15, 50, 15])
    assert ev.start == 1 * H and ev.end == 2 * H and ev.direction == 1
    assert ev.actual == 50 and not ev.active


def test_below_the_band_has_direction_minus_one():
    (ev,) = scan([15, 2, 3, 15])
    assert ev.direction == -1 and ev.peak_hour == 1 * H


def test_trigger_window_needs_consecutive_hours():
    assert scan([15, 50, 15, 50, 15], trigger=2) == []
    (ev,) = scan([15, 50, 60, 15], trigger=2)
    assert ev.start == 1 * H and ev.peak_hour == 2 * H


def test_recovery_window_keeps_the_event_open():
    (ev,) = scan([50, 15, 50, 15, 15], recovery=2)
    assert ev.start == 0 and ev.end == 4 * H


def test_still_outside_at_the_end_is_active():
    (ev,) = scan([15, 50, 70])
    assert ev.active and ev.peak_hour == 2 * H


def test_gaps_neither_trigger_nor_recover():
    (ev,) = scan([50, np.nan, np.nan, 15])
    assert ev.end == 3 * H


def test_a_swing_across_the_band_is_not_one_run():
    assert scan([50, 2, 15], trigger=2) == []


def test_bad_windows_are_refused():
    with pytest.raises(ValueError):
        scan([1], trigger=0)


def test_alert_command_gets_details_in_env_not_in_the_command_line(tmp_path: Path):
    (ev,) = scan([15, 50, 15])
    out = tmp_path / "out.txt"
    proc = run_alert(f'printf "%s|%s" "$TRAFFICWATCH_SITE" "$TRAFFICWATCH_DIRECTION" > {out}',
                     "evil$(touch pwned);`id`", ev)
    assert proc.wait(timeout=10) == 0
    assert out.read_text() == "evil$(touch pwned);`id`|above"
    assert not (Path(os.getcwd()) / "pwned").exists()


def test_crossing_from_below_to_above_is_two_events_each_with_its_direction():
    a = np.asarray([5, 0, 24, 5], float)
    events = detect(np.arange(4) * H, a, np.full(4, 1.0), np.full(4, 10.0))
    assert [(e.direction, e.start, e.end, e.actual) for e in events] == \
        [(-1, 1 * H, 2 * H, 0.0), (1, 2 * H, 3 * H, 24.0)]


def test_crossing_while_firing_starts_a_new_event_after_its_own_trigger_window():
    events = scan([15, 50, 60, 2, 3, 15], trigger=2)
    assert [(e.direction, e.start, e.end) for e in events] == [(1, 1 * H, 3 * H), (-1, 3 * H, 5 * H)]


def test_a_sites_first_days_are_not_judged_on_forecasts_made_from_under_three_days():
    """A 12-hour sawtooth, 3 days of it: its third day was flagged ("▼ 20 at 00:00 vs 57-96")
    against the day-ahead forecast made from two days, while today's forecast, made from
    three, is within 2 of it (a trial). A day-ahead forecast made from under 72 observed hours
    flags nothing; from a site's fourth day on, a dead stretch still is."""
    import pandas as pd

    from trafficwatch.engine.predict import predict
    from trafficwatch.engine.views import anomalies
    from trafficwatch.model.forecaster import Forecaster

    model = Forecaster.load()
    saw = np.roll(np.tile(np.arange(20, 140, 10, dtype=float), 14), -5)
    young = pd.Series(saw[:72], index=pd.date_range("2026-12-03 05:00", periods=72, freq="h",
                                                     tz="UTC"))
    assert anomalies(predict(young, model)) == ()
    older = saw[:24 * 6].copy()
    older[-4:] = 0.0  # the site went dead on its sixth day
    s = pd.Series(older, index=pd.date_range("2026-12-03 05:00", periods=len(older), freq="h",
                                             tz="UTC"))
    flagged = anomalies(predict(s, model))
    assert flagged and flagged[0].direction == -1 and flagged[0].active
    assert flagged[0].start <= int(s.index[-4].timestamp())
    # the hours counted are those the forecast reads: a log of under 3 days after one a year
    # old (secrepo's 2021 and 2022 logs, a trial) flags nothing either
    year = pd.Series(saw[:24 * 6], index=pd.date_range("2025-12-03 05:00", periods=24 * 6,
                                                        freq="h", tz="UTC"))
    both = pd.concat([year, young]).asfreq("h")
    both.iloc[-4:] = 0.0  # dead on its third day
    assert anomalies(predict(both, model)) == ()


def test_a_silence_goes_on_through_the_nights_whose_band_reaches_zero():
    """A trial: a site dead from 09:00 alerted then, and again at 06:00 the next day (its night
    hours' band reached 0, so a 0 read as back to normal), for an hour the screen never listed.
    A 0 where the band reaches 0 tells nothing of a silence: it neither ends it nor starts
    another; a count back inside the band ends it."""
    day = [0.64] * 15 + [0.0] * 9  # the band's low end: above 0 by day, 0 at night
    low = np.array(day * 3)
    actual = np.zeros(len(low))
    hours = np.arange(len(low)) * H
    (ev,) = detect(hours, actual, low, np.full(len(low), 17.0))
    assert ev.start == 0 and ev.active and ev.direction == -1
    actual[40:] = 5.0  # traffic back: cleared at its first hour
    (ev,) = detect(hours, actual, low, np.full(len(low), 17.0))
    assert ev.end == 40 * H
    quiet = np.full(24, 3.0)  # a quiet site's 0 in a band that reaches 0: no anomaly
    quiet[5] = 0.0
    assert detect(np.arange(24) * H, quiet, np.zeros(24), np.full(24, 9.0)) == []


def test_an_anomaly_running_from_the_first_hour_judged_says_it_began_before():
    """A replay trial: a week on, a day-long anomaly that began before the 7 days judged was
    listed "Thu 01 05:00-24:00", its start moving on an hour every hour as the week moved on.
    It is said to have begun before its first hour judged; one inside the week is as before."""
    import pandas as pd

    from trafficwatch.app.panes import anomaly_when
    from trafficwatch.engine.predict import predict
    from trafficwatch.engine.views import anomalies
    from trafficwatch.hours import epoch_seconds
    from trafficwatch.model.forecaster import Forecaster

    model = Forecaster.load()
    idx = pd.date_range("2026-10-05", periods=24 * 35, freq="h", tz="UTC")
    rate = 200 + 120 * np.sin(2 * np.pi * (idx.hour.to_numpy() - 8) / 24)
    v = np.random.default_rng(2).poisson(rate).astype(float)
    n = len(v)
    v[n - 8 * 24 - 10:n - 6 * 24] = 0  # an outage from 8 days back, for 2 days
    v[n - 30:n - 27] = 0  # and one of 3 hours yesterday, inside the week
    listed = anomalies(predict(pd.Series(v, index=idx), model))
    first = [a for a in listed if a.start < idx[n - 6 * 24].timestamp()]
    assert first and first[-1].clipped, listed
    when, run = anomaly_when(first[-1], 0)  # by its end alone: its start is not known
    assert run and when == "until " + pd.Timestamp(first[-1].end, unit="s").strftime(
        "%a %d %H:00"), when
    outage = [a for a in listed if a.direction < 0 and a.start >= idx[n - 30].timestamp()]
    assert outage and not outage[0].clipped
    assert not anomaly_when(outage[0], 0)[0].startswith("until")
    # one hour alone at the first hour judged is its own (a trial: "▲ before Tue 29 02:00"
    # for an hour whose hour before was known and normal)
    w = np.random.default_rng(2).poisson(rate).astype(float)
    p = predict(pd.Series(w, index=idx), model)
    start = p.past_hours[np.argmax(np.isfinite(p.past_alarm_hi))]
    w[int(np.searchsorted(epoch_seconds(idx), start))] *= 5  # its first hour judged, alone
    lone = [a for a in anomalies(predict(pd.Series(w, index=idx), model)) if a.start == start]
    assert lone and not lone[0].clipped and anomaly_when(lone[0], 0)[0] == pd.Timestamp(
        start, unit="s").strftime("%a %d %H:00")
