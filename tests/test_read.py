"""Whole-file reading: byte ranges share out lines exactly once; parallel == serial parsing."""
from __future__ import annotations

import io
import random

import numpy as np
import pytest

from trafficwatch.logs import read
from trafficwatch.logs.formats import get_format
from trafficwatch.logs.read import parse_file, read_lines_at

LINE = (b'203.0.113.%d - - [10/Oct/2026:13:%02d:36 +0000] "GET /p/%d HTTP/1.1" %d 2326 '
        b'"-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/%d"')


def _lines(rng: random.Random, n: int) -> list[bytes]:
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.05:
            out.append(b"x" * rng.randint(200, 900))  # longer than a range
        elif r < 0.08:
            out.append(b"")
        elif r < 0.1:
            out.append(b'garbage "with quotes')
        else:
            out.append(LINE % (i % 250, i % 60, i, rng.choice([200, 404, 500]), i % 7))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_byte_ranges_share_out_every_line_exactly_once(seed):
    rng = random.Random(seed)
    data = b"\n".join(_lines(rng, 200)) + rng.choice([b"", b"\n", b"\r\n"])
    f = io.BytesIO(data)
    size = rng.choice([1, 7, 64, 100, 333, 4096])
    got = [read_lines_at(f, s, min(s + size, len(data)), limit=1000)
           for s in range(0, len(data), size)]
    assert b"".join(got) == data
    # each piece is whole lines: it starts a line and ends with one (or the data's end)
    starts = {0} | {i + 1 for i, c in enumerate(data) if c == 10}
    pos = 0
    for piece in got:
        if piece:
            assert pos in starts and (piece.endswith(b"\n") or pos + len(piece) == len(data))
        pos += len(piece)


def test_a_line_longer_than_the_limit_is_handed_on_cut_and_counted_once():
    data = b"a\n" + b"y" * 5000 + b"\nb\n"
    f = io.BytesIO(data)
    got = [read_lines_at(f, s, min(s + 100, len(data)), limit=300) for s in range(0, len(data), 100)]
    assert got[0].startswith(b"a\n" + b"y" * 98) and len(got[0]) <= 2 + 100 + 300
    assert b"".join(got[1:]) == b"b\n"  # the rest of the long line belongs to no range


def _columns(results):
    recs = [r.records for r in results]
    cols = {k: np.concatenate([getattr(r, k) for r in recs]).tolist()
            for k in ("ts", "status", "size", "is_bot", "is_static", "client", "visitor")}
    mal = {}
    for r in results:
        for reason, n in r.malformed.counts.items():
            mal[reason] = mal.get(reason, 0) + n
    return cols, mal, sum(r.lines for r in results), sum(r.skipped for r in results)


@pytest.mark.parametrize("fmt", ["COMBINED", "COMMON"])
def test_parallel_workers_give_what_one_process_gives(tmp_path, monkeypatch, fmt):
    rng = random.Random(5)
    path = tmp_path / "access.log"
    path.write_bytes(b"\n".join(_lines(rng, 3000)) + b"\n" + LINE % (1, 2, 3, 200, 4))  # no final \n
    monkeypatch.setattr(read, "PARALLEL_MIN", 0)
    f = get_format(fmt)
    serial = _columns(list(parse_file(path, f, workers=1, chunk_bytes=4096)))
    parallel = list(parse_file(path, f, workers=2, chunk_bytes=4096))
    assert len(parallel) > 50  # really split into many ranges
    assert _columns(parallel) == serial
    assert serial[2] == 3001 and len(serial[0]["ts"]) > 2000 and serial[1]


read_headers = read.w3c_headers


def test_a_w3c_logs_ranges_read_in_parallel_each_by_the_header_in_force_there(tmp_path,
                                                                                monkeypatch):
    """IIS's logs were read on one core (their #Fields: header rules the lines after it): each
    worker's range now begins with the header in force there, found by its line's '#'; the
    header changes mid-file, a header at a range's first byte, '#' inside a field."""
    rng = random.Random(3)
    heads = [b"#Fields: date time c-ip cs-uri-stem sc-status cs(User-Agent)",
             b"#FIELDS: time date sc-status c-ip sc-bytes cs-uri-stem"]
    lines, k = [b"#Software: IIS"], 0
    for i in range(4000):
        if i % 700 == 0:
            k = 1 - k
            lines.append(heads[k])
        ip, st = f"10.0.{rng.randrange(9)}.{rng.randrange(9)}".encode(), rng.choice([200, 404])
        day, t = b"2024-03-0%d" % (1 + i // 1000), b"%02d:%02d:00" % (i // 60 % 24, i % 60)
        lines.append(b" ".join([day, t, ip, b"/a#b", b"%d" % st, b"UA+%d" % k] if k == 0 else
                               [t, day, b"%d" % st, ip, b"%d" % i, b"/c.css"]))
    path = tmp_path / "u_ex240301.log"
    data = b"\r\n".join(lines) + b"\r\n"
    at = data.index(heads[0], 9000)
    path.write_bytes(data)
    monkeypatch.setattr(read, "PARALLEL_MIN", 0)
    f = get_format("W3C")
    serial = _columns(list(parse_file(path, f, workers=1, chunk_bytes=4096)))
    found = []
    monkeypatch.setattr(read, "w3c_headers", lambda *a: found.append(read_headers(*a)) or
                        found[-1])
    for chunk in (4096, at, 1 << 20):  # (a range beginning on a header's first byte)
        parallel = list(parse_file(path, f, workers=2, chunk_bytes=chunk))
        assert _columns(parallel) == serial
    assert len(found) == 3 and len(found[0][0]) == 6  # read by workers, 6 headers found
    assert serial[2] == len(lines) and len(serial[0]["ts"]) == 4000 and not serial[1]


def _big_log(tmp_path, n=3000):
    path = tmp_path / "access.log"
    path.write_bytes(b"\n".join(_lines(random.Random(9), n)) + b"\n")
    return path


def test_a_file_rotated_away_while_workers_read_it_is_still_read_whole(tmp_path, monkeypatch):
    path = _big_log(tmp_path)
    f = get_format("COMBINED")
    expected = _columns(list(parse_file(path, f, workers=1, chunk_bytes=4096)))
    monkeypatch.setattr(read, "PARALLEL_MIN", 0)
    gen = parse_file(path, f, workers=2, chunk_bytes=4096)
    got = [next(gen)]
    path.rename(tmp_path / "access.log.1")  # logrotate: a new, different file at the path
    path.write_bytes(b"\n".join(_lines(random.Random(10), 3000)) + b"\n")
    got += list(gen)
    assert _columns(got) == expected


def _dies_on_some_ranges(args):
    if args[2] // 4096 % 7 == 3:  # a worker killed (OOM killer, kill -9) on some ranges
        import os

        os._exit(1)
    return _real_parse_range(args)


_real_parse_range = read._parse_range


def test_ranges_of_a_killed_worker_are_read_by_the_caller(tmp_path, monkeypatch):
    path = _big_log(tmp_path)
    f = get_format("COMBINED")
    expected = _columns(list(parse_file(path, f, workers=1, chunk_bytes=4096)))
    monkeypatch.setattr(read, "PARALLEL_MIN", 0)
    monkeypatch.setattr(read, "_parse_range", _dies_on_some_ranges)
    assert _columns(list(parse_file(path, f, workers=2, chunk_bytes=4096))) == expected


@pytest.mark.parametrize("fmt,vhost", [("COMBINED", False), ("VCOMBINED", True)])
def test_counting_in_the_workers_gives_the_series_counting_the_records_gives(
        tmp_path, monkeypatch, fmt, vhost):
    from trafficwatch.counting.ingest import CountInto, add_records
    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.logs.parse import ParseOptions

    rng = random.Random(3)
    lines = _lines(rng, 3000)
    if vhost:  # two virtual hosts named by the lines themselves
        lines = [(b"shop.example:443 " if i % 3 else b"blog.example:80 ") + ln
                 for i, ln in enumerate(lines)]
    path = tmp_path / "access.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(read, "PARALLEL_MIN", 0)
    f, opts = get_format(fmt), ParseOptions(keep_paths=True)
    by_records = HourlySeries(track_visitors=True, track_paths=True)
    for res in parse_file(path, f, opts, workers=2, chunk_bytes=4096):
        add_records(by_records, "site", res.records)
    in_workers = HourlySeries(track_visitors=True, track_paths=True)
    for got in parse_file(path, f, opts, workers=2, chunk_bytes=4096,
                          reduce=CountInto("site", True, True)):
        for site, counts in got.counts.items():
            in_workers.add_counts(site, counts, site in got.hosts)
    assert in_workers.sites() == by_records.sites() == (
        ["blog.example", "shop.example"] if vhost else ["site"])
    assert in_workers.to_dict() == by_records.to_dict()
    assert in_workers.total() > 2000
    for site in in_workers.sites():
        for metric in ("hits", "pages", "visitors"):
            a, b = in_workers.hourly(site, metric), by_records.hourly(site, metric)
            assert a[0] == b[0] and np.array_equal(a[1], b[1], equal_nan=True)


def test_parallel_reading_from_a_thread_uses_clean_workers_and_gives_the_same(tmp_path, monkeypatch):
    import threading

    path = _big_log(tmp_path)
    f = get_format("COMBINED")
    expected = _columns(list(parse_file(path, f, workers=1, chunk_bytes=4096)))
    monkeypatch.setattr(read, "PARALLEL_MIN", 0)
    got: list = []
    method: list = []

    def read_in_thread():  # the app reads its first logs beside the UI thread
        method.append(read.start_method().get_start_method())
        got.extend(parse_file(path, f, workers=2, chunk_bytes=4096))

    t = threading.Thread(target=read_in_thread)
    t.start()
    t.join()
    assert method == ["forkserver"]  # no fork of a multi-threaded process (Linux)
    assert _columns(got) == expected


@pytest.mark.parametrize("early", [True, False])
def test_once_a_ui_has_taken_stderr_reads_use_the_early_worker_server_or_none(tmp_path, early):
    import subprocess
    import sys

    path = _big_log(tmp_path)
    script = f"""
import sys, threading
from trafficwatch.logs import read
from trafficwatch.logs.formats import get_format
if {early}:
    read.start_worker_server()  # what `trafficwatch` does before the app starts

class Captured:  # Textual's stand-in for stderr: no usable file descriptor
    def write(self, s): return len(s)
    def flush(self): pass
    def fileno(self): return -1

real, sys.stderr = sys.stderr, Captured()
read.PARALLEL_MIN = 0
out, how = [], []
def work():
    ctx = read.start_method()
    how.append(ctx.get_start_method() if ctx else "none")
    out.extend(read.parse_file({str(path)!r}, get_format("COMBINED"), workers=2, chunk_bytes=4096))
t = threading.Thread(target=work)
t.start(); t.join()
print(sum(r.lines for r in out), len(out), how[0])
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=False)
    lines, chunks, how = res.stdout.split()
    assert int(lines) == 3000 and int(chunks) > 50, res.stderr  # read whole either way
    assert how == ("forkserver" if early else "none")  # workers only with the early server


def test_an_enormous_line_is_handed_on_once_not_piece_by_piece():
    # one 20 MB line among others was 3 malformed lines, and the line total off by 2
    import io

    from trafficwatch.logs.read import iter_chunks

    data = b"a 1\nb 2\n" + b"X" * 500 + b"\nc 3\nd 4\n"
    chunks = list(iter_chunks(io.BytesIO(data), chunk_bytes=16))
    lines = b"".join(c if c.endswith(b"\n") else c + b"\n" for c in chunks).split(b"\n")[:-1]
    assert [ln for ln in lines if not ln.startswith(b"X")] == [b"a 1", b"b 2", b"c 3", b"d 4"]
    assert sum(ln.startswith(b"X") for ln in lines) == 1
    unfinished = list(iter_chunks(io.BytesIO(b"a 1\n" + b"Y" * 300), chunk_bytes=16))
    assert unfinished[0] == b"a 1\n" and sum(c.startswith(b"Y") for c in unfinished) == 1


@pytest.mark.parametrize("how", ["fork", "forkserver"])
def test_parse_workers_end_when_trafficwatch_is_killed(tmp_path, how):
    # a trial: kill -9 of `counts --follow` in its first read of a 68 MB log left the fork
    # server and its workers for ever (135 MB), holding the stdout a `| wc -l` waited on
    import os
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import multiprocessing, os, sys, time\n"
        "from trafficwatch.logs import read\n"
        f"pool = read.worker_pool(2, multiprocessing.get_context({how!r}))\n"
        "pids = list({pool.submit(os.getpid).result() for _ in range(8)})\n"
        "print(' '.join(map(str, pids)), flush=True)\n"
        "pool.submit(time.sleep, 60)\n"
        "time.sleep(60)\n")
    def running(pid: int) -> bool:  # a zombie has ended
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split()[2] != "Z"
        except OSError:
            return False

    pids: list[int] = []
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert pids and os.getpid() not in pids
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        end = time.monotonic() + 10
        alive = pids
        while alive and time.monotonic() < end:
            time.sleep(0.05)
            alive = [p for p in alive if running(p)]
        assert not alive, f"workers {alive} outlived trafficwatch"
    finally:
        proc.kill()
        proc.wait()
        for p in pids:  # none left behind by a failure either
            if running(p):
                os.kill(p, signal.SIGKILL)


def test_the_resource_tracker_is_started_quiet_about_a_killed_apps_semaphores():
    """kill -9 during the first read: the resource tracker cleaned up the workers' semaphores
    and printed "UserWarning: resource_tracker: There appear to be 5 leaked semaphore objects"
    on the user's terminal (a trial). It is started with that warning ignored."""
    from multiprocessing import util

    from trafficwatch.logs.read import _forkserver

    _forkserver()
    assert "-Wignore:resource_tracker:UserWarning" in util._args_from_interpreter_flags()


def test_sniff_reads_past_long_lines_and_blank_ones_but_not_through_binary(tmp_path, monkeypatch):
    # a review: past 16 MiB of lines over 64 KiB (a log of 100 KB query strings), the lines a
    # format is found from were never reached ("no known log format"); a file of bytes with
    # no newline was read whole, 64 GiB decompressed at most, to call it binary
    monkeypatch.setattr(read, "SNIFF_INK_BYTES", 1 << 20)
    ok = b'1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n'
    long = b'5.6.7.8 - - [20/Nov/2026:10:00:00 +0000] "GET /?q=' + b"a" * 100_000 + \
        b' HTTP/1.1" 200 5 "-" "ua"\n'
    p = tmp_path / "a.log"
    p.write_bytes(b"\n" * (3 << 20) + long * 40 + ok * 50)  # 3 MiB blank, 4 MiB long lines
    assert read.sniff(p) == [ok.rstrip(b"\n")] * 50
    p.write_bytes(b"\n" * 10)
    assert read.sniff(p) == []  # blank lines alone: empty
    p.write_bytes(b"x" * (2 << 20) + b"\n" + ok * 50)  # 2 MiB with no newline: not a log
    got = read.sniff(p)
    assert len(got) == 1 and got[0] == b"x" * read.SAMPLE_LINE_MAX
