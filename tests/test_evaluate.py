"""Rolling-origin backtest: origins, no peeking, MASE/sMAPE/coverage, gaps skipped, JSON output."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trafficwatch.model.baselines import naive24
from trafficwatch.model.evaluate import (
    backtest,
    format_table,
    origins_for,
    score,
    seasonal_scale,
    summarize,
    to_json,
)


def hourly(values) -> pd.Series:
    v = np.asarray(values, dtype=float)
    return pd.Series(v, index=pd.date_range("2024-01-01", periods=len(v), freq="h", tz="UTC"))


def cycle(days: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    day = 100 + 50 * np.sin(np.arange(24) / 24 * 2 * np.pi)
    return np.tile(day, days) + rng.normal(0, 5, 24 * days)


def test_daily_origins_over_the_last_days_each_with_a_full_horizon():
    assert origins_for(1000, 7, 24) == [976 - 24 * k for k in range(6, -1, -1)]
    # every origin has two days before it: a day of 24 h naive errors to scale MASE by
    assert origins_for(80, 7, 24) == [56]
    assert origins_for(71, 7, 24) == []
    assert origins_for(72, 7, 24) == [48]


def test_every_model_sees_only_hours_before_its_origin():
    s = hourly(cycle(20))
    seen = []

    def spy(history: pd.Series, horizon: int) -> np.ndarray:
        seen.append((history.index[-1], len(history)))
        return naive24(history, horizon)

    table = backtest(s, {"spy": spy}, days=7, horizon=24)
    origins = pd.to_datetime(table["origin"])
    for (last, n), origin in zip(seen, origins):
        assert last == origin - pd.Timedelta(hours=1)
        assert n == s.index.get_loc(origin)


def test_gaps_in_the_target_are_skipped_not_scored_as_zero():
    v = cycle(20)
    v[-30:-20] = np.nan  # ten hours nobody logged inside the last origin's horizon
    s = hourly(v)
    perfect = {"oracle": lambda h, H: np.repeat(np.nan_to_num(v[len(h):len(h) + H])[:, None], 3, 1)}
    table = backtest(s, perfect, days=7, horizon=24)
    assert table["n"].sum() == 7 * 24 - 10
    summary = summarize(table)
    assert summary.loc["oracle", "mase"] == 0.0 and summary.loc["oracle", "smape"] == 0.0
    assert summary.loc["oracle", "coverage"] == 1.0


def test_mase_is_scaled_by_in_sample_seasonal_naive_mae_and_smape_in_percent():
    history = np.array([1.0, 2.0, np.nan, 4.0] * 12)
    assert seasonal_scale(history, season=4) == 0.0
    assert seasonal_scale(np.arange(30.0), season=24) == 24.0
    actual = np.array([10.0, np.nan, 10.0])
    q = np.array([[8.0, 12.0, 14.0], [0, 0, 0], [4.0, 5.0, 6.0]])
    m = score(actual, q, scale=2.0)
    assert m["n"] == 2 and m["mase"] == pytest.approx((2 + 5) / 2 / 2.0)
    assert m["smape"] == pytest.approx((200 * 2 / 22 + 200 * 5 / 15) / 2)
    assert m["coverage"] == 0.5


def test_summary_table_and_json_are_tidy_and_serialisable():
    s = hourly(cycle(30))
    table = backtest(s, {"naive24": naive24, "flat": lambda h, H: np.full((H, 3), 100.0)},
                     days=3, horizon=24)
    assert list(table.columns[:6]) == ["model", "origin", "mase", "smape", "coverage", "n"]
    assert len(table) == 2 * 3
    data = json.loads(json.dumps(to_json(table, 3, 24)))
    assert set(data["models"]) == {"naive24", "flat"} and len(data["origins"]) == 3
    assert data["models"]["naive24"]["mase"] < data["models"]["flat"]["mase"]
    assert "naive24" in format_table(table)


def test_a_model_that_refuses_is_reported_per_origin():
    def refuse(history, horizon):
        raise ValueError("needs more history")

    table = backtest(hourly(cycle(10)), {"refuser": refuse}, days=2, horizon=24)
    assert (table["error"] == "needs more history").all() and (table["n"] == 0).all()


def test_a_small_smape_is_shown_with_two_figures_not_as_zero():
    """A steady 50,000 an hour: sMAPE read 0.0 for every model (a trial)."""
    s = hourly(cycle(30) / 10) + 50_000  # 50,000 +- 5
    table = backtest(s, {"near": naive24}, days=3, horizon=24)
    (row,) = [x for x in format_table(table).splitlines() if x.startswith("near")]
    smape = float(row.split()[2])
    assert 0 < smape < 1 and row.split()[2] != "0.0", row
