"""The app's first read of big plain files and archives on every core, handed on to the follower."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from trafficwatch.counting import plan
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.live import LiveFeed
from trafficwatch.logs import read

LINE = ('203.0.113.{i} - - [20/Nov/2026:{h:02d}:{m:02d}:{s:02d} +0000] "GET /p{p}.{ext} HTTP/1.1" '
        '{st} 5 "-" "{ua}"\n')
UAS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", "Googlebot/2.1", "curl/8.5.0"]



def same_counts(a, b) -> bool:
    """Every count equal; the top-client tallies (bounded summaries whose estimates depend on how
    the lines were chunked: tests/test_tops.py checks their bounds) kept for the same hours."""
    da, db = a.to_dict(), b.to_dict()
    for site in da["sites"].keys() | db["sites"].keys():
        assert da["sites"][site].pop("client_cells").keys() == \
            db["sites"][site].pop("client_cells").keys()
    return da == db

def lines(start: int, n: int) -> str:
    return "".join(LINE.format(i=k % 250, h=(k // 3600) % 24, m=(k // 60) % 60, s=k % 60,
                               p=k % 40, ext=("css", "html")[k % 2], st=(200, 404)[k % 7 == 0],
                               ua=UAS[k % 3]) for k in range(start, start + n))


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def feed(logs: Path, state: Path | None) -> tuple[Engine, LiveFeed]:
    e = Engine(EngineConfig(paths=[str(logs)], fine_tune=False, poll=True), lambda s: None)
    return e, LiveFeed(e.sink, state, start_thread=False)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    (d / "access.log.1").write_text(lines(0, 3000))
    (d / "access.log").write_text(lines(3000, 3000) + "garbage line\n" + lines(6000, 1)[:30])
    (d / "small.access.log").write_text(lines(0, 10))
    return d


@pytest.fixture
def parallel(monkeypatch) -> list[str]:
    """Files over 100 kB read in parallel, in 16 kB ranges; the names of those so read."""
    monkeypatch.setattr(read, "PARALLEL_MIN", 100_000)
    monkeypatch.setattr(read, "CHUNK", 16_384)
    real, seen = read.parse_file, []

    def spy(path, *a, **kw):
        seen.append(Path(path).name)
        return real(path, *a, **kw)

    monkeypatch.setattr(read, "parse_file", spy)
    return seen


def test_reading_big_files_in_parallel_counts_what_the_follower_counts(logs, monkeypatch, parallel):
    with monkeypatch.context() as m:
        m.setattr(read, "PARALLEL_MIN", 1 << 60)  # the follower reads everything
        e1, f1 = feed(logs, None)
    assert parallel == []
    e2, f2 = feed(logs, None)
    assert sorted(parallel) == ["access.log", "access.log.1"]
    assert {r.name.rsplit("/", 1)[-1] for r in f2.report.files} >= {"access.log", "access.log.1"}
    assert same_counts(e2.series, e1.series)
    assert f2.report.lines == f1.report.lines == 6011
    assert f2.report.malformed.counts == f1.report.malformed.counts
    assert [t.text for t in f2.tail][-3:] == [t.text for t in f1.tail][-3:]
    f1.close()
    f2.close()


def test_after_a_parallel_read_the_follower_goes_on_from_the_last_complete_line(
        logs, tmp_path, parallel):
    state = tmp_path / "state.json"
    e, f = feed(logs, state)
    assert sorted(parallel) == ["access.log", "access.log.1"]
    before = e.series.total()
    assert before == 6010  # the partial last line is not counted yet
    append(logs / "access.log", lines(6000, 1)[30:] + lines(6001, 4))  # its end, then 4 more
    f.step(0.1)
    assert e.series.total() == before + 5
    f.close()
    append(logs / "access.log", lines(6005, 2))
    os.rename(logs / "access.log", logs / "access.log.0")  # rotated while stopped
    (logs / "access.log").write_text(lines(7000, 3))
    e2, f2 = feed(logs, state)
    assert e2.series.total() == before + 10  # from the state: nothing read twice
    f2.close()


@pytest.fixture
def rotated(tmp_path: Path) -> Path:
    """A live log and five gzipped rotations, one cut short, one without a final newline."""
    import gzip

    d = tmp_path / "rot"
    d.mkdir()
    for k in range(6, 1, -1):
        text = lines(k * 1000, 400 + k)
        if k == 5:
            text = text.rstrip("\n")  # an archive's last line needs no newline
        blob = gzip.compress(text.encode())
        if k == 6:
            blob = blob[: len(blob) // 2]  # a truncated archive: read to the break, said so
        (d / f"access.log.{k}.gz").write_bytes(blob)
        os.utime(d / f"access.log.{k}.gz", (1e9, 1e9))  # not one being compressed right now
    (d / "access.log.1").write_text(lines(1000, 50))
    (d / "access.log").write_text(lines(0, 20))
    return d


def test_archives_read_by_workers_count_what_the_follower_counts(rotated, monkeypatch, tmp_path):
    monkeypatch.setattr(plan, "ARCHIVE_MIN", 0)  # these small ones too
    with monkeypatch.context() as m:
        m.setattr(os, "cpu_count", lambda: 1)  # no workers: the follower reads everything
        e1, f1 = feed(rotated, None)
    taken = []
    real = LiveFeed._count_archive

    def spy(self, src, st, whole):
        taken.append(Path(src.path).name)
        return real(self, src, st, whole)

    monkeypatch.setattr(LiveFeed, "_count_archive", spy)
    state = tmp_path / "state.json"
    e2, f2 = feed(rotated, state)
    assert sorted(taken) == ["access.log.2.gz", "access.log.3.gz", "access.log.4.gz",
                             "access.log.5.gz"]  # the truncated one is left to the follower
    assert same_counts(e2.series, e1.series)
    assert f2.report.lines == f1.report.lines
    assert f2.report.malformed.counts == f1.report.malformed.counts
    assert [t.text for t in f2.tail][-3:] == [t.text for t in f1.tail][-3:]
    assert any("truncated" in w or "corrupt" in w for w in f2.warnings)
    f1.close()
    f2.close()
    e3, f3 = feed(rotated, state)  # restart: no archive read again
    assert e3.series.total() == e2.series.total()
    assert sum(r.lines for r in f3.report.files) == 0
    f3.close()


def test_a_small_sites_log_tail_is_not_pushed_out_by_a_big_one(tmp_path, monkeypatch):
    # the tail was one deque of 200 lines for every site: each chunk of a big file added 20,
    # and a small site's lines were gone ("No live lines of elastic_apache_logs" on real_logs)
    d = tmp_path / "logs"
    d.mkdir()
    (d / "a-small.access.log").write_text(lines(0, 10))
    (d / "big.access.log").write_text(lines(0, 150_000))  # 14 MB: chunks of 20 lines each
    monkeypatch.setattr(read, "PARALLEL_MIN", 1 << 60)  # the follower reads it, chunk by chunk
    _, f = feed(d, None)
    sites = {t.site for t in f.tail}
    assert len(sites) == 2, sites
    small = [t.text for t in f.tail if t.site != max(sites, key=lambda s: "big" in s)]
    assert len(small) == 10 and small[-1] == lines(9, 1).rstrip("\n")
    # and the big one's is its last 50 lines, one run: it was 20 of each of its last chunks,
    # stretches hours apart read as one
    big = [t.text for t in f.tail if "big" in t.site]
    assert big == [x for x in lines(150_000 - 50, 50).split("\n") if x]


@pytest.mark.parametrize("resumed", [False, True])
def test_the_tail_at_start_ends_with_the_live_logs_lines_not_its_big_rotations(
        tmp_path, monkeypatch, resumed):
    # the follower reads a folder's files a chunk of each in turn: a rotation of 48,000 lines
    # had its last chunks read after access.log, and the tail showed them as the newest lines,
    # none of access.log's 3,000 (a trial). After a restart too, from the state
    from trafficwatch.logs import follow

    monkeypatch.setattr(follow, "READ_BYTES", 16 << 10)  # the rotation: read over 4 passes,
    monkeypatch.setattr(follow, "PASS_BYTES", 128 << 10)  # a pass of each file in turn
    monkeypatch.setattr(read, "PARALLEL_MIN", 1 << 60)  # the follower reads it all
    d = tmp_path / "logs"
    d.mkdir()
    (d / "access.log.1").write_text(lines(0, 4000))
    live = d / "access.log"
    live.write_text(lines(4000, 300))
    os.utime(d / "access.log.1", (1, 2_000_000_000))  # mtime: after access.log (a copy)
    state = tmp_path / "state.json"
    _, f = feed(d, state if resumed else None)
    if resumed:
        f.close()
        _, f = feed(d, state)
    assert [t.text for t in f.tail] == [x for x in lines(4250, 50).split("\n") if x]
    f.close()


def test_a_binary_file_is_skipped_not_counted_as_malformed_lines(tmp_path, monkeypatch):
    # the app said "binary.log looks binary ... skipped" and also "malformed 68 · no known log
    # format" for its bytes, where `counts` on the same files says 0 malformed
    d = tmp_path / "logs"
    d.mkdir()
    (d / "good.access.log").write_text(lines(0, 10))
    (d / "binary.access.log").write_bytes(bytes(range(256)) * 40 + b"\n\x00\x01\n" * 60)
    _, f = feed(d, None)
    reps = {Path(r.name).name: r for r in f.report.files}
    assert reps["binary.access.log"].lines == 0, reps["binary.access.log"]
    assert sum(r.malformed.total for r in reps.values()) == 0
    assert reps["good.access.log"].lines == 10
    assert any("binary.access.log looks binary" in e for e in f.events)


def test_a_second_trafficwatch_on_the_same_state_neither_reads_nor_saves_it(logs, tmp_path):
    # two sessions on one server with the same state file overwrote each other's saves in
    # silence (a user trial); the second now says so and keeps to the logs
    state = tmp_path / "state" / "app.json"
    e1, f1 = feed(logs, state)
    assert state.is_file() and not f1.notice
    saved = state.read_bytes()
    e2, f2 = feed(logs, state)
    assert "in use by another trafficwatch" in f2.notice and f"pid {os.getpid()}" in f2.notice
    assert f2.state_held_by == os.getpid() and f1.state_held_by is None  # its alerts: not here
    assert e2.sink.series.total() == e1.sink.series.total()  # counted from the logs alike
    append(logs / "access.log", "\n" + lines(7000, 5))
    f2.step(1.0)
    f2.close()
    assert state.read_bytes() == saved  # the second one never wrote it
    f1.close()
    _, f3 = feed(logs, state)  # the first one gone: the next one takes the state again
    assert "resumed from" in f3.notice, f3.notice
    f3.close()


def test_the_second_trafficwatch_takes_the_state_file_over_once_the_first_has_ended(
        logs, tmp_path, monkeypatch):
    # a terminal closed under `script` left an instance running unseen; the next one said the
    # state file was in use, and saved nothing even after the first was stopped (a trial)
    monkeypatch.setattr("trafficwatch.engine.live.COMMIT_S", 0.0)
    state = tmp_path / "state" / "app.json"
    _, f1 = feed(logs, state)
    e2, f2 = feed(logs, state)
    assert f2.state_held_by == os.getpid()
    append(logs / "access.log", "\n" + lines(7000, 5))
    f2.step(1.0)
    assert f2.state_held_by is not None  # the first still runs: nothing taken
    f1.close()
    append(logs / "access.log", lines(7005, 5))
    f2.step(1.0)
    assert f2.state_held_by is None and "has ended; this one saves its counts there" in f2.notice
    total = e2.sink.series.total()
    f2.close()
    e3, f3 = feed(logs, state)  # the state the second one saved: all it counted
    assert "resumed from" in f3.notice and e3.sink.series.total() == total
    f3.close()


def test_a_state_folder_removed_while_running_is_locked_again(logs, tmp_path, monkeypatch):
    # `rm -rf ~/.local/state/trafficwatch` while the app ran took its lock file with it: the
    # next save made the folder again, unlocked, and a second trafficwatch started then used
    # the same state, the two saving over each other in silence (STATE.lock)
    monkeypatch.setattr("trafficwatch.engine.live.COMMIT_S", 0.0)
    state = tmp_path / "state" / "app.json"
    _, f1 = feed(logs, state)
    shutil.rmtree(state.parent)
    append(logs / "access.log", "\n" + lines(7000, 5))
    f1.step(1.0)
    assert state.is_file() and not f1.save_failed
    _, f2 = feed(logs, state)
    assert "in use by another trafficwatch" in f2.notice, f2.notice
    f2.close()
    shutil.rmtree(state.parent)  # and this time another one starts before the next save
    _, f3 = feed(logs, state)
    assert f3.state_held_by is None
    append(logs / "access.log", lines(7005, 5))
    f1.step(1.0)
    assert "was taken by another trafficwatch" in f1.save_failed, f1.notice
    assert f1.state_held_by == os.getpid()
    f3.step(1.0)
    saved = state.read_bytes()
    append(logs / "access.log", lines(7010, 5))
    f1.step(1.0)
    assert state.read_bytes() == saved  # not written by the one that lost it
    f3.close()
    append(logs / "access.log", lines(7015, 5))
    f1.step(1.0)
    assert "has ended; this one saves its counts there" in f1.notice and not f1.save_failed
    f1.close()


def test_taking_the_state_file_over_keeps_the_hours_of_logs_deleted_since(tmp_path,
                                                                          monkeypatch):
    # a trial: a second instance took the state file over when the first ended and saved its
    # own counts there, from the logs there were: the hours of logrotate's oldest, deleted
    # meanwhile, were gone for good (5,728 requests became 1,437)
    monkeypatch.setattr("trafficwatch.engine.live.COMMIT_S", 0.0)
    d = tmp_path / "logs"
    d.mkdir()
    (d / "access.log.1").write_text(lines(0, 3000) + lines(7000, 100))  # hour 00, 01
    (d / "access.log").write_text(lines(7100, 2100))  # hour 01 (100 lines), 02
    # (hour 01 in both: this one had its 100 of the log there now, 100 where the first had
    # 200; a recheck's 50 of 90)
    state = tmp_path / "state" / "app.json"
    e1, f1 = feed(d, state)
    whole = e1.sink.series.total()
    assert whole == 5200
    (d / "access.log.1").unlink()  # logrotate's oldest goes
    e2, f2 = feed(d, state)
    assert e2.sink.series.total() == 2100 and f2.state_held_by is not None
    f1.close()
    append(d / "access.log", lines(9200, 5))
    f2.step(1.0)
    assert f2.state_held_by is None and "keeping the 2 hours of logs no longer here" in f2.notice
    assert e2.sink.series.total() == whole + 5
    f2.close()
    e3, f3 = feed(d, state)
    assert "resumed from" in f3.notice and e3.sink.series.total() == whole + 5
    f3.close()


def test_the_files_counted_are_those_followed_now_not_every_one_since_the_start(logs):
    # the Now pane said "files 3 / 5 / 7 / 9 / 11" through rotations of a folder of 2 to 7 files
    from trafficwatch.engine.views import ingest_view

    _, f = feed(logs, None)
    assert ingest_view(f).followed == 3
    for k in range(3):  # logrotate: the oldest goes, access.log becomes .1, a new one begins
        (logs / "access.log.1").unlink()
        (logs / "access.log").rename(logs / "access.log.1")
        (logs / "access.log").write_text(lines(10_000 + 10 * k, 10))
        f.follower.request_scan()
        for _ in range(3):
            f.step(1.0)
    view = ingest_view(f)
    assert view.followed == 3, (view.followed, len(view.files))
    assert len(view.files) > 3  # the reports keep every file read, as the stats list them
    f.close()


def test_tail_lines_never_show_a_line_cut_by_the_window():
    # an archive's tail is its last TAIL_WINDOW bytes: their first line is a part of one
    long = b"x" * 30_000 + b"\n"
    window = (b"y" * 10 + b"\n" + long * 3)[-read.TAIL_WINDOW:]
    lines, whole = read.tail_lines(window, 50)
    assert not whole and len(lines) == 2 and all(line == "x" * 30_000 for line in lines)
    lines, whole = read.tail_lines(b"a\nb\n", 50)
    assert whole and lines == ["a", "b"]


@pytest.mark.parametrize("cut", [60, 85])  # inside the request; inside the user agent
def test_a_line_whose_rest_comes_after_the_quiet_wait_counts_once(tmp_path, cut):
    """A writer that wrote a line in two writes 70 s apart: after a minute's quiet its first
    half was taken for a last line whose newline would never come, and the two halves were two
    malformed lines, one request lost (a trial). A half that reads as no whole line waits for
    the rest; one that does (cut in the user agent) counts, and the rest is malformed."""
    d = tmp_path / "logs"
    d.mkdir()
    log = d / "access.log"
    whole = lines(0, 11)
    first, last = whole[:whole.rindex("203.0.113.")], whole[whole.rindex("203.0.113."):]
    log.write_text(first + last[:cut])
    old = os.stat(log).st_mtime - 120  # unwritten for two minutes: past the quiet wait
    os.utime(log, (old, old))
    e, f = feed(d, None)
    f.follower.check_now()
    parsed = 11 if cut == 85 else 10
    assert e.series.total() == parsed
    append(log, last[cut:])
    f.follower.request_scan()
    while f.follower.check_now():
        pass
    assert e.series.total() == 11
    assert sum(r.malformed.total for r in f.report.files) == (cut == 85)
    f.close()


def test_an_empty_rotation_is_said_and_no_fault(tmp_path):
    # the app's exit status was 1 for a folder with an empty access.log.1, where `counts` on
    # it gave 0 (README: an empty file is said but is no fault; an ops trial)
    d = tmp_path / "logs"
    d.mkdir()
    (d / "access.log").write_text(lines(0, 5))
    (d / "access.log.1").write_text("")
    os.utime(d / "access.log.1", (1, 1))  # settled long ago
    _, f = feed(d, None)  # (the first read says it)
    assert any("access.log.1 is empty" in e for e in f.events), list(f.events)
    assert not f.report.lost and not f.report.failed, f.report.failed
    f.close()


def test_a_file_skipped_at_start_and_read_later_is_no_longer_skipped(tmp_path):
    # a log unreadable at start (chmod 000; here a symlink to a file not there yet) and read
    # once it could be: the app said "skipped" to the end and exited 1 (an ops trial)
    import time

    d = tmp_path / "logs"
    d.mkdir()
    (d / "a.access.log").write_text(lines(0, 5))
    target = tmp_path / "later.log"
    (d / "b.access.log").symlink_to(target)
    _, f = feed(d, None)
    assert [why for _, why in f.report.skipped] == ["dangling symlink"] and f.report.lost
    target.write_text(lines(5, 3))
    f.follower.rescan_interval = 0.1  # (not 5 s)
    f.follower.start()
    deadline = time.monotonic() + 20
    while (f.report.skipped or f.report.lines < 8) and time.monotonic() < deadline:
        time.sleep(0.05)
    f.close()
    assert not f.report.skipped and not f.report.lost and f.report.lines == 8


def test_after_a_restart_a_site_of_archives_alone_shows_its_last_lines(tmp_path):
    # archives read before a restart are not read again, and the tail of a folder of .gz logs
    # said "No live lines" at every start after the first (a trial on real_logs); lnav and
    # Toolong show a log's last lines
    import gzip

    d = tmp_path / "logs"
    d.mkdir()
    (d / "shop.access.log.1.gz").write_bytes(gzip.compress(lines(0, 300).encode()))
    (d / "blog.access.log.2.gz").write_bytes(gzip.compress(lines(300, 20).encode()))
    (d / "blog.access.log.1.gz").write_bytes(gzip.compress(lines(320, 30).encode()))
    (d / "blog.access.log").write_text("")  # a live log rotated just now: the .1's lines show
    state = tmp_path / "state.json"
    _, f = feed(d, state)
    first = [(t.site, t.text) for t in f.tail]
    f.close()
    _, f = feed(d, state)
    assert f.report.restored_lines == 350
    again = [(t.site, t.text) for t in f.tail]
    f.close()
    want = {"shop": lines(250, 50), "blog": lines(320, 30)}
    for site, text in want.items():
        assert [x for s, x in again if s == site] == text.splitlines(), site
    for site, text in want.items():  # the newest archive's: the end of the first start's
        shown = [x for s, x in first if s == site]
        assert shown[-len(text.splitlines()):] == text.splitlines()
    # in the logs' own order, as at the first start: the older site's above (a trial: after a
    # restart, a silent site's .2.gz of 4 days before stood below today's lines, as newest)
    assert [s for s, _ in again] == ["shop"] * 50 + ["blog"] * 30, again
