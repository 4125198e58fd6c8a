"""Site and file names come from the network and from file names: shown and written only as
safe, one-to-one escapes (CSV, JSON, Prometheus labels, the app's header and site picker)."""
from __future__ import annotations

import csv
import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_app import demo_snapshot, make_app, screen_text
from trafficwatch.engine.metrics import Sample, render

HOSTILE_SITES = ["\x1b]0;PWNED\x07", "\x1b[31mred.example", "ev\x00il.example"]
SHOWN = ["\\x1b]0;PWNED\\x07", "\\x1b[31mred.example", "ev\\x00il.example"]
# vhosts are case-insensitive (counted lower-cased); a line with a NUL is malformed ("binary"),
# so the NUL name reaches the app and the metrics (tested below) but not the counts from a log
# A virtual host with a control byte is no host name (nginx answers it 400): counted as
# "(other hosts)", its name never a site's. Hostile names that are host names to a log (C1's
# CSI written as UTF-8, a right-to-left override) are sites, shown escaped.
HOSTILE_VHOSTS = [*HOSTILE_SITES, "\u009b31mred.example", "\u202eelpmaxe.live"]
SHOWN_SITES = {"\\u009b31mred.example", "\\u202eelpmaxe.live", "(other hosts)"}


def hostile_vhost_log(path: Path) -> None:
    """Good lines for ~5 KB (binary sniffing looks at the first 4 KB), then hostile vhosts."""
    line = ('{v} 192.0.2.1 - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET / HTTP/1.1" 200 5 "-" '
            '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"\n')
    good = "".join(line.format(v="good.example", m=i % 60) for i in range(50))
    bad = "".join(line.format(v=v, m=i) for i, v in enumerate(HOSTILE_VHOSTS))
    path.write_bytes((good + bad).encode())


def counts(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trafficwatch", "counts", *args],
                          capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def vhost_log(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("vhosts") / "access.log"
    hostile_vhost_log(p)
    return p


def test_counts_csv_has_no_control_bytes_and_shows_each_site_escaped(vhost_log):
    p = counts("--log-format", "VCOMBINED", str(vhost_log))
    assert not any(b < 32 and b not in b"\n" or b == 127 for b in p.stdout), p.stdout[-300:]
    sites = {r["site"] for r in csv.DictReader(io.StringIO(p.stdout.decode()))}
    assert sites >= {"good.example", *SHOWN_SITES}
    assert all(r.isprintable() for r in sites)
    assert b"binary" in p.stderr  # the NUL line is counted malformed, with its reason


def test_counts_json_sites_are_the_same_escaped_names(vhost_log):
    p = counts("--log-format", "VCOMBINED", "--format", "json", str(vhost_log))
    assert {r["site"] for r in json.loads(p.stdout)} >= {"good.example", *SHOWN_SITES}


def test_prometheus_label_values_are_sanitised_then_escaped():
    text = render([Sample("trafficwatch_yhat", (("site", s),), 1) for s in HOSTILE_SITES]
                  + [Sample("trafficwatch_yhat", (("site", 'a\\b"c'),), 2)])
    assert not any(ord(c) < 32 and c != "\n" or ord(c) == 127 for c in text)
    # the exposition format's own escaping on top of the shown name ("\\" -> "\\\\")
    assert 'trafficwatch_yhat{site="\\\\x1b]0;PWNED\\\\x07"} 1.0' in text
    assert 'trafficwatch_yhat{site="ev\\\\x00il.example"} 1.0' in text
    assert 'trafficwatch_yhat{site="a\\\\\\\\b\\"c"} 2.0' in text


async def test_a_hostile_site_in_the_header_and_picker_is_shown_escaped():
    snap = demo_snapshot(sites=("shop", *HOSTILE_SITES))
    from dataclasses import replace

    app = make_app(replace(snap, site=HOSTILE_SITES[0]))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        assert app.sub_title.startswith(SHOWN[0])
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\x07" not in svg and "\x00" not in svg
        assert SHOWN[0] in screen_text(app)
        await pilot.press("s")
        await pilot.pause()
        shown = screen_text(app)
        assert all(s in shown for s in SHOWN)
        assert "\x1b" not in app.export_screenshot()


def test_counts_follow_json_lines_carry_the_same_escaped_names(tmp_path):
    hostile_vhost_log(tmp_path / "access.log")
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow",
                             "--no-state", "--log-format", "VCOMBINED", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, deadline = b"", time.monotonic() + 30
    want = {"good.example", *SHOWN_SITES}

    def sites_seen() -> set[str]:
        done = out[: out.rfind(b"\n") + 1]
        return {json.loads(line)["site"] for line in done.splitlines()}

    try:  # until every expected site has had its line (the NUL line is malformed, not a site)
        while not sites_seen() >= want and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 0.2)[0]:
                out += os.read(proc.stdout.fileno(), 65536)
    finally:
        proc.kill()
        proc.wait()
    assert not any(b < 32 and b != 10 for b in out)
    assert sites_seen() >= want


# File names with control characters: a site's live log and its rotation (".1") stay one site
CONTROL_NAMED = {"nl\nnewline": "nl\\x0anewline", "cr\rx": "cr\\x0dx",
                 "esc\x1b[31mx": "esc\\x1b[31mx", "tab\tx": "tab\\x09x"}


def control_named_logs(d: Path) -> dict[str, int]:
    """Each name's live log (3 requests) and rotation (2); and a name ending in a newline,
    which is not the live log of the site it starts like. The counts each site must have."""
    line = '1.2.3.4 - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET /{s} HTTP/1.1" 200 1 "-" "ua"\n'
    for i, name in enumerate(CONTROL_NAMED):
        (d / f"{name}.access.log.1").write_text(line.format(m=1, s=i) * 2)
        (d / f"{name}.access.log").write_text(line.format(m=2, s=i) * 3)
    (d / "trail.access.log").write_text(line.format(m=3, s="t") * 4)
    (d / "trail.access.log\n").write_text(line.format(m=4, s="t") * 1)
    return {**{shown: 5 for shown in CONTROL_NAMED.values()}, "trail": 4,
            "trail.access.log\\x0a": 1}


def test_a_rotated_log_named_with_control_characters_is_one_site_shown_escaped(tmp_path):
    want = control_named_logs(tmp_path)
    p = counts(str(tmp_path))
    assert p.returncode == 0, p.stderr
    got = {r["site"]: int(r["count"]) for r in csv.DictReader(io.StringIO(p.stdout.decode()))}
    assert got == want
    assert not any(b < 32 and b not in b"\n" for b in p.stdout + p.stderr)


def test_counts_follow_groups_such_a_rotation_as_counts_does(tmp_path):
    want = control_named_logs(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow", "--poll",
                             "--no-state", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, deadline = b"", time.monotonic() + 20
    try:  # every site's hour is printed in one pass: then stop, and take what followed it
        while out.count(b"\n") < len(want) and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 0.2)[0]:
                out += os.read(proc.stdout.fileno(), 65536)
        proc.terminate()
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    got = {r["site"]: r["count"] for r in map(json.loads, (out + rest).splitlines())}
    assert got == want
    assert not any(b < 32 and b != 10 for b in out + rest + err)


FORMULAS = ["=HYPERLINK(1)", "+cmd|calc", "-2+3", "@SUM(1)", "'=quoted", "'plain", "\x1b]52;c;x\x07"]


def test_counts_csv_runs_no_formula_in_a_spreadsheet_and_reads_back_to_the_same_sites(
        tmp_path, capsys):
    """A log named '=HYPERLINK(...).access.log' (or a Host header alike) was a formula in a
    spreadsheet opening `counts`' CSV (a security trial); and a name read back from that CSV
    was escaped twice ('\\\\x1b')."""
    from trafficwatch.cli.main import main
    from trafficwatch.counting.load import read_counts_csv_all
    from trafficwatch.safe import safe_name

    line = ('192.0.2.1 - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET / HTTP/1.1" 200 5 "-" '
            '"Mozilla/5.0"\n')
    for name in FORMULAS:
        (tmp_path / f"{name}.access.log").write_text("".join(line.format(m=m) for m in range(9)))
    assert main(["counts", str(tmp_path), "--tz", "UTC"]) == 0
    out = capsys.readouterr().out
    cells = [r["site"] for r in csv.DictReader(io.StringIO(out))]
    assert sorted(cells) == sorted(
        "'" + safe_name(n) if n.lstrip("'")[:1] in "=+-@" else safe_name(n) for n in FORMULAS)
    path = tmp_path / "hourly.csv"
    path.write_text(out)
    assert sorted(read_counts_csv_all(str(path)).series) == sorted(FORMULAS)


def test_forecast_and_eval_json_name_each_series_as_shown(tmp_path, capsys):
    """JSON keyed by the raw name: `jq -r '.series|keys[]'` wrote an OSC 52 to the terminal."""
    from tests.test_forecast_cmd import traffic
    from trafficwatch.cli.main import main

    s = traffic(15, 4, 100.0)
    evil = "\x1b]52;c;cHduZWQ=\x07"
    lines = ["unique_id,ds,y"] + [f"{k},{h.isoformat()},{int(v)}" for k in (evil, "plain")
                                  for h, v in s.items()]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(lines) + "\n")
    for cmd in (["forecast", str(path), "--horizon", "2"], ["eval", str(path), "--days", "1"]):
        main([*cmd, "--format", "json"])
        keys = set(json.loads(capsys.readouterr().out)["series"])
        assert keys == {"\\x1b]52;c;cHduZWQ=\\x07", "plain"}, cmd


def test_a_raw_byte_and_its_escape_written_out_are_two_sites_each_counted(tmp_path):
    # a Host of the byte 0x9b and one of the text `\x9b` were both named 'a\\x9bb': one row
    # of `counts` held one of them (3 of 9 counted requests in no row), the agent summed them
    log = tmp_path / "access.log"
    line = '{v} 192.0.2.{i} - - [20/Nov/2026:10:0{i}:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"\n'
    log.write_bytes(b"".join(line.format(v=v, i=i).encode("utf-8", "surrogateescape")
                             for i in range(1, 4) for v in ("a\udc9bb", "a\\x9bb", "shop.example")))
    p = counts("--log-format", "VCOMBINED", "--format", "json", str(log))
    got = {r["site"]: r["count"] for r in json.loads(p.stdout)}
    assert got == {"a\\x9bb": 3, "a\\\\x9bb": 3, "shop.example": 3}, got


def test_a_lone_dash_is_written_as_it_is_and_reads_back():
    # a hosting trial: a log's Host "-" (a site so named) was written '-, guarded as a
    # formula it is not; other cells that begin with "-" still are
    from trafficwatch.safe import csv_text, name_from_csv

    assert csv_text("-") == "-" and name_from_csv("-") == "-"
    assert csv_text("-2+3") == "'-2+3" and name_from_csv("'-2+3") == "-2+3"
    assert name_from_csv("'-") == "-"  # as earlier releases wrote it
