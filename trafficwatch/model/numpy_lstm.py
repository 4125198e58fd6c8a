"""QuantileLSTM inference in numpy: the same gate equations as `QuantileLSTM.internals`, no torch.

The app forecasts with the shipped 27k-parameter model many times a minute; `import torch` alone
costs about 500 MB resident and 2 s. This module runs the forward pass from the same weights
(`state_dict` arrays, read from the `.npz` beside a checkpoint); the step loop in float32 as
nn.LSTM runs it, the head in float64:

    z_t = x_t W_ih^T + b_ih + b_hh + h_{t-1} W_hh^T      rows ordered i, f, g, o (nn.LSTM)
    i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)

and the head of lstm.py (`_quantiles`): softmax mix of the seasonal bases, bounded shift,
softplus spacings. Torch is imported only by `torch_model()`, for fine-tuning.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from trafficwatch.model.config import N_CAL, SHIFT_MAX, LSTMConfig

if TYPE_CHECKING:
    from trafficwatch.model.lstm import QuantileLSTM


@dataclass
class Internals:
    """Gate activations for one window, each (B, T, U): the numpy twin of lstm.LSTMInternals."""

    input_gate: np.ndarray  # i_t = σ(W_i x_t + U_i h_{t-1} + b_i)
    forget_gate: np.ndarray  # f_t: how much of c_{t-1} is kept
    output_gate: np.ndarray  # o_t: how much of tanh(c_t) becomes h_t
    candidate: np.ndarray  # g_t = tanh(...): the new content proposed
    cell: np.ndarray  # c_t = f_t * c_{t-1} + i_t * g_t
    hidden: np.ndarray  # h_t = o_t * tanh(c_t)
    layer: int = field(default=-1)
    mix: np.ndarray | None = None  # (B, H, K) weight of each seasonal base in the median


def weight_shapes(cfg: LSTMConfig) -> dict[str, tuple[int, ...]]:
    """The state_dict names and shapes of QuantileLSTM(cfg), as nn.LSTM and nn.Linear name them."""
    U, K, nq = cfg.hidden, cfg.n_bases, len(cfg.quantiles)
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(cfg.layers):
        shapes[f"lstm.weight_ih_l{k}"] = (4 * U, cfg.n_features if k == 0 else U)
        shapes[f"lstm.weight_hh_l{k}"] = (4 * U, U)
        shapes[f"lstm.bias_ih_l{k}"] = (4 * U,)
        shapes[f"lstm.bias_hh_l{k}"] = (4 * U,)
    shapes["head.weight"] = (cfg.horizon * (K + nq), U + K + 1)
    shapes["head.bias"] = (cfg.horizon * (K + nq),)
    if cfg.base_gate:
        G = cfg.base_gate
        C, out = (N_CAL, K + 2) if cfg.holidays else (0, K)
        shapes.update({"base_gate.0.weight": (G, 2 * K + C), "base_gate.0.bias": (G,),
                       "base_gate.2.weight": (out, G), "base_gate.2.bias": (out,)})
    return shapes


class NumpyLSTM:
    """QuantileLSTM's forward pass and gates from its weights, in numpy."""

    def __init__(self, cfg: LSTMConfig, weights: Mapping[str, np.ndarray]) -> None:
        shapes = weight_shapes(cfg)
        if set(weights) != set(shapes):
            raise ValueError(f"weights {sorted(weights)} do not fit the config "
                             f"(expected {sorted(shapes)})")
        bad = {k: tuple(np.shape(weights[k])) for k, s in shapes.items()
               if tuple(np.shape(weights[k])) != s}
        if bad:
            raise ValueError(f"weight shapes {bad} do not fit the config (expected "
                             f"{ {k: shapes[k] for k in bad} })")
        self.cfg = cfg
        self.mid = cfg.quantiles.index(0.5)
        self.weights = {k: np.array(v, dtype=np.float32) for k, v in weights.items()}  # as stored
        w = {k: v.astype(np.float64) for k, v in self.weights.items()}
        if not all(np.isfinite(v).all() for v in w.values()):
            raise ValueError("weights hold NaN or infinite values")
        # σ(z) = (1 + tanh(z / 2)) / 2: the i, f, o rows are halved here (exact: a power of two)
        # so one tanh per step serves all four gates (no exp to overflow either); torch's gate
        # order i, f, g, o becomes i, f, o, g, so the three σ gates are one slice
        U = cfg.hidden
        order = np.r_[0:2 * U, 3 * U:4 * U, 2 * U:3 * U]
        half = np.where(np.arange(4 * U) < 3 * U, 0.5, 1.0)
        # one matrix a layer, for z_t = [h_{t-1}, x_t, 1]: one product a step gives every gate's
        # pre-activation (rows: W_hh^T, W_ih^T, the summed biases; columns i, f, o, g)
        self._layers = [np.concatenate([w[f"lstm.weight_hh_l{k}"].T[:, order],
                                        w[f"lstm.weight_ih_l{k}"].T[:, order],
                                        (w[f"lstm.bias_ih_l{k}"] + w[f"lstm.bias_hh_l{k}"])[None, order]])
                        * half for k in range(cfg.layers)]  # (U + F_in + 1, 4U)
        # the step loop runs in float32, as nn.LSTM does: numpy's float64 tanh costs 4x its
        # float32 one, and the loop is most of a forecast's time (the head stays float64)
        self._layers32 = [w.astype(np.float32) for w in self._layers]
        self._head = (w["head.weight"].T.copy(), w["head.bias"])  # (U + K + 1, H (K + Q)), (.,)
        self._gate = ((w["base_gate.0.weight"].T.copy(), w["base_gate.0.bias"],
                       w["base_gate.2.weight"].T.copy(), w["base_gate.2.bias"])
                      if cfg.base_gate else None)  # (2K [+ C], G), (G,), (G, K [+ 2]), (.,)

    @classmethod
    def from_torch(cls, model: QuantileLSTM) -> NumpyLSTM:
        """The same model, from a torch QuantileLSTM's state_dict."""
        return cls(model.cfg, {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})

    def torch_model(self) -> QuantileLSTM:
        """A torch QuantileLSTM with these weights (imports torch: for fine-tuning)."""
        import torch

        from trafficwatch.model.lstm import QuantileLSTM

        model = QuantileLSTM(self.cfg)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self.weights.items()},
                              strict=True)
        return model.eval()

    def _layer(self, k: int, inp: np.ndarray, rows: slice | None
               ) -> tuple[np.ndarray, dict | None]:
        """Run layer k over (B, T, F_in) -> (B, T, U) hidden states, and the gates of `rows`
        (None: no gates).

        The step loop does only what the next step needs, in place: numpy's cost per call, not
        the arithmetic, is what a forecast with gates (15 windows x 168 steps) spends. The gates
        of the rows asked for then come from the kept hidden and cell states in one pass."""
        w = self._layers32[k]  # (U + F + 1, 4U)
        B, T, F = inp.shape
        U = self.cfg.hidden
        f32 = np.float32
        z = np.empty((T + 1, B, U + F + 1), dtype=f32)
        z[0, :, :U] = 0.0  # h_0
        z[:T, :, U:U + F] = inp.transpose(1, 0, 2)
        z[:T, :, -1] = 1.0
        c = np.zeros((T + 1, B, U), dtype=f32)  # c[t + 1] = c_t, c[0] = 0
        ig, tc = np.empty((B, U), dtype=f32), np.empty((B, U), dtype=f32)
        for t in range(T):
            a = z[t] @ w  # (B, 4U), gate order i, f, o, g, the σ rows halved
            np.tanh(a, out=a)
            sig = a[:, :3 * U]
            sig *= 0.5
            sig += 0.5  # i, f, o = σ(.), g = tanh(.)
            np.multiply(a[:, U:2 * U], c[t], out=c[t + 1])  # keep some old state: f * c
            np.multiply(a[:, :U], a[:, 3 * U:], out=ig)  # add some new: i * g
            c[t + 1] += ig
            np.tanh(c[t + 1], out=tc)
            np.multiply(a[:, 2 * U:3 * U], tc, out=z[t + 1, :, :U])  # expose part: o * tanh(c)
        hs = z[1:, :, :U].transpose(1, 0, 2).astype(np.float64)  # (B, T, U)
        if rows is None:
            return hs, None
        zr = z[:T, rows]  # (T, R, U + F + 1)
        a = np.tanh(zr.reshape(-1, zr.shape[-1]) @ w).reshape(T, -1, 4 * U)  # every step again
        a[..., :3 * U] = a[..., :3 * U] * 0.5 + 0.5
        a = a.astype(np.float64)
        gates = {n: a[..., j * U:(j + 1) * U].transpose(1, 0, 2) for j, n in enumerate("ifog")}
        gates["c"] = c[1:, rows].transpose(1, 0, 2).astype(np.float64)
        return hs, gates

    def _quantiles(self, h_last: np.ndarray, bases: np.ndarray, bmask: np.ndarray,
                   skill: np.ndarray, cal: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(B, U) hidden, (B, H, K) bases + mask, (B, K+1) skill, (B, H, N_CAL) holiday flags ->
        (B, H, Q) quantiles, (B, H, K) mixture weights: lstm.QuantileLSTM._quantiles step for
        step. H may be fewer hours than the model's horizon: the first H of them."""
        B, H, K = bases.shape
        if not 1 <= H <= self.cfg.horizon or K != self.cfg.n_bases:
            raise ValueError(f"bases for {H} h x {K}, the model takes 1..{self.cfg.horizon} h x "
                             f"{self.cfg.n_bases}")
        w, b = self._head
        cols = H * (K + len(self.cfg.quantiles))  # the first H hours' outputs: a forecast of
        # 24 h needs no more of the head (each hour's outputs are its own columns)
        raw = (np.concatenate([h_last, skill], axis=-1) @ w[:, :cols] + b[:cols]
               ).reshape(B, H, -1)  # (B, H, K+Q)
        logits = raw[..., :K]  # (B, H, K) from the window's summary
        rest = raw[..., K:]  # (B, H, Q): the median's slot is its shift, the others are spacings
        if self._gate is not None:  # plus what this hour's bases say
            w1, b1, w2, b2 = self._gate
            parts = [bases, bmask]
            if self.cfg.holidays:  # and the hour's holiday flags
                parts.append(np.zeros((B, H, N_CAL)) if cal is None else cal)
            g = np.tanh(np.concatenate(parts, axis=-1) @ w1 + b1) @ w2 + b2  # (B, H, K [+ 2])
            logits = logits + g[..., :K]
            if self.cfg.holidays:  # the hour's own shift (median slot) and band width (others)
                is_mid = np.arange(rest.shape[-1]) == self.mid
                rest = rest + np.where(is_mid, g[..., K:K + 1], g[..., K + 1:K + 2])
        logits = np.where(bmask < 0.5, -1e4, logits)  # a missing base gets no weight
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        mix = e / e.sum(axis=-1, keepdims=True)  # (B, H, K) softmax
        center = (mix * bases).sum(-1) + SHIFT_MAX * np.tanh(rest[..., self.mid])  # (B, H)
        gaps = np.logaddexp(0.0, np.minimum(rest, 6.0))  # softplus: non-negative spacings
        below = np.cumsum(gaps[..., :self.mid][..., ::-1], axis=-1)[..., ::-1]
        above = np.cumsum(gaps[..., self.mid + 1:], axis=-1)
        c = center[..., None]  # (B, H, 1)
        return np.concatenate([c - below, c, c + above], axis=-1), mix  # increasing along Q

    @staticmethod
    def _as64(*arrays: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(a, dtype=np.float64) for a in arrays]

    def _args(self, x, bases, bmask, skill, cal) -> tuple[np.ndarray | None, ...]:
        x = np.asarray(x)[..., :self.cfg.n_features]  # an older model reads fewer features
        return (*self._as64(x, bases, bmask, skill),
                None if cal is None else np.asarray(cal, dtype=np.float64))

    def predict(self, x: np.ndarray, bases: np.ndarray, bmask: np.ndarray,
                skill: np.ndarray, cal: np.ndarray | None = None) -> np.ndarray:
        """x (B, T, F) scaled window, bases/bmask (B, H, K), skill (B, K+1), cal (B, H, N_CAL)
        -> (B, H, Q)."""
        inp, bases, bmask, skill, cal = self._args(x, bases, bmask, skill, cal)
        for k in range(self.cfg.layers):
            inp = self._layer(k, inp, None)[0]
        return self._quantiles(inp[:, -1], bases, bmask, skill, cal)[0]

    def internals(self, x: np.ndarray, bases: np.ndarray, bmask: np.ndarray, skill: np.ndarray,
                  cal: np.ndarray | None = None, layer: int = -1, rows: slice = slice(None)
                  ) -> tuple[np.ndarray, Internals]:
        """Quantile forecast and one layer's gates (the last by default), as lstm.py's; the
        gates, states and mixture of the windows `rows` only (all by default: a forecast with
        gates needs its own window's, not those of the days it is judged on)."""
        inp, bases, bmask, skill, cal = self._args(x, bases, bmask, skill, cal)
        keep = layer % self.cfg.layers
        kept: Internals | None = None
        for k in range(self.cfg.layers):
            inp, g = self._layer(k, inp, rows if k == keep else None)
            if g is not None:
                kept = Internals(g["i"], g["f"], g["o"], g["g"], g["c"], inp[rows], layer=k)
        assert kept is not None
        q, mix = self._quantiles(inp[:, -1], bases, bmask, skill, cal)
        kept.mix = mix[rows]
        return q, kept
