"""Several sites in one log (nginx's `$host $remote_addr ...`): a quiet host between two reads
of the busy log, an IPv6 literal as a host."""
from __future__ import annotations

import time

import numpy as np
import pytest

from trafficwatch.counting.ingest import ingest

H0 = (int(time.time()) // 3600 - 30) * 3600  # a day and more ago: whole hours


def stamp(t: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def line(host: str, t: int, i: int) -> str:
    return (f'{host} 203.0.113.{i % 250} - - [{stamp(t)}] "GET /p/{i % 97} HTTP/1.1" 200 512 '
            f'"-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/{i % 40}"\n')


def quiet_and_busy(path) -> None:
    """12 hours of a busy host (6 MB: several 2 MiB reads) and a quiet one's two lines, at
    the first hour and the last."""
    lines = [line("admin.internal:443", H0 + 60, 0)]
    lines += [line("www.shop.com", H0 + k * 1, k) for k in range(1, 12 * 3600, 1)]
    lines.insert(len(lines) * 3 // 4, line("ADMIN.internal", H0 + 9 * 3600 + 5, 1))  # (its case)
    lines.append(line("admin.internal", H0 + 12 * 3600 - 30, 2))
    path.write_text("".join(sorted(lines, key=lambda s: s.split("[", 1)[1])))


def test_a_quiet_hosts_hours_between_reads_of_a_busy_log_are_zeros_not_gaps(tmp_path):
    """A trial's admin host read "no log covers this hour" wherever its quiet hours crossed a
    2 MiB read of the shared log."""
    (tmp_path / "logs").mkdir()
    quiet_and_busy(tmp_path / "logs" / "access.log")
    assert (tmp_path / "logs" / "access.log").stat().st_size > 2 * 2**21
    series, _ = ingest([str(tmp_path / "logs")])
    admin = series.series("admin.internal")
    assert admin.sum() == 3 and not admin.isna().any() and len(admin) == 12
    assert (admin == 0).sum() == 9


def test_the_app_reads_a_quiet_host_as_counts_do(tmp_path):
    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.live import LiveFeed

    (tmp_path / "logs").mkdir()
    quiet_and_busy(tmp_path / "logs" / "access.log")
    e = Engine(EngineConfig(paths=[str(tmp_path / "logs")], fine_tune=False, poll=True),
               lambda s: None)
    feed = LiveFeed(e.sink, None, start_thread=False)  # its first read: in parts, on workers
    try:
        admin = e.series.series("admin.internal")
        assert admin.sum() == 3 and not admin.isna().any() and (admin == 0).sum() == 9
    finally:
        feed.close()


@pytest.mark.parametrize("at", [0, 3, 150])
def test_an_ipv6_literal_host_is_a_site_and_the_log_stays_a_vhost_log(tmp_path, at):
    """nginx writes $host `[2001:db8::1]` for http://[2001:db8::1]/: one such line among the
    first ones of a sample made the whole log read as COMBINED (one site, the hosts taken for
    clients, no word of it)."""
    hosts = ["www.shop.com:443", "api.example.org", "blog.example.net"]
    lines = [line(hosts[i % 3], H0 + 60 * i, i) for i in range(200)]
    lines[at] = line("[2001:db8::1]:8080", H0 + 60 * at, at)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.log").write_text("".join(lines))
    series, report = ingest([str(tmp_path / "logs")])
    assert series.sites() == sorted(["[2001:db8::1]", "api.example.org", "blog.example.net",
                                     "www.shop.com"])
    assert series.total("[2001:db8::1]") == 1 and series.total() == 200
    assert report.malformed.total == 0
    assert np.isclose(series.series("www.shop.com").sum(), 67 - (at % 3 == 0))


def test_a_host_is_found_as_a_client_asks_for_it_in_any_case_and_with_its_port(tmp_path):
    from trafficwatch.cli.main import main

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.log").write_text("".join(
        line(("www.shop.com:443", "Api.Example.org")[i % 2], H0 + 60 * i, i) for i in range(40)))
    series, _ = ingest([str(tmp_path / "logs")])
    for asked in ("WWW.SHOP.COM", "www.shop.com:443", "Www.Shop.Com:8443"):
        assert series.series(asked).sum() == 20, asked
    assert series.resolve("api.example.org") == "api.example.org"
    assert series.resolve("shop.com") is None
    assert main(["counts", str(tmp_path / "logs"), "--site", "API.example.ORG:80"]) == 0


def test_a_host_written_with_the_roots_trailing_dot_is_the_same_site(tmp_path):
    # a hosting trial: "shop.example.com." (a client may send it so; nginx's $host drops the
    # dot) was a site of its own beside shop.example.com, fast path and line by line alike
    hosts = ("shop.example.com", "shop.example.com.", "SHOP.example.com.:8080", "Shop.Example.Com")
    log = tmp_path / "access.log"
    log.write_text("".join(line(hosts[i % 4], H0 + 60 * i, i) for i in range(40))
                   + 'shop.example.com. 203.0.113.9 ident - [' + stamp(H0 + 3000)
                   + '] "GET / HTTP/1.1" 200 5 "-" "ua"\n')  # (an ident: read line by line)
    series, _ = ingest([str(log)])
    assert series.sites() == ["shop.example.com"]
    assert series.series("shop.example.com").sum() == 41


@pytest.mark.parametrize("first", ["a.access.log", "c.access.log"])  # read before b's or after
def test_a_host_is_covered_by_each_file_from_its_own_first_line_there(tmp_path, first):
    """A file naming host x once, 40 hours in, covered x from x's first line in another file
    where that one was read first (a review): the hours between were zeros or gaps by the
    files' names."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / first).write_text(line("x.example", H0 + 60, 0))  # x, then this ends
    (tmp_path / "logs" / "b.access.log").write_text("".join(
        [line("y.example", H0 + 600 * k, k) for k in range(6 * 24)] +
        [line("x.example", H0 + 40 * 3600 + 30, 1)]))
    series, _ = ingest([str(tmp_path / "logs")])
    x = series.series("x.example")
    assert x.iloc[0] == 1 and x.iloc[40] == 1
    assert x.iloc[1:40].isna().all() and (x.iloc[41:24 * 1 + 24] == 0).all()


def test_a_host_named_like_a_file_site_is_found_as_a_client_wrote_it(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "www.shop.com.access.log").write_text(line("-", H0 + 60, 0)[2:])
    (tmp_path / "logs" / "zz.access.log").write_text(  # read after the file's site
        line("WWW.SHOP.COM:443", H0 + 120, 1))
    series, _ = ingest([str(tmp_path / "logs")])
    assert series.resolve("WWW.SHOP.COM:443") == "www.shop.com"


def test_a_host_header_of_several_words_is_no_site_and_the_address_after_it_the_client(
        tmp_path, capsys):
    # nginx writes $http_host as sent: a Host of "shop.example 10.9.9.9" (answered 400) made
    # 10.9.9.9 the client, the real one the ident: framed in `top`, missed by --exclude-ip
    # (a security trial). Read by the per-line parser, which the fast path leaves it to
    from trafficwatch.cli.main import main

    (tmp_path / "logs").mkdir()
    lines = [line("shop.example", H0 + 60 * i, i) for i in range(40)]
    for k in range(3):  # a tab is a space there (a fleet trial: "tab\there" was "tab", its
        # client "here")
        lines[10 + k] = (f'shop.example{" " if k else chr(9)}10.9.9.9 198.51.100.{k} - - '
                         f'[{stamp(H0 + 600 + k)}] "GET / HTTP/1.1" 400 150 "-" "x"\n')
    (tmp_path / "logs" / "access.log").write_text("".join(lines))
    assert main(["counts", str(tmp_path / "logs"), "--exclude-ip", "198.51.100.0/24"]) == 0
    out, err = capsys.readouterr()
    assert "37 counted, 0 malformed, 3 excluded" in err, err
    assert main(["top", str(tmp_path / "logs"), "--hours", "48", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "10.9.9.9" not in out and "198.51.100.0" in out
    series, _ = ingest([str(tmp_path / "logs")])
    # (no host name has a space or a tab: those three are "(other hosts)", not sites named
    # "shop.example 10.9.9.9", a security trial)
    assert series.total("(other hosts)") == 3 and series.total("shop.example") == 37


def test_hostile_hosts_at_a_logs_head_do_not_make_it_a_log_of_one_site(tmp_path):
    # three Host headers of "http://x" among the first lines (no vhost the format reads): the
    # log was read as combined, one site, every vhost a client, nothing said (a security
    # trial). Such lines are malformed, said, and the log a vhost log still
    hosts = ["shop.example", "blog.example"]
    lines = [line("http://x", H0 + k, 240 + k) for k in range(3)]
    lines += [line(hosts[i % 2], H0 + 60 * i, i) for i in range(60)]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.log").write_text("".join(lines))
    series, report = ingest([str(tmp_path / "logs")])
    assert series.sites() == ["blog.example", "shop.example"]
    assert series.total() == 60 and report.malformed.total == 3


@pytest.mark.parametrize("end", [7 * 60, 3600 - 20])
def test_a_host_quiet_at_the_end_of_a_shared_log_ends_where_the_log_does(tmp_path, capsys, end):
    """A trial: a vhost log ending at 11:07, its quiet host's last line at 10:55; that host's
    11:00 was a whole-hour 0 (read by forecast as a count), the busy one's partial."""
    from trafficwatch.cli.main import main

    last = H0 + 3 * 3600  # the log's last hour
    lines = [line(h, H0 + k * 300 + (h == "b.example") * 30, k) for k in range(36)
             for h in ("a.example", "b.example")]
    lines.append(line("a.example", last + end, 99))
    (tmp_path / "access.log").write_text("".join(lines))
    assert main(["counts", str(tmp_path / "access.log")]) == 0
    rows = {tuple(r.split(",")[:2]): r.split(",")[3:] for r in capsys.readouterr().out.split()}
    hour = time.strftime("%Y-%m-%dT%H:00:00+00:00", time.gmtime(last))
    mark = "1" if end < 3600 - 60 else ""  # a log that reached its last minute: whole hours
    assert rows[(hour, "a.example")] == ["1", mark]
    assert rows[(hour, "b.example")] == ["0", mark]
