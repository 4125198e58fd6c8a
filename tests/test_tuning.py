"""Per-site fine-tuning: kept only when it backtests better on the last 7 days, and shown."""
from __future__ import annotations

import numpy as np
import pandas as pd

from trafficwatch import tuning
from trafficwatch.engine import Engine, EngineConfig


class Stub:
    """A forecaster that predicts a constant, so the backtest decides between two of them."""

    def __init__(self, level: float, name: str) -> None:
        self.level, self.name = level, name

    def as_function(self):
        return lambda history, horizon: np.tile([self.level * 0.8, self.level, self.level * 1.2],
                                                (horizon, 1))


def engine_with(series: pd.Series, default: Stub, tuned: Stub, monkeypatch) -> Engine:
    e = Engine(EngineConfig(paths=["x"]), lambda s: None)
    e.forecaster = default
    monkeypatch.setattr(e, "view_series", lambda: series)
    monkeypatch.setattr(tuning, "fine_tune_in_subprocess", lambda path, s: tuned)
    return e


def flat(days: int, level: float = 100.0) -> pd.Series:
    idx = pd.date_range("2026-09-01", periods=24 * days, freq="h", tz="UTC")
    noise = np.random.default_rng(0).normal(0, 5, len(idx))  # MASE needs a non-zero scale
    return pd.Series(level + noise, index=idx)


def test_a_better_fine_tune_is_kept_and_shown(monkeypatch):
    e = engine_with(flat(21), Stub(60, "default"), Stub(100, "fine-tuned"), monkeypatch)
    assert tuning.maybe_fine_tune(e) is True
    assert e.current_forecaster().name == "fine-tuned"
    assert e.tuning_note[""].startswith("fine-tuned") and "vs default" in e.tuning_note[""]


def test_a_worse_fine_tune_is_dropped_and_said(monkeypatch):
    e = engine_with(flat(21), Stub(100, "default"), Stub(60, "fine-tuned"), monkeypatch)
    assert tuning.maybe_fine_tune(e) is False
    assert e.current_forecaster().name == "default"
    assert e.tuning_note[""].startswith("default kept")
    assert tuning.maybe_fine_tune(e) is False  # decided once per site


def test_too_little_history_waits(monkeypatch):
    e = engine_with(flat(10), Stub(100, "default"), Stub(60, "fine-tuned"), monkeypatch)
    assert tuning.maybe_fine_tune(e) is False and "" not in e.tuning_note
