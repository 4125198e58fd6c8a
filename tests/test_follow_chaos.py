"""Randomised faults over two sites: every line written counted once, under its own site.

The in-process run is bench/follow_chaos.py with a small budget (longer: run that script); the
subprocess run kills a real `counts --follow` with SIGKILL at random moments while logs rotate.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chaos():
    spec = importlib.util.spec_from_file_location("follow_chaos", ROOT / "bench" / "follow_chaos.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["follow_chaos"] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_random_fault_sequences_lose_double_and_misattribute_nothing(capsys):
    r = chaos().run(200, seed=11, steps=30)
    with capsys.disabled():
        print(f"\nfollow chaos: {r.sequences} sequences, {r.written} lines written, {r.counted} "
              f"counted, {r.kills} kills; lost {r.lost}, doubled {r.doubled}, misattributed "
              f"{r.misattributed}; excused: destroyed unread {r.unread}, in a kill window "
              f"{r.kill_window}, while down {r.while_down}")
    assert r.sequences == 200 and r.kills > 100
    assert r.failures == []
    assert (r.lost, r.doubled, r.misattributed, r.garbled) == (0, 0, 0, 0)
    assert r.counted + r.unread + r.kill_window + r.while_down == r.written


def test_savelog_naming_the_newest_rotation_dot_0_loses_and_doubles_nothing():
    """Debian's savelog moves the log to access.log.0 (kept plain) and compresses the .0 before
    it to .1.gz: a .0 is a rotation, not a second live log or a site of its own."""
    r = chaos().run(150, seed=11, steps=30, savelog=True)
    assert r.sequences == 150 and r.kills > 100
    assert r.failures == []
    assert r.counted + r.unread + r.kill_window + r.while_down == r.written


LINE = '198.51.100.{i} - - [20/Nov/2026:10:{m:02d}:{s:02d} +0000] "GET /{site}/{n} HTTP/1.1" 200 1 "-" "ua"\n'


class Writer:
    """Appends to two sites' logs and rotates them, never destroying a line not yet read."""

    def __init__(self, logs: Path, rng: random.Random) -> None:
        self.logs, self.rng, self.n = logs, rng, 0
        self.written = {"a.example": 0, "b.example": 0}
        self.rotations = {"a.example": 0, "b.example": 0}

    def append(self, site: str, k: int) -> None:
        with open(self.logs / f"{site}.log", "a") as h:
            for _ in range(k):
                self.n += 1
                h.write(LINE.format(i=self.n % 250, m=self.n // 60 % 60, s=self.n % 60, site=site,
                                    n=self.n))
        self.written[site] += k

    def step(self) -> None:
        site = self.rng.choice(list(self.written))
        live = self.logs / f"{site}.log"
        op = self.rng.random()
        if op < 0.7 or not live.exists():
            self.append(site, self.rng.randrange(1, 40))
            return
        self.rotations[site] += 1
        old = self.logs / f"{site}.log.{self.rotations[site]}"  # a new name each time
        if op < 0.8:
            os.rename(live, old)
        elif op < 0.9:  # copytruncate, the copy seen (or not) before the truncation
            shutil.copyfile(live, old)
            time.sleep(self.rng.choice([0, 0.3]))
            os.truncate(live, 0)
        else:  # copytruncate, then the copy compressed and removed
            shutil.copyfile(live, old)
            os.truncate(live, 0)
            with open(old, "rb") as src, gzip.open(f"{old}.gz", "wb") as gz:
                gz.write(src.read())
            os.unlink(old)


def rows(proc: subprocess.Popen, timeout: float):
    """The JSON lines `proc` prints, as they come, for up to `timeout` seconds."""
    fd, buf, deadline = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            got = os.read(fd, 65536)
            if not got:
                return
            buf += got
            *lines, buf = buf.split(b"\n")
            for line in lines:
                yield json.loads(line)


def counts(proc: subprocess.Popen, want: dict[str, int], timeout: float) -> dict[str, int]:
    """The latest printed count per site, once it is `want` (or at the timeout)."""
    got: dict[str, int] = {}
    for row in rows(proc, timeout):
        got[row["site"]] = row["count"]
        if got == want:
            break
    return got


def test_counts_follow_killed_9_at_random_moments_counts_every_line_once(tmp_path):
    rng = random.Random(5)
    logs, state = tmp_path / "logs", tmp_path / "state.json"
    logs.mkdir()
    w = Writer(logs, rng)
    w.append("a.example", 50)
    w.append("b.example", 30)
    cmd = [sys.executable, "-m", "trafficwatch", "counts", "--follow", "--state", str(state),
           str(logs)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def start() -> subprocess.Popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True, env=env)

    for _ in range(4):
        proc = start()
        try:
            counts(proc, {"a.example": -1}, timeout=rng.uniform(1.0, 2.5))  # started, reading
            for _ in range(rng.randrange(5, 25)):
                w.step()
                time.sleep(rng.uniform(0, 0.05))
        finally:
            proc.send_signal(signal.SIGKILL)  # at a random moment of reading what was written
            proc.wait(timeout=10)
    proc = start()
    try:
        assert counts(proc, w.written, timeout=20) == w.written
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
