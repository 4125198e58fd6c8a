"""Training: windows from hourly series, validation on the most recent hours, early stopping.

Seeded and reproducible on CPU; `device="auto"` uses CUDA when available. Loss is the pinball
(quantile) loss on counts, each window divided by its MASE scale (see _loss), with missing
targets masked out.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from trafficwatch.model.features import Windows, check_series, concat, epoch_hours, make_windows
from trafficwatch.model.lstm import LSTMConfig, QuantileLSTM, pinball_loss


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; defaults suit training from scratch on a few months of hours."""

    epochs: int = 30  # upper bound; early stopping usually ends sooner
    batch_size: int = 128  # small batches: more updates per epoch on short site histories
    lr: float = 3e-3  # Adam; fine-tuning uses a third of it
    weight_decay: float = 1e-5
    val_hours: int = 336  # the last two weeks of each series judge the epochs (never trained on)
    val_stride: int = 6  # validation origins every 6 hours: cheap, still covers every hour of day
    patience: int = 4  # epochs without a better validation loss before stopping
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    max_windows: int | None = None  # windows drawn per epoch (None = all): bounds epoch time
    augment: float = 0.25  # share of windows with truncated history / a random gap
    trend: float = 0.2  # share of windows tilted by a steady trend (features.make_windows): the
    # corpus holds its level for months, sites and benchmark series grow and fade (models/README)
    stride: int = 1  # hours between training origins; >1 bounds memory on a large corpus
    max_per_series: int | None = None  # training windows drawn from one series at most (a
    # corpus of years-long and weeks-long series should not be learnt from the long ones only)
    clip: float = 1.0  # gradient norm clip
    min_lr_ratio: float = 0.05  # cosine decay of the learning rate to this share by the last epoch
    threads: int | None = 1  # CPU threads; the LSTM steps hour by hour, and with 2+ threads on a
    # busy machine every step waits for a descheduled thread (measured: 2.7 s vs 0.03 s a batch)


@dataclass
class Progress:
    """One progress report: where training is, its losses, and the estimated time left."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    best_val: float
    eta_s: float
    elapsed_s: float

    def line(self) -> str:
        """Human line for stderr or a status bar."""
        return (f"epoch {self.epoch}/{self.epochs}  train {self.train_loss:.4f}  "
                f"val {self.val_loss:.4f}  best {self.best_val:.4f}  "
                f"elapsed {self.elapsed_s:.1f}s  ETA {self.eta_s:.0f}s")


@dataclass
class TrainResult:
    """What a training run did: best validation loss, epochs run, time, and the data range."""

    best_val: float
    epochs_run: int
    seconds: float
    n_train: int
    n_val: int
    history: list[tuple[float, float]] = field(default_factory=list)
    initial_val: float = float("nan")  # validation loss before the first epoch
    data_start: str = ""
    data_end: str = ""


@contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Run torch CPU ops with at most `n` threads (None: as is), restoring the setting after."""
    before = torch.get_num_threads()
    if n is not None and n < before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def select_device(name: str = "auto") -> torch.device:
    """auto -> CUDA when available, else CPU; cuda without a GPU is an error, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device; use auto or cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def build_windows(series_list: Sequence[pd.Series], cfg: LSTMConfig, tcfg: TrainConfig,
                  rng: np.random.Generator) -> tuple[Windows, Windows]:
    """Training windows (targets before each series' last `val_hours`) and validation windows."""
    train, val = [], []
    for s in series_list:
        s = check_series(s)
        v = s.to_numpy()
        n = len(v)
        val_hours = min(tcfg.val_hours, max(n // 4, 24))
        cut = n - val_hours
        start = int(epoch_hours(s.index[:1])[0])
        if cut > 24:
            origins = np.arange(1, cut, tcfg.stride)
            if tcfg.max_per_series and len(origins) > tcfg.max_per_series:
                origins = np.sort(rng.choice(origins, tcfg.max_per_series, replace=False))
            train.append(make_windows(v[:cut], start, cfg.window, cfg.horizon, origins=origins,
                                      min_observed=min(24, cfg.window // 2), rng=rng,
                                      augment=tcfg.augment, trend=tcfg.trend))
        origins = np.arange(cut, n - min(24, cfg.horizon) + 1, tcfg.val_stride)
        if len(origins):
            val.append(make_windows(v, start, cfg.window, cfg.horizon, origins=origins,
                                    min_target=min(24, cfg.horizon)))
    if not train or sum(len(w.x) for w in train) == 0:
        raise ValueError("not enough observed hours to train on (need a few days of data)")
    tr = concat(train)
    va = concat(val) if val and sum(len(w.x) for w in val) else tr
    return tr, va


def _tensors(w: Windows, device: torch.device) -> tuple[torch.Tensor, ...]:
    """x, bases, bmask, skill, cal, loc, scale, cap, counts, mae_scale, y_mask on the device."""
    per_window = (w.loc, w.scale, w.cap)
    return tuple(torch.from_numpy(np.asarray(a, dtype=np.float32)).to(device) for a in
                 (w.x, *w.inputs(), *per_window, w.counts, w.mae_scale, w.y_mask))


NEAR_HOURS, FAR_WEIGHT = 48, 0.35  # the next two days weigh most: what a site's operator reads


def _loss(model: QuantileLSTM, data: tuple[torch.Tensor, ...], idx) -> torch.Tensor:
    """Pinball loss on counts, each window divided by its MASE scale: what the judges measure
    (MASE on the median, coverage of the band), not a proxy in log space that trades the peak
    hours for the quiet ones."""
    x, b, bm, sk, cal, loc, scale, cap, counts, mae, m = (t[idx] for t in data)
    H = counts.shape[1]
    w = torch.where(torch.arange(H, device=m.device) < NEAR_HOURS, 1.0, FAR_WEIGHT)  # (H,)
    zq = model(x, b, bm, sk, cal)  # (B, H, Q) output units
    lq = torch.minimum(zq * scale[:, None, None] + loc[:, None, None], cap[:, None, None])
    q = torch.expm1(lq) / mae[:, None, None]  # (B, H, Q) counts in MASE units
    return pinball_loss(q, counts / mae[:, None], model.cfg.quantiles, m * w)


def _evaluate(model: QuantileLSTM, data: tuple[torch.Tensor, ...], bs: int) -> float:
    model.eval()
    m = data[-1]
    total, weight = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, len(m), bs * 4):
            sl = slice(i, i + bs * 4)
            w = float(m[sl].sum())
            total += float(_loss(model, data, sl)) * w
            weight += w
    return total / max(weight, 1.0)


class Adam:
    """torch.optim.Adam's step as it runs on the CPU (one tensor at a time, L2 weight decay
    added to the gradient), written out: building torch's optimizer imports torch._dynamo,
    1.5 of every `train` and fine-tune's first seconds. The same operations in the same order:
    a model trains to the same bits (tests/test_train.py)."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.steps = [0] * len(self.params)  # each tensor's own, as torch counts them
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format)
                        for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format)
                           for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = p.grad
            self.steps[i] += 1
            if self.weight_decay != 0:
                grad = grad.add(p, alpha=self.weight_decay)
            exp_avg, exp_avg_sq = self.exp_avg[i], self.exp_avg_sq[i]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = float(self.steps[i])
            bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-(self.lr / (1 - beta1 ** step)))


class CosineLR:
    """torch.optim.lr_scheduler.CosineAnnealingLR's steps (its recursive form) on an Adam."""

    def __init__(self, opt: Adam, t_max: int, eta_min: float) -> None:
        self.opt, self.t_max, self.eta_min = opt, t_max, eta_min
        self.base, self.epoch = opt.lr, 0

    def step(self) -> None:
        self.epoch += 1
        e, t, lo, lr = self.epoch, self.t_max, self.eta_min, self.opt.lr
        if (e - 1 - t) % (2 * t) == 0:
            self.opt.lr = lr + (self.base - lo) * (1 - math.cos(math.pi / t)) / 2
        else:
            self.opt.lr = ((1 + math.cos(math.pi * e / t))
                           / (1 + math.cos(math.pi * (e - 1) / t)) * (lr - lo) + lo)


def fit(model: QuantileLSTM, train: Windows, val: Windows, tcfg: TrainConfig,
        on_progress: Callable[[Progress], None] | None = None) -> TrainResult:
    """Train in place with Adam and early stopping; the best validation weights are kept."""
    with limit_threads(tcfg.threads):
        return _fit(model, train, val, tcfg, on_progress)


def _fit(model: QuantileLSTM, train: Windows, val: Windows, tcfg: TrainConfig,
         on_progress: Callable[[Progress], None] | None) -> TrainResult:
    torch.manual_seed(tcfg.seed)
    device = select_device(tcfg.device)
    model.to(device)
    tr, va = _tensors(train, device), _tensors(val, device)
    gen = torch.Generator().manual_seed(tcfg.seed)
    opt = Adam(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    sched = CosineLR(opt, max(tcfg.epochs, 1), tcfg.lr * tcfg.min_lr_ratio)
    best = initial = _evaluate(model, va, tcfg.batch_size)
    best_state = copy.deepcopy(model.state_dict())
    history: list[tuple[float, float]] = []
    stale, started = 0, time.perf_counter()
    n = len(tr[0])
    per_epoch = min(n, tcfg.max_windows or n)
    epoch = 0
    for epoch in range(1, tcfg.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)[:per_epoch].to(device)
        total = 0.0
        for i in range(0, per_epoch, tcfg.batch_size):
            idx = order[i:i + tcfg.batch_size]
            loss = _loss(model, tr, idx)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.clip)
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        train_loss = total / per_epoch
        val_loss = _evaluate(model, va, tcfg.batch_size)
        history.append((train_loss, val_loss))
        if val_loss < best - 1e-5:
            best, stale = val_loss, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        elapsed = time.perf_counter() - started
        if on_progress is not None:
            left = tcfg.epochs - epoch if stale < tcfg.patience else 0
            on_progress(Progress(epoch, tcfg.epochs, train_loss, val_loss, best,
                                 elapsed / epoch * left, elapsed))
        if stale >= tcfg.patience or not math.isfinite(train_loss):
            break
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    return TrainResult(best, epoch, time.perf_counter() - started, len(train.x), len(val.x),
                       history, initial_val=initial)


def train_model(series_list: Sequence[pd.Series], cfg: LSTMConfig | None = None,
                tcfg: TrainConfig | None = None, init: QuantileLSTM | None = None,
                on_progress: Callable[[Progress], None] | None = None
                ) -> tuple[QuantileLSTM, TrainResult]:
    """Train a new model (or a copy of `init`) on one or many hourly series."""
    tcfg = tcfg or TrainConfig()
    if init is not None:
        cfg = init.cfg
    cfg = cfg or LSTMConfig()
    torch.manual_seed(tcfg.seed)
    model = copy.deepcopy(init) if init is not None else QuantileLSTM(cfg)
    model.cpu()
    train, val = build_windows(series_list, cfg, tcfg, np.random.default_rng(tcfg.seed))
    result = fit(model, train, val, tcfg, on_progress)
    starts = [s.index[0] for s in series_list if len(s)]
    ends = [s.index[-1] for s in series_list if len(s)]
    result.data_start = min(starts).isoformat() if starts else ""
    result.data_end = max(ends).isoformat() if ends else ""
    return model, result


FINE_TUNE = TrainConfig(epochs=8, lr=1e-3, patience=2, val_hours=168, augment=0.1, batch_size=64,
                        trend=0.0)  # a site's own windows, as they are


def fine_tune(model: QuantileLSTM, series: pd.Series, tcfg: TrainConfig = FINE_TUNE,
              on_progress: Callable[[Progress], None] | None = None
              ) -> tuple[QuantileLSTM, TrainResult]:
    """A fine-tuned copy of `model` on one site's series; the original is left untouched."""
    return train_model([series], tcfg=tcfg, init=model, on_progress=on_progress)
