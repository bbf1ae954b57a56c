"""Regularisers of ``grukit.GRU``: their math against hand-written loops, eval-mode
semantics, every backend with the same masks, gradcheck, padding that never leaks, masks
reproducible from the seed, Stream in eval mode, and bad arguments."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import grukit
from helpers import layer_gradcheck

I, H, T, B = 3, 5, 6, 2
RECURRENT = [v for v in grukit.VARIANTS if v != "mingru"]  # those with a recurrent matrix


def layer(variant="gru", dtype=torch.float32, **options) -> grukit.GRU:
    torch.manual_seed(0)
    return grukit.GRU(I, H, variant=variant, dtype=dtype, **options)


def gru_step(x, h, h_read, weights):
    """torch.nn.GRU's equations, the recurrent matmuls reading ``h_read``."""
    w_ih, w_hh, b_ih, b_hh = weights
    gi, gh = x @ w_ih.T + b_ih, h_read @ w_hh.T + b_hh
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = torch.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return (1 - z) * n + z * h


def weights_of(gru: grukit.GRU):
    return (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)


def hand_loop(x: torch.Tensor, step) -> torch.Tensor:
    """States (T, B, H) of ``h = step(t, h)`` from zeros."""
    h, states = torch.zeros(B, H), []
    for t in range(x.shape[0]):
        h = step(t, h)
        states.append(h)
    return torch.stack(states)


def test_recurrent_dropout_masks_what_the_matmuls_read():
    """W_hh (m (.) h): one mask per sequence for all steps, the update reading h itself."""
    gru = layer(recurrent_dropout=0.4).train()
    x = torch.randn(T, B, I)
    torch.manual_seed(7)
    output = gru(x)[0]
    torch.manual_seed(7)
    mask = torch.empty(B, H).bernoulli_(0.6) / 0.6  # drawn as the layer draws it
    expected = hand_loop(x, lambda t, h: gru_step(x[t], h, h * mask, weights_of(gru)))
    torch.testing.assert_close(output, expected)
    assert (mask == 0).any()  # the draw did drop units


def test_zoneout_keeps_units_in_training_and_mixes_in_eval():
    gru = layer(zoneout=0.3).train()
    x = torch.randn(T, B, I)
    torch.manual_seed(3)
    output = gru(x)[0]
    torch.manual_seed(3)
    keep = (torch.rand(T, B, H) < 0.3).float()  # drawn as the layer draws it

    def zoned(t, h):
        return keep[t] * h + (1 - keep[t]) * gru_step(x[t], h, h, weights_of(gru))

    torch.testing.assert_close(output, hand_loop(x, zoned))
    gru.eval()
    expected = hand_loop(x, lambda t, h: 0.3 * h + 0.7 * gru_step(x[t], h, h, weights_of(gru)))
    torch.testing.assert_close(gru(x)[0], expected)


def test_weight_dropout_is_one_mask_per_forward_call():
    gru = layer(weight_dropout=0.5).train()
    x = torch.randn(T, B, I)
    torch.manual_seed(11)
    output = gru(x)[0]
    torch.manual_seed(11)
    dropped = nn.functional.dropout(gru.weight_hh_l0, 0.5, training=True)
    w_ih, _, b_ih, b_hh = weights_of(gru)
    expected = hand_loop(x, lambda t, h: gru_step(x[t], h, h, (w_ih, dropped, b_ih, b_hh)))
    torch.testing.assert_close(output, expected)


def test_locked_dropout_is_one_mask_per_sequence():
    x = torch.ones(T, 8, I)
    torch.manual_seed(0)
    dropped = layer(input_dropout=0.5, dropout_mode="locked")._dropout(x, 0.5)
    assert torch.equal(dropped, dropped[:1].expand_as(dropped))  # the same mask every step
    assert set(dropped.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled
    per_step = layer()._dropout(x, 0.5)  # torch's: a new mask at every step
    assert not torch.equal(per_step, per_step[:1].expand_as(per_step))
    # The layer applies it to its input, before the first layer reads it.
    gru = layer(input_dropout=0.5, dropout_mode="locked").train()
    x = torch.randn(T, B, I)
    torch.manual_seed(1)
    output = gru(x)[0]
    torch.manual_seed(1)
    mask = torch.empty(1, B, I).bernoulli_(0.5) / 0.5
    torch.testing.assert_close(output, layer().train()(x * mask)[0])


@pytest.mark.parametrize("variant", grukit.VARIANTS)
def test_eval_mode_turns_every_dropout_off(variant):
    recurrent = {} if variant == "mingru" else {"recurrent_dropout": 0.5, "weight_dropout": 0.5}
    options = dict(input_dropout=0.5, dropout=0.5, dropout_mode="locked", **recurrent)
    torch.manual_seed(0)
    regularised = grukit.GRU(I, H, 2, variant=variant, **options).eval()
    plain = grukit.GRU(I, H, 2, variant=variant).eval()
    plain.load_state_dict(regularised.state_dict())
    x = torch.randn(T, B, I)
    torch.testing.assert_close(regularised(x)[0], plain(x)[0])
    assert regularised.backend_choice().name == plain.backend_choice().name


@pytest.mark.parametrize("variant", grukit.VARIANTS)
def test_every_backend_gives_the_same_result_with_the_same_masks(variant):
    """weight_dropout and locked dropout run on the fused kernels too: same seed, same
    masks, same outputs and gradients as the reference loop."""
    weight = {} if variant == "mingru" else {"weight_dropout": 0.3}
    options = dict(input_dropout=0.2, dropout=0.3, dropout_mode="locked", **weight)
    results = []
    for backend in ("reference", "auto"):
        torch.manual_seed(0)
        gru = grukit.GRU(I, H, 2, variant=variant, bidirectional=True, backend=backend, **options)
        x = torch.randn(T, B, I, requires_grad=True)
        torch.manual_seed(5)
        output, h_n = gru(x, lengths=[T, 3])
        (output.square().sum() + h_n.sum()).backward()
        results.append([output, h_n, x.grad, *(p.grad for p in gru.parameters())])
        assert gru.backend_choice().name == ("reference" if backend == "reference" else "fused")
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant", RECURRENT)
@pytest.mark.parametrize("regulariser", ["recurrent_dropout", "zoneout", "weight_dropout"])
def test_gradcheck(variant, regulariser):
    gru = layer(variant, torch.float64, **{regulariser: 0.3}).train()
    x = torch.randn(4, B, I, dtype=torch.float64, requires_grad=True)
    assert layer_gradcheck(gru, x, [4, 2])


@pytest.mark.parametrize("variant", RECURRENT)
def test_padding_poisoned_with_nan_changes_nothing(variant):
    options = dict(recurrent_dropout=0.3, zoneout=0.2, weight_dropout=0.2, input_dropout=0.2)
    gru = grukit.GRU(I, H, 2, variant=variant, dropout=0.2, dropout_mode="locked", **options)
    gru.train()
    x = torch.randn(T, B, I)
    poisoned = x.clone().requires_grad_(True)
    with torch.no_grad():
        poisoned[3:, 1] = float("nan")
    results = []
    for inputs in (x.clone().requires_grad_(True), poisoned):
        torch.manual_seed(2)
        output, h_n = gru(inputs, lengths=[T, 3])
        (output.sum() + h_n.sum()).backward()
        results.append((output, h_n, inputs.grad))
    (clean, clean_h, clean_grad), (dirty, dirty_h, dirty_grad) = results
    assert torch.equal(clean, dirty) and torch.equal(clean_h, dirty_h)
    assert torch.isfinite(dirty_grad).all() and (dirty_grad[3:, 1] == 0).all()


def test_masks_are_reproducible_from_the_seed():
    gru = layer(recurrent_dropout=0.3, zoneout=0.3, weight_dropout=0.3).train()
    x = torch.randn(T, B, I)
    torch.manual_seed(4)
    first = gru(x)[0]
    torch.manual_seed(4)
    again = gru(x)[0]
    other = gru(x)[0]  # the generator moved on: new masks
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize("variant", grukit.VARIANTS)
def test_stream_equals_the_layer_in_eval_mode(variant):
    recurrent = {} if variant == "mingru" else {"recurrent_dropout": 0.5}
    gru = grukit.GRU(I, H, 2, variant=variant, zoneout=0.25, **recurrent).eval()
    x = torch.randn(T, B, I)
    torch.testing.assert_close(gru.stream(B).chunk(x), gru(x)[0], rtol=1e-5, atol=1e-6)


def test_explain_lists_the_regularisers():
    gru = layer(zoneout=0.1, weight_dropout=0.2)
    text = gru.explain()
    assert "regularisers: zoneout=0.1, weight_dropout=0.2" in text
    assert "backend: fused" in text and "in training mode" in text


@pytest.mark.parametrize(
    "variant, reset_after",
    [(v, r) for v in RECURRENT for r in ((True, False) if v.startswith("gru") else (None,))],
)
def test_fused_equals_reference_with_the_same_masks(variant, reset_after):
    """Recurrent dropout and zoneout inside the fused time loop: the same masks give the
    reference loop's outputs, final states and every gradient, with lengths, two layers
    and both directions; and zoneout's expectation in eval mode."""
    placement = {} if reset_after is None else {"reset_after": reset_after}
    options = dict(recurrent_dropout=0.3, zoneout=0.25, weight_dropout=0.2, **placement)
    for training in (True, False):
        results = []
        for backend in ("reference", "fused"):
            torch.manual_seed(0)
            gru = grukit.GRU(
                I, H, 2, variant=variant, bidirectional=True, backend=backend, **options
            ).train(training)
            x = torch.randn(T, 3, I, requires_grad=True)
            h0 = torch.randn(4, 3, H, requires_grad=True)
            torch.manual_seed(5)
            output, h_n = gru(x, h0, lengths=[T, 2, 4])
            (output.square().sum() + h_n.square().sum()).backward()
            results.append([output, h_n, x.grad, h0.grad, *(p.grad for p in gru.parameters())])
        for a, b in zip(*results):  # float32 sums in another order: a few 1e-6 apart
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("variant", ["gru", "mgu", "ligru"])
def test_fused_gradcheck_with_masks(variant):
    gru = layer(variant, torch.float64, recurrent_dropout=0.3, zoneout=0.3, backend="fused")
    x = torch.randn(4, B, I, dtype=torch.float64, requires_grad=True)
    assert layer_gradcheck(gru, x, [4, 2])


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"variant": "mingru", "recurrent_dropout": 0.1}, ValueError, "has no recurrent matrix"),
        ({"variant": "mingru", "weight_dropout": 0.1}, ValueError, "has no recurrent matrix"),
        ({"zoneout": 1.0}, ValueError, r"zoneout: got 1.0, wanted a float in \[0, 1\)"),
        ({"recurrent_dropout": -0.1}, ValueError, r"recurrent_dropout: got -0.1"),
        ({"dropout_mode": "frozen"}, ValueError, "dropout_mode: got 'frozen', wanted one of"),
        ({"batch_first": "False"}, TypeError, r"batch_first: got 'False' \(str\), wanted True"),
        ({"bias": 1}, TypeError, r"bias: got 1 \(int\), wanted True or False"),
        ({"bidirectional": "no"}, TypeError, r"bidirectional: got 'no' \(str\)"),
    ],
)
def test_bad_arguments(options, error, message):
    with pytest.raises(error, match=message):
        grukit.GRU(I, H, **options)


def test_cell_refuses_a_string_bias():
    with pytest.raises(TypeError, match=r"bias: got 'False' \(str\)"):
        grukit.GRUCell(I, H, bias="False")


@pytest.mark.parametrize("options", [{"zoneout": 0.1}, {"norm": "layer"}, {"weight_dropout": 0.2}])
def test_conversion_to_torch_refuses_what_torch_does_not_compute(options):
    with pytest.raises(ValueError, match="which torch.nn.GRU does not compute"):
        grukit.GRU(I, H, **options).to_torch()


def test_onnx_operator_refuses_zoneout_and_layer_norm():
    pytest.importorskip("onnx")
    from grukit.interop.onnx import onnx_gru_model

    for options in ({"zoneout": 0.1}, {"norm": "layer"}):
        with pytest.raises(ValueError, match="which ONNX's GRU operator does not compute"):
            onnx_gru_model(grukit.GRU(I, H, **options))
    onnx_gru_model(grukit.GRU(I, H, recurrent_dropout=0.3))  # training-only: exports
