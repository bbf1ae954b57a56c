"""Every variant through grukit.GRU: against its NumPy equations, against a hand loop over
grukit.GRUCell, padding that never leaks, and gradcheck in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

import grukit
from helpers import backends, layer_kwargs, numpy_sequence, variant_configs, weighted_loss

T, B, I, H = 6, 4, 3, 5
LENGTHS = [T, 1, 3, T - 1]


def make_layer(config, **kwargs) -> grukit.GRU:
    layer = grukit.GRU(I, H, dtype=torch.float64, **layer_kwargs(config), **kwargs)
    # Batch-norm statistics away from (0, 1), so using the wrong ones shows.
    for name, buffer in layer.named_buffers():
        buffer.copy_(
            torch.rand(buffer.shape, dtype=buffer.dtype) + (0.5 if "var" in name else -0.5)
        )
    return layer


@backends
@variant_configs
def test_layer_equals_numpy_equations(config, backend):
    """One layer and direction, with lengths: each sequence follows its variant's equations."""
    layer = make_layer(config, backend=backend).eval()
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = torch.randn(1, B, H, dtype=torch.float64)
    output, h_n = layer(x, h0, lengths=LENGTHS)
    params = {role: t.detach().numpy() for role, t in layer.cell_params(0).items()}
    for b, length in enumerate(LENGTHS):
        expected_out, expected_h = numpy_sequence(
            config, x[:, b].numpy(), h0[0, b].numpy(), params, length
        )
        np.testing.assert_allclose(
            output[:, b].detach().numpy(), expected_out, rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(h_n[0, b].detach().numpy(), expected_h, rtol=1e-12, atol=1e-12)


def cell_loop(layer: grukit.GRU, x, h0, lengths):
    """The layer's semantics written out by hand: each sequence alone, a GRUCell per layer
    and direction, the reverse direction from the sequence's own last step."""
    directions = layer.num_directions
    cells = []
    for k in range(layer.num_layers):
        for d in range(directions):
            params = layer.cell_params(k, d)
            cell = grukit.GRUCell(
                params["weight_ih"].shape[1],
                H,
                variant=layer.variant,
                reset_after=layer.reset_after,
                norm=layer.spec.norm,
                dtype=torch.float64,
            ).eval()
            cell.load_state_dict(params)
            cells.append(cell)
    output = torch.zeros(T, B, directions * H, dtype=torch.float64)
    h_n = torch.zeros(layer.num_layers * directions, B, H, dtype=torch.float64)
    for b, length in enumerate(lengths):
        sequence = x[:length, b]
        for k in range(layer.num_layers):
            per_direction = []
            for d in range(directions):
                cell, h = cells[k * directions + d], h0[k * directions + d, b]
                steps = range(length) if d == 0 else range(length - 1, -1, -1)
                states = [None] * length
                for t in steps:
                    h = cell(sequence[t], h)
                    states[t] = h
                per_direction.append(torch.stack(states))
                h_n[k * directions + d, b] = h
            sequence = torch.cat(per_direction, dim=-1)
        output[:length, b] = sequence
    return output, h_n


@backends
@variant_configs
def test_layer_equals_cell_loop(config, backend):
    layer = make_layer(config, num_layers=2, bidirectional=True, backend=backend).eval()
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, B, H, dtype=torch.float64)
    output, h_n = layer(x, h0, lengths=LENGTHS)
    expected_output, expected_h_n = cell_loop(layer, x, h0, LENGTHS)
    torch.testing.assert_close(output, expected_output, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_n, expected_h_n, rtol=1e-12, atol=1e-12)
    (grad,) = torch.autograd.grad(weighted_loss(output, h_n), x)
    (expected_grad,) = torch.autograd.grad(weighted_loss(expected_output, expected_h_n), x)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)


@backends
@variant_configs
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_padding_never_leaks(config, backend, training):
    """Changing padded inputs (even to NaN and inf) changes no output, state or gradient."""
    layer = make_layer(config, num_layers=2, bidirectional=True, backend=backend).train(training)
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0 = torch.randn(4, B, H, dtype=torch.float64)
    padded = torch.arange(T)[:, None] >= torch.tensor(LENGTHS)[None, :]
    perturbed = x.clone()
    perturbed[padded] = torch.randn(int(padded.sum()), I, dtype=torch.float64) * 100
    poisoned = x.clone()
    poisoned[padded] = float("nan")
    poisoned[-1, 1] = float("inf")

    def run(inputs):
        inputs = inputs.clone().requires_grad_()
        output, h_n = layer(inputs, h0, lengths=LENGTHS)
        grads = torch.autograd.grad(weighted_loss(output, h_n), [inputs, *layer.parameters()])
        return output, h_n, grads[0][~padded], grads[1:]

    expected = run(x)
    assert bool((expected[0][padded] == 0).all()), "padded outputs must be 0"
    for inputs in (perturbed, poisoned):
        output, h_n, input_grad, param_grads = run(inputs)
        torch.testing.assert_close(output, expected[0], rtol=0, atol=0)
        torch.testing.assert_close(h_n, expected[1], rtol=0, atol=0)
        torch.testing.assert_close(input_grad, expected[2], rtol=0, atol=0)
        for got, want in zip(param_grads, expected[3]):
            torch.testing.assert_close(got, want, rtol=0, atol=0)


@backends
@variant_configs
def test_gradcheck(config, backend):
    """Finite differences agree with autograd through the layer: input, hx and every
    parameter, bidirectional, with mixed lengths (training mode: batch statistics)."""
    layer = make_layer(config, bidirectional=True, backend=backend).train()
    names = [name for name, _ in layer.named_parameters()]
    x = torch.randn(4, 3, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, H, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 1, 2])

    def run(x, h0, *params):
        output, h_n = functional_call(
            layer, dict(zip(names, params)), (x, h0), {"lengths": lengths}
        )
        return output, h_n

    params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
    assert torch.autograd.gradcheck(run, (x, h0, *params), eps=1e-6, atol=1e-7)


def test_ligru_batch_statistics_exclude_padding():
    """Training mode: running statistics move towards the mean and unbiased variance of the
    input projection over valid steps only, with momentum 0.1."""
    layer = grukit.GRU(I, H, variant="ligru", dtype=torch.float64).train()
    x = torch.randn(T, B, I, dtype=torch.float64)
    layer(x, lengths=LENGTHS)
    valid = torch.arange(T)[:, None] < torch.tensor(LENGTHS)[None, :]
    projection = x[valid] @ layer.weight_ih_l0.detach().T  # (valid steps, 2H)
    torch.testing.assert_close(layer.norm_running_mean_l0, 0.1 * projection.mean(0))
    torch.testing.assert_close(
        layer.norm_running_var_l0, 0.9 + 0.1 * projection.var(0, unbiased=True)
    )


def test_ligru_batch_norm_needs_two_valid_steps():
    layer = grukit.GRU(I, H, variant="ligru").train()
    with pytest.raises(ValueError, match="more than 1 valid time step"):
        layer(torch.randn(1, 1, I))
    layer.eval()(torch.randn(1, 1, I))  # running statistics: fine


def test_dropout_acts_between_layers_in_training_only():
    layer = grukit.GRU(I, H, 2, dropout=0.5, dtype=torch.float64)
    x = torch.randn(T, B, I, dtype=torch.float64)
    eval_output = layer.eval()(x)[0]
    no_dropout = grukit.GRU(I, H, 2, dtype=torch.float64)
    no_dropout.load_state_dict(layer.state_dict())
    torch.testing.assert_close(eval_output, no_dropout.eval()(x)[0], rtol=0, atol=0)
    assert not torch.allclose(layer.train()(x)[0], eval_output)


@backends
@variant_configs
def test_unbatched_equals_batch_of_one(config, backend):
    layer = make_layer(config, num_layers=2, bidirectional=True, backend=backend).eval()
    x = torch.randn(T, I, dtype=torch.float64)
    hx = torch.randn(4, H, dtype=torch.float64)
    output, h_n = layer(x, hx, lengths=torch.tensor(3))
    batched_output, batched_h_n = layer(x[:, None], hx[:, None], lengths=[3])
    assert output.shape == (T, 2 * H) and h_n.shape == (4, H)
    torch.testing.assert_close(output, batched_output[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(h_n, batched_h_n[:, 0], rtol=0, atol=0)
    cell = grukit.GRUCell(I, H, dtype=torch.float64, **layer_kwargs(config)).eval()
    torch.testing.assert_close(cell(x[0], hx[0]), cell(x[:1], hx[:1])[0], rtol=0, atol=0)
