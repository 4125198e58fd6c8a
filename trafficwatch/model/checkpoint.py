"""Checkpoints: weights + the config that rebuilds the model + metadata, saved atomically.

Loading always uses `torch.load(f, weights_only=True, map_location="cpu")`: a checkpoint is data,
never code. A file that is truncated, of another format version, built for another architecture or
carrying a pickled code payload raises CheckpointError naming the file and what to do.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from trafficwatch.model.lstm import LSTMConfig, QuantileLSTM

FORMAT = "trafficwatch-lstm"
VERSION = 2  # 2: the head mixes seasonal bases (features.py), horizon up to 168 h
_FIX = "retrain it with `trafficwatch train PATH... --out FILE` or use the shipped default model"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely or does not fit this version."""


@dataclass
class Checkpoint:
    """A loaded model with the metadata stored beside it."""

    model: QuantileLSTM
    config: LSTMConfig
    scaling: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # what it was trained on: range, series, hours
    metrics: dict = field(default_factory=dict)
    path: str = ""


def scaling_info() -> dict:
    """How inputs are scaled (features.py), recorded so a reader knows what the weights expect."""
    from trafficwatch.model.features import BASE_NAMES, HISTORY, MIN_SCALE

    return {"transform": "log1p", "normalise": "per-window mean/std of observed hours",
            "min_scale": MIN_SCALE, "history_hours": HISTORY, "bases": list(BASE_NAMES),
            "features": ["z", "mask", "hod_sin", "hod_cos", "how_sin", "how_cos"]}


def save_checkpoint(path: str | os.PathLike, model: QuantileLSTM, data: dict | None = None,
                    metrics: dict | None = None) -> Path:
    """Write atomically: a temp file in the same folder, fsync, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT, "version": VERSION,
        "config": model.cfg.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "scaling": scaling_info(), "data": dict(data or {}), "metrics": dict(metrics or {}),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a model file is no secret (umask is not read:
        # os.umask would change it process-wide, racing other threads)
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, expect: LSTMConfig | None = None) -> Checkpoint:
    """Load and validate; `expect` (optional) must match the stored window/horizon/architecture."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = torch.load(f, weights_only=True, map_location="cpu")
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such model file; {_FIX}") from exc
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: refused: the file holds more than weights (pickled code or "
                              f"objects); do not load files you do not trust; {_FIX}") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt: {exc}); "
                              f"{_FIX}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a trafficwatch model checkpoint; {_FIX}")
    if raw.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {raw.get('version')!r}, this "
                              f"trafficwatch reads version {VERSION}; {_FIX}")
    try:
        cfg = LSTMConfig.from_dict(raw["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad model config ({exc}); {_FIX}") from exc
    if expect is not None and expect != cfg:
        diff = {k: (v, getattr(cfg, k)) for k, v in expect.to_dict().items()
                if cfg.to_dict()[k] != v}
        raise CheckpointError(f"{path}: model built for another architecture/window "
                              f"(expected vs stored: {diff}); {_FIX}")
    model = QuantileLSTM(cfg)
    try:
        model.load_state_dict(raw["state_dict"], strict=True)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored config "
                              f"(mismatched architecture/window: {str(exc)[:300]}); "
                              f"{_FIX}") from exc
    model.eval()
    return Checkpoint(model, cfg, dict(raw.get("scaling") or {}), dict(raw.get("data") or {}),
                      dict(raw.get("metrics") or {}), str(path))
