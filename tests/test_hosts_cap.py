"""Virtual hosts named by the lines are sites up to MAX_HOSTS; the rest are counted together
(where nginx logs $host, a scanner names as many as it likes: 5,000 sites and 35,000 series
on the agent's /metrics, a trial)."""
from __future__ import annotations

import time

from tests.test_fleet_agent import scrape_once
from trafficwatch.cli.main import main
from trafficwatch.counting.ingest import IngestOptions, ingest
from trafficwatch.counting.series import MAX_HOSTS, OTHER_HOSTS, HourlySeries

NOW = time.time()


def vhost_log(path, hosts: list[str], at: float) -> None:
    with path.open("a") as f:
        for i, host in enumerate(hosts):
            t = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(at + i % 600))
            f.write(f'{host}:80 10.0.0.1 - - [{t}] "GET / HTTP/1.1" 404 10 "-" "x"\n')


def test_hosts_past_the_cap_are_counted_together_and_said(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    scans = [f"scan{i}.example" for i in range(MAX_HOSTS + 100)]
    vhost_log(logs / "access.log", scans + ["www.example.org"] * 50, NOW - 7200)
    series, _ = ingest([str(logs)], IngestOptions(), HourlySeries())
    assert len(series.sites()) == MAX_HOSTS + 1 and OTHER_HOSTS in series.sites()
    assert series.total(OTHER_HOSTS) == 150 and series.total() == len(scans) + 50
    assert len(series.folded) == 101 and "scan1000.example" in series.folded
    assert main(["counts", str(logs)]) == 0
    out, err = capsys.readouterr()
    assert f",{OTHER_HOSTS},hits," in out
    assert (f"101 virtual hosts named by the lines after the first {MAX_HOSTS:,} were counted "
            f"together as {OTHER_HOSTS}") in err
    # a restart from state keeps the sites it had, and the cap: a new host is folded too
    again = HourlySeries.from_dict(series.to_dict())
    assert again.sites() == series.sites() and again.folded == series.folded  # said again
    merged = HourlySeries()
    merged.merge(again)  # a restored state merged in: "(other hosts)" is not a host folded
    assert merged.folded == series.folded and OTHER_HOSTS not in merged.folded
    assert again.add_counts("new.example", _one_hour(), host=True) == OTHER_HOSTS
    assert again.add_counts("scan5.example", _one_hour(), host=True) == "scan5.example"
    assert again.add_counts("from-a-file-name", _one_hour()) == "from-a-file-name"  # not a host


def _one_hour():
    from trafficwatch.counting.series import count_chunk
    from trafficwatch.logs.formats import COMBINED
    from trafficwatch.logs.parse import ParseOptions, parse_bytes

    t = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(NOW - 600))
    line = f'10.0.0.1 - - [{t}] "GET / HTTP/1.1" 200 10 "-" "x"\n'.encode()
    return count_chunk(parse_bytes(line, COMBINED, ParseOptions(keep_visitors=True)).records,
                       visitors=True)


def test_the_agent_exports_at_most_the_cap_of_hosts(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    vhost_log(logs / "access.log", [f"scan{i}.example" for i in range(MAX_HOSTS + 300)],
              NOW - 7200)
    got = scrape_once(logs)
    sites = {k.split('site="', 1)[1].split('"', 1)[0] for k in got
             if k.startswith("trafficwatch_requests_total")}
    assert len(sites) == MAX_HOSTS + 1 and OTHER_HOSTS in sites
    assert got[f'trafficwatch_requests_total{{site="{OTHER_HOSTS}",status="4xx"}}'] == 300


def test_counts_follow_says_the_hosts_it_counts_together(tmp_path, capsys):
    """counts --follow applied the cap and never said so (a check of the cap)."""
    import threading

    from trafficwatch.cli.follow import run_follow
    from trafficwatch.cli.main import build_parser

    logs = tmp_path / "logs"
    logs.mkdir()
    vhost_log(logs / "access.log", [f"scan{i}.example" for i in range(MAX_HOSTS + 3)],
              NOW - 7200)
    args = build_parser().parse_args(["counts", "--follow", "--no-state", str(logs)])
    stop = threading.Event()
    t = threading.Thread(target=run_follow, args=(args, stop))
    t.start()
    deadline = time.monotonic() + 20
    err = ""
    while "virtual hosts" not in err and time.monotonic() < deadline:
        time.sleep(0.1)
        err += capsys.readouterr().err
    stop.set()
    t.join(timeout=10)
    assert f"3 virtual hosts named by the lines after the first {MAX_HOSTS:,}" in err, err


def test_the_app_says_the_hosts_it_counts_together_live_and_in_a_replay(tmp_path):
    """counts, top and the agent said the hosts past the cap; the app, live or replaying the
    same logs, counted them as one site and said nothing (a review)."""
    from trafficwatch.engine.engine import Engine, EngineConfig, open_source

    logs = tmp_path / "logs"
    logs.mkdir()
    vhost_log(logs / "access.log", [f"scan{i}.example" for i in range(MAX_HOSTS + 7)],
              NOW - 7200)
    for replay in (False, True):
        e = Engine(EngineConfig(paths=[str(logs)], fine_tune=False, replay=replay, speed=1e9,
                                state_path=None), lambda s: None)
        e.source = open_source(e.sink, e.cfg, e.reading_progress)
        try:
            if replay:
                e.source.step(1.0)  # releases everything
            notices = e.snapshot().ingest.notices
            said = (f"7 virtual hosts named by the lines after the first {MAX_HOSTS:,} were "
                    f"counted together as {OTHER_HOSTS}")
            assert any(said in n for n in notices), (replay, notices)
        finally:
            if hasattr(e.source, "close"):
                e.source.close()


def test_a_parser_numbers_so_many_hosts_then_counts_the_others_as_one():
    """Where nginx logs $host, a scanner names a new host each line: a parser numbered every
    one and sorted them all at each chunk (400,000 lines, half naming new hosts: `counts` 14 s,
    the app's first read 52 s, against 1.2 s and 2.9 s now). It names NAMED_HOSTS, in the
    lines' order, numpy path or line by line (a request with an escaped quote), and the
    later ones are OTHER_HOSTS there already."""
    from trafficwatch.logs.formats import PRESETS
    from trafficwatch.logs.parse import ParseOptions, Parser
    from trafficwatch.logs.records import HOST_IDLE_S, NAMED_HOSTS

    lines, hosts, times = [], [], []
    for i in range(4900):  # a scan, then lines a day later
        host = f"Scan{i}.example" if i % 3 else "www.shop.com"
        path = '/a\\"b' if i % 7 == 0 else "/"  # read line by line
        times.append(NOW - 3 * 86400 + i + (86400 if i >= 3500 else 0))
        t = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(times[-1]))
        lines.append(f'{host}:443 10.0.0.{i % 250} - - [{t}] "GET {path} HTTP/1.1" 200 1 "-" '
                     f'"x"\n'.encode())
        hosts.append(host.lower())
    expect, named, since = [], set(), times[0]
    for k in range(0, len(lines), 700):  # chunks: the numbers stand across them, until a
        # chunk begins with NAMED_HOSTS named a day of log time after they began: then
        # numbered anew (a host new after a scan is named again, for the series to give it
        # a slot once one is free)
        if len(named) >= NAMED_HOSTS and times[k - 1] >= since + HOST_IDLE_S:
            named, since = set(), times[k - 1]
        for h in hosts[k:k + 700]:
            if h in named or len(named) < NAMED_HOSTS:
                named.add(h)
                expect.append(h)
            else:
                expect.append(OTHER_HOSTS)
    assert OTHER_HOSTS in expect and expect[-1] == hosts[-1]  # folded, then named again
    for fast in (True, False):
        p = Parser(PRESETS["VCOMBINED"], ParseOptions())
        if not fast:
            p._fast = None
        got, most = [], 0
        for k in range(0, len(lines), 700):
            rec = p.feed(b"".join(lines[k:k + 700])).records
            got += [rec.vhosts[c] for c in rec.vhost.tolist()]
            most = max(most, len(rec.vhosts))
        assert got == expect, fast
        assert most == NAMED_HOSTS + 1


def _hour_at(t: float, n: int = 1):
    from trafficwatch.counting.series import count_chunk
    from trafficwatch.logs.formats import COMBINED
    from trafficwatch.logs.parse import ParseOptions, parse_bytes

    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    line = f'10.0.0.1 - - [{stamp}] "GET / HTTP/1.1" 200 10 "-" "x"\n'.encode() * n
    return count_chunk(parse_bytes(line, COMBINED, ParseOptions(keep_visitors=True)).records,
                       visitors=True)


def test_a_host_silent_a_day_gives_its_slot_to_a_new_one_and_every_count_stays():
    # a fleet trial: one scanner's burst of 1,000 made-up Host headers took every slot for
    # good; each real virtual host added later was "(other hosts)", restarts and all
    from trafficwatch.counting.series import HOST_IDLE_S, SLOT_GIVEN_MAX

    t0 = NOW - 3 * 86400
    s = HourlySeries()
    s.add_counts("www.real.example", _hour_at(t0, 5), host=True)
    s.add_counts("down.example", _hour_at(t0 - 60, SLOT_GIVEN_MAX + 1), host=True)
    for i in range(MAX_HOSTS - 2):
        s.add_counts(f"scan{i}.example", _hour_at(t0 + 60), host=True)
    s.add_counts("www.real.example", _hour_at(t0 + 2 * 86400, 5), host=True)  # still busy
    total = s.total()
    assert s.add_counts("new.example", _hour_at(t0 + 3600), host=True) == OTHER_HOSTS
    # a day after the scan: the scan's hosts are silent, the real one is not, and a site
    # down for that day (silent longest) had more requests than a made-up name has
    later = t0 + 60 + HOST_IDLE_S + 3600
    assert s.add_counts("new.example", _hour_at(later, 3), host=True) == "new.example"
    assert s.total() == total + 1 + 3 and s.total("new.example") == 3
    assert s.total(OTHER_HOSTS) == 1 + 1  # its hour before, and the scan host that went
    # on /metrics the host that went takes its request away, and "(other hosts)" grows only
    # by those counted as it (a review: 300 hosts given, a surge of 30,000 read there)
    from trafficwatch.counting.ingest import IngestReport
    from trafficwatch.engine.exposition import counter_values

    raw = counter_values(s, IngestReport())
    assert raw[("trafficwatch_requests_total", (("site", OTHER_HOSTS), ("status", "2xx")))] == 1
    assert not any(dict(k[1]).get("site") == "scan0.example" for k in raw)
    assert {"www.real.example", "down.example"} <= set(s.sites())
    assert len(s.sites()) == MAX_HOSTS + 1 and s.evicted == ["scan0.example"]
    assert not any(x.startswith("scan") for x in s.folded)  # said apart:
    assert "1 virtual hosts of 100 requests or fewer, silent for a day, gave their slots to " \
        "new ones" in s.folded_note()
    # a restart keeps it, restored as the app does it (merged into its empty series: the
    # site named after "(other hosts)" had been folded there, its request counted twice)
    again = HourlySeries()
    again.merge(HourlySeries.from_dict(s.to_dict()))
    assert again.sites() == s.sites() and again.total() == s.total()
    assert again.evicted == s.evicted and again.folded_note() == s.folded_note()
    assert again.add_counts("two.example", _hour_at(later + 60), host=True) == "two.example"
    assert again.add_counts("three.example", _hour_at(t0 + 600), host=True) == OTHER_HOSTS


def test_the_app_on_a_host_whose_slot_went_to_a_new_one_shows_every_site_and_says_so(tmp_path):
    from trafficwatch.engine.engine import Engine, EngineConfig, open_source

    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    vhost_log(log, ["aaa.example"], NOW - 3 * 86400)  # silent longest
    vhost_log(log, [f"scan{i}.example" for i in range(MAX_HOSTS - 1)], NOW - 2 * 86400)
    e = Engine(EngineConfig(paths=[str(logs)], fine_tune=False, state_path=None),
               lambda s: None)
    e.source = open_source(e.sink, e.cfg, e.reading_progress)
    try:
        e.set_site("aaa.example")
        assert e.view_series().sum() == 1
        vhost_log(log, ["new.example"], NOW - 60)
        deadline = time.monotonic() + 20
        while "new.example" not in e.series.sites() and time.monotonic() < deadline:
            e.source.step(0.5)
            time.sleep(0.05)
        assert "aaa.example" not in e.series.sites() and e.series.total(OTHER_HOSTS) == 1
        s = e.view_series()  # every site's, not a KeyError (the engine's threads had died)
        assert s.sum() == MAX_HOSTS + 1
        assert (e.site, e.wanted_site) == ("", "aaa.example")  # said, back when it comes
        e.status = ""  # (the engine's loop clears "reading logs…")
        assert "no site aaa.example in what was read" in e.snapshot().status
    finally:
        e.source.close()


def test_a_host_longer_than_a_host_name_can_be_is_counted_as_other_hosts():
    # a fleet trial: a Host of 3,000 bytes was a site, a /metrics label of 3,000 characters
    # (a Prometheus with label_value_length_limit refuses the whole scrape for it)
    import json

    from trafficwatch.logs.formats import PRESETS
    from trafficwatch.logs.parse import ParseOptions, parse_bytes

    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(NOW - 600))
    ok, long = "a" * 63 + "." + "b" * 63 + ".example", "x" * 3000
    lines = "".join(f'{h}:80 10.0.0.1 - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "x"\n'
                    for h in (ok, long, "x" * 256)).encode()
    rec = parse_bytes(lines, PRESETS["VCOMBINED"], ParseOptions()).records
    assert [rec.vhosts[c] for c in rec.vhost.tolist()] == [ok, OTHER_HOSTS, OTHER_HOSTS]
    js = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - 600)),
                     "remote_addr": "10.0.0.1", "host": long, "request": "GET / HTTP/1.1",
                     "status": 200}) + "\n"
    rec = parse_bytes(js.encode(), PRESETS["JSON"], ParseOptions()).records
    assert [rec.vhosts[c] for c in rec.vhost.tolist()] == [OTHER_HOSTS]
    # a security trial: a Host of "(other hosts)" was a site of that name, read as hosts
    # folded where none were; no host name has a space or a control byte
    for host in ("shop example", "shop\x01.example", "shop.example\x7f", "(other hosts)"):
        js = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - 600)),
                         "remote_addr": "10.0.0.1", "host": host, "request": "GET / HTTP/1.1",
                         "status": 200}) + "\n"
        rec = parse_bytes(js.encode(), PRESETS["JSON"], ParseOptions()).records
        assert [rec.vhosts[c] for c in rec.vhost.tolist()] == [OTHER_HOSTS], host


def test_the_log_tail_of_every_site_ends_with_the_newest_line_not_a_host_past_the_cap(tmp_path):
    # an app trial: a scan of 1,200 made-up hosts two days ago, then real traffic up to now: the
    # every-site log tail ended with the scan's last lines (a host past the first 1,000 has no
    # counts of its own, and its lines were taken as read now)
    from trafficwatch.engine.engine import Engine, EngineConfig, open_source

    logs = tmp_path / "logs"
    logs.mkdir()
    vhost_log(logs / "access.log", [f"scan{i}.example" for i in range(MAX_HOSTS + 200)],
              NOW - 2 * 86400)
    vhost_log(logs / "access.log", ["www.real.example"] * 5, NOW - 300)
    e = Engine(EngineConfig(paths=[str(logs)], fine_tune=False, state_path=None),
               lambda s: None)
    e.source = open_source(e.sink, e.cfg, e.reading_progress)
    try:
        tail = e.source.tail
        assert tail[-1].site == "www.real.example", [x.site for x in tail[-3:]]
    finally:
        e.source.close()
