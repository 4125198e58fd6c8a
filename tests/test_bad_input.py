"""Bad input: broken archives, impossible or far-off times, binary lines, error logs, IIS files."""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import os
import random
import time
import zlib
from pathlib import Path

import pytest

from trafficwatch.cli.main import main
from trafficwatch.counting.ingest import IngestOptions, ingest
from trafficwatch.logs.formats import get_format
from trafficwatch.logs.parse import parse_bytes
from trafficwatch.logs.sources import discover

LINE = (b'10.%d.%d.7 - - [01/Oct/2026:%02d:%02d:%02d +0000] "GET /p/%d?q=%d HTTP/1.1" 200 %d '
        b'"-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/%d"\n')


def log_lines(n: int, seed: int = 0) -> bytes:
    """`n` combined lines (varied, so that they compress little: archives of some size)."""
    rng = random.Random(seed)
    return b"".join(LINE % (rng.randrange(256), rng.randrange(256), (i // 3600) % 24,
                            (i // 60) % 60, i % 60, rng.randrange(10**6), rng.randrange(10**9),
                            rng.randrange(10**5), rng.randrange(200)) for i in range(n))


def counts(capsys, *args: str) -> tuple[int, int, str]:
    """`trafficwatch counts ARGS`: exit status, total count of the CSV rows, stderr."""
    rc = main(["counts", *args])
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    return rc, sum(int(r["count"] or 0) for r in rows), err


def complete_lines(blob: bytes) -> int:
    """What `gzip -dc` recovers from a cut member, in complete lines (the reference)."""
    data = zlib.decompressobj(wbits=31).decompress(blob)
    return data.count(b"\n")


@pytest.mark.parametrize("head", ["201 blank lines", "201 lines of a space and a CR",
                                  "10,000 newlines, gzipped", "a first line of 262 KB"])
def test_what_a_log_opens_with_does_not_hide_its_lines(tmp_path, capsys, head):
    # a security trial: a log opening with 200 blank lines or more was said to be empty, its
    # lines lost (exit 0); one whose first line filled the 256 KiB its format was found from
    # was "no known log format" (exit 2), nothing counted
    body = log_lines(89)
    name = "access.log.1.gz" if "gzip" in head else "access.log"
    data = (b"\n" * 201 if head == "201 blank lines" else b" \r\n" * 201 if "CR" in head else
            b"\n" * 10_000 if "gzip" in head else
            body.split(b'"Mozilla')[0] + b'"' + b"U" * 262_000 + b'"\n')
    (tmp_path / name).write_bytes(gzip.compress(data + body) if "gzip" in head else data + body)
    rc, n, err = counts(capsys, str(tmp_path))
    assert (rc, n) == (0, 89), err
    assert "empty" not in err
    assert ("line too long: 1" in err) == ("262" in head)


# -- archives: every member, to the last recoverable byte ------------------------------------------

@pytest.mark.parametrize("n", [5000, 30000])
def test_a_truncated_gzip_counts_every_complete_line_before_the_break(tmp_path, capsys, n):
    blob = gzip.compress(log_lines(n))
    cut = blob[: len(blob) // 2]
    (tmp_path / "access.log.2.gz").write_bytes(cut)
    want = complete_lines(cut)
    assert 0 < want < n
    rc, total, err = counts(capsys, str(tmp_path / "access.log.2.gz"))
    assert total == want
    assert f"truncated after {want:,} lines" in err and "malformed" not in err.split("\n", 1)[1]
    assert rc == 1  # said: the archive is damaged


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz"])
def test_trailing_garbage_after_a_valid_member_keeps_the_member(tmp_path, capsys, kind):
    data = log_lines(5000)
    blob = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[kind](data)
    path = tmp_path / f"access.log.1.{kind}"
    path.write_bytes(blob + b"GARBAGE!")
    rc, total, err = counts(capsys, str(path))
    assert (rc, total) == (1, 5000)
    assert "8 bytes of trailing garbage" in err


def test_members_after_the_first_are_read_and_a_cut_last_member_keeps_its_lines(tmp_path, capsys):
    first, second = log_lines(3000, seed=1), log_lines(20000, seed=2)
    cut = gzip.compress(second)
    cut = cut[: len(cut) * 3 // 4]
    (tmp_path / "access.log.1.gz").write_bytes(gzip.compress(first) + cut)
    rc, total, err = counts(capsys, str(tmp_path / "access.log.1.gz"))
    assert (rc, total) == (1, 3000 + complete_lines(cut))
    assert f"truncated after {3000 + complete_lines(cut):,} lines" in err


def test_an_xz_rotation_is_read_every_stream_and_a_cut_one_keeps_its_lines(tmp_path, capsys):
    """logrotate's `compresscmd xz`: its rotations were skipped ("compressed with xz, which is
    not read"), and lines written while stopped and rotated into one were lost (a trial)."""
    first, second = log_lines(3000, seed=1), log_lines(20000, seed=2)
    (tmp_path / "web.access.log.1.xz").write_bytes(lzma.compress(first) + lzma.compress(second))
    (tmp_path / "web.access.log").write_bytes(log_lines(10, seed=3))
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 23010), err
    cut = lzma.compress(second)
    cut = cut[: len(cut) * 3 // 4]
    (tmp_path / "web.access.log.1.xz").write_bytes(lzma.compress(first) + cut)
    want = 3000 + lzma.LZMADecompressor().decompress(cut).count(b"\n")
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (1, want + 10)
    assert f"web.access.log.1.xz: archive is truncated after {want:,} lines" in err


def test_random_cuts_of_a_multi_member_archive_keep_every_complete_line(tmp_path):
    from trafficwatch.logs.read import open_stream, stream_error

    rng = random.Random(11)
    members = [gzip.compress(log_lines(n, seed=n)) for n in (700, 1, 1500)]
    blob = b"".join(members)
    path = tmp_path / "access.log.1.gz"
    for cut in sorted(rng.sample(range(1, len(blob) + 1), 60)) + [len(blob)]:
        path.write_bytes(blob[:cut])
        want, start = b"", 0
        for z in members:  # the reference: each member on its own, up to the cut
            if start < cut:
                want += zlib.decompressobj(wbits=31).decompress(z[: cut - start])
            start += len(z)
        want = want[: want.rfind(b"\n") + 1]
        with open_stream(path) as s:
            got, err = s.read(), stream_error(s)
        assert got == want, cut
        assert bool(err) == (cut not in (len(members[0]), len(blob) - len(members[2]), len(blob)))


def test_archives_read_by_worker_processes_keep_every_recoverable_line(tmp_path):
    expect = 0
    for k in range(1, 5):
        blob = gzip.compress(log_lines(8000, seed=k))
        if k % 2:
            blob = blob[: len(blob) * 2 // 3]
        expect += complete_lines(blob)
        (tmp_path / f"access.log.{k}.gz").write_bytes(blob)
    (tmp_path / "access.log").write_bytes(log_lines(10, seed=9))
    series, report = ingest([str(tmp_path)], IngestOptions(workers=2))
    assert series.total() == report.parsed == expect + 10
    assert sum("truncated" in f.error for f in report.files) == 2


# -- times: a sane window, real dates -------------------------------------------------------------

def _future() -> tuple[str, str]:
    """A time two days ahead of the clock, as CLF and as ISO text."""
    t = time.gmtime(time.time() + 2 * 86400)
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", t), time.strftime("%Y-%m-%dT%H:%M:%SZ", t)


GOOD_CLF, GOOD_ISO = "01/Oct/2026:10:00:00 +0000", "2026-10-01T10:00:00Z"


def _line(fmt: str, clf: str, iso: str) -> bytes:
    if fmt in ("COMBINED", "VCOMBINED"):
        host = "shop.example " if fmt == "VCOMBINED" else ""
        return f'{host}1.2.3.4 - - [{clf}] "GET / HTTP/1.1" 200 5 "-" "ua"'.encode()
    if fmt == "JSON":
        return json.dumps({"time": iso, "remote_addr": "1.2.3.4", "status": 200}).encode()
    if fmt == "W3C":
        date, clock = iso.rstrip("Z").split("T")
        return f"{date} {clock} 1.2.3.4 GET / 200 5".encode()
    raise AssertionError(fmt)


def _parse(fmt: str, *lines: bytes):
    head = b"#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes\r\n" \
        if fmt == "W3C" else b""
    return parse_bytes(head + b"\r\n".join(lines) + b"\r\n", get_format(fmt))


@pytest.mark.parametrize("fmt", ["COMBINED", "VCOMBINED", "JSON", "W3C"])
@pytest.mark.parametrize("when", ["2100", "two days ahead"])
def test_a_time_more_than_a_day_ahead_of_the_clock_is_malformed(fmt, when):
    clf, iso = _future() if when != "2100" else ("01/Jan/2100:00:00:00 +0000", "2100-01-01T00:00:00Z")
    res = _parse(fmt, _line(fmt, GOOD_CLF, GOOD_ISO), _line(fmt, clf, iso))
    assert len(res.records) == 1 and res.malformed.total == 1
    assert list(res.malformed.counts) == ["time out of range (more than a day ahead of the clock)"]


def test_epoch_times_ahead_of_the_clock_are_malformed_too():
    res = parse_bytes(b'{"msec": %d, "status": 200}\n{"msec": 1790000000, "status": 200}\n'
                      % (time.time() + 3 * 86400), get_format("JSON"))
    assert len(res.records) == 1 and "ahead of the clock" in next(iter(res.malformed.counts))


@pytest.mark.parametrize("fmt", ["COMBINED", "VCOMBINED", "JSON", "W3C"])
@pytest.mark.parametrize("clf,iso", [("31/Feb/2024:10:00:00 +0000", "2024-02-31T10:00:00Z"),
                                     ("29/Feb/2023:10:00:00 +0000", "2023-02-29T10:00:00Z"),
                                     ("31/Apr/2024:10:00:00 +0000", "2024-04-31T10:00:00Z")])
def test_impossible_dates_are_malformed_not_moved_to_the_next_month(fmt, clf, iso):
    res = _parse(fmt, _line(fmt, clf, iso), _line(fmt, "29/Feb/2024:10:00:00 +0000",
                                                  "2024-02-29T10:00:00Z"))
    assert len(res.records) == 1 and dict(res.malformed.counts) == {"impossible date": 1}
    assert time.gmtime(int(res.records.ts[0]))[:3] == (2024, 2, 29)


def test_times_before_1990_are_malformed():
    res = _parse("COMBINED", _line("COMBINED", "31/Dec/1989:23:00:00 +0000", ""),
                 _line("COMBINED", GOOD_CLF, ""))
    assert len(res.records) == 1 and list(res.malformed.counts) == ["time out of range (before 1990)"]


def test_one_line_dated_2100_does_not_add_a_lifetime_of_hours(tmp_path, capsys):
    log = tmp_path / "access.log"
    log.write_bytes(log_lines(100) + _line("COMBINED", "01/Jan/2100:00:00:00 +0000", "") + b"\n")
    rc = main(["counts", str(log)])
    out, err = capsys.readouterr()
    assert rc == 0 and len(out.splitlines()) < 50  # 100 lines in 2 hours: a header and 2 rows
    assert "malformed, time out of range (more than a day ahead of the clock): 1" in err


@pytest.mark.parametrize("where", ["last", "middle", "first"])
def test_one_line_dated_years_before_its_neighbours_does_not_add_years_of_hours(tmp_path, capsys,
                                                                                where):
    """A trial: one line of 1999 at the end of 3 weeks of 2026 made 27 years of hours at 0
    (244,856 rows of `counts`), MASE 548, another forecast shown. A line a week or more from
    the lines on both sides of it is malformed, said under its reason."""
    body = log_lines(100).splitlines(keepends=True)
    odd = _line("COMBINED", "01/Jan/1999:12:00:00 +0000", "") + b"\n"
    at = {"last": len(body), "middle": 50, "first": 0}[where]
    (tmp_path / "access.log").write_bytes(b"".join(body[:at] + [odd] + body[at:]))
    rc = main(["counts", str(tmp_path / "access.log")])
    out, err = capsys.readouterr()
    assert rc == 0 and len(out.splitlines()) < 50, len(out.splitlines())
    assert ("malformed, time out of order (a week or more from the lines on both sides): 1, "
            "e.g. a line dated 1999-01-01T12:00:00Z") in err


def test_a_block_of_lines_out_of_order_is_counted_and_a_lone_line_across_reads_is_not():
    """`zcat access.log.*.gz` puts .10 before .2: blocks weeks apart, each counted. A lone
    line apart whose neighbour came in the read before is told by it."""
    from trafficwatch.logs.parse import Parser

    def lines(day: int, n: int) -> bytes:
        return b"".join(_line("COMBINED", f"{day:02d}/Oct/2026:10:{m:02d}:00 +0000", "") + b"\n"
                        for m in range(n))

    p = Parser(get_format("COMBINED"))
    res = p.feed(lines(20, 5) + lines(1, 5) + lines(21, 5))  # a block 19 days before
    assert len(res.records) == 15 and res.malformed.total == 0
    p.feed(lines(21, 3))
    res = p.feed(lines(1, 1) + lines(22, 2))  # one line 3 weeks before both sides
    assert len(res.records) == 2
    assert dict(res.malformed.counts) == {
        "time out of order (a week or more from the lines on both sides)": 1}
    res = p.feed(lines(25, 1))  # a gap of days forward: traffic, counted
    assert len(res.records) == 1 and res.malformed.total == 0
    # fed a line at a time (a follower), a block back in time is counted: a read's last line
    # is not judged until the stream ends (each had been dropped against the line before it)
    got = sum(len(p.feed(line + b"\n").records) for line in lines(2, 15).splitlines())
    assert got == 15


# -- binary: per line, and a binary file said once ------------------------------------------------

def test_a_nul_in_one_line_makes_that_line_malformed_not_the_file(tmp_path, capsys):
    log = tmp_path / "access.log"
    log.write_bytes(b"\0\0\0 crash padding \0\0\n" + log_lines(100))
    rc, total, err = counts(capsys, str(log))
    assert (rc, total) == (0, 100)
    assert "malformed, binary: 1" in err and "looks binary" not in err


def test_a_line_after_a_hole_of_zeros_is_counted(tmp_path, capsys):
    # an ops trial: a writer that does not append (O_APPEND) writes on at its old offset after
    # copytruncate; the hole before it reads as zeros, and the first line after each truncation
    # was joined to them, malformed ("binary"): 1299 of 1300
    log = tmp_path / "access.log"
    log.write_bytes(bytes(70_000) + log_lines(100))
    rc, total, err = counts(capsys, str(log))
    assert (rc, total) == (0, 100), err
    assert "100 counted, 0 malformed" in err, err


def test_a_nul_inside_a_well_formed_line_is_binary_in_the_fast_path_too():
    good = _line("COMBINED", GOOD_CLF, "")
    res = parse_bytes(good + b"\n" + good.replace(b'"ua"', b'"u\0a"') + b"\n", get_format("COMBINED"))
    assert len(res.records) == 1 and dict(res.malformed.counts) == {"binary": 1}


@pytest.mark.parametrize("head", [b"", b"\x7fELF\x02\x01\x01\0", b"\x89PNG\r\n\x1a\n"])
def test_a_binary_file_gets_one_clear_line(tmp_path, capsys, head):
    path = tmp_path / "access.log"
    path.write_bytes(head + random.Random(3).randbytes(200_000))
    rc, total, err = counts(capsys, str(path))
    assert (rc, total) == (2, 0) and "looks binary" in err and "  malformed, " not in err


# -- error logs, IIS daily files, CRLF ------------------------------------------------------------

NGINX_ERROR = (b'2026/10/01 10:00:00 [error] 1234#1234: *5 open() "/srv/x" failed (2: No such file '
               b'or directory), client: 1.2.3.4, server: shop, request: "GET /x HTTP/1.1"\n')
APACHE_ERROR = (b"[Thu Oct 01 10:00:00.123456 2026] [core:error] [pid 35708:tid 4328636416] "
                b"[client 1.2.3.4:5000] AH00126: Invalid URI in request\n")


def test_a_stock_nginx_directory_counts_with_exit_0(tmp_path, capsys):
    (tmp_path / "access.log").write_bytes(log_lines(50, seed=1))
    (tmp_path / "access.log.1").write_bytes(log_lines(50, seed=2))
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(log_lines(50, seed=3)))
    (tmp_path / "error.log").write_bytes(NGINX_ERROR * 3)
    (tmp_path / "error.log.1").write_bytes(NGINX_ERROR)
    (tmp_path / "error.log.2.gz").write_bytes(gzip.compress(NGINX_ERROR))
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 150) and "skipped" not in err
    # named in one line, as the README says (they had been silent)
    said = [line for line in err.splitlines() if "an error log" in line]
    assert len(said) == 1 and all(f"error.log{x}" in said[0] for x in ("", ".1", ".2.gz")), err
    rc, total, err = counts(capsys, str(tmp_path / "error.log"))  # named alone: nothing read
    assert (rc, total) == (2, 0)
    assert f"not read (an error log, not an access log): {tmp_path / 'error.log'}" in err, err


@pytest.mark.parametrize("content", [NGINX_ERROR, APACHE_ERROR])
def test_an_error_log_known_by_its_lines_is_ignored(tmp_path, capsys, content):
    (tmp_path / "access.log").write_bytes(log_lines(50))
    (tmp_path / "ssl.log").write_bytes(content * 20)
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 50) and "skipped" not in err
    assert f"not read (an error log, not an access log): {tmp_path / 'ssl.log'}" in err, err
    assert err.startswith("trafficwatch: 1 file(s), 50 lines in "), err  # the one read


def _iis_day(day: int, n: int) -> bytes:
    head = (b"#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n"
            b"#Date: 2024-01-%02d 00:00:00\r\n"
            b"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip "
            b"cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\r\n" % day)
    rows = b"".join(b"2024-01-%02d %02d:%02d:00 10.0.0.1 GET /p%d - 443 1.2.3.%d Mozilla/5.0 200 0 0 5"
                    b"\r\n" % (day, i % 24, i % 60, i, i % 250) for i in range(n))
    return head + rows


def test_iis_daily_files_are_one_site_named_by_their_folder(tmp_path, capsys):
    site = tmp_path / "W3SVC1"
    site.mkdir()
    for day in range(1, 6):
        (site / f"u_ex2401{day:02d}.log").write_bytes(_iis_day(day, 30))
    (site / "u_ex240106_x.log").write_bytes(_iis_day(6, 30))  # IIS 8.5 custom fields
    assert list(discover([str(site)]).sites) == ["W3SVC1"]
    rc = main(["counts", str(site)])
    out, _ = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["site"] for r in rows} == {"W3SVC1"}
    assert rc == 0 and sum(int(r["count"] or 0) for r in rows) == 180


def test_a_date_stamp_in_a_name_is_never_part_of_the_site(tmp_path):
    for name in ("shop-2024-01-02.log", "shop_20240101.log.gz", "shop.log", "blog.access.log-240103",
                 "blog.access.log.2024-01-01"):
        (tmp_path / name).write_bytes(b"x\n")
    sites = discover([str(tmp_path)]).sites
    assert {k: [Path(f.path).name for f in v] for k, v in sites.items()} == {
        "shop": ["shop_20240101.log.gz", "shop-2024-01-02.log", "shop.log"],
        "blog": ["blog.access.log.2024-01-01", "blog.access.log-240103"]}


def test_crlf_lines_reach_the_log_tail_without_their_cr(tmp_path, monkeypatch):
    from trafficwatch.engine.engine import Engine, EngineConfig
    from trafficwatch.engine.live import LiveFeed

    monkeypatch.setattr("trafficwatch.engine.live.RESCAN_S", 0.0)
    log = tmp_path / "u_ex240101.log"
    log.write_bytes(_iis_day(1, 10))
    e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False, poll=True), lambda s: None)
    f = LiveFeed(e.sink, None)
    try:
        with log.open("ab") as fh:
            fh.write(_iis_day(1, 3).split(b"\r\n", 4)[4])  # three more rows, appended
        for _ in range(3):
            f.step(0.1)
        assert e.series.total() == 13
        texts = [t.text for t in f.tail]
        assert sum(t.startswith("2024-01-01 ") for t in texts) == 13
        assert not any(t.endswith("\r") for t in texts)
    finally:
        f.close()


def _as_a_user_without_rights(*args: str) -> tuple[int, bytes, bytes]:
    """`trafficwatch ARGS` (main()) in a forked child, as uid 65534 when root (root reads
    everything): exit status, stdout, stderr."""
    import os
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 70
            try:
                import sys

                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - not pytest's capture
                sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
                if os.geteuid() == 0:
                    # what the command loads lazily, loaded while files under /root can still
                    # be read (the model is read before the logs: zipfile's name codec)
                    import encodings.cp437  # noqa: F401
                    os.setgroups([])
                    os.setgid(65534)
                    os.setuid(65534)
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - report it as the parent would see a crash
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        # forked from a process with threads (other tests' left running): a lock one of them
        # held at the fork would hang the child, and with it the whole run, without a deadline
        import time

        deadline = time.monotonic() + 120
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail(f"trafficwatch {' '.join(args)} in a forked child: no end in 120 s")
            time.sleep(0.02)
        status = done[1]
        out.seek(0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), out.read(), err.read()


def test_an_unreadable_log_directory_is_one_line_and_the_other_paths_are_still_read():
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="tw-perm-"))  # /tmp: reachable by the child's user
    try:
        top.chmod(0o755)
        (top / "locked").mkdir()
        (top / "locked" / "access.log").write_bytes(log_lines(10))
        (top / "locked").chmod(0o000)
        (top / "ok.log").write_bytes(log_lines(50))
        (top / "ok.log").chmod(0o644)
        rc, out, err = _as_a_user_without_rights("counts", str(top / "locked"), str(top / "ok.log"))
        assert rc == 1 and b"Traceback" not in err, err
        assert out.count(b"\n") > 1  # the readable log was counted
        (line,) = [x for x in err.decode().splitlines() if "locked" in x]
        assert "directory cannot be listed: permission denied" in line
        rc, _, err = _as_a_user_without_rights("forecast", str(top / "locked"))
        assert rc == 2 and b"Traceback" not in err, err
        assert b"directory cannot be listed: permission denied" in err
    finally:
        (top / "locked").chmod(0o755)
        shutil.rmtree(top)


def test_a_compressed_copy_beside_its_original_is_counted_once(tmp_path, capsys):
    """`gzip -c access.log > access.log.gz`, logrotate caught between writing access.log.1.gz
    and removing access.log.1, and a copy taken yesterday of a log that went on growing."""
    full = log_lines(3000, seed=4)
    (tmp_path / "access.log").write_bytes(full)
    (tmp_path / "access.log.gz").write_bytes(gzip.compress(full))
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 3000), err
    assert "not read: " in err and "access.log.gz: a copy of " in err
    (tmp_path / "access.log.gz").unlink()
    old = log_lines(2000, seed=5)
    (tmp_path / "access.log.1").write_bytes(old)
    (tmp_path / "access.log.1.gz").write_bytes(gzip.compress(old))
    mid = full.index(b"\n", len(full) // 2) + 1  # a copy of the live log up to a line
    (tmp_path / "copy-of-yesterday.access.log.gz").write_bytes(gzip.compress(full[:mid]))
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 5000 + full[:mid].count(b"\n")), err  # named as another site
    (tmp_path / "copy-of-yesterday.access.log.gz").unlink()
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(full[:mid]))
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 5000), err
    assert err.count("not read: ") == 2  # access.log.1.gz and access.log.2.gz
    # a copy of its first lines alone, under a KiB: no head of a KiB to compare (a trial's
    # `head -5 access.log.1 | gzip > access.log.1.gz`, its 5 lines counted twice)
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(b"".join(
        old.splitlines(keepends=True)[:5])))
    assert len(b"".join(old.splitlines(keepends=True)[:5])) < 1024
    (tmp_path / "access.log.3.gz").write_bytes(b"")  # an empty file: the start of any, no copy
    (tmp_path / "other.access.log").write_bytes(b"")  # nor a copy of another empty one (a
    (tmp_path / "other.access.log.1").write_bytes(b"")  # trial: .1 "a copy of" its empty log)
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 5000), err
    assert "access.log.2.gz: a copy of " in err and "access.log.3.gz: a copy" not in err
    assert "other.access.log.1: a copy" not in err and "other.access.log.1 is empty" in err


def test_a_copy_kept_by_hand_is_a_file_of_its_site_and_counted_once(tmp_path, capsys):
    """`cp access.log access.log.bak` before editing a config, `mv access.log access.log.old`:
    each was read as a site of its own ("access.log.bak"), its requests counted again in the
    total of all sites. Now a file of access.log's site: a copy is not read, an older log is."""
    full = log_lines(3000, seed=4)
    (tmp_path / "access.log").write_bytes(full)
    (tmp_path / "access.log.bak").write_bytes(full)
    (tmp_path / "access.log~").write_bytes(full[:full.index(b"\n", len(full) // 2) + 1])
    older = log_lines(2000, seed=5)
    (tmp_path / "access.log.OLD.gz").write_bytes(gzip.compress(older))
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 5000), err
    assert "access.log.bak: a copy of " in err and "access.log~: a copy of " in err
    from trafficwatch.logs.sources import discover

    (_site, files), = discover([str(tmp_path)]).sites.items()
    assert [Path(f.path).name for f in files][-1] == "access.log"  # the live file, read last
    assert {Path(f.path).name for f in files if f.rotation == 0} == {"access.log"}


def test_a_copy_kept_under_a_name_of_its_own_is_a_file_of_its_site(tmp_path, capsys):
    """A trial: access.log.keep, .bak.1, .save-before-upgrade, .dpkg-bak, .1.gz.bak, .1.tmpcopy
    were sites of their own ("access.log.keep", "access.log.1.gz"): 1,800 lines counted of 300,
    in all sites' total and the agent's. Any NAME.log.SOMETHING is a file of NAME.log's site."""
    full = log_lines(300, seed=8)
    (tmp_path / "access.log").write_bytes(full)
    names = ["access.log.keep", "access.log.bak.1", "access.log.save-before-upgrade",
             "access.log.dpkg-bak", "access.log.1.tmpcopy"]
    for name in names:
        (tmp_path / name).write_bytes(full)
    (tmp_path / "access.log.1.gz.bak").write_bytes(gzip.compress(full))
    older = log_lines(200, seed=9)  # an older log kept so: read, as the site's oldest file
    (tmp_path / "access.log.pre-migration").write_bytes(older)
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 500), err
    for name in (*names, "access.log.1.gz.bak"):
        assert f"{name}: a copy of " in err, err
    from trafficwatch.logs.sources import discover

    (site, files), = discover([str(tmp_path)]).sites.items()
    assert site == tmp_path.name and [Path(f.path).name for f in files][-1] == "access.log"


def test_a_log_named_like_a_copy_with_no_log_beside_it_is_a_log_of_its_own(tmp_path):
    # a review: caddy's live `shop.log.json`, or nginx's `access.log.json` beside access.log
    # (the same requests in JSON), were taken for copies kept by hand: merged into one site,
    # or, alone and empty at the start, never read
    from trafficwatch.logs.sources import classify

    for name in ("shop.log.json", "other.log.keep", "access.log", "access.log.json"):
        (tmp_path / name).write_bytes(b"")
    got = {n: classify(tmp_path / n) for n in ("shop.log.json", "other.log.keep",
                                               "access.log.json")}
    assert all(f.rotation == 0 for f in got.values()), got  # live files, each its own site
    assert got["shop.log.json"].site == "shop.log.json"
    assert got["access.log.json"].site == "access.log.json"
    (tmp_path / "other.log").write_bytes(b"")  # its log beside it now: a copy of it
    assert classify(tmp_path / "other.log.keep").rotation > 1000


def test_swap_and_temporary_files_beside_the_logs_are_not_read_as_sites(tmp_path, capsys):
    """`vim /var/log/nginx/access.log` leaves `.access.log.swp` beside it, a copy in progress is
    `access.log.tmp`, fluentd keeps its place in `access.log.pos`: each was read as a site of
    its own (the swap file "looks binary, skipped": exit 1; the copy's requests counted again in
    the total of all sites). In a directory or a glob they are not read, and said so; a file
    named on its own is read as given."""
    full = log_lines(3000, seed=7)
    (tmp_path / "access.log").write_bytes(full)
    (tmp_path / ".access.log.swp").write_bytes(b"b0VIM 9.0\x00\x00\x10\x00" + bytes(4000))
    (tmp_path / "access.log.tmp").write_bytes(full[:full.index(b"\n", 4000) + 1])
    (tmp_path / "access.log.pos").write_bytes(b"/var/log/nginx/access.log\t0000000000001f40\t"
                                              b"0000000000a1b2c3\n")
    (tmp_path / "#access.log#").write_bytes(full[:full.index(b"\n", 2000) + 1])  # emacs's
    for given in (str(tmp_path), str(tmp_path / "access.log*")):
        rc, total, err = counts(capsys, given)
        assert (rc, total) == (0, 3000), err
        hidden = (".access.log.swp", "#access.log#") if given == str(tmp_path) else ()
        for name in (*hidden, "access.log.tmp", "access.log.pos"):  # (a glob's * lists no
            # hidden file; emacs's # file is not named access.log*)
            assert f"not read: {tmp_path / name}: a temporary file" in err, err
        from trafficwatch.logs.sources import discover

        assert list(discover([given]).sites) == [tmp_path.name]
    rc, total, err = counts(capsys, str(tmp_path / "access.log.tmp"))
    assert rc == 0 and 0 < total < 3000, err  # named alone: read as the user asked

def test_logs_that_only_begin_alike_are_both_counted(tmp_path, capsys):
    """Two files sharing their first KiB but not the rest: neither is a copy."""
    a = log_lines(600, seed=6)
    b = a[:a.index(b"\n", 2048) + 1] + log_lines(100, seed=7)
    (tmp_path / "access.log").write_bytes(a)
    (tmp_path / "access.log.1").write_bytes(b)
    rc, total, err = counts(capsys, str(tmp_path))
    assert rc == 0 and total == 600 + b.count(b"\n") and "not read" not in err


def test_the_model_commands_exit_1_on_a_truncated_archive_as_counts_does(tmp_path, capsys):
    start = 1_790_000_000 // 3600 * 3600
    lines = b"".join(
        b'10.0.%d.%d - - [%s] "GET /p/%d HTTP/1.1" 200 %d "-" "ua %d"\n'
        % (i % 250, i % 199, time.strftime("%d/%b/%Y:%H:%M:%S +0000",
                                            time.gmtime(start + 60 * i)).encode(),
           i * 7919 % 100003, i * 31 % 9973, i) for i in range(4 * 24 * 60))
    blob = gzip.compress(lines)
    log = tmp_path / "access.log.gz"
    log.write_bytes(blob[: len(blob) * 3 // 4])  # 3 days of lines survive
    assert main(["counts", str(log)]) == 1
    assert main(["forecast", str(log)]) == 1  # a good forecast, from what could be read
    out, err = capsys.readouterr()
    assert "archive is truncated" in err and "LSTM refused" not in err
    assert out.count("\n") > 24


def test_a_vhost_regex_that_names_no_site_in_a_file_name_is_said(tmp_path, capsys):
    """A typo in --vhost-from-filename named every site as without it, and nothing said so."""
    (tmp_path / "shop.example.com-access.log").write_bytes(log_lines(30, seed=1))
    (tmp_path / "blog.example.org.log").write_bytes(log_lines(20, seed=2))
    rc, total, err = counts(capsys, "--vhost-from-filename", r"^(.+)-access\.log", str(tmp_path))
    assert (rc, total) == (0, 50)
    assert ("--vhost-from-filename found no site in 1 file name, named as without it: "
            f"{tmp_path / 'blog.example.org.log'}\n") in err, err
    rc, total, err = counts(capsys, "--vhost-from-filename", r"^(.+?)[-.](?:access\.)?log",
                            str(tmp_path))
    assert (rc, total) == (0, 50) and "--vhost-from-filename" not in err, err


def test_the_summary_adds_up_to_the_lines_read(tmp_path, capsys):
    """Blank lines were read but neither counted nor malformed: "8 lines; 5 counted, 1
    malformed" did not add up (a trial)."""
    good = log_lines(5, seed=3)
    (tmp_path / "access.log").write_bytes(good + b"   \n\ngarbage\n")
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 5)
    assert "8 lines in " in err and ("5 counted, 1 malformed, 0 excluded, 2 blank or comment "
                                     "(#)\n") in err, err
    (tmp_path / "access.log").write_bytes(good)
    rc, total, err = counts(capsys, str(tmp_path))
    assert "0 excluded\n" in err, err  # nothing more said where nothing is left over


@pytest.mark.parametrize(("when", "why"), [
    ("31/Feb/2026:13:55:36 +0000", "impossible date"),
    ("10/Oct/1969:13:55:36 +0000", "time out of range (before 1990)")])
def test_a_log_of_bad_times_alone_says_its_times_not_its_format(tmp_path, capsys, when, why):
    """A one-line file dated 31 Feb said "no known log format matches"; the same line in a
    longer file is "impossible date" (a trial)."""
    (tmp_path / "access.log").write_text(
        f'1.2.3.4 - - [{when}] "GET / HTTP/1.1" 200 2 "-" "x"\n')
    rc, total, err = counts(capsys, str(tmp_path / "access.log"))
    assert (rc, total) == (2, 0)
    assert (f"access.log: its lines are COMBINED but no time in them can be counted ({why}); "
            "first line: ") in err, err
    # most of a log's first lines of bad times, a few good: its format, the bad ones said
    # (5 of 9 had the log refused as "no known log format", a trial)
    good = '1.2.3.4 - - [20/Nov/2026:10:0{m}:00 +0000] "GET / HTTP/1.1" 200 2 "-" "x"\n'
    (tmp_path / "access.log").write_text(
        f'1.2.3.4 - - [{when}] "GET / HTTP/1.1" 200 2 "-" "x"\n' * 5
        + "".join(good.format(m=m) for m in range(4)))
    rc, total, err = counts(capsys, str(tmp_path / "access.log"))
    assert (rc, total) == (0, 4) and f"malformed, {why}: 5, e.g." in err, err
    (tmp_path / "access.log").write_text("hello world\n")  # no format at all: as before
    rc, total, err = counts(capsys, str(tmp_path / "access.log"))
    assert rc == 2 and "no known log format matches (tried " in err, err
    # its first line sanitised once: invalid bytes were shown '\\xff' (a security trial)
    (tmp_path / "access.log").write_bytes(b"\xff\xfe hello \x1b[2J world\n")
    rc, total, err = counts(capsys, str(tmp_path / "access.log"))
    assert "first line: '\\xff\\xfe hello \\x1b[2J world'; pass --log-format" in err, err


def test_iis_s_folder_of_site_folders_is_read_each_site_by_its_folder(tmp_path, capsys):
    # a trial: `trafficwatch LogFiles` (IIS's C:\inetpub\logs\LogFiles, a W3SVCn folder per
    # site) said "no access log yet; watching for one", files 0
    head = ("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
            "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
            "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken\n")
    for k, n in ((1, 30), (2, 20)):
        site = tmp_path / f"W3SVC{k}"
        site.mkdir()
        (site / "u_ex261206.log").write_text(head + "".join(
            f"2026-12-06 05:{m:02d}:00 10.0.0.1 GET /x{m} - 443 - 192.0.2.9 Mozilla/5.0 200 0 0 "
            "12\n" for m in range(n)))
    other = tmp_path / "backup"  # any other folder: not read (give it by name)
    other.mkdir()
    (other / "access.log").write_bytes(log_lines(10))
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (0, 50), err
    from trafficwatch.logs.sources import discover

    assert sorted(discover([str(tmp_path)]).sites) == ["W3SVC1", "W3SVC2"]


def test_one_iis_site_folder_that_cannot_be_listed_is_that_folder_skipped(tmp_path, capsys,
                                                                          monkeypatch):
    # a review: W3SVC9 unreadable made the whole LogFiles "directory cannot be listed", exit 2
    for k in (1, 9):
        (tmp_path / f"W3SVC{k}").mkdir()
        (tmp_path / f"W3SVC{k}" / "u_ex261206.log").write_bytes(log_lines(10, seed=k))
    real = Path.iterdir

    def iterdir(self):
        if self.name == "W3SVC9":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    rc, total, err = counts(capsys, str(tmp_path))
    assert (rc, total) == (1, 10), err
    assert "W3SVC9: directory cannot be listed: Permission denied" in err


def test_a_log_rotated_away_between_its_stat_and_its_read_check_is_gone_not_denied(
        tmp_path, monkeypatch):
    # a review, ~30 rotations/s: "access.log: skipped: permission denied: run as a user that
    # can read it", on files the user owned, kept as said for that file from then on
    from trafficwatch.logs import sources

    log = tmp_path / "access.log"
    log.write_text("x\n")
    real = os.access

    def rotated_first(path, mode):
        os.replace(path, str(path) + ".1")  # logrotate's rename, in between
        return real(path, mode)

    monkeypatch.setattr(sources.os, "access", rotated_first)
    assert sources.classify(log) == "no such file"


def test_a_date_format_that_holds_the_time_is_read_and_one_twice_is_one_line(tmp_path, capsys):
    # a trial (Envoy's [%START_TIME%] as a GoAccess spec): --date-format %Y-%m-%dT%H:%M:%S got
    # the default time appended, and a 40-line traceback ended "redefinition of group name 'H'"
    from trafficwatch.cli.main import main

    log = tmp_path / "envoy.log"
    log.write_text('[2026-12-06T10:00:00] 203.0.113.5 "GET / HTTP/1.1" 200 12\n')
    spec = ["--log-format", '[%x] %h "%r" %s %b', "--date-format", "%Y-%m-%dT%H:%M:%S"]
    assert main(["counts", *spec, str(log)]) == 0
    assert "2026-12-06T10:00:00+00:00,envoy,hits,1," in capsys.readouterr().out
    assert main(["counts", *spec, "--time-format", "%H:%M:%S", str(log)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "hold a field twice" in err and "Traceback" not in err


def test_nginx_combined_with_time_iso8601_is_counted(tmp_path, capsys):
    # a trial: log_format with [$time_iso8601] in place of [$time_local] (a common one) was
    # refused whole, "its lines are COMBINED but no time in them can be counted (bad time)"
    from trafficwatch.cli.main import main

    log = tmp_path / "iso.access.log"
    log.write_text("".join(
        f'203.0.113.{i} - - [2026-12-06T10:{i:02d}:00+01:00] "GET /p{i} HTTP/1.1" 200 5 "-" '
        f'"Mozilla/5.0"\n' for i in range(40)))
    assert main(["counts", str(log)]) == 0
    out, err = capsys.readouterr()
    assert "2026-12-06T10:00:00+01:00,iso,hits,40," in out and "40 counted, 0 malformed" in err


def test_haproxys_own_messages_are_no_request_not_malformed(tmp_path, capsys):
    # a trial: "Proxy fe_1 started.", "[WARNING] ...", "Server app/web2 is DOWN" were
    # malformed at every restart and backend flap (and a log opening with them was no format)
    from trafficwatch.cli.main import main

    log = tmp_path / "haproxy.log"
    own = ["Proxy fe_1 started.", "[WARNING]  (1234) : config : missing timeouts for frontend.",
           "Server app/web2 is DOWN, reason: Layer4 timeout. 1 active and 0 backup servers left."]
    req = ('10.0.0.{i}:5123{i} [06/Dec/2026:09:{i:02d}:01.123] fe_1 app/web1 0/0/1/2/3 200 512 '
           '- - ---- 1/1/0/0/0 0/0 "GET /p{i} HTTP/1.1"')
    log.write_text("".join(f"Dec  6 09:00:01 lb1 haproxy[1234]: {m}\n" for m in own) + "".join(
        f"Dec  6 09:{i:02d}:01 lb1 haproxy[1234]: {req.format(i=i)}\n" for i in range(5)))
    assert main(["counts", str(log)]) == 0
    err = capsys.readouterr().err
    assert "5 counted, 0 malformed, 3 no request" in err, err


def test_cloudflare_logpush_json_is_read_and_a_format_given_says_why_it_fits_none(tmp_path,
                                                                                  capsys):
    # a trial: Logpush's fields were "no line parsed as JSON ...; pass --log-format" whatever
    # --log-format was passed (a loop)
    from trafficwatch.cli.main import main

    log = tmp_path / "cf.log"
    log.write_text(
        '{"ClientIP":"203.0.113.9","ClientRequestHost":"www.example.com","ClientRequestMethod":'
        '"GET","ClientRequestURI":"/a","EdgeResponseStatus":200,"EdgeStartTimestamp":'
        '"2026-12-06T10:15:00Z"}\n'
        '{"ClientIP":"203.0.113.10","ClientRequestHost":"www.example.com","ClientRequestMethod":'
        '"GET","ClientRequestURI":"/b","EdgeResponseStatus":404,"EdgeStartTimestamp":'
        '1796552100000000000}\n')  # 2026-12-06T10:15Z in nanoseconds
    assert main(["counts", str(log)]) == 0
    assert "2026-12-06T10:00:00+00:00,www.example.com,hits,2," in capsys.readouterr().out
    other = tmp_path / "clf.log"
    other.write_text('[2026-12-06T10:00:00] 203.0.113.5 "GET / HTTP/1.1" 200 12\n')
    assert main(["counts", "--log-format", "JSON", str(other)]) != 0
    err = capsys.readouterr().err
    assert "not JSON (1 line): --log-format 'JSON' fits none of them" in err
    assert "pass --log-format" not in err
