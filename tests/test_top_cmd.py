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


def test_filters_narrow_the_paths_and_classes_and_the_clients_are_said_not_to_be(tmp_path,
                                                                               capsys):
    last = rows_of(3)
    path = write_log(tmp_path, last)
    rc, out, _ = top(capsys, "--status", "4xx,5xx", "--hours", "6", "-n", "10", path)
    want = [r for r in last if r[1] >= 18 and r[4] >= 400]
    assert rc == 0 and out["requests"] == len(want)
    assert dict(out["paths"]) == dict(Counter(r[3] for r in want))
    assert out["note"].startswith("clients: every request of those hours")


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
