"""Counts CSVs as a new user gives them: with Excel's BOM, on stdin, two at once, daily rows,
hours still to come; eval's --model beside the shipped model; a mistyped command."""
from __future__ import annotations

import io
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.test_forecast_cmd import run_cli, traffic
from trafficwatch.cli.main import main
from trafficwatch.counting.load import read_counts_csv_all, without_hour_in_progress
from trafficwatch.hours import HOUR_NUMBERS
from trafficwatch.resources import default_model_path


def csv_text(s: pd.Series, header: str = "hour,count") -> str:
    return header + "\n" + "".join(f"{h.isoformat()},{int(v)}\n" for h, v in s.items())


@pytest.fixture
def series_csv(tmp_path) -> Path:
    path = tmp_path / "series.csv"
    path.write_text(csv_text(traffic(21)))
    return path


def run_main(argv: list[str], capsys, stdin: bytes | None = None,
             monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_csv_with_excel_s_bom_is_read_as_without_it(series_csv, tmp_path, capsys):
    """Excel's "CSV UTF-8" (EF BB BF before hour,count) was refused: "found \\ufeffhour"."""
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + series_csv.read_bytes())
    assert read_counts_csv_all(str(bom)).series[""].equals(
        read_counts_csv_all(str(series_csv)).series[""])
    code, out, err = run_main(["forecast", str(bom), "--horizon", "3"], capsys)
    assert code == 0, err
    _, plain, _ = run_main(["forecast", str(series_csv), "--horizon", "3"], capsys)
    assert out == plain and len(out.splitlines()) == 4
    # given to counts, it is known by its header, BOM and all, as hourly counts
    code, out, err = run_main(["counts", str(bom)], capsys)
    assert code == 2 and out == "" and "is already hourly counts" in err


def test_a_counts_csv_on_stdin_is_read_as_from_its_file(series_csv, capsys, monkeypatch):
    """`cat series.csv | trafficwatch forecast -` named a temporary file and looked for a log
    format in it."""
    code, out, err = run_main(["forecast", "-", "--horizon", "3"], capsys,
                              series_csv.read_bytes(), monkeypatch)
    assert code == 0, err
    _, from_file, _ = run_main(["forecast", str(series_csv), "--horizon", "3"], capsys)
    assert out == from_file and "trafficwatch-stdin-" not in err
    code, out, err = run_main(["eval", "-", "--days", "2", "--format", "json"], capsys,
                              b"\xef\xbb\xbf" + series_csv.read_bytes(), monkeypatch)
    assert code == 0 and "naive24" in json.loads(out)["models"], err


def test_what_is_not_a_log_on_stdin_is_named_stdin_not_a_temporary_file(capsys, monkeypatch):
    code, out, err = run_main(["forecast", "-"], capsys, b"no log here\n", monkeypatch)
    assert code == 2 and out == ""
    assert "<stdin>: no known log format matches" in err and "trafficwatch-stdin-" not in err


def test_a_log_on_stdin_is_still_forecast(capsys, monkeypatch):
    line = '203.0.113.9 - - [{d:02d}/Nov/2026:{h:02d}:10:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n'
    log = "".join(line.format(d=1 + k // 24, h=k % 24) * 3 for k in range(24 * 4))
    code, out, err = run_main(["forecast", "-", "--horizon", "2"], capsys, log.encode(),
                              monkeypatch)
    assert code in (0, 1) and len(out.splitlines()) == 3, err


@pytest.mark.parametrize("on_stdin", [False, True])
def test_counts_given_a_counts_csv_says_it_is_already_hourly_counts(series_csv, capsys,
                                                                   monkeypatch, on_stdin):
    argv, data = (["counts", "-"], series_csv.read_bytes()) if on_stdin else \
        (["counts", str(series_csv)], None)
    code, out, err = run_main(argv, capsys, data, monkeypatch)
    assert code == 2 and out == ""
    name = "<stdin>" if on_stdin else str(series_csv)
    # one line: not a "1 file(s), 0 lines" summary before it
    assert err.splitlines() == [
        (f"trafficwatch: {name} is already hourly counts (a CSV, first line 'hour,count'), "
         "not an access log: forecast, eval and train read it directly")]
    # split by tabs: the model commands refuse it too, so not "read it directly" (a review)
    tsv = series_csv.with_suffix(".tsv")
    tsv.write_text(series_csv.read_text().replace(",", "\t"))
    code, out, err = run_main(["counts", str(tsv)], capsys, None, monkeypatch)
    assert code == 2 and "read it directly" not in err
    assert "its columns are separated by a tab: write it with commas" in err, err


@pytest.mark.parametrize("command", ["forecast", "eval", "train"])
def test_two_counts_csvs_at_once_are_one_line_saying_one_is_read_at_a_time(
        series_csv, tmp_path, capsys, command):
    other = tmp_path / "b.csv"
    shutil.copy(series_csv, other)
    extra = ["--out", str(tmp_path / "m.pt")] if command == "train" else []
    code, out, err = run_main([command, str(series_csv), str(other), *extra], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [(
        f"trafficwatch: {series_csv}, {other}: one CSV of hourly counts is read at a time, "
        "alone; for several series, put them in one CSV with a site or unique_id column naming "
        "each row's series")]
    if command != "forecast":
        return
    logs = [tmp_path / f"access.log.{k}" for k in range(50)]  # a glob of rotations beside it:
    for log in logs:  # the CSV and a few named, not a line of every one (a trial)
        log.write_text("")
    code, out, err = run_main([command, *map(str, logs), str(series_csv)], capsys)
    assert code == 2 and err.startswith(
        f"trafficwatch: {series_csv}, {logs[0]}, {logs[1]} and 48 more: one CSV"), err


def test_daily_rows_at_midnight_are_refused_in_one_line(tmp_path, capsys):
    """One row a day at 00:00Z was read as hourly with 23 gaps a day: the LSTM refused and the
    seasonal naive printed a day's total for every hour."""
    days = pd.date_range("2022-01-01", periods=400, freq="D", tz="UTC")
    path = tmp_path / "daily.csv"
    path.write_text("hour,count\n" + "".join(f"{d:%Y-%m-%dT%H:%M:%SZ},12000\n" for d in days))
    for command in ("forecast", "eval"):
        code, out, err = run_main([command, str(path)], capsys)
        assert code == 2 and out == ""
        assert err.splitlines() == [(
            f"trafficwatch: {path}: rows are a day apart, 2022-01-01 00:00 then 2022-01-02 "
            "00:00 UTC (daily data): trafficwatch forecasts hourly counts, one row per hour")]
    # local midnights across a DST change (23 h, then 25 h): still a day apart
    local = pd.date_range("2024-03-29", periods=5, freq="D", tz="Europe/Paris")
    path.write_text("ds,y\n" + "".join(f"{d.isoformat()},5\n" for d in local))
    with pytest.raises(ValueError, match="rows are a day apart"):
        read_counts_csv_all(str(path))
    # a daily series among hourly ones is named and left out (the others are read)
    path.write_text("unique_id,ds,y\n" + "".join(f"a,{d.isoformat()},5\n" for d in days[:5])
                    + "".join(f"b,{h.isoformat()},5\n"
                              for h in pd.date_range("2022-01-01", periods=48, freq="h")))
    warned = []
    table = read_counts_csv_all(str(path), warn=warned.append)
    assert list(table.series) == ["b"] and table.left == ("a",)
    assert any("series a: rows are a day apart" in w for w in warned), warned


@pytest.mark.parametrize("step", [2, 3, 6])
def test_rows_hours_apart_are_refused_in_one_line(tmp_path, capsys, step):
    """2-hourly counts were read as hourly, every other hour a gap and each count two hours'
    worth: "the last hour repeated" was forecast, nothing said (a trial)."""
    hours = pd.date_range("2024-03-04", periods=600, freq=f"{step}h", tz="UTC")
    keep = np.ones(len(hours), dtype=bool)
    keep[[7, 8, 40]] = False  # some rows missing: still a step apart
    path = tmp_path / "stepped.csv"
    path.write_text("hour,count\n" + "".join(f"{h.isoformat()},{100 + i % 12}\n"
                                             for i, h in enumerate(hours[keep])))
    code, out, err = run_main(["forecast", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [(
        f"trafficwatch: {path}: rows are every {step} hours, 2024-03-04 00:00 then 2024-03-04 "
        f"{step:02d}:00 UTC: trafficwatch forecasts hourly counts, one row per hour")]
    hourly = pd.date_range("2024-03-04", periods=600, freq="h", tz="UTC")  # with even gaps in
    path.write_text("hour,count\n" + "".join(f"{h.isoformat()},5\n" for h in hourly[::2][:-1])
                    + f"{hourly[-1].isoformat()},5\n{hourly[-2].isoformat()},5\n")
    assert len(read_counts_csv_all(str(path)).series) == 1  # one pair an hour apart: hourly


def test_hour_numbers_steps_apart_are_said_as_numbers(tmp_path, capsys):
    # a trial: "rows are every 2 hours, 2008-10-02 00:00 then 2008-10-02 02:00 UTC" of a file
    # holding 2, 4, 6...: the dates were the made-up calendar's
    path = tmp_path / "stepped.csv"
    path.write_text("ds,y\n" + "".join(f"{2 * i},{100 + i % 12}\n" for i in range(1, 300)))
    code, _, err = run_main(["forecast", str(path)], capsys)
    assert code == 2 and err.splitlines() == [
        (f"trafficwatch: {path}: rows are 2 hour numbers apart, 2 then 4: trafficwatch forecasts "
        "hourly counts, one row per hour")]
    path.write_text("ds,y\n" + "".join(f"{24 * i + 1},{100 + i % 12}\n" for i in range(60)))
    code, _, err = run_main(["forecast", str(path)], capsys)
    assert code == 2 and "rows are a day apart, 1 then 25 (daily data)" in err, err


@pytest.mark.parametrize("head, said", [
    (",".join(f"V{i}" for i in range(1, 702)),
     ("found V1,V2,V3,V4,V5,V6,V7,V8,… (701 columns); one series per row, a column per hour "
     "(M4's layout)? write one row per hour instead: unique_id,ds,y")),
    ("hour;count", ("found hour;count; its columns look separated by ';': trafficwatch reads "
     "comma-separated values")),
    ("hour\tcount", "found hour\\x09count; its columns look separated by a tab"),
    ("a,b,c,d,e,f,g,h,i,j", "found a,b,c,d,e,f,g,h,… (10 columns)\n"),  # no M4 hint
    ("A,2015-01-01 00:00,5", "found A,2015-01-01 00:00,5\n"),  # as written, not lowered
])
def test_a_csv_of_another_layout_is_refused_with_what_it_looks_like(tmp_path, capsys, head,
                                                                      said):
    # a trial: an M4 file (a series a row, 701 columns) was refused in one line of 3.6 KB
    # listing every column, a file of ';' with no word of the separator
    path = tmp_path / "other.csv"
    path.write_text(head + "\n" + head.replace("V", "1").replace("hour", "2024-03-04T00:00:00")
                    .replace("count", "5") + "\n")
    code, out, err = run_main(["forecast", str(path)], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and len(err) < 600
    assert said in err, err


@pytest.mark.parametrize("name, sep", [("counts.txt", ","), ("counts", ","),
                                       ("counts.tsv", "\t"), ("counts.dat", ";")])
def test_a_counts_file_not_named_csv_is_read_as_counts_not_as_a_log(tmp_path, capsys, name,
                                                                    sep):
    # a trial: `eval counts.txt` read it as a log, which said "already hourly counts: forecast,
    # eval and train read it directly" (they did not), status 2; a .tsv read "no known log
    # format matches", with no word of its tabs
    path = tmp_path / name
    path.write_text(csv_text(traffic(21)).replace(",", sep))
    code, out, err = run_main(["eval", str(path)], capsys)
    assert "read it directly" not in err and "log format" not in err, err
    if sep == ",":
        assert code == 0 and out.startswith("rolling origin: 7 daily origins"), err
    else:
        assert code == 2 and "its columns look separated by" in err, err


def test_hourly_rows_with_whole_days_missing_are_not_daily(tmp_path):
    s = traffic(10)
    kept = s[(s.index.day % 3 != 0)]  # every third day missing: gaps of 25 h among 1 h ones
    path = tmp_path / "gappy.csv"
    path.write_text(csv_text(kept))
    got = read_counts_csv_all(str(path)).series[""]
    assert got.index[0] == kept.index[0] and got.index[-1] == kept.index[-1]
    assert got.notna().sum() == len(kept) and got.isna().sum() == len(s.loc[
        kept.index[0]:kept.index[-1]]) - len(kept)


def test_a_last_hour_still_to_come_is_kept_the_one_in_progress_left_out(tmp_path, capsys):
    """A series of 2150's hours lost its last one: "is not over yet: left out"."""
    s = traffic(3)
    t0 = s.index[-1].timestamp()
    for now, kept in ((t0 - 86400 * 365, True),  # all of it later than now
                      (t0 + 1800, False),  # its last hour in progress
                      (t0, False),  # in progress from its first second
                      (t0 + 3600, True)):  # over
        got = without_hour_in_progress(s, "x.csv", now=now)
        assert len(got) == len(s) - (0 if kept else 1), now
    assert capsys.readouterr().err.count("is not over yet: left out") == 2
    future = traffic(21)
    future.index = future.index + (pd.Timestamp("2150-01-01", tz="UTC") - future.index[0])
    path = tmp_path / "future.csv"
    path.write_text(csv_text(future))
    code, out, err = run_main(["forecast", str(path), "--horizon", "2"], capsys)
    assert code == 0 and "not over yet" not in err, err
    first = pd.Timestamp(out.splitlines()[1].split(",")[0])
    assert first == future.index[-1] + pd.Timedelta(hours=1)
    # the hour in progress now is still left out, and said
    now = pd.Timestamp(time.time(), unit="s", tz="UTC").floor("h")
    live = traffic(3)
    live.index = pd.date_range(end=now, periods=len(live), freq="h", tz="UTC")
    got = without_hour_in_progress(live, "live.csv")
    if pd.Timestamp(time.time(), unit="s", tz="UTC").floor("h") == now:
        assert len(got) == len(live) - 1 and "not over yet: left out" in capsys.readouterr().err


def test_eval_with_model_scores_the_shipped_model_beside_it(series_csv, tmp_path, capsys):
    """README: "--model FILE: that model instead; eval scores it beside the shipped one"; the
    table had only lstm:M and the naives."""
    shipped = default_model_path().with_suffix(".npz")
    mine = tmp_path / "mine.npz"
    shutil.copy(shipped, mine)  # the same weights: the two columns must agree
    code, out, err = run_cli(["eval", str(series_csv), "--model", str(mine), "--days", "2",
                              "--format", "json"], capsys)
    assert code == 0, err
    models = json.loads(out)["models"]
    assert list(models)[:2] == ["lstm:mine", "lstm:default"]
    assert models["lstm:mine"]["mase"] == pytest.approx(models["lstm:default"]["mase"])
    assert "also scored: lstm:default, the shipped model, beside --model's lstm:mine" in err
    # --model naming the shipped file itself: one column, not two of one name
    code, out, _ = run_cli(["eval", str(series_csv), "--model", str(shipped), "--days", "2",
                            "--format", "json"], capsys)
    assert code == 0 and [m for m in json.loads(out)["models"] if m.startswith("lstm")] == [
        "lstm:default"]
    # a model of the shipped one's file name elsewhere: both, told apart
    other = tmp_path / "default.npz"
    shutil.copy(shipped, other)
    code, out, _ = run_cli(["eval", str(series_csv), "--model", str(other), "--days", "2",
                            "--format", "json"], capsys)
    assert code == 0 and {"lstm:default", "lstm:default (shipped)"} <= set(
        json.loads(out)["models"])


def test_a_mistyped_command_before_a_real_file_is_one_line_not_the_app(series_csv, tmp_path,
                                                                       capsys, monkeypatch):
    """`trafficwatch forecst daily.csv` opened the full-screen app on the CSV."""
    code, out, err = run_main(["forecst", str(series_csv)], capsys)
    assert code == 2 and out == ""
    assert err.splitlines() == [(
        "trafficwatch: unknown command 'forecst' (did you mean forecast?; commands: watch, counts, top, "
        "forecast, eval, train, agent; see trafficwatch --help)")]
    code, _, err = run_main(["Evl", str(series_csv)], capsys)
    assert code == 2 and "'Evl' (did you mean eval?" in err
    code, _, err = run_main(["forc\x1bst"], capsys)  # shown through the sanitiser
    assert code == 2 and "unknown command 'forc\\x1bst'" in err
    # a real file or folder of such a name is a path, as before (the app, here without a
    # terminal, says so)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "forcast").mkdir()
    code, _, err = run_main(["forcast"], capsys)
    assert code == 2 and "unknown command" not in err and "needs a terminal" in err


def test_counts_marks_the_hour_the_log_ends_inside_and_eval_on_its_csv_scores_as_on_the_logs(
        tmp_path, capsys):
    """`counts logs > hourly.csv; eval hourly.csv`, README's own workflow, scored the last hour
    (6 minutes of log) as a whole one: 168 hours and another MASE than `eval logs` (167)."""
    logs = str(Path(__file__).resolve().parents[1] / "sample_logs")
    code, out, _ = run_main(["counts", logs], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "hour,site,metric,count,partial"
    marked = [row for row in lines[1:] if row.endswith(",1")]
    assert {row.split(",")[1] for row in marked} == {"blog.example.org", "shop.example.com"}
    assert all(not row.endswith(",1") or row.startswith("2026-11-20T10:00") for row in lines)
    hourly = tmp_path / "hourly.csv"
    hourly.write_text(out)
    args = ["--site", "shop.example.com", "--days", "2"]
    code, from_csv, err = run_main(["eval", str(hourly), *args], capsys)
    assert code == 0 and "1 hour marked partial by counts" in err  # shop's own, not blog's
    shop_row = next(i for i, row in enumerate(lines, start=1) if row in marked
                    and ",shop.example.com," in row)
    assert f"row {shop_row}:" in err
    _, from_logs, _ = run_main(["eval", logs, *args], capsys)
    assert from_csv == from_logs


def test_a_csv_of_a_header_alone_says_it_has_no_rows(tmp_path, capsys):
    """It said "no row has an ISO 8601 hour", as if its rows' hours were the fault (a trial)."""
    path = tmp_path / "empty.csv"
    path.write_text("hour,count\n\n")
    code, _, err = run_main(["forecast", str(path)], capsys)
    assert code == 2
    assert err.strip().endswith("empty.csv: no rows below the header: nothing to read")


def test_tz_on_hour_numbers_is_said_to_be_unused(tmp_path, capsys):
    """--tz on a file of hour numbers was ignored without a word (a trial)."""
    path = tmp_path / "m4.csv"
    path.write_text("unique_id,ds,y\n" + "".join(f"H1,{k},{100 + k % 24}\n" for k in range(1, 400)))
    code, out, err = run_main(["forecast", str(path), "--horizon", "1", "--tz", "Europe/Paris"],
                              capsys)
    assert code == 0 and "--tz is not used: the hours are numbers" in err
    assert out.splitlines()[1].startswith("400,")
    _, _, err = run_main(["forecast", str(path), "--horizon", "1"], capsys)
    assert "--tz" not in err


def unix_csv(path: Path, v: pd.Series, start: int, scale: int, header: str = "ds,y") -> str:
    """A CSV of the counts `v`, hour k at Unix time start + 3600 k, in seconds (scale 1) or
    ms (1000), written as whole numbers."""
    path.write_text(header + "\n" + "".join(f"{(start + 3600 * k) * scale},{int(x)}\n"
                                            for k, x in enumerate(v)))
    return str(path)


@pytest.mark.parametrize(("start", "scale", "first"), [
    (946_684_800, 1, "2000-01-01T00:00:00+00:00"),  # 9 digits: refused ("no row has...")
    (946_684_800, 1000, "2000-01-01T00:00:00+00:00"),  # 12 digits: refused
    (0, 1, "1970-01-01T00:00:00+00:00"),  # 0, 3600...: hour numbers "over 100 years"
    (0, 1000, "1970-01-01T00:00:00+00:00"),  # 0, 3600000...: 8 digits are dates, "daily"
    (999_993_600 - 3600 * 100, 1, "2001-09-04T20:00:00+00:00"),  # 9 digits, then 10: refused
])
def test_unix_times_of_any_size_are_read_by_their_steps_of_whole_hours(tmp_path, capsys, start,
                                                                       scale, first):
    """Unix times before 2001-09-09 (fewer than 10 digits: 2000's 946684800, as benchmarks
    write) were refused, and epoch 0's 0, 3600... read as hour numbers 3600 apart: steps of
    whole hours (3600 s, 3,600,000 ms) are Unix times, whatever the numbers' size."""
    v = traffic(21)
    path = unix_csv(tmp_path / "unix.csv", v, start, scale)
    warned: list[str] = []
    s = read_counts_csv_all(path, warn=warned.append).series[""]
    assert HOUR_NUMBERS not in s.attrs and len(s) == len(v) and np.array_equal(s, v)
    assert s.index[0].isoformat() == first
    assert s.index[-1] == pd.Timestamp(first) + pd.Timedelta(hours=len(v) - 1)
    assert warned == [f"{path}: column 'ds' holds Unix times: read as UTC"]
    code, out, err = run_main(["forecast", path, "--horizon", "3"], capsys)
    assert code == 0, err
    rows = out.splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [
        (s.index[-1] + pd.Timedelta(hours=h)).isoformat() for h in (1, 2, 3)]
    assert "holds Unix times: read as UTC" in err and "hour numbers" not in err


def test_unix_seconds_of_2000_are_read_in_each_series_of_a_long_csv(tmp_path):
    """Steps are a series' own: two series of 2000's Unix seconds, a week apart, interleaved."""
    v, w = traffic(8), traffic(8, seed=1)
    lines = ["unique_id,ds,y"]
    for k in range(len(v)):
        lines += [f"A,{946_684_800 + 3600 * k},{int(v.iloc[k])}",
                  f"B,{946_684_800 + 3600 * (k + 168)},{int(w.iloc[k])}"]
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    table = read_counts_csv_all(str(path))
    assert table.series["A"].index[0] == pd.Timestamp("2000-01-01", tz="UTC")
    assert table.series["B"].index[0] == pd.Timestamp("2000-01-08", tz="UTC")
    assert np.array_equal(table.series["B"], w)


def test_hour_numbers_and_numbers_too_few_to_tell_are_read_as_before(tmp_path):
    """Hour numbers step by 1: still hour numbers, 0 or 1 first, gaps or not; a row or two
    cannot show steps of whole hours: read as they were (hour numbers)."""
    for name, hours in (("from1", range(1, 401)), ("from0", range(400)),
                        ("gaps", [k for k in range(1, 500) if k % 7])):
        path = tmp_path / f"{name}.csv"
        path.write_text("ds,y\n" + "".join(f"{k},{100 + k % 24}\n" for k in hours))
        s = read_counts_csv_all(str(path)).series[""]
        base = s.attrs[HOUR_NUMBERS]
        assert int(s.index[0].timestamp()) // 3600 - base == min(hours)
        assert int(s.index[-1].timestamp()) // 3600 - base == max(hours)
    for name, hours in (("one", [3600]), ("two", [3600, 7200])):
        path = tmp_path / f"{name}.csv"
        path.write_text("ds,y\n" + "".join(f"{k},5\n" for k in hours))
        s = read_counts_csv_all(str(path)).series[""]
        assert HOUR_NUMBERS in s.attrs and len(s) == hours[-1] - hours[0] + 1


def test_numbers_neither_hour_numbers_nor_unix_times_say_why(tmp_path, capsys):
    """9-digit numbers were refused as having no ISO 8601 hour "(or an hour number...,
    or a Unix time)": the message says which reading each number fails, and why."""
    cases = {  # the file's ds column -> what the message says of it
        "one": (["999993600"], "'999993600' has 9",
                "it takes 2 steps to tell, and the rows have none"),
        "jitter": ([str(999_993_600 + 3600 * k + k % 5 + 1) for k in range(30)],
                   "'999993601' has 9",
                   "0 of the 29 steps are; 999993601 then 999997202 are 3601 apart"),
        "mixed": ([str(k) for k in range(1, 30)] + ["946684800"], "'946684800' has 9",
                  "0 of the 29 steps are; 1 then 2 are 1 apart"),
    }
    for name, (ds, number, steps) in cases.items():
        path = tmp_path / f"{name}.csv"
        path.write_text("ds,y\n" + "".join(f"{x},5\n" for x in ds))
        code, out, err = run_main(["forecast", str(path)], capsys)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert (f"{name}.csv: column 'ds' holds numbers, but neither hour numbers (1, 2, 3...: "
                f"whole, 7 digits at most, and {number}) nor Unix times (10 digits, 13 in ms, "
                "read as they are, or other whole numbers whose steps between a series' rows "
                f"are whole hours, 3600 s or 3,600,000 ms: {steps})") in err


def test_a_csv_of_several_metrics_reads_the_one_asked_for_never_their_sum(tmp_path, capsys):
    # `counts` of hits and `counts --metric visitors` in one long CSV, as counts writes them:
    # forecast and eval added each hour's hits and visitors into one series (a trial)
    hits, visitors = traffic(21), (traffic(21) / 7).round()
    rows = ["hour,site,metric,count,partial"] + [
        f"{h.isoformat()},shop,{m},{int(v)}," for m, s in (("hits", hits), ("visitors", visitors))
        for h, v in s.items()]
    both = tmp_path / "both.csv"
    both.write_text("\n".join(rows) + "\n")
    alone = tmp_path / "visitors.csv"
    alone.write_text("\n".join(r for r in rows if ",hits," not in r) + "\n")
    code, out, err = run_main(["forecast", str(both), "--horizon", "3"], capsys)
    assert code == 0 and "those of hits read, the others left out" in err, err
    assert "added" not in err
    hits_only = tmp_path / "hits.csv"
    hits_only.write_text("\n".join(r for r in rows if ",visitors," not in r) + "\n")
    _, want, _ = run_main(["forecast", str(hits_only), "--horizon", "3"], capsys)
    assert out == want
    code, out, err = run_main(["forecast", str(both), "--horizon", "3", "--metric",
                               "visitors"], capsys)
    _, want, _ = run_main(["forecast", str(alone), "--horizon", "3"], capsys)
    assert code == 0 and out == want  # a CSV of one metric, whichever: that series
    code, out, err = run_main(["eval", str(both), "--metric", "pages"], capsys)
    assert code == 2 and "several metrics (hits, visitors), none of pages" in err, err


def test_counts_json_given_to_forecast_says_what_it_is_and_what_is_read(tmp_path, capsys):
    # an analyst's trial: `counts --format json > c.json; forecast c.json` said "no known log
    # format matches ... first line: '['", nothing of counts' JSON or of its CSV
    log = tmp_path / "access.log"
    log.write_text("".join(f'1.2.3.4 - - [20/Nov/2026:{h:02d}:00:00 +0000] "GET / HTTP/1.1" '
                           f'200 5 "-" "ua"\n' for h in range(10)))
    code, out, _ = run_main(["counts", "--format", "json", str(log)], capsys)
    assert code == 0
    (tmp_path / "c.json").write_text(out)
    code, _, err = run_main(["forecast", str(tmp_path / "c.json")], capsys)
    assert code == 2 and "is hourly counts as `counts --format json` writes them" in err, err
    assert "read counts' CSV" in err
