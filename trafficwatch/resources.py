"""Find the bundled `models/` and `sample_logs/` from a checkout or an installed wheel."""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # Installed wheel: hatch force-includes the folders under trafficwatch/_data/.
    installed = _PKG / "_data" / name
    if installed.is_dir():
        return installed
    # Checkout (editable install or running from the repo root).
    return _PKG.parent / name


def models_dir() -> Path:
    """Folder holding the shipped model weights (`default.pt`) and their card."""
    return _find("models")


def sample_logs_dir() -> Path:
    """Folder holding the bundled demo logs that plain `trafficwatch` opens."""
    return _find("sample_logs")


def default_model_path() -> Path:
    return models_dir() / "default.pt"
