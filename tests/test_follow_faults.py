"""Exactly-once through crashes: kill -9 at each step of a state commit, rotations between polls."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from trafficwatch.logs.follow import Follower

# One follow session: resume from the state, read with the parser into the series, commit.
SESSION = textwrap.dedent('''
    import os, sys
    from trafficwatch.logs.follow import Follower
    from trafficwatch.logs.formats import get_format
    from trafficwatch.logs.parse import Parser
    from trafficwatch.counting.series import HourlySeries
    from trafficwatch.counting.state import State, StateStore

    logdir, state_path, crash = sys.argv[1], sys.argv[2], sys.argv[3]
    store = StateStore(state_path)
    st = store.load()
    series = HourlySeries.from_dict(st.counts) if st else HourlySeries()
    parser, bad = Parser(get_format("combined")), [0]

    def on_data(key, chunk):
        res = parser.feed(chunk)
        series.add(key.site, res.records)
        bad[0] += sum(res.malformed.counts.values())

    if crash != "none":
        when, step = crash.split(":")
        orig = getattr(StateStore, step)
        def wrapped(self, *a, _orig=orig, _when=when):
            if _when == "before":
                os._exit(9)
            out = _orig(self, *a)
            os._exit(9)
        setattr(StateStore, step, wrapped)
    f = Follower([logdir], on_data, poll=True, resume=st.files if st else None, settle=0)
    while f.check_now():
        pass
    with f.lock:
        store.commit(State([logdir], f.offsets(), series.to_dict()))
    print(series.total())
''')

LINE = ('203.0.113.%d - - [24/Nov/2026:0%d:%02d:00 +0000] "GET /p%d HTTP/1.1" 200 5 "-" '
        '"Mozilla/5.0"\n')


def append(path, start, n):
    """n well-formed lines and one malformed line (not counted)."""
    with open(path, "a") as h:
        h.write("".join(LINE % (i % 250, (i // 60) % 10, i % 60, i)
                        for i in range(start, start + n)))
        h.write("not a log line at all\n")


def session(tmp_path, crash="none"):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    p = subprocess.run([sys.executable, "-c", SESSION, str(tmp_path / "logs"),
                        str(tmp_path / "state.json"), crash], capture_output=True, text=True,
                       check=False, env=env, timeout=60)
    return p.returncode, p.stdout.strip()


CRASHES = ["before:_write_temp", "after:_write_temp", "after:_replace", "after:_fsync_dir"]


@pytest.mark.parametrize("crash", CRASHES)
def test_kill_at_each_commit_step_then_restart_counts_each_line_once(tmp_path, crash):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "access.log"
    append(log, 0, 300)
    assert session(tmp_path) == (0, "300")
    append(log, 300, 200)
    rc, _ = session(tmp_path, crash)
    assert rc == 9
    os.rename(log, str(log) + ".1")  # and a rotation while it is down
    append(log, 500, 100)
    assert session(tmp_path) == (0, "600")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # stale temp removed


def test_corrupt_state_rebuilds_the_same_totals_from_the_logs(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "access.log", 0, 250)
    assert session(tmp_path) == (0, "250")
    (tmp_path / "state.json").write_bytes(b"\0\0garbage")
    append(logs / "access.log", 250, 50)
    assert session(tmp_path) == (0, "300")
    assert list(tmp_path.glob("state.json.corrupt-*"))


def lines_of(path, tag, n):
    data = b"".join(b"%s %05d\n" % (tag, i) for i in range(n))
    with open(path, "ab") as h:
        h.write(data)
    return data.split(b"\n")[:-1]


def test_rotation_twice_between_two_polls(tmp_path):
    got: list[bytes] = []
    f = Follower([str(tmp_path)], lambda k, b: got.extend(b.split(b"\n")[:-1]), poll=True)
    log = tmp_path / "access.log"
    want = lines_of(log, b"a", 100)
    f.check_now()
    want += lines_of(log, b"a2", 5)
    os.rename(log, str(log) + ".1")
    want += lines_of(log, b"b", 30)
    os.rename(str(log) + ".1", str(log) + ".2")
    os.rename(log, str(log) + ".1")
    want += lines_of(log, b"c", 40)
    while f.check_now():
        pass
    f.check_now()
    assert sorted(got) == sorted(want)
    f.stop()


def test_inode_reuse_with_new_content_while_stopped(tmp_path):
    from trafficwatch.logs.identity import FileRecord

    log = tmp_path / "access.log"
    lines_of(log, b"x", 10)
    st = os.stat(log)
    # A saved record for this very inode, but of other content: its tail does not match.
    fake = FileRecord(st.st_dev, st.st_ino, "0" * 32, 5, 50, "0" * 32, str(log))
    got: list[bytes] = []
    f = Follower([str(tmp_path)], lambda k, b: got.extend(b.split(b"\n")[:-1]), poll=True,
                 resume=[fake])
    f.check_now()
    assert len(got) == 10


def test_restart_does_not_decompress_finished_archives_again(tmp_path):
    import gzip

    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(b"old line\n" * 5000))
    (tmp_path / "access.log").write_bytes(b"live line\n" * 3)
    got: list[bytes] = []
    events: list = []
    kw = {"poll": True, "settle": 0, "on_event": events.append}
    f = Follower([str(tmp_path)], lambda k, b: got.extend(b.split(b"\n")[:-1]), **kw)
    f.check_now()
    assert len(got) == 5003
    saved = f.offsets()
    f.stop()
    got.clear()
    events.clear()
    f = Follower([str(tmp_path)], lambda k, b: got.extend(b.split(b"\n")[:-1]), resume=saved, **kw)
    f.check_now()
    assert got == []
    assert [e.name for e in events if e.kind == "resumed"] == [str(tmp_path / "access.log")]
    assert any(r.done and r.path.endswith(".gz") and r.offset == 45000 for r in f.offsets())
