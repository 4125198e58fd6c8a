"""The LSTM's config and constants, free of torch: the numpy inference path reads them too."""
from __future__ import annotations

from dataclasses import asdict, dataclass

N_FEATURES = 7  # value, observed mask, sin/cos hour-of-day, sin/cos day-of-week, holiday
N_CAL = 3  # per future hour: holiday flags of the hour, of yesterday's and of last week's copy
N_BASES = 7  # seasonal bases of features.py (BASE_NAMES)
SHIFT_MAX = 2.0  # the LSTM may move the mixed bases by twice the best base's recent error at most


@dataclass(frozen=True)
class LSTMConfig:
    """Everything needed to rebuild the model; stored in every checkpoint."""

    window: int = 168  # one week of hours: the model sees each weekday and the weekly cycle once
    horizon: int = 168  # hours predicted in one shot: up to a week ahead, as the CLI offers
    hidden: int = 64  # units: enough for daily+weekly shapes, small enough for 2 CPU cores
    layers: int = 1  # one layer keeps the gate pane about the gates that make the forecast
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)  # p10-p90 is the 80% band shown in the app
    n_features: int = N_FEATURES  # see features.py: value, mask, hour and weekday on the circle,
    # holiday (6: written before the holiday flag, which such a model does not read)
    dropout: float = 0.0  # between layers only (nn.LSTM semantics); unused with one layer
    n_bases: int = N_BASES  # seasonal bases the head mixes (features.py)
    base_gate: int = 16  # units of the per-hour gate that reads the bases' own values at each
    # future hour (where yesterday and last week disagree, which to trust); 0: none (version 2)
    holidays: bool = True  # the per-hour gate also reads the hour's holiday flags (features.cal)
    # and moves the median and widens the band there; False: written before it

    def __post_init__(self) -> None:
        if not 1 <= self.horizon <= 168:
            raise ValueError(f"horizon must be 1..168 hours, got {self.horizon}")
        if self.window < 24:
            raise ValueError(f"window must be at least 24 hours, got {self.window}")
        qs = tuple(float(q) for q in self.quantiles)
        if list(qs) != sorted(qs) or not all(0.0 < q < 1.0 for q in qs) or 0.5 not in qs:
            raise ValueError(f"quantiles must be increasing in (0, 1) and include 0.5, got {qs}")
        object.__setattr__(self, "quantiles", qs)
        if self.holidays and not self.base_gate:
            raise ValueError("holidays need the per-hour gate (base_gate > 0)")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (tuples as lists) for checkpoints."""
        d = asdict(self)
        d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> LSTMConfig:
        """Inverse of to_dict; unknown keys are an error (a newer checkpoint format)."""
        d = dict(d)
        d["quantiles"] = tuple(d.get("quantiles", (0.1, 0.5, 0.9)))
        d.setdefault("base_gate", 0)  # written before the per-hour gate existed
        d.setdefault("holidays", False)  # written before the holiday flags
        return cls(**d)
