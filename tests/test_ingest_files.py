"""Directories of many files: whole files read on every core give what one process gives."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

from trafficwatch.counting import ingest as ingest_mod
from trafficwatch.counting.ingest import IngestOptions, ingest
from trafficwatch.counting.series import HourlySeries

LINE = ('198.51.100.{i} - - [{d:02d}/Nov/2026:{h:02d}:{m:02d}:00 +0100] "GET /p{i}.{ext} HTTP/1.1" '
        '{st} 5 "-" "{ua}"\n')


def _rotations(d: Path) -> Path:
    """Two sites, each a live log, a .1 and gzipped older rotations; some junk among them."""
    for site in ("shop.example", "blog.example"):
        for k in range(8, -1, -1):  # access.log.8.gz (oldest) .. access.log (newest)
            text = "".join(LINE.format(i=(k * 7 + j) % 250, d=20 - k, h=j % 24, m=j % 60,
                                       ext=("css", "html")[j % 2], st=(200, 404)[j % 5 == 0],
                                       ua=("Mozilla/5.0", "Googlebot/2.1")[j % 3 == 0])
                           for j in range(300 + k))
            if k == 3:
                text += "not a log line\n"  # malformed, counted with its reason
            name = f"{site}.access.log" + (f".{k}" if k else "")
            if k >= 2:
                (d / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
            else:
                (d / name).write_text(text)
    (d / "other.access.log.2.gz").write_bytes(b"\x1f\x8b broken gzip")  # an archive cut short
    (d / "bin.access.log").write_bytes(bytes(range(256)) * 4)  # binary: skipped, said why
    return d


def _read(d: Path, workers: int | None):
    series, report = ingest([str(d)], IngestOptions(workers=workers),
                            HourlySeries(track_visitors=True))
    files = [(os.path.basename(f.name), f.format, f.lines, f.parsed, dict(f.malformed.counts),
              f.error.replace(str(d), "D"), f.first_ts, f.last_ts) for f in report.files]
    return series.to_dict(), files, report.lines


def test_files_read_by_workers_give_what_one_process_gives(tmp_path):
    from trafficwatch.logs.sources import discover

    one = _read(_rotations(tmp_path), workers=1)
    pool = ingest_mod._file_pool(discover([str(tmp_path)]).sites, IngestOptions(workers=2),
                                 HourlySeries())
    assert pool is not None  # the gzipped rotations do go to workers
    pool.shutdown()
    many = _read(tmp_path, workers=2)
    assert many == one
    assert one[2] == 2 * sum(300 + k for k in range(9)) + 2  # every line, the junk ones too
    assert sum(1 for f in one[1] if f[5]) == 2  # the broken archive and the binary file, said


def _dies_on_one_file(args):
    if args[0].path.endswith("shop.example.access.log.4.gz"):
        os._exit(1)  # the OOM killer, say
    return _real(args)


_real = ingest_mod._read_in_worker


def test_a_file_whose_worker_died_is_read_here(tmp_path, monkeypatch):
    one = _read(_rotations(tmp_path), workers=1)
    monkeypatch.setattr(ingest_mod, "_read_in_worker", _dies_on_one_file)
    assert _read(tmp_path, workers=2) == one


def test_the_time_a_log_stopped_is_its_last_lines_not_the_last_one_parsed_slowly(tmp_path):
    """A line the vectorised parser leaves to the line-by-line one (here an agent whose closing
    quote was cut) was counted after the others: the log of elastic_apache_logs, which stops at
    21:05, was said to have had "no new lines since 12:05", and its unfinished 21:00 hour was
    judged whole (an anomaly: 86 requests against a band of 98-148)."""
    ok = '203.0.113.9 - - [20/May/2015:{t} +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0"\n'
    cut = ('203.0.113.7 - - [20/May/2015:12:05:17 +0000] "GET /x.py HTTP/1.1" 200 235 "-" '
           '"Mozilla/5.0 (compatible; Googlebot/2.1)\n')
    text = ok.format(t="10:00:00") + cut + ok.format(t="21:05:15")
    (tmp_path / "access.log").write_text(text)
    counts, _ = ingest([str(tmp_path / "access.log")], IngestOptions())
    site = counts.sites()[0]
    assert counts.total(site) == 3  # the cut line is counted, only no longer last
    assert counts.last_ts(site) == 1432155915  # 2015-05-20 21:05:15 UTC
    assert counts.partial_end(site) == 1432155915 // 3600


def test_sites_of_other_formats_in_one_folder_are_each_read_in_their_own(tmp_path):
    """A site's first file is tried first in the format of the site read before (an AWS folder
    is a file a site); a folder mixing formats still reads each site in its own."""
    line = ('203.0.113.9 - - [10/Oct/2024:13:{m:02d}:36 +0000] "GET /a HTTP/1.1" 200 5 "-" '
            '"Mozilla/5.0"\n')
    alb = ('https 2024-10-10T13:{m:02d}:00.186641Z app/my-lb/50dc 192.0.2.1:2817 10.0.0.1:80 0.1 '
           '0.1 0.1 200 200 0 57 "GET https://x.example:443/ HTTP/1.1" "curl/8" - -\n')
    files = {"a.access.log": line * 1, "b.access.log": '{"time":"2024-10-10T13:{m:02d}:00Z",'
             '"status":200,"uri":"/j"}\n', "c.access.log": line, "d-alb.log": alb,
             "e-alb.log": alb, "f.access.log": line}
    for name, text in files.items():
        (tmp_path / name).write_text("".join(text.replace("{m:02d}", f"{m:02d}")
                                             for m in range(7)))
    series, report = ingest([str(tmp_path)], IngestOptions(), HourlySeries())
    formats = {os.path.basename(f.name): f.format for f in report.files}
    assert formats == {"a.access.log": "COMBINED", "b.access.log": "JSON",
                       "c.access.log": "COMBINED", "d-alb.log": "AWSALB", "e-alb.log": "AWSALB",
                       "f.access.log": "COMBINED"}
    assert series.total() == 6 * 7 and not any(f.malformed.total for f in report.files)
