"""Replay releases the logs' requests by their timestamps, nothing lost or doubled."""
from __future__ import annotations

from pathlib import Path

import pytest

from trafficwatch.cli.samplegen import generate
from trafficwatch.counting.series import HourlySeries
from trafficwatch.engine.replay import Replayer


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("logs")
    generate(d, weeks=2, seed=3)
    return d


def test_replay_starts_after_a_warmup_and_ends_with_every_request(logs):
    r = Replayer([str(logs)], warmup_hours=24)
    s = HourlySeries()
    first = r.advance(s)
    assert 0 < first < r.report.parsed
    assert r.clock == r.start + 24 * 3600
    while not r.done:
        r.advance(s, r.clock + 6 * 3600)
    assert s.total() == r.report.parsed  # every parsed request released exactly once
    full = HourlySeries()
    from trafficwatch.counting.ingest import ingest

    ingest([str(logs)], series=full)
    for site in full.sites():
        assert s.series(site).sum() == full.series(site).sum()


def test_replay_never_goes_back_in_time(logs):
    r = Replayer([str(logs)], warmup_hours=24)
    s = HourlySeries()
    r.advance(s, r.clock + 3600)
    before = s.total()
    assert r.advance(s, r.start) == 0
    assert s.total() == before
