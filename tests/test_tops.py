"""Top clients per hour: exact on a small log, bounded per hour and in hours kept, carried
through workers' chunk counts and the state file; the app's hour breakdown."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from trafficwatch.counting.series import HourlySeries, count_chunk
from trafficwatch.counting.tops import TOP_CAP, TOP_HOURS, TopK
from trafficwatch.logs.formats import COMBINED
from trafficwatch.logs.parse import ParseOptions, parse_bytes

T0 = int(pd.Timestamp("2026-01-05", tz="UTC").timestamp())
OPTS = ParseOptions(keep_paths=True, keep_clients=True)


def log(lines: list[tuple[int, str, str, int]]) -> bytes:
    """(seconds after T0, client, path, status) -> combined log lines."""
    out = []
    for dt, ip, path, status in lines:
        when = pd.Timestamp(T0 + dt, unit="s").strftime("%d/%b/%Y:%H:%M:%S +0000")
        out.append(f'{ip} - - [{when}] "GET {path} HTTP/1.1" {status} 10 "-" "Mozilla/5.0"')
    return ("\n".join(out) + "\n").encode()


def series_of(data: bytes) -> HourlySeries:
    s = HourlySeries(track_visitors=True, track_paths=True)
    s.add("shop", parse_bytes(data, COMBINED, OPTS).records)
    return s


def test_a_small_logs_hours_break_down_exactly():
    lines = [(60 * i, f"10.0.0.{i % 3}", f"/p{i % 2}?x={i}", 404 if i % 5 == 0 else 200)
             for i in range(30)]  # hour 0
    lines += [(3600 + i, "192.0.2.9", "/login", 401) for i in range(7)]  # hour 1
    s = series_of(log(lines))
    h0 = T0 // 3600
    got = s.breakdown("shop", h0, h0 + 1)
    assert got[h0]["classes"] == {2: 24, 4: 6}
    assert got[h0]["paths"] == [("/p0", 15), ("/p1", 15)]  # query strings left out
    assert got[h0]["clients"].top(5) == [("10.0.0.0", 10, 0), ("10.0.0.1", 10, 0),
                                         ("10.0.0.2", 10, 0)]
    assert got[h0 + 1]["clients"].top(5) == [("192.0.2.9", 7, 0)]
    day = s.breakdown("shop", h0, h0 + 1, whole=True)[h0]
    assert day["classes"] == {2: 24, 4: 13} and day["paths"][0] == ("/p0", 15)
    assert day["clients"].top(1) == [("10.0.0.0", 10, 0)]
    only_404 = s.breakdown("shop", h0, h0, status_classes={4})[h0]
    assert only_404["classes"] == {4: 6}


def test_all_sites_paths_are_summed_before_the_busiest_are_taken():
    """All sites' hour listed /healthz 24, / 3 ...: each site's 5 busiest were taken first, then
    added, and /static/app.js, 2 + 2 requests and in neither site's 5, was left out (a trial)."""
    rng = np.random.default_rng(1)
    s = HourlySeries(track_visitors=True, track_paths=True)
    for site, own in (("shop", "/cart"), ("blog", "/post")):
        lines = [(i, "10.0.0.1", f"{own}{k}", 200) for i, k in enumerate(range(5)) for _ in
                 range(3)]  # five of its own paths, 3 requests each
        lines += [(100 + i, "10.0.0.2", "/static/app.js", 200) for i in range(2)]
        lines += [(200 + i, "10.0.0.3", f"/one-off/{site}/{i}", 200) for i in range(4)]
        s.add(site, parse_bytes(log([lines[i] for i in rng.permutation(len(lines))]),
                                COMBINED, OPTS).records)
    h0 = T0 // 3600
    for whole in (False, True):
        got = s.breakdown(None, h0, h0, n=5, whole=whole)[h0]["paths"]
        assert got[0] == ("/static/app.js", 4), got
        assert [n for _, n in got] == [4, 3, 3, 3, 3]
        assert [p for p, _ in got[1:]] == ["/cart0", "/cart1", "/cart2", "/cart3"]  # by name
    assert s.breakdown("shop", h0, h0, n=5)[h0]["paths"][0] == ("/cart0", 3)
    assert ("/static/app.js", 2) in s.breakdown("shop", h0, h0, n=6)[h0]["paths"]


def test_a_path_filter_narrows_the_status_classes_too():
    """Under a path filter the status line counts the filter's requests, as the chart does."""
    lines = [(60 * i, "10.0.0.1", f"/p{i % 2}", 404 if i % 5 == 0 else 200) for i in range(30)]
    lines += [(3600 + i, "192.0.2.9", "/login", 401) for i in range(7)]
    s = series_of(log(lines))
    h0 = T0 // 3600
    got = s.breakdown("shop", h0, h0 + 1, path="/p0")
    assert got[h0]["classes"] == {2: 12, 4: 3} and got[h0]["paths"] == [("/p0", 15)]
    assert got[h0 + 1]["classes"] == {}  # only /login that hour
    assert got[h0 + 1]["clients"].top(1) == [("192.0.2.9", 7, 0)]  # clients: every request
    day = s.breakdown("shop", h0, h0 + 1, path="/login", whole=True)[h0]
    assert day["classes"] == {4: 7}


def test_tallies_stay_bounded_and_the_heavy_hitters_stay_right():
    rng = np.random.default_rng(0)
    heavy = [("203.0.113.1", 500), ("203.0.113.2", 300), ("203.0.113.3", 200)]
    lines = [(rng.integers(0, 3600), ip, "/", 200) for ip, n in heavy for _ in range(n)]
    lines += [(rng.integers(0, 3600), f"10.{i // 250}.{i % 250}.1", "/", 200)
              for i in range(2000)]  # 2,000 clients with one request each
    order = rng.permutation(len(lines))
    data = [lines[i] for i in order]
    s = HourlySeries(track_visitors=True, track_paths=True)
    for k in range(0, len(data), 100):  # in many small chunks, as the follower reads them
        s.add("shop", parse_bytes(log(data[k:k + 100]), COMBINED, OPTS).records)
    t = s.breakdown("shop", T0 // 3600, T0 // 3600)[T0 // 3600]["clients"]
    assert len(t.counts) <= TOP_CAP
    top = t.top(3)
    assert [name for name, _, _ in top] == [ip for ip, _ in heavy]
    for (_, est, err), (_, true) in zip(top, heavy):
        assert est - err <= true <= est  # the estimate's bounds hold


def test_only_the_last_hours_are_kept():
    lines = [(h * 3600, "10.0.0.1", "/", 200) for h in range(TOP_HOURS + 30)]
    s = series_of(log(lines))
    kept = s._sites["shop"].clients
    last = T0 // 3600 + TOP_HOURS + 29
    assert len(kept) == TOP_HOURS and min(kept) == last - TOP_HOURS + 1
    got = s.breakdown("shop", T0 // 3600, last)
    assert got[T0 // 3600]["clients"] is None  # counted, but its clients no longer kept
    assert got[last]["clients"].top(1) == [("10.0.0.1", 1, 0)]


def test_worker_chunks_and_the_state_file_carry_the_tallies():
    lines = [(i, f"10.0.0.{i % 4}", "/", 200) for i in range(40)]
    rec = parse_bytes(log(lines), COMBINED, OPTS).records
    s = HourlySeries(track_visitors=True, track_paths=True)
    s.add_counts("shop", count_chunk(rec, visitors=True, paths=True))  # as a worker sends it
    h = T0 // 3600
    assert s.breakdown("shop", h, h)[h]["clients"].top(1) == [("10.0.0.0", 10, 0)]
    back = HourlySeries.from_dict(s.to_dict())
    assert back.breakdown("shop", h, h)[h]["clients"].top(4) == \
        s.breakdown("shop", h, h)[h]["clients"].top(4)


def test_a_tampered_tally_in_the_state_file_is_refused():
    import copy

    import pytest

    s = series_of(log([(0, "10.0.0.1", "/", 200)]))
    d = copy.deepcopy(s.to_dict())  # (its tallies' own dicts)
    (hour,) = d["sites"]["shop"]["client_cells"]
    cell = min(d["sites"]["shop"]["client_cells"][hour])  # a status class's (and "24": all)
    tally = d["sites"]["shop"]["client_cells"][hour][cell]
    tally["counts"]["x"], tally["errs"]["x"] = -1, 0
    with pytest.raises(ValueError, match="client tally"):
        HourlySeries.from_dict(d)
    d = copy.deepcopy(s.to_dict())
    d["sites"]["shop"]["client_cells"][hour]["26"] = d["sites"]["shop"]["client_cells"][hour][
        cell]  # a cell past the last
    with pytest.raises(ValueError, match="cell out of range"):
        HourlySeries.from_dict(d)


def test_merging_summaries_matches_counting_everything_when_nothing_is_dropped():
    a, b = Counter({"x": 3, "y": 1}), Counter({"y": 4, "z": 2})
    t = TopK()
    t.merge(dict(a))
    t.merge(dict(b))
    assert t.top(3) == [("y", 5, 0), ("x", 3, 0), ("z", 2, 0)] and t.floor == 0


def test_a_client_kept_but_not_listed_bounds_what_one_not_listed_may_have_sent():
    # an app trial: "a client not listed may have sent up to 27" beside unlisted clients of
    # 64-68 requests, kept in the tally but ranked after the five listed
    t = TopK()
    t.merge({f"c{i}": 100 - i for i in range(8)})
    assert [k for k, _, _ in t.top(5)] == ["c0", "c1", "c2", "c3", "c4"]
    assert t.floor == 0 and t.unlisted_most(5) == 95 and t.unlisted_most(8) == 0


def test_a_days_busiest_clients_come_before_its_one_off_visitors():
    """A day of 30 one-off visitors an hour (1-2 requests each) beside a client of exactly 13
    in its first hour: merged 20 at a time, the hours' floors added up, every one-off read
    "2-37" and the client of 13 was not listed (a trial's Top pane). Every client of the day
    is kept for the screen, and ranked by the count it surely has."""
    from trafficwatch.counting.tops import EVERY_CELL, chunk_tallies, combined

    rng = np.random.default_rng(1)
    hours, names = [], []
    for h in range(24):
        for i in range(30):
            n = int(rng.integers(1, 3))
            hours += [h] * n
            names += [f"10.{h}.0.{i}"] * n
        if h == 0:
            hours += [h] * 13
            names += ["203.0.113.13"] * 13
        if h % 3 == 0:
            hours += [h] * 3
            names += ["192.0.2.30"] * 3
    truth = Counter(names)
    tallies = chunk_tallies(np.array(hours), np.array(names), np.zeros(len(hours), int))
    top = combined([cells[EVERY_CELL] for cells in tallies.values()]).top(5)
    assert [k for k, _, _ in top[:2]] == ["192.0.2.30", "203.0.113.13"]
    for k, count, err in top:
        assert count - err <= truth[k] <= count
    surely = [count - err for _, count, err in top]
    assert surely == sorted(surely, reverse=True)


def test_tallies_combined_in_one_pass_are_those_merged_one_by_one():
    """combined() adds many hours' tallies in one pass (merged one by one, a day of 300 sites'
    hours kept a core busy): the same counts, bounds and floor as the merges."""
    from trafficwatch.counting.tops import combined

    rng = np.random.default_rng(5)
    tallies = []
    for _ in range(60):
        t = TopK()
        t.merge({f"10.0.{rng.integers(0, 3)}.{rng.integers(0, 90)}": int(rng.integers(1, 40))
                 for _ in range(int(rng.integers(1, 45)))}, cap=TOP_CAP)
        tallies.append(t)
    one_by_one = TopK()
    for t in tallies:
        one_by_one.merge(t.counts, t.errs, t.floor, cap=sum(len(x.counts) for x in tallies))
    got = combined(tallies)
    assert (got.counts, got.errs, got.floor) == (one_by_one.counts, one_by_one.errs,
                                                 one_by_one.floor)
    assert got.floor > 0 and any(got.errs.values())  # floors were in play


def test_ties_at_the_top_are_broken_by_name_as_new_paths_keep_coming():
    # the order of the paths' names is kept between frames and new names merged into it (a
    # server probed at random paths brings new ones at every frame): ties at the fifth place
    # must still go to the first names, whatever order they came in
    rng = np.random.default_rng(7)
    s = HourlySeries(track_visitors=True, track_paths=True)
    h0 = T0 // 3600
    seen: dict[str, Counter] = {"shop": Counter(), "blog": Counter()}
    for step in range(12):
        for site, counted in seen.items():
            paths = [f"/{''.join(rng.choice(list('abz/'), rng.integers(1, 5)))}"
                     for _ in range(int(rng.integers(1, 30)))]
            counted.update(paths)
            s.add(site, parse_bytes(log([(step, "10.0.0.1", p, 200) for p in paths]),
                                    COMBINED, OPTS).records)
        total = seen["shop"] + seen["blog"]
        for site, want in (("shop", seen["shop"]), (None, total)):
            got = s.breakdown(site, h0, h0, n=5)[h0]["paths"]
            assert got == sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:5], step


def test_an_hours_clients_follow_the_status_and_bot_filters_and_old_tallies_say_not():
    """Who sent an hour's 5xx: the hour's one tally of every request listed its busiest
    clients whatever the filter (a 5xx filter showed the 2xx crowd). Each (hour, status class,
    bot, asset) keeps its own now, so a filter's clients are exact where few; a state saved
    before keeps its hours' tallies, shown for no filter and said not to be by filter."""
    import copy

    lines = [(i, f"10.0.0.{i % 4}", "/", 200) for i in range(40)]  # the crowd
    lines += [(100 + i, "192.0.2.50", "/api", 503) for i in range(3)]  # few, all 5xx
    s = series_of(log(lines))
    h0 = T0 // 3600
    assert s.breakdown("shop", h0, h0)[h0]["clients"].top(1) == [("10.0.0.0", 10, 0)]
    only_5xx = s.breakdown("shop", h0, h0, status_classes={5}, path="^/nothing")[h0]
    assert only_5xx["clients"].top(5) == [("192.0.2.50", 3, 0)]  # (clients: of any path)
    assert s.breakdown("shop", h0, h0, bots="only")[h0]["clients"].top(5) == []  # no bot
    again = HourlySeries.from_dict(s.to_dict())  # kept through the state file, by cell
    assert again.breakdown("shop", h0, h0, status_classes={5})[h0]["clients"].top(5) == [
        ("192.0.2.50", 3, 0)]
    old = copy.deepcopy(s.to_dict())  # as saved before 2026-12-06: one tally an hour
    cells = old["sites"]["shop"].pop("client_cells")
    old["sites"]["shop"]["clients"] = {h: {"counts": {"10.0.0.0": 10}, "errs": {"10.0.0.0": 0},
                                           "floor": 0} for h in cells}
    legacy = HourlySeries.from_dict(old)
    assert legacy.breakdown("shop", h0, h0)[h0]["clients"].top(1) == [("10.0.0.0", 10, 0)]
    got = legacy.breakdown("shop", h0, h0, status_classes={5})[h0]
    assert got["clients"] is None and got["clients_by_cell"] is False
    # lines after it in that hour: its cells hold only those, not the hour's 5xx clients (a
    # review: the 5 errors before the upgrade were left out, without a word), saved or not
    legacy.add("shop", parse_bytes(log([(200, "198.51.100.9", "/x", 500)]), COMBINED,
                                   OPTS).records)
    for again in (legacy, HourlySeries.from_dict(legacy.to_dict())):
        got = again.breakdown("shop", h0, h0, status_classes={5})[h0]
        assert got["clients"] is None and got["clients_by_cell"] is False
        assert again.breakdown("shop", h0, h0)[h0]["clients"].top(1) == [("10.0.0.0", 10, 0)]


def test_with_no_filter_an_hours_clients_are_its_own_tally_not_its_cells_summed():
    """The cells' tallies summed make a client that one cell did not keep that cell's floor: a
    client of exactly 30 read "30-32" beside 25 one-off 404s (a range where one tally of
    the hour had it exact). With no filter, the hour's own tally answers."""
    lines = [(i, "203.0.113.1", "/", 200) for i in range(30)]
    lines += [(100 + i, f"10.0.1.{i}", "/gone", 404) for i in range(25) for _ in range(2)]
    s = series_of(log(lines))
    h0 = T0 // 3600
    assert s.breakdown("shop", h0, h0)[h0]["clients"].top(1) == [("203.0.113.1", 30, 0)]
    four = s.breakdown("shop", h0, h0, status_classes={4})[h0]["clients"].top(30)
    assert len(four) == TOP_CAP and all(n - e <= 2 <= n for _, n, e in four)


def test_the_screen_says_what_a_clients_tally_cannot():
    """A trial's questions the screen did not answer: a client of 2 errors an hour beside 25
    one-offs of 3 an hour is in no hour's tally (the one-offs listed "3-72", it not at all);
    under a path filter, the clients are of every path; hours older than the 4 days kept
    said "read before this start"; two IPv6 addresses of one /64 cut alike at 80x24."""
    from rich.text import Text

    from trafficwatch.app.hour_detail import top_lines
    from trafficwatch.engine.snapshot import HourTop
    from trafficwatch.engine.views import hour_tops
    from trafficwatch.filters import ViewFilter

    lines = []
    for h in range(TOP_HOURS + 30):
        lines += [(h * 3600 + i, "198.51.100.200", "/wp-login.php", 404) for i in range(2)]
        lines += [(h * 3600 + 10 + i, f"10.{h}.0.{i // 3}", "/x", 404) for i in range(75)]
    s = series_of(log(lines))
    chart = s.series("shop")
    tops, day = hour_tops(s, "shop", "hits", ViewFilter(status_classes=frozenset({4})), chart)
    t = Text()
    top_lines(t, day, 24, True)
    assert day.clients_floor == 72 and "198.51.100.200" not in str(day.clients)
    assert "a client not listed may have sent up to 72" in " ".join(t.plain.split())
    old = chart[chart.index < chart.index[-TOP_HOURS - 5]]
    tops, _ = hour_tops(s, "shop", "hits", ViewFilter(path="^/wp"), old)
    t = Text()
    top_lines(t, tops[-1], 60, True, one_hour=True)
    assert "Top clients (any path)" in t.plain
    assert "the path filter is not applied to clients" in t.plain
    assert "kept for the last 4 days only" in t.plain and "read before" not in t.plain
    v6 = HourTop(0, 1, (("4xx", 35),), (), (("2001:db8:abcd:1234:5678:9abc:def0:1", 20, 0),
                                             ("2001:db8:abcd:1234:5678:9abc:def0:2", 15, 0)))
    t = Text()
    top_lines(t, v6, 24, True, one_hour=True)
    ends = [ln.strip().split(" ", 1)[1] for ln in t.plain.splitlines() if ":def0:" in ln]
    assert len(ends) == 2 and ends[0] != ends[1] and ends[0].endswith("def0:1"), t.plain
