"""`counts --follow`: a JSON line per changed hour, end to end through a real process."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

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
                         "metric": "hits", "count": 3}
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
    log.write_text(LINE.format(m=1) * 3)
    cmd = [sys.executable, "-m", "trafficwatch", "counts", "--follow", "--poll", "--state",
           str(state), str(logs)]
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
            err = proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert state.exists()
    assert "resumed from" in err and "3 lines counted before" in err


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
