"""`trafficwatch top`: the last hours' status classes, busiest paths and clients, headless."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from trafficwatch.cli.main import main

LINE = ('{ip} - - [{d:02d}/Oct/2026:{h:02d}:{m:02d}:00 +0200] "GET {path} HTTP/1.1" {status} 5 '
        '"-" "{ua}"\n')


def write_log(tmp_path, rows) -> str:
    """rows: (day, hour, ip, path, status, agent)."""
    log = tmp_path / "shop.example.com.access.log"
    log.write_text("".join(LINE.format(d=d, h=h, m=i % 60, ip=ip, path=path, status=st, ua=ua)
                           for i, (d, h, ip, path, st, ua) in enumerate(rows)))
    return str(log)


def rows_of(seed: int = 0, hours=range(24), day: int = 10):
    import random

    rng = random.Random(seed)
    out = []
    for h in hours:
        for _ in range(rng.randrange(20, 40)):
            out.append((day, h, f"203.0.113.{rng.randrange(8)}",
                        rng.choice(["/", "/cart", "/p/1", "/p/2", "/login"]),
                        rng.choice([200, 200, 200, 301, 404, 500]), "Mozilla/5.0"))
    return out


def top(capsys, *args: str) -> tuple[int, dict, str]:
    rc = main(["top", "--format", "json", *args])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if out.strip() else {}), err


def test_the_last_day_is_what_an_awk_pipeline_counts(tmp_path, capsys):
    """Status classes, paths and clients of the last 24 hours, exact on a log this small, as
    `awk '{print $7}' | sort | uniq -c | sort -rn` gives them; the day before is left out."""
    older, last = rows_of(1, day=9), rows_of(2, day=10)
    path = write_log(tmp_path, older + last)
    rc, out, err = top(capsys, "-n", "3", path)
    assert rc == 0, err
    assert out["requests"] == len(last) and out["hours"] == 24
    assert out["from"] == "2026-10-10T00:00:00+02:00" and out["to"] == "2026-10-11T00:00:00+02:00"
    statuses = Counter(f"{r[4] // 100}xx" for r in last)
    assert out["classes"] == dict(statuses)
    paths = Counter(r[3] for r in last)
    assert [p for p, _ in out["paths"]] == [p for p, _ in sorted(
        paths.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
    assert all(n == paths[p] for p, n in out["paths"])
    clients = Counter(r[2] for r in last)
    assert {c["client"]: c["requests"] for c in out["clients"]} == dict(clients.most_common(3))
    assert all(c["at_least"] == c["requests"] for c in out["clients"])  # 8 clients: exact


def test_filters_narrow_the_paths_classes_and_clients_and_a_path_is_said_not_to(tmp_path,
                                                                                capsys):
    """Who sent the 5xx: the clients followed no filter (one tally an hour, of every request)
    and under --status 5xx the busiest clients of all were listed; they follow the status and
    bot filters now, exactly, and a path filter is said not to apply to them."""
    last = rows_of(3)
    at = next(i for i, r in enumerate(last) if r[1] == 21)  # the 5xx's own client, in hour 20
    last[at:at] = [(10, 20, "198.51.100.7", "/api", 500, "curl/8")] * 3
    path = write_log(tmp_path, last)
    rc, out, _ = top(capsys, "--status", "4xx,5xx", "--hours", "6", "-n", "10", path)
    want = [r for r in last if r[1] >= 18 and r[4] >= 400]
    assert rc == 0 and out["requests"] == len(want)
    assert dict(out["paths"]) == dict(Counter(r[3] for r in want))
    assert {c["client"]: c["requests"] for c in out["clients"]} == dict(Counter(
        r[2] for r in want))
    assert out["clients_follow_filter"] is True and out["note"] == ""
    assert out["clients_unlisted_at_most"] == 0  # every client kept: none unlisted
    rc, out, _ = top(capsys, "--status", "5xx", "--no-bots", "--hours", "6", path)
    want = [r for r in last if r[1] >= 18 and r[4] >= 500 and r[5] != "curl/8"]
    assert {c["client"]: c["requests"] for c in out["clients"]} == dict(Counter(
        r[2] for r in want)) and "198.51.100.7" not in str(out["clients"])  # curl: a bot
    rc, out, _ = top(capsys, "--status", "5xx", "--path", "^/api", "--hours", "6", path)
    want = [r for r in last if r[1] >= 18 and r[4] >= 500]  # the 5xx's clients, of any path
    assert {c["client"]: c["requests"] for c in out["clients"]} == dict(
        Counter(r[2] for r in want).most_common(10)) and out["paths"] == [["/api", 3]]
    assert out["note"].startswith("clients: of every path (the status and bot filters apply")
    assert out["clients_follow_filter"] is False and out["clients_hours"] == 6
    # the table says it in the clients' own heading: under --bots-only a client of 3,164 stood
    # above a total of 1,117, a note at the foot alone saying why (a trial)
    assert main(["top", "--path", "^/api", "--hours", "200", path]) == 0
    table = capsys.readouterr().out.splitlines()
    i = next(k for k, line in enumerate(table) if line.startswith("client "))
    assert table[i - 1] == "clients: the last 97 hours, every path, the path filter not applied"
    assert main(["top", "--hours", "6", path]) == 0  # no filter: nothing to say
    table = capsys.readouterr().out.splitlines()
    i = next(k for k, line in enumerate(table) if line.startswith("client "))
    assert table[i - 1] == ""


def test_one_request_is_said_in_the_singular():
    # an app trial: "2022-12-23T03:00:00-08:00 · 1 requests"
    from trafficwatch.cli.top import table

    out = {"site": "a", "metric": "hits", "hours": 1, "from": "x", "to": "y", "requests": 1,
           "classes": {}, "paths": [], "clients": [], "note": ""}
    assert table(out).splitlines()[0].endswith(" · 1 request")


def test_the_table_names_are_made_safe(tmp_path, capsys):
    rows = rows_of(4, hours=[5])
    rows.append((10, 5, "203.0.113.9", "/\x1b[31mred", 200, "x"))
    path = write_log(tmp_path, rows)
    assert main(["top", "-n", "20", path]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "/\\x1b[31mred" in out
    assert out.startswith("all sites · hits ·")  # no --site: every site together


@pytest.mark.parametrize(("args", "said"), [
    (["--hours", "0"], "--hours 0: hours, at least 1"),
    (["--top", "0"], "--top 0: rows, at least 1"),
    (["--path", "("], "--path '(' is not a regex"),
    (["--status", "404"], "requests are counted by status class"),
    (["--site", "nope"], "no site nope; found: shop.example.com")])
def test_bad_usage_is_one_line_and_status_2(tmp_path, capsys, args, said):
    path = write_log(tmp_path, rows_of(5, hours=[1]))
    rc = main(["top", *args, path])
    err = capsys.readouterr().err
    assert rc == 2 and said in err and len(err.strip().splitlines()) == 1, err


def test_a_byte_that_is_not_utf8_and_its_escape_written_out_are_two_paths(tmp_path, capsys):
    """A path holding the raw byte \\xe9 and one holding the four characters \\xe9 were one
    path ("/caf\\\\xe9 2"), and `--path 'caf.$'` missed the raw one (a trial). Each is its own,
    shown apart through the sanitiser, in the numpy path and the per-line one."""
    from trafficwatch.logs.formats import get_format
    from trafficwatch.logs.parse import ParseOptions, Parser

    t = b"10/Oct/2026:05:00:00 +0000"
    data = b"".join(b'1.1.1.2 - - [' + t + b'] "GET ' + p + b' HTTP/1.1" 404 1 "-" "x"\n'
                    for p in (b"/caf\xe9", b"/caf\\xe9", b"/caf\xe9"))
    (tmp_path / "access.log").write_bytes(data)
    assert main(["top", "--format", "json", str(tmp_path / "access.log")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["paths"] == [["/caf\\xe9", 2], ["/caf\\\\xe9", 1]], out
    assert main(["top", "--format", "json", "--path", "caf.$", str(tmp_path / "access.log")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["paths"] == [["/caf\\xe9", 2]] and out["requests"] == 2, out
    slow = Parser(get_format("COMBINED"), ParseOptions(keep_paths=True))
    slow._fast = None
    assert slow.feed(data).records.path.tolist() == ["/caf\udce9", "/caf\\xe9", "/caf\udce9"]


def days_of(seed: int, days) -> list:
    return [r for d in days for r in rows_of(seed + d, day=d)]


def in_last(rows, day: int, hours: int) -> list:
    """The rows of the last `hours` hours of `day` (the logs' latest)."""
    return [r for r in rows if r[0] == day and r[1] >= 24 - hours]


def whole(tmp_path, path: str) -> str:
    """A gzipped copy of the log at `path`, written now: read whole (an archive is left out only
    where it was last changed before the hours asked for)."""
    import gzip

    (tmp_path / "whole").mkdir(exist_ok=True)
    copy = tmp_path / "whole" / "shop.example.com.access.log.gz"
    with open(path, "rb") as f:
        copy.write_bytes(gzip.compress(f.read()))
    return str(copy)


def test_a_long_log_is_read_from_its_last_hours_and_counts_alike(tmp_path, capsys):
    """`top --hours 3` on ten days reads the lines from two hours before those 3 (a binary
    search on the lines' times), says what it left, and counts what a whole read counts."""
    rows = days_of(10, range(1, 11))
    path = write_log(tmp_path, rows)
    rc, out, err = top(capsys, "--hours", "3", "-n", "5", path)
    assert rc == 0, err
    assert out["requests"] == len(in_last(rows, 10, 3))
    assert "lines before 2026-10-10T17:00Z not read (" in err, err  # 19:00 +02:00, less 2 h
    assert " 1 file(s), " in err and int(err.split(" file(s), ")[1].split()[0].replace(
        ",", "")) < len(rows) / 5  # about 5 hours of 240 read
    rc, ref, err = top(capsys, "--hours", "3", "-n", "5", whole(tmp_path, path))
    assert rc == 0 and "not read" not in err
    assert ref == out


def test_days_out_of_time_order_are_read_whole(tmp_path, capsys):
    """Two logs concatenated newest first: a search on the lines' times would leave out the
    newer days, which come first. Probes of the part it would skip see them, and the file is
    read whole, as its gzipped copy."""
    rows = days_of(20, range(6, 11)) + days_of(20, range(1, 6))
    path = write_log(tmp_path, rows)
    rc, out, err = top(capsys, "--hours", "3", path)
    assert rc == 0 and "not read" not in err, err
    assert f"trafficwatch: 1 file(s), {len(rows):,} lines" in err
    rc, ref, _ = top(capsys, "--hours", "3", whole(tmp_path, path))
    assert ref == out


def test_a_site_whose_log_ends_earlier_is_read_for_its_own_last_hours(tmp_path, capsys):
    """Two sites: blog's log ends 5 days before shop's. The hours read for every site's last
    24 miss most of blog's own last 24: --site blog reads its own files (since 2026-12-07:
    they alone, from its own last hours; before, every file again, whole)."""
    shop, blog = days_of(30, range(1, 11)), days_of(40, range(1, 6))
    write_log(tmp_path, shop)
    (tmp_path / "shop.example.com.access.log").rename(tmp_path / "shop.log")
    write_log(tmp_path, blog)
    (tmp_path / "shop.example.com.access.log").rename(tmp_path / "blog.log")
    rc, out, err = top(capsys, "--hours", "24", "--site", "blog", str(tmp_path))
    assert rc == 0 and "1 file(s)" in err, err
    assert out["requests"] == len(in_last(blog, 5, 24)) and out["site"] == "blog"
    rc, out, err = top(capsys, "--hours", "3", "--site", "shop", str(tmp_path))
    assert rc == 0 and "not read" in err
    assert out["requests"] == len(in_last(shop, 10, 3))


def test_an_archive_last_changed_before_the_hours_is_not_read(tmp_path, capsys):
    """logrotate's access.log.2.gz keeps the time of its last line: one older than the hours
    asked for (and their slack) is left whole; the live log's hours are counted."""
    import gzip
    import os

    old, live = days_of(50, range(1, 6)), days_of(50, range(6, 11))
    write_log(tmp_path, old)
    log = tmp_path / "shop.example.com.access.log"
    arch = tmp_path / "access.log.2.gz"
    arch.write_bytes(gzip.compress(log.read_bytes()))
    os.utime(arch, (1791583200, 1791583200))  # 2026-10-05T22:00Z: the archive's last line
    write_log(tmp_path, live)
    (tmp_path / "shop.example.com.access.log").rename(tmp_path / "access.log")
    rc, out, err = top(capsys, "--hours", "3", str(tmp_path))
    assert rc == 0, err
    assert out["requests"] == len(in_last(live, 10, 3))
    assert "of 2 file(s)): not in the hours asked for" in err, err
    os.utime(arch, None)  # changed now: read whole, the same hours
    rc, again, err = top(capsys, "--hours", "3", str(tmp_path))
    assert again == out and "of 1 file(s))" in err, err


def test_two_servers_logs_concatenated_are_read_whole(tmp_path, capsys):
    """`cat web1.log web2.log`: the same ten days twice. A search from the end finds web2's
    last hours; web1's are in the middle, where no probe of a line at those hours fell (a
    review). The probes' times go back ten days in file order: read whole, as the gz copy."""
    for days in (1, 2, 3, 5, 10):  # web1's last hours at several places in the file
        web1, web2 = days_of(60, range(11 - days, 11)), days_of(70, range(1, 11))
        path = write_log(tmp_path, web1 + web2)
        rc, out, err = top(capsys, "--hours", "3", path)
        assert rc == 0 and "not read" not in err, (days, err)
        assert out["requests"] == len(in_last(web1, 10, 3)) + len(in_last(web2, 10, 3)), days
        assert top(capsys, "--hours", "3", whole(tmp_path, path))[1] == out


def test_a_last_line_older_than_the_latest_is_read_for_its_hours(tmp_path, capsys):
    """A long download logged when it ended, last, dated 3 hours before the lines above it:
    the hours shown end at the last line's (as a whole read shows them), which start before
    what the search read: read again, whole (a review: 44 requests where 61)."""
    rows = days_of(80, range(1, 11)) + [(10, 16, "203.0.113.9", "/big.iso", 200, "curl")]
    path = write_log(tmp_path, rows)
    rc, out, err = top(capsys, "--hours", "3", path)
    assert rc == 0, err
    assert top(capsys, "--hours", "3", whole(tmp_path, path))[1] == out
    assert out["to"] == "2026-10-10T17:00:00+02:00"


def test_a_site_not_in_the_hours_read_and_stdin_are_read_whole(tmp_path, capsys, monkeypatch):
    """--site of a virtual host whose lines end days before the others' (none in the hours
    read: "no site blog.example", a review), and stdin, which can be read once."""
    import io

    line = ('{v} 203.0.113.1 - - [{d:02d}/Oct/2026:{h:02d}:{m:02d}:00 +0200] "GET / HTTP/1.1" '
            '200 5 "-" "x"\n')
    text = "".join(line.format(v="shop.example" if d > 5 or i % 2 else "blog.example", d=d,
                               h=h, m=i % 60)
                   for d in range(1, 11) for h in range(24) for i in range(40))
    (tmp_path / "access.log").write_text(text)
    rc, out, err = top(capsys, "--hours", "3", "--site", "blog.example", "--log-format",
                       "VCOMBINED", str(tmp_path / "access.log"))
    assert rc == 0 and out["requests"] == 60 and out["to"] == "2026-10-06T00:00:00+02:00", err
    rows = days_of(90, range(1, 6))
    write_log(tmp_path, rows)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(
        (tmp_path / "shop.example.com.access.log").read_bytes())))
    rc, out, err = top(capsys, "--hours", "3", "--site", "stdin", "-", str(tmp_path / "access.log"))
    assert rc == 0 and out["requests"] == len(in_last(rows, 5, 3)), err


def test_one_hour_is_said_as_one(capsys):
    # "all sites · hits · 1 hours" (a trial)
    from trafficwatch.cli.main import main
    from trafficwatch.resources import sample_logs_dir

    assert main(["top", str(sample_logs_dir()), "--hours", "1"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert " · 1 hour, " in first, first


def test_paths_and_clients_of_bytes_that_are_not_utf8_are_each_their_own(tmp_path, capsys):
    """A security trial: `/a\\xff` 3 times, `/b\\xfe` 5, `/c\\x9bX` 7, `/d\\xc3` 2 were one path,
    the first, of 17 requests (a scan hidden under another path; `--path ^/b` found none);
    clients the same."""
    want = {b"/a\xff": 3, b"/b\xfe": 5, b"/c\x9bX": 7, b"/d\xc3": 2, b"/ok": 4}
    who = [b"evil\xff", b"other\xfe", b"203.0.113.9"]
    lines = [b'%s - - [10/Oct/2026:10:%02d:00 +0200] "GET %s HTTP/1.1" 200 5 "-" "ua"\n'
             % (who[k % 3], k % 60, path) for k, path in enumerate(
                 p for p, n in want.items() for _ in range(n))]
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(lines))
    rc, out, err = top(capsys, "--hours", "24", str(log))
    assert rc == 0, err
    shown = {p.encode("ascii").decode("unicode_escape").encode("latin-1"): n
             for p, n in out["paths"]}
    assert shown == want, out["paths"]
    assert sorted(c["requests"] for c in out["clients"]) == [7, 7, 7]
    for p, n in want.items():
        rc, out, err = top(capsys, "--hours", "24", "--path", "^" + p[:2].decode(), str(log))
        assert out["requests"] == n, (p, out)


def test_top_offers_the_metrics_it_takes_and_no_other(capsys):
    # a trial of the docs: its --help offered visitors, which it then refused
    with pytest.raises(SystemExit):
        main(["top", "--help"])
    shown = capsys.readouterr().out
    assert "--metric {hits,pages}" in shown and "visitors" not in shown, shown
    with pytest.raises(SystemExit) as exc:
        main(["top", "--metric", "visitors", "x.log"])
    assert exc.value.code == 2 and "invalid choice: 'visitors'" in capsys.readouterr().err


def test_a_mistyped_site_among_many_is_one_short_line_with_the_nearest(tmp_path, capsys):
    # a trial: 450 sites and `--site site150.example.com`: one line of 9,006 characters, every
    # name, and no "did you mean site0150.example.com"
    for k in range(1, 41):
        (tmp_path / f"site{k:04d}.example.com.access.log").write_text(
            LINE.format(d=10, h=10, m=k, ip="203.0.113.1", path="/", status=200, ua="ua"))
    rc = main(["top", "--site", "site15.example.com", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and len(err) < 300, err
    assert "did you mean site0015.example.com" in err and "(40 sites: " in err


def test_one_site_of_many_reads_its_own_files_alone(tmp_path, capsys):
    # a trial: `top --site` on 450 sites read every file, twice (45 s for 2 requests)
    for k in range(1, 6):
        (tmp_path / f"site{k}.example.com.access.log").write_text("".join(
            LINE.format(d=10, h=10, m=m, ip="203.0.113.1", path=f"/{k}", status=200, ua="ua")
            for m in range(k * 3)))
    rc, out, err = top(capsys, "--site", "site2.example.com", str(tmp_path))
    assert rc == 0 and out["requests"] == 6 and out["paths"] == [["/2", 6]], out
    assert "1 file(s), 6 lines" in err, err  # its own file alone


def test_counts_and_forecast_of_one_site_read_its_files_alone_and_give_what_all_do(tmp_path,
                                                                                  capsys):
    for k in (1, 2):
        (tmp_path / f"site{k}.example.com.access.log").write_text("".join(
            LINE.format(d=10, h=h, m=m, ip="203.0.113.1", path="/", status=200, ua="ua")
            for h in range(24) for m in range(0, 60, 10 * k)))
    assert main(["counts", str(tmp_path)]) == 0
    every = capsys.readouterr().out.splitlines()
    assert main(["counts", "--site", "site2.example.com", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "1 file(s)" in err
    assert out.splitlines()[1:] == [x for x in every if ",site2.example.com," in x]
