"""Live following: appended lines, partial lines, rename and copytruncate rotation, compression."""
from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.live import LiveFeed

LINE = '203.0.113.{i} - - [20/Nov/2026:10:{m:02d}:00 +0000] "GET /p{i} HTTP/1.1" 200 5 "-" "ua"\n'


def lines(start: int, n: int) -> str:
    return "".join(LINE.format(i=(start + k) % 250, m=(start + k) % 60) for k in range(n))


@pytest.fixture(params=["inotify", "poll"])
def feed_for(tmp_path: Path, monkeypatch, request):
    """Builds feeds on tmp_path (with either back end); every feed is closed at the end."""
    monkeypatch.setattr("trafficwatch.engine.live.RESCAN_S", 0.0)
    made: list[LiveFeed] = []

    def make(state: Path | None = None, **cfg) -> tuple[Engine, LiveFeed]:
        e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False,
                                poll=request.param == "poll", **cfg), lambda s: None)
        f = LiveFeed(e.sink, state)
        made.append(f)
        return e, f

    yield make
    for f in made:
        f.close()


def total(e: Engine) -> int:
    return e.series.total()


def test_appended_lines_are_counted_once(tmp_path, feed_for):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 30))
    e, f = feed_for()
    assert total(e) == 30
    with log.open("a") as fh:
        fh.write(lines(30, 12))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 42


def test_lines_per_second_is_a_rate_over_seconds_not_over_one_step(tmp_path, feed_for):
    # a trial appended one line a second and the Now pane said "4 lines/s": each step (0.25 s)
    # divided what it read by its own length
    log = tmp_path / "access.log"
    log.write_text(lines(0, 5))
    e, f = feed_for()
    f.step(0.25)
    for k in range(3):
        time.sleep(1.0)
        with log.open("a") as fh:
            fh.write(lines(5 + k, 1))
        f.step(0.25)
    assert total(e) == 8
    assert 0.5 < f.rate < 1.5, f.rate


@pytest.mark.parametrize("later", [False, True])
def test_a_log_opening_with_blank_lines_is_followed(tmp_path, feed_for, later):
    # a security trial: 201 blank lines at its start, and the agent said "no known log format
    # matches (tried ); first line: ''" and left the file out, its lines uncounted; written
    # after the blank lines, they were its first read
    log = tmp_path / "access.log"
    log.write_text("\n" * 201 + ("" if later else lines(0, 30)))
    e, f = feed_for()
    if later:
        with log.open("a") as fh:
            fh.write(lines(0, 30))
        f.step(0.1)
        f.step(0.1)
    assert total(e) == 30
    assert not any("no known log format" in m for m in f.events), f.events


def test_a_log_behind_the_clock_is_known_by_its_lines_read_after_the_start(tmp_path, feed_for):
    # an SSH trial: its anomalies never alerted (engine.alerts: history by its own clock)
    import time

    def stamped(t: float, n: int) -> str:
        return "".join(f'192.0.2.{k} - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))}]'
                       f' "GET / HTTP/1.1" 200 5 "-" "ua"\n' for k in range(n))

    now = time.time()
    (tmp_path / "late.access.log").write_text(stamped(now - 3 * 86400, 5))
    (tmp_path / "live.access.log").write_text(stamped(now - 600, 5))
    (tmp_path / "quiet.access.log").write_text(stamped(now - 3 * 3600, 3))  # quiet for 3 h
    e, f = feed_for()
    assert f.behind == set()  # (what was there at the start says nothing)
    with (tmp_path / "late.access.log").open("a") as fh:
        fh.write(stamped(now - 2 * 86400, 5))
    with (tmp_path / "live.access.log").open("a") as fh:
        fh.write(stamped(now, 5))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 23
    assert f.behind == {"late"}
    # one old line among others on time (a long download under Apache's %t) is no log behind,
    # nor is another host of the same log (a review)
    vhosts = tmp_path / "vhosts.access.log"
    vhosts.write_text("".join(f"{h}:80 " + stamped(now - 60, 1) for h in ("a.example", "b.example")))
    f.step(0.1)
    f.step(0.1)
    with vhosts.open("a") as fh:
        fh.write("a.example:80 " + stamped(now - 7200, 1) + "b.example:80 " + stamped(now, 1))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 27
    assert f.behind == {"late"}
    # nor a quiet log whose chunk ends with its old line (a review: the series' latest line of
    # a site is the last read, not the newest)
    quiet = tmp_path / "quiet.access.log"  # (written before the start, below)
    with quiet.open("a") as fh:
        fh.write(stamped(now, 3) + stamped(now - 7200, 1))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 31
    assert f.behind == {"late"}


@pytest.mark.parametrize("blank", [False, True])
def test_a_first_line_too_long_to_find_a_format_from_is_counted_too_long(tmp_path, feed_for,
                                                                        blank):
    # a review: a log whose first read held one line of 100 KB alone was dropped uncounted
    log = tmp_path / "access.log"
    log.write_text(("\n" * 3 if blank else "") + "x" * 100_000 + "\n")
    e, f = feed_for()
    with log.open("a") as fh:
        fh.write(lines(0, 30))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 30
    rep = next(r for r in f.report.files if r.name.endswith("access.log"))
    assert rep.malformed.counts.get("line too long") == 1, rep.malformed.counts
    assert rep.lines == 31


def test_a_partial_line_waits_for_its_newline(tmp_path, feed_for):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 5))
    e, f = feed_for()
    one = lines(5, 1)
    with log.open("a") as fh:
        fh.write(one[:20])
    f.step(0.1)
    assert total(e) == 5
    with log.open("a") as fh:
        fh.write(one[20:])
    f.step(0.1)
    assert total(e) == 6


def test_rename_rotation_finishes_the_old_file_then_reads_the_new(tmp_path, feed_for):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 40))
    e, f = feed_for()
    with log.open("a") as fh:
        fh.write(lines(40, 3))  # written just before the rotation
    os.rename(log, tmp_path / "access.log.1")
    log.write_text(lines(43, 7))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 50


def test_copytruncate_restarts_without_recounting(tmp_path, feed_for):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 40))
    e, f = feed_for()
    shutil.copy(log, tmp_path / "access.log.1")
    with log.open("r+") as fh:
        fh.truncate(0)
    f.step(0.1)
    with log.open("a") as fh:
        fh.write(lines(40, 4))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 44  # the copy (.1) has the fingerprint of what was read: not read again


def test_a_log_truncated_three_times_is_one_file_after_a_restart(tmp_path, feed_for):
    # a review: each truncation's content was saved under the log's inode as read and no longer
    # on disk, and listed as a file of its own at the restart: "files followed 1 (3 read)"
    log = tmp_path / "access.log"
    log.write_text(lines(0, 40))
    state = tmp_path.parent / f"{tmp_path.name}.state.json"
    e, f = feed_for(state)
    for k in range(3):
        with open(log, "r+b") as fh:
            fh.truncate(0)
        f.step(0.1)
        with log.open("a") as fh:
            fh.write(lines(1000 + 100 * k, 10))
        f.step(0.1)
        f.step(0.1)
    assert total(e) == 70
    f.close()
    e, f = feed_for(state)
    assert total(e) == 70 and not f.warnings  # nothing said gone
    with log.open("a") as fh:
        fh.write(lines(5000, 5))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 75
    assert [r.name for r in f.report.files] == [str(log)]


def test_compressed_rotation_is_recognised_as_already_read(tmp_path, feed_for):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 40))
    e, f = feed_for()
    rotated = tmp_path / "access.log.1"
    os.rename(log, rotated)
    log.write_text("")
    with gzip.open(tmp_path / "access.log.2.gz", "wb") as gz:
        gz.write(rotated.read_bytes())
    rotated.unlink()
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 40


def test_a_copy_kept_by_hand_while_following_is_not_counted_again(tmp_path, feed_for):
    """`cp access.log access.log.bak` under a running app: a file of the same site, which the
    follower finds it has read already; and the site is not split in two."""
    log = tmp_path / "access.log"
    log.write_text(lines(0, 40))
    e, f = feed_for()
    f.step(0.1)
    shutil.copy(log, tmp_path / "access.log.bak")
    with log.open("a") as fh:
        fh.write(lines(40, 4))
    f.step(0.1)
    f.step(0.1)
    assert total(e) == 44
    assert len(e.series.sites()) == 1


def test_archives_read_to_their_end_are_not_counted_as_followed(tmp_path, feed_for):
    """The agent said "4 files followed" on sample_logs, and "100" after a restart: the 96
    archives finished before it are known again, not followed."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text(lines(0, 5))
    for k in (2, 3):
        with gzip.open(logs / f"access.log.{k}.gz", "wb") as gz:
            gz.write(lines(10 * k, 10).encode())
    old = time.time() - 3600
    for k in (2, 3):
        os.utime(logs / f"access.log.{k}.gz", (old, old))
    state = tmp_path / "state.json"
    for _ in range(2):  # the first start, then a restart from the state
        e = Engine(EngineConfig(paths=[str(logs)], fine_tune=False), lambda s: None)
        f = LiveFeed(e.sink, state)
        try:
            f.step(0.1)
            f.step(0.1)
            assert total(e) == 25
            e.source = f
            assert e.snapshot().ingest.followed == 1  # the Now pane's "files", the agent's gauge
        finally:
            f.close()


def test_a_directory_of_one_archive_just_written_is_read_at_the_start(tmp_path, feed_for):
    """logrotate had just compressed the only log there: the archive, modified this second
    (maybe still being written), was left for a later look, and the start said "no access
    log found" and exited. It is read once it has settled."""
    with gzip.open(tmp_path / "access.log.2.gz", "wb") as gz:
        gz.write(lines(0, 7).encode())
    e, _ = feed_for()  # (raised ValueError before)
    assert total(e) == 7


def test_a_new_site_file_appearing_is_followed(tmp_path, feed_for):
    (tmp_path / "a.example.access.log").write_text(lines(0, 3))
    e, f = feed_for()
    (tmp_path / "b.example.access.log").write_text(lines(3, 4))
    f.step(0.1)
    assert e.series.sites() == ["a.example", "b.example"]
    assert total(e) == 7


def test_a_live_log_named_like_a_copy_empty_at_the_start_is_followed(tmp_path, feed_for):
    # a review: `shop.log.json` was taken for a copy kept by hand; empty when the follower
    # started, its lines were never read ("copytruncate's copy in progress")
    log = tmp_path / "shop.log.json"
    log.write_text("")
    e, f = feed_for()
    with log.open("a") as fh:
        fh.write(lines(0, 12))
    for _ in range(20):
        f.step(0.1)
        if total(e) == 12:
            break
    assert total(e) == 12


def test_tail_keeps_recent_lines(tmp_path, feed_for):
    (tmp_path / "access.log").write_text(lines(0, 3))
    _, f = feed_for()
    assert [t.text for t in f.tail][-1].startswith("203.0.113.2 ")


@pytest.mark.parametrize("order", [("old", "new"), ("new", "old")])
def test_every_sites_tail_at_start_ends_with_the_newest_log_whichever_was_read_last(
        tmp_path, feed_for, order):
    # a trial on a folder of unrelated logs: all sites shown, a log of 2015 read last stood
    # below one of 2022 as the newest lines; lines that come later go below both
    old = LINE.replace("20/Nov/2026", "04/Jun/2015")
    logs = {"old": "".join(old.format(i=k, m=k) for k in range(3)), "new": lines(0, 3)}
    for k, name in enumerate(order):  # the second written is the newer file, read last
        path = tmp_path / f"{name}.example.access.log"
        path.write_text(logs[name])
        os.utime(path, (1_700_000_000 + k, 1_700_000_000 + k))
    _, f = feed_for()
    shown = [t.site for t in f.tail]
    assert shown == ["old.example"] * 3 + ["new.example"] * 3, shown
    with (tmp_path / "old.example.access.log").open("a") as fh:
        fh.write(old.format(i=9, m=9))
    for _ in range(20):
        f.step(0.05)
        if len(f.tail) == 7:
            break
    assert f.tail[-1].site == "old.example" and "203.0.113.9 " in f.tail[-1].text


def test_each_virtual_host_has_its_own_lines_in_the_tail(tmp_path, feed_for):
    """A trial's Caddy, Traefik and vhost-combined logs: every line went to the file's site (its
    folder's name), and each site the picker showed from them had an empty tail."""
    vline = ('{v}:443 203.0.113.{i} - - [20/Nov/2026:10:{i:02d}:00 +0000] "GET /{v}/{i} '
             'HTTP/1.1" 200 5 "-" "ua"\n')
    (tmp_path / "vhosts.access.log").write_text(
        "".join(vline.format(v="a.example" if i % 3 else "B.example", i=i) for i in range(9)))
    (tmp_path / "caddy.log").write_text(
        '{"ts":1795000000.5,"request":{"remote_ip":"1.2.3.4","host":"c.example","uri":"/c"},'
        '"status":200,"size":5}\n')
    _, f = feed_for()
    got = {(t.site, t.text.split(" ")[0]) for t in f.tail}
    assert {site for site, _ in got} == {"a.example", "b.example", "c.example"}, got
    assert all(site in text.lower() or site == "c.example" for site, text in got)
    with (tmp_path / "vhosts.access.log").open("a") as fh:
        fh.write(vline.format(v="b.example", i=10) + "a line of no format\n")
    for _ in range(20):
        f.step(0.05)
        if len(f.tail) == 12:
            break
    assert [(t.site, t.text[:13]) for t in f.tail[-2:]] == [
        ("b.example", "b.example:443"), ("vhosts", "a line of no ")]
    # a quieter host's lines before a busy one's last 50 in one read: its tail had kept its
    # older lines while its count rose (a review)
    with (tmp_path / "vhosts.access.log").open("a") as fh:
        fh.write(vline.format(v="B.example", i=11) + "".join(
            vline.format(v="a.example", i=12 + i % 40) for i in range(100)))
    for _ in range(20):
        f.step(0.05)
    assert [t.text.split(" ")[7] for t in f.tail if t.site == "b.example"][-2:] == [
        "/b.example/10", "/B.example/11"]


def test_lines_not_read_are_said_with_the_file_that_holds_them(tmp_path, feed_for):
    """The Now pane said "2 does not match COMBINED: ..." and no file: on a folder of sites the
    reader could not tell which log to look at (a trial)."""
    (tmp_path / "shop.access.log").write_text(lines(0, 5) + "garbage one\ngarbage two\n")
    (tmp_path / "blog.access.log").write_text(lines(0, 5) + "garbage three\n")
    (tmp_path / "wiki.access.log").write_text(lines(0, 5))
    e, f = feed_for()
    e.source = f
    ing = e.snapshot().ingest
    (reason,) = ing.malformed
    assert ing.malformed[reason] == 3
    assert [os.path.basename(x) for x in ing.malformed_files[reason]] == [
        "shop.access.log", "blog.access.log"]  # most first


@pytest.mark.parametrize("grown", [False, True])
def test_a_line_too_long_to_count_does_not_empty_the_tail(tmp_path, feed_for, grown):
    # a trial: 3 lines, then one of 70,000 characters and one more: the tail showed the last
    # line alone (the long one had filled the window of bytes the tail was read from).
    # `grown`: read while it was being written, past the cap before its newline came, it was
    # left out of the tail (CI, once, as the follower read a write half done)
    log = tmp_path / "access.log"
    log.write_text(lines(0, 3))
    e, f = feed_for()
    if grown:
        with log.open("a") as fh:
            fh.write("x" * 69_999)
        f.step(0.1)
        with log.open("a") as fh:
            fh.write("x\r\n" + lines(3, 1))
    else:
        with log.open("a") as fh:
            fh.write("x" * 70_000 + "\n" + lines(3, 1))
    f.step(0.1)
    f.step(0.1)
    texts = [t.text for t in f.tail]
    assert len(texts) == 5, texts
    assert [t[:12] for t in texts[:3]] == [ln[:12] for ln in lines(0, 3).splitlines()]
    assert texts[3].startswith("x" * 100) and texts[3].endswith("(a line of 70,000 bytes, cut here)")
    assert len(texts[3]) < 4200 and texts[4].startswith("203.0.113.3 ")
    assert total(e) == 4  # and the long line is not a request


@pytest.mark.parametrize("beside,said", [
    ((), "empty for now"), (("README", "error.log"), "no access log for now"),
    (("access.log@",), "no access log for now"),  # a link to a file not there yet (a volume
    # not mounted): ended 2 alone in its folder, where an empty one was watched (a trial)
    (("logs/",), ("no file in it, only subdirectories, whose logs are not read (give the "
                  "directory that holds them)"))])  # the app had said "no access log yet"
# where counts said a folder of folders held none (a trial)
def test_an_empty_directory_is_watched_and_says_so(tmp_path, feed_for, beside, said):
    """README: a directory with no file yet is watched. A fresh server's agent exited 2 on
    it (and systemd restarted it over and over); a missing path is still refused. Files it
    does not read (a README, an error log) leave it a directory with no log yet: the app
    ended at once on it, exit 2, where an empty one was watched (a new user's trial)."""
    for name in beside:
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        elif name.endswith("@"):
            (tmp_path / name[:-1]).symlink_to(tmp_path.parent / f"{tmp_path.name}-target.log")
        else:
            (tmp_path / name).write_text("notes\n")
    e, f = feed_for()
    e.source = f
    assert e.snapshot().ingest.notices == (f"{tmp_path}: {said}; watching it for access logs",)
    (tmp_path / "access.log").write_text(lines(0, 3))
    for _ in range(50):
        f.step(0.1)
        if total(e) == 3:
            break
        time.sleep(0.05)
    assert total(e) == 3 and not e.snapshot().ingest.notices
    gone = Engine(EngineConfig(paths=[str(tmp_path / "nope")], fine_tune=False), lambda s: None)
    with pytest.raises(ValueError, match="nope"):
        LiveFeed(gone.sink, start_thread=False)


def test_logs_nobody_writes_any_more_end_at_their_last_line(tmp_path, feed_for):
    log = tmp_path / "access.log"
    log.write_text(lines(0, 5))
    old = time.time() - 10 * 86400
    os.utime(log, (old, old))
    e, f = feed_for()
    e.source = f
    assert not f.fresh and e.series_now() is None
    assert e.view_series().index[-1].hour == 10  # no zeros appended up to today
    with log.open("a") as fh:  # written now, but its lines are from long ago: an archive copy
        fh.write(lines(5, 1))
    assert f.fresh and e.series_now() is None


def test_a_log_written_now_with_recent_lines_counts_quiet_hours_as_zeros(tmp_path, feed_for):
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(time.time() - 3 * 3600))
    (tmp_path / "access.log").write_text(f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "ua"\n')
    e, f = feed_for()
    e.source = f
    assert e.series_now() is not None
    assert list(e.view_series().to_numpy()[-3:]) == [0.0, 0.0, 0.0]


def test_a_line_dated_ahead_of_the_clock_does_not_become_now(tmp_path, feed_for):
    """A server whose clock runs 2.5 h ahead wrote one line: the hour in progress stays this
    machine's, the line is held for its hour (not lost), and the operator is told."""
    def line(ts: float) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
        return f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "ua"\n'

    now = time.time()
    log = tmp_path / "access.log"
    log.write_text(line(now - 3 * 3600) + line(now - 60))
    e, f = feed_for()
    e.source = f
    assert not e.snapshot().ingest.notices
    with log.open("a") as fh:
        fh.write(line(now + 2.5 * 3600))
    f.step(0.1)
    f.step(0.1)
    assert e.series.total() == 3
    for _ in range(2):  # once more should the hour turn between the two clock readings
        hour = int(time.time()) // 3600 * 3600
        snap = e.snapshot()
        if int(time.time()) // 3600 * 3600 == hour:
            break
    assert snap.series.partial_hour == hour and snap.series.hours[-1] == hour
    assert sum(snap.series.counts) == 2
    # the status line's "last line at" is not the line from the future
    assert time.strftime("%H:%M", time.gmtime(now + 2.5 * 3600)) not in snap.feed, snap.feed
    notice = next(n for n in snap.ingest.notices if "ahead of this machine's clock" in n)
    assert notice.startswith("1 line dated ahead") and ("2 h 29 min" in notice or "2 h 30 min" in notice)


def test_a_log_that_stopped_inside_an_hour_is_not_read_as_a_drop(tmp_path, monkeypatch):
    """An archive copied at 07:06 holds 6 minutes of its last hour. The model must not read
    that hour as a collapse of traffic, nor the anomaly list report it: it is drawn as the log's
    end, and the forecast starts after it."""
    import threading

    import numpy as np

    monkeypatch.setattr("trafficwatch.engine.tuning.load_default",
                        lambda cfg: (None, "no model in tests"))
    start = 1_700_000_000 // 86400 * 86400 - 30 * 86400
    ts = [start + s for s in range(0, 10 * 86400 + 7 * 3600 + 6 * 60, 60)]  # 1 a minute
    end = ts[-1]
    log = tmp_path / "access.log"
    log.write_text("".join(
        f'203.0.113.{i % 250} - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))}] '
        f'"GET /p HTTP/1.1" 200 5 "-" "ua"\n' for i, t in enumerate(ts)))
    old = time.time() - 10 * 86400
    os.utime(log, (old, old))
    ready = threading.Event()
    e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False, tick_s=0.01),
               lambda s: ready.set() if s.forecast is not None else None)
    e.start()
    try:
        assert ready.wait(20), "no forecast"
        snap = e.snapshot()
    finally:
        e.stop()
    cut = end // 3600 * 3600
    assert snap.series.hours[-1] == cut and snap.series.counts[-1] == 6  # 07:00 .. 07:05
    assert snap.series.partial_hour == cut and snap.series.log_end == end
    assert snap.forecast.hours[0] == cut + 3600  # after the log's last hour
    assert not [a for a in snap.anomalies if a.hour == cut]  # 6 against 60 is not a drop
    assert not snap.anomalies  # steady traffic: nothing else either
    assert np.isfinite(snap.forecast.p50).all() and (snap.forecast.p50 > 30).all()


def test_a_restart_shows_each_sites_last_lines_before_any_new_one(tmp_path, feed_for):
    # after a restart from the state the tail was empty ("nothing read since this start")
    # until a line was appended: the README promises a site's last lines
    logs = tmp_path
    (logs / "access.log.1").write_text(lines(0, 40))
    (logs / "access.log").write_text(lines(100, 3000))  # more than the tail's 64 KiB window
    (logs / "b.example.access.log").write_text(lines(500, 7))
    old = time.time() - 3600
    os.utime(logs / "access.log.1", (old, old))
    state = tmp_path.parent / f"{tmp_path.name}.state.json"
    e, f = feed_for(state)
    first = [(t.site, t.text) for t in f.tail]
    f.close()
    e, f = feed_for(state)
    again = [(t.site, t.text) for t in f.tail]
    assert total(e) == 3047  # nothing counted twice
    main = next(site for site, _ in first if site != "b.example")
    for site, n in ((main, 50), ("b.example", 7)):
        mine = [text for s, text in again if s == site]
        assert mine == [text for s, text in first if s == site][-n:]
        assert len(mine) == n
    assert [text for s, text in again if s == main][-1] == lines(3099, 1).rstrip("\n")
    with (logs / "access.log").open("a") as fh:
        fh.write(lines(9000, 2))
    f.step(0.1)
    f.step(0.1)
    texts = [t.text for t in f.tail]
    assert texts[-2:] == lines(9000, 2).splitlines()


def test_a_restart_shows_the_live_files_last_lines_when_its_rotation_is_as_new(
        tmp_path, feed_for):
    # the bundled sample logs, checked out together: every file has one mtime, and after a
    # restart the tail showed access.log.1's last lines, 4 hours before the log's end
    (tmp_path / "access.log.1").write_text(lines(0, 40))
    (tmp_path / "access.log").write_text(lines(100, 60))
    same = time.time() - 60
    for name in ("access.log.1", "access.log"):
        os.utime(tmp_path / name, (same, same))
    # a checkout writes them milliseconds apart, in any order: the rotation 2 ms after
    os.utime(tmp_path / "access.log.1", (same + 0.002, same + 0.002))
    state = tmp_path.parent / f"{tmp_path.name}.state.json"
    _, f = feed_for(state)
    f.close()
    _, f = feed_for(state)
    texts = [t.text for t in f.tail]
    assert texts and texts[-1] == lines(159, 1).rstrip("\n"), texts[-3:]
    assert lines(39, 1).rstrip("\n") not in texts


def test_all_sites_says_which_site_has_no_whole_hour_in_the_forecast_yet(tmp_path, feed_for):
    # a trial: a site whose log began in the hour in progress was left out of the forecast of
    # "all sites" (it has no whole hour), while the screen spoke of every site summed
    def line(ts: float) -> str:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))
        return f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1 "-" "ua"\n'

    now = time.time()
    (tmp_path / "old.example.access.log").write_text(
        "".join(line(t) for t in np.arange(now - 3 * 86400, now - 60, 300)))
    (tmp_path / "new.example.access.log").write_text(
        "".join(line(t) for t in np.arange(now - 600, now - 30, 30)))
    e, f = feed_for()
    e.source = f
    said = [n for n in e.snapshot().ingest.notices if "no whole hour yet" in n]
    assert len(said) == 1 and "new.example" in said[0] and "old.example" not in said[0], said
    e.site = "new.example"  # one site's own view: nothing left out of it
    assert not any("no whole hour yet" in n for n in e.snapshot().ingest.notices)
    f.close()
    (tmp_path / "old.example.access.log").unlink()  # none with a whole hour: no "other sites"
    (tmp_path / "new2.example.access.log").write_text(
        "".join(line(t) for t in np.arange(now - 500, now - 30, 30)))
    e, f = feed_for()
    e.source = f
    (said,) = [n for n in e.snapshot().ingest.notices if "no whole hour yet" in n]
    assert said.startswith("no whole hour yet for any site: new") and "other sites" not in said


VHOST_LINE = ('{host} 203.0.113.{i} - - [20/Nov/2026:{h:02d}:{m:02d}:00 +0000] "GET /p HTTP/1.1" '
              '200 5 "-" "ua"\n')


def test_a_file_of_virtual_hosts_lines_is_not_a_site_of_its_own(tmp_path, feed_for):
    """A VCOMBINED file 'vhosts.log': every request is its line's virtual host's, and the file
    name had been a site too, of zeros over the file's hours (the agent exported it, the app
    listed it), in the counts read once and in the ones followed."""
    from trafficwatch.counting.ingest import ingest

    log = tmp_path / "vhosts.log"
    log.write_text("".join(VHOST_LINE.format(host="a.example:80" if k % 2 else "b.example:443",
                                             i=k % 250, h=10 + k // 60, m=k % 60)
                           for k in range(240)))
    counted, _ = ingest([str(log)])
    assert counted.sites() == ["a.example", "b.example"]
    e, f = feed_for()
    with log.open("a") as fh:
        fh.write(VHOST_LINE.format(host="a.example:80", i=1, h=14, m=5))
    f.step(0.1)
    f.step(0.1)
    assert e.series.sites() == ["a.example", "b.example"] and total(e) == 241


def test_the_engine_never_waits_on_the_followers_lock(tmp_path, feed_for):
    """The follower's thread holds its lock while it hands lines over, and takes the engine's
    inside it. The engine's frame asked the follower how many files it follows while holding
    its own lock: the app froze under a log appended at 3,000 lines a second (a trial; q,
    Ctrl-C and the metrics endpoint with it). A frame, the view's series and the forecast's
    clock are made while the follower's lock is held elsewhere."""
    import threading

    (tmp_path / "a.example.access.log").write_text(lines(0, 5))
    e, f = feed_for()
    e.source = f
    held, release = threading.Event(), threading.Event()

    def follow_thread() -> None:  # as in Follower.check_now -> on_data
        with f.follower.lock:
            held.set()
            release.wait(30)

    t = threading.Thread(target=follow_thread, daemon=True)
    t.start()
    assert held.wait(10)
    done = threading.Event()

    def frame() -> None:
        f._fresh_at = 0.0  # the clock asks the follower's files again
        e.snapshot()
        e.view_series()
        done.set()

    try:
        threading.Thread(target=frame, daemon=True).start()
        assert done.wait(10), "the engine waited on the follower's lock"
    finally:
        release.set()
        t.join(10)


def test_a_site_asked_for_and_not_read_shows_every_site_until_it_comes(tmp_path, monkeypatch):
    """--site nope (a typo, or a vhost that has not logged yet): the view asked the series for
    a site it did not hold, the engine's threads died, and the app sat on "starting…" (a
    trial, 40 minutes). Every site is shown, the status line says why, and the site is shown
    once its log comes."""
    from tests.test_follow import wait_for

    monkeypatch.setattr("trafficwatch.engine.tuning.load_default", lambda cfg: (None, "no model"))
    (tmp_path / "a.example.access.log").write_text(lines(0, 5))
    e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False, tick_s=0.02,
                            site="b.example"), lambda s: None)
    e.start()
    try:
        wait_for(lambda: e.latest is not None and "no site b.example" in e.latest.status)
        assert e.latest.status == ("no site b.example in what was read (found: a.example): all "
                                   "sites shown until it comes; s picks one")
        assert e.site == "" and e.latest.series is not None
        (tmp_path / "b.example.access.log").write_text(lines(5, 3))
        wait_for(lambda: e.site == "b.example")
        wait_for(lambda: "no site" not in e.latest.status)
    finally:
        e.stop()


def test_a_json_requests_tail_line_reads_as_a_combined_line(tmp_path, feed_for):
    """A Caddy line's first rows in the pane were its level, logger and port, cut there: its
    path, status and agent never in view (a trial). Shown as a combined line reads; the raw
    line kept for the tail's filter; a server's own line shown as it is."""
    (tmp_path / "caddy.log").write_text(
        '{"level":"info","ts":1795000000.5,"logger":"http.log.access","msg":"handled request",'
        '"request":{"remote_ip":"10.0.0.2","client_ip":"1.2.3.4","remote_port":"5",'
        '"proto":"HTTP/2.0","method":"GET","host":"C.example:443","uri":"/c?q=1",'
        '"headers":{"User-Agent":["curl/8"]}},"status":404,"size":5}\n'
        '{"level":"info","ts":1795000001,"logger":"tls.obtain","msg":"certificate obtained"}\n')
    _, f = feed_for()
    own, req = sorted(f.tail, key=lambda t: "tls.obtain" in t.text)[::-1]
    assert req.shown == ('c.example 1.2.3.4 - - [18/Nov/2026:11:06:40 +0000] "GET /c?q=1" 404 5 '
                         '"-" "curl/8"') and req.text.startswith('{"level"')
    assert own.shown == "" and own.text.startswith('{"level":"info","ts":1795000001')


def test_a_fault_of_the_parser_costs_its_lines_not_the_following(tmp_path, feed_for, monkeypatch):
    # a trial: a parser bug (an IndexError on a Traefik line) ended the follow thread; the
    # agent went on serving counts that no longer moved, said nowhere
    from trafficwatch.logs.parse import Parser

    feed = Parser.feed

    def faulty(self, data, **kw):
        if b"/p7 " in data:
            raise IndexError("index 549 is out of bounds")
        return feed(self, data, **kw)

    monkeypatch.setattr(Parser, "feed", faulty)
    log = tmp_path / "access.log"
    log.write_text(lines(0, 5))
    e, f = feed_for()
    append = lines(5, 3)  # its /p7 line: the chunk the parser fails on
    with log.open("a") as fh:
        fh.write(append)
    for _ in range(10):
        f.step(0.1)
    assert total(e) == 5
    (rep,) = f.report.files
    assert rep.malformed.counts["not read: an internal error (IndexError), a bug to report"] == 3
    assert any("internal error" in w for w in f.warnings)
    with log.open("a") as fh:  # and lines after it are read as ever
        fh.write(lines(20, 4))
    for _ in range(20):
        f.step(0.1)
        if total(e) == 9:
            break
    assert total(e) == 9


def test_files_rotated_away_and_deleted_are_let_go_of_their_totals_kept(tmp_path, feed_for,
                                                                          monkeypatch):
    """A review: every rotation added a stream, its parser and its report for ever (5 KB of
    memory a rotation, every save 200 bytes longer). A file gone from disk and read to its end
    is let go of (here at once), its lines still in the totals, and said among those read."""
    from trafficwatch.engine.views import ingest_view

    monkeypatch.setattr("trafficwatch.engine.live.RETIRED_KEEP_S", 0.0)
    monkeypatch.setattr("trafficwatch.engine.live.PRUNE_S", 0.0)
    monkeypatch.setattr("trafficwatch.logs.follow.AWAY_READ_S", 0.0)
    log, state = tmp_path / "access.log", tmp_path.parent / f"{tmp_path.name}-state.json"
    log.write_text(lines(0, 10))
    e, f = feed_for(state)
    written = 10
    for k in range(25):  # rename, the one before deleted (logrotate's rotate 1)
        (tmp_path / "access.log.1").unlink(missing_ok=True)
        os.rename(log, tmp_path / "access.log.1")
        log.write_text(lines(written, 4))
        written += 4
        for _ in range(3):
            f.step(0.1)
    for _ in range(3):
        f.step(0.1)
    assert total(e) == written and f.report.lines == written
    assert len(f.report.files) <= 4 and f.report.folded >= 20
    view = ingest_view(f)
    assert view.lines_read == written and view.files_read == 26
    f.commit()
    import json

    assert len(json.loads(state.read_text())["counts"]["parsers"]) <= 4
