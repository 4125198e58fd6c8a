"""Hourly counts as analytics tools and databases export them (a web analyst's trial): GA4's
dateHour and its date,hour columns, counts with thousands separators, PostgreSQL's +01
offsets, BigQuery's ' UTC', a GROUP BY that writes no row for an hour without visits, a
table's row key, and eval's forecasts across a daylight-saving change."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.test_forecast_cmd import traffic
from trafficwatch.cli.main import main
from trafficwatch.counting.load import read_counts_csv_all
from trafficwatch.hours import OFFSETS


@pytest.fixture
def visits() -> pd.Series:
    """Three weeks of hourly visits from 2024-03-17 00:00 UTC (Europe's clocks change on the
    31st), some hours over 1,000."""
    s = traffic(21)
    s.index = pd.date_range("2024-03-17", periods=len(s), freq="h", tz="UTC")
    return (s * 1500 / s.max()).round()


def read(tmp_path, text: str, **kw) -> tuple[pd.Series, list[str]]:
    path = tmp_path / "export.csv"
    path.write_text(text)
    said: list[str] = []
    table = read_counts_csv_all(str(path), warn=said.append, **kw)
    assert len(table.series) == 1
    return next(iter(table.series.values())), said


def test_ga4_date_hours_are_dates_and_hours_not_unix_seconds(tmp_path, visits):
    # 2024030300 read as Unix seconds: five weeks were 3 hours of 2034, forecast at 225,153/h
    s, said = read(tmp_path, "hour,visits\n" + "".join(
        f"{t:%Y%m%d%H},{int(v)}\n" for t, v in visits.items()))
    assert s.index.equals(visits.index) and np.array_equal(s.to_numpy(), visits.to_numpy())
    assert any("YYYYMMDDHH" in x and "--tz" in x for x in said)


def test_a_date_column_and_an_hour_of_the_day_are_one_time(tmp_path, visits):
    # GA4's date,hour: every day's 00..23 were summed into 24 "hour numbers", exit 0
    s, said = read(tmp_path, "date,hour,visits\n" + "".join(
        f"{t:%Y%m%d},{t:%H},{int(v)}\n" for t, v in visits.items()))
    assert s.index.equals(visits.index) and np.array_equal(s.to_numpy(), visits.to_numpy())
    assert any("columns 'date' and 'hour' read as one time" in x for x in said)


@pytest.mark.parametrize(("sep", "quote"), [(",", '"'), (".", ""), ("\u00a0", "")])
def test_counts_with_thousands_separators_are_whole_numbers(tmp_path, visits, sep, quote):
    # "1,548" was no number (every busy hour a gap); German Excel's 1.548 was 1.5 requests
    def grouped(v: float) -> str:
        return quote + f"{int(v):,}".replace(",", sep) + quote

    s, said = read(tmp_path, "hour,count\n" + "".join(
        f"{t.isoformat()},{grouped(v)}\n" for t, v in visits.items()))
    assert np.array_equal(s.to_numpy(), visits.to_numpy())
    assert any("written with thousands separators" in x for x in said)


def test_fractions_to_three_places_are_not_thousands(tmp_path, visits):
    s, said = read(tmp_path, "hour,count\n" + "".join(
        f"{t.isoformat()},{v / 1000:.3f}\n" for t, v in visits.items()))
    assert np.allclose(s.to_numpy(), visits.to_numpy() / 1000)
    assert not any("thousands" in x for x in said)


def test_postgres_hour_offsets_are_offsets(tmp_path, visits):
    # timestamptz as text, '2024-03-03 01:00:00+01': read as UTC, the site's clock lost
    local = visits.index.tz_convert("Europe/Berlin")
    s, _ = read(tmp_path, "hour,count\n" + "".join(
        f"{t:%Y-%m-%d %H:%M:%S}{t:%z}"[:-2] + f",{int(v)}\n" for t, v in zip(local, visits)))
    assert s.index.equals(visits.index)
    assert set(s.attrs[OFFSETS]) == {3600, 7200}  # 31 March's change followed
    s, _ = read(tmp_path, "hour,count\n" + "".join(  # BigQuery's
        f"{t:%Y-%m-%d %H:%M:%S} UTC,{int(v)}\n" for t, v in visits.items()))
    assert s.index.equals(visits.index)


def test_hours_without_a_row_are_said_to_be_read_as_unknown(tmp_path, visits):
    # a GROUP BY writes no row for an hour without visits: 27 % of a small site's hours were
    # read as unknown, its nights forecast three times too high, without a word
    kept = visits[np.arange(len(visits)) % 5 != 2]
    s, said = read(tmp_path, "hour,count\n" + "".join(
        f"{t.isoformat()},{int(v)}\n" for t, v in kept.items()))
    assert int(s.isna().sum()) == len(visits) - len(kept)
    assert sum(f"{len(visits) - len(kept)} of {len(visits)} hours between the first and "
               "last row have no row" in x and "as 0" in x for x in said) == 1
    _, said = read(tmp_path, "hour,count\n" + "".join(
        f"{t.isoformat()},{int(v) if i % 5 != 2 else ''}\n" for i, (t, v) in enumerate(
            visits.items())))
    assert not any("no row" in x for x in said)  # a gap written as one (counts' own CSV)


def test_a_row_key_is_not_read_as_a_series_name(tmp_path, visits, capsys):
    # id = 1, 2, 3...: 504 series of one row, 1,500 lines on stderr and forecasts of nothing
    path = tmp_path / "table.csv"
    path.write_text("id,hour,count\n" + "".join(
        f"{i},{t.isoformat()},{int(v)}\n" for i, (t, v) in enumerate(visits.items(), 1)))
    assert main(["forecast", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "column 'id' names another series on almost every" \
        in err and f"{len(visits)} series" in err


def test_evals_forecasts_write_each_hour_in_its_own_offset(tmp_path, visits, capsys):
    # a known 14:00+01:00 was written 15:00+02:00, the offset after the change
    path, out = tmp_path / "berlin.csv", tmp_path / "fc.csv"
    path.write_text("hour,count\n" + "".join(
        f"{t.tz_convert('Europe/Berlin').isoformat()},{int(v)}\n" for t, v in visits.items()))
    assert main(["eval", str(path), "--days", "10", "--forecasts", str(out)]) == 0
    assert "UTC+0100 .. " in capsys.readouterr().out
    rows = pd.read_csv(out, dtype=str)
    hours = set(rows["hour"])
    assert "2024-03-29T14:00:00+01:00" in hours and "2024-03-29T15:00:00+02:00" not in hours
    assert "2024-04-02T14:00:00+02:00" in hours


def test_utf16_text_is_named_with_what_to_do(tmp_path, visits, capsys):
    # Excel's "Unicode text": "'utf-8' codec can't decode byte 0xff", or "looks binary"
    text = "hour,count\n" + "".join(f"{t.isoformat()},{int(v)}\n" for t, v in visits.items())
    (tmp_path / "u.csv").write_text(text, encoding="utf-16")
    (tmp_path / "u.txt").write_text(text.replace(",", "\t"), encoding="utf-16")
    for name in ("u.csv", "u.txt"):
        assert main(["forecast", str(tmp_path / name)]) in (1, 2)
        err = capsys.readouterr().err
        assert "UTF-16 text" in err and "save it as UTF-8" in err and "binary" not in err


def test_a_csv_that_is_no_counts_is_not_sent_to_log_formats(tmp_path, capsys):
    # Plausible's export given to the app or counts: "no known log format matches (tried
    # VCOMBINED, ...); pass --log-format" sent an analyst to log formats
    path = tmp_path / "gsc.csv"  # Search Console's: no hour, no count column
    path.write_text("day,clicks,impressions\n2024-03-03,180,540\n")
    assert main(["counts", str(path)]) != 0
    err = capsys.readouterr().err
    assert "gsc.csv is a CSV, not an access log (first line 'day,clicks,impressions')" \
        in err and "with columns hour,count" in err and "--log-format" not in err
    path = tmp_path / "plausible.csv"  # Plausible's hourly export: counts, read by forecast
    path.write_text("date,visitors,pageviews\n2024-03-03 00:00:00,180,540\n")
    assert main(["counts", str(path)]) != 0
    assert "forecast, eval and train read it directly" in capsys.readouterr().err


def test_hours_of_a_zone_45_minutes_off_utc_are_said_with_their_minutes(tmp_path, visits,
                                                                        capsys):
    # a trial in Kathmandu (+05:45): eval said "hours scored ... 12:00 .. 11:00 UTC+0545" and
    # forecast "the hour in progress, 10:00", beside rows at 12:45 and 10:45
    from trafficwatch.app.gate_words import fmt_hour

    path = tmp_path / "ktm.csv"
    path.write_text("hour,count\n" + "".join(
        f"{t.tz_convert('Asia/Kathmandu').isoformat()},{int(v)}\n" for t, v in visits.items()))
    assert main(["eval", str(path), "--days", "2"]) == 0
    head = next(x for x in capsys.readouterr().out.splitlines() if "hours scored" in x)
    assert head.endswith(":45 UTC+0545") and ":00 " not in head
    t = int(visits.index[-1].timestamp())
    assert fmt_hour(t, 20700, "%a %H:00") == "Sun 04:45"  # the app's words: Sat 23:00 UTC


@pytest.mark.parametrize("head", [
    "dateHour,sessions",  # the Data API's
    ("# ----------------------------------------\n# Traffic acquisition\n# -----\n\n"
     "Date + hour (YYYYMMDDHH),Sessions"),  # the UI's export, its comment lines first
])
def test_ga4s_own_export_is_read_with_its_header(tmp_path, visits, head):
    # a docs trial: the README said GA4's dateHour is read, and GA4's own header was refused,
    # exit 2 ("expected columns hour,count ...; found dateHour,sessions")
    s, said = read(tmp_path, head + "\n" + "".join(
        f"{t:%Y%m%d%H},{int(v)}\n" for t, v in visits.items()))
    assert s.index.equals(visits.index) and np.array_equal(s.to_numpy(), visits.to_numpy())
    assert any("YYYYMMDDHH" in x for x in said)


def test_of_several_count_columns_the_one_read_is_said(tmp_path, visits):
    s, said = read(tmp_path, "dateHour,sessions,activeUsers\n" + "".join(
        f"{t:%Y%m%d%H},{int(v)},{int(v) // 2}\n" for t, v in visits.items()))
    assert np.array_equal(s.to_numpy(), visits.to_numpy())
    assert any("column 'sessions' read as the count (not 'activeusers')" in x for x in said)


def test_a_few_one_row_sites_beside_a_real_one_are_no_row_key(tmp_path, visits, capsys):
    # a review: nine junk Host headers in a log's last hour made its counts CSV "a row number
    # or key" to forecast and eval, exit 2, even with --site (the check counted series)
    path = tmp_path / "counts.csv"
    path.write_text("hour,site,count\n" + "".join(
        f"{t.isoformat()},blog,{int(v)}\n" for t, v in visits.items()) + "".join(
        f"{visits.index[-1].isoformat()},10.0.0.{i}:443,1\n" for i in range(9)))
    assert main(["forecast", str(path), "--site", "blog", "--horizon", "2"]) == 0
    assert "row number" not in capsys.readouterr().err


@pytest.mark.parametrize(("text", "utc"), [
    ("20240303T140000Z", "2024-03-03T14:00Z"), ("2024-03-03T14Z", "2024-03-03T14:00Z"),
    ("2024-03-03T14+01", "2024-03-03T13:00Z"), ("2024-03-03 14:00:00-0500", "2024-03-03T19:00Z"),
    ("2024-03-03 14:00:00", "2024-03-03T13:00Z")])  # the last states none: Paris's clock
def test_tz_reads_only_hours_that_state_no_offset_in_its_zone(tmp_path, text, utc):
    # a review: 20240303T140000Z (ISO 8601's basic form), T14Z and T14+01 were read as Paris
    # wall clock with --tz, an hour off, without a word
    from zoneinfo import ZoneInfo

    s, _ = read(tmp_path, f"hour,count\n{text},5\n", tz=ZoneInfo("Europe/Paris"))
    assert s.index[0] == pd.Timestamp(utc)


def test_autumns_repeated_hour_in_a_file_newest_first_is_not_swapped(tmp_path):
    # a review: ORDER BY hour DESC put the winter 02:00 first, read as the summer one
    from zoneinfo import ZoneInfo

    hours = pd.date_range("2024-10-26T12:00Z", periods=24, freq="h").tz_convert("Europe/Paris")
    rows = [f"{t:%Y-%m-%d %H:%M:%S},{100 + i}\n" for i, t in enumerate(hours)]
    for order in (rows, rows[::-1]):
        s, _ = read(tmp_path, "hour,count\n" + "".join(order), tz=ZoneInfo("Europe/Paris"))
        assert list(s) == [100 + i for i in range(24)] and s.index.equals(hours.tz_convert("UTC"))
