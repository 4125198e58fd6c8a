"""Hourly series: UTC buckets, metrics, filters, gaps vs zeros, partial hour, state round-trip."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trafficwatch.counting.load import read_counts_csv
from trafficwatch.counting.series import HourlySeries
from trafficwatch.logs.records import Records

T0 = 1_700_000_000 // 3600 * 3600  # an hour boundary


def recs(ts, status=None, static=None, bot=None, visitor=None, offset=0) -> Records:
    ts = np.asarray(ts, dtype=np.int64)
    n = len(ts)
    return Records(
        ts=ts,
        utc_offset=np.full(n, offset, np.int32),
        status=np.asarray(status if status is not None else [200] * n, np.int16),
        size=np.zeros(n, np.int64),
        is_static=np.asarray(static if static is not None else [False] * n, bool),
        is_bot=np.asarray(bot if bot is not None else [False] * n, bool),
        client=np.arange(n, dtype=np.uint64),
        visitor=np.asarray(visitor if visitor is not None else np.arange(n) * 1000, np.uint64),
        vhost=np.full(n, -1, np.int32),
    )


def test_hits_are_bucketed_by_utc_hour():
    s = HourlySeries()
    s.add("a", recs([T0 + 5, T0 + 3599, T0 + 3600, T0 + 7300]))
    out = s.series("a")
    assert list(out.to_numpy()) == [2, 1, 1]
    assert out.index[0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert str(out.index.tz) == "UTC"


def test_late_lines_update_a_closed_hour():
    s = HourlySeries()
    s.add("a", recs([T0 + 7200, T0 + 7300]))
    s.add("a", recs([T0 + 10]))  # out of order, an hour already "closed"
    s.add_coverage("a", T0 + 10, T0 + 7300)  # the file's span, as the reader reports it
    assert list(s.series("a").to_numpy()) == [1, 0, 2]


def test_quiet_hour_inside_coverage_is_zero_and_uncovered_hour_is_a_gap():
    s = HourlySeries()
    s.add("a", recs([T0, T0 + 3 * 3600]))
    s.add("a", recs([T0 + 10 * 3600]))
    s.add_coverage("a", T0, T0 + 3 * 3600)
    out = s.series("a").to_numpy()
    assert list(out[:4]) == [1, 0, 0, 1]
    assert np.isnan(out[4:10]).all()
    assert out[10] == 1


def test_pages_exclude_static_assets_and_bot_filter():
    s = HourlySeries()
    s.add("a", recs([T0] * 4, static=[True, False, False, True], bot=[False, False, True, True]))
    assert s.series("a", "hits").iloc[0] == 4
    assert s.series("a", "pages").iloc[0] == 2
    assert s.series("a", "hits", bots=False).iloc[0] == 2
    assert s.series("a", "hits", bots="only").iloc[0] == 2
    assert s.series("a", "pages", bots=False).iloc[0] == 1


def test_status_class_filter():
    s = HourlySeries()
    s.add("a", recs([T0] * 5, status=[200, 301, 404, 499, 502]))
    assert s.series("a", status_classes={4}).iloc[0] == 2
    assert s.series("a", status_classes={2, 5}).iloc[0] == 2


def test_visitors_count_unique_client_agent_pairs_per_hour_across_chunks():
    s = HourlySeries()
    s.add("a", recs([T0, T0, T0 + 3600], visitor=[64, 64, 64]))
    s.add("a", recs([T0, T0 + 10], visitor=[64, 128]))
    assert list(s.series("a", "visitors").to_numpy()) == [2, 1]


def test_visitors_of_a_busy_hour_arriving_in_many_chunks_are_counted_once():
    rng = np.random.default_rng(3)
    s, seen = HourlySeries(), set()
    for _ in range(300):  # many chunks of one hour with repeats inside and across chunks
        v = rng.integers(0, 20_000, 200).astype(np.uint64) << np.uint64(8)
        seen |= set(v.tolist())
        s.add("a", recs(T0 + rng.integers(0, 3600, 200), visitor=v))
        if _ == 150:  # a read half-way folds what waits; later chunks keep arriving
            assert s.series("a", "visitors").iloc[0] == len(seen)
    assert s.series("a", "visitors").iloc[0] == len(seen)
    back = HourlySeries.from_dict(s.to_dict())
    back.merge(s)  # the same visitors again: still counted once
    assert back.series("a", "visitors").iloc[0] == len(seen)


def test_visitors_respect_filters():
    s = HourlySeries()
    s.add("a", recs([T0, T0], visitor=[64, 128], bot=[True, False]))
    assert s.series("a", "visitors", bots=False).iloc[0] == 1


def test_sites_are_kept_apart_and_summed_when_unselected():
    s = HourlySeries()
    s.add("a", recs([T0, T0]))
    s.add("b", recs([T0]))
    assert s.sites() == ["a", "b"]
    assert s.series("b").iloc[0] == 1
    assert s.series().iloc[0] == 3
    with pytest.raises(KeyError):
        s.series("c")


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="unknown metric"):
        HourlySeries().series(metric="bytes")


def test_partial_hour_is_the_hour_of_now_even_before_its_first_line():
    s = HourlySeries()
    s.add("a", recs([T0, T0 + 3600 + 60]))
    assert s.partial_hour("a", now=T0 + 3600 + 120) == pd.Timestamp(T0 + 3600, unit="s", tz="UTC")
    assert s.partial_hour("a", now=T0 + 3 * 3600 + 5) == pd.Timestamp(T0 + 3 * 3600, unit="s",
                                                                       tz="UTC")
    # a clock behind the data (a server's clock ahead of ours): the clock's hour is in progress,
    # the later lines wait for their hour
    assert s.partial_hour("a", now=T0) == pd.Timestamp(T0 // 3600 * 3600, unit="s", tz="UTC")
    assert s.partial_hour("a", now=None) is None


def test_lines_dated_past_the_clock_wait_for_their_hour():
    s = HourlySeries()
    s.add("a", recs([T0, T0 + 60, T0 + 9000]))  # the last one 2.5 h ahead of the clock below
    now = T0 + 120
    out = s.series("a", now=now)
    assert out.index[-1] == pd.Timestamp(T0 // 3600 * 3600, unit="s", tz="UTC")
    assert out.sum() == 2
    assert s.ahead("a", now) == (1, T0 + 9000)
    assert s.ahead("a", T0 + 9000 - 60) is None  # their hour came: nothing ahead any more
    assert s.series("a", now=T0 + 9000 + 5).sum() == 3  # counted then, not lost
    assert s.series("a").sum() == 3  # a report of the logs (no clock) shows every line
    s.add("b", recs([T0 + 3000]))  # 48 min ahead, inside the hour in progress: no harm
    assert s.ahead("b", T0 + 60) is None
    only_future = HourlySeries()
    only_future.add("c", recs([T0 + 9000]))
    lo, values = only_future.hourly("c", now=T0)
    assert lo == T0 // 3600 and np.isnan(values).all()  # no line of its dated yet: unknown


def test_now_extends_coverage_with_zeros():
    s = HourlySeries()
    s.add("a", recs([T0]))
    out = s.series("a", now=T0 + 2 * 3600 + 5)
    assert list(out.to_numpy()) == [1, 0, 0]


def test_display_offset_is_the_latest_lines():
    s = HourlySeries()
    s.add("a", recs([T0], offset=-5 * 3600))
    s.add("a", recs([T0 + 99], offset=-4 * 3600))
    assert s.utc_offset("a") == -4 * 3600


def test_far_apart_hours_do_not_allocate_the_range_between():
    s = HourlySeries()
    s.add("a", recs([0, 4_000_000_000]))  # 1970 and 2096 in one chunk
    assert s.total("a") == 2


def test_state_round_trip_through_json():
    s = HourlySeries()
    s.add("a", recs([T0, T0 + 3600], visitor=[64, 128], static=[True, False]))
    s.add("b", recs([T0 + 50]))
    back = HourlySeries.from_dict(json.loads(json.dumps(s.to_dict())))
    for site in ("a", "b"):
        for metric in ("hits", "pages", "visitors"):
            pd.testing.assert_series_equal(back.series(site, metric), s.series(site, metric))
    assert back.utc_offset("a") == s.utc_offset("a")


@pytest.mark.parametrize("bad", [None, {}, {"version": 2}, {"version": 1, "sites": {"a": {}}}])
def test_from_dict_refuses_malformed_state(bad):
    with pytest.raises(ValueError):
        HourlySeries.from_dict(bad)


def test_merge_adds_counts():
    a, b = HourlySeries(), HourlySeries()
    a.add("x", recs([T0]))
    b.add("x", recs([T0, T0 + 3600]))
    a.merge(b)
    assert list(a.series("x").to_numpy()) == [2, 1]


def test_counts_csv_with_offsets_and_missing_hours(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("hour,visits\n2024-01-01T01:00:00+01:00,5\n2024-01-01T01:00:00+00:00,7\n"
                 "2024-01-01T03:00:00+00:00,\n")
    out = read_counts_csv(str(p))
    assert list(out.index.hour) == [0, 1, 2, 3]
    assert out.iloc[0] == 5 and out.iloc[1] == 7
    assert np.isnan(out.iloc[2]) and np.isnan(out.iloc[3])


def test_counts_written_by_counts_keep_the_logs_offset(tmp_path):
    # `counts > c.csv; forecast c.csv` shows its hours as `forecast` on the logs does: in the
    # logs' own offset (it showed them in UTC)
    from trafficwatch.counting.load import load_hourly

    logs = tmp_path / "logs"
    logs.mkdir()
    lines = [f'1.2.3.4 - - [10/Oct/2026:{h:02d}:{m:02d}:00 -0500] "GET / HTTP/1.1" 200 1 "-" "ua"'
             for h in range(24) for m in range(0, 60, 20)]
    (logs / "a.access.log").write_text("\n".join(lines) + "\n")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "trafficwatch", "counts", str(logs)],
                         capture_output=True, text=True, check=False, timeout=60)
    csv = tmp_path / "c.csv"
    csv.write_text(out.stdout)
    assert read_counts_csv(str(csv)).attrs["utc_offset"] == -5 * 3600
    assert load_hourly([str(logs)]).attrs["utc_offset"] == -5 * 3600
    naive = tmp_path / "n.csv"
    naive.write_text("hour,count\n2024-01-01T01:00:00,5\n2024-01-01 02:00,6\n")
    assert "utc_offset" not in read_counts_csv(str(naive)).attrs  # no offset stated: UTC
    zulu = tmp_path / "z.csv"
    zulu.write_text("hour,count\n2024-01-01T01:00:00Z,5\n")
    assert read_counts_csv(str(zulu)).attrs["utc_offset"] == 0


def test_counts_csv_without_the_columns_is_refused(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="expected columns"):
        read_counts_csv(str(p))


# -- the path filter ---------------------------------------------------------------------------
def _parsed(text: str):
    from trafficwatch.logs.formats import COMBINED
    from trafficwatch.logs.parse import ParseOptions, Parser

    return Parser(COMBINED, ParseOptions(keep_paths=True)).feed(text.encode()).records


PATH_LINES = "".join(
    f'192.0.2.{i} - - [20/Nov/2026:{10 + i % 3}:00:0{i % 10} +0000] "GET {p} HTTP/1.1" '
    f'{s} 5 "-" "ua"\n'
    for i, (p, s) in enumerate([("/api/v1/items?page=2", 200), ("/api/v1/items", 500),
                                ("/shop/cart", 200), ("/static/app.css", 200),
                                ("/search?q=/api/", 200), ("/api/login", 404)] * 5))


def test_a_path_regex_counts_only_matching_paths_without_their_query_string():
    from trafficwatch.counting.series import HourlySeries

    s = HourlySeries(track_paths=True)
    s.add("site", _parsed(PATH_LINES))
    api = s.series(path=r"^/api/")
    assert api.sum() == 15  # /search?q=/api/ does not match: the query string is not the path
    assert s.series(path=r"^/api/", status_classes={5}).sum() == 5
    assert s.series(path=r"\.css$", metric="pages").sum() == 0  # a static asset is not a page
    assert s.series(path=r"\.css$").sum() == 5
    assert s.series(path="").sum() == s.series().sum() == 30
    per_hour = api.dropna().astype(int).tolist()
    assert per_hour == [5, 5, 5] and list(api.index) == list(s.series().index)


def test_path_counts_survive_the_state_file_and_merge():
    from trafficwatch.counting.series import HourlySeries

    s = HourlySeries(track_paths=True)
    s.add("site", _parsed(PATH_LINES))
    back = HourlySeries.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.series(path="login").sum() == 5
    back.merge(s)
    assert back.series(path="login").sum() == 10 and back.series(path="cart").sum() == 10


def test_paths_past_the_cap_are_counted_as_overflow_not_dropped(monkeypatch):
    from trafficwatch.counting import series as series_mod

    monkeypatch.setattr(series_mod, "MAX_PATHS", 2)
    s = series_mod.HourlySeries(track_paths=True)
    s.add("site", _parsed(PATH_LINES))
    pc = s._sites["site"].paths
    assert len(pc.names) == 2 and pc.overflow == 15  # 3 more distinct paths x 5 lines
    assert s.series().sum() == 30  # the hourly counts themselves are complete


def test_visitors_and_bad_patterns_are_refused_for_the_path_filter():
    import re

    from trafficwatch.counting.series import HourlySeries

    s = HourlySeries(track_paths=True)
    s.add("site", _parsed(PATH_LINES))
    with pytest.raises(ValueError, match="visitors"):
        s.series(metric="visitors", path="^/api")
    with pytest.raises(re.error):
        s.series(path="(unclosed")


def test_the_path_filter_sees_lines_added_after_it_was_first_read():
    from trafficwatch.counting.series import HourlySeries

    s = HourlySeries(track_paths=True)
    s.add("site", _parsed(PATH_LINES))
    assert s.series(path="login").sum() == 5
    s.add("site", _parsed(PATH_LINES))  # waits unmerged: still counted
    assert s.series(path="login").sum() == 10
    s._sites["site"].paths._fold()
    s.add("site", _parsed(PATH_LINES))
    assert s.series(path="login").sum() == 15 and s.series(path="cart").sum() == 15


def test_a_log_that_began_inside_its_first_hour_leaves_that_hour_to_the_chart_not_the_model():
    """The oldest kept file of a log rotated at 06:25 starts 25 minutes into an hour: that hour
    holds a fraction of its traffic, which the model must not take for a quiet hour."""
    s = HourlySeries()
    s.add("a", recs([T0 + 3540, T0 + 3590, *range(T0 + 3600, T0 + 3 * 3600, 60)]))
    s.add("b", recs([T0 + 30, *range(T0 + 60, T0 + 3 * 3600, 60)]))  # began on the hour
    shown, model = s.series("a"), s.series("a", whole_hours=True)
    assert shown.iloc[0] == 2 and np.isnan(model.iloc[0])  # 00:59 - 01:00: 2 lines
    np.testing.assert_array_equal(shown.iloc[1:], model.iloc[1:])
    assert s.partial_starts("b") == [] and s.series("b", whole_hours=True).notna().all()
    assert s.partial_starts() == [T0 // 3600]  # every site: a's first hour is a's alone
    total = s.series(None, whole_hours=True)
    assert np.isnan(total.iloc[0]) and total.iloc[1:].notna().all()


def test_logs_that_ended_inside_their_last_hour_leave_it_to_the_chart_not_the_model():
    """An archive copied at 07:06 (or a log whose server stopped) holds six minutes of its last
    hour: without a clock (nobody writes the logs any more) the model reads that hour as a gap.
    A last line in the hour's final minute ends it whole; with a clock the hour is in progress
    (partial_hour), not cut."""
    s = HourlySeries()
    s.add("a", recs(range(T0, T0 + 2 * 3600 + 360, 60)))  # 00:00 .. 02:05
    s.add("b", recs([*range(T0, T0 + 3600, 60), T0 + 3600 - 30]))  # ends 00:59:30
    assert s.partial_end("a") == T0 // 3600 + 2 and s.partial_end("b") is None
    shown, model = s.series("a"), s.series("a", whole_hours=True)
    assert shown.iloc[-1] == 6 and np.isnan(model.iloc[-1])
    np.testing.assert_array_equal(shown.iloc[:-1], model.iloc[:-1])
    assert s.series("b", whole_hours=True).notna().all()
    assert s.series("a", whole_hours=True, now=T0 + 2 * 3600 + 400).iloc[-1] == 6
    assert np.isnan(s.series(None, whole_hours=True).iloc[-1])  # every site: a ends last
    s.add("a", recs([T0 + 60]))  # a late line out of order changes nothing
    assert s.partial_end("a") == T0 // 3600 + 2


def test_the_first_line_is_kept_through_the_state_file_and_a_merge():
    a, b = HourlySeries(), HourlySeries()
    a.add("x", recs([T0 + 7200, T0 + 7300]))
    b.add("x", recs([T0 + 1800, T0 + 3700]))  # another worker had the older lines
    a.merge(b)
    assert a.partial_starts("x") == [T0 // 3600]
    back = HourlySeries.from_dict(json.loads(json.dumps(a.to_dict())))
    assert back.partial_starts("x") == [T0 // 3600]
    old = a.to_dict()
    del old["sites"]["x"]["first_ts"]  # a state written before the first line was kept
    assert HourlySeries.from_dict(old).partial_starts("x") == []  # unknown: counted as whole
    b.add("x", recs([T0 - 3600 * 5 + 10]))  # older lines from the hour's start arrive later
    assert b.partial_starts("x") == []


def test_counts_csv_rows_that_cannot_be_used_are_said_not_dropped_in_silence(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("hour,count\n2026-01-01T00:00:00+00:00,5\nnot-a-date,5\n"
                 "2026-01-01T01:00:00+00:00,-7\n2026-01-01T02:00:00+00:00,abc\n"
                 "2026-01-01T02:00:00+00:00,3\n2026-01-01T03:00:00+00:00,3,9\n\x1b[31m,4\n"
                 "2026-01-01T04:00:00+00:00,inf\n2026-01-01T05:00:00+00:00,8\n"
                 "2026-01-01T06:00:00+00:00,\n2026-01-01T07:00:00+00:00,9\n")
    said: list[str] = []
    out = read_counts_csv(str(p), warn=said.append)
    assert out.iloc[0] == 5 and np.isnan(out.iloc[1]) and out.iloc[2] == 3
    assert np.isnan(out.iloc[3]) and np.isnan(out.iloc[4]) and out.iloc[5] == 8
    assert np.isnan(out.iloc[6]) and out.iloc[7] == 9
    text = "\n".join(said)
    assert "2 rows without an ISO 8601 hour, left out (e.g. row 3: 'not-a-date')" in text
    assert "3 rows with a count not a number of requests (0 to under a trillion an hour), read as a gap (e.g. row 4: '-7')" in text
    assert "1 row with not as many fields as the header, left out (e.g. row 7: 3 fields)" in text
    assert "1 hour on more than one row, their counts added" in text
    assert "1 of 8 hours between the first and last row have no row" in text  # 03:00's, cut
    # an empty count too (pandas writes NaN so, and a NaN written out was said: a trial)
    assert "1 row with an empty count, read as a gap (e.g. row 11)" in text
    assert "\x1b" not in text and len(said) == 6


def test_a_series_of_values_not_counts_is_refused_or_left_out_not_scored_on_half(tmp_path,
                                                                                 capsys):
    """A trial's sine of -12..12 had its 423 negative rows read as gaps: `forecast` exited 0,
    and `eval` scored the other half of its hours and said it beat both naives."""
    from trafficwatch.cli.main import main

    hours = pd.date_range("2024-03-01", periods=24 * 21, freq="h")
    wave = 12 * np.sin(2 * np.pi * np.arange(len(hours)) / 24) + 0.5
    one = tmp_path / "wave.csv"
    one.write_text("hour,count\n" + "".join(f"{h.isoformat()},{v:.3f}\n"
                                            for h, v in zip(hours, wave)))
    assert main(["forecast", str(one), "--horizon", "24"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1
    assert "231 of its 504 rows hold a negative value (e.g. row 15: '-2.606'): trafficwatch " \
        "forecasts counts, 0 or more" in out.err
    counts = np.abs(wave).round() + 20
    counts[5] = -1  # one glitch in a series of counts: a gap, said
    both = tmp_path / "both.csv"
    both.write_text("unique_id,ds,y\n" + "".join(
        f"{name},{h.isoformat()},{v:.3f}\n" for name, values in (("wave", wave), ("site", counts))
        for h, v in zip(hours, values)))
    assert main(["eval", str(both), "--days", "3"]) == 1  # a series left out: exit 1
    out = capsys.readouterr()
    assert "series wave: 231 of its 504 rows hold a negative value" in out.err
    assert "forecasts counts, 0 or more: left out" in out.err
    assert "1 row with a count not a number of requests" in out.err  # the glitch, said alone
    # the site alone, named as one of the file's two (a table that came and went with data)
    assert "wave" not in out.out and "1 of 2 series scored" in out.out, out.out
    # the same wave with no name of its own: its negative rows were kept under "", it under
    # "(no name)", and it was never left out (a review)
    both.write_text(both.read_text().replace("wave,", ","))
    assert main(["forecast", str(both), "--horizon", "1"]) == 1
    assert "series (no name): 231 of its 504 rows hold a negative value" in \
        capsys.readouterr().err
