"""The log tail under a filter: the lines the view's filter keeps, judged as the counts are."""
from __future__ import annotations

import gzip
import re

import pandas as pd
import pytest

from trafficwatch.engine.engine import Engine, EngineConfig, open_source
from trafficwatch.filters import ViewFilter

UAS = ["Mozilla/5.0 (X11; Linux x86_64)", "Googlebot/2.1 (+http://www.google.com/bot.html)"]
PATHS = ["/api/items", "/", "/api/cart?x=1", "/blog/api/", "/img/a.png"]


def line(i: int, hour: int = 10) -> str:
    status = (200, 404, 500, 301)[i % 4]
    return (f'192.0.2.{i % 50} - - [20/Nov/2026:{hour:02d}:{i % 60:02d}:00 +0000] '
            f'"GET {PATHS[i % 5]} HTTP/1.1" {status} 5 "-" "{UAS[(i // 3) % 2]}"\n')


def keeps(f: ViewFilter, text: str) -> bool:
    """The oracle: what the filter means for one combined line, read with string operations."""
    try:
        request, ua = text.split('"')[1], text.split('"')[5]
        status = int(text.split('"')[2].split()[0])
        stamp = text.split("[")[1].split("]")[0]
    except (IndexError, ValueError):
        return False
    ts = pd.to_datetime(stamp, format="%d/%b/%Y:%H:%M:%S %z")
    path = request.split()[1].split("?")[0]
    bot = "bot" in ua.lower()
    return ((not f.status_classes or status // 100 in f.status_classes)
            and (f.bots is True or (f.bots == "only") == bot)
            and (f.start is None or ts >= f.start)
            and (f.end is None or ts < f.end + pd.Timedelta(hours=1))
            and (not f.path or re.search(f.path, path) is not None))


FILTERS = [
    ViewFilter(path=r"^/api/"),
    ViewFilter(status_classes=frozenset({4, 5})),
    ViewFilter(bots=False),
    ViewFilter(bots="only", status_classes=frozenset({2})),
    ViewFilter(start=pd.Timestamp("2026-11-20 11:00", tz="UTC")),
    ViewFilter(end=pd.Timestamp("2026-11-20 10:00", tz="UTC"), path="api"),
]


@pytest.fixture
def engine_on(tmp_path):
    made = []

    def make() -> Engine:
        e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False), lambda s: None)
        e.source = open_source(e.sink, e.cfg, e.reading_progress)
        made.append(e)
        return e

    yield make
    for e in made:
        e.source.close()


@pytest.mark.parametrize("f", FILTERS, ids=lambda f: f.describe())
def test_the_tail_shows_the_lines_the_filter_keeps(tmp_path, engine_on, f):
    # a trial: a view filtered to 5xx showed every line in the log tail, headed "unfiltered"
    log = tmp_path / "access.log"
    written = [line(i, 10 + i // 20) for i in range(40)]
    written.insert(7, "this is no log line\n")  # malformed: not counted, not kept
    log.write_text("".join(written))
    e = engine_on()
    e.set_filter(f)
    snap = e.snapshot()
    want = [x.rstrip("\n") for x in written if keeps(f, x)]
    assert 0 < len(want) < len(written)
    assert [t.text for t in snap.tail] == want
    assert snap.tail_of == len(written)
    # lines appended come in as they are judged
    more = [line(i, 11) for i in range(100, 112)]
    with log.open("a") as fh:
        fh.write("".join(more))
    for _ in range(5):
        e.source.step(0.1)
    snap = e.snapshot()
    assert [t.text for t in snap.tail] == [x.rstrip("\n") for x in (written + more)[-50:]
                                           if keeps(f, x)]
    assert snap.tail_of == 50
    e.set_filter(ViewFilter())  # no filter: every line, as before
    snap = e.snapshot()
    assert len(snap.tail) == 50 and snap.tail_of == 0


def test_an_archive_s_lines_are_judged_in_the_format_found_in_them(tmp_path, engine_on):
    # a compressed log read whole by a worker hands its tail over without its format
    with gzip.open(tmp_path / "old.example.access.log.2.gz", "wt") as fh:
        fh.write("".join(line(i) for i in range(30)))
    e = engine_on()
    e.set_filter(ViewFilter(status_classes=frozenset({5})))
    snap = e.snapshot()
    assert [t.text for t in snap.tail] == [line(i).rstrip("\n") for i in range(30)
                                           if i % 4 == 2]
    assert snap.tail_of == 30


async def test_the_pane_says_how_many_of_the_last_lines_the_filter_keeps(tmp_path, engine_on):
    from dataclasses import replace

    from .test_app import demo_snapshot, make_app

    (tmp_path / "shop.access.log").write_text("".join(line(i) for i in range(8)))
    e = engine_on()
    shown = []
    for path in ("^/nothing", "^/api/"):
        e.set_filter(ViewFilter(path=path))
        snap = e.snapshot()
        app = make_app(replace(demo_snapshot(), site="shop", tail=snap.tail,
                               tail_of=snap.tail_of, filter=snap.filter))
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            shown.append(str(app.query_one("#tail").render()))
            # in the title too, which stays in view (at 80x24 the first line scrolls off)
            assert app.query_one("#tail-box").border_title == \
                f"Log tail, filtered ({len(snap.tail)} of 8)"
    assert shown[0].startswith("None of the last 8 lines of shop read here matches the filter:"), \
        shown[0]
    lines = shown[1].splitlines()
    assert lines[0] == "4 of the last 8 lines of shop read here match the filter"
    assert lines[1:] == [line(i).rstrip("\n") for i in (0, 2, 5, 7)]
    e.set_metric("visitors")  # its path is not applied to visitors: it is to these requests
    snap = e.snapshot()
    app = make_app(replace(demo_snapshot(), site="shop", tail=snap.tail, tail_of=snap.tail_of,
                           filter=snap.filter, metric="visitors"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert str(app.query_one("#tail").render()).splitlines()[0] == (
            "4 of the last 8 lines of shop read here match the filter (its path too: these "
            "are requests)")


IIS_HEAD = ("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
            "#Date: 2026-11-20 10:00:00\n#Fields: date time s-ip cs-method cs-uri-stem "
            "cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-substatus "
            "sc-win32-status time-taken\n")


def test_a_w3c_log_s_lines_are_judged_by_its_fields_header(tmp_path, engine_on):
    # a review: the lines were parsed again without the `#Fields:` header, every one
    # malformed: "None of the last 50 lines matches the filter" of an IIS site under any filter
    rows = [f"2026-11-20 10:{m:02d}:00 10.0.0.1 GET /api/x{m} - 443 - 192.0.2.{m % 9} "
            f"Mozilla/5.0 {(200, 500)[m % 2]} 0 0 12\n" for m in range(40)]
    (tmp_path / "u_ex261120.log").write_text(IIS_HEAD + "".join(rows))
    e = engine_on()
    e.set_filter(ViewFilter(status_classes=frozenset({5})))
    snap = e.snapshot()
    assert [t.text for t in snap.tail] == [r.rstrip("\n") for r in rows if " 500 " in r]


def test_excluded_clients_ignored_statuses_and_pages_judge_the_tail_as_the_counts(tmp_path):
    # a line --exclude-ip or --ignore-status leaves out is not counted: not kept under a
    # filter either; under `pages`, static files are not counted
    from trafficwatch.counting.ingest import IngestOptions
    from trafficwatch.logs.parse import ParseOptions

    written = [line(i) for i in range(40)]
    (tmp_path / "access.log").write_text("".join(written))
    opts = IngestOptions(parse=ParseOptions(exclude_ips=frozenset({"192.0.2.3", "192.0.2.8/31"}),
                                            ignore_status=frozenset({404})))
    e = Engine(EngineConfig(paths=[str(tmp_path)], fine_tune=False, ingest=opts),
               lambda s: None)
    e.source = open_source(e.sink, e.cfg, e.reading_progress)
    try:
        f = ViewFilter(bots=False)
        e.set_filter(f)
        for metric in ("hits", "pages"):
            e.set_metric(metric)
            want = [x.rstrip("\n") for x in written if keeps(f, x)
                    and x.split()[0] not in ("192.0.2.3", "192.0.2.8", "192.0.2.9")
                    and '" 404 ' not in x and (metric == "hits" or ".png " not in x)]
            assert [t.text for t in e.snapshot().tail] == want
            assert sum(e.view_series().fillna(0)) == len(want)  # as many as it counts
    finally:
        e.source.close()


async def test_the_pages_metric_alone_keeps_page_requests_in_the_tail(tmp_path, engine_on):
    # a trial: under `pages` with no filter the tail showed a font's 304 under "Log tail",
    # a request the chart does not count
    from dataclasses import replace

    from .test_app import demo_snapshot, make_app

    written = [line(i) for i in range(20)]
    (tmp_path / "shop.access.log").write_text("".join(written))
    e = engine_on()
    e.set_metric("pages")
    snap = e.snapshot()
    assert [t.text for t in snap.tail] == [x.rstrip("\n") for x in written if ".png " not in x]
    assert snap.tail_of == 20
    app = make_app(replace(demo_snapshot(), site="shop", tail=snap.tail, tail_of=snap.tail_of,
                           filter=snap.filter, metric="pages"))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert app.query_one("#tail-box").border_title == "Log tail, pages (16 of 20)"
        assert str(app.query_one("#tail").render()).startswith(
            "16 of the last 20 lines of shop read here are page requests")
    e.set_metric("hits")
    assert len(e.snapshot().tail) == 20 and e.snapshot().tail_of == 0


def test_judging_stops_once_the_pane_is_full(tmp_path, engine_on, monkeypatch):
    # a review: every site's 50 lines were parsed for a pane that shows 50 in all (200 sites:
    # 0.4 s a frame, 23 s where each batch held a line that did not parse)
    from trafficwatch.logs import parse

    for k in range(60):
        rows = [line(i, 10 + i // 30) for i in range(50)]
        rows[10] = "not a log line\n"
        (tmp_path / f"s{k:02d}.access.log").write_text("".join(rows))
    e = engine_on()
    fed = []
    real = parse.Parser.feed
    monkeypatch.setattr(parse.Parser, "feed", lambda self, *a, **k: (fed.append(1),
                                                                      real(self, *a, **k))[1])
    e.set_filter(ViewFilter(bots=False))
    snap = e.snapshot()
    assert len(snap.tail) == 50 and snap.tail_of < 3 * 100, snap.tail_of
    assert len(fed) < 40, len(fed)  # not a parse per line, nor one per site
