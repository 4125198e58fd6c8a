"""`counts --follow`: a JSON line per changed hour, end to end through a real process."""
from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

LINE = '1.2.3.4 - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua"\n'


def read_json_lines(proc: subprocess.Popen, want: int, timeout: float = 20.0) -> list[dict]:
    out, deadline = [], time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line:
                out.append(json.loads(line))
    return out


def test_follow_prints_each_change_and_exits_cleanly_on_sigterm(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(LINE.format(m=1) * 3)
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        (first,) = read_json_lines(proc, 1)
        assert first == {"hour": "2026-11-20T10:00:00+00:00", "site": tmp_path.name,
                         "metric": "hits", "count": 3, "partial": True}  # (a log of the
        # past that ended inside its hour: partial, as counts says)
        with log.open("a") as fh:
            fh.write(LINE.format(m=2) * 2)
        (second,) = read_json_lines(proc, 1)
        assert second["count"] == 5
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGHUP, 0),
                                           (signal.SIGINT, 130)])
def test_follow_saves_state_on_a_signal_and_resumes_without_recounting(tmp_path, sig, code):
    logs, state = tmp_path / "logs", tmp_path / "follow-state.json"
    logs.mkdir()
    log = logs / "access.log"
    log.write_text(LINE.format(m=1) * 3 + "a junk line\n")
    cmd = [sys.executable, "-m", "trafficwatch", "counts", "--follow", "--poll", "--state",
           str(state), str(logs)]
    errs = []
    for want, appended in ((3, 0), (5, 2)):
        if appended:
            with log.open("a") as fh:  # written while nothing was following
                fh.write(LINE.format(m=2) * appended)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            (first,) = read_json_lines(proc, 1)
            assert first["count"] == want
            state.unlink()  # saved after the first read: the signal must save it again
            os.kill(proc.pid, sig)
            assert proc.wait(timeout=20) == code
            errs.append(err := proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
        assert state.exists()
    assert "resumed from" in err and "4 lines read before" in err
    # why it stopped, as the agent says it (a closed SSH session's SIGHUP said nothing)
    assert all(e.rstrip().endswith(f"counts --follow: stopped by {sig.name}") for e in errs)
    # the junk line's reason is said when it comes, not again at each restart (a trial: an
    # old example said as if lines were refused now)
    assert "not counted, e.g. a junk line" in errs[0] and "e.g. a junk line" not in errs[1]


def test_follow_reports_truncation_on_stderr_but_not_every_file(tmp_path):
    for k in range(30):  # 30 rotations, each its own line (byte-identical files are copies)
        (tmp_path / f"access.log.{k + 1}").write_text(LINE.format(m=k + 2))
    log = tmp_path / "access.log"
    log.write_text(LINE.format(m=1) * 3)
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow", "--poll",
                             "--no-state", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_json_lines(proc, 1)[0]["count"] == 33
        log.write_text("")  # truncated (copytruncate), then written again
        with log.open("a") as fh:
            fh.write(LINE.format(m=2))
        assert read_json_lines(proc, 1)[0]["count"] == 34  # what was read stays counted
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "truncated" in err
    assert "following" not in err  # 31 files followed, none of them announced


def follow_until(proc: subprocess.Popen, want: int) -> tuple[list[dict], str]:
    """The first `want` JSON lines, then SIGTERM: (every JSON line, stderr)."""
    try:
        got = read_json_lines(proc, want)
        os.kill(proc.pid, signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    return got + [json.loads(x) for x in rest.splitlines()], err


def test_follow_names_each_unusable_file_once_as_counts_does(tmp_path):
    good = tmp_path / "good.access.log"
    good.write_text(LINE.format(m=1))
    binary = tmp_path / "bin.access.log"
    binary.write_bytes(b"\x00\x01\x02binary\x00\n" * 10)
    junk = tmp_path / "junk.access.log"
    junk.write_text("hello, not a log\n")
    old = tmp_path / "old.access.log.1"  # a rotation that held nothing: said, as counts says
    old.write_text("")
    os.utime(old, (time.time() - 86400, time.time() - 86400))
    fresh = tmp_path / "fresh.access.log"  # a live log just rotated: empty is normal, followed
    fresh.write_text("")
    said = {"bin.access.log looks binary, not a text access log; skipped",
            "old.access.log.1 is empty; nothing to count",
            "junk.access.log: no known log format matches"}
    once = subprocess.run([sys.executable, "-m", "trafficwatch", "counts", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert all(s in once.stderr for s in said)  # the same words as reading once
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow", "--poll",
                             "--no-state", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_json_lines(proc, 1)[0]["count"] == 1
        with binary.open("ab") as fh:  # more of the same: not said again on the next pass
            fh.write(b"\x00\x03more binary\x00\n" * 10)
        with junk.open("a") as fh:
            fh.write("another line that is no log\n")
        with fresh.open("a") as fh:  # the empty live log is written to: counted
            fh.write(LINE.format(m=2).replace("1.2.3.4", "5.6.7.8"))
        rows, err = follow_until(proc, 1)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rows == [{"hour": "2026-11-20T10:00:00+00:00", "site": "fresh", "metric": "hits",
                     "count": 1, "partial": True}]
    for s in said:
        assert err.count(s) == 1, err
    assert "fresh.access.log" not in err and "empty directory" not in err


def test_follow_watches_a_directory_with_no_log_yet_without_calling_it_skipped(tmp_path):
    live, new = tmp_path / "live", tmp_path / "new"
    live.mkdir()
    new.mkdir()
    (live / "a.access.log").write_text(LINE.format(m=1))
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow",
                             "--no-state", str(live), str(new)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_json_lines(proc, 1)[0]["site"] == "a"
        (new / "b.access.log").write_text(LINE.format(m=2))  # inotify: found at once
        rows, err = follow_until(proc, 1)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [(r["site"], r["count"]) for r in rows] == [("b", 1)]
    assert "skipped" not in err and "empty directory" not in err
    assert err.count(f"{new}: empty for now; watching it for access logs") == 1


def test_a_state_file_not_used_is_said_once(tmp_path):
    # options changed since the state was saved: the notice came twice, once without the
    # "trafficwatch:" prefix (through the logging module's last-resort handler)
    logs, state = tmp_path / "logs", tmp_path / "s.json"
    logs.mkdir()
    (logs / "access.log").write_text(LINE.format(m=1) * 3)
    base = [sys.executable, "-m", "trafficwatch", "counts", "--follow", "--poll", "--state",
            str(state)]
    for extra in ([], ["--exclude-ip", "10.9.9.9"]):
        proc = subprocess.Popen([*base, *extra, str(logs)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            read_json_lines(proc, 1)
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
            err = proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    said = [ln for ln in err.splitlines() if "not used" in ln]
    assert len(said) == 1 and said[0].startswith("trafficwatch: state file"), err


@contextlib.contextmanager
def follow_into_files(tmp_path: Path, *args: str):
    """`counts --follow ARGS` writing to tmp_path/out.txt and err.txt: (process, out, err); the
    process is killed on the way out if the test left it running."""
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow",
                                 *args], stdout=fo, stderr=fe, text=True)
    try:
        yield proc, out, err
    finally:
        if proc.poll() is None:
            proc.kill()


def wait_for(cond, timeout: float = 20.0) -> bool:
    """Poll `cond` until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.1)
    return cond()


def stop_cleanly(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_follow_says_once_when_a_line_is_dated_ahead_of_the_clock(tmp_path):
    def line(ts: float) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
        return f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "ua"\n'

    def printed() -> list[dict]:
        return [json.loads(x) for x in out.read_text().splitlines()]

    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    now = time.time()
    log.write_text(line(now - min(60, max(0.0, now % 3600 - 1))))  # in this hour (a minute
    # back had been the hour before in an hour's first minute: a third row, its 0 so far)
    with follow_into_files(tmp_path, "--poll", "--state", str(tmp_path / "st.json"),
                           str(logs)) as (proc, out, err):
        assert wait_for(lambda: len(printed()) == 1), printed()
        with log.open("a") as fh:
            fh.write(line(now + 3 * 3600) * 2)
        hour = time.strftime("%Y-%m-%dT%H:00:00+00:00", time.gmtime(now + 3 * 3600))
        assert wait_for(lambda: printed()[-1]["hour"] == hour), printed()  # as the log dates it
        # not over (it was "partial": false), and the hours before it, not begun, not printed
        # as 0 and over: they come when their hour does (a trial)
        assert printed()[-1]["count"] == 2 and printed()[-1]["partial"] is True
        assert len(printed()) == 2, printed()
        time.sleep(1.0)  # more passes of the loop: still one warning
        stop_cleanly(proc)
    said = err.read_text()
    assert said.count("dated ahead of this machine's clock") == 1, said
    assert "trafficwatch: 2 lines dated ahead" in said


def test_a_log_deleted_while_stopped_is_said_and_a_rotated_one_is_not(tmp_path):
    # a trial: a followed log deleted while trafficwatch was stopped lost what was written to
    # it after the last save, and nothing was said
    def lines(n: int) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(time.time() - 60))
        return "".join(f'1.2.3.{i} - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "ua"\n'
                       for i in range(n))

    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("shop.access.log", "blog.access.log", "api.access.log", "news.access.log"):
        (logs / name).write_text(lines(5))
    state = str(tmp_path / "st.json")
    for step in range(2):
        with follow_into_files(tmp_path, "--state", state, str(logs)) as (proc, out, err):
            assert wait_for(lambda: len(out.read_text().splitlines()) >= 2)
            stop_cleanly(proc)
        if step == 0:
            (logs / "shop.access.log").unlink()  # deleted while stopped
            (logs / "blog.access.log").rename(logs / "blog.access.log.1")  # rotated
            (logs / "blog.access.log").write_text(lines(1))
            (logs / "api.access.log").unlink()  # rotated away into a file not read (.xz)...
            (logs / "api.access.log").write_text(lines(2).replace("1.2.3.", "4.5.6."))  # a new
            os.truncate(logs / "news.access.log", 0)  # emptied (`: >`): "gone (a new file has
            # that name now)" was said of it (an ops trial)
    said = err.read_text()
    assert (f"trafficwatch: {logs / 'shop.access.log'}, the file followed before this start, "
            "is gone: what was written to it after the last save, if anything, was not "
            "read") in said
    api = f"trafficwatch: {logs / 'api.access.log'}, the file followed before this start, "
    assert (api + "is gone (a new file has that name now): what was written" in said or  # on
            api + "was emptied or replaced since the last save: what was written" in said)  # its
    # inode number (a file system may give it to the new file: nothing tells it from emptied)
    assert "blog.access.log, the file followed before" not in said, said
    assert (f"trafficwatch: {logs / 'news.access.log'}, the file followed before this start, "
            "was emptied or replaced since the last save: what was written to it after the "
            "save, if anything, was not read") in said, said


def test_a_line_dated_ahead_before_the_last_one_is_said_and_its_hour_not_over(tmp_path):
    # a trial: a line dated 2 hours ahead, then one of now: no word of it at start-up, its hour
    # printed "partial": false, the hour between as 0 and over; `counts`, a whole hour
    def line(ts: float) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
        return f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "ua"\n'

    logs = tmp_path / "logs"
    logs.mkdir()
    now = time.time()
    (logs / "access.log").write_text(line(now) + line(now + 2 * 3600) + line(now))
    later = time.strftime("%Y-%m-%dT%H:00:00+00:00", time.gmtime(now + 2 * 3600))
    with follow_into_files(tmp_path, "--no-state", str(logs)) as (proc, out, err):
        assert wait_for(lambda: len(out.read_text().splitlines()) >= 2)
        time.sleep(0.5)
        stop_cleanly(proc)
    printed = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(x["hour"] == later, x["count"], x["partial"]) for x in printed] == [
        (False, 2, True), (True, 1, True)], printed
    assert "trafficwatch: 1 line dated ahead of this machine's clock" in err.read_text()
    once = subprocess.run([sys.executable, "-m", "trafficwatch", "counts", str(logs), "--tz",
                           "UTC"], capture_output=True, text=True, check=True)
    assert f"{later},logs,hits,1,1" in once.stdout.splitlines()  # not over: partial
    # the line's own time, not its hour's start ("latest 20:00 UTC, 1 h 26 min ahead" of a
    # line dated 20:32, an SSH trial)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now + 2 * 3600))
    assert re.search(rf"\(latest {stamp}, (1 h 5\d|2 h 00) min ahead\)", once.stderr), \
        once.stderr


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_follow_prints_hours_in_the_logs_offset_and_csv_when_asked(tmp_path, fmt):
    """Like `counts`: hours in the offset the log wrote them in (they came in UTC), and
    --format csv is CSV rows (it printed JSON lines)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text(
        '1.2.3.4 - - [10/Oct/2026:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua"\n' * 2)
    with follow_into_files(tmp_path, "--no-state", "--format", fmt, str(logs)) as (proc, out, _):
        want = 2 if fmt == "csv" else 1
        wait_for(lambda: len(out.read_text().splitlines()) >= want)
        stop_cleanly(proc)
    got = out.read_text().splitlines()
    if fmt == "csv":
        assert got == ["hour,site,metric,count,partial", "2026-10-10T13:00:00-07:00,logs,hits,2,1"]
    else:
        assert [json.loads(x) for x in got] == [
            {"hour": "2026-10-10T13:00:00-07:00", "site": "logs", "metric": "hits", "count": 2,
             "partial": True}]  # begun at 13:55 (and ended there): as counts marks it


def test_follow_reports_malformed_lines_as_they_come_and_on_the_way_out(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    log.write_text(LINE.format(m=1) * 3)
    with follow_into_files(tmp_path, "--no-state", "--poll", str(logs)) as (proc, _, err):
        time.sleep(1.0)
        with log.open("a") as fh:
            fh.write("garbage \x1b[31m line\n" * 2 + LINE.format(m=2))
        wait_for(lambda: "malformed" in err.read_text())
        stop_cleanly(proc)
    said = err.read_text()
    assert said.count("trafficwatch: malformed, ") == 1, said  # one reason, said once
    assert "\x1b" not in said and "\\x1b[31m" in said  # the example, escaped
    assert "6 lines read, 4 counted, 2 malformed" in said


def test_follow_marks_the_hour_in_progress_partial_as_counts_does(tmp_path):
    # a trial: `counts --follow` printed no `partial` at all, in JSON or CSV, while `counts`
    # marks the hour in progress (and a log's first hour begun inside it)
    now = time.time()
    hour = int(now) // 3600 * 3600
    log = tmp_path / "access.log"
    log.write_text("".join(
        f'1.2.3.4 - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))}] '
        '"GET / HTTP/1.1" 200 1 "-" "ua"\n' for t in range(hour - 2 * 3600, int(now), 60)))
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "--follow",
                             "--no-state", "--tz", "UTC", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # its first pass prints all three hours at once
        os.kill(proc.pid, signal.SIGTERM)
        rows = [json.loads(x) for x in [first, *proc.stdout.read().splitlines()]]
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    if int(time.time()) // 3600 * 3600 != hour:
        pytest.skip("the hour turned while it ran")
    assert [(r["hour"], r["count"], r["partial"]) for r in rows] == [
        (pd.Timestamp(hour - 2 * 3600, unit="s", tz="UTC").isoformat(), 60, False),
        (pd.Timestamp(hour - 3600, unit="s", tz="UTC").isoformat(), 60, False),
        (pd.Timestamp(hour, unit="s", tz="UTC").isoformat(), rows[-1]["count"], True)]


def test_over_long_lines_are_said_once_a_file_and_each_counted(tmp_path):
    # an ops trial: 300 lines of 1 MB from a client printed 161 lines on stderr ("a line longer
    # than 65536 bytes was skipped"), one for each read that split one; a client could fill the
    # journal. Said once a file, as every other reason; each counted as malformed
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    log.write_text(LINE.format(m=1) * 3)
    long = ('1.2.3.4 - - [20/Nov/2026:10:05:00 +0000] "GET /' + "x" * 1_100_000
            + ' HTTP/1.1" 200 1\n')
    with follow_into_files(tmp_path, "--no-state", "--poll", str(logs)) as (proc, _, err):
        time.sleep(1.0)
        for _ in range(4):
            with log.open("a") as fh:
                fh.write(long * 5 + LINE.format(m=2))
            time.sleep(0.3)
        assert wait_for(lambda: "malformed" in err.read_text())
        stop_cleanly(proc)
    said = err.read_text()
    assert said.count("was skipped (line too long)") == 1, said
    assert "27 lines read, 7 counted, 20 malformed" in said, said
