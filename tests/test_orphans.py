"""What a trafficwatch killed with -9 leaves in the temporary folder (a site's counts sent to the
fine-tuning child, a copy of stdin) is removed by the next one: it names its owner's pid."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from trafficwatch.files import sweep_orphans, temp_prefix

LINE = '203.0.113.9 - - [06/May/2024:10:{m:02d}:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n'


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_only_what_a_dead_process_of_ours_left_is_removed_and_never_through_a_link(tmp_path):
    dead, folder = dead_pid(), tmp_path / "tmp"
    folder.mkdir()
    (folder / f"trafficwatch-tune-{dead}-ab12").mkdir()
    (folder / f"trafficwatch-tune-{dead}-ab12" / "series.csv").write_text("hour,count\n")
    (folder / f"trafficwatch-stdin-{dead}-cd34").write_text("a log line\n")
    (folder / f"{temp_prefix('tune')}ef56").mkdir()  # this process's: alive
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (folder / f"trafficwatch-tune-{dead}-link").symlink_to(outside)
    (folder / f"trafficwatch-tune-x{dead}-gh78").mkdir()  # not a pid
    (folder / f"other-{dead}-ij90").mkdir()
    gone = sweep_orphans(folder=str(folder))
    assert sorted(gone) == sorted([f"trafficwatch-tune-{dead}-ab12",
                                   f"trafficwatch-stdin-{dead}-cd34"])
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        f"{temp_prefix('tune')}ef56", f"trafficwatch-tune-{dead}-link",
        f"trafficwatch-tune-x{dead}-gh78", f"other-{dead}-ij90"])
    assert (outside / "keep").read_text() == "x"
    assert sweep_orphans(("stdin",), folder=str(folder / "missing")) == []


def _left_by(pid: int, kind: str) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"trafficwatch-{kind}-{pid}-*"))


def test_a_copy_of_stdin_left_by_kill_9_is_removed_by_the_next_run(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", "counts", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        proc.stdin.write(LINE.format(m=1).encode())  # stdin still open: being copied
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f"trafficwatch-stdin-{proc.pid}-*")):
            assert time.monotonic() < deadline and proc.poll() is None, "no copy of stdin made"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = list(tmp_path.glob(f"trafficwatch-stdin-{proc.pid}-*"))
    assert left  # what a -9 leaves behind
    nxt = subprocess.run([sys.executable, "-m", "trafficwatch", "counts", "-"],
                         input="".join(LINE.format(m=m) for m in range(3)), text=True,
                         capture_output=True, env=env, timeout=60, check=False)
    assert nxt.returncode == 0 and nxt.stdout.count("\n") == 2, nxt.stderr
    assert list(tmp_path.iterdir()) == []  # the orphan gone, and the new copy too


@pytest.mark.parametrize("sig, command", [(signal.SIGTERM, "counts"),
                                         (signal.SIGHUP, "forecast")])
def test_a_copy_of_stdin_is_removed_when_a_signal_stops_the_command(tmp_path, sig, command):
    # a trial: `zcat ... | trafficwatch counts -` over SSH, the session closed (HUP) or the
    # command stopped (TERM): 143 / 129 as documented, and a copy of everything piped so far
    # stayed in /tmp on a server where no app ever starts to sweep it
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "trafficwatch", command, "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        proc.stdin.write("".join(LINE.format(m=m) for m in range(60)).encode())
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f"trafficwatch-stdin-{proc.pid}-*")):
            assert time.monotonic() < deadline and proc.poll() is None, "no copy of stdin made"
            time.sleep(0.05)
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == -sig  # ended by it (a shell says 128 + sig)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(tmp_path.iterdir()) == []


def test_an_orphan_is_swept_by_any_command_that_starts(tmp_path):
    # only the app and commands reading stdin swept them: a server where neither runs kept them
    dead = dead_pid()
    (tmp_path / f"trafficwatch-stdin-{dead}-ab12").write_text(LINE.format(m=1))
    log = tmp_path / "logs" / "access.log"
    log.parent.mkdir()
    log.write_text(LINE.format(m=2))
    got = subprocess.run([sys.executable, "-m", "trafficwatch", "counts", str(log)],
                         capture_output=True, text=True, timeout=60, check=False,
                         env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert got.returncode == 0, got.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="kills by pid (Linux)")
def test_a_fine_tune_folder_left_by_kill_9_is_removed_by_the_next_fine_tune(tmp_path):
    # the app killed with -9 while its child fine-tunes: the folder with the site's counts stays
    fake = tmp_path / "python"  # stands in for the interpreter the child runs under
    fake.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/child; echo 'epoch 1/3'; exec sleep 60\n")
    fake.chmod(0o755)
    script = (
        "import sys\n"
        "import numpy as np, pandas as pd\n"
        "from trafficwatch.engine import tuning\n"
        f"sys.executable = {str(fake)!r}\n"
        "s = pd.Series(np.arange(48.0), index=pd.date_range('2024-05-06', periods=48, freq='h',"
        " tz='UTC'))\n"
        "tuning.fine_tune_in_subprocess(None, s, on_epoch=lambda d, n: print('tuning', flush=True))\n")
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline() == "tuning\n", proc.stderr.read() if proc.poll() else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        if (tmp_path / "child").exists():
            with contextlib.suppress(OSError):
                os.kill(int((tmp_path / "child").read_text()), signal.SIGKILL)
    left = list(tmp_path.glob(f"trafficwatch-tune-{proc.pid}-*"))
    assert left and (left[0] / "series.csv").exists()
    assert sweep_orphans(folder=str(tmp_path)) == [left[0].name]
    assert not left[0].exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_worker_s_signal_leaves_its_parent_s_copy_of_stdin(tmp_path):
    # a review: parse workers forked while a copy of stdin was held inherited the list and the
    # signal handler; the pool's SIGTERM to its workers took the parent's copy away (a
    # traceback, no output)
    from trafficwatch.files import own_temp, remove_own

    mine = tmp_path / "copy"
    mine.write_text("x")
    own_temp(str(mine))
    try:
        pid = os.fork()
        if pid == 0:  # the worker: its way out of a signal
            remove_own()
            os._exit(0)
        os.waitpid(pid, 0)
        assert mine.exists()
        remove_own()  # the process that made it: taken away
        assert not mine.exists()
    finally:
        own_temp(str(mine), held=False)


def test_a_write_killed_half_way_leaves_nothing_once_the_file_is_written_again(tmp_path):
    # a trial: `train` killed with -9 while it saved left `.victim.pt.xxxx.tmp` (512 KiB) and
    # `.victim.npz.xxxx.tmp` beside the model; no later run removed them
    from trafficwatch.files import atomic_write

    dead = 4_194_304 + 7  # past the kernel's largest pid: no such process
    stale = tmp_path / f".m.pt.{dead}.abc123.tmp"
    stale.write_bytes(b"\0" * 1000)
    running = tmp_path / f".m.pt.{os.getpid()}.def456.tmp"  # a write going on: kept
    running.write_bytes(b"")
    other = tmp_path / f".n.pt.{dead}.ghi789.tmp"  # another file's: its own write sweeps it
    other.write_bytes(b"")
    atomic_write(tmp_path / "m.pt", b"model")
    assert (tmp_path / "m.pt").read_bytes() == b"model"
    assert not stale.exists() and running.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.pt", running.name, other.name])
