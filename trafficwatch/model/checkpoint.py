"""Checkpoints: weights + the config that rebuilds the model + metadata, saved atomically.

Loading a `.pt` always uses `torch.load(f, weights_only=True, map_location="cpu")`: a checkpoint is
data, never code. A file that is truncated, of another format version, built for another
architecture or carrying a pickled code payload raises CheckpointError naming the file and what to
do.

Beside every `NAME.pt` goes `NAME.npz` (`np.savez`: the same weights as plain arrays, the config
and metadata as one JSON string, read with `allow_pickle=False`), so forecasting needs numpy and
not torch (numpy_lstm.py). The `.npz` records the SHA-256 of the `.pt` it was made from; one that
is missing, unreadable or made from other bytes is ignored and the `.pt` is loaded with torch
(`python -m trafficwatch.model.export NAME.pt` writes it again). Torch is imported only to read or
write a `.pt`.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from trafficwatch.files import atomic_write
from trafficwatch.model.config import LSTMConfig
from trafficwatch.model.numpy_lstm import NumpyLSTM
from trafficwatch.model.seen import SEEN_KEY, decode

if TYPE_CHECKING:
    from trafficwatch.model.lstm import QuantileLSTM

FORMAT = "trafficwatch-lstm"
VERSION = 2  # 2: the head mixes seasonal bases (features.py), horizon up to 168 h; a config
# without base_gate (the per-hour gate on the bases) reads as base_gate 0
_FIX = "retrain it with `trafficwatch train PATH... --out FILE` or use the shipped default model"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely or does not fit this version."""


@dataclass
class Checkpoint:
    """A loaded model with the metadata stored beside it."""

    model: QuantileLSTM | NumpyLSTM  # NumpyLSTM when read from a `.npz`
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


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Never a half file; a model file is no secret (0644)."""
    atomic_write(path, write, mode=0o644)


def _check_format(raw: object, path: Path, what: str, fmt: str) -> None:
    """A trafficwatch model's header of this VERSION, or CheckpointError saying what it is."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a trafficwatch {what}; {_FIX}")
    if raw.get("version") != VERSION:
        raise CheckpointError(f"{path}: {fmt} version {raw.get('version')!r}, this "
                              f"trafficwatch reads version {VERSION}; {_FIX}")


def npz_path(path: str | os.PathLike) -> Path:
    """Where the torch-free copy of a checkpoint goes: NAME.npz beside NAME.pt."""
    return Path(path).with_suffix(".npz")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _meta(cfg: LSTMConfig, data: dict | None, metrics: dict | None) -> dict:
    return {"format": FORMAT, "version": VERSION, "config": cfg.to_dict(),
            "scaling": scaling_info(), "data": dict(data or {}), "metrics": dict(metrics or {})}


SEEN_ARRAY = "__seen__"  # the .npz's array of the days trained on (seen.SEEN_KEY): as a str
# in the metadata, numpy's 4 bytes a character made a 0.6 MB model file 4 MB


def write_npz(path: str | os.PathLike, weights: Mapping[str, np.ndarray], meta: dict) -> Path:
    """Weights as plain arrays + `meta` as one JSON string (`__meta__`), written atomically;
    the days trained on, if kept, as an array of their own."""
    path = Path(path)
    arrays = {k: np.asarray(v) for k, v in weights.items()}
    data = dict(meta.get("data") or {})
    if SEEN_KEY in data:
        arrays[SEEN_ARRAY] = decode(data.pop(SEEN_KEY))
        meta = meta | {"data": data}
    arrays["__meta__"] = np.array([json.dumps(meta)])  # a str array: loads without pickle
    _atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


def save_checkpoint(path: str | os.PathLike, model: QuantileLSTM, data: dict | None = None,
                    metrics: dict | None = None) -> Path:
    """Write NAME.pt then NAME.npz, each atomically (a path ending .npz writes only the .npz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = _meta(model.cfg, data, metrics)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    weights = {k: v.numpy() for k, v in state.items()}
    if path.suffix.lower() == ".npz":
        return write_npz(path, weights, meta)
    import torch

    _atomic_write(path, lambda f: torch.save({**meta, "state_dict": state}, f))
    write_npz(npz_path(path), weights, meta | {"source_sha256": _sha256(path)})
    return path


def export_npz(path: str | os.PathLike) -> Path:
    """(Re)write NAME.npz from NAME.pt (read with torch); CheckpointError if the .pt is bad."""
    ck = load_checkpoint(path)
    weights = {k: v.detach().cpu().numpy() for k, v in ck.model.state_dict().items()}
    meta = _meta(ck.config, ck.data, ck.metrics) | {"scaling": ck.scaling,
                                                     "source_sha256": _sha256(Path(path))}
    return write_npz(npz_path(path), weights, meta)


def _magic(path: Path, what: str) -> bytes:
    """The first 6 bytes of `path`, a `what` ("model file"); CheckpointError when it is
    missing, empty or cannot be read."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such model file; {_FIX}") from exc
    except IsADirectoryError as exc:
        raise CheckpointError(f"{path}: a directory, not a {what}; give the file (NAME.pt or "
                              f"NAME.npz) in it") from exc
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__}); "
                              f"{_FIX}") from exc
    if not magic:
        raise CheckpointError(f"{path}: an empty file, not a {what}; {_FIX}")
    return magic


def _read_npz(path: Path) -> tuple[Checkpoint, dict]:
    # numpy's own errors speak of allow_pickle= and pickle.load(): advice for its users, not
    # ours (a text file given as --model read "If you trust the file you can load it unsafely")
    magic = _magic(path, "model file")
    if not magic.startswith(b"PK\x03\x04"):
        raise CheckpointError(f"{path}: not a model file (not the zip archive of arrays numpy "
                              f"writes); {_FIX}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such model file; {_FIX}") from exc
    except ValueError as exc:  # an array of Python objects in it: refused, never unpickled
        raise CheckpointError(f"{path}: refused: it holds pickled objects, not only arrays; do "
                              f"not load files you do not trust; {_FIX}") from exc
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: not a readable model file (a truncated or corrupt zip "
                              f"archive); {_FIX}") from exc
    try:
        meta = json.loads(str(arrays.pop("__meta__").reshape(-1)[0]))
    except (KeyError, IndexError, ValueError) as exc:
        raise CheckpointError(f"{path}: no readable metadata; {_FIX}") from exc
    seen = arrays.pop(SEEN_ARRAY, None)
    if isinstance(meta, dict) and isinstance(meta.get("data"), dict) and seen is not None \
            and seen.dtype == np.uint64 and seen.ndim == 1:
        meta["data"][SEEN_KEY] = seen  # as it is (seen.decode takes either): encoded, a
        # load took 16 ms where it had taken 2
    _check_format(meta, path, "model file", "model format")
    try:
        cfg = LSTMConfig.from_dict(meta["config"])
        model = NumpyLSTM(cfg, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: weights or config do not fit ({str(exc)[:300]}); "
                              f"{_FIX}") from exc
    ck = Checkpoint(model, cfg, dict(meta.get("scaling") or {}), dict(meta.get("data") or {}),
                    dict(meta.get("metrics") or {}), str(path))
    return ck, meta


def load_npz(path: str | os.PathLike) -> Checkpoint:
    """Load a `.npz` model without torch (`allow_pickle=False`); CheckpointError when bad."""
    return _read_npz(Path(path))[0]


def load_model(path: str | os.PathLike) -> Checkpoint:
    """The cheapest faithful load: NAME.npz when it was made from NAME.pt, else the .pt (torch)."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    if not path.is_file():  # said without importing torch
        _magic(path, "model file")  # a directory, unreadable: said as such
        raise CheckpointError(f"{path}: no such model file; {_FIX}")
    twin = npz_path(path)
    if twin.is_file():
        try:
            ck, meta = _read_npz(twin)
        except CheckpointError:  # a damaged copy: the .pt is the model
            ck, meta = None, {}
        if ck is not None and meta.get("source_sha256") == _sha256(path):
            return ck
    return load_checkpoint(path)


_CODE_OPS = {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD",
             "EXT1", "EXT2", "EXT4"}  # opcodes that name or run code (classes, functions)


def _pickle_kind(path: Path, limit: int = 64 << 20) -> str:
    """"code" for a well-formed pickle that names classes or functions, "data" for one of
    plain values only (a dict pickled by hand is no checkpoint, and held no code: a trial was
    told it did), "" for bytes that are no whole pickle. Its opcodes are read, never run
    (pickletools), up to `limit` bytes."""
    import io
    import pickletools

    code = False
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
        for op, _, _ in pickletools.genops(io.BytesIO(data)):
            code = code or op.name in _CODE_OPS
    except Exception:  # noqa: BLE001 (any failure to read opcodes: not a pickle)
        return ""
    return "code" if code else "data"


def _not_torch_pickle(path: Path, exc: BaseException | None) -> None:
    """CheckpointError for a whole pickle that is no checkpoint: of plain values, or naming
    code (a dict pickled at protocol 2 read "a truncated or corrupt pickle", at protocol 0
    "neither ... nor a pickle": a check). Nothing for bytes that are no pickle."""
    kind = _pickle_kind(path)
    if kind == "data":
        raise CheckpointError(f"{path}: not a model checkpoint (a pickle of plain values, "
                              f"not one torch saved); {_FIX}") from exc
    if kind == "code":
        raise CheckpointError(f"{path}: refused: the file holds more than weights (pickled "
                              f"code or objects); do not load files you do not trust; "
                              f"{_FIX}") from exc


def load_checkpoint(path: str | os.PathLike, expect: LSTMConfig | None = None) -> Checkpoint:
    """Load and validate; `expect` (optional) must match the stored window/horizon/architecture."""
    path = Path(path)
    magic = _magic(path, "model checkpoint")
    if not magic.startswith((b"PK\x03\x04", b"\x80")):  # torch's zip archive, or a pickle
        _not_torch_pickle(path, None)  # (an old protocol's pickle begins otherwise)
        raise CheckpointError(f"{path}: not a model checkpoint (neither the zip archive torch "
                              f"saves nor a pickle); {_FIX}")
    # torch only after the checks above: a CSV given as --model was refused after 2.4 s and
    # 725 MB of importing it
    import torch

    from trafficwatch.model.lstm import QuantileLSTM

    # torch's own words stay out: its errors ask to "report an enhancement request" or explain
    # weights_only=False, and its warnings (an old pickle protocol) came before our one line
    try:
        with open(path, "rb") as f, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = torch.load(f, weights_only=True, map_location="cpu")
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such model file; {_FIX}") from exc
    except pickle.UnpicklingError as exc:
        kind = _pickle_kind(path) if magic.startswith(b"\x80") else "code"
        if not kind:  # random bytes after a 0x80 were told they held "pickled code or
            # objects" (a trial): they hold nothing
            raise CheckpointError(f"{path}: not a model checkpoint (bytes that do not read as a "
                                  f"pickle: corrupt, or not a model); {_FIX}") from exc
        if kind == "data":
            raise CheckpointError(f"{path}: not a model checkpoint (a pickle of plain values, "
                                  f"not one torch saved); {_FIX}") from exc
        raise CheckpointError(f"{path}: refused: the file holds more than weights (pickled code or "
                              f"objects); do not load files you do not trust; {_FIX}") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        if magic.startswith(b"\x80"):  # a whole pickle torch did not write (protocol 2, 3)
            _not_torch_pickle(path, exc)
        what = "a zip archive torch did not write, truncated or corrupt" \
            if magic.startswith(b"PK") else "a truncated or corrupt pickle"
        raise CheckpointError(f"{path}: not a readable checkpoint ({what}); {_FIX}") from exc
    _check_format(raw, path, "model checkpoint", "checkpoint format")
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
