"""The LSTM: gate equations equal nn.LSTM, shapes, ordered quantiles, pinball loss."""
from __future__ import annotations

import pytest
import torch

from trafficwatch.model.lstm import SHIFT_MAX, LSTMConfig, QuantileLSTM, pinball_loss


def context(B: int, H: int, K: int = 7, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random bases (B, H, K), a mask with some bases missing, skill (B, K + 1) and holiday
    flags (B, H, 3)."""
    g = torch.Generator().manual_seed(seed)
    bases = torch.randn(B, H, K, generator=g) * 2
    bmask = (torch.rand(B, H, K, generator=g) > 0.3).float()
    bmask[..., -1] = 1.0  # the week's mean is always there
    cal = (torch.rand(B, H, 3, generator=g) > 0.7).float()
    return bases * bmask, bmask, torch.randn(B, K + 1, generator=g), cal


def assert_close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> None:
    assert a.shape == b.shape and float((a - b).abs().max()) < tol


@pytest.mark.parametrize("layers", [1, 2])
def test_explicit_gate_equations_reproduce_nn_lstm_with_the_same_weights(layers):
    torch.manual_seed(0)
    model = QuantileLSTM(LSTMConfig(window=48, horizon=12, hidden=8, layers=layers)).eval()
    x = torch.randn(3, 48, 7)
    ctx = context(3, 12)
    with torch.no_grad():
        out, (_, c_n) = model.lstm(x)  # (B, T, U), (L, B, U)
        expected = model(x, *ctx)
    q, inner = model.internals(x, *ctx)
    assert_close(inner.hidden, out)
    assert_close(inner.cell[:, -1], c_n[-1])
    assert_close(q, expected)
    # h_t = o_t * tanh(c_t): the pieces returned are the ones that made the output
    assert_close(inner.output_gate * torch.tanh(inner.cell), inner.hidden)
    first = model.internals(x, *ctx, layer=0)[1]
    if layers == 2:
        assert not torch.allclose(first.hidden, inner.hidden)
    for t in (inner.input_gate, inner.forget_gate, inner.output_gate):
        assert t.shape == (3, 48, 8) and float(t.min()) >= 0.0 and float(t.max()) <= 1.0


def test_forecast_shape_and_quantiles_never_cross():
    torch.manual_seed(1)
    model = QuantileLSTM(LSTMConfig(window=32, horizon=24, hidden=8)).eval()
    with torch.no_grad():
        model.head.bias.normal_(0, 5.0)  # wild offsets still give p10 <= p50 <= p90
    q = model.predict(torch.randn(5, 32, 7) * 10, *context(5, 24))
    assert q.shape == (5, 24, 3)
    assert bool((q[..., 0] <= q[..., 1]).all()) and bool((q[..., 1] <= q[..., 2]).all())
    assert not q.requires_grad


def test_median_stays_within_the_bases_it_mixes_plus_the_bounded_shift():
    torch.manual_seed(2)
    model = QuantileLSTM(LSTMConfig(window=32, horizon=24, hidden=8)).eval()
    with torch.no_grad():
        model.head.weight.normal_(0, 10.0)  # however wild the weights
        model.head.bias.normal_(0, 10.0)
    with torch.no_grad():  # the per-hour gate, holidays included, cannot break the bound either
        for param in model.base_gate.parameters():
            param.normal_(0, 10.0)
    bases, bmask, skill, cal = context(6, 24, seed=3)
    q, inner = model.internals(torch.randn(6, 32, 7) * 10, bases, bmask, skill, cal)
    big = torch.where(bmask > 0, bases, torch.tensor(-1e9)).amax(-1)
    small = torch.where(bmask > 0, bases, torch.tensor(1e9)).amin(-1)
    assert bool((q[..., 1] <= big + SHIFT_MAX + 1e-5).all())
    assert bool((q[..., 1] >= small - SHIFT_MAX - 1e-5).all())
    # a missing base gets no weight; the weights of each hour sum to one
    assert float((inner.mix * (1 - bmask)).max()) < 1e-6
    torch.testing.assert_close(inner.mix.sum(-1), torch.ones(6, 24))


def test_config_limits_horizon_and_requires_a_median():
    with pytest.raises(ValueError, match="horizon"):
        LSTMConfig(horizon=169)
    assert LSTMConfig().horizon == 168  # a week ahead, as the CLI offers
    with pytest.raises(ValueError, match="0.5"):
        LSTMConfig(quantiles=(0.1, 0.9))
    assert LSTMConfig.from_dict(LSTMConfig(horizon=48).to_dict()) == LSTMConfig(horizon=48)


def test_pinball_loss_values_and_masked_targets():
    pred = torch.tensor([[[0.0, 1.0, 2.0]]])  # (1, 1, 3)
    target = torch.tensor([[1.0]])
    # below p10 by 1 -> 0.1*1; at p50 -> 0; above p90 by 1 -> 0.1*1; mean over 3 quantiles
    assert float(pinball_loss(pred, target, (0.1, 0.5, 0.9))) == pytest.approx(0.2 / 3)
    pred2 = torch.cat([pred, pred], dim=1)  # (1, 2, 3)
    target2 = torch.tensor([[1.0, 1000.0]])
    mask = torch.tensor([[1.0, 0.0]])
    assert float(pinball_loss(pred2, target2, (0.1, 0.5, 0.9), mask)) == pytest.approx(0.2 / 3)
