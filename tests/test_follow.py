"""Follower fault matrix, with the inotify and the polling back ends: each line delivered once."""
from __future__ import annotations

import gzip
import os
import shutil
import threading
import time
import zlib
from collections import Counter

import pytest

from trafficwatch.counting.state import State, StateStore
from trafficwatch.logs.follow import Follower


def wait_for(cond, timeout=10.0):
    """Poll `cond` until true; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Run:
    """A started Follower that collects lines and events."""

    def __init__(self, paths, mode, resume=None, **kw):
        self.lines: list[bytes] = []
        self.events = []
        self._lk = threading.Lock()
        kw.setdefault("rescan_interval", 0.3)
        self.f = Follower([str(p) for p in paths], self._data, poll=mode == "poll",
                          poll_interval=0.02, on_event=self.events.append, resume=resume, **kw)
        self.f.start()

    def _data(self, key, chunk):
        assert chunk.endswith(b"\n")
        with self._lk:
            self.lines.extend(chunk.split(b"\n")[:-1])

    def expect(self, written):
        """Wait until every written line arrived, then check none came twice or extra."""
        want = Counter(written)
        wait_for(lambda: len(self.lines) >= len(written))
        time.sleep(0.1)
        assert Counter(self.lines) == want
        assert len(self.lines) == len(written)

    def kinds(self):
        return [e.kind for e in self.events]

    def stop(self):
        self.f.stop()


@pytest.fixture(params=["inotify", "poll"])
def mode(request):
    return request.param


class Log:
    """Writes numbered lines to a file and remembers them."""

    def __init__(self, path, tag="a"):
        self.path, self.tag, self.n, self.written = path, tag, 0, []

    def write(self, k, path=None):
        lines = [b"%s %06d padding to make lines a bit longer" % (self.tag.encode(), self.n + i)
                 for i in range(k)]
        self.n += k
        with open(path or self.path, "ab") as h:
            h.write(b"".join(x + b"\n" for x in lines))
        self.written += lines
        return lines


@pytest.fixture
def log(tmp_path):
    return Log(tmp_path / "access.log")


@pytest.fixture(params=["dir", "file"])
def target(request, tmp_path, log):
    """What is followed: the directory, or the log named alone (its rotations are then found
    beside it, and read only for what was written to it)."""
    return tmp_path if request.param == "dir" else log.path


def test_appended_lines_arrive_once(tmp_path, log, mode):
    log.write(50)
    r = Run([tmp_path], mode)
    r.expect(log.written)
    log.write(30)
    r.expect(log.written)
    r.stop()


@pytest.mark.parametrize("late", ["at once", "after the new log was read"])
def test_rename_and_create_rotation_reads_old_file_to_its_end(tmp_path, log, mode, target,
                                                              late):
    # late writes after the new log was read: the old one was read to its end and closed by
    # then, and a log named alone lost them (37 of 40, a trial)
    log.write(40)
    r = Run([target], mode)
    r.expect(log.written)
    os.rename(log.path, str(log.path) + ".1")
    if late != "at once":
        log.write(20)
        r.expect(log.written)
    log.write(7, path=str(log.path) + ".1")  # the server still writes the old file for a moment
    log.write(20)
    r.expect(log.written)
    assert "skipped" not in r.kinds()  # the name missing for a moment is a rotation, no fault
    r.stop()


def test_a_rotation_written_late_that_cannot_be_opened_is_not_looked_at_for_ever(
        tmp_path, log, monkeypatch):
    # a rotation read to its end, closed, then written (late writes) and made unreadable: its
    # size, unlike the one read to, asked for a scan every LATE_SCAN_S for as long as it ran
    import trafficwatch.logs.follow as follow_mod
    monkeypatch.setattr(follow_mod, "LATE_SCAN_S", 0.02)
    log.write(40)
    r = Run([tmp_path], "inotify", rescan_interval=60.0)  # (a rotation's rename: inotify)
    r.expect(log.written)
    one = str(log.path) + ".1"
    os.rename(log.path, one)
    log.write(20)
    r.expect(log.written)
    time.sleep(0.5)  # the .1 read to its end and closed
    tries = []

    def refusing(path, *a, **kw):
        if str(path) == one:
            tries.append(path)
            raise PermissionError(13, "Permission denied")
        return open(path, *a, **kw)

    monkeypatch.setattr(follow_mod, "open", refusing, raising=False)
    with open(one, "ab") as h:
        h.write(b"late line\n")
    wait_for(lambda: "error" in r.kinds())
    time.sleep(1.0)
    assert len(tries) <= 3, len(tries)  # once for the write (twice: inotify says two things)
    r.stop()


@pytest.mark.parametrize("suffix", ["-20261206091031", "-2026-12-06-09"])
def test_a_log_named_alone_copytruncated_to_a_dated_name_loses_nothing(tmp_path, log, mode,
                                                                       suffix):
    # a review: rotations dated -%Y-%m-%d-%H were found in a folder, not beside a log named
    # alone: the lines written before copytruncate's copy were lost (50 of 55)
    log.write(40)
    r = Run([log.path], mode)
    r.expect(log.written)
    log.write(5)  # copytruncate: lines written before the copy, read from it
    shutil.copyfile(log.path, str(log.path) + suffix)
    os.truncate(log.path, 0)
    log.write(10)
    r.expect(log.written)
    os.rename(log.path, str(log.path) + ".0")  # and a rename, written to once the new one is read
    log.write(20)
    r.expect(log.written)
    log.write(7, path=str(log.path) + ".0")
    r.expect(log.written)
    r.stop()


def test_a_log_named_alone_is_followed_without_its_older_rotations(tmp_path, log, mode):
    older = Log(tmp_path / "access.log.1", tag="old")
    older.write(30)
    with gzip.open(tmp_path / "access.log.2.gz", "wb") as g:
        g.write(b"".join(b"older %d\n" % i for i in range(30)))
    log.write(10)
    r = Run([log.path], mode)
    r.expect(log.written)
    os.rename(tmp_path / "access.log.1", tmp_path / "access.log.3")  # rotated on, still unread
    os.rename(log.path, tmp_path / "access.log.1")
    log.write(5)
    older.write(4, path=tmp_path / "access.log.3")  # written to: still not the log named
    time.sleep(0.8)  # two rescans
    r.expect(log.written)
    r.stop()


def test_two_rotations_between_two_looks_lose_nothing(tmp_path, log, mode, target):
    # a trial: a file named alone, rotated twice before the follower looked again (twice while
    # it was stopped, or two renames between two scans): the file in the middle, never seen
    # under the name, was never read (9 lines of 11)
    log.write(20)
    r = Run([target], mode)
    r.expect(log.written)
    base = str(log.path)
    with r.f.lock:  # no pass in between
        log.write(3)
        os.rename(base, base + ".1")
        log.write(4)  # the middle file: under the name for a moment only
        os.rename(base + ".1", base + ".2")
        os.rename(base, base + ".1")
        log.write(2)
    r.expect(log.written)
    r.stop()


def test_two_rotations_while_stopped_lose_nothing(tmp_path, log, mode, target):
    store = StateStore(tmp_path / "st" / "s.json")
    old = Log(tmp_path / "access.log.1", tag="old")  # there before: not the log named's
    old.write(9)
    log.write(5)
    r = Run([target], mode)
    r.expect(log.written + (old.written if target == tmp_path else []))
    commit(store, r, [target])
    r.stop()
    base = str(log.path)
    os.rename(base + ".1", base + ".3")  # logrotate, twice: the oldest first
    log.write(3)
    os.rename(base, base + ".1")
    log.write(2)
    os.rename(base + ".1", base + ".2")
    os.rename(base, base + ".1")
    log.write(1)
    r = Run([target], mode, resume=store.load().files)
    r.expect(log.written[5:])  # what was written while stopped, in both rotations, once
    r.stop()


def test_copytruncate_restarts_from_zero_without_recounting(tmp_path, log, mode, target):
    log.write(40)
    r = Run([target], mode)
    r.expect(log.written)
    log.write(5)  # not read yet when copied: read from the copy, once
    shutil.copyfile(log.path, str(log.path) + ".1")
    os.truncate(log.path, 0)
    log.write(10)
    r.expect(log.written)
    assert "truncated" in r.kinds()
    r.stop()


def test_copytruncate_copy_seen_half_written_is_not_read_from_its_start(tmp_path, log, mode,
                                                                        target):
    log.write(400)
    r = Run([target], mode)
    r.expect(log.written)
    data = log.path.read_bytes()
    with open(str(log.path) + ".1", "wb") as copy:  # the copy, caught by a scan half-way
        copy.write(data[: len(data) // 2])
        copy.flush()
        time.sleep(0.5)  # inotify's create event and a rescan both happen meanwhile
        copy.write(data[len(data) // 2:])
    os.truncate(log.path, 0)
    log.write(10)
    r.expect(log.written)
    r.stop()


def test_a_file_gone_between_its_listing_and_its_opening_is_no_error(tmp_path, log, mode,
                                                                    monkeypatch):
    # a trial's logrotate every 1.5 s: "access.log.3.gz: cannot read (No such file or
    # directory); will retry" of a file renamed between the look and the open, nothing lost
    from trafficwatch.logs import follow as follow_mod

    real, gone = follow_mod.open_content, []

    def vanished_once(path, *a, **kw):
        if not gone:
            gone.append(path)
            raise FileNotFoundError(2, "No such file or directory", path)
        return real(path, *a, **kw)

    monkeypatch.setattr(follow_mod, "open_content", vanished_once)
    log.write(20)
    r = Run([tmp_path], mode)
    r.expect(log.written)  # found again at the next look
    assert gone and "error" not in r.kinds(), r.events
    r.stop()


def test_truncation_to_zero_then_regrowth_past_old_size(tmp_path, log, mode):
    log.write(20)
    r = Run([tmp_path], mode)
    r.expect(log.written)
    new = [b"new %06d, a longer line than the ones before it" % i for i in range(60)]
    with r.f.lock:  # truncated and regrown past the old size between two passes
        log.path.write_bytes(b"".join(x + b"\n" for x in new))
    r.expect(log.written + new)
    assert "truncated" in r.kinds()
    r.stop()


def test_compressed_rotation_is_recognised_as_read(tmp_path, log, mode, target):
    log.write(100)
    r = Run([target], mode)
    r.expect(log.written)
    os.rename(log.path, str(log.path) + ".1")
    log.write(10)
    r.expect(log.written)
    with open(str(log.path) + ".1", "rb") as src, gzip.open(str(log.path) + ".2.gz", "wb") as g:
        g.write(src.read())
    os.unlink(str(log.path) + ".1")
    log.write(5)
    wait_for(lambda: "resumed" in r.kinds())  # the archive is looked at once it settles
    r.expect(log.written)
    r.stop()


def test_partial_line_is_held_until_its_newline(tmp_path, log, mode):
    log.write(3)
    with open(log.path, "ab") as h:
        h.write(b"half a li")
    r = Run([tmp_path], mode)
    r.expect(log.written)
    with open(log.path, "ab") as h:
        h.write(b"ne\n")
    log.written.append(b"half a line")
    r.expect(log.written)
    r.stop()


def test_one_mib_line_is_skipped_and_reported_with_flat_memory(tmp_path, log, mode):
    log.write(3)
    with open(log.path, "ab") as h:
        h.write(b"x" * (1 << 20) + b"\n")
    log.write(3)
    r = Run([tmp_path], mode)
    r.expect(log.written)
    assert r.kinds().count("line_too_long") == 1
    r.stop()


@pytest.mark.parametrize("ends", [True, False])
def test_a_line_too_long_across_reads_is_skipped_once_never_read_as_a_truncation(
        tmp_path, log, mode, ends):
    # a line longer than one read (4 MiB; here max_line_bytes 4 KiB, written in 3 pieces),
    # with or without its newline yet (a crash can leave a run of NULs): the follower read the
    # bytes before it as changed, "truncated ... reading from 0", and counted the file again and
    # again for as long as it ran
    log.write(10)
    r = Run([tmp_path], mode, max_line_bytes=4096)
    r.expect(log.written)
    for _ in range(3):
        with open(log.path, "ab") as h:
            h.write(b"\x00" * 3000)
        time.sleep(0.15)
    if ends:
        with open(log.path, "ab") as h:
            h.write(b"\n")
        log.write(5)
    time.sleep(0.5)
    r.expect(log.written)
    assert "truncated" not in r.kinds()
    assert r.kinds().count("line_too_long") == 1
    r.stop()


def test_a_million_line_burst_arrives_in_bounded_chunks(tmp_path, mode):
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    sizes = []
    got = [0]
    f = Follower([str(tmp_path)], lambda k, b: (sizes.append(len(b)), got.__setitem__(
        0, got[0] + b.count(b"\n"))), poll=mode == "poll", poll_interval=0.02)
    f.start()
    with open(path, "ab") as h:
        h.write(b"%d\n" % 7 * 1_000_000)
    wait_for(lambda: got[0] >= 1_000_000, timeout=20)
    f.stop()
    assert got[0] == 1_000_000
    assert max(sizes) <= 1 << 20


def test_directory_that_appears_later(tmp_path, mode):
    d = tmp_path / "later" / "logs"
    r = Run([d], mode)
    time.sleep(0.1)
    d.mkdir(parents=True)
    log = Log(d / "access.log")
    log.write(12)
    r.expect(log.written)
    assert "skipped" in r.kinds()
    r.stop()


def test_file_replaced_by_a_directory_or_fifo_is_reported_not_fatal(tmp_path, log, mode):
    log.write(10)
    r = Run([log.path], mode)
    r.expect(log.written)
    os.unlink(log.path)
    os.mkfifo(log.path)
    wait_for(lambda: "skipped" in r.kinds())
    os.unlink(log.path)
    log.write(4)
    r.expect(log.written)
    r.stop()


def test_deleted_and_recreated_file_is_read_from_its_start(tmp_path, log, mode):
    log.write(30)
    r = Run([tmp_path], mode)
    r.expect(log.written)
    os.unlink(log.path)
    log.write(8)  # may get the same inode number back
    r.expect(log.written)
    r.stop()


def test_two_files_with_identical_first_kib_are_both_counted(tmp_path, mode):
    head = b"".join(b"same header line %04d ..............................\n" % i
                    for i in range(30))
    (tmp_path / "a.access.log").write_bytes(head + b"only in a\n")
    r = Run([tmp_path], mode)
    wait_for(lambda: len(r.lines) == 31)
    (tmp_path / "b.access.log").write_bytes(head + b"only in b\n")
    wait_for(lambda: len(r.lines) >= 62)
    time.sleep(0.1)
    assert len(r.lines) == 62 and r.lines.count(b"only in b") == 1
    r.stop()


def test_corrupt_and_still_being_written_gzip_read_to_the_break(tmp_path, mode):
    full = gzip.compress(b"".join(b"gz line %05d\n" % i for i in range(5000)))
    other = gzip.compress(b"".join(b"gz other %05d\n" % i for i in range(5000)))
    (tmp_path / "access.log.2.gz").write_bytes(full[: len(full) // 2])
    # not a copy of .2.gz (its own content), corrupt after 200 bytes
    (tmp_path / "access.log.3.gz").write_bytes(other[:200] + b"\0garbage" * 50)
    r = Run([tmp_path], mode)
    wait_for(lambda: r.kinds().count("archive_error") == 2)
    assert all(x.startswith((b"gz line ", b"gz other ")) for x in r.lines)
    expected = set()
    for blob in (full[: len(full) // 2], other[:200]):
        part = zlib.decompressobj(wbits=31).decompress(blob)
        expected |= set(part[: part.rfind(b"\n")].split(b"\n"))  # every complete line
    assert set(r.lines) == expected and len(r.lines) == len(expected) > 2000
    r.stop()


def test_a_last_line_whose_newline_never_comes_counts_once_the_file_is_quiet(tmp_path, log,
                                                                             mode):
    """A log whose writer crashed mid-line (or cut by hand): `counts` counted its last line,
    and the app, `counts --follow` and the agent held it for ever (a trial: 1 line short). Once
    the file has been left unwritten for `last_line_after` seconds, it is a line; a line still
    being written (the test above) waits for its newline."""
    log.write(3)
    with open(log.path, "ab") as h:
        h.write(b"the last line")
    os.utime(log.path, (time.time() - 5, time.time() - 5))
    r = Run([tmp_path], mode, last_line_after=2.0)
    r.expect([*log.written, b"the last line"])
    log.write(2)  # written again later: its lines come as ever, the last one not again
    r.expect([*log.written[:3], b"the last line", *log.written[3:]])
    with open(log.path, "ab") as h:  # a last line again, and then its newline after all: the
        h.write(b"late newline")  # newline ends that line, not another, empty one (a trial:
    os.utime(log.path, (time.time() - 5, time.time() - 5))  # "3 lines read, 2 counted")
    r.expect([*log.written[:3], b"the last line", *log.written[3:], b"late newline"])
    with open(log.path, "ab") as h:
        h.write(b"\n")
    log.write(1)
    r.expect([*log.written[:3], b"the last line", *log.written[3:5], b"late newline",
              log.written[5]])
    r.stop()


def test_a_last_line_without_its_newline_counts_after_the_log_is_rotated_away(tmp_path, log,
                                                                              mode):
    """An ops trial: a log renamed to access.log.2 while its writer was mid-line, never written
    again: followed, that line was never counted (152 of 153, where `counts` and a restart
    counted it). It is a line once the file has been unwritten `last_line_after` seconds, as
    in the log itself."""
    log.write(3)
    r = Run([tmp_path], mode, last_line_after=1.5)
    r.expect(log.written)
    with open(log.path, "ab") as h:
        h.write(b"cut short")
    time.sleep(0.3)
    os.rename(log.path, tmp_path / "access.log.2")
    r.expect([*log.written, b"cut short"])
    r.stop()


def test_a_server_writing_a_line_at_a_time_does_not_wake_the_follower_at_each(tmp_path):
    """An ops trial: nginx without access_log's buffer= writes each request's line as it ends;
    each write woke the follower through inotify, and the agent took 47 % of a core at 1,000
    lines/s (14 % with --poll). Writes are read at each poll; inotify wakes it only for files
    that come and go."""
    path = tmp_path / "access.log"
    path.write_bytes(b"")
    r = Run([tmp_path], "inotify")
    wakes = []
    wake = r.f._wake.set
    r.f._wake.set = lambda: (wakes.append(1), wake())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for i in range(300):
            os.write(fd, b"line %d\n" % i)
            time.sleep(0.001)
        wait_for(lambda: len(r.lines) == 300)
        assert len(wakes) <= 3, len(wakes)
        (tmp_path / "other.access.log").write_bytes(b"x\n")  # a new file: woken for it
        wait_for(lambda: len(r.lines) == 301)
        assert len(wakes) >= 1
    finally:
        os.close(fd)
        r.stop()


FD_LIMITED = """
import json, os, resource, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (150, 150))
from trafficwatch.logs.follow import Follower
d = sys.argv[1]
lines, events = [], []
f = Follower([d], lambda k, c: lines.extend(c.split(b"\\n")[:-1]), poll=False,
             poll_interval=0.02, rescan_interval=0.3, on_event=events.append)
f.start()
time.sleep(1)
for i in range(10, 120):
    open(os.path.join(d, f"s{i}.access.log"), "w").write(f"y{i}\\n")
time.sleep(2.5)
with open(os.path.join(d, "s0.access.log"), "a") as h:
    h.write("z\\n")
time.sleep(1.5)
print(json.dumps({"lines": sorted(x.decode() for x in lines), "skipped_now": f.skipped_now,
                  "events": [[e.kind, e.message] for e in events]}))
f.stop()
"""


def test_files_past_the_open_file_limit_are_said_skipped_and_the_others_still_followed(
        tmp_path):
    """An ops trial: files made past the hard limit on open files (ulimit -n) took every
    descriptor: the folder could no longer be listed, /metrics accepted no connection and the
    agent spun at 100 % of a core, saying only "directory cannot be listed". Descriptors are
    kept free beside the followed files; a file past them is said skipped, with the limit."""
    import json
    import subprocess
    import sys

    for i in range(10):
        (tmp_path / f"s{i}.access.log").write_text("x\n")
    out = subprocess.run([sys.executable, "-c", FD_LIMITED, str(tmp_path)], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    got = json.loads(out)
    skipped = [m for k, m in got["events"] if k == "skipped"]
    assert skipped and all("the open-file limit is 150: raise it (ulimit -n" in m
                           for m in skipped), skipped
    assert got["skipped_now"] == len(skipped) and len(skipped) < 110
    assert not [m for _, m in got["events"] if "cannot be listed" in m or "error" in m]
    assert "z" in got["lines"]  # a followed file's new line: read
    assert len(got["lines"]) == 10 + 110 - len(skipped) + 1


def not_appending(path):
    """(fd, the lines written, write(k)): a writer without O_APPEND, as some servers are."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    written: list[bytes] = []

    def write(k: int) -> None:
        lines = [b"a %06d padding to make lines a bit longer" % (len(written) + i)
                 for i in range(k)]
        os.write(fd, b"".join(x + b"\n" for x in lines))
        written.extend(lines)

    return fd, written, write


@pytest.mark.parametrize(("seen_first", "lines"), [(False, 40), (True, 40), (False, 400_000)])
def test_a_writer_that_does_not_append_loses_nothing_across_two_copytruncates(
        tmp_path, mode, seen_first, lines):
    """An ops trial: a writer without O_APPEND writes on at its offset after copytruncate, the
    log a hole of NULs, then its new lines. At the second copytruncate its copy (a hole, the
    lines read, then those not read yet) was taken for a copy of what the log was being read
    for (a hole too, its first KiB the same NULs): the lines written just before it were never
    read, 2 to 5 of 200 lost. `seen_first`: the copy is seen before the truncation is. 400,000
    lines first (17 MB, the hole after it as long): a first fix looked 16 MiB into a hole at
    most, and lost 5-10 lines at each copytruncate (a review)."""
    path = tmp_path / "access.log"
    fd, written, write = not_appending(path)

    write(lines)
    r = Run([tmp_path], mode)
    try:
        r.expect(written)
        for k in (1, 2, 3):
            write(5)  # not read yet, most likely: read from the copy
            shutil.copyfile(path, f"{path}.{k}")
            if seen_first:
                time.sleep(0.5)
            os.truncate(path, 0)
            write(10)
            wait_for(lambda: len(r.lines) >= len(written), timeout=30)
            time.sleep(0.3)
            # (a hole shorter than a line may be is delivered before its line: the parser
            # drops it, parse.after_hole)
            assert sorted(x.lstrip(b"\0") for x in r.lines) == sorted(written), k
    finally:
        r.stop()
        os.close(fd)


def test_a_copy_found_as_its_log_is_truncated_counts_nothing_twice(tmp_path, mode,
                                                                  monkeypatch):
    """A suite run under load: copytruncate's truncation came after the scan had looked at
    the log and before it looked at the copy, both beginning with a hole: the copy matched
    neither the log (new content past its hole) nor its record (not made yet), and was read
    from its start, 10 lines counted twice. Such a copy waits for the next scan."""
    import trafficwatch.logs.follow as fm

    path = tmp_path / "access.log"
    fd, written, write = not_appending(path)

    real, armed = fm.past_hole, []

    def truncated_meanwhile(p: str, cap: int):
        got = real(p, cap)
        if armed and p.endswith(".2"):
            armed.clear()
            os.truncate(path, 0)
            write(10)
        return got

    monkeypatch.setattr(fm, "past_hole", truncated_meanwhile)
    write(40)
    r = Run([tmp_path], mode)
    try:
        r.expect(written)
        write(5)
        shutil.copyfile(path, f"{path}.1")
        os.truncate(path, 0)
        write(10)
        wait_for(lambda: len(r.lines) >= len(written))
        write(5)
        armed.append(True)
        shutil.copyfile(path, f"{path}.2")  # the truncation: when the copy is looked at
        wait_for(lambda: not armed)
        wait_for(lambda: len(r.lines) >= len(written))
        time.sleep(0.5)
        assert sorted(x.lstrip(b"\0") for x in r.lines) == sorted(written)
    finally:
        r.stop()
        os.close(fd)


def test_a_file_that_is_a_hole_alone_is_not_read_through_for_what_follows_it(tmp_path,
                                                                              monkeypatch):
    """A review: a sparse file of NULs alone (what a crash can leave) had its hole read
    through, 5 GiB under the follower's lock: no line of any file came for 20 s."""
    import io

    import trafficwatch.logs.follow as fm

    read = []

    class Counted(io.FileIO):
        def read(self, n=-1):
            got = super().read(n)
            read.append(len(got))
            return got

    monkeypatch.setattr(fm, "open_content", lambda path, cap: Counted(path, "rb"))
    hole = tmp_path / "access.log.1"
    with open(hole, "wb") as fh:
        fh.truncate(1 << 30)
    assert fm.past_hole(str(hole), 1 << 40) is None and sum(read) < 1 << 20
    with open(hole, "r+b") as fh:
        fh.seek(5 << 20)
        fh.write(b"a line\n")
    assert fm.past_hole(str(hole), 1 << 40) == (5 << 20, (b"a line\n" + bytes(1024))[:1024])


def test_a_copy_beginning_with_a_hole_is_no_copy_of_a_rotation_of_nuls_alone(tmp_path, mode):
    """A review: a rotation of NULs alone (a crash's), read and closed, took every later copy
    beginning with a hole (copytruncate's, of a writer without O_APPEND) for a copy of its
    own, by their ends alike: its 5 lines were never read."""
    line = b'10.0.0.1 - - [08/Dec/2026:00:00:00 +0000] "GET /%d HTTP/1.1" 200 5'
    (tmp_path / "access.log").write_bytes(line % 0 + b"\n")
    (tmp_path / "access.log.1").write_bytes(bytes(4096))
    r = Run([tmp_path], mode, last_line_after=0.5)
    try:
        time.sleep(1.5)
        new = [line % i for i in range(1, 6)]
        (tmp_path / "access.log.2").write_bytes(bytes(8192) + b"".join(x + b"\n" for x in new))
        wait_for(lambda: sum(x.lstrip(b"\0") in new for x in r.lines) == 5)
    finally:
        r.stop()


def test_a_copy_of_a_rotation_read_and_closed_that_begins_with_a_hole_is_not_read_again(
        tmp_path, mode):
    """A review: a copy whose first KiB is NULs was a copy of a followed file only if the
    bytes after its hole were that file's, read through its open handle; a rotation read to
    its end is closed, and `cp access.log.1 access.log.1.bak` of one that begins with a hole
    had its 20 lines counted again."""
    rotated = tmp_path / "access.log.1"
    lines = [b"r %03d padding to make lines a bit longer" % i for i in range(20)]
    rotated.write_bytes(bytes(4096) + b"".join(x + b"\n" for x in lines))
    (tmp_path / "access.log").write_bytes(b"live line\n")
    r = Run([tmp_path], mode)
    try:
        wait_for(lambda: len(r.lines) >= 21)
        time.sleep(0.5)  # read to its end and closed
        shutil.copyfile(rotated, str(rotated) + ".bak")
        time.sleep(1.5)
        got = sorted(x.lstrip(b"\0") for x in r.lines)
        assert got == sorted([*lines, b"live line"]), len(got)
    finally:
        r.stop()


def test_a_hole_of_zeros_longer_than_a_read_is_one_bad_line_and_the_next_line_read(
        tmp_path, log, mode):
    """A review: a writer that does not append (O_APPEND) writes on at its old offset after
    copytruncate, the bytes before it zeros; a hole over a read (1 MiB) was a line too long,
    and the line after it skipped with it (20,049 of 20,050). The hole is one line too long
    (as a crash's NULs are), ended where the line after it begins."""
    log.write(3)
    r = Run([tmp_path], mode)
    r.expect(log.written)
    with open(log.path, "ab") as h:
        h.write(bytes(3 << 20) + b"after the hole\n")
    r.expect([*log.written, b"after the hole"])
    with open(log.path, "ab") as h:  # one whose line begins in the read the hole ends in,
        h.write(bytes(100_000) + b"half")  # its newline later
    time.sleep(0.5)
    with open(log.path, "ab") as h:
        h.write(b" a line\n")
    r.expect([*log.written, b"after the hole", b"half a line"])
    with open(log.path, "ab") as h:  # a few NULs, then a line too long itself: skipped whole,
        h.write(bytes(10) + b"x" * (2 << 20) + b"\nthe next\n")  # once (a review: the file
    r.expect([*log.written, b"after the hole", b"half a line", b"the next"])  # read from 0
    time.sleep(0.5)  # at every pass, 14,211 lines for 4)
    assert len(r.lines) == len(log.written) + 3 and "truncated" not in r.kinds()
    assert r.kinds().count("line_too_long") == 3
    r.stop()


def test_an_archive_its_name_does_not_say_is_read_as_one(tmp_path, log, mode):
    # logrotate's `compress` with `compressext ""` (or a .gz renamed): access.log.2 is gzip.
    # It was opened as a plain file and seeked in: "cannot read (File or stream is not
    # seekable.); will retry" at every look, its lines never counted (an ops trial).
    old = Log(tmp_path / "access.log.2", tag="old")
    (tmp_path / "access.log.2").write_bytes(gzip.compress(b"".join(
        x + b"\n" for x in old.write(30, path=os.devnull))))
    log.write(10)
    r = Run([tmp_path], mode)
    r.expect(old.written + log.written)
    os.rename(log.path, str(log.path) + ".1")  # rotated, then compressed under a plain name
    log.write(5)
    r.expect(old.written + log.written)
    one = str(log.path) + ".1"
    os.rename(str(log.path) + ".2", str(log.path) + ".3")
    with open(one, "rb") as src:
        (tmp_path / "access.log.2").write_bytes(gzip.compress(src.read()))
    os.unlink(one)
    log.write(3)
    r.expect(old.written + log.written)  # the .1 compressed is a copy: nothing twice
    time.sleep(0.8)  # two rescans
    r.expect(old.written + log.written)
    assert "error" not in r.kinds()
    store = StateStore(tmp_path / "st" / "s.json")
    commit(store, r, [tmp_path])
    r.stop()
    done = len(log.written)
    log.write(2)
    r = Run([tmp_path], mode, resume=store.load().files)
    r.expect(log.written[done:])  # after a restart: the archives not read again
    r.stop()


def test_the_last_line_of_an_archive_counts_without_a_newline(tmp_path, mode):
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(b"gz line 1\ngz line 2"))
    r = Run([tmp_path], mode)
    wait_for(lambda: len(r.lines) == 2)
    assert r.lines == [b"gz line 1", b"gz line 2"]
    r.stop()


def test_gzip_bomb_stops_at_the_cap(tmp_path, mode):
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    blob = z.compress(b"ok line\n" * 10) + b"".join(z.compress(bytes(1 << 20)) for _ in range(64))
    (tmp_path / "access.log.1.gz").write_bytes(blob + z.flush())
    r = Run([tmp_path], mode, max_decompressed=8 << 20)
    wait_for(lambda: "archive_error" in r.kinds())
    assert r.lines == [b"ok line"] * 10
    assert "line_too_long" in r.kinds()
    r.stop()


def test_thousands_of_rotations_fifo_dangling_symlink_and_escape_name(tmp_path, mode):
    for i in range(1, 2001):
        (tmp_path / f"access.log.{i}").write_bytes(b"r%d\n" % i)
    os.mkfifo(tmp_path / "fifo.log")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling.log")
    (tmp_path / "evil\x1b[31m.log").write_bytes(b"evil\n")
    r = Run([tmp_path], mode)
    wait_for(lambda: len(r.lines) >= 2001)
    wait_for(lambda: r.kinds().count("skipped") >= 2)
    assert len(set(r.lines)) == len(r.lines) == 2001
    assert all("\x1b" not in e.name and "\x1b" not in e.message for e in r.events)
    r.stop()


# -- restarts with state -------------------------------------------------------------------
def commit(store, r, paths):
    with r.f.lock:
        store.commit(State([str(p) for p in paths], r.f.offsets(), {"n": len(r.lines)}))


def test_restart_resumes_from_state_after_rotation_while_stopped(tmp_path, log, mode, target):
    store = StateStore(tmp_path / "st" / "s.json")
    log.write(50)
    r = Run([target], mode)
    r.expect(log.written)
    log.write(5)  # written, maybe not read, before the stop
    r.expect(log.written)
    commit(store, r, [target])
    done = list(log.written)
    r.stop()
    log.write(6)  # while stopped
    os.rename(log.path, str(log.path) + ".1")
    log.write(4)
    r = Run([target], mode, resume=store.load().files)
    r.expect(log.written[len(done):])
    r.stop()


def test_partial_last_line_then_restart_then_its_end_counted_once(tmp_path, log, mode):
    store = StateStore(tmp_path / "st" / "s.json")
    log.write(5)
    with open(log.path, "ab") as h:
        h.write(b"cut here")
    r = Run([tmp_path], mode)
    r.expect(log.written)
    commit(store, r, [tmp_path])
    r.stop()
    with open(log.path, "ab") as h:
        h.write(b" and done\n")
    r = Run([tmp_path], mode, resume=store.load().files)
    r.expect([b"cut here and done"])
    r.stop()


def test_inode_reuse_with_different_content_is_read_from_start(tmp_path, log, mode):
    store = StateStore(tmp_path / "st" / "s.json")
    log.write(50)
    r = Run([tmp_path], mode)
    r.expect(log.written)
    commit(store, r, [tmp_path])
    r.stop()
    other = Log(log.path, tag="b")
    with open(log.path, "r+b") as h:  # same inode, new content, longer than the saved offset
        h.truncate(0)
    other.write(80)
    r = Run([tmp_path], mode, resume=store.load().files)
    r.expect(other.written)
    r.stop()


def test_restart_with_corrupt_state_moves_it_aside_and_rebuilds(tmp_path, log, mode):
    path = tmp_path / "st" / "s.json"
    path.parent.mkdir()
    path.write_bytes(b'{"version": 1, "files": [tru')
    store = StateStore(path)
    assert store.load() is None
    assert "moved to" in store.notice and ".corrupt-" in store.notice
    assert list(path.parent.glob("s.json.corrupt-*"))
    log.write(20)
    r = Run([tmp_path], mode)
    r.expect(log.written)
    r.stop()


def test_an_empty_archive_that_appears_while_following_is_said_empty_once(tmp_path, log, mode):
    # a backup of a log just emptied (`: > access.log; gzip -c access.log > access.log.gz`):
    # nothing in it to know it by, it was read again at every scan and said empty each time
    # (a trial: 13 times in 30 s, 2,624 in 25 minutes while lines came)
    import gzip

    log.write(5)
    r = Run([tmp_path], mode, settle=0.2)
    r.expect(log.written)
    log.path.write_bytes(b"")
    with gzip.open(tmp_path / "access.log.gz", "wb"):
        pass
    time.sleep(2.0)  # a few scans (rescan_interval 0.3 s)
    r.stop()
    assert [e.message for e in r.events if e.kind == "empty"] == \
        [f"{tmp_path / 'access.log.gz'} is empty; nothing to count"]


@pytest.mark.parametrize("where", ["olddir", "symlink", "deleted"])
def test_a_log_moved_where_no_scan_lists_it_is_read_on_for_its_late_lines(tmp_path, mode, where):
    # a trial: logrotate's `olddir old` (mv access.log old/access.log.1; the server writes to
    # it until it reopens its log), or access.log a symlink swapped to a file elsewhere: the
    # lines written to the old file after the move were lost, said nowhere (75 of 125)
    logs, store = tmp_path / "logs", tmp_path / "store"
    logs.mkdir()
    store.mkdir()
    first = store / "A.log" if where == "symlink" else logs / "access.log"
    log = Log(first)
    log.write(10)
    if where == "symlink":
        (logs / "access.log").symlink_to(first)
    r = Run([logs], mode)
    r.expect(log.written)
    server = open(first, "ab")  # noqa: SIM115 (the server's: open across the move)
    if where == "symlink":
        (store / "B.log").write_bytes(b"")
        (logs / "next").symlink_to(store / "B.log")
        os.replace(logs / "next", logs / "access.log")
    elif where == "deleted":  # `rm access.log`: the server writes to it until it reopens
        first.unlink()
        (logs / "access.log").write_bytes(b"")
    else:
        (logs / "old").mkdir()
        os.replace(first, logs / "old" / "access.log.1")
        (logs / "access.log").write_bytes(b"")
    time.sleep(0.5)  # a scan or more: the move seen
    late = [b"%s late %d padding to make lines a bit longer" % (where.encode(), k) for k in range(7)]
    server.write(b"".join(x + b"\n" for x in late))  # the server, before it reopens
    server.close()
    log.written += late
    log.write(5, path=logs / "access.log")  # after
    r.expect(log.written)
    r.stop()


def test_a_truncated_archive_is_said_once_not_read_again_at_each_scan(tmp_path, log, mode):
    # a security trial: 12 bytes of a .gz header, said "archive is truncated" every 2.5 s by
    # counts --follow, the agent and the app (14 "files read" in 30 s), and decompressed again
    # each time: anyone who could drop a big broken archive made it work without end
    log.write(5)
    r = Run([tmp_path], mode, settle=0.2)
    r.expect(log.written)
    (tmp_path / "access.log.2.gz").write_bytes(b"\x1f\x8b\x08\x00corrupt")
    time.sleep(2.0)  # a few scans (rescan_interval 0.3 s)
    r.stop()
    said = [e.message for e in r.events if e.name.endswith(".gz")]
    name = tmp_path / "access.log.2.gz"
    assert said == [f"{name}: following", f"{name}: archive is truncated"], said


def test_a_gzip_backup_of_the_log_taken_again_after_a_rotation_doubles_nothing(tmp_path, log):
    # `gzip -c access.log > access.log.gz` by hand, 20 more lines, a rotation compressed to
    # access.log.1.gz, then the backup taken again: the first backup had taken the record of
    # the log's content as copytruncate's copy would, and access.log.1.gz was read on from its
    # end, 20 lines twice (an ops trial; the agent, the app and counts --follow alike)
    import gzip
    import subprocess

    def backup():  # in place, as `>` does: the same inode
        with open(log.path, "rb") as src, open(tmp_path / "access.log.gz", "r+b" if (
                tmp_path / "access.log.gz").exists() else "wb") as dst:
            dst.truncate(0)
            dst.write(gzip.compress(src.read()))

    log.write(60)
    r = Run([tmp_path], "poll", settle=0.2)
    r.expect(log.written)
    backup()
    time.sleep(0.8)  # adopted, as a copy
    log.write(20)
    r.expect(log.written)
    os.rename(log.path, tmp_path / "access.log.1")
    log.path.write_bytes(b"")
    log.write(5)
    r.expect(log.written)
    subprocess.run(["gzip", str(tmp_path / "access.log.1")], check=True)
    time.sleep(1.0)  # the old log gone, the archive adopted
    backup()
    time.sleep(1.5)
    r.stop()
    assert Counter(r.lines) == Counter(log.written) and len(r.lines) == 85


def test_a_gzip_backup_beside_the_log_loses_nothing_across_a_kill_and_a_rotation(tmp_path, log):
    # `gzip -c access.log > access.log.gz` by hand; 14 lines after the last save, a kill -9,
    # the log rotated to .1 while down: at the restart the .gz (which never grows) was taken
    # first and .1 read as its copy, the 14 lines never counted and nothing said (an ops trial)
    import gzip

    log.write(60)
    r = Run([tmp_path], "poll", settle=0.2)
    r.expect(log.written)
    (tmp_path / "access.log.gz").write_bytes(gzip.compress(log.path.read_bytes()))
    time.sleep(0.8)  # adopted, as a copy
    log.write(20)
    r.expect(log.written)
    saved = r.f.offsets()  # the last save
    log.write(14)
    r.expect(log.written)
    r.stop()  # (killed: what it read since the save is lost with it)
    since = log.written[80:]
    os.rename(log.path, tmp_path / "access.log.1")
    log.path.write_bytes(b"")
    since += log.write(5)
    r = Run([tmp_path], "poll", resume=saved, settle=0.2)
    wait_for(lambda: len(r.lines) >= len(since))
    time.sleep(0.5)
    r.stop()
    assert Counter(r.lines) == Counter(since) and len(r.lines) == 19
