"""Forecasting without torch: numpy inference equals nn.LSTM + head, the .npz beside every .pt."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from trafficwatch.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
    load_npz,
    npz_path,
    save_checkpoint,
)
from trafficwatch.model.export import main as export_main
from trafficwatch.model.forecaster import Forecaster
from trafficwatch.model.lstm import LSTMConfig, QuantileLSTM
from trafficwatch.model.numpy_lstm import NumpyLSTM
from trafficwatch.resources import default_model_path

from .test_forecast_cmd import traffic
from .test_lstm import context

REPO = Path(__file__).resolve().parents[1]
GATES = ("input_gate", "forget_gate", "output_gate", "candidate", "cell", "hidden")


def random_model(cfg: LSTMConfig, seed: int = 0) -> QuantileLSTM:
    """Random LSTM weights and a head far from its near-zero start: every branch of it matters."""
    torch.manual_seed(seed)
    model = QuantileLSTM(cfg).eval()
    with torch.no_grad():
        model.head.weight.normal_(0, 0.3)
        model.head.bias.normal_(0, 1.0)
        if model.base_gate is not None:  # the per-hour gate starts at zero: wake it up
            for param in model.base_gate.parameters():
                param.normal_(0, 0.5)
    return model


def close(a, b, tol: float = 1e-5) -> None:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape and float(np.abs(a - b).max()) < tol, float(np.abs(a - b).max())


@pytest.mark.parametrize("cfg", [
    LSTMConfig(window=48, horizon=12, hidden=8, layers=1),
    LSTMConfig(window=48, horizon=12, hidden=8, layers=2),
    LSTMConfig(window=168, horizon=168, hidden=64, layers=1),  # the shipped architecture
    # written before the holiday flags, and before the per-hour gate: they read 6 features of 7
    LSTMConfig(window=48, horizon=12, hidden=8, n_features=6, holidays=False),
    LSTMConfig(window=48, horizon=12, hidden=8, n_features=6, base_gate=0, holidays=False),
], ids=["1-layer", "2-layers", "shipped-size", "no-holidays", "no-base-gate"])
def test_numpy_inference_equals_nn_lstm_and_every_explicit_gate(cfg):
    model = random_model(cfg)
    x = torch.randn(3, cfg.window, 7, generator=torch.Generator().manual_seed(1))
    ctx = context(3, cfg.horizon, seed=2)
    net = NumpyLSTM.from_torch(model)
    args = [t.numpy() for t in (x, *ctx)]
    with torch.no_grad():
        out, (_, c_n) = model.lstm(x[..., :cfg.n_features])  # nn.LSTM itself
        expected = model(x, *ctx)  # nn.LSTM + head
    close(net.predict(*args), expected)
    q, inner = net.internals(*args)
    close(q, expected)
    close(inner.hidden, out)
    close(inner.cell[:, -1], c_n[-1])
    for layer in range(-1, cfg.layers):
        tq, t_inner = model.internals(x, *ctx, layer=layer)
        n_q, n_inner = net.internals(*args, layer=layer)
        close(n_q, tq)
        assert n_inner.layer == t_inner.layer
        for name in GATES:
            close(getattr(n_inner, name), getattr(t_inner, name))
        close(n_inner.mix, t_inner.mix)


def test_fewer_hours_than_the_horizon_are_the_first_hours_of_the_full_forecast():
    # a forecast of 24 h (and the days it is judged on) asks the head for 24 of its 168 hours
    cfg = LSTMConfig(window=48, horizon=12, hidden=8)
    model = random_model(cfg)
    x = torch.randn(3, cfg.window, 7, generator=torch.Generator().manual_seed(1))
    bases, bmask, skill, cal = context(3, cfg.horizon, seed=2)
    net = NumpyLSTM.from_torch(model)
    with torch.no_grad():
        full = model(x, bases, bmask, skill, cal).numpy()
    for h in (1, 5):
        part = (x, bases[:, :h], bmask[:, :h], skill, cal[:, :h])
        with torch.no_grad():
            close(model(*part), full[:, :h])
        close(net.predict(*(t.numpy() for t in part)), full[:, :h])
        _, inner = net.internals(*(t.numpy() for t in part))
        assert inner.mix.shape == (3, h, cfg.n_bases)
    for h in (0, cfg.horizon + 1):  # none, or more than it was trained for: refused
        with pytest.raises(ValueError, match="takes 1..12 h"):
            net.predict(x.numpy(), *(np.zeros((3, h, cfg.n_bases), np.float32),) * 2,
                        skill.numpy())


def test_weights_that_do_not_fit_the_config_are_refused():
    model = random_model(LSTMConfig(window=48, horizon=12, hidden=8))
    w = {k: v.numpy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="shapes"):
        NumpyLSTM(LSTMConfig(window=48, horizon=12, hidden=16), w)
    with pytest.raises(ValueError, match="do not fit"):
        NumpyLSTM(model.cfg, {k: v for k, v in w.items() if k != "head.bias"})
    with pytest.raises(ValueError, match="NaN"):
        NumpyLSTM(model.cfg, w | {"head.bias": np.full_like(w["head.bias"], np.nan)})


CFG = LSTMConfig(window=72, horizon=48, hidden=8)


def test_save_writes_a_npz_beside_the_pt_that_forecasts_the_same_without_torch(tmp_path):
    model = random_model(CFG)
    path = save_checkpoint(tmp_path / "m.pt", model, data={"hours": 5}, metrics={"mase": 0.8})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.pt"]  # no temp file
    ck = load_model(path)
    assert isinstance(ck.model, NumpyLSTM) and ck.config == CFG
    assert ck.data == {"hours": 5} and ck.metrics == {"mase": 0.8}
    assert ck.scaling["transform"] == "log1p"
    s = traffic(21)
    fast, slow = Forecaster.load(path), Forecaster(model)
    assert isinstance(fast.net, NumpyLSTM) and not isinstance(slow.net, NumpyLSTM)
    (a, ga), (b, gb) = fast.forecast_with_gates(s, 48), slow.forecast_with_gates(s, 48)
    for q in ("p10", "p50", "p90"):
        np.testing.assert_allclose(getattr(a, q), getattr(b, q), rtol=1e-5, atol=1e-5)
    for name in ga.matrices:
        close(ga.matrices[name], gb.matrices[name])
    assert ga.reliance.keys() == gb.reliance.keys()
    close(list(ga.reliance.values()), list(gb.reliance.values()))
    assert a.recent.keys() == b.recent.keys()  # the same candidates judged the same way
    np.testing.assert_allclose(list(a.recent.values()), list(b.recent.values()), rtol=1e-5)


@pytest.mark.parametrize("cfg", [
    LSTMConfig(window=72, horizon=48, hidden=8, n_features=6, holidays=False),
    LSTMConfig(window=72, horizon=48, hidden=8, n_features=6, base_gate=0, holidays=False),
], ids=["before-holidays", "before-base-gate"])
def test_a_model_saved_before_the_holiday_flags_still_forecasts_and_reads_the_same_inputs(
        tmp_path, cfg):
    """A site's fine-tuned checkpoint from an older release: 6 input features, no flags."""
    model = random_model(cfg)
    path = save_checkpoint(tmp_path / "old.pt", model)
    fast = Forecaster.load(path)
    assert isinstance(fast.net, NumpyLSTM) and fast.cfg == cfg
    s = traffic(21)
    a, b = fast.forecast(s, 48), Forecaster(model).forecast(s, 48)
    np.testing.assert_allclose(a.p50, b.p50, rtol=1e-5, atol=1e-5)
    assert np.isfinite(a.p10).all() and (a.p10 <= a.p50).all() and (a.p50 <= a.p90).all()


def test_a_stale_or_damaged_npz_is_ignored_and_the_pt_loaded_with_torch(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", random_model(CFG, 0))
    stale = npz_path(path).read_bytes()
    newer = save_checkpoint(tmp_path / "new.pt", random_model(CFG, 1))
    path.write_bytes(newer.read_bytes())  # the .pt replaced by hand, its .npz left as it was
    ck = load_model(path)
    assert isinstance(ck.model, QuantileLSTM)
    torch.testing.assert_close(ck.model.head.bias, random_model(CFG, 1).head.bias)
    npz_path(path).write_bytes(stale[: len(stale) // 2])  # truncated
    assert isinstance(load_model(path).model, QuantileLSTM)
    with pytest.raises(CheckpointError, match=r"m\.npz.*not a readable"):
        load_npz(npz_path(path))


def test_a_npz_holding_pickled_objects_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __meta__=np.array([{"format": "trafficwatch-lstm"}], dtype=object))
    with pytest.raises(CheckpointError, match=r"evil\.npz.*pickled"):
        load_npz(path)
    with pytest.raises(CheckpointError, match="no such model file"):
        load_npz(tmp_path / "absent.npz")
    with pytest.raises(CheckpointError, match=r"absent\.pt: no such model file"):
        load_model(tmp_path / "absent.pt")


def test_saving_to_a_npz_path_writes_only_the_torch_free_file(tmp_path):
    model = random_model(CFG)
    save_checkpoint(tmp_path / "m.npz", model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    fc = Forecaster.load(tmp_path / "m.npz")
    assert isinstance(fc.net, NumpyLSTM)
    torch.testing.assert_close(fc.model.head.weight, model.head.weight)  # torch, for fine-tuning


def test_export_command_rewrites_the_npz_and_refuses_bad_usage(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "m.pt", random_model(CFG))
    npz_path(path).unlink()
    assert isinstance(load_model(path).model, QuantileLSTM)
    assert export_main([str(path)]) == 0
    assert isinstance(load_model(path).model, NumpyLSTM)
    assert export_main([]) == 2 and "usage" in capsys.readouterr().err
    assert export_main([str(tmp_path / "absent.pt")]) == 2
    assert "no such model file" in capsys.readouterr().err


def test_shipped_npz_is_made_from_the_shipped_pt_and_forecasts_the_same():
    pt = default_model_path()
    ck = load_model(pt)
    assert isinstance(ck.model, NumpyLSTM), (
        f"{npz_path(pt)} is missing or stale: run `python -m trafficwatch.model.export {pt}`")
    s = traffic(42, seed=3)
    a, ga = Forecaster(ck.model).forecast_with_gates(s, 168)
    b, gb = Forecaster(load_checkpoint(pt).model).forecast_with_gates(s, 168)  # torch, the .pt
    for q in ("p10", "p50", "p90"):
        np.testing.assert_allclose(getattr(a, q), getattr(b, q), rtol=1e-5, atol=1e-5)
    for name in ga.matrices:
        close(ga.matrices[name], gb.matrices[name])


def test_forecast_eval_and_the_app_model_side_never_import_torch(tmp_path):
    csv = tmp_path / "counts.csv"
    s = traffic(21, seed=4)
    csv.write_text("hour,count\n" + "".join(f"{h.isoformat()},{int(v)}\n" for h, v in s.items()))
    code = ("import sys\n"
            "import trafficwatch.model.forecaster\n"
            "assert 'torch' not in sys.modules, 'import'\n"
            "from trafficwatch.cli.main import main\n"
            "assert main(['forecast', sys.argv[1], '--horizon', '24']) == 0\n"
            "assert main(['eval', sys.argv[1], '--days', '2']) == 0\n"
            "import trafficwatch.app.app\n"  # the app's model side: default model, predict()
            "import trafficwatch.engine.engine\n"
            "from trafficwatch.engine.predict import predict\n"
            "from trafficwatch.counting.load import read_counts_csv\n"
            "from trafficwatch.engine.tuning import load_default\n"
            "fc, why = load_default(None)\n"  # the shipped model, as the engine loads it
            "assert predict(read_counts_csv(sys.argv[1]), fc).gates is not None, why\n"
            # a file that is no model is refused without torch (2.4 s and 725 MB before)
            "assert main(['forecast', sys.argv[1], '--model', sys.argv[1]]) == 2\n"
            "print('torch imported:', 'torch' in sys.modules)\n")
    env = os.environ | {"PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", code, str(csv)], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "torch imported: False" in res.stdout
