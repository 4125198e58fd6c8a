"""State files are input like any other: a valid-JSON corruption is moved aside and the counts are
rebuilt from the logs; a file that is not a regular file of ours, or that others may write, is
refused in one line (status 2), never read, blocked on or trusted."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trafficwatch.counting.ingest import IngestOptions
from trafficwatch.counting.series import HourlySeries
from trafficwatch.engine.live import LiveFeed
from trafficwatch.engine.sink import Sink, SourceConfig

LINE = '1.2.3.{i} - - [20/Nov/2026:1{h}:{m:02d}:00 +0000] "GET /x HTTP/1.1" 200 1 "-" "ua"\n'
N = 300


def follow_once(logs: Path, state: Path) -> tuple[LiveFeed, Sink]:
    ctx = Sink(SourceConfig([str(logs)], IngestOptions()), HourlySeries(track_visitors=False))
    feed = LiveFeed(ctx, state, start_thread=False)
    feed.close()
    return feed, ctx


@pytest.fixture
def saved(tmp_path) -> tuple[Path, Path, dict]:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text("".join(LINE.format(i=i % 9, h=i % 5, m=i % 60)
                                             for i in range(N)))
    state = tmp_path / "state.json"
    follow_once(logs, state)
    return logs, state, json.loads(state.read_text())


def _set(d: dict, path: tuple, value: object) -> dict:
    d = copy.deepcopy(d)
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return d


SITE = ("counts", "series", "sites", "logs")
CORRUPTIONS = {  # each valid JSON, each crashed, hung or printed wrong counts before
    "negative count": (SITE + ("cells", 0, 8), -70),
    "count beyond int64": (SITE + ("cells", 0, 8), 2 ** 64),
    "float count": (SITE + ("cells", 0, 8), 1.5),
    "infinite hour": (SITE + ("hours", 0), float("inf")),
    "negative hour": (SITE + ("hours", 0), -1),
    "huge coverage": (SITE + ("coverage", 0, 1), 10 ** 12),
    "cells as a dict": (SITE + ("cells",), {"a": 1}),
    "sites as a list": (("counts", "series", "sites"), [1]),
    "negative lines": (("counts", "lines"), -5),
    "lines as text": (("counts", "lines"), "350"),
    "malformed count negative": (("counts", "malformed"), {"bad date": -3}),
    "offset negative": (("files", 0, "offset"), -1),
    "offset huge": (("files", 0, "offset"), 10 ** 30),
    "offset as float": (("files", 0, "offset"), 1.5),
    "fp_len as text": (("files", 0, "fp_len"), "x"),
    "fingerprint as a list": (("files", 0, "fingerprint"), []),
    "first line not a digest": (("files", 0, "first_line"), "\x1b[2J"),
    "record as a list": (("files", 0), [1, 2]),
    "files as a dict": (("files",), {}),
    "version true": (("version",), True),
    "counts as a list": (("counts",), []),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_a_valid_json_corruption_is_moved_aside_and_counts_rebuilt(saved, name):
    logs, state, data = saved
    path, value = CORRUPTIONS[name]
    state.write_text(json.dumps(_set(data, path, value)))
    feed, ctx = follow_once(logs, state)
    s = ctx.series.series("logs", "hits")
    assert (s.dropna() >= 0).all() and s.sum() == N  # rebuilt from the logs, nothing negative
    assert "moved to" in feed.notice
    assert [p.name for p in state.parent.iterdir() if ".corrupt-" in p.name or ".unused-" in p.name]


def test_random_corruptions_never_crash_and_never_count_below_zero(saved):
    """80 seeded corruptions of leaves (wrong types, signs, sizes): no exception, no negative."""
    import random

    logs, state, data = saved
    rng = random.Random(11)
    leaves: list[tuple] = []

    def walk(node: object, path: tuple) -> None:
        leaves.append(path)
        items = node.items() if isinstance(node, dict) else enumerate(node[:2]) \
            if isinstance(node, list) else ()
        for k, v in items:
            walk(v, (*path, k))

    walk(data, ())
    bad = [-1, -(10 ** 30), 10 ** 30, 2 ** 63, 1.5, "x", None, [], {}, True, [1], {"a": 1},
           float("nan"), float("inf")]
    for _ in range(80):
        path = rng.choice(leaves[1:])
        state.write_text(json.dumps(_set(data, path, rng.choice(bad))))
        _, ctx = follow_once(logs, state)
        for site in ctx.series.sites():
            assert (ctx.series.series(site, "hits").dropna() >= 0).all(), path


def run_follow(state: str, logs: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trafficwatch", "counts", "--follow", "--state",
                           state, str(logs)], capture_output=True, text=True, timeout=20,
                          check=False)


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "directory"])
def test_a_state_path_that_is_not_a_regular_file_is_refused_at_once(tmp_path, saved, kind):
    logs = saved[0]
    path = tmp_path / "not-a-file"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path(kind)
    proc = run_follow(str(path), logs)
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "use a regular file" in line


def test_a_state_file_others_may_write_is_not_trusted(saved):
    logs, state, _ = saved
    state.chmod(0o666)
    proc = run_follow(str(state), logs)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert "writable by others" in line and "not trusted" in line


def test_a_state_file_of_another_user_is_not_trusted(tmp_path, saved):
    logs, state, _ = saved
    if os.geteuid() == 0:
        os.chown(state, 65534, 65534)
    else:
        state = Path("/etc/hostname")  # a root-owned regular file
    proc = run_follow(str(state), logs)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert "not to you" in line and "not trusted" in line


def test_the_app_refuses_an_untrusted_state_before_its_screen_opens(tmp_path, saved):
    logs = saved[0]
    proc = subprocess.run([sys.executable, "-m", "trafficwatch", "--state", "/dev/zero",
                           str(logs)], capture_output=True, text=True, timeout=20, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert "/dev/zero is a device" in line


@pytest.mark.skipif(os.geteuid() != 0, reason="/proc/version is yours only as root")
def test_a_state_path_that_cannot_be_moved_aside_names_the_state_not_the_log(saved):
    # a trial: --state /proc/version said "cannot follow LOG: No such file or directory"
    proc = run_follow("/proc/version", saved[0])
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("trafficwatch: state file /proc/version is not a state (") and \
        "cannot be moved aside" in line and "--no-state" in line


@pytest.mark.parametrize("before", [False, True])
def test_a_save_that_fails_is_said_once_with_what_a_restart_does(saved, monkeypatch, capsys,
                                                                  before):
    # a trial: on a full disk the same line three times, two without "trafficwatch: ", and "a
    # restart will read the logs again" where it resumed from the last save that worked
    import argparse
    import errno
    import threading

    from trafficwatch.cli.follow import run_follow as follow
    from trafficwatch.cli.main import build_parser
    from trafficwatch.counting.state import StateStore

    logs, state, _ = saved
    if not before:
        state.unlink()

    def full(self, st):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(StateStore, "commit", full)
    args = build_parser().parse_args(["counts", "--follow", "--state", str(state), str(logs)])
    assert isinstance(args, argparse.Namespace)
    stop = threading.Event()
    stop.set()  # one pass, then the last save (which fails again)
    assert follow(args, stop) == 0
    err = capsys.readouterr().err
    then = ("a restart resumes from the last save that worked" if before else
            "a restart will read the logs again")
    assert err.count("cannot save state") == 1, err
    assert (f"trafficwatch: cannot save state to {state}: No space left on device; {then} (use "
            "--state PATH or --no-state)") in err.splitlines()


def test_a_state_written_without_copying_its_counts_reads_back_whole(tmp_path):
    """State.to_json no longer deep-copies the counts (asdict took 5.6 s of `q` for 300 sites):
    every field is still written, and the file reads back as the state it was."""
    import dataclasses

    from trafficwatch.counting.state import State, StateStore
    from trafficwatch.logs.identity import FileRecord

    counts = {"series": {"a": [1, 2, {"x": [3]}]}, "lines": 7}
    state = State(["/logs"], [FileRecord(1, 2, "f" * 32, 1024, 99, "0" * 32, "/logs/a.log")],
                  counts, saved_at=5.0)
    assert state.to_json() == dataclasses.asdict(state)
    store = StateStore(tmp_path / "s.json")
    store.commit(state)
    back = store.load()
    assert back.paths == state.paths and back.files == state.files
    assert back.counts == counts


def test_a_state_saved_before_first_lines_were_kept_is_read_as_it_was(saved):
    # FileRecord.first_line came later: a state without it resumes, nothing counted again
    logs, state, data = saved
    for rec in data["files"]:
        assert rec.pop("first_line")  # (kept now, a digest)
    state.write_text(json.dumps(data))
    feed, ctx = follow_once(logs, state)
    assert ctx.series.series("logs", "hits").sum() == N and "resumed from" in feed.notice
