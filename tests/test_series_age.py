"""What grows with traffic is let go of where it is old (HourlySeries.age): visitor keys older
than VISITOR_KEYS_DAYS become counts by set of cells, exact for every filter, per site and for
every site together; per-path counts older than PATH_DAYS go, and the path filter says those
hours are unknown (NaN), not quiet. A busy site's keys and path counts took about 5 MB a day,
in memory and in the state file, for as long as the state lived."""
from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import numpy as np
import pytest

from trafficwatch.counting.series import PATH_DAYS, PATHS_SINCE, VISITOR_KEYS_DAYS, HourlySeries
from trafficwatch.logs.records import Records

HOUR = 3600
DAYS = 40  # past PATH_DAYS: both kinds of detail age
T0 = 1_790_000_000 // HOUR * HOUR
FILTERS = [{"bots": b, "status_classes": c} for b, c in (
    (True, None), (False, None), ("only", None), (True, {2}), (False, {4, 5}), ("only", {0}),
    (True, {3}), (False, {2, 3}))]


def records(rng: np.random.Generator, hours: int, n: int, visitors: np.ndarray,
            paths: bool = False) -> Records:
    ts = T0 + np.sort(rng.integers(0, hours * HOUR, n))
    return Records(
        ts=ts.astype(np.int64), utc_offset=np.zeros(n, np.int32),
        status=rng.choice(np.array([200, 200, 200, 304, 404, 500, 0], np.int16), n),
        size=np.zeros(n, np.int64), is_static=rng.random(n) < 0.3, is_bot=rng.random(n) < 0.1,
        client=np.zeros(n, np.uint64), visitor=rng.choice(visitors, n).astype(np.uint64),
        vhost=np.full(n, -1, np.int32),
        path=rng.choice(np.array([f"/p{i}" for i in range(30)], object), n) if paths else None)


def two_sites(seed: int = 1, paths: bool = False) -> HourlySeries:
    """Two sites over DAYS days that share some visitors (a scanner asks both)."""
    rng = np.random.default_rng(seed)
    s = HourlySeries(track_visitors=True, track_paths=paths)
    shared = np.arange(60, dtype=np.uint64) * 7919
    for site, own in (("a.example", 1), ("b.example", 2)):
        visitors = np.concatenate([shared, own * 10**9 + np.arange(60, dtype=np.uint64)])
        s.add(site, records(rng, DAYS * 24, 30_000, visitors, paths))
    return s


def every_count(s: HourlySeries) -> dict:
    return {(site, i): s.series(site, "visitors", **f).to_numpy()
            for site in (None, "a.example", "b.example") for i, f in enumerate(FILTERS)}


def test_old_visitor_keys_become_counts_exact_for_every_filter_and_for_all_sites_together():
    s = two_sites()
    before = every_count(s)
    s.age()
    after = every_count(s)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v, err_msg=str(k))
    # the keys of old hours are gone from the state; what is kept is far smaller
    state = s.to_dict()
    cut = T0 // HOUR + DAYS * 24 - 1 - VISITOR_KEYS_DAYS * 24
    for site in state["sites"].values():
        assert min(int(h) for h in site["visitors"]) >= cut
        assert min(int(h) for h in site["visitor_sets"]) == T0 // HOUR
    assert len(json.dumps(state)) < len(json.dumps(two_sites().to_dict()))
    # and read back from it, the same counts
    back = HourlySeries.from_dict(json.loads(json.dumps(state)))
    for k, v in every_count(back).items():
        np.testing.assert_array_equal(v, before[k], err_msg=str(k))
    # a visitor of both sites is one visitor of the two: not the sum of each site's
    old = slice(0, 24)
    assert before[(None, 0)][old].sum() < (before[("a.example", 0)][old]
                                           + before[("b.example", 0)][old]).sum()


def test_lines_that_come_for_an_hour_already_aged_count_their_visitors_on_top():
    s = two_sites()
    s.age()
    first = s.series("a.example", "visitors").to_numpy()
    every = s.series(None, "visitors").to_numpy()
    h = T0 + 3 * HOUR  # days before the keys kept
    late = Records(ts=np.array([h + 10, h + 20], np.int64), utc_offset=np.zeros(2, np.int32),
                   status=np.array([200, 404], np.int16), size=np.zeros(2, np.int64),
                   is_static=np.zeros(2, bool), is_bot=np.zeros(2, bool),
                   client=np.zeros(2, np.uint64), visitor=np.array([5, 5], np.uint64) * 10**12,
                   vhost=np.full(2, -1, np.int32))
    s.add("a.example", late)
    again = s.series("a.example", "visitors").to_numpy()
    diff = again - first
    assert diff[3] == 1 and np.delete(diff, 3).sum() == 0  # one new visitor, two requests
    assert s.series(None, "visitors").iloc[3] == every[3] + 1
    s.age()  # aged again: the late one joins its hour's counts
    np.testing.assert_array_equal(s.series("a.example", "visitors").to_numpy(), again)
    assert s.series(None, "visitors").iloc[3] == every[3] + 1


def test_path_counts_older_than_the_path_days_are_unknown_not_quiet_and_the_rest_unchanged():
    s = two_sites(paths=True)
    full = two_sites(paths=True)
    s.age()
    cut = DAYS * 24 - 1 - PATH_DAYS * 24  # the first hour (from T0) whose counts are kept
    for p in ("/p1", "^/p2"):
        for site in (None, "a.example"):
            for f in FILTERS[:6]:
                got = s.series(site, path=p, **f).to_numpy()
                want = full.series(site, path=p, **f).to_numpy()
                assert np.isnan(got[:cut]).all() and not np.isnan(want[:cut]).any()
                np.testing.assert_array_equal(got[cut:], want[cut:])
    np.testing.assert_array_equal(s.series().to_numpy(), full.series().to_numpy())  # hits: all
    back = HourlySeries.from_dict(json.loads(json.dumps(s.to_dict())))
    np.testing.assert_array_equal(back.series("a.example", path="/p1").to_numpy(),
                                  s.series("a.example", path="/p1").to_numpy())


def test_a_line_dated_years_ahead_does_not_age_every_hour_when_the_clock_is_given():
    s = two_sites()
    stray = Records(ts=np.array([T0 + 5 * 365 * 24 * HOUR], np.int64),
                    utc_offset=np.zeros(1, np.int32), status=np.array([200], np.int16),
                    size=np.zeros(1, np.int64), is_static=np.zeros(1, bool),
                    is_bot=np.zeros(1, bool), client=np.zeros(1, np.uint64),
                    visitor=np.array([1], np.uint64), vhost=np.full(1, -1, np.int32))
    s.add("a.example", stray)
    now = T0 + DAYS * 24 * HOUR
    s.age(now)
    kept = [int(h) for h in s.to_dict()["sites"]["b.example"]["visitors"]]
    assert min(kept) == now // HOUR - VISITOR_KEYS_DAYS * 24


@pytest.mark.parametrize("bad", [{"1": "AAAA"}, {"x": ""}, ["AAAAAAAAAAA="], {"1": 5},
                                 {"-1": "AAAAAAAAAAA="}])
def test_a_state_with_bad_visitor_sets_is_refused(bad):
    state = two_sites().to_dict()
    state["all_visitor_sets"] = bad
    with pytest.raises(ValueError):
        HourlySeries.from_dict(json.loads(json.dumps(state)))


def test_the_follower_lets_old_keys_go_at_its_saves_and_resumes_with_the_same_counts(tmp_path):
    from trafficwatch.counting.ingest import ingest
    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.live import LiveFeed

    end = int(time.time()) // HOUR * HOUR
    rng = np.random.default_rng(3)
    ts = np.sort(rng.integers(end - 12 * 24 * HOUR, end, 3000))
    lines = "".join(
        f'198.51.100.{v} - - [{time.strftime("%d/%b/%Y:%H:%M:%S", time.gmtime(t))} +0000] '
        f'"GET / HTTP/1.1" {c} 5 "-" "ua{v % 3}"\n'
        for t, v, c in zip(ts.tolist(), rng.integers(1, 200, len(ts)).tolist(),
                           rng.choice([200, 404], len(ts)).tolist()))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "site.example.access.log").write_text(lines)
    fresh, _ = ingest([str(tmp_path / "logs")])
    want = fresh.series("site.example", "visitors", status_classes={4}).to_numpy()

    def feed():
        e = Engine(EngineConfig(paths=[str(tmp_path / "logs")], fine_tune=False, poll=True),
                   lambda s: None)
        return e, LiveFeed(e.sink, tmp_path / "state.json", start_thread=False)

    e, f = feed()
    f.commit()
    saved = json.loads((tmp_path / "state.json").read_text())
    site = saved["counts"]["series"]["sites"]["site.example"]
    assert min(int(h) for h in site["visitors"]) >= end // HOUR - 1 - VISITOR_KEYS_DAYS * 24
    assert site["visitor_sets"]
    got = e.series.series("site.example", "visitors", status_classes={4}).to_numpy()
    np.testing.assert_array_equal(got[:len(want)], want)
    f.close()
    e2, f2 = feed()  # resumed from the state file
    again = e2.series.series("site.example", "visitors", status_classes={4}).to_numpy()
    np.testing.assert_array_equal(again[:len(want)], want)
    f2.close()
    assert os.path.getsize(tmp_path / "state.json") > 0


def few(site_lines: dict[str, list[int]], paths: bool = False) -> HourlySeries:
    """Sites whose visitors ask for / once in the first hour, and a line 40 days later."""
    s = HourlySeries(track_paths=paths)
    for site, who in site_lines.items():
        n = len(who)
        for ts, vis in (([T0 + 10] * n, who), ([T0 + DAYS * 24 * HOUR], [999])):
            k = len(ts)
            s.add(site, Records(
                ts=np.asarray(ts, np.int64), utc_offset=np.zeros(k, np.int32),
                status=np.full(k, 200, np.int16), size=np.zeros(k, np.int64),
                is_static=np.zeros(k, bool), is_bot=np.zeros(k, bool),
                client=np.zeros(k, np.uint64), visitor=np.asarray(vis, np.uint64) << np.uint64(8),
                vhost=np.full(k, -1, np.int32),
                path=np.array(["/cart"] * k, object) if paths else None))
    return s


def test_merged_series_that_aged_apart_count_every_sites_visitors_of_an_aged_hour():
    """An hour aged in one series with one site (its visitors are every site's) and in the
    other with two: merged, every site's count had been the second's alone (3 lost)."""
    want = few({"a.example": [1, 2, 3]})
    want.merge(few({"b.example": [10, 11], "c.example": [11, 12]}))
    a, bc = few({"a.example": [1, 2, 3]}), few({"b.example": [10, 11], "c.example": [11, 12]})
    a.age()
    bc.age()
    a.merge(bc)
    assert a.series(None, "visitors").iloc[0] == want.series(None, "visitors").iloc[0] == 6


def test_a_state_read_back_into_the_followers_series_keeps_old_path_hours_unknown():
    """LiveFeed's restore merges the state's series into its own: hours whose path counts had
    been let go of read as 0 requests (quiet) until the next save."""
    s = few({"a.example": [1, 2]}, paths=True)
    s.age()
    restored = HourlySeries(track_paths=True)
    restored.merge(HourlySeries.from_dict(json.loads(json.dumps(s.to_dict()))))
    assert np.isnan(restored.series(path="^/cart").iloc[0])
    assert restored.series(path="^/cart").iloc[-1] == 1


def test_an_hours_details_say_its_paths_were_not_kept_not_that_it_had_none():
    from rich.text import Text

    from trafficwatch.app.hour_detail import top_lines
    from trafficwatch.engine.views import hour_tops
    from trafficwatch.filters import ViewFilter

    s = HourlySeries(track_paths=True)  # a site whose first hours are 40 days before its last
    for site, ts, status, path in (("old.example", T0 + 10, 200, "/cart"),
                                   ("old.example", T0 + 20, 200, "/cart"),
                                   ("old.example", T0 + 3 * HOUR, 404, "/gone"),
                                   ("old.example", T0 + DAYS * 24 * HOUR, 200, "/")):
        s.add(site, Records(
            ts=np.array([ts], np.int64), utc_offset=np.zeros(1, np.int32),
            status=np.array([status], np.int16), size=np.zeros(1, np.int64),
            is_static=np.zeros(1, bool), is_bot=np.zeros(1, bool), client=np.zeros(1, np.uint64),
            visitor=np.array([ts], np.uint64), vhost=np.full(1, -1, np.int32),
            path=np.array([path], object)))
    s.age()
    chart = s.series("old.example", path="^/cart").iloc[:5]  # (its first hours, on screen)
    for flt, status in ((ViewFilter(path="^/cart"), f"Status not kept (older than {PATH_DAYS}"),
                        (ViewFilter(), "Status 2xx 2")):
        tops, _ = hour_tops(s, "old.example", "hits", flt, chart)
        assert tops, "an hour with requests told as none"
        t = Text()
        top_lines(t, tops[0], 60, bool(flt.path), one_hour=True)
        assert status in t.plain and f"  not kept (older than {PATH_DAYS} days)" in t.plain
        assert "No request" not in t.plain


def test_a_state_with_visitors_for_an_hour_with_no_request_is_refused():
    s = few({"a.example": [1, 2]})
    s.age()
    for field, hour in (("visitor_sets", T0 // HOUR - 1), ("visitors", 0)):
        d = json.loads(json.dumps(s.to_dict()))
        d["sites"]["a.example"][field][str(hour)] = "BQAAAAABAAA="
        with pytest.raises(ValueError, match="no request"):
            HourlySeries.from_dict(d)


def test_a_path_filters_range_older_than_its_counts_says_they_were_not_kept(tmp_path):
    """A trial's range of 29 Oct - 4 Nov under a path filter, 40 days back: the hour's verdict
    read "no log covers this hour" (the logs did), and the view "nothing to forecast: no hour
    of the logs in this view"."""
    import pandas as pd

    from trafficwatch.app.hour_detail import hour_details
    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.live import LiveFeed
    from trafficwatch.filters import ViewFilter

    end = int(time.time()) // HOUR * HOUR
    lines = "".join(
        f'198.51.100.{h % 200} - - [{time.strftime("%d/%b/%Y:%H:%M:%S", time.gmtime(t))} +0000] '
        f'"GET /cart HTTP/1.1" 200 5 "-" "ua"\n'
        for h in range(DAYS * 24) for t in [end - (DAYS * 24 - h) * HOUR + 600])
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "shop.example.access.log").write_text(lines)
    e = Engine(EngineConfig(paths=[str(tmp_path / "logs")], fine_tune=False, poll=True),
               lambda s: None)
    feed = LiveFeed(e.sink, None, start_thread=False)  # (its first commit ages the series)
    try:
        first = pd.Timestamp(end - DAYS * 24 * HOUR, unit="s", tz="UTC")
        e.set_filter(ViewFilter(path="^/cart", start=first + pd.Timedelta(days=1),
                                end=first + pd.Timedelta(days=3)))
        e._predict_once()
        snap = e.snapshot()
        since = snap.series.paths_since
        assert since == end // HOUR * HOUR - PATH_DAYS * 24 * HOUR - HOUR
        h = int(snap.series.hours[5])
        assert h < since and np.isnan(snap.series.counts[5])
        text = hour_details(snap, h, 60).plain
        assert f"path counts not kept past {PATH_DAYS} days" in text
        assert "no log covers" not in text
        e.set_filter(ViewFilter(start=first + pd.Timedelta(days=1),  # no path: its counts
                                end=first + pd.Timedelta(days=3)))
        assert e.snapshot().series is None or e.view_series().notna().all()
    finally:
        feed.close()


def test_a_site_whose_log_ended_long_before_anothers_keeps_its_own_last_days_paths():
    # an app trial: real logs of two sites a year apart; the older site's top paths and path
    # filter were "not kept (older than 35 days)" for its own last hours
    rng = np.random.default_rng(3)
    s = HourlySeries(track_visitors=True, track_paths=True)
    visitors = np.arange(50, dtype=np.uint64)
    s.add("old.example", records(rng, 3 * 24, 3_000, visitors, True))
    later = records(rng, 3 * 24, 3_000, visitors, True)
    s.add("new.example", replace(later, ts=later.ts + 400 * 24 * HOUR))
    s.age()
    got = s.series("old.example", path="/p1")
    assert np.nansum(got.to_numpy()) > 0 and got.attrs.get(PATHS_SINCE, 0) <= T0
