"""Training: beats seasonal naive on a clear cycle, reproducible, devices, progress, fine-tuning."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from trafficwatch.model.baselines import naive24
from trafficwatch.model.evaluate import backtest, summarize
from trafficwatch.model.features import holiday, make_windows
from trafficwatch.model.forecaster import Forecaster
from trafficwatch.model.lstm import LSTMConfig
from trafficwatch.model.train import TrainConfig, fine_tune, select_device, train_model

SMALL = LSTMConfig(window=72, horizon=24, hidden=16)


def daily_with_trend(weeks: int = 6, seed: int = 0) -> pd.Series:
    """Seeded hourly series: a strong daily cycle, a rising trend and noisy counts."""
    rng = np.random.default_rng(seed)
    n = weeks * 168
    t = np.arange(n)
    level = 200.0 * (1.0 + 1.5 * t / n)
    y = level * (1.0 + 0.6 * np.sin(2 * np.pi * t / 24)) * rng.lognormal(0.0, 0.12, n)
    idx = pd.date_range("2024-03-04", periods=n, freq="h", tz="UTC")
    return pd.Series(np.round(y), index=idx)


def test_training_beats_seasonal_naive_on_a_daily_cycle_with_trend():
    s = daily_with_trend()
    train_part = s.iloc[:-7 * 24]
    tc = TrainConfig(epochs=25, batch_size=64, lr=1e-2, patience=25, seed=0, val_hours=168)
    model, result = train_model([train_part], SMALL, tc)
    table = summarize(backtest(s, {"lstm": Forecaster(model).as_function(), "naive24": naive24}))
    lstm, naive = table.loc["lstm", "mase"], table.loc["naive24", "mase"]
    assert result.epochs_run == 25
    assert naive > 1.0  # the trend and the noise make yesterday a poor guess
    assert lstm < 0.85 * naive, table
    assert 0.6 <= table.loc["lstm", "coverage"] <= 0.97, table


def test_training_is_reproducible_with_a_seed_on_cpu():
    s = daily_with_trend(weeks=3)
    tc = TrainConfig(epochs=2, seed=7, device="cpu", val_hours=96)
    a, _ = train_model([s], SMALL, tc)
    b, _ = train_model([s], SMALL, tc)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    c, _ = train_model([s], SMALL, TrainConfig(epochs=2, seed=8, device="cpu", val_hours=96))
    assert not torch.equal(a.lstm.weight_hh_l0, c.lstm.weight_hh_l0)


def test_progress_callback_reports_loss_and_eta():
    seen = []
    train_model([daily_with_trend(weeks=3)], SMALL,
                TrainConfig(epochs=3, patience=10, val_hours=96), on_progress=seen.append)
    assert [p.epoch for p in seen] == [1, 2, 3]
    assert all(np.isfinite(p.train_loss) and p.eta_s >= 0 for p in seen)
    assert seen[-1].eta_s == 0 and "ETA" in seen[0].line()


def test_device_auto_picks_cpu_without_cuda_and_cuda_without_gpu_is_refused():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert select_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="CUDA"):
        select_device("cuda")


def test_fine_tune_improves_a_copy_on_the_new_site_and_leaves_the_original_alone():
    base, _ = train_model([daily_with_trend(weeks=3, seed=3)], SMALL,
                          TrainConfig(epochs=1, val_hours=96))
    before = {k: v.clone() for k, v in base.state_dict().items()}
    t = np.arange(3 * 168)
    quiet_weekends = np.where((t // 24) % 7 >= 5, 0.2, 1.0)
    weekly = daily_with_trend(weeks=3, seed=4) * quiet_weekends
    tuned, res = fine_tune(base, weekly, TrainConfig(epochs=3, lr=3e-3, batch_size=32, val_hours=96,
                                                     patience=5))
    assert tuned is not base and res.epochs_run == 3
    assert res.best_val < 0.95 * res.initial_val
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())
    assert not torch.equal(tuned.head.weight, base.head.weight)


def test_windows_mask_gaps_and_pad_short_histories():
    v = np.arange(100, dtype=float)
    v[50:60] = np.nan
    w = make_windows(v, start_hour=0, window=72, horizon=24, origins=np.array([30, 70, 95]),
                     min_observed=24)
    assert w.x.shape == (3, 72, 7) and w.cal.shape == (3, 24, 3)
    assert w.x[0, :42, 1].sum() == 0 and w.x[0, 42:, 1].all()  # left padding is masked
    assert w.x[1, 50 - (70 - 72):, 1].sum() < 72 and w.x[1, 52:62, 1].sum() == 0  # the gap
    assert w.y_mask[2].sum() == 5  # only 5 target hours exist after origin 95
    assert np.isfinite(w.x).all() and np.isfinite(w.counts).all()
    assert np.isfinite(w.bases).all() and np.isfinite(w.skill).all()
    assert w.bmask.shape == (3, 24, 7) and w.bmask[..., -1].all()
    assert w.bmask[0, :, 1].sum() == 0  # no "last week" for a site 30 hours old
    assert w.bmask[2, :, 0].all()  # "yesterday" exists for every hour at origin 95


def test_seasonal_bases_are_what_their_names_say():
    from trafficwatch.model.features import BASE_NAMES, seasonal_bases

    rng = np.random.default_rng(0)
    v = rng.normal(5, 1, (1, 24 * 35))
    L = v.shape[1]
    b = seasonal_bases(v, L, 48)  # (1, 48, K)
    names = dict(zip(BASE_NAMES, range(len(BASE_NAMES))))
    np.testing.assert_allclose(b[0, :, names["yesterday"]], np.tile(v[0, L - 24:], 2))
    np.testing.assert_allclose(b[0, :, names["last week"]], v[0, L - 168:L - 168 + 48])
    week4 = np.median([v[0, L - 168 * k:L - 168 * k + 48] for k in range(1, 5)], axis=0)
    np.testing.assert_allclose(b[0, :, names["4-week median"]], week4)
    day7 = np.median([v[0, L - 24 * k:L - 24 * k + 24] for k in range(1, 8)], axis=0)
    np.testing.assert_allclose(b[0, :, names["7-day median"]], np.tile(day7, 2))
    np.testing.assert_allclose(b[0, :, names["last hour"]], v[0, -1])
    v[0, L - 24 + 5] = np.nan  # a gap yesterday: the day before stands in
    assert b[0, 5, 0] != seasonal_bases(v, L, 48)[0, 5, 0]
    assert seasonal_bases(v, L, 48)[0, 5, 0] == v[0, L - 48 + 5]


def test_seasonal_bases_of_many_origins_in_one_pass_are_each_origins_own():
    # the skill figures judge each base on 7 past days: one pass over the days (the forecast
    # with gates spent most of its feature time in 7 calls) must give each day's bases exactly
    from trafficwatch.model.features import HISTORY, seasonal_bases

    rng = np.random.default_rng(3)
    v = np.log1p(rng.poisson(80, (3, HISTORY)).astype(float))
    v[rng.random(v.shape) < 0.1] = np.nan
    ends = np.array([HISTORY, HISTORY - 24, HISTORY - 200])
    both = seasonal_bases(np.tile(v, (3, 1)), np.repeat(ends, 3), 24)  # (9, 24, K)
    for k, end in enumerate(ends):
        assert np.array_equal(both[3 * k:3 * k + 3], seasonal_bases(v, int(end), 24),
                              equal_nan=True)
    # and the skill figures over those days are each base's mean error, day after day
    from trafficwatch.model.features import SKILL_DAYS, _base_errors

    days = [seasonal_bases(v, HISTORY - 24 * d, 24) - v[:, HISTORY - 24 * d:HISTORY - 24 * d
                                                         + 24, None]
            for d in range(1, SKILL_DAYS + 1)]
    err = np.abs(np.concatenate(days, axis=1))
    expected = np.nansum(err, axis=1) / np.isfinite(err).sum(axis=1)
    np.testing.assert_allclose(_base_errors(v, HISTORY), expected, rtol=1e-12)


def _hours(*days: str) -> np.ndarray:
    return pd.DatetimeIndex(days, tz="UTC").as_unit("ns").asi8 // 3_600_000_000_000


@pytest.mark.parametrize("easter", ["1998-04-12", "2012-04-08", "2024-03-31", "2025-04-20",
                                    "2038-04-25"])
def test_holiday_flags_good_friday_to_easter_monday(easter):
    e = pd.Timestamp(easter, tz="UTC")
    days = [str((e + pd.Timedelta(days=d)).date()) for d in range(-3, 3)]
    assert holiday(_hours(*days)).tolist() == [0, 1, 1, 1, 1, 0]  # Thursday .. Tuesday


@pytest.mark.parametrize("year", [2011, 2012, 2023, 2024])  # leap years end on the same dates
def test_holiday_flags_christmas_to_new_year_by_utc_date(year):
    days = [f"{year}-12-23", f"{year}-12-24", f"{year}-12-25", f"{year}-12-31",
            f"{year + 1}-01-01", f"{year + 1}-01-02", f"{year}-07-04"]
    assert holiday(_hours(*days)).tolist() == [0, 1, 1, 1, 1, 0, 0]
    hours = _hours(f"{year}-12-24") + np.arange(24)  # every hour of the day, not only midnight
    assert holiday(hours).all() and not holiday(hours - 24).any()


def test_windows_carry_the_holiday_flags_of_each_future_hour_and_of_the_hours_its_bases_copy():
    start = int(_hours("2025-12-01")[0])
    origin = int(_hours("2025-12-25")[0]) - start  # forecasting Christmas Day, from midnight
    w = make_windows(np.full(40 * 24, 100.0), start_hour=start, window=168, horizon=48,
                     origins=np.array([origin]))
    today, yesterday, last_week = w.cal[0].T
    assert today.all()  # 25 and 26 December
    assert yesterday.all()  # 24 and 25 December
    assert not last_week.any()  # 18 and 19 December
    assert w.x[0, :, -1].sum() == 24  # of the past week, only 24 December was a holiday


def test_trend_augmentation_tilts_history_and_targets_alike():
    from trafficwatch.model.features import TREND_MAX

    origins = np.arange(24 * 30, 24 * 40, 7)
    flat = make_windows(np.full(45 * 24, 100.0), start_hour=0, window=168, horizon=48,
                        origins=origins)
    w = make_windows(np.full(45 * 24, 100.0), start_hour=0, window=168, horizon=48,
                     origins=origins, rng=np.random.default_rng(1), trend=0.5)
    r = 24 * np.log(w.counts[:, 1] / w.counts[:, 0])  # each window's rate, a day
    tilted = np.abs(r) > 1e-9
    assert 0.3 < tilted.mean() < 0.7 and np.abs(r).max() <= TREND_MAX
    np.testing.assert_allclose(w.counts, 100 * np.exp(r[:, None] * np.arange(48) / 24), rtol=1e-5)
    # the history was tilted by the same rate, continuous at the origin: the window's mean
    # (log1p) moves by the rate times the window's mean age
    ages = np.arange(-168, 0) / 24
    expect = np.log1p(100 * np.exp(r[:, None] * ages)).mean(axis=1)
    np.testing.assert_allclose(w.loc, expect, rtol=1e-5)  # r is read from float32 counts
    np.testing.assert_array_equal(w.loc[~tilted], flat.loc[~tilted])


def test_the_optimizer_steps_as_torchs_adam_and_cosine_schedule_to_the_bit():
    """train.Adam and CosineLR stand for torch.optim's (whose optimizer imports torch._dynamo,
    1.5 s at each training's start): the same weights after the same steps, bit for bit, with
    weight decay, and a tensor that gets no gradient in a step not counted a step."""
    from trafficwatch.model.lstm import QuantileLSTM
    from trafficwatch.model.train import Adam, CosineLR

    torch.manual_seed(0)
    ours, theirs = QuantileLSTM(SMALL), QuantileLSTM(SMALL)
    theirs.load_state_dict(ours.state_dict())
    opt = Adam(ours.parameters(), lr=3e-3, weight_decay=1e-5)
    ref = torch.optim.Adam(theirs.parameters(), lr=3e-3, weight_decay=1e-5)
    sched, ref_sched = CosineLR(opt, 5, 3e-4), torch.optim.lr_scheduler.CosineAnnealingLR(
        ref, T_max=5, eta_min=3e-4)
    gen = torch.Generator().manual_seed(1)
    for step in range(12):
        x = torch.randn(len(list(ours.parameters())), generator=gen)
        for model, o in ((ours, opt), (theirs, ref)):
            o.zero_grad()
            params = list(model.parameters())
            skip = step % 3 == 0  # the first tensor left without a gradient now and then
            loss = sum(w * p.square().mean() for w, p in zip(x, params) if not (skip and p is
                                                                               params[0]))
            loss.backward()
            o.step()
        sched.step()
        ref_sched.step()
        assert opt.lr == ref.param_groups[0]["lr"]
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)
