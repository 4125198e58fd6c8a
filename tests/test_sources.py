"""Finding logs: rotations grouped per site, oldest first; what is skipped and why."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from trafficwatch.logs.sources import discover


def touch(p, data=b"x\n"):
    p.write_bytes(data)
    return p


def test_rotations_are_grouped_per_site_oldest_first(tmp_path):
    for name in ("access.log", "access.log.1", "access.log.2.gz", "access.log.10.gz",
                 "example.com.access.log", "example.com.access.log.1", "error.log"):
        touch(tmp_path / name)
    d = discover([str(tmp_path)])
    assert [os.path.basename(f.path) for f in d.sites[tmp_path.name]] == [
        "access.log.10.gz", "access.log.2.gz", "access.log.1", "access.log"]
    assert [f.rotation for f in d.sites["example.com"]] == [1, 0]
    assert d.sites[tmp_path.name][1].compressed == "gz"
    assert any("error log" in why for _, why in d.ignored) and not d.skipped


def test_dated_rotations_sort_by_date(tmp_path):
    for name in ("site.access.log-20261119.gz", "site.access.log", "site.access.log-20261118.gz"):
        touch(tmp_path / name)
    files = discover([str(tmp_path)]).sites["site"]
    assert [os.path.basename(f.path) for f in files] == [
        "site.access.log-20261118.gz", "site.access.log-20261119.gz", "site.access.log"]


@pytest.mark.parametrize("stamps", [
    ("20261206090827", "20261206091031.gz", "20261206091043"),  # -%Y%m%d%H%M%S (a trial)
    ("202612060908", "202612060910"),  # -%Y%m%d%H%M
    ("2026-12-06-08", "2026-12-06-09.gz"),  # -%Y-%m-%d-%H
    ("2026-12-06_0908", "2026-12-06_0910"),
])
def test_rotations_dated_to_the_hour_minute_or_second_are_the_sites_own(tmp_path, stamps):
    # a trial: logrotate's dateformat -%Y%m%d%H%M%S made each rotation a site of its own
    # ("web.access.log-20261206091031", 1,593 requests), counted apart from web's
    for stamp in stamps:
        touch(tmp_path / f"web.access.log-{stamp}")
    touch(tmp_path / "web.access.log")
    d = discover([str(tmp_path)])
    assert list(d.sites) == ["web"]
    assert [os.path.basename(f.path) for f in d.sites["web"]] == [
        *(f"web.access.log-{x}" for x in stamps), "web.access.log"]


def test_iis_hourly_logs_are_their_folders_site(tmp_path):
    # a review: u_ex26120608.log, u_ex26120609.log (IIS's hourly files) were a site an hour
    site = tmp_path / "W3SVC1"
    site.mkdir()
    for name in ("u_ex26120609.log", "u_ex26120608.log", "u_ex261205.log"):
        touch(site / name)
    d = discover([str(site)])
    assert list(d.sites) == ["W3SVC1"]
    assert [os.path.basename(f.path) for f in d.sites["W3SVC1"]] == [
        "u_ex261205.log", "u_ex26120608.log", "u_ex26120609.log"]


def test_vhost_from_filename_names_the_site(tmp_path):
    touch(tmp_path / "vhost_shop_access.log")
    d = discover([str(tmp_path)], vhost_from_filename=r"vhost_(\w+?)_")
    assert list(d.sites) == ["shop"]


def test_globs_and_explicit_files(tmp_path):
    touch(tmp_path / "a.log")
    touch(tmp_path / "b.log")
    assert sum(len(v) for v in discover([str(tmp_path / "*.log")]).sites.values()) == 2
    d = discover([str(tmp_path / "missing.log")])
    assert d.skipped == [(str(tmp_path / "missing.log"), "no such file")]


def test_fifo_dangling_symlink_and_control_characters_are_skipped_safely(tmp_path):
    os.mkfifo(tmp_path / "fifo.log")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling.log")
    # size 0 whatever it holds: the agent read it as truncated at each read (a security trial)
    os.symlink("/proc/self/status", tmp_path / "status.access.log")
    touch(tmp_path / "evil\x1b[2J.log")
    d = discover([str(tmp_path)])
    reasons = dict(d.skipped)
    assert reasons[str(tmp_path / "fifo.log")].startswith("not a regular file")
    assert reasons[str(tmp_path / "status.access.log")] == "a /proc or /sys file, not a log"
    assert reasons[str(tmp_path / "dangling.log")] == "dangling symlink"
    (evil,) = [f for files in d.sites.values() for f in files]
    assert "\x1b" not in evil.display_name and "\\x1b" in evil.display_name


def test_the_shells_process_substitution_is_told_to_come_on_stdin():
    """`counts <(zcat access.log.2.gz)` said "not a regular file (FIFO, device or socket)" and
    nothing of what reads it: `zcat ... | trafficwatch counts -`."""
    r, w = os.pipe()
    try:
        (why,) = [why for _, why in discover([f"/dev/fd/{r}"]).skipped]
    finally:
        os.close(r)
        os.close(w)
    assert "<(...)" in why and "stdin, as -" in why


def test_an_empty_directory_is_reported(tmp_path):
    assert discover([str(tmp_path)]).skipped == [(str(tmp_path), "empty directory: no access log found")]


def test_gz_and_bz2_rotations_are_read_in_order_with_every_line_counted(tmp_path):
    import bz2

    from trafficwatch.counting.ingest import ingest

    line = '192.0.2.1 - - [{d:02d}/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n'
    day = {name: d for d, name in enumerate(
        ("access.log.4.bz2", "access.log.3.bz2", "access.log.2.gz", "access.log.1", "access.log"),
        start=10)}
    for name, d in day.items():
        data = (line.format(d=d) * d).encode()  # day d has d lines
        if name.endswith(".bz2"):
            data = bz2.compress(data)
        elif name.endswith(".gz"):
            data = gzip.compress(data)
        touch(tmp_path / name, data)
    found = discover([str(tmp_path)])
    files = found.sites[tmp_path.name]
    assert [os.path.basename(f.path) for f in files] == list(day)
    assert [f.compressed for f in files] == ["bz2", "bz2", "gz", None, None]
    series, report = ingest([str(tmp_path)])
    s = series.series(tmp_path.name).dropna()
    assert report.lines == sum(day.values()) and not report.failed
    assert [int(s[s.index.day == d].sum()) for d in day.values()] == list(day.values())


def test_a_path_given_twice_is_read_once_and_is_no_fault(tmp_path):
    """`counts a.log a.log` counted it once but said "skipped a.log: no file in it, only
    subdirectories", which also made the exit code 1."""
    log = touch(tmp_path / "access.log")
    touch(tmp_path / "README")
    for paths in ([str(log), str(log)], [str(tmp_path), str(tmp_path)], [str(tmp_path), str(log)]):
        d = discover(paths)
        assert sum(map(len, d.sites.values())) == 1 and not d.skipped, paths
    (tmp_path / "sub").mkdir()
    d = discover([str(log), str(tmp_path / "sub")])  # a directory of nothing is still said
    assert d.skipped and d.skipped[0][0].endswith("sub")


def test_a_follower_finds_a_named_logs_rotations_beside_it_as_passive(tmp_path):
    for name in ("shop.log", "shop.log.1", "shop.log.2.gz", "shop.log-20261204",
                 "shop.log.bak", "shop.logger", "other.log.1"):
        touch(tmp_path / name)
    (tmp_path / "shop.log.3").mkdir()
    plain = discover([str(tmp_path / "shop.log")])
    assert [os.path.basename(f.path) for fs in plain.sites.values() for f in fs] == ["shop.log"]
    d = discover([str(tmp_path / "shop.log"), str(tmp_path / "shop.log.1")], rotations=True)
    got = {os.path.basename(f.path): f.passive for f in d.sites["shop"]}
    # named too, shop.log.1 is read as named; a name that only starts alike is not a rotation
    assert got == {"shop.log": False, "shop.log.1": False, "shop.log.2.gz": True,
                   "shop.log-20261204": True}
    assert {os.path.basename(f.path): (f.compressed, f.rotation, f.date_key)
            for f in d.sites["shop"] if f.passive} == {"shop.log.2.gz": ("gz", 2, ""),
                                                     "shop.log-20261204": (None, 0, "20261204")}
    assert not d.skipped
    os.rename(tmp_path / "shop.log", tmp_path / "shop.log.0")  # mid-rotation: renamed, not back
    d = discover([str(tmp_path / "shop.log")], rotations=True)
    assert not d.skipped and not d.ignored  # being rotated: no fault
    assert {os.path.basename(f.path) for f in d.sites["shop"]} == {
        "shop.log.0", "shop.log.1", "shop.log.2.gz", "shop.log-20261204"}
    assert discover([str(tmp_path / "gone.log")], rotations=True).skipped == [
        (str(tmp_path / "gone.log"), "no such file")]


def test_a_link_to_a_log_in_the_same_folder_does_not_name_its_site(tmp_path):
    # a trial: link.access.log -> web.access.log named the only site "link"
    touch(tmp_path / "web.access.log")
    (tmp_path / "link.access.log").symlink_to("web.access.log")
    (tmp_path / "a.access.log").symlink_to("web.access.log")
    d = discover([str(tmp_path)])
    assert {s: [os.path.basename(f.path) for f in fs] for s, fs in d.sites.items()} == {
        "web": ["web.access.log"]}
    (tmp_path / "elsewhere").mkdir()
    touch(tmp_path / "elsewhere" / "x.log")
    (tmp_path / "shop.access.log").symlink_to(tmp_path / "elsewhere" / "x.log")
    assert "shop" in discover([str(tmp_path)]).sites  # a link to a file outside: its own name


def test_a_hard_link_to_a_log_is_read_once_and_said(tmp_path):
    # a trial: `ln access.log shop.access.log` counted every line twice, as two sites (and
    # counts --follow printed the second with 0); a symlink was read once
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "access.log"
    log.write_text("x\n")
    os.link(log, tmp_path / "logs" / "shop.access.log")
    os.link(log, tmp_path / "other.log")
    d = discover([str(tmp_path / "logs"), str(tmp_path / "other.log")])
    assert {s: [os.path.basename(f.path) for f in fs] for s, fs in d.sites.items()} == {
        "logs": ["access.log"]}
    said = dict(d.ignored)
    for name in (tmp_path / "logs" / "shop.access.log", tmp_path / "other.log"):
        assert said[str(name)] == (f"the same file as {log} (a hard link): its lines are "
                                   "counted once, from there")
    assert not d.skipped
    os.link(log, tmp_path / "logs" / "access.log.1")  # a rotation linked to the log: once
    rotated = discover([str(log)], rotations=True)
    assert [os.path.basename(f.path) for f in rotated.sites["logs"]] == ["access.log"]


def test_a_rotation_compressed_with_zstd_is_said_to_be_so_not_binary_and_xz_is_read(tmp_path):
    # a trial: logrotate's compresscmd xz made web.access.log.1.xz, "looks binary"
    for name in ("web.access.log", "web.access.log.1.xz", "web.access.log.2.zst",
                 "web.access.log.3.gz"):
        touch(tmp_path / name)
    d = discover([str(tmp_path)])
    assert [os.path.basename(f.path) for f in d.sites["web"]] == [
        "web.access.log.3.gz", "web.access.log.1.xz", "web.access.log"]
    said = {os.path.basename(n): why for n, why in d.skipped}
    assert said["web.access.log.2.zst"].startswith("compressed with zstd, which is not read")
    assert "web.access.log.1.xz" not in said


def test_a_file_gone_between_the_listing_and_its_look_is_not_skipped(tmp_path, monkeypatch):
    """A rotation shifted .7.gz to .8.gz and deleted it between the directory's listing and the
    look at each file: "skipped ....8.gz: no such file", of a file whose lines had been counted
    (a trial). Named on the command line, a missing file is still said."""
    from trafficwatch.logs import sources

    (tmp_path / "access.log").write_text("x\n")
    listed = sources._expand

    def with_a_ghost(arg, *rest):
        found, explicit = listed(arg, *rest)
        return [*found, Path(arg) / "access.log.8.gz"] if not explicit else found, explicit

    monkeypatch.setattr(sources, "_expand", with_a_ghost)
    found = discover([str(tmp_path)])
    assert not found.skipped and [f.path for fs in found.sites.values() for f in fs] == [
        str(tmp_path / "access.log")]
    assert discover([str(tmp_path / "gone.log")]).skipped == [
        (str(tmp_path / "gone.log"), "no such file")]
