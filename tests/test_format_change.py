"""A log whose lines change format within the file (nginx's log_format edited, then reloaded):
read in the new format from where it begins, in `counts`, a big file read in parallel, and a
followed log; not where --log-format names the format."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from trafficwatch.counting.ingest import IngestOptions, ingest
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.engine.live import LiveFeed
from trafficwatch.logs import read as logread
from trafficwatch.logs.formats import COMBINED

T0 = 1_795_000_000  # 2026-11-18


def clf(k: int, t: int | None = None) -> str:
    t = T0 + 60 * k if t is None else t
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
    return f'203.0.113.{k % 250} - - [{stamp}] "GET /p{k % 7} HTTP/1.1" 200 5 "-" "ua"\n'


def js(k: int, t: int | None = None) -> str:
    t = T0 + 60 * k if t is None else t
    return json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t)),
                       "remote_addr": f"198.51.100.{k % 250}",
                       "request": f"GET /j{k % 7} HTTP/1.1", "status": 200,
                       "body_bytes_sent": 5, "http_user_agent": "ua"}) + "\n"


def changed_log(path: Path, before: int, after: int) -> Path:
    path.write_text("".join(clf(k) for k in range(before))
                    + "".join(js(k) for k in range(before, before + after)))
    return path


def test_counts_reads_a_log_in_its_new_format_from_the_line_it_changed(tmp_path):
    log = changed_log(tmp_path / "access.log", 1500, 1500)
    series, rep = ingest([str(log)])
    (f,) = rep.files
    assert (f.parsed, f.malformed.total) == (3000, 0)
    assert series.total() == 3000
    first_json = time.strftime("%Y-%m-%d %H:%M", time.gmtime(T0 + 60 * 1500))
    assert f.format == f"COMBINED, then JSON from {first_json} UTC"


def test_a_big_log_read_in_parallel_names_the_change_once(tmp_path, monkeypatch):
    # each part read by a worker after the change finds it again: one change to say
    log = changed_log(tmp_path / "access.log", 2000, 3000)
    monkeypatch.setattr(logread, "PARALLEL_MIN", 0)
    got = list(logread.parse_file(log, COMBINED, workers=2, chunk_bytes=64 << 10))
    assert sum(len(r.records) for r in got) == 5000
    assert sum(r.malformed.total for r in got) == 0
    assert {r.changed for r in got} == {"", "JSON"}


def test_a_format_named_by_the_user_is_kept_whatever_the_lines(tmp_path):
    log = changed_log(tmp_path / "access.log", 100, 60)
    _, rep = ingest([str(log)], IngestOptions(log_format="combined"))
    (f,) = rep.files
    assert (f.parsed, f.malformed.total, f.format) == (100, 60, "COMBINED")


def test_a_run_of_lines_no_format_reads_stays_malformed_and_the_format_stays(tmp_path):
    log = tmp_path / "access.log"
    junk = "".join(f"garbage line {k} that is no request at all\n" for k in range(40))
    log.write_text("".join(clf(k) for k in range(50)) + junk
                   + "".join(clf(k) for k in range(50, 80)))
    _, rep = ingest([str(log)])
    (f,) = rep.files
    assert (f.parsed, f.malformed.total, f.format) == (80, 40, "COMBINED")


def test_a_few_lines_of_another_format_do_not_change_it(tmp_path):
    # fewer than REFIT_MIN in a row: stray lines, counted malformed; the log goes on as it was
    log = tmp_path / "access.log"
    log.write_text("".join(clf(k) for k in range(50)) + "".join(js(k) for k in range(50, 60))
                   + "".join(clf(k) for k in range(60, 90)))
    _, rep = ingest([str(log)])
    (f,) = rep.files
    assert (f.parsed, f.malformed.total, f.format) == (80, 10, "COMBINED")


@pytest.fixture(params=["inotify", "poll"])
def follow(tmp_path: Path, monkeypatch, request):
    monkeypatch.setattr("trafficwatch.engine.live.RESCAN_S", 0.0)
    feeds: list[LiveFeed] = []

    def start() -> tuple[Engine, LiveFeed]:
        e = Engine(EngineConfig(paths=[str(tmp_path / "logs")], fine_tune=False,
                                poll=request.param == "poll"), lambda s: None)
        f = LiveFeed(e.sink, tmp_path / "state.json")
        feeds.append(f)
        return e, f

    (tmp_path / "logs").mkdir()
    yield start
    for f in feeds:
        f.close()


def _read(e: Engine, f: LiveFeed, want: int) -> None:
    for _ in range(100):
        f.step(0.05)
        if e.series.total() + f.report.malformed.total >= want:
            return
        time.sleep(0.02)


def test_a_followed_log_changed_a_few_lines_at_a_time_is_read_in_its_new_format(
        tmp_path, follow):
    log = tmp_path / "logs" / "access.log"
    log.write_text("".join(clf(k) for k in range(30)))
    e, f = follow()
    assert e.series.total() == 30
    now = int(time.time()) - 600
    k = 30
    for batch in range(12):  # 60 lines of JSON, 5 at a time, as a reloaded server writes them
        with log.open("a") as fh:
            fh.write("".join(js(k + i, now + k + i) for i in range(5)))
        k += 5
        _read(e, f, k)
    malformed = f.report.malformed.total
    assert 0 < malformed < 20  # the run's lines that came before the change was seen
    assert e.series.total() == 90 - malformed
    said = [w for w in f.warnings if "changed format" in w]
    assert len(said) == 1 and "read as JSON" in said[0]
    assert f"the {malformed} lines before them that no format in force read were counted " \
        "malformed" in said[0]
    f.commit()
    f.close()
    # restarted: the new format is the file's (no run of malformed lines to find it again)
    with log.open("a") as fh:
        fh.write("".join(js(k + i, now + k + i) for i in range(3)))
    e2, f2 = follow()
    assert e2.series.total() == 93 - malformed
    assert f2.report.malformed.total == malformed


def test_a_followed_log_changed_within_one_write_loses_no_line(tmp_path, follow):
    log = tmp_path / "logs" / "access.log"
    log.write_text("".join(clf(k) for k in range(30)))
    e, f = follow()
    now = int(time.time()) - 600
    with log.open("a") as fh:
        fh.write("".join(clf(k, now + k) for k in range(30, 40))
                 + "".join(js(k, now + k) for k in range(40, 80)))
    _read(e, f, 80)
    assert (e.series.total(), f.report.malformed.total) == (80, 0)
    assert any("read as JSON" in w for w in f.warnings)


def test_an_old_workers_line_after_the_change_voids_none_of_the_new_ones(tmp_path):
    # a trial: nginx's old workers finish their requests in the old format after a reload;
    # one such line among the JSON had all the JSON before it counted malformed, and one at
    # the file's end kept the change from being seen at all
    log = tmp_path / "access.log"
    log.write_text("".join(clf(k) for k in range(200)) + "".join(js(k) for k in range(200, 700))
                   + clf(700) + "".join(js(k) for k in range(701, 1200)))
    _, rep = ingest([str(log)])
    (f,) = rep.files
    assert (f.parsed, f.malformed.total) == (1200, 0)
    first_json = time.strftime("%Y-%m-%d %H:%M", time.gmtime(T0 + 60 * 200))
    assert f.format == f"COMBINED, then JSON from {first_json} UTC"
    end = tmp_path / "end" / "access.log"
    end.parent.mkdir()
    end.write_text("".join(clf(k) for k in range(200)) + "".join(js(k) for k in range(200, 400))
                   + clf(400))
    _, rep = ingest([str(end)])
    assert (rep.files[0].parsed, rep.files[0].malformed.total) == (401, 0)


def test_a_log_that_changes_back_and_forth_is_read_whole(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("".join((clf if (k // 100) % 2 == 0 else js)(k) for k in range(500)))
    _, rep = ingest([str(log)])
    assert (rep.files[0].parsed, rep.files[0].malformed.total) == (500, 0)


@pytest.mark.parametrize("chunk", [4096, 6000, 9999, 65536])
def test_no_line_is_lost_where_a_chunk_ends_at_the_change(tmp_path, chunk):
    # a trial: a change 10 lines before a chunk's end had those 10 counted malformed (the run
    # began too late in the chunk to be tried, and the next chunk found the rest)
    log = changed_log(tmp_path / "access.log", 700, 700)
    got = list(logread.parse_file(log, COMBINED, workers=1, chunk_bytes=chunk))
    assert sum(len(r.records) for r in got) == 1400
    assert sum(r.malformed.total for r in got) == 0


def test_parts_read_in_parallel_read_an_old_workers_lines_too(tmp_path, monkeypatch):
    # a trial: a combined line every 20,000 JSON ones voided the JSON before it in each part
    log = tmp_path / "access.log"
    log.write_text("".join(clf(k) for k in range(300)) + "".join(
        clf(k) if k % 500 == 0 else js(k) for k in range(300, 6000)))
    monkeypatch.setattr(logread, "PARALLEL_MIN", 0)
    got = list(logread.parse_file(log, COMBINED, workers=2, chunk_bytes=64 << 10))
    assert sum(len(r.records) for r in got) == 6000
    assert sum(r.malformed.total for r in got) == 0


def test_a_followed_log_read_in_a_format_of_its_own_then_json_finds_the_json(tmp_path, follow):
    # a trial: 25 lines of an admin's own format (no known one: said), then JSON: the JSON was
    # never read while followed (tried once, given up), though `counts` of the file read it
    log = tmp_path / "logs" / "access.log"
    log.write_text("".join(clf(k) for k in range(30)))
    e, f = follow()
    now = int(time.time()) - 600
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))
    with log.open("a") as fh:
        fh.write("".join(f"10.0.0.{k} | {stamp} | GET /c HTTP/1.1 | 200 | 0.003\n"
                         for k in range(25)))
    _read(e, f, 55)
    assert any("in no known log format" in m for m in f.events)
    with log.open("a") as fh:
        fh.write("".join(js(k, now + k) for k in range(200)))
    _read(e, f, 255)
    assert (e.series.total(), f.report.malformed.total) == (230, 25)
    with log.open("a") as fh:  # a burst ending in one old worker's line: all read
        fh.write("".join(js(k, now + k) for k in range(1000)) + clf(0, now))
    _read(e, f, 1256)
    assert (e.series.total(), f.report.malformed.total) == (1231, 25)


def _fed(fmt: str, chunks: list[list[bytes]]):
    """refit.feed over `chunks` of lines, as a followed log's come: (the format in force at the
    end, every result)."""
    from trafficwatch.logs import refit
    from trafficwatch.logs.formats import PRESETS
    from trafficwatch.logs.parse import Parser

    p, run, out = Parser(PRESETS[fmt]), refit.Run(), []
    for lines in chunks:
        p, got = refit.feed(p, b"\n".join(lines) + b"\n", run)
        out += got
    return p.fmt.name, out, run


def _line(client: str, i: int, host: str = "", status: int = 200, ua: str = "Mozilla/5.0") -> bytes:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(T0 + 60 * i))
    return (f'{host + " " if host else ""}{client} - - [{stamp}] "GET /p HTTP/1.1" {status} 5 '
            f'"-" "{ua}"').encode()


def test_requests_crafted_to_fit_a_looser_format_change_nothing():
    # a security review: 20 requests with a Host of "evil," (which nginx's $host keeps) made a
    # vhost log combined for good, every site one; an X-Forwarded-For written as HAProxy's
    # line was read as HAProxy at the hour and status the client chose; 20 common lines put
    # into a combined log made it common (every user agent lost)
    vh = [[_line("198.51.100.1", i, "shop.example") for i in range(10)]]
    vh += [[_line("203.0.113.9", 10 + 5 * k + i, "evil,") for i in range(5)] for k in range(5)]
    vh += [[_line("198.51.100.1", 40 + i, ("shop.example", "blog.example")[i % 2])
            for i in range(10)] for _ in range(3)]
    fmt, got, _ = _fed("VCOMBINED", vh)
    sites = {r.records.vhosts[c] for r in got for c in r.records.vhost.tolist() if c >= 0}
    assert fmt == "VCOMBINED" and sites == {"shop.example", "blog.example"}
    assert sum(len(r.records) for r in got) == 40
    fmt, got, _ = _fed("VCOMBINED", vh[1:])  # the crafted ones first (a restart: none read yet)
    assert fmt == "VCOMBINED" and sum(len(r.records) for r in got) == 30
    evil = ", 1.2.3.4:5 [01/Dec/2026:03:00:00] a b c 500 5"
    fmt, got, _ = _fed("COMBINED", [[_line("198.51.100.1", i) for i in range(10)]]
                       + [[_line(evil, 10 + i, status=404) for i in range(25)]])
    assert fmt == "COMBINED" and sum(len(r.records) for r in got) == 10
    common = [f'192.0.2.1 - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(T0))}] '
              f'"GET /x HTTP/1.1" 200 5'.encode()] * 25
    fmt, got, _ = _fed("COMBINED", [[_line("198.51.100.1", i, ua="Googlebot/2.1")
                                     for i in range(10)], common,
                                    [_line("198.51.100.1", i, ua="Googlebot/2.1")
                                     for i in range(10)]])
    assert fmt == "COMBINED" and sum(int(r.records.is_bot.sum()) for r in got) == 20


def test_long_requests_are_no_sign_of_another_format():
    # a security review: 20 over-long requests had the log said to be "in no known log format"
    long_ua = "x" * 70_000
    fmt, got, run = _fed("COMBINED", [[_line("198.51.100.1", i, ua=long_ua)] for i in range(25)])
    assert fmt == "COMBINED" and run.unknown == 0
    assert sum(r.malformed.counts["line too long"] for r in got) == 25


def test_a_log_changed_many_times_is_named_in_a_few_words(tmp_path, monkeypatch):
    # a security review: each change added ", then X from ..." to the file's format: 40,000
    # characters after 1,000 changes, in the app's file list and counts' summary
    monkeypatch.setattr(logread, "CHUNK", 4096)
    log = tmp_path / "access.log"
    log.write_text("".join((clf if (k // 300) % 2 == 0 else js)(k) for k in range(2100)))
    _, rep = ingest([str(log)])
    (f,) = rep.files
    assert f.parsed == 2100 and f.format.startswith("COMBINED, then ")
    assert len(f.format) < 120 and "changes of format" in f.format


def test_an_old_workers_lines_written_alone_flip_nothing():
    # a trial: after combined -> JSON, each combined line of an old worker, written on its own,
    # flipped the format to combined and back, said twice each time (104 notices in 40 s)
    chunks = [[_line("198.51.100.1", i)] for i in range(5)]
    chunks += [[js(k).strip().encode()] for k in range(30)]
    for k in range(5):
        chunks += [[_line("198.51.100.2", 100 + k)], [js(200 + k).strip().encode()]]
    fmt, got, _ = _fed("COMBINED", chunks)
    assert fmt == "JSON" and [r.changed for r in got if r.changed] == ["JSON"]
    assert sum(len(r.records) for r in got) == 5 + 30 + 10 - 19  # the run's first 19: malformed


def test_json_after_a_run_of_an_unknown_format_is_read_after_20_of_its_lines():
    # a trial: 300 lines of an admin's own format, then JSON a line at a time: the JSON was
    # tried only when the run had doubled (298 JSON lines lost; 30 after 25: never found)
    custom = [[f"10.0.0.{k} | 2026-11-18T10:00:00+00:00 | GET / | 200".encode()]
              for k in range(300)]
    fmt, got, _ = _fed("COMBINED", [[_line("198.51.100.1", i) for i in range(30)]] + custom
                       + [[js(k).strip().encode()] for k in range(100)])
    assert fmt == "JSON"
    assert sum(len(r.records) for r in got) == 30 + 100 - 19


def test_a_few_lines_of_the_new_format_at_a_files_end_are_read_in_it():
    # a trial: a part of a big file read in parallel ended with 3 JSON lines, read as combined
    # (malformed) since 5 were needed at a file's (or part's) end
    from trafficwatch.logs import refit
    from trafficwatch.logs.formats import PRESETS
    from trafficwatch.logs.parse import Parser

    data = ("".join(clf(k) for k in range(50)) + "".join(js(k) for k in range(50, 53))).encode()
    run = refit.Run()
    p, got = refit.feed(Parser(PRESETS["COMBINED"]), data, run, final=True, hold=True)
    p, more = refit.flush(p, run)
    assert p.fmt.name == "JSON" and sum(len(r.records) for r in got + more) == 53


def test_a_change_back_says_no_line_was_lost():
    # a trial: the change back to combined said "the 19 lines before them ... were counted
    # malformed" again, the number of the change before (its lines had all been read)
    chunks = [[_line("198.51.100.1", i) for i in range(30)]]
    chunks += [[js(k).strip().encode()] for k in range(30, 55)]
    chunks += [[_line("198.51.100.1", k)] for k in range(55, 80)]
    fmt, got, run = _fed("COMBINED", chunks)
    assert fmt == "COMBINED" and [r.changed for r in got if r.changed] == ["JSON", "COMBINED"]
    assert run.earlier == 0 and sum(r.malformed.total for r in got) == 19
