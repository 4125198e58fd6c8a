"""Forecaster facade and the train/eval/forecast commands, on counts CSVs."""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trafficwatch.cli.model import add_commands
from trafficwatch.model.checkpoint import save_checkpoint
from trafficwatch.model.forecaster import Forecaster, forget_drops
from trafficwatch.model.lstm import LSTMConfig, QuantileLSTM
from trafficwatch.resources import default_model_path, sample_logs_dir


def traffic(days: int, seed: int = 0, level: float = 300.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(24 * days)
    y = level * (1.0 + 0.7 * np.sin(2 * np.pi * (t - 6) / 24)) * rng.lognormal(0, 0.1, len(t))
    idx = pd.date_range("2024-05-06", periods=len(t), freq="h", tz="UTC")
    return pd.Series(np.round(y), index=idx)


def write_counts(path, hours, values):
    """A counts CSV (`hour,count`) of these hours and values, each as written ("": a gap)."""
    path.write_text("hour,count\n" + "".join(f"{h.isoformat()},{v}\n"
                                             for h, v in zip(hours, values)))
    return path


@pytest.fixture(scope="module")
def small_model_path(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("m") / "small.pt"
    save_checkpoint(path, QuantileLSTM(LSTMConfig(window=72, horizon=48, hidden=8)))
    return str(path)


@pytest.fixture
def counts_csv(tmp_path) -> str:
    s = traffic(21)
    s.iloc[100:110] = np.nan
    path = tmp_path / "counts.csv"
    lines = ["hour,visits"] + [f"{h.isoformat()},{'' if np.isnan(v) else int(v)}"
                                for h, v in s.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="trafficwatch")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("values, message", [
    ([], "empty series"),
    ([np.nan] * 200, "all gaps"),
    ([5.0] * 10 + [np.nan] * 5, "needs at least 24 observed hours, the series has 10: 14 more needed"),
])
def test_forecast_refuses_unusable_series_with_a_reason(small_model_path, values, message):
    fc = Forecaster.load(small_model_path)
    idx = pd.date_range("2024-01-01", periods=len(values), freq="h", tz="UTC")
    s = pd.Series(values, index=idx, dtype=float)
    with pytest.raises(ValueError, match=message):
        fc.forecast(s)


def test_forecast_covers_the_next_hours_with_ordered_quantiles(small_model_path):
    fc = Forecaster.load(small_model_path)
    s = traffic(10)
    f = fc.forecast(s, horizon=30)
    assert len(f.index) == 30 and f.index[0] == s.index[-1] + pd.Timedelta(hours=1)
    assert (f.p10 <= f.p50).all() and (f.p50 <= f.p90).all() and (f.p10 >= 0).all()
    with pytest.raises(ValueError, match="1..48"):
        fc.forecast(s, horizon=49)


def test_gate_stats_summarise_the_latest_window(small_model_path):
    fc = Forecaster.load(small_model_path)
    s = traffic(10)
    s.iloc[-30:-20] = np.nan
    f, g = fc.forecast_with_gates(s, 24)
    np.testing.assert_allclose(f.p50, fc.forecast(s, 24).p50, rtol=1e-4)  # same forecast both ways
    assert g.matrices["forget"].shape == (72, 8) and g.cell_norm.shape == (72,)
    assert g.index[-1] == s.index[-1] and g.observed.sum() == 62
    for gate in ("forget", "input", "output"):
        assert ((g.saturated[gate] >= 0) & (g.saturated[gate] <= 1)).all()
    np.testing.assert_allclose(g.forget_mean, g.matrices["forget"].mean(axis=1))


def test_the_hours_ahead_say_how_the_lstm_made_each_median_from_its_bases():
    """A trial read the gate pane and could not say why the next hours looked as they did: the
    weight the LSTM gave each seasonal base, and the bases' values, for each hour ahead."""
    from trafficwatch.app.gate_words import ahead_words
    from trafficwatch.engine.views import gate_view
    from trafficwatch.model.features import BASE_NAMES

    fc = Forecaster.load(None)
    s = traffic(35)
    f, g = fc.forecast_with_gates(s, 48)
    a = g.ahead
    assert a is not None and a.index.equals(f.index) and a.weights.shape == (48, len(BASE_NAMES))
    np.testing.assert_allclose(a.weights.sum(axis=1), 1.0, rtol=1e-5)
    v = s.to_numpy()
    np.testing.assert_allclose(a.bases[:24, BASE_NAMES.index("yesterday")], v[-24:], rtol=1e-3)
    np.testing.assert_allclose(a.bases[:48, BASE_NAMES.index("last week")], v[-168:-120],
                               rtol=1e-3)
    seen = np.isfinite(a.bases)
    mixed = np.expm1((a.weights * np.log1p(np.where(seen, a.bases, 0))).sum(axis=1))
    np.testing.assert_allclose(a.mixed, mixed, rtol=1e-3)  # the weighted bases (log1p units)
    assert (a.median > 0).all()
    words = ahead_words(gate_view(g), int(f.index[3].timestamp()))
    assert words.startswith(f"The LSTM's own {a.median[3]:,.0f} here (before the blend), its "
                            "bases weighed on a log scale: ")
    shares = re.findall(r"\((\d+)%\)|others (\d+)%", words)
    assert sum(int(x or y) for x, y in shares) == 100, words
    assert ahead_words(gate_view(g), int(s.index[-1].timestamp())) == ""  # not an hour ahead


def test_the_words_of_an_hour_ahead_name_every_base_that_weighs_and_what_it_copies():
    """A trial: with three bases named, an unnamed "others 21%" held the last hour's 165 and
    the parts did not make the value; "yesterday 607" 25 h ahead was Thursday's count, the
    latest day's with one, not the day before the hour's."""
    from types import SimpleNamespace

    from trafficwatch.app.gate_words import ahead_words

    t0 = 1795168800  # Fri 20 Nov 2026 10:00 UTC, the first hour ahead
    names = ("yesterday", "last week", "last hour", "4-week median")
    w = np.array([[0.11, 0.04, 0.14, 0.71]] * 30)
    b = np.array([[607.0, 500.0, 165.0, 596.0]] * 30)
    g = SimpleNamespace(ahead_hours=t0 + 3600 * np.arange(30), ahead_names=names,
                        ahead_weights=w, ahead_bases=b, ahead_mixed=np.full(30, 480.0),
                        ahead_median=np.full(30, 416.0))
    words = ahead_words(g, t0 + 3600 * 25)  # Sat 11:00: "yesterday" copies Thu 11:00
    assert words == ("The LSTM's own 416 here (before the blend), its bases weighed on a log "
                     "scale: typical week 596 (71%), the last whole hour 165 (14%), the latest "
                     "day's same hour 607 (11%), others 4%; then its own shift -13%")


def test_forget_drops_flags_sharp_falls_only():
    f = np.full(50, 0.8) + np.linspace(0, 0.01, 50)
    f[30] = 0.5
    assert forget_drops(f) == [30]
    assert forget_drops(np.full(50, 0.8)) == []


def test_a_forget_drop_at_a_gap_hour_is_no_memory_reset():
    # a trial: "Forget gate dropped sharply 5 times this week (last Thu 04 07:00)", 07:00 the
    # unfinished hour, read as a gap: the model reading a hole, not traffic changing
    from types import SimpleNamespace

    from trafficwatch.model.forecaster import gate_stats

    T, U = 50, 4
    forget = np.full((1, T, U), 0.8)
    forget[0, 30] = forget[0, 49] = 0.5  # sharp falls at an observed hour and at the last, a gap
    inner = SimpleNamespace(forget_gate=forget, input_gate=np.full((1, T, U), 0.5),
                            output_gate=np.full((1, T, U), 0.5), candidate=np.zeros((1, T, U)),
                            cell=np.ones((1, T, U)), hidden=np.zeros((1, T, U)), mix=None)
    observed = np.ones(T, bool)
    observed[49] = False
    idx = pd.date_range("2026-12-02", periods=T, freq="h", tz="UTC")
    assert gate_stats(inner, idx, observed).forget_drops == [30]
    assert gate_stats(inner, idx, np.ones(T, bool)).forget_drops == [30, 49]


def test_a_forget_drop_in_the_windows_first_day_is_the_model_waking_not_a_reset():
    """The memory fills from nothing at the window's first hour with a count: a trial's
    "Memory last reset: Sun 04 15:00" came a week after that hour, while it was the window's
    first, then went."""
    from types import SimpleNamespace

    from trafficwatch.model.forecaster import WARM_HOURS, gate_stats

    T, U = 80, 4
    forget = np.full((1, T, U), 0.8)
    for t in (5, 30, 60):
        forget[0, t] = 0.5
    inner = SimpleNamespace(forget_gate=forget, input_gate=np.full((1, T, U), 0.5),
                            output_gate=np.full((1, T, U), 0.5), candidate=np.zeros((1, T, U)),
                            cell=np.ones((1, T, U)), hidden=np.zeros((1, T, U)), mix=None)
    idx = pd.date_range("2026-12-02", periods=T, freq="h", tz="UTC")
    assert WARM_HOURS == 24
    assert gate_stats(inner, idx, np.ones(T, bool)).forget_drops == [30, 60]
    young = np.arange(T) >= 20  # a young site: hours before its first count are blank
    assert gate_stats(inner, idx, young).forget_drops == [60]


def test_default_model_gives_a_sensible_forecast_from_three_days():
    fc = Forecaster.load()
    assert default_model_path().stat().st_size < 5_000_000
    s = traffic(3, seed=5, level=40.0)
    f = fc.forecast(s, 24)
    yesterday = s.to_numpy()[-24:]
    assert 0.5 < f.p50.mean() / yesterday.mean() < 2.0
    assert np.corrcoef(f.p50, yesterday)[0, 1] > 0.8  # it keeps the daily cycle
    assert ((f.p10 <= yesterday * 1.3) & (f.p90 >= yesterday * 0.7)).mean() > 0.7


def test_eval_command_on_a_counts_csv(counts_csv, small_model_path, capsys):
    code, out, _ = run_cli(["eval", counts_csv, "--model", small_model_path, "--days", "3",
                            "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert {"lstm:small", "naive24", "naive168"} <= set(data["models"])
    assert len(data["origins"]) == 3 and data["models"]["naive24"]["hours"] == 72
    code, out, _ = run_cli(["eval", counts_csv, "--model", small_model_path, "--days", "2"], capsys)
    assert code == 0 and "MASE" in out and "naive168" in out


def test_forecast_command_writes_csv_and_falls_back_on_short_series(counts_csv, small_model_path,
                                                                  tmp_path, capsys):
    code, out, _ = run_cli(["forecast", counts_csv, "--model", small_model_path, "--horizon", "6"],
                           capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "hour,p10,p50,p90,model" and len(lines) == 7
    short = tmp_path / "short.csv"
    rows = "".join(f"2024-01-01T{h:02d}:00:00Z,{h}\n" for h in range(12))
    short.write_text("hour,count\n" + rows)
    code, out, err = run_cli(["forecast", str(short), "--model", small_model_path,
                              "--format", "json"], capsys)
    assert code == 1 and "the series has 12: 12 more needed" in err
    assert json.loads(out)["model"] == "naive24"
    # its flat hours are said to be a median, not same hour yesterday (it has no yesterday)
    assert "the last day has 12 hours with a count" in err and "as their median" in err
    assert "its band is nominal (the median +-50 %)" in err
    # a crawler's hour among quiet ones is not repeated (a trial: 4,177 forecast every midnight
    # from a day of 6-85 an hour)
    counts = [40 + 20 * (h % 5) for h in range(23)]
    counts[3] = 4177
    burst = tmp_path / "burst.csv"
    burst.write_text("hour,count\n" + "".join(f"2024-01-01T{h:02d}:00:00Z,{c}\n"
                                              for h, c in enumerate(counts)))
    code, out, err = run_cli(["forecast", str(burst), "--format", "json"], capsys)
    hours = json.loads(out)["hours"]
    assert code == 1 and max(h["p50"] for h in hours) <= 120, hours
    assert hours[4]["p50"] == np.median(counts) and hours[5]["p50"] == counts[4]  # 03:00, 04:00
    assert hours[4]["p10"] <= hours[4]["p50"] <= hours[4]["p90"]
    assert "1 hour would repeat a burst (over 5x the day's median, 80)" in err, err


def test_a_sparse_sites_figures_have_no_rounding_noise_and_no_warnings(tmp_path, capsys):
    # about 2.4 requests a day: a p90 of 1.39e-17 was printed "0.000000000000000" beside p50
    # "0.000"; a site a bot stopped at printed numpy's "invalid value encountered in log1p"
    rng = np.random.default_rng(1)
    idx = pd.date_range("2026-10-27", periods=35 * 24, freq="h", tz="UTC")
    daily = 1 + 0.75 * np.cos(2 * np.pi * (idx.hour - 14) / 24)
    weekly = np.array([1.0, 1.05, 1.05, 1.0, 0.95, 0.7, 0.65])[idx.dayofweek]
    sparse = tmp_path / "sparse.csv"
    sparse.write_text("hour,count\n" + "".join(
        f"{t:%Y-%m-%dT%H:00:00Z},{c}\n" for t, c in zip(idx, rng.poisson(0.1 * daily * weekly))))
    code, out, err = run_cli(["forecast", str(sparse), "--tz", "UTC"], capsys)
    figures = [x for line in out.splitlines()[1:] for x in line.split(",")[1:4]]
    assert code == 0 and len(figures) == 72
    assert all(len(x.split(".")[1]) <= 4 or float(x) >= 1e-6 for x in figures), figures
    human = 50 * daily * weekly
    bot = np.random.default_rng(2).poisson(  # (a seed whose usual hours less 500 go below 0)
        human + np.where(np.arange(len(idx)) < len(idx) - 24, 500, 0))
    stopped = tmp_path / "stopped.csv"
    stopped.write_text("hour,count\n" + "".join(
        f"{t:%Y-%m-%dT%H:00:00Z},{c}\n" for t, c in zip(idx, bot)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = run_cli(["forecast", str(stopped), "--tz", "UTC"], capsys)
    assert code == 0 and "an hour below its usual level" in err, err


def test_eval_says_why_the_lstm_refused_its_last_origin(tmp_path, capsys):
    # ten days, a month without logs, then 30 hours (a site back up): at every origin the LSTM
    # lacked a day of the last week, and eval gave the first origin's reason, "no observed
    # hour in the last 168 hours", while the naives scored 30 hours of the last ones
    hours = [*pd.date_range("2026-01-01", periods=240, freq="h", tz="UTC"),
             *pd.date_range("2026-02-20", periods=30, freq="h", tz="UTC")]
    rng = np.random.default_rng(0)
    csv = tmp_path / "gappy.csv"
    write_counts(csv, hours, (rng.poisson(50) for _ in hours))
    code, _, err = run_cli(["eval", str(csv)], capsys)
    assert code == 1
    # a series longer than the model's window: what it lacks is in its last week (a trial's
    # site of 7 weeks was told "the series has 1")
    assert "could not forecast at any origin (at the last origin): needs at least 24 observed " \
           "hours, its last 168 hours have 6" in err


def test_eval_reports_bad_input_and_bad_model_files(counts_csv, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    code, _, err = run_cli(["eval", counts_csv, "--model", str(bad)], capsys)
    assert code == 2 and "bad.pt" in err
    code, _, err = run_cli(["eval", str(tmp_path / "none.csv")], capsys)
    assert code == 2 and "none.csv" in err


def test_train_command_fine_tunes_saves_and_backtests(counts_csv, small_model_path, tmp_path,
                                                      capsys):
    out_path = tmp_path / "site.pt"
    code, out, err = run_cli(["train", counts_csv, "--init", small_model_path,
                              "--out", str(out_path),
                              "--epochs", "1", "--holdout-days", "2", "--device", "cpu"], capsys)
    assert code == 0, err
    assert "epoch 1/1" in err and "ETA" in err and "backtest" in out and "naive24" in out
    fc = Forecaster.load(out_path)
    assert fc.checkpoint.data["hours"] == 21 * 24 - 48
    assert "lstm:site" in fc.checkpoint.metrics["backtest"]["models"]


def test_train_says_when_it_stopped_early_and_when_it_is_no_better_than_its_start(
        counts_csv, small_model_path, tmp_path, capsys, monkeypatch):
    # a trial's fine-tune was saved no better than the default (0.749 vs 0.746) with nothing
    # said, its progress ending at "epoch 4/8 ... ETA 0s"
    import copy

    from trafficwatch.model import train

    def unchanged(series, cfg, tcfg, init=None, on_progress=None):  # 3 epochs, no better
        return copy.deepcopy(init), train.TrainResult(0.3, 3, 0.1, 10, 5)

    monkeypatch.setattr(train, "train_model", unchanged)
    code, _, err = run_cli(["train", counts_csv, "--init", small_model_path,
                              "--out", str(tmp_path / "site.pt"), "--holdout-days", "2"], capsys)
    assert code == 0, err
    assert "(3 epochs of 8: stopped early, validation no better for 2 epochs" in err
    assert "lstm:site is no better than lstm:small on the held-out days (MASE" in err
    monkeypatch.undo()
    code, _, err = run_cli(["train", counts_csv, "--init", small_model_path, "--out",
                              str(tmp_path / "b.pt"), "--epochs", "1", "--holdout-days", "2"],
                             capsys)
    assert code == 0 and "(1 epoch," in err and "stopped early" not in err


def test_band_is_calibrated_on_the_series_own_recent_days(small_model_path):
    from trafficwatch.model.evaluate import backtest, summarize

    s = np.round(traffic(28, seed=9) * np.random.default_rng(9).lognormal(0, 0.6, 28 * 24))  # very
    # noisy site, of whole counts (not whole, it is read in other units: in_count_units)
    raw = Forecaster.load(small_model_path)
    raw.calibrate = False
    cal = Forecaster.load(small_model_path)
    table = summarize(backtest(s, {"raw": raw.as_function(), "cal": cal.as_function()}, days=7))
    assert table.loc["raw", "coverage"] < 0.6  # the untrained band is far too narrow here
    assert 0.65 <= table.loc["cal", "coverage"] <= 0.95, table
    # the median shown is the chosen blend of the raw median and another candidate: calibration
    # moves only p10 and p90
    from trafficwatch.model.baselines import last_values, naive24, naive168, profile_trend

    a, b = raw.forecast(s), cal.forecast(s)
    rec = cal.recent(s)
    other = {"naive24": naive24(s, 24)[:, 1], "naive168": naive168(s, 24)[:, 1],
             "naive1": last_values(s.to_numpy(), np.array([len(s)]), 24)[0],
             "profile": profile_trend(s.to_numpy(), np.array([len(s)]), 24)[0]}
    blend = rec.weights.get("lstm", 0.0) * a.p50 + sum(
        w * other[k] for k, w in rec.weights.items() if k != "lstm")
    np.testing.assert_allclose(b.p50, np.clip(blend, 0, None), rtol=1e-5, atol=1e-6)
    assert not np.allclose(b.p90 - b.p10, a.p90 - a.p10)


def test_cli_eval_on_a_counts_csv(counts_csv, small_model_path):
    import subprocess
    import sys

    try:
        from trafficwatch.cli.main import build_parser

        build_parser()
    except ImportError as exc:
        pytest.skip(f"the CLI cannot be built yet ({exc})")
    res = subprocess.run([sys.executable, "-m", "trafficwatch", "eval", counts_csv, "--model",
                          small_model_path, "--days", "2", "--format", "json"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["origins"]) == 2


def test_train_from_scratch_with_another_horizon(counts_csv, tmp_path, capsys):
    out_path = tmp_path / "week.pt"
    code, _, err = run_cli(["train", counts_csv, "--scratch", "--horizon", "6", "--epochs", "1",
                            "--holdout-days", "0", "--out", str(out_path)], capsys)
    assert code == 0, err
    fc = Forecaster.load(out_path)
    assert fc.cfg.horizon == 6 and fc.checkpoint.data["init"] == "scratch"
    code, _, err = run_cli(["forecast", counts_csv, "--model", str(out_path), "--horizon", "7"],
                           capsys)
    assert code == 2 and "forecasts 1..6 hours" in err
    # said before the logs are read (it came after their "2 sites summed")
    for cmd in ("forecast", "eval"):
        code, _, err = run_cli([cmd, str(sample_logs_dir()), "--model", str(out_path),
                                "--horizon", "7"], capsys)
        assert code == 2 and err.count("\n") == 1 and "forecasts 1..6 hours" in err, err
    # eval alike (it printed a mean of NaN over 0 series and exited 1)
    code, out, err = run_cli(["eval", counts_csv, "--model", str(out_path), "--horizon", "7"],
                             capsys)
    assert code == 2 and "forecasts 1..6 hours" in err and out == ""


def test_default_model_beats_yesterday_on_a_site_with_quiet_weekends():
    from trafficwatch.model.baselines import naive24
    from trafficwatch.model.evaluate import backtest, summarize

    rng = np.random.default_rng(42)
    t = np.arange(6 * 168)  # 2024-01-01 is a Monday
    lam = 30 * (1 + 0.8 * np.sin(2 * np.pi * (t - 8) / 24)) * np.where((t // 24) % 7 >= 5, 0.5, 1)
    s = pd.Series(rng.poisson(lam).astype(float),
                  index=pd.date_range("2024-01-01", periods=len(t), freq="h", tz="UTC"))
    table = summarize(backtest(s, {"lstm": Forecaster.load().as_function(), "naive24": naive24}))
    assert table.loc["lstm", "mase"] < 0.8 * table.loc["naive24", "mase"], table
    assert 0.7 <= table.loc["lstm", "coverage"] <= 0.9, table


def test_eval_at_48_hours_and_a_week_ahead_forecast_with_the_shipped_model(counts_csv, capsys):
    code, out, err = run_cli(["eval", counts_csv, "--days", "3", "--horizon", "48"], capsys)
    assert code == 0, err
    assert "48 h ahead" in out and "naive168" in out
    code, out, err = run_cli(["forecast", counts_csv, "--horizon", "168", "--format", "json"],
                             capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["hours"]) == 168 and doc["choice"]
    assert "forecast shown:" in err  # which forecast, and why, in plain words


def test_a_site_one_week_old_is_not_judged_on_days_before_it_had_last_week(small_model_path):
    # weekends at a fifth of the weekdays: "same hour yesterday" is badly wrong every Saturday
    # and Monday, so judging on the first days (when only yesterday existed) picked it
    rng = np.random.default_rng(3)
    t = np.arange(24 * 10)  # 2024-01-01 is a Monday
    lam = 200 * (1 + 0.8 * np.sin(2 * np.pi * (t - 8) / 24)) * np.where((t // 24) % 7 >= 5, 0.2, 1)
    s = pd.Series(rng.poisson(lam).astype(float),
                  index=pd.date_range("2024-01-01", periods=len(t), freq="h", tz="UTC"))
    fc = Forecaster.load(small_model_path)
    week_old = fc.recent(s.iloc[:168])  # "last week" exists for the forecast, for no past day
    assert week_old.hours == 0 and week_old.weights == {"lstm": 1.0}, week_old
    # "too little history ... (0 hours could be, 24 needed)" was said of a week of counts
    assert "unjudged: this forecast reads same hour last week, which none of the days before " \
        "it had (judged again from 8 days of counts on)" in fc.forecast(s.iloc[:168]).choice
    older = fc.recent(s.iloc[:168 + 48])  # two past days had last week: judged on those alone
    assert older.hours == 48 and "naive168" in older.mae, older


def test_eval_with_nothing_to_score_says_so_and_exits_1(tmp_path, capsys):
    from trafficwatch.cli.main import main

    csv_path = tmp_path / "gaps.csv"  # a day of counts, then only empty hours
    hours = pd.date_range("2026-01-01", periods=24 * 9, freq="h", tz="UTC")
    values = ["5"] * 24 + [""] * (len(hours) - 24)
    write_counts(csv_path, hours, values)
    code = main(["eval", str(csv_path)])
    err = capsys.readouterr().err
    # the logs were read, nothing could be scored: 1, as when the LSTM is scored nowhere
    # (2 is bad usage or nothing readable, README's exit codes)
    assert code == 1 and "Traceback" not in err
    assert "series of 24 hours to its last count (192 without one after it) is too short" in err
    short = tmp_path / "short.csv"  # five hours: too short for any backtest
    write_counts(short, hours[:5], [5] * 5)
    assert main(["eval", str(short)]) == 1
    assert "too short for a 24 h backtest" in capsys.readouterr().err


def test_eval_places_its_origins_from_the_last_count_not_from_rows_of_gaps(tmp_path, capsys):
    """A CSV ending in 30 rows without a count: the last origin was placed from its last row
    and scored on 18 of its 48 hours (a trial); `forecast` starts after the last count. Only
    eval's: train's held-out backtest keeps its days (a review found it moved back onto days
    it had trained on)."""
    import json

    from trafficwatch.cli.main import main
    from trafficwatch.model.baselines import naive24
    from trafficwatch.model.evaluate import backtest

    hours = pd.date_range("2026-01-01", periods=24 * 20 + 30, freq="h", tz="UTC")
    rng = np.random.default_rng(0)
    counts = rng.poisson(100 + 50 * np.sin(np.arange(len(hours)) / 24 * 2 * np.pi))
    plain, gaps = tmp_path / "plain.csv", tmp_path / "gaps.csv"
    write_counts(plain, hours[:-30], counts[:-30])
    write_counts(gaps, hours, [*map(str, counts[:-30]), *[""] * 30])
    got = []
    for path in (plain, gaps):
        assert main(["eval", str(path), "--horizon", "48", "--format", "json"]) == 0
        got.append(json.loads(capsys.readouterr().out))
    assert got[0]["origins"] == got[1]["origins"]
    assert got[1]["models"]["naive24"]["hours"] == 7 * 48
    s = pd.Series(np.r_[counts[:-30], np.full(30, np.nan)], index=hours, dtype=float)
    table = backtest(s, {"naive24": naive24}, days=7, horizon=48)  # by position, as train's
    assert pd.Timestamp(table["origin"].iloc[-1]) == hours[-48]


def test_eval_says_the_hours_it_scored_each_in_its_offset(tmp_path, capsys):
    from trafficwatch.cli.main import main

    csv_path = tmp_path / "dst.csv"  # New York's clocks go back on 1 Nov 2026
    hours = pd.date_range("2026-10-20", periods=24 * 14, freq="h", tz="UTC")
    rng = np.random.default_rng(0)
    write_counts(csv_path, hours, (rng.poisson(50 + 30 * np.sin(h.hour / 4)) for h in hours))
    assert main(["eval", str(csv_path), "--days", "7", "--tz", "America/New_York"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert head.endswith("hours scored 2026-10-26 20:00 UTC-0400 .. 2026-11-02 18:00 UTC-0500"), head
    main(["eval", str(csv_path), "--days", "7", "--tz", "America/New_York", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["origins"][0] == "2026-10-26T20:00:00-04:00"


def test_eval_of_a_flat_series_says_why_mase_is_undefined_without_numpy_warnings(tmp_path,
                                                                                   capsys):
    import warnings

    from trafficwatch.cli.main import main

    csv_path = tmp_path / "flat.csv"
    hours = pd.date_range("2026-01-01", periods=24 * 20, freq="h", tz="UTC")
    write_counts(csv_path, hours, [50] * len(hours))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Mean of empty slice" was printed raw
        code = main(["eval", str(csv_path), "--days", "3"])
    out, err = capsys.readouterr()
    assert code == 0 and "MASE is undefined here" in err
    assert out.startswith("rolling origin: 3 daily origins")


def test_forecast_hours_are_in_the_logs_own_offset_unless_tz_says(tmp_path, capsys):
    from trafficwatch.cli.main import main

    log = tmp_path / "access.log"
    start = pd.Timestamp("2026-03-02 00:00", tz="-07:00")
    log.write_text("".join(
        f'1.2.3.4 - - [{(start + pd.Timedelta(minutes=m)).strftime("%d/%b/%Y:%H:%M:%S %z")}] '
        f'"GET / HTTP/1.1" 200 1 "-" "ua"\n' for m in range(0, 4 * 24 * 60, 20)))
    main(["forecast", str(log), "--horizon", "2"])
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows[0].startswith("2026-03-06T00:00:00-07:00")
    main(["forecast", str(log), "--horizon", "2", "--tz", "UTC"])
    assert capsys.readouterr().out.splitlines()[1].startswith("2026-03-06T07:00:00+00:00")


def test_eval_says_where_same_hour_last_week_had_no_last_week(tmp_path, small_model_path, capsys):
    # eight days of counts: 6 origins (each with two days before it); at all but the last one
    # "naive168" had less than a week before
    # it, and was scored as if it were same hour last week
    from trafficwatch.cli.main import main

    csv_path = tmp_path / "young.csv"
    hours = pd.date_range("2026-11-01", periods=24 * 8, freq="h", tz="UTC")
    write_counts(csv_path, hours, (50 + 3 * h.hour + i % 5 for i, h in enumerate(hours)))
    assert main(["eval", str(csv_path), "--model", small_model_path]) == 0
    assert "naive168 at 5 of 6 origins: less than a week of history" in capsys.readouterr().err
    old = tmp_path / "old.csv"
    hours = pd.date_range("2026-11-01", periods=24 * 20, freq="h", tz="UTC")
    write_counts(old, hours, (50 + 3 * h.hour + i % 5 for i, h in enumerate(hours)))
    assert main(["eval", str(old), "--model", small_model_path]) == 0
    assert "naive168 at" not in capsys.readouterr().err


def test_eval_exits_1_when_the_model_was_scored_at_no_origin(tmp_path, capsys):
    # a user trial: the LSTM "could not forecast at any origin" and its row was nan, but the
    # exit status was 0, as for a backtest that worked
    from trafficwatch.cli.main import main

    csv_path = tmp_path / "gappy.csv"  # two weeks of counts, eight days of nothing, a day
    hours = pd.date_range("2026-01-01", periods=24 * 23, freq="h", tz="UTC")
    values = ([str(50 + h.hour + h.day % 3) for h in hours[:24 * 14]] + [""] * (24 * 8)
              + [str(50 + h.hour) for h in hours[24 * 22:]])
    write_counts(csv_path, hours, values)
    code = main(["eval", str(csv_path), "--days", "1"])
    out, err = capsys.readouterr()
    assert "could not forecast at any origin" in err and "naive24" in out
    assert code == 1
    row = next(ln for ln in out.splitlines() if ln.startswith("lstm"))
    assert row.split()[1:] == ["-", "-", "-", "0"]  # no figure, not "nan" in every column


def test_train_refuses_an_out_path_in_a_folder_that_does_not_exist(counts_csv, tmp_path, capsys):
    # a user trial ran `train ... --out /nonexistent/dir/m.pt` as root: the folders were made
    from trafficwatch.cli.main import main

    out = tmp_path / "nonexistent" / "dir" / "m.pt"
    assert main(["train", str(counts_csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no folder" in err and "Traceback" not in err
    assert not (tmp_path / "nonexistent").exists()


def freeze_clock(monkeypatch, clock: float) -> None:
    """pd.Timestamp.now (forecast's clock) at `clock`, epoch seconds."""
    monkeypatch.setattr(pd.Timestamp, "now", classmethod(
        lambda cls, tz=None: pd.Timestamp(clock, unit="s", tz="UTC").tz_convert(tz)))


def write_log(path, stamps) -> object:
    """A combined log of one request at each of `stamps` (epoch seconds); its path."""
    import time

    path.write_text("".join(
        f'10.0.0.{i % 200} - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))}] '
        f'"GET / HTTP/1.1" 200 5 "-" "ua"\n' for i, t in enumerate(stamps)))
    return path


@pytest.mark.parametrize("into_hour_s", [1200, 3585])
@pytest.mark.parametrize("ahead_h", [0, 3])
def test_forecast_of_a_live_log_starts_at_the_hour_in_progress(tmp_path, capsys, monkeypatch,
                                                                ahead_h, into_hour_s):
    # a user trial at 13:01: the app said "This hour (13:00) so far ..., Next hour 14:00: 400"
    # while `forecast` began at 14:00 with what the app forecast for 13:00. With the server's
    # clock 3 h ahead of ours, the log's own hour in progress comes first (it began after it).
    # CI at 13:59:45: a line in the hour's last minute made it whole, and 13:00 was skipped
    import time

    from trafficwatch.cli.main import main

    clock = (int(time.time()) // 3600 - 1) * 3600 + into_hour_s  # ours, fixed for the test
    freeze_clock(monkeypatch, clock)
    now = clock + ahead_h * 3600  # the server's
    hour = now - now % 3600
    last = max(hour, now - 30)  # a line in the hour in progress, however early in it
    log = write_log(tmp_path / "access.log",
                    list(np.arange(now - 3 * 86400, hour, 300)) + [last])
    assert main(["forecast", str(log), "--horizon", "2", "--tz", "UTC"]) == 0
    out, err = capsys.readouterr()
    first = out.splitlines()[1].split(",")[0]
    assert first == pd.Timestamp(hour, unit="s", tz="UTC").isoformat(), (first, err)
    assert "the hour in progress" in err


def test_the_hour_in_progress_is_forecast_as_its_whole_count_from_what_it_holds(
        tmp_path, capsys, monkeypatch):
    # a trial: 280 requests counted by 12:40 in a site's hour, and `forecast` printed that
    # hour's p90 as 57 (the app said "so far: 280, above the ~50 forecast")
    import time

    from trafficwatch.cli.main import main

    clock = (int(time.time()) // 3600 - 1) * 3600 + 2400  # 40 minutes into an hour
    freeze_clock(monkeypatch, clock)
    hour = clock - clock % 3600
    log = write_log(tmp_path / "access.log", list(np.arange(clock - 7 * 86400, hour, 60))
                    + list(np.linspace(hour, clock, 280)))
    assert main(["forecast", str(log), "--horizon", "2", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    first, second = json.loads(out)["hours"]
    # 60 an hour before it: 280 so far, and a third of an hour's 60 still to come
    assert 280 <= first["p10"] <= first["p50"] <= first["p90"] <= 280 + 60, first
    assert first["p50"] == pytest.approx(280 + 20, abs=6)
    assert 40 < second["p50"] < 80  # the next hour: as the hours before it
    assert "280 counted so far, and 67% of the hour gone" in err, err


def test_forecast_shows_the_fine_tune_the_app_keeps_for_those_logs(counts_csv, small_model_path,
                                                                     capsys):
    # the screen showed the site's kept fine-tune (115, 107-121) and `forecast` the shipped
    # model (113, 105-120), with nothing to say which was which
    from trafficwatch.counting.state import default_state_path
    from trafficwatch.engine import tuning

    def first(out: str) -> list[float]:  # the first hour's band: where both models' medians
        # follow one candidate (the daily shape and trend) alone, the bands still differ
        return [json.loads(out)["hours"][0][k] for k in ("p10", "p50", "p90")]

    code, out, err = run_cli(["forecast", counts_csv, "--format", "json"], capsys)
    default = first(out)
    assert code == 0 and "fine-tune" not in err
    tuned = Forecaster.load(small_model_path)
    tuned.name = "fine-tuned"
    store = tuning.tune_store(default_state_path([counts_csv], "app"))
    tuning._remember(store, "", None, tuning.TuneResult("", "kept: tuned then", tuned))
    code, out, err = run_cli(["forecast", counts_csv, "--format", "json"], capsys)
    # its note as the app made it: not the app's "; decided before this start" of a restart
    assert code == 0 and "the fine-tune the app keeps for all sites (kept: tuned then);" in err
    shown = first(out)
    series = pd.read_csv(counts_csv, index_col=0, parse_dates=True)["visits"]
    f = tuned.forecast(series, 24)
    assert shown == pytest.approx([f.p10[0], f.p50[0], f.p90[0]], rel=1e-6)
    assert shown != pytest.approx(default, rel=1e-3)
    assert "--model " + str(default_model_path().with_suffix(".npz")) in err  # no torch import
    code, out, err = run_cli(["forecast", counts_csv, "--model", str(default_model_path()),
                              "--format", "json"], capsys)  # asked for the shipped one: it
    assert "fine-tune" not in err and first(out) == default
    # eval scores both, as the app's note compares them ("MASE 0.82 vs default 0.84 in eval's
    # backtest"); it had scored the shipped model alone, with nothing said
    code, out, err = run_cli(["eval", counts_csv, "--days", "2", "--format", "json"], capsys)
    assert code == 0 and {"fine-tuned", "lstm:default"} <= set(json.loads(out)["models"])
    assert "also scored: the fine-tune the app keeps for all sites" in err
    assert "this start" not in err


def test_forecast_of_the_only_site_of_its_logs_shows_the_fine_tune_the_app_keeps(
        tmp_path, small_model_path, capsys, monkeypatch):
    # the app shows logs of one site as "all sites" (titled with the site's name) and keeps
    # their fine-tune there: `forecast --site` naming that site printed the shipped model's
    # forecast beside a screen that showed the fine-tune, with nothing said
    import time

    from trafficwatch.counting.state import default_state_path
    from trafficwatch.engine import tuning

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    logs = tmp_path / "logs"
    logs.mkdir()
    end = (int(time.time()) // 3600 - 2) * 3600
    rng = np.random.default_rng(3)
    stamps = np.sort(rng.integers(end - 10 * 86400, end, 20000))
    (logs / "shop.example.com.access.log").write_text("".join(
        f'10.0.0.{i % 200} - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))}] '
        f'"GET / HTTP/1.1" 200 5 "-" "ua"\n' for i, t in enumerate(stamps)))
    argv = ["forecast", str(logs), "--format", "json", "--site", "shop.example.com"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0 and "fine-tune" not in err
    assert "fine-tuned" not in json.loads(out)["choice"]
    tuned = Forecaster.load(small_model_path)
    tuned.name = "fine-tuned"
    store = tuning.tune_store(default_state_path([str(logs)], "app"))
    tuning._remember(store, "", None, tuning.TuneResult("", "kept: tuned then", tuned))
    for site in ([], ["--site", "shop.example.com"]):
        code, out, err = run_cli(argv[:4] + site, capsys)
        assert code == 0 and "the fine-tune the app keeps for" in err, err
        # the forecast printed is the fine-tune's (its median may be near the shipped one's
        # where both lean on the same candidate: uniform traffic, the 2 weeks' shape)
        assert "fine-tuned" in json.loads(out)["choice"], out
    (logs / "blog.example.org.access.log").write_text(  # a second site: all sites is not it
        (logs / "shop.example.com.access.log").read_text())
    code, out, err = run_cli(argv, capsys)
    assert code == 0 and "fine-tune" not in err, err


def test_eval_says_its_model_column_is_the_forecast_shown_and_can_score_the_lstm_alone(
        counts_csv, capsys):
    """A benchmark user found eval's lstm:default column equal to `forecast`'s output, which
    where a candidate won is not the LSTM: eval says so, and --lstm-alone scores the LSTM by
    itself beside it."""
    from trafficwatch.model.evaluate import backtest, summarize

    code, out, err = run_cli(["eval", counts_csv, "--format", "json", "--lstm-alone"], capsys)
    assert code == 0 and "lstm:default is the forecast as shown" in err
    got = json.loads(out)["models"]
    series = pd.read_csv(counts_csv, index_col=0, parse_dates=True)["visits"]
    alone = Forecaster.load()
    alone.calibrate = False
    table = summarize(backtest(series, {"shown": Forecaster.load().as_function(),
                                        "alone": alone.as_function()}, days=7))
    assert got["lstm:default alone"]["mase"] == pytest.approx(table.loc["alone", "mase"])
    assert got["lstm:default"]["mase"] == pytest.approx(table.loc["shown", "mase"])
    code, out, err = run_cli(["eval", counts_csv], capsys)
    assert "alone" not in out and "(--lstm-alone: the LSTM by itself too)" in err


def test_forecast_on_logs_of_several_sites_says_they_are_summed(tmp_path, capsys):
    # `forecast sample_logs/` printed the two sites' sum with nothing said: read as one site's
    line = ('203.0.113.9 - - [{d:02d}/Nov/2026:{h:02d}:10:00 +0000] "GET / HTTP/1.1" 200 5 '
            '"-" "ua"\n')
    for site, n in (("a.example", 3), ("b.example\x1b[31m", 1)):
        (tmp_path / f"{site}.access.log").write_text(
            "".join(line.format(d=1 + k // 24, h=k % 24) * n for k in range(24 * 4)))
    code, out, err = run_cli(["forecast", str(tmp_path), "--horizon", "2"], capsys)
    assert code in (0, 1) and len(out.splitlines()) == 3
    said = [x for x in err.splitlines() if "sites summed" in x]
    assert said == [("trafficwatch: 2 sites summed (a.example, b.example\\x1b[31m); --site "
                     "NAME for one")]
    code, out, err = run_cli(["forecast", str(tmp_path), "--horizon", "2", "--site",
                              "a.example"], capsys)
    assert "summed" not in err and len(out.splitlines()) == 3


@pytest.mark.parametrize("sites", [1, 2])
def test_a_csv_whose_last_hour_is_not_over_is_forecast_from_that_hour(tmp_path, capsys,
                                                                      small_model_path, sites):
    """`counts` at 06:20 writes 06:00's count so far; `forecast` read it as a whole hour and
    began at 07:00, an hour later than from the logs themselves (a new user's trial)."""
    now = pd.Timestamp.now(tz="UTC").floor("h")
    s = traffic(21)
    s.index = pd.date_range(end=now, periods=len(s), freq="h", tz="UTC")
    name = "" if sites == 1 else ",site"
    rows = [f"hour,count{name}"] + [f"{h.isoformat()},{int(v)}" + (f",s{k}" if sites > 1 else "")
                                    for k in range(sites) for h, v in s.items()]
    path = tmp_path / "now.csv"
    path.write_text("\n".join(rows) + "\n")
    code, out, err = run_cli(["forecast", str(path), "--model", small_model_path, "--horizon",
                              "2", "--format", "json"], capsys)
    assert code == 0, err
    if pd.Timestamp.now(tz="UTC").floor("h") != now:
        pytest.skip("the hour turned while the test ran: its last hour is over now")
    got = json.loads(out)
    first = [got] if sites == 1 else list(got["series"].values())
    assert [pd.Timestamp(f["hours"][0]["hour"]) for f in first] == [now] * sites, got
    assert err.count("is not over yet: left out") == sites


def test_eval_with_no_two_hours_a_day_apart_says_so_not_that_nothing_changes(tmp_path, capsys):
    """Every other day missing: MASE's scale cannot be measured, though the counts do change;
    eval said "the history never changes from one day to the next"."""
    from trafficwatch.cli.main import main

    s = traffic(28)
    s = s[(s.index.day_of_year % 2) == 0]  # every other day
    csv_path = tmp_path / "altdays.csv"
    write_counts(csv_path, s.index, s.astype(int))
    main(["eval", str(csv_path), "--days", "3"])
    _, err = capsys.readouterr()
    assert "no two observed hours are a day apart" in err and "never changes" not in err


@pytest.mark.parametrize(("began", "left_out"), [("10:20", True), ("09:30", True),
                                                  ("09:03", False), ("08:30", False)])
def test_forecast_of_sites_summed_names_a_site_with_no_whole_hour_yet(tmp_path, capsys, began,
                                                                       left_out):
    # logs that ended at 10:58 (10:00 not whole): a site whose log began at 09:30 has no whole
    # hour (09:00 began inside, 10:00 ended inside) and is in no hour the forecast reads
    from trafficwatch.cli.main import main

    def log(name: str, start: str) -> None:
        hours = pd.date_range(start, "2024-05-06 10:58", freq="2min", tz="UTC")
        (tmp_path / f"{name}.access.log").write_text("".join(
            f'10.0.0.1 - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET / HTTP/1.1" 200 5 "-" "ua"\n'
            for t in hours))

    log("old.example", "2024-05-01 00:00")
    log("new.example", f"2024-05-06 {began}")
    assert main(["forecast", str(tmp_path), "--horizon", "2"]) == 0
    err = capsys.readouterr().err
    assert "2 sites summed" in err
    said = [ln for ln in err.splitlines() if "no whole hour yet" in ln]
    if left_out:
        assert len(said) == 1 and "new.example (its log began 2024-05-06 " + began in said[0], err
        assert "old.example" not in said[0]
    else:
        assert not said, err


def test_an_absurd_count_in_a_csv_is_a_gap_said_not_a_forecast_of_billions(tmp_path, capsys):
    # a corrupted row: 10**12 in the last hour of a site of 500 an hour had been forecast 2
    # billion a week on, and 1e300 overflowed float32 (numpy's warning on stderr) into a
    # forecast 250 digits long
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-03-01", periods=21 * 24, freq="h", tz="UTC")
    counts = [str(int(c)) for c in rng.poisson(500, len(idx))]
    counts[100], counts[-1] = "1e300", str(10 ** 12)
    p = tmp_path / "c.csv"
    write_counts(p, idx, counts)
    code, out, err = run_cli(["forecast", str(p), "--horizon", "168"], capsys)
    assert code == 0 and "Warning" not in err
    assert "2 rows with a count not a number of requests (0 to under a trillion an hour), read as a gap" in err
    fc = pd.read_csv(io.StringIO(out))
    assert len(fc) == 168 and fc["p90"].max() < 1500 and 350 < fc["p50"].median() < 650


def test_a_series_of_bytes_is_left_out_said_not_forecast_from_its_smaller_half(tmp_path, capsys):
    """A series of bytes an hour, half its hours a trillion or more: those were gaps, the
    other half forecast (0.53x the truth), exit 0 and a story of a level at 0.45x (a trial).
    Left out as a series of negative values is, with one line; alone, refused."""
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-03-01", periods=21 * 24, freq="h", tz="UTC")
    counts = [str(int(c) * 2_000_000_000) for c in rng.poisson(500, len(idx))]
    p = tmp_path / "c.csv"
    write_counts(p, idx, counts)
    code, out, err = run_cli(["forecast", str(p), "--horizon", "2"], capsys)
    assert code == 2 and not out and "263 of its 504 rows hold a count of a trillion or more" \
        in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_file_of_two_series_one_left_out_still_names_the_other(tmp_path, capsys, fmt):
    # a file of two series, one of bytes (left out): the other's forecast came without its
    # series column, a shape of output a script reading "series,hour,..." could not read
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-03-01", periods=21 * 24, freq="h", tz="UTC")
    rows = [f"{name},{h.isoformat()},{int(c) * scale}" for name, scale in
            (("shop", 1), ("bytes", 2_000_000_000_000)) for h, c in
            zip(idx, rng.poisson(500, len(idx)))]
    p = tmp_path / "c.csv"
    p.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    code, out, err = run_cli(["forecast", str(p), "--horizon", "3", "--format", fmt], capsys)
    assert code == 1 and "series bytes: 504 of its 504 rows" in err, err
    if fmt == "csv":
        fc = pd.read_csv(io.StringIO(out))
        assert list(fc.columns[:2]) == ["series", "hour"] and set(fc["series"]) == {"shop"}
        assert len(fc) == 3
    else:
        assert list(json.loads(out)["series"]) == ["shop"]
    code, out, err = run_cli(["eval", str(p), "--days", "2", "--format", "json"], capsys)
    assert code == 1 and list(json.loads(out)["series"]) == ["shop"]
    assert "the mean leaves out 1 of 2 series (1 left out as the file was read)" in err


@pytest.mark.parametrize("empty, said", [(48, True), (1, False)])
def test_forecast_says_when_the_newest_hours_have_no_count(tmp_path, capsys, empty, said):
    # a CSV whose last 2 days were empty was forecast after them with no word: a user read a
    # forecast from data 2 days old as today's. One empty hour, the log's last and partial
    # hour as every reader makes it, is not worth a line
    idx = pd.date_range("2024-03-01", periods=21 * 24, freq="h", tz="UTC")
    values = [str(100 + 50 * (h.hour >= 9)) for h in idx[:-empty]] + [""] * empty
    p = tmp_path / "c.csv"
    write_counts(p, idx, values)
    code, out, err = run_cli(["forecast", str(p)], capsys)
    newest = idx[-empty - 1].strftime("%Y-%m-%d %H:00")
    assert code == 0
    assert (f"the last {empty} hours have no count (the newest is {newest})" in err) is said
    assert pd.read_csv(io.StringIO(out))["hour"].iloc[0] == (idx[-1] + pd.Timedelta(hours=1)
                                                             ).isoformat()


@pytest.mark.parametrize("old_weeks", [3, 0])
def test_forecast_says_when_the_last_week_is_mostly_empty_after_older_counts(
        tmp_path, capsys, old_weeks):
    # sites of other years summed: 25 hours after 14 months of nothing were forecast from with
    # only "unjudged" said. A young site, with nothing older, has nothing more to say
    idx = pd.date_range("2024-03-01", periods=(old_weeks + 3) * 168 + 30, freq="h", tz="UTC")
    old = old_weeks * 168
    values = [str(100 + 50 * (h.hour >= 9)) if i < old or i >= len(idx) - 30 else ""
              for i, h in enumerate(idx)]
    p = tmp_path / "c.csv"
    kept = [(h, v) for h, v in zip(idx, values) if v or old_weeks]
    write_counts(p, [h for h, _ in kept], [v for _, v in kept])
    code, _, err = run_cli(["forecast", str(p)], capsys)
    assert code == 0
    said = f"only 30 of the last 168 hours have a count (the newest before them is from {idx[old - 1]:%Y-%m-%d})"
    assert (said in err) is bool(old_weeks)


def test_eval_of_a_series_without_one_usable_count_is_one_line_and_status_2(tmp_path, capsys):
    # a line per model had said it ("could not forecast at any origin"), then "naive168 at 4 of
    # 7 origins: less than a week of history", and eval exited 1 where forecast exits 2
    idx = pd.date_range("2024-03-01", periods=10 * 24, freq="h", tz="UTC")
    p = tmp_path / "neg.csv"
    write_counts(p, idx, ["n/a"] * len(idx))  # (negative values are no counts: refused)
    code, out, err = run_cli(["eval", str(p)], capsys)
    assert code == 2 and out == ""
    assert err.splitlines()[1:] == ["trafficwatch: the series has no observed hour: nothing to evaluate"]
    # among several series, that one is said and the others scored
    rows = "".join(f"{h.isoformat()},{s},{c}\n" for h in idx
                   for s, c in (("bad", "n/a"), ("good", 100 + 50 * (h.hour >= 9))))
    p.write_text("hour,series,count\n" + rows)
    code, out, err = run_cli(["eval", str(p)], capsys)
    assert code == 1 and "bad: the series has no observed hour: nothing to evaluate" in err
    assert "good" in out


def test_forecast_says_on_which_side_the_band_widened_in_a_line_like_the_others(tmp_path, capsys):
    # a site down to a third since yesterday: "trafficwatch: Band widened: ..." was the one
    # stderr line with a capital, and did not say the band widened only below (20 hours ago:
    # a fall of a day or more is read as a new level, features.level_shift)
    idx = pd.date_range("2026-11-06 16:00", periods=28 * 24, freq="h", tz="UTC")
    shape = 1 - 0.6 * np.cos(2 * np.pi * (idx.hour.to_numpy() - 3) / 24)
    mu = 2000 * shape * np.where(np.arange(len(idx)) >= len(idx) - 20, 1 / 3, 1.0)
    p = write_counts(tmp_path / "drop.csv", idx, np.random.default_rng(0).poisson(mu))
    code, _, err = run_cli(["forecast", str(p)], capsys)
    assert code == 0 and "trafficwatch: band widened below: the last day had" in err, err


@pytest.mark.parametrize("command", ["forecast", "eval"])
def test_a_log_named_alone_after_its_rotation_says_its_rotations_were_not_read(tmp_path, capsys,
                                                                               command):
    # a trial forecast a log just rotated, by its name: "no observed hour", and its three weeks
    # lay in access.log.1 beside it, unsaid
    from trafficwatch.cli.main import main

    old = sample_logs_dir() / "blog.example.org.access.log.1"
    (tmp_path / "blog.access.log.1").write_bytes(old.read_bytes())
    (tmp_path / "blog.access.log").write_text(old.read_text().splitlines()[-1] + "\n")
    assert main([command, str(tmp_path / "blog.access.log")]) == 2
    err = capsys.readouterr().err
    assert "1 rotation beside it not read (blog.access.log.1): name the folder, or " \
        "'blog.access.log*' (quoted), for a longer history" in err, err
    main([command, str(tmp_path / "blog.access.log"), str(tmp_path / "blog.access.log.1")])
    assert "beside it not read" not in capsys.readouterr().err  # named: read


def test_eval_header_counts_the_origins_with_hours_scored(tmp_path, capsys):
    """A trial's log with years of nothing before its last days read "7 daily origins" where
    the naives scored 24 hours at 2 of them and the LSTM none."""
    from trafficwatch.cli.main import main

    s = traffic(21)
    values = [str(int(v)) for v in s.to_numpy()]
    for i in range(24 * 14, 24 * 19):  # five days with no log, then two with one
        values[i] = ""
    code = main(["eval", str(write_counts(tmp_path / "gap.csv", s.index, values)),
                 "--days", "7"])
    out, _ = capsys.readouterr()
    assert code in (0, 1)
    assert out.startswith("rolling origin: 7 daily origins (2 with hours scored), 24 h ahead, "
                          "hours scored 2024-05-25 00:00 .. 2024-05-26 23:00 UTC"), out


def test_sites_summed_whose_logs_ended_weeks_apart_are_said(tmp_path, capsys):
    """A trial's real logs of 2015, 2021 and 2022, summed: a chart and a forecast of the 2022
    one's last days alone, "4 sites summed" and nothing more said."""
    from trafficwatch.cli.main import main

    def log(name: str, start: str, days: int) -> None:
        hours = pd.date_range(start, periods=24 * days, freq="h", tz="UTC")
        (tmp_path / f"{name}.access.log").write_text("".join(
            f'10.0.0.{i % 200} - - [{(h + pd.Timedelta(minutes=i % 60)):%d/%b/%Y:%H:%M:%S +0000}]'
            f' "GET /p HTTP/1.1" 200 5 "-" "ua"\n' for h in hours for i in range(3)))

    log("old", "2021-03-01", 3)
    log("new", "2022-12-01", 10)
    main(["forecast", str(tmp_path), "--horizon", "6"])
    err = capsys.readouterr().err
    assert ("trafficwatch: logs that ended a week or more before the others: old (2021-03-03); "
            "the sites summed show the others' recent hours alone (--site NAME for one)") in err
    main(["forecast", str(tmp_path), "--site", "new", "--horizon", "6"])
    assert "ended weeks" not in capsys.readouterr().err  # one site: nothing summed


@pytest.mark.parametrize("zone", ["+05:30", "-03:30", "+05:45"])
def test_a_csv_in_a_zone_off_the_hour_keeps_its_own_hours(tmp_path, capsys, zone):
    """A +05:30 file ending at 23:00 was floored onto UTC hours: its forecast began at
    23:30+05:30, half an hour inside the hour the file ended on, and a row at 23:45 was added
    to the next hour's (a trial). Its hours are its own, and so are the forecast's."""
    from trafficwatch.counting.load import read_counts_csv_all

    hours = pd.date_range("2026-03-02 00:00", periods=24 * 21, freq="h", tz=zone)
    path, counts = forecast_goes_on_from_its_rows(tmp_path, capsys, hours)
    # minutes are dropped in the file's own hours: 23:45 is 23:00's
    late = hours[-1] + pd.Timedelta(minutes=45)
    with path.open("a") as f:
        f.write(f"{late.isoformat()},5\n")
    s = next(iter(read_counts_csv_all(str(path)).series.values()))
    assert len(s) == len(hours) and s.iloc[-1] == counts[-1] + 5


def test_whole_utc_hours_written_in_a_zone_off_the_hour_stay_on_them(tmp_path, capsys):
    """Whole UTC hours written in +05:30 (..., 03:30, 04:30) were read as the zone's own hours:
    the forecast began at 05:00+05:30, half an hour before the next row (a trial)."""
    hours = pd.date_range("2026-03-02 00:00", periods=24 * 21, freq="h",
                          tz="UTC").tz_convert("+05:30")
    assert hours[-1].minute == 30
    forecast_goes_on_from_its_rows(tmp_path, capsys, hours)


def forecast_goes_on_from_its_rows(tmp_path, capsys, hours):
    """A counts CSV of these hours, whose forecast's first two hours must follow its last row
    an hour apart, as written; its path and counts."""
    from trafficwatch.cli.main import main

    rng = np.random.default_rng(0)
    counts = rng.poisson(100 + 60 * np.sin(np.arange(len(hours)) * 2 * np.pi / 24))
    path = tmp_path / "site.csv"
    write_counts(path, hours, counts)
    assert main(["forecast", str(path), "--horizon", "2"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows[0].startswith((hours[-1] + pd.Timedelta(hours=1)).isoformat()), rows[0]
    assert rows[1].startswith((hours[-1] + pd.Timedelta(hours=2)).isoformat()), rows[1]
    return path, counts


def test_a_model_file_named_with_escapes_a_newline_and_a_comma_is_shown_escaped(tmp_path,
                                                                                 capsys):
    # forecast's CSV wrote the model's file name raw (an OSC title and a row split in two by
    # its newline, a column added by its comma) and eval's table printed it raw: a security trial
    import shutil

    from trafficwatch.resources import default_model_path

    model = tmp_path / "x\x1b]0;T\x07\nF,G.pt"
    shutil.copy(default_model_path(), model)
    rng = np.random.default_rng(1)
    idx = pd.date_range("2024-03-01", periods=35 * 24, freq="h", tz="UTC")
    p = write_counts(tmp_path / "c.csv", idx, [
        str(int(100 + 50 * np.sin(h.hour / 24 * 2 * np.pi) + rng.normal(0, 10))) for h in idx])
    shown = "lstm:x\\x1b]0;T\\x07\\x0aF,G"
    code, out, _ = run_cli(["forecast", str(p), "--horizon", "3", "--model", str(model)],
                             capsys)
    assert code == 0 and not any(c < " " and c != "\n" for c in out), out
    fc = pd.read_csv(io.StringIO(out))
    assert list(fc.columns) == ["hour", "p10", "p50", "p90", "model"] and len(fc) == 3
    assert all(m.startswith(shown) for m in fc["model"]), fc["model"]
    code, out, _ = run_cli(["eval", str(p), "--days", "2", "--model", str(model)], capsys)
    assert code == 0 and not any(c < " " and c != "\n" for c in out), out
    assert any(line.startswith(shown + " ") for line in out.splitlines()), out


def test_eval_compares_every_model_on_the_same_origins(tmp_path, capsys):
    """A trial: 42 days, then 10 days of nothing and the last two days again: the LSTM (no
    observed hour in its window) forecast at one of the two origins with hours, the naives at
    both, and the table set their MASE over two origins beside its over one; naive24's on the
    one they shared was 1.247, the table said 1.060."""
    from trafficwatch.cli.main import main
    from trafficwatch.model.baselines import naive24
    from trafficwatch.model.evaluate import score, seasonal_scale

    s = traffic(42)
    values = [str(int(v)) for v in s.to_numpy()]
    for i in range(len(values) - 288, len(values) - 48):
        values[i] = ""
    path = write_counts(tmp_path / "gap.csv", s.index, values)
    assert main(["eval", str(path), "--days", "7", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    hours = {name: m["hours"] for name, m in doc["models"].items()}
    assert set(hours.values()) == {24}, hours
    assert "every figure is over the 1 origin at which every model forecast" in err, err
    # naive24's figure is its MASE at that one origin, the last
    v = pd.Series([float(x) if x else np.nan for x in values], index=s.index)
    o = len(v) - 24
    expect = score(v.to_numpy()[o:], naive24(v.iloc[:o], 24), seasonal_scale(v.to_numpy()[:o]))
    assert doc["models"]["naive24"]["mase"] == pytest.approx(expect["mase"])


def test_train_backtests_as_eval_does_when_the_counts_end_in_gaps(counts_csv, small_model_path,
                                                                  tmp_path, capsys):
    # a trial: a counts CSV ending in the log's part-hour (read as a gap): train held out from
    # it, its origins an hour later than eval's, and its verdict on the fine-tune another
    path = tmp_path / "ends.csv"  # as counts writes it: the part-hour marked partial
    rows = Path(counts_csv).read_text().split()
    path.write_text("\n".join([rows[0] + ",partial", *(r + "," for r in rows[1:-1]),
                               rows[-1] + ",1"]) + "\n")
    out_path = tmp_path / "site.pt"
    code, trained, err = run_cli(["train", str(path), "--init", small_model_path, "--out",
                                  str(out_path), "--epochs", "1", "--holdout-days", "2"], capsys)
    assert code == 0, err
    code, scored, err = run_cli(["eval", str(path), "--model", str(out_path), "--days", "2"],
                                capsys)
    assert code == 0, err

    def row(text: str, name: str) -> list[str]:
        return next(line.split() for line in text.splitlines() if line.startswith(name))

    assert row(trained, "lstm:site") == row(scored, "lstm:site")
    assert row(trained, "naive24") == row(scored, "naive24")


@pytest.mark.parametrize("what", ["folder", "fifo", "symlink"])
def test_train_refuses_an_out_that_is_no_file_before_it_trains(counts_csv, small_model_path,
                                                               tmp_path, capsys, what):
    # a trial: a folder was refused after the training (status 2); a FIFO, a symbolic link
    # (its target never written), even /dev/full as root were replaced by the model, status 0
    out_path = tmp_path / "out.pt"
    if what == "folder":
        out_path.mkdir()
    elif what == "fifo":
        os.mkfifo(out_path)
    else:
        out_path.symlink_to(tmp_path / "target.pt")
    code, out, err = run_cli(["train", counts_csv, "--init", small_model_path, "--out",
                              str(out_path), "--epochs", "1"], capsys)
    assert code == 2 and "epoch" not in err and out == "", err
    assert f"--out {out_path} is " in err
    assert not (tmp_path / "target.pt").exists()


def test_eval_on_a_fine_tunes_own_held_out_days_is_not_called_in_sample(counts_csv,
                                                                        small_model_path,
                                                                        tmp_path, capsys):
    # a trial: eval of a fine-tune on the days train held out said "trained on it: its scores
    # there are in-sample", for the history day before them that every model reads
    out_path = tmp_path / "site.pt"
    code, _, err = run_cli(["train", counts_csv, "--init", small_model_path, "--out",
                            str(out_path), "--epochs", "1", "--holdout-days", "3"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["eval", counts_csv, "--model", str(out_path), "--days", "3"], capsys)
    assert code == 0 and "was trained on it" not in err, err
    code, _, err = run_cli(["eval", counts_csv, "--model", str(out_path), "--days", "6"], capsys)
    assert code == 0 and "lstm:site was trained on it" in err, err  # days it learned from


@pytest.mark.parametrize("ended_h", [0, 30])
def test_a_forecast_of_a_log_that_stopped_says_it_starts_where_the_log_ends(
        tmp_path, capsys, ended_h):
    # a hosting trial: a dead site's forecast began four days ago, exit 0, not a word (the
    # help speaks of "the hour in progress" of a log being written); a live log's is unchanged
    import time

    now = int(time.time())
    lines = [time.strftime('10.0.0.1 - - [%d/%b/%Y:%H:%M:%S +0000] "GET / HTTP/1.1" 200 5 "-" '
                           '"Mozilla/5.0"', time.gmtime(now - ended_h * 3600 - k * 900))
             for k in range(4 * 24 * 8, 0, -1)]
    log = tmp_path / "site.access.log"
    log.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(["forecast", str(log), "--horizon", "2"], capsys)
    assert code == 0 and len(out.splitlines()) == 3
    said = "hours before now: the forecast starts after it" in err
    assert said is (ended_h > 0), err


def test_a_log_that_ended_inside_an_hour_is_said_to_end_inside_it(tmp_path, capsys):
    # a trial: "the last hour with a count is 06:00" while `counts` printed 07:00's lines
    # (marked partial), and the forecast began at 08:00
    import time

    end = (int(time.time()) // 3600 - 30) * 3600 + 1200  # 20 minutes into an hour, 30 h ago
    lines = [time.strftime('10.0.0.1 - - [%d/%b/%Y:%H:%M:%S +0000] "GET / HTTP/1.1" 200 5 "-" '
                           '"Mozilla/5.0"', time.gmtime(end - k * 600))
             for k in range(6 * 24 * 8, -1, -1)]
    log = tmp_path / "site.access.log"
    log.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(["forecast", str(log), "--horizon", "2", "--tz", "UTC"], capsys)
    inside, whole = (time.strftime("%Y-%m-%d %H:%M", time.gmtime(end // 3600 * 3600 - k))
                     for k in (0, 3600))
    assert code == 0 and f"the log ends inside {inside} (read as part of an hour, not a " \
        f"whole hour's count; the last " \
        f"whole hour is {whole}), 3" in err and "hours before now" in err, err
    first = time.strftime("%Y-%m-%dT%H:00:00", time.gmtime(end // 3600 * 3600 + 3600))
    assert out.splitlines()[1].startswith(first), out
