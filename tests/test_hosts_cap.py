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
    from trafficwatch.logs.records import NAMED_HOSTS

    lines, hosts = [], []
    for i in range(NAMED_HOSTS * 3 // 2 + 300):
        host = f"Scan{i}.example" if i % 3 else "www.shop.com"
        path = '/a\\"b' if i % 7 == 0 else "/"  # read line by line
        t = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(NOW - 7200 + i))
        lines.append(f'{host}:443 10.0.0.{i % 250} - - [{t}] "GET {path} HTTP/1.1" 200 1 "-" '
                     f'"x"\n'.encode())
        hosts.append(host.lower())
    expect = list(dict.fromkeys(hosts))[:NAMED_HOSTS]
    expect = [h if h in expect else OTHER_HOSTS for h in hosts]
    for fast in (True, False):
        p = Parser(PRESETS["VCOMBINED"], ParseOptions())
        if not fast:
            p._fast = None
        got = []
        for k in range(0, len(lines), 700):  # chunks: the numbers stand across them
            rec = p.feed(b"".join(lines[k:k + 700])).records
            got += [rec.vhosts[c] for c in rec.vhost.tolist()]
        assert got == expect, fast
        assert len(rec.vhosts) == NAMED_HOSTS + 1 and rec.vhosts[-1] == OTHER_HOSTS
