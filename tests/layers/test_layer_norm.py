"""norm="layer" for the gru family and mgu: layer norm of the input and the recurrent
projections, per gate block, each with its own gain, the cell's biases as the shifts
(Ba et al. 2016; Haste's LayerNormGRU). Against a hand loop, gradcheck, Stream, padding,
GRUCell, parameter counts and bad arguments."""

from __future__ import annotations

import pytest
import torch

import grukit
from helpers import layer_gradcheck

I, H, T, B = 3, 5, 6, 2
FORMS = [("gru", True), ("gru", False), ("gru1", True), ("gru2", False), ("gru3", True)]
FORMS += [("gru3", False), ("mgu", None)]


def ln(a: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Per block of H: (a - mean) / sqrt(var + 1e-5), times the gain."""
    blocks = a.unflatten(-1, (-1, H))
    normed = (blocks - blocks.mean(-1, keepdim=True)) / torch.sqrt(
        blocks.var(-1, unbiased=False, keepdim=True) + 1e-5
    )
    return normed.flatten(-2) * gain


def test_gru_equals_the_layer_normalised_equations():
    torch.manual_seed(0)
    gru = grukit.GRU(I, H, norm="layer")
    with torch.no_grad():  # gains away from 1, so that a missing gain shows
        gru.norm_weight_l0.uniform_(0.5, 1.5)
        gru.norm_weight_hh_l0.uniform_(0.5, 1.5)
    x = torch.randn(T, B, I)
    w_ih, w_hh, b_ih, b_hh = gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0
    g_i, g_h = gru.norm_weight_l0, gru.norm_weight_hh_l0
    h, expected = torch.zeros(B, H), []
    for t in range(T):
        gi = ln(x[t] @ w_ih.T, g_i) + b_ih
        gh = ln(h @ w_hh.T, g_h) + b_hh
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = torch.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1 - z) * n + z * h
        expected.append(h)
    torch.testing.assert_close(gru(x)[0], torch.stack(expected))


def test_mgu_normalises_both_of_its_recurrent_projections():
    torch.manual_seed(0)
    mgu = grukit.GRU(I, H, variant="mgu", norm="layer")
    with torch.no_grad():
        mgu.norm_weight_hh_l0.uniform_(0.5, 1.5)
    x = torch.randn(T, B, I)
    w_hh, g_h = mgu.weight_hh_l0, mgu.norm_weight_hh_l0
    h, expected = torch.zeros(B, H), []
    for t in range(T):
        gi = ln(x[t] @ mgu.weight_ih_l0.T, mgu.norm_weight_l0) + mgu.bias_ih_l0
        f = torch.sigmoid(gi[:, :H] + ln(h @ w_hh[:H].T, g_h[:H]))
        n = torch.tanh(gi[:, H:] + ln((f * h) @ w_hh[H:].T, g_h[H:]))
        h = h + f * (n - h)
        expected.append(h)
    torch.testing.assert_close(mgu(x)[0], torch.stack(expected))


@pytest.mark.parametrize("variant, reset_after", FORMS)
def test_gradcheck_and_padding(variant, reset_after):
    torch.manual_seed(0)
    options = {} if reset_after is None else {"reset_after": reset_after}
    gru = grukit.GRU(I, H, variant=variant, norm="layer", dtype=torch.float64, **options)
    x = torch.randn(4, B, I, dtype=torch.float64, requires_grad=True)
    assert layer_gradcheck(gru, x, [4, 2], seed=None)
    poisoned = x.detach().clone()
    poisoned[2:, 1] = float("nan")
    torch.testing.assert_close(gru(poisoned, lengths=[4, 2])[0], gru(x, lengths=[4, 2])[0])


@pytest.mark.parametrize("variant, reset_after", FORMS)
def test_stream_and_cell_equal_the_layer(variant, reset_after):
    torch.manual_seed(0)
    options = {} if reset_after is None else {"reset_after": reset_after}
    gru = grukit.GRU(I, H, 2, variant=variant, norm="layer", **options).eval()
    x = torch.randn(T, B, I)
    expected = gru(x)[0]
    torch.testing.assert_close(gru.stream(B).chunk(x), expected, rtol=1e-5, atol=1e-6)
    cell = grukit.GRUCell(I, H, variant=variant, norm="layer", **options)
    cell.load_state_dict({k[:-3]: v for k, v in gru.state_dict().items() if k.endswith("_l0")})
    h = torch.zeros(B, H)
    first_layer = grukit.GRU(I, H, variant=variant, norm="layer", **options)
    first_layer.load_state_dict({k: v for k, v in gru.state_dict().items() if k.endswith("_l0")})
    for t in range(T):
        h = cell(x[t], h)
    torch.testing.assert_close(h, first_layer(x)[0][-1], rtol=1e-5, atol=1e-6)


def test_parameter_counts_and_explain():
    plain = grukit.GRU(I, H)
    normed = grukit.GRU(I, H, norm="layer")
    count = sum(p.numel() for p in normed.parameters())
    assert count == sum(p.numel() for p in plain.parameters()) + 3 * H + 3 * H
    assert "backend: fused" in normed.explain()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"variant": "mingru", "norm": "layer"}, "norm: got 'layer' for variant 'mingru'"),
        ({"norm": "batch"}, "norm: got 'batch' for variant 'gru'; wanted None or 'layer'"),
    ],
)
def test_bad_norms(options, message):
    with pytest.raises(ValueError, match=message):
        grukit.GRU(I, H, **options)


@pytest.mark.parametrize("variant, reset_after", FORMS)
def test_fused_equals_reference(variant, reset_after):
    """Layer norm inside the fused kernels, every form: the same outputs, final states and
    every gradient (the gains' too) as the reference loop, with two layers, both
    directions, lengths and the regularisers' masks."""
    placement = {} if reset_after is None else {"reset_after": reset_after}
    options = dict(norm="layer", recurrent_dropout=0.2, zoneout=0.1, **placement)
    results = []
    for backend in ("reference", "fused"):
        torch.manual_seed(0)
        gru = grukit.GRU(
            I, H, 2, variant=variant, bidirectional=True, backend=backend, **options
        ).double()  # float64: layer norm's backward amplifies float32 rounding on H = 5
        with torch.no_grad():
            for name, parameter in gru.named_parameters():
                if name.startswith("norm_weight"):
                    parameter.uniform_(0.5, 1.5)
        assert gru.backend_choice().name == backend
        x = torch.randn(T, 3, I, dtype=torch.float64, requires_grad=True)
        torch.manual_seed(5)
        output, h_n = gru(x, lengths=[T, 2, 4])
        (output.square().sum() + h_n.square().sum()).backward()
        results.append([output, h_n, x.grad, *(p.grad for p in gru.parameters())])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("variant, reset_after", [("gru", True), ("gru", False), ("mgu", None)])
def test_fused_layer_norm_gradcheck(variant, reset_after):
    torch.manual_seed(0)
    placement = {} if reset_after is None else {"reset_after": reset_after}
    gru = grukit.GRU(
        I, H, variant=variant, norm="layer", dtype=torch.float64, backend="fused", **placement
    )
    x = torch.randn(4, B, I, dtype=torch.float64, requires_grad=True)
    assert layer_gradcheck(gru, x, [4, 2], seed=None)
