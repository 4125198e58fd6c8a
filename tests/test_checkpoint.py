"""Checkpoints: round trip with metadata, atomic writes, and refusal of bad or malicious files."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trafficwatch.model.checkpoint import VERSION, CheckpointError, load_checkpoint, save_checkpoint
from trafficwatch.model.lstm import LSTMConfig, QuantileLSTM

CFG = LSTMConfig(window=48, horizon=12, hidden=8)


def small_model(seed: int = 0) -> QuantileLSTM:
    torch.manual_seed(seed)
    return QuantileLSTM(CFG).eval()


def test_round_trip_keeps_weights_config_and_metadata(tmp_path):
    model = small_model()
    path = save_checkpoint(tmp_path / "m.pt", model, data={"start": "2024-01-01T00:00:00+00:00"},
                           metrics={"mase": 0.8})
    ck = load_checkpoint(path)
    x, bases, skill = torch.randn(2, 48, 7), torch.randn(2, 12, 7), torch.randn(2, 8)
    ctx = (bases, torch.ones(2, 12, 7), skill)
    torch.testing.assert_close(ck.model.predict(x, *ctx), model.predict(x, *ctx))
    assert ck.config == CFG
    assert ck.data["start"].startswith("2024") and ck.metrics == {"mase": 0.8}
    assert ck.scaling["transform"] == "log1p"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.pt"]  # no temp file left


def test_save_replaces_atomically_and_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", small_model(0))
    before, npz_before = path.read_bytes(), path.with_suffix(".npz").read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_checkpoint(path, small_model(1))
    assert path.read_bytes() == before and path.with_suffix(".npz").read_bytes() == npz_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.pt"]


def test_truncated_file_is_refused_naming_the_file(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", small_model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"m\.pt.*(truncated|corrupt).*retrain"):
        load_checkpoint(path)


def test_missing_file_and_other_versions_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no such model file"):
        load_checkpoint(tmp_path / "absent.pt")
    path = tmp_path / "old.pt"
    payload = {"format": "trafficwatch-lstm", "version": 99, "config": CFG.to_dict(),
               "state_dict": small_model().state_dict()}
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"old\.pt.*version 99"):
        load_checkpoint(path)


def test_mismatched_architecture_or_window_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", small_model())
    with pytest.raises(CheckpointError, match="window"):
        load_checkpoint(path, expect=LSTMConfig(window=168, horizon=12, hidden=8))
    bad = tmp_path / "bad.pt"
    cfg = CFG.to_dict() | {"hidden": 16}  # weights are for 8 units
    torch.save({"format": "trafficwatch-lstm", "version": VERSION, "config": cfg,
                "state_dict": small_model().state_dict()}, bad)
    with pytest.raises(CheckpointError, match=r"bad\.pt.*mismatched architecture"):
        load_checkpoint(bad)


class Payload:
    """Unpickling this would create a file: the code payload a malicious checkpoint carries."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_malicious(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "trafficwatch-lstm", "version": VERSION, "x": Payload(str(marker))}, path)
    assert not marker.exists()
    return path, marker


def test_pickle_with_code_payload_is_refused_and_never_runs(tmp_path):
    path, marker = write_malicious(tmp_path)
    with pytest.raises(CheckpointError, match=r"evil\.pt.*refused"):
        load_checkpoint(path)
    assert not marker.exists()


def test_code_payload_is_refused_even_with_torch_force_no_weights_only_load(tmp_path):
    path, marker = write_malicious(tmp_path)
    code = ("import sys\n"
            "from trafficwatch.model.checkpoint import CheckpointError, load_checkpoint\n"
            "try:\n    load_checkpoint(sys.argv[1])\nexcept CheckpointError as e:\n"
            "    print('refused:', e)\n    sys.exit(3)\n")
    env = os.environ | {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
    res = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert res.returncode == 3, res.stderr
    assert "refused" in res.stdout
    assert not marker.exists()


def test_a_config_written_before_the_per_hour_gate_reads_as_one_without_it():
    from trafficwatch.model.config import LSTMConfig

    old = LSTMConfig(window=48, horizon=12, hidden=8, n_features=6).to_dict()
    del old["base_gate"], old["holidays"]  # neither key existed then
    cfg = LSTMConfig.from_dict(old)
    assert cfg.base_gate == 0 and not cfg.holidays and cfg.n_features == 6
    assert LSTMConfig().base_gate > 0 and LSTMConfig().holidays  # new models have both
    before_holidays = LSTMConfig(window=48, horizon=12, hidden=8, n_features=6).to_dict()
    del before_holidays["holidays"]
    assert not LSTMConfig.from_dict(before_holidays).holidays


@pytest.mark.parametrize(("content", "says"), [
    (b"", "an empty file, not a model checkpoint"),
    (bytes(range(7, 256)) * 20, "not a model checkpoint (neither the zip archive torch saves"),
])
def test_garbage_is_not_called_pickled_code(tmp_path, content, says):
    p = tmp_path / "m.pt"
    p.write_bytes(content)
    with pytest.raises(CheckpointError) as got:
        load_checkpoint(p)
    assert says in str(got.value) and "pickled code" not in str(got.value)


def test_a_pickle_of_plain_values_is_no_checkpoint_and_not_called_code(tmp_path):
    """A dict pickled by hand was refused as holding "pickled code or objects" (a trial)."""
    import collections
    import pickle

    p = tmp_path / "m.pt"
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):  # 0-1 begin otherwise, 2-3 are no zip
        p.write_bytes(pickle.dumps({"x": 1, "w": [1.0, 2.0]}, protocol=protocol))
        with pytest.raises(CheckpointError) as got:
            load_checkpoint(p)
        assert "a pickle of plain values, not one torch saved" in str(got.value), protocol
    p.write_bytes(pickle.dumps(collections.OrderedDict(x=1)))  # names a class: code
    with pytest.raises(CheckpointError, match="pickled code or objects"):
        load_checkpoint(p)


def test_a_truncated_checkpoint_is_said_in_one_short_line(tmp_path):
    p = tmp_path / "m.pt"
    save_checkpoint(p, QuantileLSTM(LSTMConfig(hidden=8)))
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(CheckpointError) as got:
        load_checkpoint(p)
    msg = str(got.value)
    assert "\n" not in msg and "internal miniz error" not in msg and "truncated or corrupt" in msg


def _bad_models(tmp_path: Path) -> dict[str, Path]:
    import pickle
    import zipfile

    import numpy as np

    files = {"text.npz": b"hello\n", "random.npz": bytes(range(256)) * 12, "text.pt": b"hi\n",
             "noise.pt": b"\x80" + bytes((i * 97 + 13) % 256 for i in range(600))}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    with zipfile.ZipFile(tmp_path / "junk.pt", "w") as z:
        z.writestr("a.txt", "x")
    (tmp_path / "dict.pt").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    good = tmp_path / "good.pt"
    save_checkpoint(good, small_model())
    from trafficwatch.model.checkpoint import export_npz

    whole = export_npz(good).read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "models").mkdir()  # the folder of the model, given for the model
    (tmp_path / "folder.npz").mkdir()
    return {p.name: p for p in tmp_path.iterdir() if p.name not in ("good.pt", "good.npz")}


LIBRARY_WORDS = ("allow_pickle", "pickle.load", "enhancement request", "hasRecord",
                 "inline_container", "weights_only", "Traceback", "miniz", "UserWarning")


def test_a_bad_model_file_is_said_in_our_words_on_one_line_with_no_library_warnings(tmp_path):
    # a trial: text given as --model read numpy's "If you trust the file you can load it unsafely
    # using the allow_pickle= keyword", a zip PyTorch's "report an enhancement request", and a
    # pickled dict printed torch's UserWarning lines before ours
    import warnings

    from trafficwatch.model.checkpoint import load_model

    says = {"text.npz": "not a model file (not the zip archive", "random.npz": "not a model file",
            "objects.npz": "refused: it holds pickled objects", "cut.npz": "truncated or corrupt",
            "text.pt": "not a model checkpoint", "junk.pt": "a zip archive torch did not write",
            "dict.pt": "not a model checkpoint (a pickle of plain values",
            "noise.pt": "not a model checkpoint (bytes that do not read as "
            "a pickle", "models": "a directory, not a model file; give the file",
            "folder.npz": "a directory, not a model file"}
    for name, path in _bad_models(tmp_path).items():
        with warnings.catch_warnings(record=True) as seen, pytest.raises(CheckpointError) as got:
            warnings.simplefilter("always")
            load_model(path)
        msg = str(got.value)
        assert msg.startswith(f"{path}: {says[name]}") or says[name] in msg, (name, msg)
        assert "\n" not in msg and not any(w in msg for w in LIBRARY_WORDS), (name, msg)
        assert not seen, (name, [str(w.message) for w in seen])


@pytest.mark.parametrize("command", ["watch", "forecast", "eval"])
def test_the_app_refuses_a_bad_model_as_forecast_and_eval_do(tmp_path, capsys, command):
    # a trial: the app took a missing or corrupt --model, ran on seasonal naive and exited 0,
    # its reason one line in the Now pane, where forecast and eval exit 2
    from trafficwatch.cli.main import main
    from trafficwatch.resources import sample_logs_dir

    bad = _bad_models(tmp_path)
    for path in [bad["junk.pt"], bad["text.npz"], tmp_path / "missing.pt", bad["models"]]:
        # said before any log is read: the logs of two sites said "2 sites summed" first
        assert main([command, str(sample_logs_dir()), "--model", str(path)]) == 2, path
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"trafficwatch: {path}: "), err
