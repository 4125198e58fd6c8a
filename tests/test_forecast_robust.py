"""The shipped model on every shape a site can take: no blow-ups, never far behind seasonal naive."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from trafficwatch.engine.predict import predict
from trafficwatch.model.baselines import naive24, naive168
from trafficwatch.model.evaluate import backtest, summarize
from trafficwatch.model.forecaster import Forecaster

HOURS = pd.date_range("2026-01-05", periods=24 * 28, freq="h", tz="UTC")


@pytest.fixture(scope="module")
def shipped() -> Forecaster:
    return Forecaster.load(None)


def series(values: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=HOURS[:len(values)])


def daily_cycle(rng: np.random.Generator, level: float, n: int = 24 * 28) -> np.ndarray:
    t = np.arange(n)
    shape = 1 + 0.6 * np.sin(2 * np.pi * (t % 24 - 8) / 24)
    return rng.poisson(level * shape).astype(float)


def families() -> dict[str, np.ndarray]:
    """Seeded series of the shapes the issue names."""
    rng = np.random.default_rng(7)
    n = 24 * 28
    t = np.arange(n)
    out = {
        "constant": np.full(n, 27.0),
        "constant, not a whole number": np.full(n, 1234.5),
        "tiny variation on a high level": 27 + 2.3 * np.sin(2 * np.pi * t / 24)
        + rng.uniform(-0.1, 0.1, n),
        "sparse 0-3 an hour": rng.poisson(0.8, n).astype(float),
        "all zero": np.zeros(n),
        "step up three days ago": np.where(t < n - 72, 1.0, 3.0) * daily_cycle(rng, 100, n),
        "trend": daily_cycle(rng, 50, n) * (1 + 2 * t / n),
        "spike yesterday": daily_cycle(rng, 200, n),
        "long gap": daily_cycle(rng, 80, n),
        "young site, two days": daily_cycle(rng, 120, 48),
        "huge level": daily_cycle(rng, 1e6, n),
    }
    out["spike yesterday"][-20] *= 50
    out["long gap"][-150:-78] = np.nan
    return out


@pytest.mark.parametrize("name", list(families()))
def test_every_family_gets_a_sane_ordered_forecast_a_week_ahead(shipped, name):
    v = families()[name]
    s = series(v)
    f = shipped.forecast(s, 168)
    q = np.stack([f.p10, f.p50, f.p90])
    assert np.isfinite(q).all() and (q >= 0).all()
    assert (f.p10 <= f.p50).all() and (f.p50 <= f.p90).all()
    top = np.nanmax(v[-1008:])
    assert f.p90.max() <= 2 * (top + 1) + 1e-6, "no forecast above twice the largest hour seen"
    if name.startswith("constant") or name == "all zero":
        np.testing.assert_allclose(f.p50, v[-1], atol=0.5)  # a flat series stays flat
        assert (f.p90 - f.p10).max() <= max(1.0, 0.02 * v[-1])  # 2 % of the level at most
        # and the band holds the level itself (a median round-tripped through log1p came back
        # as 27.000000000000004, and a band collapsed onto it missed every hour)
        assert ((f.p10 <= v[-1]) & (v[-1] <= f.p90)).all()
    if name == "step up three days ago":
        assert f.p50[:24].mean() > 2.0 * v[-400:-100].mean()  # follows the new level
    if name == "spike yesterday":
        assert f.p50[:24].max() < 3 * np.median(v[-200:-30]) * 1.6  # not repeated tomorrow


@pytest.mark.parametrize("name", ["tiny variation on a high level", "sparse 0-3 an hour", "trend",
                                  "step up three days ago", "long gap"])
def test_never_much_worse_than_the_better_seasonal_naive(shipped, name):
    s = series(families()[name])
    table = summarize(backtest(s, {"lstm": shipped.as_function(), "naive24": naive24,
                                   "naive168": naive168}, days=7, horizon=24))
    best_naive = min(table.loc["naive24", "mase"], table.loc["naive168", "mase"])
    # a tripling three days ago: "same hour yesterday" has the new level after one day, the
    # model's 4-week memories lag it a day or two more. The model trained with trends (2026-12-03)
    # lags a day more here (1.10x; 1.06x before), while on the 81 bench series with a tripling or
    # a drop to a third 3 to 6 days before their end it does as well or better (bench/forecast.py
    # --step 3 --step-days 3 6: mean MASE 2.149 -> 2.120, see models/README.md)
    bound = 1.15 if name == "step up three days ago" else 1.1
    assert table.loc["lstm", "mase"] <= bound * best_naive, table


def test_a_site_that_repeats_last_week_exactly_gets_last_week(shipped):
    rng = np.random.default_rng(3)
    week = 30000 * rng.uniform(0.3, 1.0, 168)  # an arbitrary but exactly weekly shape
    s = series(np.tile(week, 4))
    f = shipped.forecast(s.iloc[:-24], 24)
    err = np.abs(f.p50 - s.to_numpy()[-24:]).mean()
    assert err <= 0.05 * np.abs(week - np.roll(week, 24)).mean()  # far better than yesterday
    assert "last week" in f.choice or "better than" in f.choice


def test_a_blog_with_a_dead_day_keeps_a_band_the_data_justifies(shipped):
    """142-404 requests an hour, and a day the log counted nothing (the case that drew p90 at
    5,579 and past forecasts at 0 for whole days)."""
    rng = np.random.default_rng(11)
    v = np.clip(daily_cycle(rng, 260), 142, 404)
    v[-5 * 24:-4 * 24] = 0.0
    s = series(v)
    p = predict(s, shipped)
    assert p.p90.max() <= 2 * 405  # the chart's scale stays within twice the data's
    assert np.median(p.p90[:24] / np.maximum(p.p50[:24], 1)) < 3.0
    days = p.past_p50.reshape(-1, 24)
    assert (days.max(axis=1) > 100).all(), "a past day-ahead forecast sits at 0 for a whole day"


@pytest.mark.parametrize("seed", [0, 1])
def test_a_high_level_with_a_few_requests_of_noise_gets_a_band_of_that_noise(shipped, seed):
    """1,000,000 +- 5 an hour: the band was +-1,000 to +-4,800 (the conformal fix narrowed it by
    as many log1p units in every hour: the model's widest hours kept thousands, its narrowest
    would have collapsed), a band the data cannot justify."""
    rng = np.random.default_rng(seed)
    s = series(1e6 + rng.integers(-5, 6, 24 * 28))
    f = shipped.forecast(s, 24)
    half = (f.p90 - f.p10) / 2
    assert half.max() <= 50, half  # ten times the noise at most
    assert half.min() >= 1, half  # and no hour collapsed onto its median
    table = summarize(backtest(s, {"lstm": shipped.as_function()}, days=7))
    assert 0.65 <= table.loc["lstm", "coverage"] <= 0.95, table  # still an 80 % band


def test_a_night_of_a_request_or_two_keeps_0_in_its_band(shipped):
    """300 an hour by day, about one at night: a night hour's band of 0.2-2.2 around a median
    of 1.0 left out 0, the commonest count there (a trial: 17 of 35 night hours inside). Below
    a few requests an hour, the low edge is never above counting noise's."""
    idx = pd.date_range("2026-01-05", periods=24 * 35, freq="h", tz="UTC")
    day = (idx.hour >= 8) & (idx.hour < 20)
    rate = np.where(day, 300.0, 0.8)
    for seed in range(3):
        s = pd.Series(np.random.default_rng(seed).poisson(rate).astype(float), index=idx)
        f = shipped.forecast(s, 24)
        low = f.p50 < 1.5
        assert low.sum() >= 6, f.p50
        assert (f.p10[low] == 0).all(), (f.p10[low], f.p50[low])
        busy = f.p50 > 100  # by day, the band as the model has it: not floored
        assert (f.p10[busy] > 0.6 * f.p50[busy]).all()


def test_a_site_nine_days_old_keeps_a_band_no_narrower_than_counting_noise(shipped):
    """1,250 an hour on a daily cycle, weekends at 60 %, launched 9 days ago: 2 days judged
    narrowed the band to +-30 at 1,400 an hour, where counting alone spreads +-48."""
    idx = pd.date_range("2026-11-25 19:00", periods=9 * 24, freq="h", tz="UTC")
    hour, weekend = idx.hour.to_numpy(), idx.day_of_week.to_numpy() >= 5
    mu = 1250 * (1 - 0.6 * np.cos(2 * np.pi * (hour - 3) / 24)) * np.where(weekend, 0.6, 1.0)
    for seed in range(2):
        s = pd.Series(np.random.default_rng(seed).poisson(mu).astype(float), index=idx)
        f = shipped.forecast(s, 24)
        half = (f.p90 - f.p10) / 2
        assert half.mean() >= 0.8 * (1.2816 * np.sqrt(f.p50)).mean(), (half, f.p50)


def test_a_sparse_site_s_zeros_are_inside_a_band_of_0_to_0(shipped):
    """0.1 requests an hour: the band 0-0 holds nine hours in ten. The last day's zeros, a hair
    below a median of 1e-10, were counted outside it, and the forecast said "Band widened: the
    last day had 0 of its 24 hours inside it"."""
    rng = np.random.default_rng(3)
    s = series(rng.poisson(0.1, 24 * 28))
    f = shipped.forecast(s, 24)
    assert f.band_note == ""
    assert (f.p90 < 0.5).mean() >= 0.5  # the band is 0-0 in most hours, as 0.1 an hour is


def test_hours_cut_to_the_cap_keep_their_band_below_it_and_say_so(shipped):
    """Traffic growing fivefold over six weeks, forecast a week ahead: its farthest hours were
    cut to twice the highest hour at p10, p50 and p90 alike (3735, 3735, 3735: a trial)."""
    rng = np.random.default_rng(1)
    t = np.arange(1008)
    mu = 10 * (1 + 0.5 * np.sin(2 * np.pi * t / 24) + 0.2 * np.sin(2 * np.pi * t / 168))
    s = pd.Series(rng.poisson(mu * np.exp(t / 1008 * 5)).astype(float),
                  index=pd.date_range("2026-01-05", periods=1008, freq="h", tz="UTC"))
    f = shipped.forecast(s, 168)
    top = 2 * s.max()  # the cap: twice the highest hour (it had been twice it plus one)
    assert f.p90.max() <= top + 1e-6
    at_cap = np.isclose(f.p50, top)
    assert at_cap.any()  # (else this series tests nothing)
    assert (f.p10[at_cap] < 0.95 * top).all(), f.p10[at_cap]
    said = re.search(r"(\d+) hours? of 168 reach(?:es)? twice the highest hour", f.choice)
    assert said and int(said[1]) == at_cap.sum(), f.choice


def test_forty_eight_and_a_hundred_sixty_eight_hours_are_forecast_not_refused(shipped):
    s = series(families()["trend"])
    for h in (24, 48, 168):
        f = shipped.forecast(s, h)
        assert len(f.p50) == h and f.index[0] == s.index[-1] + pd.Timedelta(hours=1)
    with pytest.raises(ValueError, match="1..168"):
        shipped.forecast(s, 169)


def test_a_forecast_said_to_be_a_seasonal_naive_is_that_naive(shipped):
    """When the recent check shows 'same hour yesterday' alone, its numbers are yesterday's
    (the LSTM's median was shown under that name when its share was 0)."""
    day = np.round(20 + 30 * (1 + np.sin(np.arange(24) / 24 * 2 * np.pi)))
    s = series(np.tile(day, 28))
    f = shipped.forecast(s, 24)
    assert f.model == "naive24" and f.choice.startswith("same hour yesterday")
    # `forecast` prints this choice and has no gate pane; the app's pane adds that it does
    assert "gates" not in f.choice
    assert predict(s, shipped).choice.endswith("; lstm:default's gates are still shown")
    np.testing.assert_allclose(f.p50, day, rtol=1e-9)
    assert (f.p10 <= f.p50).all() and (f.p50 <= f.p90).all()


def test_a_site_judged_on_a_few_days_keeps_half_of_the_lstm(shipped):
    # eleven days old, "same hour yesterday" right to the request on its last days: a few
    # lucky days took the forecast to the naive alone, which for sites 8 to 13 days old cost the
    # bench (--days 14) 0.734 -> 0.749 (24 h) and 0.816 -> 0.845 (48 h); judged on 3 weeks it may
    rng = np.random.default_rng(11)
    day = daily_cycle(rng, 80, 24)
    young = series(np.concatenate([daily_cycle(rng, 80, 24 * 6), np.tile(day, 5)]))
    r = shipped.recent(young)
    assert r.held and r.weights["lstm"] == 0.5
    assert ("fewer than 6 days keeps at least half of the LSTM" in r.describe("lstm"))
    # the better blend's own figure is said, below this one's ("more of yesterday would have
    # done better (23.7/h alone; this blend 22.9/h)" read as a contradiction, a trial)
    said = re.search(r"(a blend with more of same hour yesterday|same hour yesterday alone) did "
                     r"better [a-z0-9 ]+ \(([\d.]+)/h; this blend ([\d.]+)/h, ",
                     r.describe("lstm"))
    assert said and float(said[2]) < float(said[3]), r.describe("lstm")
    assert r.describe("lstm").count(f"({said[2]}/h;") == 1  # the better one's figure, once
    # where the naive alone did best it is said once ("a blend with more of same hour last week
    # did better (1.75/h; ... same hour last week alone 1.75/h)", a review)
    spiky = np.array([5, 3, 2, 2, 3, 8, 40, 300, 20, 15, 400, 10, 10, 500, 30, 20, 20, 600, 50,
                      40, 30, 20, 10, 8], float)
    # (+-10 % a day: at +-3 % the LSTM erred more than "last week" by 13 times the series' own
    # change from a day to the next, and a naive that much better is no luck: YOUNG_LUCK)
    v = np.tile(spiky, 11)[:250] * np.random.default_rng(2).uniform(0.9, 1.1, 250)
    text = shipped.forecast(series(v), 24).choice
    alone = re.search(r"same hour (yesterday|last week) alone did better [a-z0-9 ]+ "
                      r"\(([\d.]+)/h; this blend [\d.]+/h, \S+ alone", text)
    assert alone and text.count(f"{alone[2]}/h") == 1, text
    old = series(np.concatenate([daily_cycle(rng, 80, 24 * 7), np.tile(day, 21)]))
    r = shipped.recent(old)
    assert not r.held and r.weights.get("lstm", 0.0) < 0.5


@pytest.mark.parametrize("days", [3, 6, 7])
def test_a_young_site_keeps_no_half_of_an_lstm_far_off_nor_its_band(shipped, days):
    """1,000,000 +- 5 an hour, 3 to 6 days old: the half of the LSTM a young site keeps put the
    forecast 500 times as far off as "yesterday" (the LSTM's median is a thousandth of the level
    off there), and its band was +-4,000 where counting noise alone is +-1,300 (a trial); 7
    days old, with last week for its forecast and none for its days before, the LSTM alone was
    shown unjudged (a recheck)."""
    rng = np.random.default_rng(5)
    n = 24 * days
    s = series(1e6 + np.round(5 * np.sin(2 * np.pi * np.arange(n) / 24)) + rng.integers(-2, 3, n))
    r = shipped.recent(s)
    assert not r.held and r.weights == {"naive24": 1.0}, r.describe("lstm")
    f = shipped.forecast(s, 24)
    np.testing.assert_allclose(f.p50, naive24(s, 24)[:, 1], rtol=1e-9)
    half = (f.p90 - f.p10) / 2
    noise = 1.2816 * np.sqrt(1e6)  # p10-p90 of counting alone, each side
    assert (half <= 1.05 * noise).all() and (half >= 0.95 * noise).all(), half


def test_a_blend_shown_gives_its_own_error_beside_both_of_its_parts(shipped):
    # "80% lstm, 20% same hour last week: the blend did best (lstm alone 0.0787/h, same hour
    # last week 0.0155/h)" read as a blend shown where the naive alone was 5x better: the
    # blend's own error on those days is what makes the choice, and the pane gives it first
    import re

    rng = np.random.default_rng(0)
    n = 24 * 28
    weekends = np.where((np.arange(n) // 24) % 7 >= 5, 0.4, 1.0)
    v = rng.poisson(daily_cycle(rng, 80, n) * weekends * rng.uniform(0.7, 1.3, n))
    r = shipped.recent(series(v))
    assert 0 < r.weights["lstm"] < 1
    words = r.describe("lstm")
    blend, lstm, naive = (float(x) for x in re.findall(  # beside "same hour last week" or
        # the 2 weeks' daily and weekly shape (weekends at 0.4x)
        r"\((\S+)/h; lstm alone (\S+)/h, (?:same hour last week|the last 2 weeks' daily and "
        r"weekly shape and trend) (\S+)/h\)", words)[0])
    assert blend == pytest.approx(r.blend_mae, abs=0.05)
    assert blend <= min(lstm, naive)


def test_a_burst_yesterday_is_not_forecast_again_through_the_naive_share(shipped):
    # 3,000 requests more in one hour of a 130-an-hour site: with 20 % "same hour yesterday"
    # in the blend the same hour today was forecast at 690, ten times the typical hour
    t = np.arange(24 * 21)
    for seed in (0, 3):
        rng = np.random.default_rng(seed)
        v = rng.poisson(130 * (1 + 0.5 * np.sin(2 * np.pi * (t % 24 - 8) / 24))).astype(float)
        v[-20] += 3000
        f = shipped.forecast(series(v), 24)
        typical = np.median(v[-20 - 24 * 7:-20:24])
        assert f.p50[4] < 2 * typical, (seed, f.choice_short, f.p50[4], typical)
        # the next hour alone (the /metrics gauge) is the 24 h forecast's first hour: a burst
        # 24 hours before it is not repeated there either
        v[-24] += 3000
        one, day = shipped.forecast(series(v), 1), shipped.forecast(series(v), 24)
        assert one.p50[0] == pytest.approx(day.p50[0]) and one.p50[0] < 2 * v[-48]


def stepped(seed: int, days: int = 28, factor: float = 3.0, since: int = 54) -> pd.Series:
    """A daily cycle of 100 an hour that turns `factor` times busier `since` hours before its
    end (a launch, a campaign, a new crawler)."""
    rng = np.random.default_rng(seed)
    t = np.arange(24 * days)
    level = 100 * (1 + 0.6 * np.sin(2 * np.pi * (t % 24 - 8) / 24))
    return series(rng.poisson(level * np.where(t < len(t) - since, 1.0, factor)))


def test_a_day_that_broke_from_the_band_widens_the_band_drawn_not_the_anomalies(shipped):
    """The band is calibrated on the last 14 days; after a level change yesterday those days say
    little about tomorrow (bench/forecast.py --step 3 --step-days 3 6: 61-68 % coverage). The
    band drawn then spans the last day's errors; the anomaly band stays the usual one."""
    drawn, alarm = [], []
    for seed in range(4):
        s = stepped(seed, since=44)  # 20 hours before the forecast: younger than a day, it
        # is not yet read as a new level (features.level_shift)
        f = shipped.forecast(s.iloc[:-24], 24)
        a10, a90 = f.alarm()
        assert re.search(r"the last day had [0-4] of its 24 hours inside it", f.band_note)
        assert (f.p10 <= a10).all() and (f.p90 >= a90).all() and (f.p90 > a90).any()
        assert f.p90.max() <= 2 * (s.max() + 1)  # wider, not absurd
        y = s.to_numpy()[-24:]
        drawn.append(((y >= f.p10) & (y <= f.p90)).mean())
        alarm.append(((y >= a10) & (y <= a90)).mean())
    assert np.mean(drawn) >= 0.8 and np.mean(drawn) >= np.mean(alarm), (drawn, alarm)
    steady = shipped.forecast(series(daily_cycle(np.random.default_rng(5), 100)), 24)
    assert steady.band_note == ""
    np.testing.assert_array_equal(np.stack(steady.alarm()), np.stack([steady.p10, steady.p90]))


def test_a_day_that_fell_below_the_band_widens_it_below_only(shipped):
    """A load of 20,000 +- 6,000 a day that fell by 8,000 30 hours ago: the band drawn reaches
    down to the new level and keeps its top (widened on both sides alike, its p90 went to twice
    the series' highest hour, 53,000 against 26,600). 20 hours ago here: a fall of a day and
    more is read as a new level (features.level_shift), the band then calibrated at it."""
    hours = pd.date_range("2026-01-05", periods=24 * 40, freq="h", tz="UTC")
    t = np.arange(len(hours))
    for seed in range(2):
        rng = np.random.default_rng(seed)
        y = (20000 + 6000 * np.sin(2 * np.pi * (t - 6) / 24) - 3000 * ((t // 24) % 7 == 6)
             + rng.normal(0, 300, len(t)))
        y[-20:] -= 8000
        f = shipped.forecast(pd.Series(np.round(y), index=hours), 24)
        a10, a90 = f.alarm()
        assert re.search(r"^Band widened below: the last day had [0-4] of its 24 hours inside it",
                         f.band_note), f.band_note
        np.testing.assert_array_equal(f.p90, a90)  # the top as it was
        assert f.p90.max() < y.max()
        assert (f.p10 < a10).all()
        # the day just ended, at the new level, would be inside (at the same hours tomorrow)
        assert (f.p10 <= y[-24:]).mean() >= 0.8


def test_widening_the_band_drawn_leaves_the_anomalies_as_they_were(monkeypatch):
    from trafficwatch.model import forecaster

    s = stepped(1, since=116)  # 20 hours before the midnight of the fifth last day: that
    # day's forecast follows a day that broke, younger than a new level (features.level_shift)
    s.iloc[-58] = 0.0  # and a dead hour the day after it, when the band drawn is widened
    from trafficwatch.engine.site_forecasts import site_forecast

    p = predict(s, Forecaster.load())  # a fresh model each: past forecasts are cached per model
    site = site_forecast(s.iloc[:-57], Forecaster.load(), None)  # every site's, for alerts
    monkeypatch.setattr(forecaster, "BROKE_SHARE", 0.0)  # never widen
    monkeypatch.setattr(forecaster, "SURGE_HOURS", 10**6)  # (nor for the hours ending it)
    q = predict(s, Forecaster.load())
    assert site_forecast(s.iloc[:-57], Forecaster.load(), None).events == site.events
    assert site.anomaly == -1  # the dead hour, the last one of this cut
    assert not np.array_equal(p.past_p90, q.past_p90), "no past day's band was widened"
    np.testing.assert_array_equal(p.past_alarm_lo, q.past_alarm_lo)
    np.testing.assert_array_equal(p.past_alarm_hi, q.past_alarm_hi)
    assert p.anomalies == q.anomalies
    assert any(e.peak_hour == int(s.index[-58].timestamp()) for e in p.anomalies)


@pytest.mark.parametrize(("length", "ago", "cycle"), [
    (8, 0, (60, 50, 9)), (8, 8, (60, 50, 9)), (8, 16, (60, 50, 9)), (24, 0, (60, 50, 9)),
    (48, 0, (150, 100, 6)), (48, 3, (150, 100, 6)), (120, 1, (150, 100, 6)),
    (120, 6, (150, 100, 6))])
def test_an_outage_is_not_forecast_as_a_fall_of_traffic(shipped, length, ago, cycle):
    """Zeros where the hour has held 60-110 every day: the log broke, traffic did not stop.
    The hours after it are forecast as before it (a trial: the next day's band was 0-9.7 and
    ordinary traffic after the outage was flagged as a surge). Two days of it on a cycle of
    50-250 an hour, lowest at midnight: the candidates were judged on its zeros, and "the last
    hour", nearest 0, was shown, one count all day (ended 3 hours before, too). Five days of
    it, then traffic back: its last days were read as the new normal and "the last hour" shown."""
    rng = np.random.default_rng(3)
    n = 24 * 28
    t = np.arange(n + 24)
    level, swing, low = cycle
    mean = level + swing * np.sin(2 * np.pi * (t % 24 - low) / 24)
    v = rng.poisson(mean[:n]).astype(float)
    v[n - ago - length:n - ago] = 0
    f = shipped.forecast(series(v), 24)
    truth = mean[n:]
    assert np.mean(f.p50 / truth) > 0.85 and np.min(f.p50 / truth) > 0.6
    assert (f.p90 >= 0.95 * truth).all()
    said = "hours were at 0, read as an outage or a break in the log: the forecast is the " \
        "traffic that would have been; "
    assert (said in f.choice) == (ago == 0), f.choice  # (ended, it is not the series' end)
    # and in a narrow pane's few words (at 80 columns they had said nothing of it: a trial)
    assert f.choice_short.endswith(f"; last {length} h at 0: outage, usual forecast") == \
        (ago == 0), f.choice_short


@pytest.mark.parametrize(("length", "ago"), [(24, 6), (92, 16), (120, 40)])
def test_a_count_stuck_then_moving_again_is_not_read_as_traffic(shipped, length, ago):
    """A logger (or a benchmark's series) repeated one count for 1-5 days, then moved on: a
    generated series of that kind was forecast with the stuck count as "last week", its 7-day
    medians and a burst rule's typical hour (MASE 2.31 the day after against "yesterday"'s
    0.94). Its hours are read as the days before it, as an outage's: the next day is the cycle's,
    and better than yesterday's (which still holds the stuck hours where ago < 24)."""
    rng = np.random.default_rng(11)
    n = 24 * 28
    t = np.arange(n + 24)
    mean = 500 + 300 * np.sin(2 * np.pi * (t % 24 - 6) / 24)
    v = rng.poisson(mean[:n]).astype(float)
    first = n - ago - length
    v[first:n - ago] = v[first]
    f = shipped.forecast(series(v), 24)
    truth = mean[n:]
    assert 0.9 < np.mean(f.p50 / truth) < 1.1 and np.min(f.p50 / truth) > 0.75, f.choice
    assert np.mean(np.abs(f.p50 - truth)) < 0.8 * np.mean(np.abs(v[-24:] - truth)) or ago >= 24
    assert np.mean((f.p10 <= truth) & (truth <= f.p90)) >= 0.75


def test_a_sites_own_steady_hours_and_a_count_still_stuck_stay_as_they_are():
    """Nights at exactly 60 (a monitor alone) every night are the site's traffic, as is a
    count of 1 repeated (a quiet site) and a run the series ends in (the forecast shows that
    count: stuck_at); only a run new at its hours that the series left is filled."""
    from trafficwatch.model.features import mask_stuck

    t = np.arange(24 * 21)
    day = np.where(t % 24 < 12, 60.0, 60.0 + 200 * np.sin(np.pi * (t % 24 - 12) / 12))
    assert np.array_equal(mask_stuck(day), day)
    quiet = np.where(t % 24 < 14, 1.0, 3.0)
    assert np.array_equal(mask_stuck(quiet), quiet)
    # weekends a monitor's alone from the first week on: no week before the first to tell it
    # is the site's own (it was filled with weekday traffic, for good: a review)
    office = np.where((t // 24) % 7 >= 5, 60.0, 60.0 + 200 * (1 + np.sin(2 * np.pi * t / 24)))
    assert np.array_equal(mask_stuck(office[:24 * 12]), office[:24 * 12])
    late = np.concatenate([np.full(200, np.nan), office[:24 * 12]])  # a week from the first count,
    assert np.array_equal(mask_stuck(late), late, equal_nan=True)  # not the first hour (a review)
    assert np.array_equal(mask_stuck(office), office)
    w = day.copy()
    w[-30:] = 250.0
    assert np.array_equal(mask_stuck(w), w)
    w[-1] = 240.0  # moved on: the run is filled from the week before it, at its level
    out = mask_stuck(w)
    assert np.allclose(out[-30:-1], day[-30:-1], rtol=0.02) and out[-1] == 240.0


def test_a_site_silent_for_four_days_is_forecast_at_0_and_said_so(shipped):
    """A trial's site stopped and stayed at 0: after 5 days of it the forecast was its old
    level (p10 5 and up, every hour outside the band), and nothing said why: the silence was
    filled as an outage for the 4 days its hours' medians held traffic."""
    rng = np.random.default_rng(6)
    t = np.arange(24 * 28)
    v = rng.poisson(150 + 100 * np.sin(2 * np.pi * (t % 24 - 6) / 24)).astype(float)
    for hours in (96, 120):
        w = v.copy()
        w[-hours:] = 0
        f = shipped.forecast(series(w), 48)
        assert f.p50.max() < 5 and (f.p10 == 0).all(), f.choice
        assert f.choice.startswith(f"The last {hours} hours were at 0, read as the traffic "
                                   "now; "), f.choice


def test_only_an_outage_is_filled_in_and_a_long_one_becomes_the_new_normal():
    from trafficwatch.model.features import OUTAGE_LEVEL, mask_outages

    rng = np.random.default_rng(4)
    t = np.arange(24 * 21)
    night = t % 24 < 6
    v = rng.poisson(np.where(night, 3.0, 80.0)).astype(float)
    quiet = v.copy()
    quiet[night & (t > 72)] = 0  # quiet nights: zeros where 0-8 is usual are traffic
    assert np.array_equal(mask_outages(quiet), quiet)
    w = v.copy()
    w[24 * 10 + 4:24 * 10 + 10] = 0  # 04:00-10:00: the run reaches hours of 80
    filled = mask_outages(w)
    assert (filled[24 * 10 + 6:24 * 10 + 10] >= OUTAGE_LEVEL).all()  # the day hours
    assert (filled[24 * 10 + 4:24 * 10 + 6] > 0).all()  # and the quiet hours of the same run
    assert np.array_equal(filled[:24 * 10 + 4], w[:24 * 10 + 4])
    dead = v.copy()
    dead[24 * 14:] = 0  # the site is gone for good: a week of zeros
    for days in (1, 3):  # under four days of it at the end, it is an outage so far
        assert (mask_outages(dead[:24 * (14 + days)])[24 * 14:] > 0).all()
    for days in (4, 7):  # from four days on, zero is what the hours hold, from the first one:
        # filled for 4 days and 0 after, a site silent for 5 days was forecast at its old level
        assert (mask_outages(dead[:24 * (14 + days)])[24 * 14:] == 0).all()
    out = mask_outages(dead)
    back = dead.copy()
    back[-3:] = v[-3:]  # ... until the site is back: the whole silence was an outage
    out = mask_outages(back)
    assert (out[24 * 14:-3] > 0).all() and np.array_equal(out[-3:], v[-3:])
    lone = dead.copy()
    lone[-3] = 1  # a lone request is not the site back
    assert np.array_equal(mask_outages(lone)[24 * 19:], lone[24 * 19:])
    office = np.where(t % 24 // 10 == 1, v, 0.0)  # a site busy 10:00-20:00 only, 0 at night:
    office[24 * 14:24 * 20] = 0  # the day before its silence has 10 hours of counts, not 12
    out = mask_outages(office)  # (filled by the rule for a day before with 12 or more)
    days = (t >= 24 * 14) & (t < 24 * 20) & (t % 24 // 10 == 1)
    assert (out[days] > 20).all() and (out[(t >= 24 * 14) & (t < 24 * 20) & ~days] == 0).all()


def test_a_site_silent_for_weeks_is_forecast_at_0_with_no_band(shipped):
    """Four days of an outage, then eleven more of zeros: the site is gone. The outage's fill
    moved a median of 0 in log1p to 0.003, and the forecast was 0.003 with a band of
    0.003-0.004, shown as "0.1 (80% band 0.1-0.1)", a band no hour could fall in (a trial)."""
    from trafficwatch.model.features import mask_outages

    rng = np.random.default_rng(5)
    t = np.arange(24 * 28)
    v = rng.poisson(150 + 100 * np.sin(2 * np.pi * (t % 24 - 6) / 24)).astype(float)
    v[-24 * 15:] = 0
    assert (mask_outages(v)[-24 * 11:] == 0).all()
    f = shipped.forecast(series(v), 24)
    assert (f.p10 == 0).all() and (f.p50 == 0).all() and (f.p90 == 0).all()


def weeks_of_traffic(seed: int = 0) -> tuple[np.ndarray, pd.DatetimeIndex]:
    rng = np.random.default_rng(seed)
    n = 24 * 42
    t = np.arange(n)
    weekly = 500 * (1 + 0.6 * np.sin(2 * np.pi * (t % 24 - 8) / 24)) * (1 - 0.3 * ((t // 24) % 7 >= 5))
    return rng.poisson(weekly).astype(float), pd.date_range("2026-01-05", periods=n, freq="h",
                                                            tz="UTC")


def test_a_weeks_band_widens_with_the_days_ahead_as_far_as_the_site_erred_that_far(shipped):
    """A forecasting trial: random walks of +-20 an hour at 10,000 had 0.77 of their first
    day inside the band and 0.40 of their seventh; the band at day 7 was 1.14 times as wide as
    at day 1 where the walk's spread grows as the square root of the hours. Each day ahead
    after the first is as wide as this site's own past forecasts that far ahead needed (at
    least as wide as the model's); a site whose days ahead erred alike keeps the model's."""
    ratios = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        v = np.round(10000 + np.cumsum(rng.normal(0, 20, 1008)))
        idx = pd.date_range("2026-01-05", periods=len(v), freq="h", tz="UTC")
        f = shipped.forecast(pd.Series(v, index=idx), 168)
        width = f.p90 - f.p10
        ratios.append(np.median(width[144:]) / np.median(width[:24]))
    assert np.median(ratios) >= 1.8, ratios
    v, idx = weeks_of_traffic()
    plain = pd.Series(v, index=idx)
    lead = shipped.recent(plain).lead  # (a day's forecast judges no day ahead)
    assert lead == ()
    f = shipped.forecast(plain, 168)
    width = np.log((f.p90 + 1) / (f.p10 + 1))  # its weekdays ahead as wide as its first
    # (its weekend's own shape aside): 0.110, 0.114, 0.105, 0.106, 0.114
    assert np.median(width[24:120]) / np.median(width[:24]) < 1.2


@pytest.mark.parametrize("level", [360.0, 780.0])
def test_a_new_level_for_days_is_followed_not_the_old_weeks(shipped, level):
    """A site moved away, only a monitor's ~360 requests an hour left: the LSTM's 4-week
    memories kept forecasting the old days (error 181/h three days on, "yesterday" 0). Near
    the old peak (780), "yesterday" read as bursts and was not seen to follow it."""
    v, idx = weeks_of_traffic()
    plain = shipped.forecast(pd.Series(v, index=idx), 24)
    assert "judged on the last day alone" not in plain.choice  # an ordinary week: 14 days
    v[-3 * 24:] = np.random.default_rng(1).poisson(level, 3 * 24)
    f = shipped.forecast(pd.Series(v, index=idx), 24)
    assert np.abs(f.p50 - level).mean() < 0.08 * level, f.choice
    assert re.search(r"over the last day \([\d.]+/h vs [\d.]+/h\); judged on the last day alone: "
                     "lstm:default had erred more than twice its usual on each of the last 2 "
                     "days$", f.choice), f.choice


@pytest.mark.parametrize("back", [4, 7, 24, 60])
def test_a_level_that_held_for_days_and_came_back_is_read_at_the_usual_level(shipped, back):
    """A replay trial: a site at half its traffic for 3 days, then back. Once back, the change
    was no longer followed, the weeks the LSTM read still held the 3 days at half, and the day
    of the return was forecast at 0.42-0.75 of the traffic ("read as a surge that passes",
    154 where 254 came). Those days are read at the usual level (and judge no candidate), and
    the choice says so; a level that still holds is followed as before."""
    v, idx = weeks_of_traffic()
    truth = v[-24:].copy()
    v, idx = v[:-24], idx[:-24]
    halved = v.copy()
    halved[len(v) - back - 72:len(v) - back] = np.round(halved[len(v) - back - 72:len(v) - back]
                                                        / 2)
    f = shipped.forecast(pd.Series(halved, index=idx), 24)
    assert 0.9 < f.p50.mean() / truth.mean() < 1.1, (f.p50.mean(), truth.mean(), f.choice)
    assert re.match(rf"Traffic was at 0.[45]\dx its usual level for 3 days until {back} hours "
                    "ago, back since: read at its usual level; ", f.choice), f.choice
    assert re.search(r"; 0.[45]\dx for 3 d, over$", f.choice_short), f.choice_short
    burst = halved.copy()  # a crawler's 2 hours since the return: read as before (it had
    burst[-3:-1] *= 30  # ended the read, the days at half read as they were: a replay trial)
    f = shipped.forecast(pd.Series(burst, index=idx), 24)
    assert f.choice.startswith("Traffic was at 0."), f.choice
    still = v.copy()
    still[-72:] = np.round(still[-72:] / 2)  # the same days, the last of them now: followed
    f = shipped.forecast(pd.Series(still, index=idx), 24)
    assert re.match(r"Traffic has held at 0.[45]\dx its usual level for the last 3 days",
                    f.choice), f.choice
    assert 0.4 < f.p50.mean() / truth.mean() < 0.6


@pytest.mark.parametrize(("days", "ratio"), [(5, 0.5), (7, 0.5), (9, 0.3), (14, 2.0),
                                            (20, 0.5)])
def test_a_level_that_held_for_a_week_or_more_and_came_back_a_day_ago_is_over(shipped, days,
                                                                              ratio):
    """A forecasting trial: a site at half (or a third) for 5 to 9 days, back at its usual
    level for the last 24 hours, was "held at 0.51x its usual level for the last 7 days" (the
    day back counted as one of them) and forecast at half: MASE 1.4-1.7 where yesterday's was
    0.25. A change older than a week ends after a whole day back (old_level_shift's), a
    younger one as before."""
    v, idx = weeks_of_traffic()
    truth = v[-24:].copy()
    v, idx = v[:-24], idx[:-24]
    low = v.copy()
    span = slice(len(v) - 24 - days * 24, len(v) - 24)
    low[span] = np.round(low[span] * ratio)
    f = shipped.forecast(pd.Series(low, index=idx), 24)
    assert 0.85 < f.p50.mean() / truth.mean() < 1.15, (f.p50.mean(), truth.mean(), f.choice)
    shown = str(ratio).rstrip("0").rstrip(".")  # 0.5 as "0.5x" or "0.51x", 2.0 as "2x"
    assert re.match(rf"Traffic was at {shown}\d*x its usual level for {days} days until 24 "
                    "hours ago, back since: read at its usual level; ", f.choice), f.choice
    # (14 and 20 days: a review, "held at 0.51x for the last 21 days", the day back judged
    # against 4 weeks that held the change; and read back at those weeks' level, 0.5 of the
    # traffic "read at its usual level", a forecasting recheck)
    if days > 7:  # older than a week: a few hours back (a busy evening) do not end it
        low[-20:] = np.round(low[-20:] * ratio)
        f = shipped.forecast(pd.Series(low, index=idx), 24)
        assert f.choice.startswith("Traffic has held at "), f.choice


@pytest.mark.parametrize("back", [24, 30, 48, 96])
def test_a_week_at_four_times_that_ended_is_over_on_a_small_sites_noisy_nights(shipped, back):
    """A forecasting trial: a site of 25-175 an hour at 4x for a week, back for the last 24 or
    30 hours, was "held at 3.9x its usual level for the last 8 days" and forecast at 4x (MAE
    197/h where yesterday's was 6.7): one night hour 1.5x off its usual count (Poisson noise
    at 20-30) broke the day back. Back for 2 to 4 days, the week was read as it was: its band
    7-10 times the forecast from the second day on."""
    rng = np.random.default_rng(1)
    n = 24 * 35 + 48
    idx = pd.date_range("2026-10-27", periods=n, freq="h", tz="UTC")
    rate = 100 * (1 + 0.75 * np.cos(2 * np.pi * (idx.hour.to_numpy() - 14) / 24)) * \
        np.array([1.0, 1.05, 1.05, 1.0, 0.95, 0.7, 0.65])[idx.dayofweek.to_numpy()]
    end = n - 48
    rate[end - back - 168:end - back] *= 4
    v = rng.poisson(rate).astype(float)
    f = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 48)
    truth = rate[end:]
    assert 0.85 < f.p50.sum() / truth.sum() < 1.15, (f.p50.sum(), truth.sum(), f.choice)
    assert f.choice.startswith("Traffic was at 4"), f.choice
    assert np.median(f.p90 / f.p50) < 1.6, np.round(f.p90 / f.p50, 2)


@pytest.mark.parametrize("ratio", [2.0, 0.5])
def test_a_days_event_last_week_is_not_forecast_again(shipped, ratio):
    """A forecasting recheck: a site at twice its level (or half) for one day, 5 days before
    the end, had that day forecast again a week on, 90 % "same hour last week": MASE 4.53
    where yesterday's was 0.60. An hour of last week unlike its weeks and unlike the days
    since by 1.8 times is that day's own, not repeated (it had to be 5 times)."""
    v, idx = weeks_of_traffic()
    truth = v[-120:-72].copy()  # a Wednesday and a Thursday
    v, idx = v[:-120], idx[:-120]
    event = v.copy()
    day = slice(len(v) - 24 * 6, len(v) - 24 * 5)  # last Thursday: again on the 2nd day
    event[day] = np.round(event[day] * ratio)
    f = shipped.forecast(pd.Series(event, index=idx), 48)
    second = slice(24, 48)
    assert 0.85 < f.p50[second].sum() / truth[second].sum() < 1.15, (f.p50[second].sum(),
                                                                      truth[second].sum())


def test_a_count_added_for_a_week_that_stopped_is_over(shipped):
    """A forecasting recheck: a bot's +1,000 an hour for 7 days, stopped 24 hours ago, was
    "held 992 an hour above its usual level for the last 8 days" and forecast at 4.5 times
    the traffic (MASE 10.3, yesterday 1.27): a count added was never read as over."""
    v, idx = weeks_of_traffic()
    truth = v[-24:].copy()
    v, idx = v[:-24], idx[:-24]
    bot = v.copy()
    bot[len(v) - 24 - 7 * 24:len(v) - 24] += 1000
    f = shipped.forecast(pd.Series(bot, index=idx), 24)
    assert 0.85 < f.p50.mean() / truth.mean() < 1.15, (f.p50.mean(), truth.mean(), f.choice)
    assert re.match(r"Traffic was (9\d\d|1,0\d\d) an hour above its usual level for 7 days "
                    "until 24 hours ago, back since", f.choice), f.choice
    f = shipped.forecast(pd.Series(bot / 1000, index=idx), 24)  # in thousands (a review:
    assert re.match(r"Traffic was (0\.9\d*|1\.0\d*) an hour above", f.choice), f.choice  # 9,962)


def test_a_change_that_is_over_moves_back_only_the_hours_it_moved(shipped):
    """A review: a site down to a monitor's 1 request an hour for 15 hours a day and up for
    the other 9, over 40 hours, then back: the change's ratio (0.015, the median) moved every
    hour of it back, the 9 up hours read at 66 times their count, the next day's p90 twice its
    traffic. Only the hours at the other level are moved, each to near its usual count."""
    from trafficwatch.model.features import restore_ended

    rng = np.random.default_rng(7)
    n = 24 * 42
    t = np.arange(n)
    usual = 120 * (1 + 0.7 * np.sin(2 * np.pi * (t % 24 - 6) / 24)) + 10
    v = rng.poisson(usual).astype(float)
    hours = np.arange(n - 46, n - 6)
    down = hours[hours % 24 < 15]
    v[down] = rng.poisson(1, len(down))
    ended = (n - 46, n - 6, 0.015)  # as ended_shift read it before outages were filled in
    read = restore_ended(v, ended)
    up = hours[hours % 24 >= 15]
    assert np.array_equal(read[up], v[up])  # as they were
    assert (read[down] <= 2 * usual[down]).all() and (read[down] >= usual[down] / 3).all()
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    clean = shipped.forecast(pd.Series(rng.poisson(usual).astype(float), index=idx), 24)
    f = shipped.forecast(pd.Series(v, index=idx), 24)
    assert f.alarm()[1].sum() < 1.25 * clean.alarm()[1].sum()  # not twice the traffic


@pytest.mark.parametrize("seed", [0, 1])
def test_a_bots_steady_requests_are_added_to_every_hour_not_read_as_a_ratio(shipped, seed):
    """A bot's steady 300 requests an hour from 4 days before the end, on a site of 100-400 an
    hour: read as 2.4 times the site's level, nights were forecast at 236 where they held 385
    and afternoons at 728 where they held 600 (a trial). Doubled traffic is still a ratio."""
    idx = pd.date_range("2026-10-26", periods=42 * 24, freq="h", tz="UTC")
    shape = 250 - 150 * np.cos(2 * np.pi * (idx.hour.to_numpy() - 4) / 24)  # 100 .. 400
    rng = np.random.default_rng(seed)
    since = np.arange(len(idx)) >= len(idx) - 4 * 24 - 24  # the last day is the one forecast
    v = rng.poisson(shape + 300 * since).astype(float)
    f = shipped.forecast(pd.Series(v[:-24], index=idx[:-24]), 24)
    truth = shape[-24:] + 300
    assert re.match(r"Traffic has held (2[89]\d|3[01]\d) an hour above its usual level for the "
                    r"last 4 days, every hour alike", f.choice), f.choice
    assert "usual +" in f.choice_short and "/h (for 4 d)" in f.choice_short, f.choice_short
    assert np.abs(f.p50 - truth).mean() < 0.08 * truth.mean(), (f.p50.round(), truth)
    assert ((v[-24:] >= f.p10) & (v[-24:] <= f.p90)).mean() >= 0.6
    from trafficwatch.model.features import level_shift, mask_outages, relevel

    out = v[:-24].copy()
    out[-14 * 24:-14 * 24 + 10] = 0.0  # an outage before the bot: its zeros stay an outage
    shift = level_shift(out)
    assert shift is not None and 280 < shift.added < 320, shift
    moved = relevel(out, shift)
    assert (moved[-14 * 24:-14 * 24 + 10] == 0).all()  # not 300: filled as an outage
    assert (mask_outages(moved)[-14 * 24:-14 * 24 + 10] > 300).all()
    doubled = rng.poisson(shape * np.where(since, 2.0, 1.0)).astype(float)
    g = shipped.forecast(pd.Series(doubled[:-24], index=idx[:-24]), 24)
    assert re.match(r"Traffic has held at (1\.9|2|2\.1)x its usual level", g.choice), g.choice


def test_traffic_back_after_a_dead_day_and_a_half_is_not_read_as_the_dead_level(shipped):
    """A site down to a monitor's 42 requests an hour for 40 hours, its traffic back for the
    last 5 (268, 223, ...): read as "held at 0.21x its usual level for the last 40 hours", the
    next afternoon was forecast at 76 where 279 came (a trial). While it stays down, it is
    still the site's level now."""
    idx = pd.date_range("2026-10-26", periods=42 * 24, freq="h", tz="UTC")
    shape = 250 - 150 * np.cos(2 * np.pi * (idx.hour.to_numpy() - 4) / 24)  # 100 .. 400
    v = np.random.default_rng(3).poisson(shape).astype(float)
    down = v.copy()
    down[-45:-5] = 42.0
    f = shipped.forecast(pd.Series(down, index=idx), 24)
    assert "Traffic has held" not in f.choice, f.choice  # not followed: over, and said so
    assert f.choice.startswith("Traffic was at 0.1"), f.choice
    assert f.p50.mean() > 0.6 * shape[:24].mean(), (f.p50.round(), f.choice)
    still = v.copy()
    still[-45:] = np.random.default_rng(4).poisson(0.2 * shape[-45:])  # not back: a new level
    g = shipped.forecast(pd.Series(still, index=idx), 24)
    assert re.match(r"Traffic has held at 0\.\dx its usual level", g.choice), g.choice


def test_a_drop_thirty_hours_old_is_followed_and_said_truthfully(shipped):
    """A site down to a third 30 hours ago (6 of them on the day before the last): the LSTM
    was shown alone at the old level, "error 827/h ..., as good as same hour yesterday (677/h)",
    as its partner ("the last hour") had been far off on the first of the 2 days the blend was
    chosen on."""
    idx = pd.date_range("2026-11-06 16:00", periods=28 * 24, freq="h", tz="UTC")
    shape = 1 - 0.6 * np.cos(2 * np.pi * (idx.hour.to_numpy() - 3) / 24)
    mu = 2000 * shape * np.where(np.arange(len(idx)) >= len(idx) - 30, 1 / 3, 1.0)
    for seed in range(2):
        v = np.random.default_rng(seed).poisson(mu).astype(float)
        f = shipped.forecast(pd.Series(v, index=idx), 24)
        assert "as good as" not in f.choice, f.choice
        # read as a new level now (features.level_shift), and said so
        assert re.match(r"Traffic has held at 0\.3\dx its usual level for the last 30 hours"
                        ": the forecast reads the weeks before at that level, its band spanning "
                        "the usual level too until it holds for 3 days; ", f.choice), f.choice
        assert f.p50.mean() < 0.6 * (2000 * shape[:24]).mean()  # not the old level (0.73 then)
        # nor the anomalies' band (0.94 of the old top then); the band drawn spans the old level
        # too for 3 days (on the corpus the band of a level followed from 30 hours held 44-63 %)
        assert f.alarm()[1].max() < 0.6 * v.max()


def test_an_outage_after_a_drop_is_filled_at_the_new_level(shipped):
    """The same drop, then the log silent for 3 hours (the app counts them as 0): the outage was
    filled with the week's median of those hours, the old level, and "the last hour repeated"
    forecast 2,808 an hour flat for a site doing about 1,000."""
    idx = pd.date_range("2026-11-06 19:00", periods=28 * 24, freq="h", tz="UTC")
    shape = 1 - 0.6 * np.cos(2 * np.pi * (idx.hour.to_numpy() - 3) / 24)
    mu = 2000 * shape * np.where(np.arange(len(idx)) >= len(idx) - 33, 1 / 3, 1.0)
    for seed in range(2):
        v = np.random.default_rng(seed).poisson(mu).astype(float)
        v[-3:] = 0.0
        f = shipped.forecast(pd.Series(v, index=idx), 24)
        assert f.p50.mean() < 0.6 * (2000 * shape[:24]).mean(), f.choice


@pytest.mark.parametrize("stuck", [360.0, 780.0, 3.5])
@pytest.mark.parametrize("hours", [24, 30, 72])
def test_a_count_stuck_at_one_value_is_repeated_from_its_first_day(shipped, stuck, hours):
    """A benchmark user's series flat for their last 72 and 200 hours (a value carried forward)
    were forecast with their old days on the second flat day, while "yesterday" erred 0: the
    break rule waits 2 days. One count in each of the last 24 hours or more is repeated;
    anomalies are judged on a band of it alone (when it moves again, that is news), and the
    band drawn holds it alone while the odds are 9 to 1 that it still holds (stuck_band)."""
    v, idx = weeks_of_traffic()
    v[-hours:] = stuck
    f = shipped.forecast(pd.Series(v, index=idx), 48)
    lo, hi = f.alarm()
    assert (f.p50 == stuck).all() and (lo == stuck).all() and (hi == stuck).all()
    sure = np.arange(1, 49) <= hours / 9  # hours / (hours + h) >= 0.9
    assert (f.p10[sure] == stuck).all() and (f.p90[sure] == stuck).all()
    assert (f.p10 <= stuck).all() and (f.p90 >= stuck).all()
    shown = {360.0: "360", 780.0: "780", 3.5: "3.50"}[stuck]  # as the pane writes counts
    assert f.choice == (f"the last hour repeated: the count has been {shown} in each of the "
                        f"last {hours} hours") and f.model == "naive1"
    v[-11:] = stuck  # 11 hours: not yet
    v[-12] = stuck + 1
    assert "the count has been" not in shipped.forecast(pd.Series(v, index=idx), 48).choice
    v[-hours:] = 0.0  # zeros are the outage rule's: the hours that would have been
    assert shipped.forecast(pd.Series(v, index=idx), 24).p50.max() > 300


@pytest.mark.parametrize("hours", [24, 48, 72])
def test_the_band_of_a_stuck_count_holds_the_usual_hours_it_may_come_back_to(shipped, hours):
    """A benchmark trial's series with a daily cycle, flat for the last 12 to 120 hours before
    the forecast (a value carried forward), then back to its cycle: the band of the count alone
    held 0.3 % of the 48 hours ahead. Nothing tells a run about to end from one that goes on:
    from the hour where the odds it still holds fall under 9 to 1, the band holds the usual
    hours too (said in its note), the median is still the count."""
    v, idx = weeks_of_traffic()
    cut = len(v) - 48
    w = v.copy()
    w[cut - hours:cut] = v[cut - hours]
    f = shipped.forecast(pd.Series(w[:cut], index=idx[:cut]), 48)
    assert f.model == "naive1" and (f.p50 == w[cut - 1]).all(), f.choice
    later = np.arange(1, 49) > hours / 9
    back = v[cut:]  # the cycle, come back
    inside = (back >= f.p10) & (back <= f.p90)
    assert inside[later].mean() >= 0.7, inside.mean()
    assert f"a count held {hours} hours may end any time" in f.band_note
    flat = np.full(48, w[cut - 1])  # or it goes on: the band still holds it
    assert ((flat >= f.p10) & (flat <= f.p90)).all()
    assert f.p90.max() < 1.5 * v[cut - 24 * 7:cut].max()  # no wider than the weeks


@pytest.mark.parametrize("hours", [12, 20])
def test_a_new_count_held_for_half_a_day_is_repeated(shipped, hours):
    """A benchmark user's series flat at a new level for its last 20 hours was forecast with
    its old days (MASE 5.0 where "yesterday" erred 1.2): a count the same hours never held,
    for half a day, is repeated. Not a count of 1, which a quiet site repeats by chance."""
    v, idx = weeks_of_traffic()
    v[-hours:] = 780.0
    f = shipped.forecast(pd.Series(v, index=idx), 48)
    assert f.model == "naive1" and (f.p50 == 780).all(), f.choice
    assert f"780 in each of the last {hours} hours" in f.choice
    v[-11:] = 780.0  # 11 hours: not yet
    v[-12] = 779.0
    assert shipped.forecast(pd.Series(v, index=idx), 48).model != "naive1"
    quiet = np.random.default_rng(1).poisson(0.8, len(v)).astype(float)
    quiet[-20:] = 1.0
    assert "the count has been" not in shipped.forecast(pd.Series(quiet, index=idx), 24).choice


def test_a_count_the_same_hours_held_before_is_the_sites_own(shipped):
    """An internal site with only a monitor's 60 requests an hour each night, 12 hours of them
    at the end: read as stuck, the next day's users would be anomalies. The nights before held
    the same count at those hours: the forecast is the site's days."""
    v, idx = weeks_of_traffic()
    night = (idx.hour >= 19) | (idx.hour < 7)
    v[night] = 60.0
    end = np.flatnonzero(idx.hour == 7)[-1]  # the series ends on the 12th hour of a night
    f = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 24)
    assert "the count has been" not in f.choice, f.choice
    assert f.p50.max() > 300  # the day's traffic, not 60 repeated


def test_a_series_constant_from_its_first_hour_is_stuck_too(shipped):
    """A new user's 8 weeks of 100 an hour got "same hour yesterday" with a band 99.42-100.52:
    the stuck rule asked for another count before."""
    f = shipped.forecast(series(np.full(24 * 28, 100.0)), 24)
    assert f.model == "naive1" and "100 in each of the last 672 hours" in f.choice
    low = shipped.forecast(series(np.full(24 * 28, 42.0)), 24)  # "42.0" was written
    assert "the count has been 42 in each" in low.choice, low.choice
    assert (f.p10 == 100).all() and (f.p90 == 100).all()
    week = shipped.forecast(series(np.full(24 * 28, 100.0)), 168)  # its usual hours are 100 too
    assert (week.p10 == 100).all() and (week.p90 == 100).all() and week.band_note == ""


def test_an_unseasonal_random_walk_gets_its_last_value_not_yesterday(shipped):
    """A level that wanders with no daily rhythm (a queue's length, a price): the blend had only
    the seasonal naives beside the LSTM, and at 48 h erred 1.19 against yesterday's 1.05."""
    rng = np.random.default_rng(5)
    s = series(800 * np.exp(np.cumsum(rng.normal(0, 0.02, 24 * 28))))
    table = summarize(backtest(s, {"lstm": shipped.as_function(), "naive24": naive24},
                               days=7, horizon=48))
    assert table.loc["lstm", "mase"] <= 0.85 * table.loc["naive24", "mase"], table
    f = shipped.forecast(s, 48)
    assert "last hour repeated" in f.choice, f.choice


def test_a_steady_trend_under_noise_is_followed_and_averaged(shipped):
    """A daily rhythm growing 2 % a day under 4 % noise an hour: "yesterday" repeats one day's
    noise and the weeks' medians lag the growth; the LSTM alone erred 0.9x yesterday there
    (AutoETS 0.6x). The last two weeks' daily shape and trend is a candidate beside them."""
    rng = np.random.default_rng(8)
    t = np.arange(24 * 28)
    shape = 1 + 0.5 * np.sin(2 * np.pi * (t % 24 - 7) / 24)
    s = series(3000 * shape * np.exp(0.02 * t / 24 + rng.normal(0, 0.04, len(t))))
    table = summarize(backtest(s, {"lstm": shipped.as_function(), "naive24": naive24},
                               days=7, horizon=48))
    assert table.loc["lstm", "mase"] <= 0.75 * table.loc["naive24", "mase"], table
    assert "daily and weekly shape and trend" in shipped.forecast(s, 48).choice


def test_a_trend_under_a_weekly_rhythm_is_followed_with_its_weekends(shipped):
    """Growth of 2.5 % of the first day's level a day, weekends at 0.75x, AR(1) noise: the LSTM
    alone or with "last week" erred 0.47x last week at 48 h (the benchmark-shaped families like
    it 0.70-0.75, MSTL 0.55); with the weekdays' levels in the 2 weeks' shape 0.39x."""
    rng = np.random.default_rng(2)
    t = np.arange(24 * 28)
    shape = 1 + 0.3 * np.sin(2 * np.pi * (t % 24 - 8) / 24)
    weekend = np.where((t // 24) % 7 >= 5, 0.75, 1.0)
    noise, e = np.zeros(len(t)), rng.normal(0, 0.03, len(t))
    for i in range(1, len(t)):
        noise[i] = 0.6 * noise[i - 1] + e[i]
    s = series(1000 * shape * weekend * (1 + 0.025 * t / 24) * np.exp(noise))
    table = summarize(backtest(s, {"lstm": shipped.as_function(), "naive168": naive168},
                               days=7, horizon=48))
    assert table.loc["lstm", "mase"] <= 0.42 * table.loc["naive168", "mase"], table
    assert "weekly shape and trend" in shipped.forecast(s, 48).choice


def test_the_daily_shape_and_trend_extends_an_exact_one_exactly():
    from trafficwatch.model.baselines import profile_trend

    t = np.arange(24 * 20)
    shape = 1 + 0.5 * np.sin(2 * np.pi * (t % 24) / 24)
    v = np.expm1(np.log1p(100 * shape) + 0.03 * t / 24)  # log1p: a profile plus a trend
    out = profile_trend(v, np.array([24 * 18, 24 * 3]), 48)
    np.testing.assert_allclose(out[0], v[24 * 18:24 * 20], rtol=1e-9)
    assert np.isnan(out[1]).all()  # three days: too few to fit a trend on
    v[24 * 10:24 * 18:24] = np.nan  # midnight missing on 8 of the 14 days: still fitted
    assert np.isfinite(profile_trend(v, np.array([24 * 18]), 24)).all()
    v[24 * 4:24 * 18:24] = np.nan  # on all 14: nothing to say of midnight
    assert np.isnan(profile_trend(v, np.array([24 * 18]), 24)).all()


def test_the_daily_and_weekly_shape_and_trend_extends_an_exact_one_exactly():
    """Benchmark series have weekends (offices, electricity) under their trends: the candidate
    knew the hour of the day alone, so a Saturday was forecast at a Friday's level (generated
    series with weekends at 0.75-0.9x and a trend: MASE 0.70 at 48 h, MSTL 0.55). A rhythm of
    the day and of the week under a trend (log1p) is extended exactly, from any weekday."""
    from trafficwatch.model.baselines import profile_trend

    t = np.arange(24 * 21)
    shape = 1 + 0.5 * np.sin(2 * np.pi * (t % 24) / 24)
    weekend = np.where((t // 24) % 7 >= 5, np.log(0.7), 0.0)
    v = np.expm1(np.log1p(100 * shape) + weekend + 0.03 * t / 24)
    for o in (24 * 15, 24 * 17, 24 * 19):  # the day before: a Monday, a Wednesday, a Friday
        np.testing.assert_allclose(profile_trend(v, np.array([o]), 48)[0], v[o:o + 48],
                                   rtol=1e-9)


def test_the_weekly_rhythm_judged_on_the_days_before_is_the_one_shown():
    """A trial's series whose weekly rhythm moved: the candidate was judged on 14 days with
    weekday levels (then a rhythm) and shown without them (none in the last 2 weeks), chosen at
    70 % for a skill it no longer had. One forecast's origins share the last one's rhythm."""
    from trafficwatch.model.baselines import profile_trend

    rng = np.random.default_rng(1)
    t = np.arange(24 * 40)
    weekend = np.where(((t // 24) % 7 >= 5) & (t < 24 * 26), 0.5, 1.0)  # weekends end on day 26
    v = 100 * (1 + 0.5 * np.sin(2 * np.pi * (t % 24) / 24)) * weekend \
        * np.exp(rng.normal(0, 0.05, len(t)))
    o = np.array([24 * 21, 24 * 40])  # a day while weekends held; the last: 2 weeks without
    alone = profile_trend(v, o, 48)
    shared = profile_trend(v, o, 48, as_last=True)
    plain = profile_trend(v, o, 48, weekly=False)
    assert not np.allclose(alone[0], plain[0])  # on its own, the first origin has a rhythm
    np.testing.assert_allclose(shared, plain)  # as one forecast's, the last one's: none
    np.testing.assert_allclose(alone[1], plain[1])


def test_one_odd_day_is_no_weekly_rhythm():
    """A day unlike its weekday a week later (a holiday, a match day) is not repeated a week on:
    WorldCup98's match days read as a weekly rhythm put the day after at twice its traffic."""
    from trafficwatch.model.baselines import profile_trend

    rng = np.random.default_rng(3)
    t = np.arange(24 * 20)
    v = 100 * (1 + 0.5 * np.sin(2 * np.pi * (t % 24) / 24)) * np.exp(rng.normal(0, 0.05, len(t)))
    v[24 * 8:24 * 9] *= 0.3  # a holiday in the first of the two weeks before the origin
    o = np.array([24 * 18])
    np.testing.assert_allclose(profile_trend(v, o, 48), profile_trend(v, o, 48, weekly=False))
    v[24 * 15:24 * 16] *= 0.3  # the same weekday a week later: a rhythm
    week, day = profile_trend(v, o, 168)[0], profile_trend(v, o, 168, weekly=False)[0]
    assert (week[24 * 4:24 * 5] < 0.6 * day[24 * 4:24 * 5]).all()  # that weekday, ahead
    np.testing.assert_allclose(week[:24 * 4], day[:24 * 4], rtol=0.05)  # the others


def test_one_odd_day_that_noise_happens_to_echo_is_no_weekly_rhythm():
    """The two weeks' levels correlated above WEEK_MATCH when the other week's noise happened
    to dip, a little, on the holiday's weekday: one odd day read as a rhythm, by chance."""
    from trafficwatch.model.baselines import profile_trend

    t = np.arange(24 * 20)
    v = 100 * (1 + 0.5 * np.sin(2 * np.pi * (t % 24) / 24))
    echo = {8: 0.3, 11: 1.01, 12: 0.995, 14: 1.005, 15: 0.985, 16: 1.01}  # day: its level
    for d, f in echo.items():
        v[24 * d:24 * (d + 1)] *= f  # the holiday (day 8), and a week of noise with a dip
    o = np.array([24 * 18])
    np.testing.assert_allclose(profile_trend(v, o, 168), profile_trend(v, o, 168, weekly=False))


def test_a_step_of_last_week_is_a_new_level_not_a_trend():
    """A generated benchmark series fell to 0.66x eight days before the origin: the week-on-week
    change read as a trend of -6 % a day, carried on ahead (MASE 3.97 against 0.80 for
    yesterday's hours). A trend is a change both of the last two weeks show."""
    from trafficwatch.model.baselines import profile_trend

    rng = np.random.default_rng(5)
    t = np.arange(24 * 35)
    v = 100 * (1 + 0.5 * np.sin(2 * np.pi * (t % 24) / 24)) * np.exp(rng.normal(0, 0.03, len(t)))
    v[24 * 27:] *= 0.66  # 8 days before the origin
    out = profile_trend(v, np.array([24 * 35]), 48)[0]
    after = v[24 * 28:].reshape(-1, 24).mean(axis=0)  # the new level's typical day
    np.testing.assert_allclose(out[:24], after, rtol=0.05)
    np.testing.assert_allclose(out[24:], after, rtol=0.05)  # not falling on the second day
    v[24 * 27:] *= 1.5 / 0.66  # a rise, on a steady growth: the growth is followed
    v = np.expm1(np.log1p(v) + 0.02 * t / 24)
    out = profile_trend(v, np.array([24 * 35]), 48)[0]
    assert 1.01 < out[24:].sum() / out[:24].sum() < 1.03


def test_hours_of_the_day_that_differ_by_noise_alone_are_drawn_to_their_mean():
    """A site at 120 an hour around the clock (a real log, elastic_nginx_logs): the 2 weeks'
    median of each hour of the day is 120 plus noise, which the forecast repeated every day
    (MASE 0.81; their mean: 0.76). A real daily shape stays as it is."""
    from trafficwatch.model.baselines import profile_trend

    rng = np.random.default_rng(2)
    flat = rng.poisson(120, 24 * 28).astype(float)
    out = profile_trend(flat, np.array([24 * 28]), 24)[0]
    raw = np.median(flat[-24 * 14:].reshape(14, 24), axis=0)
    assert out.std() < 0.3 * raw.std()
    assert abs(out.mean() / flat[-24 * 14:].mean() - 1) < 0.03
    t = np.arange(24 * 28)
    shaped = rng.poisson(120 * (1 + 0.3 * np.sin(2 * np.pi * (t % 24) / 24))).astype(float)
    out = profile_trend(shaped, np.array([24 * 28]), 24)[0]
    truth = 120 * (1 + 0.3 * np.sin(2 * np.pi * np.arange(24) / 24))
    assert np.corrcoef(out, truth)[0, 1] > 0.98 and out.std() > 0.9 * truth.std()


def test_a_site_judged_on_a_day_or_two_is_not_handed_to_the_last_hour(shipped):
    """Eight days old, and its last day flat at one level (a rainy day at a counter): judged on
    that day alone, "the last hour repeated" beat the seasonal naives by luck and took half of
    the forecast (bench --days 14: Auckland counters' MASE +0.15). Beside the LSTM a site that
    young gets the seasonal naives only."""
    rng = np.random.default_rng(4)
    v = daily_cycle(rng, 300, 24 * 9)
    v[-24:] = rng.poisson(300, 24)
    r = shipped.recent(series(v))
    assert r.hours and set(r.mae) == {"lstm", "naive24", "naive168"}, r.mae
    assert set(r.weights) <= {"lstm", "naive24", "naive168"}
    older = daily_cycle(rng, 300, 24 * 28)
    older[-24:] = rng.poisson(300, 24)
    assert {"naive1", "profile"} <= set(shipped.recent(series(older)).mae)


@pytest.mark.parametrize("factor", [0.3, 0.2])
def test_two_days_after_a_new_level_the_forecast_keeps_the_days_shape(shipped, factor):
    """Traffic fell to 0.3 (0.2) of itself 52 hours ago. Judged over both days since, "the last hour"
    (at the new level from its first hour) beat "yesterday" (the old level on the first day,
    the new one to the hour on the second), and a flat line at the level of 11 p.m. was shown
    with 9 times yesterday's error. After a break the candidate nearest on the last day is used."""
    rng = np.random.default_rng(6)
    t = np.arange(24 * 28)
    rate = 2000 * (1 + 0.9 * np.cos(2 * np.pi * (t % 24 - 9) / 24)) * (1 - 0.2 * ((t // 24) % 7 >= 5))
    rate[-(52 + 24):] *= factor  # 52 hours before the forecast's first hour
    v = rng.poisson(rate).astype(float)
    f = shipped.forecast(pd.Series(v[:-24], pd.date_range("2026-01-05", periods=len(v) - 24,
                                                           freq="h", tz="UTC")), 24)
    truth = rate[-24:]
    yesterday = v[-48:-24]
    assert np.abs(f.p50 - truth).mean() <= 1.5 * np.abs(yesterday - truth).mean(), f.choice


def test_only_a_lone_burst_that_is_over_is_taken_out_of_what_the_forecast_reads():
    from trafficwatch.model.features import BURST_HOURS, mask_bursts

    rng = np.random.default_rng(5)
    t = np.arange(24 * 21)
    day = 100 + 80 * np.sin(2 * np.pi * (t % 24 - 8) / 24)
    v = rng.poisson(day).astype(float)
    assert np.array_equal(mask_bursts(v), v)  # an ordinary site: nothing moves
    b = v.copy()
    b[24 * 12 + 9:24 * 12 + 12] = 5000  # three hours of a crawler, then traffic as before
    out = mask_bursts(b)
    same_hours = np.stack([v[24 * (12 - k) + 9:24 * (12 - k) + 12] for k in range(1, 8)])
    assert np.array_equal(out[24 * 12 + 9:24 * 12 + 12], np.median(same_hours, axis=0))
    assert np.array_equal(np.delete(out, range(24 * 12 + 9, 24 * 12 + 12)),
                          np.delete(b, range(24 * 12 + 9, 24 * 12 + 12)))

    def kept(w: np.ndarray) -> None:
        assert np.array_equal(mask_bursts(w), w)

    saturday = v.copy()
    saturday[(t // 24) % 7 == 5] *= 8  # a market every Saturday: last week's Saturday says so
    kept(saturday)
    peaks = v.copy()
    peaks[(t >= 24 * 10) & np.isin(t % 24, [8, 9, 17, 18])] *= 8  # back from the holidays:
    kept(peaks)  # morning and evening peaks, day after day
    first = v.copy()
    first[(t >= 24 * 20) & np.isin(t % 24, [8, 9, 17, 18])] *= 8  # their first day, the last
    kept(first)  # one: two runs in a day are a new rhythm, not two bursts
    again = v.copy()
    again[[24 * 12 + 9, 24 * 13 + 9]] = 5000  # the same hour the next day: a new rhythm
    kept(again)
    going = v.copy()
    going[-2:] *= 4  # still going at the end, 4 times the hours' weeks: perhaps a new level
    kept(going)
    longer = v.copy()
    longer[-4:] = 5000  # 4 hours and still going: perhaps a new level, however high
    kept(longer)
    crawler = v.copy()
    crawler[-2:] = 5000  # 2 hours at 30 times their weeks' highest (a web-series trial: the
    # next two days forecast 1.4 and 1.24 times the traffic): a burst until the next hour
    assert np.array_equal(mask_bursts(crawler)[:-2], v[:-2])
    for i in (len(v) - 2, len(v) - 1):
        assert mask_bursts(crawler)[i] == np.median([v[i - 24 * j] for j in range(1, 8)])
    last = v.copy()
    last[-1] = 5000  # the last hour alone: a burst until the next hour says otherwise
    k = len(v) - 1
    assert np.array_equal(mask_bursts(last)[:-1], v[:-1])
    assert mask_bursts(last)[-1] == np.median([v[k - 24 * j] for j in range(1, 8)])
    long = v.copy()
    long[24 * 12:24 * 12 + BURST_HOURS + 1] = 5000  # longer than a burst
    kept(long)
    # a newsletter's 6 hours at 5 times their traffic, then as before, on a site of 1,000-1,800
    # an hour (a trial: the next day's same hours forecast 1.5 times the traffic, 4 times the
    # error of last week's)
    busy = day * 10
    letter = rng.poisson(busy).astype(float)
    hours = slice(24 * 19 + 8, 24 * 19 + 14)
    letter[hours] = rng.poisson(5 * busy[hours])
    out = mask_bursts(letter)
    assert np.array_equal(np.delete(out, range(hours.start, hours.stop)),
                          np.delete(letter, range(hours.start, hours.stop)))
    assert (out[hours] < 1.2 * busy[hours]).all()
    quiet = rng.poisson(1.0, len(t)).astype(float)
    quiet[24 * 12] = 10  # a quiet site's 1 -> 10 is no burst
    kept(quiet)


def test_a_burst_that_is_over_does_not_come_back_in_the_next_days_forecast(shipped):
    """A user's series of ~500 an hour: one hour of 50,000 five hours before the end was
    forecast again the next day (p10 1,779, p50 2,559, p90 3,495), and one of 10,000,000 a day
    before made the recent check take a change of level and show the 2 weeks' profile."""
    v, idx = weeks_of_traffic()
    clean = shipped.forecast(pd.Series(v, index=idx), 24)
    for back, count in ((5, 5e4), (30, 1e7), (10, 5e4)):
        w = v.copy()
        w[-back:len(w) - back + (3 if back == 10 else 1)] = count
        f = shipped.forecast(pd.Series(w, index=idx), 24)
        assert f.p90.max() < 1.1 * clean.p90.max(), (back, count)
        assert np.abs(f.p50 - clean.p50).mean() < 0.03 * clean.p50.mean(), (back, count)
        assert "broke from" not in f.choice


def test_a_holiday_last_week_is_not_forecast_again_this_week(shipped):
    """A new user's weekly traffic with last Monday at a tenth of itself: "same hour last week"
    had judged well on the 14 days before and was shown at 90 % for this Monday, a p50 of 94
    where the day held about 500 (MASE 4.9, none of its hours in the band)."""
    v, idx = weeks_of_traffic()  # six weeks, Monday to Sunday: the forecast is for a Monday
    clean = shipped.forecast(pd.Series(v, index=idx), 24)
    v[-168:-144] *= 0.1  # last Monday, a holiday
    f = shipped.forecast(pd.Series(v, index=idx), 24)
    assert f.p50.mean() > 0.9 * clean.p50.mean(), f.choice
    assert (f.p90 > clean.p50).mean() > 0.8  # the band holds this Monday's ordinary traffic



def test_last_weeks_holiday_is_told_from_a_new_level_by_the_seven_days_since():
    """The holiday clause of `bursts`, on the seasonal bases themselves (z units): a whole day of
    last week far below its weeks is a holiday, not repeated, unless today's level or the 7 days
    since are as low: then it is where traffic now is (a commuter counter back from January,
    its last Monday like its last week and unlike its December weeks, was read as a holiday:
    bench/forecast.py --days 21, worst series 1.30x -> 1.69x the better naive)."""
    from trafficwatch.model.features import BASE_NAMES
    from trafficwatch.model.forecaster import BURST, DAY_FAR, bursts

    def judged(z: dict[str, float], scale: float = 0.1) -> np.ndarray:  # every hour of the
        bases = np.zeros((1, 24, len(BASE_NAMES)), np.float32)  # day, each base alike
        for name, value in z.items():
            bases[..., BASE_NAMES.index(name)] = value
        burst, typical = bursts(bases, np.ones_like(bases), "naive168", np.array([scale]))
        assert np.array_equal(typical, bases[..., BASE_NAMES.index("4-week median")])
        return burst[0]

    low = -(BURST + 3)
    assert judged({"last week": low}).all()  # a holiday: the 4-week median is shown instead
    assert not judged({"last week": low, "7-day median": low}).any()  # the 7 days since as low
    assert not judged({"last week": low, "4-week median at today's level": low}).any()  # today
    assert not judged({"last week": -(BURST - 1)}).any()  # a quieter day, within the bar
    # "yesterday" has no holiday clause: a day's own shift is the day's level
    bases = np.zeros((1, 24, len(BASE_NAMES)), np.float32)
    bases[..., BASE_NAMES.index("yesterday")] = low
    assert not bursts(bases, np.ones_like(bases), "naive24", np.array([0.1]))[0].any()
    # where the site errs much (a counter quiet at night: 0.8 log units an hour), BURST of its
    # errors would be 55 times: a day 20 times its weeks (last week's Australia Day on a
    # pedestrian counter, forecast again at MASE 20.7) is far by BURST_LOG
    twenty = float(np.log(20.0))
    assert BURST * 0.8 > twenty  # under the bar of BURST errors
    assert judged({"last week": twenty / 0.8}, scale=0.8).all()
    assert not judged({"last week": twenty / 0.8, "7-day median": twenty / 0.8}, scale=0.8).any()
    # a whole day of last week (every hour alike) is the day's own from 1.8 times its weeks
    # and the 7 days since (DAY_FAR: a recheck's one-day event at 2x was forecast again)
    assert judged({"last week": 1.1 * DAY_FAR / 0.8}, scale=0.8).all()
    assert not judged({"last week": 0.9 * DAY_FAR / 0.8}, scale=0.8).any()  # under it: kept


def test_one_huge_last_hour_is_not_forecast_into_the_week_ahead(shipped):
    # 100,000 in the last hour of a site of 500 an hour had lifted every day of the week ahead
    # (daily means 827, 686, 671, ...; the LSTM alone 1,576 .. 1,334) through its "last hour"
    # memory. It is a burst until the next hour says otherwise (features.mask_bursts)
    rng = np.random.default_rng(11)
    v = rng.poisson(500, 24 * 42).astype(float)
    v[-1] = 100_000
    s = pd.Series(v, pd.date_range("2024-03-01", periods=len(v), freq="h", tz="UTC"))
    f = shipped.forecast(s, 168)
    daily = f.p50.reshape(7, 24).mean(axis=1)
    assert np.all(np.abs(daily - 500) < 50), daily


def test_a_band_widened_to_hold_a_day_widens_by_the_least_on_the_sides_it_fell():
    from trafficwatch.model.forecaster import widen_to_hold

    # 2 hours inside, 4 a little below, 4 far above: 8 of 10 are held by all 4 below and the
    # 2 least above, not by reaching for the far ones
    under = np.array([0.1, 0.2, 0.3, 0.4, -1, -1, -1, -1, -0.5, -0.5])
    over = np.array([-1, -1, -1, -1, 1.0, 2.0, 3.0, 4.0, -0.5, -0.5])
    assert widen_to_hold(under, over, 0.8, 10.0) == (0.4, 2.0)
    assert widen_to_hold(under, over, 0.8, 1.5) == (0.4, 1.5)  # at most this much a side
    assert widen_to_hold(under[:4], over[:4], 0.8, 10.0) == (0.4, 0.0)  # all below: the top stays
    assert widen_to_hold(-np.ones(5), -np.ones(5), 0.8, 10.0) == (0.0, 0.0)


def weekly_site(level: float, hours: int = 35 * 24, seed: int = 1,
                start: str = "2026-10-30 21:00") -> tuple[pd.DatetimeIndex, np.ndarray]:
    """A shop's hours: a daily peak at 14:00, a second at 20:00, weekends at 45 %."""
    idx = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    h = idx.hour.to_numpy() + 0.5
    daily = 0.15 + 0.85 * np.exp(-((h - 14) / 4) ** 2) + 0.25 * np.exp(-((h - 20) / 2) ** 2)
    return idx, level * daily * np.where(idx.day_of_week.to_numpy() < 5, 1.0, 0.45)


@pytest.mark.parametrize("factor", [0.25, 3.0, 150.0])
def test_a_new_level_held_for_a_day_is_forecast_with_the_weeks_shape(shipped, factor):
    """A trial's shop fell to a quarter 30 hours before its log's end (a Friday evening): it was
    shown 90 % "the last hour repeated", a flat line at 44-54 an hour through the night and the
    weekend against 7-40, its median 2.3 times the traffic over 48 hours, p10 above the night's
    rate. Read as a new level (features.level_shift), the weeks' shape is kept at it."""
    idx, rate = weekly_site(400, 35 * 24 + 48)
    rate[-(30 + 48):] *= factor
    v = np.random.default_rng(1).poisson(rate[:-48]).astype(float)
    f = shipped.forecast(pd.Series(v, index=idx[:-48]), 48)
    truth = rate[-48:]
    assert 0.8 <= f.p50.sum() / truth.sum() <= 1.25, f.choice
    assert np.corrcoef(f.p50, truth)[0, 1] > 0.9  # the night, the peaks and the weekend
    assert ((truth >= f.p10) & (truth <= f.p90)).mean() >= 0.75
    shown = {0.25: "0.2\\dx", 3.0: "(3|2\\.\\d|3\\.\\d)x",
             150.0: "1\\d\\dx"}[factor]  # "150x", not "1.5e+02x"
    assert re.search(shown + " its usual level for the last 30 hours", f.choice), f.choice


def test_only_a_level_held_for_a_day_after_usual_weeks_is_read_as_new():
    from trafficwatch.model.features import level_shift

    idx, rate = weekly_site(400, 35 * 24)
    first = int(idx[0].timestamp()) // 3600
    rng = np.random.default_rng(2)

    def found(change) -> object:
        r = rate.copy()
        change(r)
        return level_shift(rng.poisson(r).astype(float), first)

    def times(k: float, hours: int, upto: int = 0):
        def change(r):
            r[len(r) - hours:len(r) - upto] *= k
        return change

    quarter = found(times(0.25, 30))
    assert quarter is not None and quarter.hours == 30 and 0.22 < quarter.ratio < 0.29
    tripled = found(times(3.0, 100))
    assert tripled is not None and tripled.hours == 100 and 2.6 < tripled.ratio < 3.4
    assert found(lambda r: None) is None  # the usual weeks (None also: not in the holidays)
    assert found(times(0.25, 12)) is None  # an afternoon's fall: not yet
    assert found(times(18.0, 16)) is None  # an event of an afternoon and a night
    assert found(times(0.3, 48, upto=12)) is None  # two days off, back since: over
    assert found(times(0.0, 30)) is None  # an outage (mask_outages fills it)
    assert found(times(1.3, 60)) is None  # under half as much again: the model's own work

    def weekly_event(r):  # a market every Wednesday to Friday since last week's: the same
        for end in (len(r) - 168, len(r)):  # hours a week ago held it, a week's shape
            r[end - 46:end] *= 2.0
    assert found(weekly_event) is None  # (a Melbourne counter forecast at 1.8x its Saturday)
    grow = 1.03 ** (np.arange(len(rate)) / 24)  # 3 % a day: the days before are not as their
    assert found(lambda r: r.__imul__(grow)) is None  # usual weeks, no step to read
    # a fall in the holidays (24 Dec - 1 Jan, Easter): the model knows them, and they end
    xmas, xrate = weekly_site(400, 35 * 24, start="2025-11-23 12:00")
    assert xmas[-30].strftime("%m-%d") == "12-27"
    xrate[-30:] *= 0.25
    xv = rng.poisson(xrate).astype(float)
    held = level_shift(xv, int(xmas[0].timestamp()) // 3600)
    assert held is not None and held.holiday and held.hours == 30  # said, not followed
    assert not level_shift(xv).holiday  # without the calendar
    f = Forecaster.load().forecast(pd.Series(xv, index=xmas), 24)
    assert f.choice.startswith("Traffic has been at 0.2") and "hours, in the holidays: the " \
        "weeks before are kept at their level, the model reading it as the holidays' own; " \
        in f.choice, f.choice
    assert f.choice_short.endswith("; holiday dip, not a new level")


@pytest.mark.parametrize("start, holiday", [("2024-04-02 00:00", False),  # Easter Monday 04-01
                                            ("2024-04-02 10:00", False),
                                            ("2025-12-21 06:00", False),  # days before
                                            ("2025-12-23 06:00", True),  # into Christmas
                                            ("2025-12-24 06:00", True)])
def test_a_level_changed_as_the_holidays_ended_is_not_theirs(start, holiday):
    # a trial: a site tripled from the day after Easter Monday, 8 days on, was "at 3x its usual
    # level for the last 8 days, in the holidays: not read as a new level"
    from trafficwatch.model.features import level_shift

    for hours in (78, 200):  # the young rule, and the rule for a change over a week old
        end = pd.Timestamp(start, tz="UTC") + pd.Timedelta(hours=hours)
        idx, rate = weekly_site(400, 42 * 24, start=str(end - pd.Timedelta(hours=42 * 24)))
        rate[-hours:] *= 3.0
        v = np.random.default_rng(4).poisson(rate).astype(float)
        got = level_shift(v, int(idx[0].timestamp()) // 3600)
        assert got is not None and abs(got.hours - hours) <= 12, (hours, got)
        assert got.holiday == holiday, (hours, got)


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_a_level_changed_weeks_ago_is_followed_not_mixed_with_the_weeks_before(shipped, factor):
    """A trial's series doubled 16 days before its end: no rule followed a change older than a
    week, the LSTM's window and 4-week memories mixed both levels, and the forecast shown (80 %
    "same hour yesterday", the days judged holding the step) scored 0.98 MASE against "last
    week" 0.35. Read at the new level, the weeks' shape is kept and last week is beaten."""
    idx, rate = weekly_site(400, 42 * 24 + 48)
    rate[-(16 * 24 + 48):] *= factor
    v = np.random.default_rng(3).poisson(rate[:-48]).astype(float)
    f = shipped.forecast(pd.Series(v, index=idx[:-48]), 48)
    truth = rate[-48:]
    assert 0.9 <= f.p50.sum() / truth.sum() <= 1.1, f.choice
    assert np.mean(np.abs(f.p50 - truth)) < np.mean(np.abs(v[-168:-120] - truth))  # last week
    assert "its usual level for the last 16 days" in f.choice, f.choice
    assert f.choice_short.endswith("x the usual level (for 16 d)"), f.choice_short


def test_only_a_level_held_since_it_changed_weeks_ago_is_read_as_new():
    from trafficwatch.model.features import level_shift

    idx, rate = weekly_site(400, 49 * 24)
    first = int(idx[0].timestamp()) // 3600
    rng = np.random.default_rng(4)

    def found(k: float, hours: int, upto: int = 0) -> object:
        r = rate.copy()
        r[len(r) - hours:len(r) - upto] *= k
        return level_shift(rng.poisson(r).astype(float), first)

    for k, days in ((2.0, 8), (0.5, 12), (3.0, 20)):
        old = found(k, days * 24)
        assert old is not None and old.hours == days * 24 and 0.85 < old.ratio / k < 1.15
    assert found(2.0, 25 * 24) is None  # older than SHIFT_OLD: the weeks since hold it
    assert found(0.4, 10 * 24, upto=5 * 24) is None  # five days off, back since: over
    assert found(1.3, 12 * 24) is None  # under half as much again
    grow = 1.02 ** (np.arange(len(rate)) / 24)  # 2 % a day for 7 weeks: a trend, not a step
    assert level_shift(rng.poisson(rate * grow).astype(float), first) is None


@pytest.mark.parametrize("hours", [160, 168, 175, 190])
def test_a_surge_is_said_and_spanned_by_a_site_too_young_to_judge(shipped, hours):
    """A forecasting trial: a site of 160 to 191 hours (unjudged) at 3 times its level for its
    last 12 hours, the level holding: no surge was said nor the band widened, as they were
    at 144 and 192 hours, and 0.17-0.54 of its next day fell inside the band (0.92-1.00
    where the surge was said)."""
    rng = np.random.default_rng(19)
    t = np.arange(hours + 24)
    rate = 200 * (1 + 0.8 * np.sin(2 * np.pi * (t % 24 - 9) / 24)) * np.where(t >= hours - 12,
                                                                            3, 1)
    v = rng.poisson(rate).astype(float)
    idx = pd.date_range("2024-03-04", periods=len(t), freq="h", tz="UTC")
    f = shipped.forecast(pd.Series(v[:hours], index=idx[:hours]), 24)
    assert f.choice.startswith("The last 12 hours were above the band, read as a surge"), \
        f.choice
    truth = v[hours:]
    assert np.mean((truth >= f.p10) & (truth <= f.p90)) >= 0.75, (f.p90, truth)
    out = rng.poisson(rate / np.where(t >= hours - 12, 3, 1)).astype(float)[:hours]
    out[-10:] = 0  # an outage is no dip (a review: its p10 had been cut from 152 to 20)
    f = shipped.forecast(pd.Series(out, index=idx[:hours]), 24)
    assert f.choice.startswith("The last 10 hours were at 0, read as an outage"), f.choice
    assert np.median(f.p10) > 100, f.p10


def test_a_surge_of_hours_and_a_site_without_a_weekend_say_what_the_forecast_assumes(shipped):
    # a trial: a site doubled 6 hours before its end was forecast back at its old level under
    # a choice that spoke only of the last 14 days ("the surge is over", it read); a site 3
    # days old forecast its first Saturday with a weekday's peak, nothing said
    idx, rate = weekly_site(400, 35 * 24)
    rng = np.random.default_rng(4)
    for factor, words, short in ((2.0, "above the band, read as a surge", "h above band"),
                                 (0.25, "below the band, read as a dip", "h below band")):
        r = rate.copy()
        r[-6:] *= factor
        f = shipped.forecast(pd.Series(rng.poisson(r).astype(float), index=idx), 24)
        assert re.match(rf"The last [5-9] hours were {words} that passes until it has held "
                        "for a day; ", f.choice), f.choice
        assert f.choice_short.endswith(short), f.choice_short
        # and the band drawn allows that it lasts (93 % of a trial's next 48 hours were above
        # p90); the anomalies keep the usual band
        truth = weekly_site(400, 36 * 24)[1][-24:] * factor  # the next day, at the new level
        a10, a90 = f.alarm()
        inside = (truth >= f.p10) & (truth <= f.p90)
        assert inside.mean() >= 0.8 and ((truth >= a10) & (truth <= a90)).mean() < 0.5
        side = "above" if factor > 1 else "below"
        assert re.match(rf"Band widened {side}: the last [5-9] hours were {side} it, so it spans "
                        "their level too", f.band_note), f.band_note
    f = shipped.forecast(pd.Series(rng.poisson(rate).astype(float), index=idx), 24)
    assert "The last" not in f.choice and "band" not in f.choice_short  # the usual weeks
    young = pd.Series(rng.poisson(rate[-72:]).astype(float), index=idx[-72:])  # Tue-Thu...
    assert set(young.index.day_of_week) == {1, 2, 3, 4}  # (Tue 21:00 to Fri 20:00 UTC)
    f = shipped.forecast(young, 48)  # Fri 21:00 to Sun 20:00
    assert f.choice.endswith("; the counts hold no Sat or Sun yet: forecast like the days "
                             "they hold, their band as wide as weekends and weekdays differ "
                             "on other sites (0.46x to 1.26x)"), f.choice  # (said: a recheck)
    assert f.choice_short.endswith("; no Sat, Sun counted yet")
    # and its band allows a weekend day's level of 0.46x to 1.26x a weekday's (the corpus's
    # 10th and 90th percentiles): 3 % of the trial's weekend hours were inside it; on the
    # corpus's series cut to Tue-Thu, 61 % -> 85 %
    weekend = f.index.day_of_week >= 5
    for lo, hi in (f.alarm(), (f.p10, f.p90)):
        assert (np.log1p(f.p50) - np.log1p(lo))[weekend].min() >= 0.78 - 1e-9
        assert (np.log1p(hi) - np.log1p(f.p50))[weekend].min() >= 0.23 - 1e-9
    friday = ~weekend
    assert (np.log1p(f.p50) - np.log1p(f.p10))[friday].max() < 0.78  # a weekday as before
    assert "no " not in shipped.forecast(young, 3).choice  # Friday night only: seen


def test_a_surge_beyond_the_widest_band_is_not_said_to_be_spanned(shipped):
    """A trial: 4 hours at 20,000-30,000 on a site of 60-540 an hour. The band drawn widens at
    most MAX_WIDEN (p90 7.4-fold); its p90 stayed near 5,000 for most of a week while the note
    said the band "spans their level too". Past that width the note says it reaches toward it."""
    idx, rate = weekly_site(300, 28 * 24)
    v = np.random.default_rng(9).poisson(rate).astype(float)
    v[-4:] = [20000, 25000, 30000, 28000]
    f = shipped.forecast(pd.Series(v, index=idx), 48)
    assert f.p90[6:].max() < v[-4:].min()  # the case: the widest band falls short of the
    # surge (but in its first hours, where the LSTM expects it to fade)
    assert f.band_note == ("Band widened above: the last 4 hours were above it; it reaches "
                           "toward their level (its top raised 7.4-fold at most)"), f.band_note
    assert "spans" not in f.band_note


def test_a_naive_shown_with_hours_taken_from_their_median_says_so(shipped):
    """A benchmark user's steady series of 0-3 an hour was forecast "same hour last week", yet 5
    of its 48 hours were not last week's: an hour that stood out from its 4 weeks is their
    median (a burst or a holiday is not repeated). What is shown is last week's elsewhere, and
    the choice says how many hours are not."""
    rng = np.random.default_rng(0)
    t = np.arange(168)
    week = np.clip(np.round(1.2 + 1.3 * np.sin(2 * np.pi * (t % 24 - 8) / 24)
                            + 0.5 * (t // 24 < 5)), 0, 3)
    v = np.tile(week, 4)
    v = np.clip(v + (rng.random(len(v)) < 0.12) * rng.choice([-1, 1], len(v)), 0, 3)
    f = shipped.forecast(series(v), 48)
    assert f.model == "naive168"
    other = np.flatnonzero(f.p50 != v[-168:-120])
    assert len(other), "no hour taken from the median: the case is not tested"
    weeks = np.stack([v[-168 * k:][:48] for k in (1, 2, 3, 4)])
    np.testing.assert_allclose(f.p50[other], np.median(weeks[:, other], axis=0))
    assert f.choice.endswith(f"; of same hour last week, {len(other)} hours of 48 stood out "
                             "from their 4 weeks: their median there"), f.choice


def test_a_day_off_both_ways_does_not_double_the_band_a_day_off_one_way_widens_it(shipped):
    """A benchmark user's road counter: its last day a holiday (no evening peak, a busier
    midday), outside the band on both sides. The band drawn was widened both ways to hold that
    day's errors: p90 2.4 times the median at every hour, twice the series' top, 18 times the
    next days' errors. A day off on both sides is no new level; off on one side it is read as
    one, as before."""
    rng = np.random.default_rng(5)
    t = np.arange(24 * 28)
    v = rng.poisson(2000 + 1800 * np.exp(-((t % 24 - 17) ** 2) / 8)
                    + 800 * np.exp(-((t % 24 - 8) ** 2) / 6)).astype(float)
    holiday = v.copy()
    holiday[-24:] = np.where(t[-24:] % 24 >= 15, 0.45, 1.5) * v[-24:]
    f = shipped.forecast(series(holiday), 24)
    assert "the last day had" not in f.band_note, f.band_note
    assert f.p90.max() <= 1.3 * holiday.max()
    busier = v.copy()
    busier[-24:-6] *= 1.3  # above the band all day, back for the last 6 hours
    f = shipped.forecast(series(busier), 24)
    assert f.band_note.startswith("Band widened above: the last day had"), f.band_note
    # a holiday's drop with a few hours above (the road counter's Christmas Day: 15 hours
    # below, 4 above): widened below alone, where it had been both ways, p90 1.65x the top
    drop, hour = v.copy(), t[-24:] % 24
    drop[-24:] *= np.where(hour < 15, 0.5, np.where(hour < 19, 1.05, 1.0))
    f = shipped.forecast(series(drop), 24)
    assert f.band_note.startswith("Band widened below: the last day had"), f.band_note
    assert f.p90.max() <= drop.max()


@pytest.mark.parametrize("days", [42, 5])  # 5: a young site, days not seen yet widened again
def test_a_band_widened_for_a_surge_reaches_half_as_much_again_as_its_highest_hour(shipped,
                                                                                  days):
    """A benchmark user's series ended in 12 hours at 15 times its level (2,430 an hour): the
    band, widened for the day that broke, had a p90 of 4,861 (twice anything the series held)
    for 38 of the next 48 hours. It reaches 1.5 times that day's highest hour at most."""
    idx, rate = weekly_site(160, days * 24, start="2026-12-01 00:00")
    v = np.random.default_rng(5).poisson(rate).astype(float)
    v[-12:] = np.random.default_rng(6).poisson(15 * 160, 12)
    f = shipped.forecast(pd.Series(v, index=idx), 48)
    top = v[-24:].max()
    assert "widened above" in f.band_note, f.band_note
    # (twice: 4,917), or the band's own p90 before that widening where it is higher (a young
    # site's days not seen yet widen it for a reason of their own)
    own = f.alarm()[1]
    assert (f.p90 <= np.maximum(1.5 * top, own) * (1 + 1e-9)).all(), (f.p90.max(), top)
    assert days == 5 or (own <= 1.5 * top).all()  # (at 42 days the cap alone bounds it)
    assert (f.p90 >= f.p50).all() and f.p90.max() > top  # wide still: the surge may go on


def test_a_series_of_measurements_is_forecast_alike_in_any_unit(shipped):
    """A trial: bike hires in thousands (0.01-1.2 an hour) read as counts were forecast worse
    than in hires (MASE 0.735 against 0.566), with another choice of forecast and a band 9
    times as wide. A series that is not whole counts is read at one level whatever its unit,
    the level at which whole counts are read as they are, and given back in its own units."""
    rng = np.random.default_rng(11)
    counts = series(daily_cycle(rng, 300.0) + rng.integers(0, 3, 24 * 28))  # whole counts
    fcs = {k: shipped.forecast(counts * k, 48) for k in (10.0, 0.001, 1e-5)}
    base = fcs[10.0]
    for k in (0.001, 1e-5):  # read at the level of counts * 10 (median 3000): the same forecast
        f, scale = fcs[k], 10.0 / k
        for q in ("p10", "p50", "p90"):
            np.testing.assert_allclose(getattr(f, q) * scale, getattr(base, q), rtol=1e-6)
        assert f.model == base.model and f.lstm_share == base.lstm_share
        assert f.recent.keys() == base.recent.keys()
        for name, err in f.recent.items():  # said in the series' own units
            assert err * scale == pytest.approx(base.recent[name], rel=1e-6)
    tiny = shipped.forecast(counts * 1e-312, 24)  # within a billionth of whole: read as 0s
    assert np.isfinite(tiny.p50).all() and (tiny.p10 <= tiny.p90).all()


@pytest.mark.parametrize("seed", [9, 16, 24])
def test_a_site_of_a_few_requests_a_day_is_not_read_as_traffic_that_broke(shipped, seed):
    # a hosting trial: a site of about a request a day, its last days a few more, was said to be
    # "judged on the last day alone: the LSTM had erred more than twice its usual on each of
    # the last 2 days" (a new level), and forecast where last week's stray hits fell
    rng = np.random.default_rng(seed)
    lam = [0.3, 1.0, 2.0][seed % 3]
    v = np.zeros(24 * 42)
    for d in range(42):
        for _ in range(rng.poisson(lam if d < 40 else lam * 4)):
            v[d * 24 + rng.integers(0, 24)] += 1
    hours = pd.date_range("2026-10-01", periods=len(v), freq="h", tz="UTC")
    f = shipped.forecast(pd.Series(v, index=hours), 24)
    assert "last day alone" not in f.choice, f.choice


def test_a_weekly_event_of_a_site_two_weeks_old_is_not_read_as_a_burst(shipped):
    # bench --days 21: a Melbourne counter 16 days old, its Sunday evening event there last
    # week (and this), not the week before (a holiday): read as a burst against the median of
    # those two weeks, and the forecast through "last week" fell to a fifth of it (2.7 times
    # the error of "last week" alone)
    rng = np.random.default_rng(3)
    idx = pd.date_range("2026-01-01", periods=24 * 20, freq="h", tz="UTC")
    dow, hod = idx.day_of_week.to_numpy(), idx.hour.to_numpy()
    lam = 100 + 80 * np.sin(2 * np.pi * (hod - 8) / 24)
    lam = np.where(dow >= 5, lam * 0.4, lam * (1 + 0.15 * dow))
    event = (dow == 6) & (hod >= 20)
    lam = np.where(event, lam * 12, lam)
    lam[np.flatnonzero(event)[:4]] /= 12  # the first Sunday's: none
    v = rng.poisson(lam).astype(float)
    o = int(np.flatnonzero(event)[8]) - 3  # 17 days in: the third Sunday's evening ahead
    f = shipped.forecast(pd.Series(v[:o], idx[:o]), 48)
    ev = event[o:o + 48]
    assert "naive168" in f.model
    assert (f.p50[ev] >= 0.5 * v[o - 168:o - 120][ev]).all(), (f.p50[ev], v[o - 168:o - 120][ev])


def test_a_log_begun_inside_its_only_hour_says_why_nothing_is_forecast():
    # an app trial: a log begun at 13:51 read "no complete hour with data yet" at 14:05, beside
    # a chart of its 13:00 (part of an hour, a gap to the forecast)
    idx = pd.date_range("2026-12-07 13:00", periods=2, freq="h", tz="UTC")
    s = pd.Series([np.nan, 117.0], index=idx)  # 13:00 begun inside, 14:00 in progress
    with pytest.raises(ValueError, match=r"no whole hour counted yet \(the log began inside "
                                         r"14:00: part of an hour, not its count\)"):
        predict(s, None, partial=idx[1], day_offset_s=3600)
    with pytest.raises(ValueError, match="no complete hour with data yet"):
        predict(s[1:], None, partial=idx[1])


def test_weekdays_from_a_weekend_alone_say_the_widening_they_get(shipped):
    # a review: two weekend days at 1,000 +- 5, Monday forecast with a band of 0.79x to 2.19x
    # its median, and the words said "0.46x to 1.26x" (a weekend's from weekdays)
    idx = pd.date_range("2026-10-03", periods=48, freq="h", tz="UTC")  # Sat-Sun
    s = pd.Series(1000 + np.random.default_rng(0).integers(-5, 6, 48).astype(float), index=idx)
    f = shipped.forecast(s, 24)
    assert "the counts hold no Mon yet" in f.choice
    assert "differ on other sites (0.79x to 2.18x)" in f.choice, f.choice
    assert 2.1 <= (f.p90 / f.p50).max() <= 2.2


@pytest.mark.parametrize("factor", [0.3, 0.5, 2.0])
def test_a_day_alone_at_another_level_is_not_yet_taken_for_the_new_level(shipped, factor):
    """A forecasting trial: a Thursday alone at 0.3x (a holiday the model does not know),
    forecast at Friday's midnight, was followed as the new level: Friday forecast at 0.3x,
    MASE 3.1 where last week's was 0.69, no hour inside the band, every hour flagged above.
    A day alone is not yet a new level: the median lies between it and the usual one, the
    bands (drawn and the anomalies') span both, and the words say so."""
    end = 34 * 24 + 3  # a Friday's midnight (UTC)
    idx, rate = weekly_site(400, end + 24, start="2026-10-30 21:00")
    assert idx[end].hour == 0 and idx[end].day_name() == "Friday"
    rate[end - 24:end] *= factor
    v = np.random.default_rng(3).poisson(rate).astype(float)
    f = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 24)
    truth, low = rate[end:], rate[end:] * factor
    lo, hi = f.alarm()
    for level in (truth, low):  # back to its usual level, or held at the day's
        assert ((level >= f.p10) & (level <= f.p90)).mean() >= 0.8, f.choice
        assert ((level >= lo) & (level <= hi)).mean() >= 0.8, f.choice
    assert min(1, factor) < f.p50.sum() / truth.sum() < max(1, factor), f.choice
    what = "a holiday or an outage" if factor < 1 else r"an event \(a campaign, a crawler\)"
    assert re.match(r"Traffic has been at [\d.]+x its usual level for the last 24 hours: a day "
                    rf"alone may be {what}", f.choice), f.choice
    assert f.choice_short.endswith("x for 24 h, band spans usual"), f.choice_short


@pytest.mark.parametrize("factor", [0.3, 2.0])
def test_two_days_at_another_level_keep_the_usual_level_in_the_band(shipped, factor):
    """Two days at another level (Thanksgiving and the Friday after it, a storm, a weekend's
    campaign) were followed from 30 hours, the band too: the Saturday after had no hour of the
    usual level inside it. On the corpus, changes 30-72 hours old, that band held 44-63 % of the
    next 48 hours (80 % meant): the bands span both levels until 3 days, and the words say so."""
    end = 34 * 24 + 3  # a Friday's midnight (UTC)
    idx, rate = weekly_site(400, end + 24, start="2026-10-30 21:00")
    rate[end - 48:end] *= factor  # Wednesday and Thursday
    v = np.random.default_rng(4).poisson(rate).astype(float)
    f = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 24)
    truth, low = rate[end:], rate[end:] * factor
    for level in (truth, low):  # back to its usual level, or held at the two days'
        assert ((level >= f.p10) & (level <= f.p90)).mean() >= 0.8, f.choice
    lo, hi = f.alarm()  # the anomalies' band is the new level's (not to 0 after a rise)
    assert ((low >= lo) & (low <= hi)).mean() >= 0.8 and (lo > 0.5 * f.p10).all()
    assert re.match(r"Traffic has held at [\d.]+x its usual level for the last 48 hours: the "
                    r"forecast reads the weeks before at that level, its band spanning the usual "
                    r"level too until it holds for 3 days", f.choice), f.choice


@pytest.mark.parametrize("hours,factor", [(2, 10.0), (2, 3.0), (5, 3.0)])
def test_a_short_surge_at_the_end_is_not_forecast_into_the_next_days(shipped, hours, factor):
    """A forecasting trial: a crawler's last 2 hours at 10 times a shop's traffic lifted its
    next two days 1.35x (MASE 1.84 / 1.43 where last week's was 0.78 / 0.76), as the model's
    last hour and window read them into every hour ahead; 2 hours at 3x 1.14x. The hours a
    few hours on read such a surge as over; the next hours still read it."""
    end = 34 * 24 + 13
    idx, rate = weekly_site(400, end + 48, start="2026-10-30 21:00")
    v = np.random.default_rng(5).poisson(rate).astype(float)
    clean = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 48)
    w = v[:end].copy()
    w[-hours:] *= factor
    f = shipped.forecast(pd.Series(w, index=idx[:end]), 48)
    far = slice(12, 48)
    assert 0.95 < f.p50[far].sum() / clean.p50[far].sum() < 1.05
    truth = rate[end:]
    assert ((truth[far] >= f.p10[far]) & (truth[far] <= f.p90[far])).mean() >= 0.8
    assert f.p90[0] > clean.p90[0]  # the next hour: it may go on
    assert "surge" in f.choice, f.choice  # and said (1 or 2 hours had been said nowhere)
    if hours < 4:
        assert f.choice.endswith(f"; the last {hours} hours far above their usual, read as a "
                                 "surge that is over from 12 hours ahead"), f.choice


def test_a_site_back_from_an_outage_of_a_week_is_not_read_as_a_surge_that_passes(shipped):
    """A review: a site down 9 days (no line, counted 0), back for its last 4 hours, was read
    as a surge over the week before's zeros: its next day forecast at the outage's 0 (109
    where 2,746 came) and flagged whole."""
    end = 34 * 24 + 16
    idx, rate = weekly_site(400, end + 48, start="2026-10-30 21:00")
    v = np.random.default_rng(2).poisson(rate).astype(float)
    w = v[:end].copy()
    w[-(9 * 24 + 4):-4] = 0.0
    f = shipped.forecast(pd.Series(w, index=idx[:end]), 48)
    far = slice(12, 48)
    assert 0.5 < f.p50[far].sum() / rate[end:][far].sum() < 2, f.choice
    assert f.alarm()[1][far].sum() > 0.5 * rate[end:][far].sum()  # not flagged whole


@pytest.mark.parametrize("before", ["a gap of 12 hours", "2 hours back after it"])
def test_a_day_alone_is_hedged_after_a_gap_and_less_once_traffic_comes_back(shipped, before):
    """A review: after 12 hours no log covered, a day at 0.3x was "36 h" old, past the hedge,
    followed whole (MASE 4.14, the normal day after flagged whole); 2 hours back at the usual
    level after it weighed the hedge toward the day's level (26 hours old), MASE 2.54 -> 3.00."""
    end = 34 * 24 + 3
    idx, rate = weekly_site(400, end + 24, start="2026-10-30 21:00")
    rate[end - 24:end] *= 0.3
    v = np.random.default_rng(3).poisson(rate).astype(float)
    if before.startswith("a gap"):
        v[end - 36:end - 24] = np.nan
        cut, truth = end, weekly_site(400, end + 24, start="2026-10-30 21:00")[1][end:]
    else:
        v[end:end + 2] = weekly_site(400, end + 24, start="2026-10-30 21:00")[1][end:end + 2]
        cut, truth = end + 2, weekly_site(400, end + 26, start="2026-10-30 21:00")[1][end + 2:]
    f = shipped.forecast(pd.Series(v[:cut], index=idx[:cut]), 22)
    lo, hi = f.alarm()
    assert ((truth[:22] >= lo) & (truth[:22] <= hi)).mean() >= 0.8, f.choice
    # nearer the usual level than the day's (at 0.55x or more of it)
    assert f.p50.sum() / truth[:22].sum() >= (0.5 if before.startswith("a gap") else 0.65), \
        f.choice


def test_a_short_surge_is_said_by_its_own_hours_not_the_gaps_before_it(shipped):
    # a reread: the hours said were counted as those the surge's reading changed, and a gap
    # (NaN, never equal to itself) counted as one: "the last 14 hours" of a 2-hour surge
    end = 34 * 24 + 13
    idx, rate = weekly_site(400, end, start="2026-10-30 21:00")
    v = np.random.default_rng(5).poisson(rate).astype(float)
    v[100:112] = np.nan  # 12 hours no log covered, weeks before
    v[-2:] *= 10
    f = shipped.forecast(pd.Series(v, index=idx), 48)
    assert "; the last 2 hours far above their usual" in f.choice, f.choice


@pytest.mark.parametrize("at,east", [(0, 0), (21, 0), (0, 10), (0, -5)])
def test_last_weeks_holiday_is_not_forecast_again_a_week_later(shipped, at, east):
    """A forecasting trial: a Monday holiday at a Sunday's level (0.6x, none of its hours
    DAY_FAR from their weeks) was shown again the Monday after, 60 % "same hour last week":
    35/h where the LSTM alone erred 17.6/h, 8 of 21 hours inside the band, the normal Monday
    flagged. A whole day of last week apart from its weeks and from the days since is its own,
    at a site `east` hours east of UTC too (its days split at UTC midnight alone, a review: 8
    of the hours of a site at UTC+10 repeated)."""
    monday = 3 + 48 + 5 * 168  # a Monday's midnight (the site's), 5 weeks in
    end = monday - (24 - at) % 24  # forecast from it, or from the Sunday's 21:00
    idx, rate = weekly_site(150, monday + 24)
    assert idx[monday].day_name() == "Monday" and idx[monday].hour == 0
    idx = idx - pd.Timedelta(hours=east)  # the site's hours in UTC
    rate[monday - 168:monday - 144] *= 0.45  # the Monday before at a weekend's level
    v = np.random.default_rng(6).poisson(rate).astype(float)
    f = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 24)
    truth = rate[end:end + 24]
    day = slice((24 - at) % 24, 24)  # the Monday's hours
    assert f.p50[day].sum() > 0.8 * truth[day].sum(), f.choice  # 0.74 then
    if not at:  # nearly all of it, not 18 of its hours at UTC+10 (19 at UTC-5)
        said = re.search(r"same hour last week, (\d+) hours of 24 stood out", f.choice)
        assert said and int(said.group(1)) >= 21, f.choice
    assert ((truth[day] >= f.p10[day]) & (truth[day] <= f.p90[day])).mean() >= 0.8, f.choice


def test_a_burst_that_fades_widens_the_next_days_band_only_to_where_it_came_down(shipped):
    """A forecasting trial: a link on a news site, 2,000 extra requests at 14:00 fading to twice
    the usual by midnight (10 hours above the band, 11 of 24 inside): the next day's band drawn
    was widened to 4.5 times its median, wider than the 98 % anomaly band. A day's hours outside
    the band widen it no further than its latest ones sit."""
    end = 3 + 48 + 4 * 168 + 24  # a Tuesday's midnight (UTC)
    idx, rate = weekly_site(150, end + 24)
    k = np.arange(10)
    rate[end - 10:end] += 2000 * np.exp(-k / 2.5)  # from 14:00 on
    v = np.random.default_rng(8).poisson(rate).astype(float)
    f = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 24)
    truth = rate[end:]
    assert ((truth >= f.p10) & (truth <= f.p90)).mean() >= 0.8, f.choice
    assert f.p90.sum() / f.p50.sum() < 4.0, (f.p90.sum() / f.p50.sum(), f.choice)  # 5.8 then


def test_a_crawlers_steady_count_added_is_followed_though_small_by_day(shipped):
    """A forecasting trial: a crawler's steady 300 an hour on a site of 3,000 (1.1x by day,
    1.5x at night, 1.2x by the median hour) was no change of level: forecast 128-280 an hour
    low for 5 days, its nights flagged each day. A count added that lifts the quiet hours is
    followed as such, and said."""
    end = 3 + 48 + 4 * 168 + 24  # a Tuesday's midnight (UTC)
    idx, rate = weekly_site(3000, end + 24)
    rate = rate + 300.0 * (np.arange(len(rate)) >= end - 5 * 24)  # from 5 days before
    v = np.random.default_rng(9).poisson(rate).astype(float)
    f = shipped.forecast(pd.Series(v[:end], index=idx[:end]), 24)
    truth = rate[end:]
    night = truth < np.quantile(truth, 0.25)
    said = r"Traffic has held (2[6-9]\d|3[0-4]\d) an hour above its usual level"
    assert re.match(said, f.choice), f.choice
    assert abs(f.p50[night].sum() / truth[night].sum() - 1) < 0.1, f.choice
    assert ((truth >= f.p10) & (truth <= f.p90)).mean() >= 0.8, f.choice
