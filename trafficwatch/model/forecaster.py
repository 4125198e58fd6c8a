"""The facade the app and CLI use: load a model, forecast a series, look at its gates, fine-tune."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from trafficwatch.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from trafficwatch.model.features import check_series, epoch_hours, last_window, make_windows
from trafficwatch.model.lstm import LSTMInternals, QuantileLSTM
from trafficwatch.model.train import FINE_TUNE, Progress, TrainConfig, fine_tune, limit_threads

MIN_OBSERVED = 24  # hours of observed history below which the caller should use seasonal naive
SATURATED = (0.1, 0.9)  # a gate unit below 0.1 or above 0.9 is "saturated" (closed or open)
CALIBRATION_DAYS = 7  # past daily origins used to widen/narrow the band (conformal, per series)


@dataclass(frozen=True)
class Forecast:
    """Quantile forecast for the hours after a series: p10 <= p50 <= p90 (counts per hour)."""

    index: pd.DatetimeIndex
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model: str

    def to_frame(self) -> pd.DataFrame:
        """DataFrame indexed by hour with p10, p50, p90 columns."""
        return pd.DataFrame({"p10": self.p10, "p50": self.p50, "p90": self.p90}, index=self.index)


@dataclass(frozen=True)
class GateStats:
    """What the LSTM's gates did over the latest input window (T steps, U units)."""

    index: pd.DatetimeIndex  # (T,) the input hours
    observed: np.ndarray  # (T,) bool: False for gaps and left padding
    forget_mean: np.ndarray  # (T,) mean forget gate over units
    input_mean: np.ndarray  # (T,)
    output_mean: np.ndarray  # (T,)
    saturated: dict[str, np.ndarray]  # gate -> (T,) share of units < 0.1 or > 0.9
    cell_norm: np.ndarray  # (T,) L2 norm of the cell state
    matrices: dict[str, np.ndarray]  # forget/input/output/candidate/cell/hidden -> (T, U)
    forget_drops: list[int] = field(default_factory=list)  # steps where the forget gate fell


class Forecaster:
    """A loaded LSTM with what the app needs; refuses series it cannot use, saying why."""

    def __init__(self, model: QuantileLSTM, name: str = "lstm",
                 checkpoint: Checkpoint | None = None, calibrate: bool = True):
        self.model = model.cpu().eval()
        self.cfg = model.cfg
        self.name = name
        self.checkpoint = checkpoint
        self.calibrate = calibrate  # conformal band adjustment from the series' own recent days

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Forecaster:
        """Load a checkpoint; None = the shipped default model. Raises CheckpointError."""
        if path is None:
            from trafficwatch.resources import default_model_path

            path = default_model_path()
        ck = load_checkpoint(path)
        return cls(ck.model, name=f"lstm:{Path(path).stem}", checkpoint=ck)

    def save(self, path: str | os.PathLike, data: dict | None = None,
             metrics: dict | None = None) -> Path:
        """Write this model as a checkpoint (atomic)."""
        return save_checkpoint(path, self.model, data=data, metrics=metrics)

    def check(self, series: pd.Series) -> pd.Series:
        """The series as float if it can be forecast; ValueError saying why not otherwise."""
        if series is None or len(series) == 0:
            raise ValueError("empty series: no hour to forecast from")
        s = check_series(series)
        seen = int(np.isfinite(s.to_numpy()[-self.cfg.window:]).sum())
        if seen == 0:
            raise ValueError(f"no observed hour in the last {min(len(s), self.cfg.window)} hours "
                             "(all gaps): nothing to forecast from")
        if seen < MIN_OBSERVED:
            raise ValueError(f"needs at least {MIN_OBSERVED} observed hours, the series has "
                             f"{seen}: "
                             f"{MIN_OBSERVED - seen} hours missing")
        return s

    def _prepare(self, series: pd.Series, horizon: int) -> tuple[torch.Tensor, np.ndarray,
                                                                  np.ndarray, int, float]:
        if not 1 <= horizon <= self.cfg.horizon:
            raise ValueError(f"horizon {horizon} h: this model forecasts "
                             f"1..{self.cfg.horizon} hours")
        s = self.check(series)
        x, loc, scale, end = last_window(s, self.cfg.window)
        return torch.from_numpy(x), loc, scale, end, self._band_adjustment(s)

    def _band_adjustment(self, s: pd.Series) -> float:
        """Conformalised quantile regression on the last days: how much (log1p units) to widen
        p10/p90 so that the past CALIBRATION_DAYS day-ahead forecasts would have held ~80%."""
        n, day = len(s), min(24, self.cfg.horizon)
        origins = np.array([n - day * k for k in range(1, CALIBRATION_DAYS + 1)])
        origins = origins[origins >= 2 * day]
        if not self.calibrate or len(origins) < 3:
            return 0.0
        v = s.to_numpy()
        w = make_windows(v, int(epoch_hours(s.index[:1])[0]), self.cfg.window, self.cfg.horizon,
                         origins=origins, min_observed=day, min_target=day // 2)
        if len(w.x) < 3:
            return 0.0
        zq = self.model.predict(torch.from_numpy(w.x)).numpy()[:, :day]  # (N, 24, Q)
        lq = zq * w.scale[:, None, None] + w.loc[:, None, None]  # log1p units
        actual = np.stack([v[o:o + day] for o in w.origin])  # (N, 24)
        y = np.log1p(np.clip(actual, 0, None))
        ok = np.isfinite(y)
        err = np.maximum(lq[..., 0] - y, y - lq[..., -1])[ok]
        if len(err) < 48:
            return 0.0
        level = min(1.0, 0.8 * (1 + 1 / len(err)))
        return float(np.quantile(err, level))

    def _forecast(self, zq: torch.Tensor, loc: np.ndarray, scale: np.ndarray, end: int,
                  horizon: int, widen: float = 0.0) -> Forecast:
        lq = zq.numpy().astype(np.float64)[0, :horizon] * scale[0] + loc[0]  # (H, Q) log1p units
        mid = self.cfg.quantiles.index(0.5)
        lq[:, :mid] = np.minimum(lq[:, :mid] - widen, lq[:, mid:mid + 1])
        lq[:, mid + 1:] = np.maximum(lq[:, mid + 1:] + widen, lq[:, mid:mid + 1])
        q = np.clip(np.expm1(np.clip(lq, None, 30.0)), 0.0, None)  # (H, Q) counts
        qs = self.cfg.quantiles
        idx = pd.date_range(pd.Timestamp(end * 3600, unit="s", tz="UTC"), periods=horizon, freq="h")
        return Forecast(idx, q[:, qs.index(0.1)] if 0.1 in qs else q[:, 0], q[:, qs.index(0.5)],
                        q[:, qs.index(0.9)] if 0.9 in qs else q[:, -1], self.name)

    def forecast(self, series: pd.Series, horizon: int = 24) -> Forecast:
        """p10/p50/p90 for each of the `horizon` hours after the series' last hour."""
        with limit_threads(1):  # one small window: threads only add synchronisation
            x, loc, scale, end, widen = self._prepare(series, horizon)
            zq = self.model.predict(x)
        return self._forecast(zq, loc, scale, end, horizon, widen)

    def forecast_with_gates(self, series: pd.Series,
                            horizon: int = 24) -> tuple[Forecast, GateStats]:
        """Forecast and gate statistics from one explicit pass over the latest window."""
        with limit_threads(1):
            x, loc, scale, end, widen = self._prepare(series, horizon)
            zq, inner = self.model.internals(x)
        mask = x[0, :, 1].numpy() > 0.5
        idx = pd.date_range(pd.Timestamp((end - self.cfg.window) * 3600, unit="s", tz="UTC"),
                            periods=self.cfg.window, freq="h")
        return self._forecast(zq, loc, scale, end, horizon, widen), gate_stats(inner, idx, mask)

    def gates(self, series: pd.Series) -> GateStats:
        """Gate statistics over the latest input window (the one the next forecast reads)."""
        return self.forecast_with_gates(series, 1)[1]

    def as_function(self) -> Callable[[pd.Series, int], np.ndarray]:
        """(history, horizon) -> (H, 3) p10/p50/p90, the shape the backtest expects."""
        def run(history: pd.Series, horizon: int) -> np.ndarray:
            """p10/p50/p90 as one (H, 3) array."""
            f = self.forecast(history, horizon)
            return np.stack([f.p10, f.p50, f.p90], axis=-1)
        return run

    def fine_tune(self, series: pd.Series, tcfg: TrainConfig = FINE_TUNE,
                  on_progress: Callable[[Progress], None] | None = None) -> Forecaster:
        """A new Forecaster fine-tuned on one site's series; this one is left as it was."""
        s = self.check(series)
        model, result = fine_tune(self.model, s, tcfg, on_progress)
        out = Forecaster(model, name=f"{self.name}+fine-tuned", calibrate=self.calibrate)
        out.train_result = result  # type: ignore[attr-defined]
        return out


def gate_stats(inner: LSTMInternals, index: pd.DatetimeIndex, observed: np.ndarray) -> GateStats:
    """Summaries of one window's internals (batch of one) for the gate pane."""
    mats = {name: getattr(inner, attr)[0].numpy() for name, attr in (
        ("forget", "forget_gate"), ("input", "input_gate"), ("output", "output_gate"),
        ("candidate", "candidate"), ("cell", "cell"), ("hidden", "hidden"))}  # each (T, U)
    lo, hi = SATURATED
    sat = {g: ((mats[g] < lo) | (mats[g] > hi)).mean(axis=1) for g in ("forget", "input", "output")}
    f = mats["forget"].mean(axis=1)
    return GateStats(index, observed, f, mats["input"].mean(axis=1), mats["output"].mean(axis=1),
                     sat, np.linalg.norm(mats["cell"], axis=1), mats, forget_drops(f))


def forget_drops(forget_mean: np.ndarray, min_drop: float = 0.01, factor: float = 4.0) -> list[int]:
    """Steps where the mean forget gate fell by more than `factor` x its typical step change.

    The mean over units moves little (the default model: median step 0.004); its largest falls
    (about 0.02) line up with sudden traffic rises, e.g. x1.7-3.4 within an hour on World Cup 98.
    """
    d = np.diff(forget_mean)
    if not len(d):
        return []
    typical = float(np.median(np.abs(d)))
    threshold = max(min_drop, factor * typical)
    return [int(t) + 1 for t in np.flatnonzero(d < -threshold)]
