"""The demo logs: deterministic, shaped like real traffic, laid out as logrotate leaves them."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from trafficwatch.cli.samplegen import generate
from trafficwatch.counting.ingest import ingest
from trafficwatch.resources import sample_logs_dir


def digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_generation_is_byte_identical_run_to_run(tmp_path):
    generate(tmp_path / "a", weeks=1, seed=1)
    generate(tmp_path / "b", weeks=1, seed=1)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


def test_committed_sample_logs_match_the_generator(tmp_path):
    generate(tmp_path, weeks=7, seed=7, end="2026-11-20")
    committed = {k: v for k, v in digest(sample_logs_dir()).items() if k != "README.md"}
    assert committed == digest(tmp_path)


@pytest.fixture(scope="module")
def sample():
    series, report = ingest([str(sample_logs_dir())])
    return series, report


def test_layout_two_sites_rotated_and_compressed(sample):
    series, report = sample
    assert series.sites() == ["blog.example.org", "shop.example.com"]
    names = {Path(f.name).name for f in report.files}
    assert {"shop.example.com.access.log", "shop.example.com.access.log.1",
            "shop.example.com.access.log.2.gz", "blog.example.org.access.log.49.gz"} <= names
    assert report.malformed.total == 0


def test_traffic_has_daily_and_weekly_cycles_a_spike_and_no_gaps(sample):
    series, _ = sample
    shop = series.series("shop.example.com", bots=False)
    assert not shop.isna().any()
    by_hour = shop.groupby(shop.index.hour).mean()
    assert by_hour.max() > 4 * by_hour.min()  # day vs night
    by_dow = shop.groupby(shop.index.day_of_week).mean()
    assert by_dow[[0, 1, 2, 3, 4]].mean() > 1.3 * by_dow[[5, 6]].mean()  # quieter weekends
    blog = series.series("blog.example.org", bots=False)
    typical = blog.rolling(168, center=True, min_periods=24).median()
    assert (blog / typical).max() > 4  # the front-page spike


def test_bots_static_errors_and_ipv6_are_present(sample):
    series, _ = sample
    hits = series.series("shop.example.com").sum()
    assert 0.05 < series.series("shop.example.com", bots="only").sum() / hits < 0.3
    assert series.series("shop.example.com", "pages").sum() < 0.8 * hits
    for cls in (3, 4, 5):
        assert series.series("shop.example.com", status_classes={cls}).sum() > 0
    raw = (sample_logs_dir() / "shop.example.com.access.log.1").read_text()
    assert "2001:db8:" in raw and np.mean([":" in ln.split()[0] for ln in raw.splitlines()]) > 0.02
