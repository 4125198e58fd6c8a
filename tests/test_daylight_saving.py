"""Traffic keeps local time; a log's UTC hours move an hour at a daylight-saving change. The
forecast must follow the site's clock, not repeat last week's hours an hour off."""
from __future__ import annotations

import re
import time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from trafficwatch.cli.main import main
from trafficwatch.counting.ingest import IngestOptions, ingest
from trafficwatch.hours import OFFSETS, epoch_seconds
from trafficwatch.model.evaluate import score, seasonal_scale
from trafficwatch.model.features import follow_clock
from trafficwatch.model.forecaster import Forecaster

SWITCH = pd.Timestamp("2026-10-25 01:00", tz="UTC")  # Paris: 03:00 CEST -> 02:00 CET


def test_follow_clock_moves_the_hours_before_a_change_onto_the_hours_since():
    v = np.arange(8.0)
    autumn = np.array([7200] * 4 + [3600] * 4)  # the offset fell: traffic comes an hour later
    assert np.array_equal(follow_clock(v, autumn), [np.nan, 0, 1, 2, 4, 5, 6, 7],
                          equal_nan=True)  # 3 and 4 were both 02:00 local: the later is kept
    spring = np.array([3600] * 4 + [7200] * 4)  # it rose: an hour earlier, one local hour lost
    assert np.array_equal(follow_clock(v, spring), [1, 2, 3, np.nan, 4, 5, 6, 7],
                          equal_nan=True)
    assert np.array_equal(follow_clock(v, np.full(8, 19800)), v)  # no change: as it was
    # a server's time zone set anew (+0000 -> -0500): its visitors' hours did not move in UTC
    assert np.array_equal(follow_clock(v, np.array([0] * 4 + [-18000] * 4)), v)
    # after it, an hour's change is daylight saving again, the hours before the move on UTC
    moved = np.array([0] * 2 + [-18000] * 3 + [-14400] * 3)
    assert np.array_equal(follow_clock(v, moved), [0, 1, 3, 4, np.nan, 5, 6, 7], equal_nan=True)
    # the chart's "same hours last week" alike: an hour back after daylight saving, not 5
    from trafficwatch.hours import week_before

    hours = 3600 * np.arange(400, dtype=np.int64)
    counts = np.arange(400.0)
    at = hours[-3:]
    for new, back in ((-18000, 168), (3600, 167), (-3600, 169)):
        off = np.where(np.arange(400) < 300, 0, new)
        assert np.array_equal(week_before(hours, counts, at, offsets=off), counts[-3:] - back)


def paris_log(path, start: str, days: int, seed: int = 0) -> None:
    """An nginx log of a site whose visitors keep Paris time, written in Paris time (the
    offset changes at SWITCH), a few visits an hour at night and a peak at 14:00 local."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start, tz="UTC")
    lines = []
    for k in range(days * 24):
        t = t0 + pd.Timedelta(hours=k)
        off = 7200 if t < SWITCH else 3600
        local = t + pd.Timedelta(seconds=off)
        weekend = 0.6 if local.day_of_week >= 5 else 1.0
        rate = 60 * weekend * np.exp(1.3 * np.cos(2 * np.pi * (local.hour - 14) / 24))
        for s in np.sort(rng.integers(0, 3600, rng.poisson(rate))):
            when = (local + pd.Timedelta(seconds=int(s))).to_pydatetime()
            stamp = when.strftime("%d/%b/%Y:%H:%M:%S") + (" +0200" if off == 7200 else " +0100")
            lines.append(f'192.0.2.{s % 200} - - [{stamp}] "GET /p/{s % 7} HTTP/1.1" 200 512 "-" '
                         f'"Mozilla/5.0"\n')
    path.write_text("".join(lines))


@pytest.fixture(scope="module")
def paris(tmp_path_factory):
    log = tmp_path_factory.mktemp("dst") / "access.log"
    paris_log(log, "2026-09-20", 42)  # five weeks before the change, a week after it
    return log


@pytest.fixture(scope="module")
def site_series(paris) -> pd.Series:
    counts, _ = ingest([str(paris)], IngestOptions())
    return counts.series(None, "hits", whole_hours=True)


def test_a_log_read_for_a_model_carries_each_hours_offset(site_series):
    off = site_series.attrs[OFFSETS]
    assert (off.index == site_series.index).all()
    assert set(off[site_series.index < SWITCH]) == {7200}
    assert set(off[site_series.index >= SWITCH]) == {3600}


def test_the_week_after_the_change_is_forecast_on_the_sites_clock(site_series):
    """The shipped model, day-ahead from each of the 5 days after the change: on UTC hours its
    memories put the afternoon peak an hour early (the same forecast with the offsets dropped)."""
    fc = Forecaster.load(None)
    v = site_series.to_numpy(dtype=float)
    first = int(np.searchsorted(site_series.index, SWITCH)) + 23  # a day after the change
    on_clock, on_utc = [], []
    for o in range(first, len(v) - 24, 24):
        history = site_series.iloc[:o]
        utc = history.copy()
        utc.attrs = {}
        for fcast, out in ((fc.forecast(history, 24), on_clock), (fc.forecast(utc, 24), on_utc)):
            q = np.stack([fcast.p10, fcast.p50, fcast.p90], axis=-1)
            out.append(score(v[o:o + 24], q, seasonal_scale(v[:o]))["mase"])
    assert len(on_clock) == 5
    assert np.mean(on_clock) < 0.7 * np.mean(on_utc), (on_clock, on_utc)  # about 0.5
    # a log whose offset never changed reads as before: the forecast is the UTC one
    steady = site_series.iloc[-200:].copy()
    steady.attrs[OFFSETS] = pd.Series(3600, steady.index)
    plain = steady.copy()
    plain.attrs = {}
    assert np.array_equal(fc.forecast(steady, 24).p50, fc.forecast(plain, 24).p50)



def test_the_seasonal_naives_repeat_the_same_local_hour_after_the_change(site_series):
    """A trial: `eval` scored the forecast (on the site's clock) against naives that stepped
    back whole UTC hours, an hour off the site's day for a week after each change, so the
    LSTM's lead read twice what it was. The naives repeat the same local hour, as the
    forecast's own "same hour yesterday" does."""
    from trafficwatch.model.baselines import naive24, naive168

    first = int(np.searchsorted(site_series.index, SWITCH))
    history = site_series.iloc[:first + 30]  # 30 hours after the change
    local = site_series.index.tz_convert("Europe/Paris")
    v = history.to_numpy(dtype=float)
    checked = 0
    for fn, back in ((naive24, 1), (naive168, 7)):
        p50 = fn(history, 24)[:, 1]
        for h in range(24):  # the hour of the same local time `back` days before
            at = local[len(v) + h] if len(v) + h < len(local) else None
            want = local.get_loc(at - pd.DateOffset(days=back)) if at is not None else None
            if want is not None and np.isfinite(v[want]):
                assert p50[h] == v[want], (fn.__name__, h)
                checked += 1
    assert checked >= 40
    # a series without offsets (a CSV of UTC hours) steps back by hours, as before
    utc = history.copy()
    utc.attrs = {}
    assert np.array_equal(naive168(utc, 24)[:, 1], v[len(v) - 168:len(v) - 144])


def test_the_counts_csv_of_such_a_log_is_forecast_as_the_log(paris, tmp_path, capsys):
    """`counts` writes each hour in its log's offset; read back, the CSV follows the change as
    the log does (not the UTC hours: its forecast was another)."""
    assert main(["counts", str(paris)]) == 0
    csv = tmp_path / "counts.csv"
    csv.write_text(capsys.readouterr().out)
    assert "+02:00" in csv.read_text() and "+01:00" in csv.read_text()
    outs = []
    for path in (paris, csv):
        assert main(["forecast", str(path), "--horizon", "24", "--format", "csv"]) == 0
        outs.append(capsys.readouterr().out)
    p50 = [np.array([float(r.split(",")[2]) for r in o.splitlines()[1:]]) for o in outs]
    # to the digit: the log's first hour, begun inside, is a gap to both (partial in the CSV)
    assert len(p50[0]) == 24 and np.array_equal(p50[0], p50[1])
    utc = tmp_path / "utc.csv"  # the same counts on UTC hours: read in UTC, another forecast
    utc.write_text("hour,count\n" + "".join(
        f"{t.isoformat()},{'' if np.isnan(v) else int(v)}\n"
        for t, v in read_counts(csv).items()))
    assert main(["forecast", str(utc), "--horizon", "24", "--format", "csv"]) == 0
    other = np.array([float(r.split(",")[2]) for r in capsys.readouterr().out.splitlines()[1:]])
    assert not np.allclose(other, p50[1], rtol=0.01)


def read_counts(path) -> pd.Series:
    from trafficwatch.counting.load import read_counts_csv

    return read_counts_csv(str(path))


def test_offsets_that_change_within_weeks_are_no_clock_and_read_as_instants(tmp_path):
    """Rows of one series alternating +00:00 and +05:00 (two exports joined, a tool that writes
    each server's own offset) were followed as clock changes every hour: the forecast read a
    scrambled week (MASE 5.1 against naive's 0.97). A clock changes twice a year."""
    from trafficwatch.counting.load import read_counts_csv

    idx = pd.date_range("2024-03-01", periods=24 * 21, freq="h", tz="UTC")
    v = np.arange(len(idx)) % 24 + 10
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("hour,count\n" + "".join(
        f"{t.tz_convert('+05:00' if i % 2 else '+00:00').isoformat()},{x}\n"
        for i, (t, x) in enumerate(zip(idx, v))))
    warned: list[str] = []
    s = read_counts_csv(str(mixed), warn=warned.append)
    assert OFFSETS not in s.attrs and s.index.equals(idx) and (s.to_numpy() == v).all()
    assert len(warned) == 1 and "UTC offsets changing within weeks" in warned[0]
    assert "2024-03-01T01:00:00+00:00 and again 1 h later" in warned[0]
    dst = tmp_path / "dst.csv"  # one change: a clock's, followed
    dst.write_text("hour,count\n" + "".join(
        f"{t.tz_convert('+02:00' if i >= 200 else '+01:00').isoformat()},{x}\n"
        for i, (t, x) in enumerate(zip(idx, v))))
    warned.clear()
    assert OFFSETS in read_counts_csv(str(dst), warn=warned.append).attrs and not warned


def test_the_charts_same_hours_last_week_are_the_same_local_hours(paris):
    # the chart's `w` line and its stretch over the forecast took the UTC hour 168 hours back:
    # in the week after the change each hour showed last week's hour an hour off (the 14:00
    # peak drawn at 15:00), while the forecast's "same hour last week" follows the clock
    from trafficwatch.engine.views import ViewState, series_view
    from trafficwatch.filters import ViewFilter
    from trafficwatch.hours import week_before

    counts, _ = ingest([str(paris)], IngestOptions())
    s = counts.series(None, "hits")  # as the chart's series is read: not whole hours
    state = ViewState(sites=("access",), site="", metric="hits", filter=ViewFilter(), band=0.8,
                      replay=False, speed=1.0, now=float(s.index[-1].timestamp()) + 600,
                      partial_hour=None, tz_offset_s=3600, last_ts=None)
    sv = series_view(state, s)
    v, t = s.to_numpy(), sv.hours
    at = {int(h): x for h, x in zip(epoch_seconds(s.index), v)}  # (pandas 3: not always ns)

    def count(h):
        return at.get(int(h), np.nan)

    switch = SWITCH.timestamp()
    week = (t >= switch) & (t - 7 * 86400 < switch)  # last week on summer time: an hour on
    expected = [count(h - 169 * 3600) for h in t[week]]
    assert np.array_equal(sv.last_week[week], expected, equal_nan=True)
    assert not np.array_equal(sv.last_week[week], [count(h - 168 * 3600) for h in t[week]])
    same = ~week  # before the change, and a week after it (both weeks on one clock)
    assert np.array_equal(sv.last_week[same], [count(h - 168 * 3600) for h in t[same]],
                          equal_nan=True)
    # over the forecast's hours too: from a series that ends three days after the change
    sv = series_view(state, s[s.index < SWITCH + pd.Timedelta(days=3)])
    ahead = sv.hours[-1] + 3600 * np.arange(1, 25)
    got = week_before(sv.hours, sv.counts, ahead, None, sv.offsets)
    assert np.array_equal(got, [count(h - 169 * 3600) for h in ahead], equal_nan=True)


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_the_screen_labels_each_hour_in_its_own_offset(paris, tz):
    # after the change every hour before it was labelled in the new offset: the cursor on an
    # hour `counts` writes 12:00+02:00 said "12:00" for the hour before it (a trial), with
    # --tz or without
    from zoneinfo import ZoneInfo

    from trafficwatch.app.gate_words import fmt_hour, hour_title, shown_offset
    from trafficwatch.engine.views import ViewState, series_view
    from trafficwatch.filters import ViewFilter

    counts, _ = ingest([str(paris)], IngestOptions())
    s = counts.series(None, "hits")
    state = ViewState(sites=("access",), site="", metric="hits", filter=ViewFilter(), band=0.8,
                      replay=False, speed=1.0, now=float(s.index[-1].timestamp()) + 600,
                      partial_hour=None, tz_offset_s=3600, last_ts=None,
                      tz=ZoneInfo(tz) if tz else None)
    sv = series_view(state, s)
    before, after = SWITCH - pd.Timedelta(hours=30), SWITCH + pd.Timedelta(hours=30)
    off = shown_offset(sv)
    assert fmt_hour(int(before.timestamp()), off, "%d %H:00") == \
        (before + pd.Timedelta(hours=2)).strftime("%d %H:00")
    assert fmt_hour(int(after.timestamp()), off, "%d %H:00") == \
        (after + pd.Timedelta(hours=1)).strftime("%d %H:00")
    ahead = int(sv.hours[-1]) + 24 * 3600  # a forecast's hour: the offset of now
    assert sv.offset_at(ahead) == 3600 and off == 3600  # (and reckoned in as an int)
    # the hour repeated is told apart (the hour pane read "Sun 25 Oct 02:00" twice: a trial)
    first, again = int(SWITCH.timestamp()) - 3600, int(SWITCH.timestamp())
    assert hour_title(first, off) == f"{time.strftime('%a %d %b', time.gmtime(first))} " \
        "02:00 (+02:00)"
    assert hour_title(again, off).endswith(" 02:00 (+01:00)")
    assert "(" not in hour_title(again + 3600, off) + hour_title(first - 3600, off)


def test_the_empty_hours_between_two_logs_are_labelled_in_the_nearer_ones_offset(tmp_path):
    """A trial on the real logs: secrepo's 2021 log (-07:00) and its 2022 one (-08:00); the
    empty days between them took the 2021 log's offset, and the chart's axis read "Wed 14:00,
    Thu 13:00" across the days before the 2022 log. Each empty hour takes the offset of the
    nearer hour with lines."""
    from trafficwatch.app.gate_words import fmt_hour, shown_offset
    from trafficwatch.engine.views import ViewState, series_view
    from trafficwatch.filters import ViewFilter

    def lines(start: str, hours: int, zone: str) -> str:
        t0 = pd.Timestamp(start, tz="UTC")
        out = []
        for k in range(hours):
            local = (t0 + pd.Timedelta(hours=k)).tz_convert(zone)
            stamp = local.strftime("%d/%b/%Y:%H:%M:%S %z")
            out.append(f'192.0.2.1 - - [{stamp}] "GET / HTTP/1.1" 200 5 "-" "curl"\n')
        return "".join(out)
    (tmp_path / "access.log.1").write_text(lines("2021-10-20 00:00", 48, "America/Los_Angeles"))
    (tmp_path / "access.log").write_text(lines("2022-12-22 00:00", 24, "America/Los_Angeles"))
    counts, _ = ingest([str(tmp_path)], IngestOptions())
    s = counts.series(None, "hits")
    assert len(counts.sites()) == 1  # one site's two logs, a year apart
    state = ViewState(sites=tuple(counts.sites()), site="", metric="hits", filter=ViewFilter(),
                      band=0.8, replay=False, speed=1.0,
                      now=float(s.index[-1].timestamp()) + 600, partial_hour=None,
                      tz_offset_s=-8 * 3600, last_ts=None)
    sv = series_view(state, s)
    off = shown_offset(sv)
    first_new = int(pd.Timestamp("2022-12-22 00:00", tz="UTC").timestamp())
    for back in (1, 24, 72):  # the empty hours just before the 2022 log, in the chart
        h = first_new - back * 3600
        assert h >= sv.hours[0] and sv.offset_at(h) == -8 * 3600, back
        assert fmt_hour(h, off, "%H:00") == \
            (pd.Timestamp(h, unit="s") - pd.Timedelta(hours=8)).strftime("%H:00")
    # and the old log's own hours keep their offset, as its lines gave it
    assert s.attrs[OFFSETS].iloc[30] == -7 * 3600


def test_a_csv_of_wall_clock_hours_is_read_in_the_zone_tz_names(paris, tmp_path, capsys):
    """A CSV whose hours state no offset (a database's GROUP BY on local time, a spreadsheet)
    was read as UTC even with --tz Europe/Paris: its forecast began an hour or two off the
    clock, and autumn's hour that comes twice was 'repeated' rows, read once."""
    assert main(["counts", str(paris)]) == 0
    local = tmp_path / "local.csv"  # counts' rows, each hour's offset taken off
    local.write_text(re.sub(r"[+-]\d\d:\d\d,", ",", capsys.readouterr().out))
    assert local.read_text().count("2026-10-25T02:00:00,") == 2  # summer's, then winter's
    site = local.read_text().splitlines()[1].split(",")[1]
    outs = []  # (--site: the loader train and a CSV's one series go through)
    for path, tz in ((paris, []), (local, ["--tz", "Europe/Paris"]), (local, []),
                     (local, ["--tz", "Europe/Paris", "--site", site])):
        assert main(["forecast", str(path), "--horizon", "24", "--format", "csv", *tz]) == 0
        out, err = capsys.readouterr()
        outs.append(out)
        assert "repeated" not in err or not tz
    assert outs[1] == outs[0] == outs[3]  # to the digit, hours and all, as the log's own
    assert outs[2].splitlines()[1].split(",")[0].endswith("+00:00") and outs[2] != outs[0]


def test_tz_reads_the_hour_a_spring_clock_skips_as_the_next_one(tmp_path):
    from trafficwatch.counting.load import read_counts_csv

    path = tmp_path / "spring.csv"
    path.write_text("hour,count\n2027-03-28 01:00:00,5\n2027-03-28 02:00:00,6\n"
                    "2027-03-28 03:00:00,7\n2027-03-28 04:00:00,8\n")
    s = read_counts_csv(str(path), tz=ZoneInfo("Europe/Paris"))
    # 01:00 +01:00 is 00:00 UTC; 02:00 does not exist: read as 03:00 +02:00, 01:00 UTC, with it
    assert list(s.index.strftime("%H")) == ["00", "01", "02"] and list(s) == [5, 13, 8]


def test_a_log_two_servers_write_in_two_offsets_is_read_as_instants(tmp_path, site_series):
    # a trial: +0000 and +0100 lines in one log (two servers): each hour took its last line's
    # offset, and the forecast followed every flip as a clock change (gaps at each, 16 vs 25)
    log = tmp_path / "mixed.log"
    t0 = pd.Timestamp("2026-11-01", tz="UTC")
    rng = np.random.default_rng(3)
    rows = []
    for k in range(24 * 21):
        for minute in np.sort(rng.integers(0, 60, 6)):
            j = int(rng.integers(2))  # which server wrote the line: +0000 or +0100
            local = t0 + pd.Timedelta(hours=k + j, minutes=int(minute))
            rows.append(f'192.0.2.{j} - - [{local:%d/%b/%Y:%H:%M:%S} +0{j}00] "GET / HTTP/1.1" '
                        '200 5 "-" "ua"\n')
    log.write_text("".join(rows))
    counts, _ = ingest([str(log)], IngestOptions())
    s = counts.series(None, "hits", whole_hours=True)
    assert OFFSETS not in s.attrs and int(counts.series(None, "hits").sum()) == len(rows)
    assert OFFSETS in site_series.attrs  # one change, a clock's: followed


def test_the_day_of_the_change_is_judged_on_the_sites_clock_after_it(site_series):
    """The day-ahead forecast a change's day is judged by (past forecasts, anomalies, alerts)
    is made at its midnight, before the change: its hours after the change are an hour off.
    A trial's spring Sunday had its morning flagged above the band and its evening below, two
    alerts. From the change on, each hour takes the forecast of the same local hour."""
    from trafficwatch.engine.predict import past_days

    class Model:  # the cache's key: any object
        pass

    def hour_numbers(h, n):  # each hour's forecast is its hour of the day (from midnight)
        return np.repeat(np.arange(n, dtype=float)[:, None], 3, axis=1)

    start = int((SWITCH + pd.Timedelta(days=2)).timestamp()) // 3600 * 3600
    days = {int(d.hours[0]): d for d in past_days(site_series, hour_numbers, Model(), start, 4,
                                                  day_offset_s=7200)}
    midnight = int((SWITCH - pd.Timedelta(hours=3)).timestamp())  # 00:00 CEST, 22:00 UTC
    change = days[midnight].q[:, 1]
    assert change[:3].tolist() == [0, 1, 2]  # 00:00-02:00 CEST
    assert change[3:].tolist() == list(range(2, 23))  # 02:00 CET on: an hour of the clock again
    assert days[midnight - 86400].q[:, 1].tolist() == list(range(24))  # the day before: as made
    # the day after, made on the new clock: as made
    assert days[midnight + 86400].q[:, 1].tolist() == list(range(24))
