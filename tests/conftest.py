"""Shared fixtures and helpers for the test suite."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The suite starts trafficwatch in a subprocess over a hundred times: where the environment
# says not to write bytecode (PYTHONDONTWRITEBYTECODE, as on the machines here), each compiled
# every module of the package again (0.2-0.5 s a start; 12% of the CLI tests' time). Written
# once into the checkout's __pycache__ (ignored by git), read by every start after.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real public logs and series beside the repo; skips when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory, monkeypatch):
    """State files (live following) go to a temporary XDG_STATE_HOME, never the real home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


# The longest tests (seconds each, mostly waiting on a clock or a subprocess) run first: with
# `-n 2`, one of them sent last kept one worker busy while the other had finished (xdist hands
# out the tests in this order). Longest first, the rest as collected. Not test_app_live's
# training one: its child trains at nice 10, so beside the other worker's tests at the start
# of the run (or another process) it took 30 s instead of 8-11 s.
LONGEST_FIRST = (
    "test_fleet_prometheus.py::test_fleet_series_equals_the_sum_of_both_logs_across_an_agent_kill",
    "test_follow_chaos.py::test_counts_follow_killed_9_at_random_moments_counts_every_line_once",
    "test_serve_lifecycle.py::test_serve_sessions_end_with_the_tab_and_with_the_server",
    "test_samplegen.py::test_committed_sample_logs_match_the_generator",
    "test_lifecycle.py::test_train_stopped_just_after_saying_saved_exits_0_with_its_model",
    "test_usage_errors.py::test_a_low_soft_limit_is_raised_to_the_hard_one_and_every_log_followed",
    "test_follow_chaos.py::test_random_fault_sequences_lose_double_and_misattribute_nothing",
    "test_train.py::test_training_beats_seasonal_naive_on_a_daily_cycle_with_trend",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = f"{item.path.name}::{item.originalname}"
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the others keep their order
