"""The quantile LSTM forecaster in one file: config, nn.LSTM to train, explicit gates to look in.

The model reads a week of scaled hourly traffic plus calendar features and predicts, in one shot
(a direct multi-horizon head, not recursive), the p10/p50/p90 of each of the next `horizon` hours
in the same scaled space. Scaling and the seasonal bases live outside the module (features.py).

    x (B, T, F) ──► nn.LSTM ──► h_T (B, U) ─┐
    skill (B, K+1) ─────────────────────────┴─► head ──► per hour: mix (H, K), shift (H), spread
    bases (B, H, K): yesterday, last week, 7-day and 4-week medians, last hour, ... │
      └─► base_gate (per hour, bases + masks + holiday flags cal (B, H, 3) -> G ->   │
                     K mix logits, + shift, + band width)                          │
    p50 = Σ_k softmax(mix)_k · base_k + shift_max · tanh(shift)  ◄───────────────┘
    p10 / p90 = p50 ∓ softplus spacings

The LSTM does not invent the level: it chooses, per future hour, how much to trust each kind of
seasonal memory of this site (the weights are shown as "what the model relies on"), shifts the
result by at most SHIFT_MAX times the best base's recent error, and sets the band. So a forecast is always near something
the site did, at any level and for any shape. `internals()` recomputes the LSTM with the textbook
gate equations from the same weights, so the gate pane shows exactly what produced the forecast.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from trafficwatch.model.config import N_CAL, SHIFT_MAX, LSTMConfig


@dataclass
class LSTMInternals:
    """Gate activations for one window, each (B, T, U), for one layer (the last by default)."""

    input_gate: torch.Tensor  # i_t = σ(W_i x_t + U_i h_{t-1} + b_i): how much new content enters
    forget_gate: torch.Tensor  # f_t: how much of c_{t-1} is kept (the highway)
    output_gate: torch.Tensor  # o_t: how much of tanh(c_t) becomes h_t
    candidate: torch.Tensor  # g_t = tanh(...): the new content proposed
    cell: torch.Tensor  # c_t = f_t * c_{t-1} + i_t * g_t
    hidden: torch.Tensor  # h_t = o_t * tanh(c_t)
    layer: int = field(default=-1)
    mix: torch.Tensor | None = None  # (B, H, K) weight of each seasonal base in the median


class QuantileLSTM(nn.Module):
    """LSTM encoder + direct multi-horizon head mixing seasonal bases, with ordered quantiles."""

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        nq, H, K = len(cfg.quantiles), cfg.horizon, cfg.n_bases
        self.mid = cfg.quantiles.index(0.5)
        self.lstm = nn.LSTM(cfg.n_features, cfg.hidden, cfg.layers, batch_first=True,
                            dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden + K + 1, H * (K + nq))  # per hour: K mix logits, shift,
        # quantile gaps; from the last hidden state and the K + 1 skill figures (features.py)
        G = cfg.base_gate  # per future hour: the bases' values (and which exist) -> K logits;
        # with holidays also the hour's holiday flags -> and a shift and a band width
        C = N_CAL if cfg.holidays else 0
        self.base_gate = (nn.Sequential(nn.Linear(2 * K + C, G), nn.Tanh(),
                                        nn.Linear(G, K + (2 if C else 0))) if G else None)
        with torch.no_grad():  # start as "the mean of the bases" with a modest band
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
            if self.base_gate is not None:
                self.base_gate[2].weight.zero_()
                self.base_gate[2].bias.zero_()

    def _quantiles(self, h_last: torch.Tensor, bases: torch.Tensor, bmask: torch.Tensor,
                   skill: torch.Tensor, cal: torch.Tensor | None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, U) hidden, (B, H, K) bases + mask, (B, K+1) skill, (B, H, N_CAL) holiday flags
        -> (B, H, Q) quantiles, (B, H, K) mixture weights. H may be fewer hours than the
        model's horizon: the first H of them."""
        B, H, K = bases.shape
        if not 1 <= H <= self.cfg.horizon or K != self.cfg.n_bases:
            raise ValueError(f"bases for {H} h x {K}, the model takes 1..{self.cfg.horizon} h x "
                             f"{self.cfg.n_bases}")
        raw = self.head(torch.cat([h_last, skill], dim=-1)).view(B, self.cfg.horizon, -1)[:, :H]
        logits = raw[..., :K]  # (B, H, K) from the window's summary
        rest = raw[..., K:]  # (B, H, Q): the median's slot is its shift, the others are spacings
        if self.base_gate is not None:  # plus what this hour's bases say: agreeing or not
            parts = [bases, bmask]
            if self.cfg.holidays:  # and whether it, or the hours the bases copy, is a holiday
                parts.append(cal if cal is not None else bases.new_zeros(B, H, N_CAL))
            g = self.base_gate(torch.cat(parts, dim=-1))  # (B, H, K [+ 2])
            logits = logits + g[..., :K]
            if self.cfg.holidays:  # the hour's own shift (median slot) and band width (others)
                is_mid = torch.arange(rest.shape[-1], device=rest.device) == self.mid
                rest = rest + torch.where(is_mid, g[..., K:K + 1], g[..., K + 1:K + 2])
        logits = logits.masked_fill(bmask < 0.5, -1e4)  # a missing base gets no weight
        mix = torch.softmax(logits, dim=-1)  # (B, H, K)
        center = (mix * bases).sum(-1) + SHIFT_MAX * torch.tanh(rest[..., self.mid])  # (B, H)
        gaps = F.softplus(rest.clamp(max=6.0))  # (B, H, Q) non-negative spacings
        below = torch.flip(torch.cumsum(torch.flip(gaps[..., : self.mid], [-1]), -1), [-1])
        above = torch.cumsum(gaps[..., self.mid + 1:], -1)
        c = center.unsqueeze(-1)  # (B, H, 1)
        return torch.cat([c - below, c, c + above], dim=-1), mix  # (B, H, Q), increasing along Q

    def forward(self, x: torch.Tensor, bases: torch.Tensor, bmask: torch.Tensor,
                skill: torch.Tensor, cal: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, F) scaled window (features beyond cfg.n_features are not read: an older
        model), bases/bmask (B, H, K), skill (B, K+1), cal (B, H, N_CAL) -> (B, H, Q)."""
        out, _ = self.lstm(x[..., :self.cfg.n_features])  # (B, T, U): cuDNN on GPU
        return self._quantiles(out[:, -1], bases, bmask, skill, cal)[0]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, bases: torch.Tensor, bmask: torch.Tensor,
                skill: torch.Tensor, cal: torch.Tensor | None = None) -> torch.Tensor:
        """Inference without gradients: -> (B, H, Q)."""
        return self.forward(x, bases, bmask, skill, cal)

    @torch.no_grad()
    def internals(self, x: torch.Tensor, bases: torch.Tensor, bmask: torch.Tensor,
                  skill: torch.Tensor, cal: torch.Tensor | None = None, layer: int = -1
                  ) -> tuple[torch.Tensor, LSTMInternals]:
        """Quantile forecast and one layer's gates, recomputed step by step from nn.LSTM weights."""
        x = x[..., :self.cfg.n_features]
        B, T, _ = x.shape
        U = self.cfg.hidden
        inp = x  # (B, T, F) for layer 0, (B, T, U) above
        keep = layer % self.cfg.layers
        kept: LSTMInternals | None = None
        for k in range(self.cfg.layers):
            w_ih = getattr(self.lstm, f"weight_ih_l{k}")  # (4U, F_in), rows ordered i, f, g, o
            w_hh = getattr(self.lstm, f"weight_hh_l{k}")  # (4U, U)
            b = getattr(self.lstm, f"bias_ih_l{k}") + getattr(self.lstm, f"bias_hh_l{k}")  # (4U,)
            xw = inp @ w_ih.T + b  # (B, T, 4U): input contribution for every step at once
            h = x.new_zeros(B, U)
            c = x.new_zeros(B, U)
            w_hh_t = w_hh.T.contiguous()  # (U, 4U)
            steps: list[tuple[torch.Tensor, ...]] = []
            for t in range(T):
                z = torch.addmm(xw[:, t], h, w_hh_t)  # (B, 4U) = x_t W_ih^T + b + h_{t-1} W_hh^T
                i, f, _, o = torch.sigmoid(z).chunk(4, dim=-1)  # each (B, U); gate order i, f, g, o
                g = torch.tanh(z[:, 2 * U:3 * U])  # (B, U) candidate
                c = f * c + i * g  # (B, U): keep some old state, add some new
                h = o * torch.tanh(c)  # (B, U): expose part of the state
                steps.append((i, f, g, o, c, h))
            gates = {n: torch.stack([st[j] for st in steps], dim=1)  # (B, T, U)
                     for j, n in enumerate("ifgoch")}
            if k == keep:
                kept = LSTMInternals(gates["i"], gates["f"], gates["o"], gates["g"],
                                     gates["c"], gates["h"], layer=k)
            inp = gates["h"]  # (B, T, U) feeds the next layer (no dropout at inference)
        assert kept is not None
        q, kept.mix = self._quantiles(inp[:, -1], bases, bmask, skill, cal)
        return q, kept


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: tuple[float, ...],
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean quantile (pinball) loss; pred (B, H, Q), target (B, H), mask (B, H) 1 = observed."""
    q = pred.new_tensor(quantiles)  # (Q,)
    diff = target.unsqueeze(-1) - pred  # (B, H, Q)
    loss = torch.maximum(q * diff, (q - 1.0) * diff)  # (B, H, Q)
    if mask is None:
        return loss.mean()
    m = mask.unsqueeze(-1).to(loss.dtype)  # (B, H, 1)
    return (loss * m).sum() / (m.sum() * len(quantiles)).clamp_min(1.0)
