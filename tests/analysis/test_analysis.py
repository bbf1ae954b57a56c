"""The step-by-step unroll equals the layers; dL/dh_t equals a direct autograd computation;
the gate maps are the gates; `grukit analyze` writes its plots."""

from __future__ import annotations

import json

import pytest
import torch

import grukit
from grukit.analysis.gates import gate_maps
from grukit.analysis.gradients import state_gradient_norms
from grukit.analysis.unroll import unroll
from grukit.cli import main
from grukit.models import PooledReadout
from helpers import VARIANT_CONFIGS, config_id, layer_kwargs


@pytest.mark.parametrize("config", VARIANT_CONFIGS, ids=config_id)
def test_unroll_equals_the_layer(config):
    torch.manual_seed(0)
    layer = grukit.GRU(3, 5, 2, **layer_kwargs(config), dtype=torch.float64).eval()
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    states, gates = unroll(layer, x)
    torch.testing.assert_close(torch.stack(states), layer(x)[0])
    update = layer.spec.update_gate
    assert gates[update].shape == gates[f"{update}_l1"].shape == (7, 2, 5)


@pytest.mark.parametrize("variant", ["gru", "mgu", "ligru"])
def test_unroll_equals_a_bidirectional_layer(variant):
    """Both directions, two layers: the states are [forward; backward] in time order, and
    the reverse direction's gates are there too."""
    torch.manual_seed(0)
    layer = grukit.GRU(3, 5, 2, bidirectional=True, variant=variant, dtype=torch.float64)
    layer.eval()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    states, gates = unroll(layer, x)
    torch.testing.assert_close(torch.stack(states), layer(x)[0])
    update = layer.spec.update_gate
    assert {update, f"{update}_rev", f"{update}_l1_rev"} <= set(gates)
    maps = gate_maps(layer, x[:, :1])
    assert {"keep", "keep_rev", "keep_l1", "keep_l1_rev"} <= set(maps)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_unroll_equals_torch(kind):
    torch.manual_seed(0)
    layer = (torch.nn.LSTM if kind == "lstm" else torch.nn.RNN)(3, 5).double()
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(torch.stack(unroll(layer, x)[0]), layer(x)[0])


@pytest.mark.parametrize("variant", ["gru", "mingru"])
def test_gradient_norms_equal_direct_autograd(variant):
    """dL/dh_t from the unroll against restarting the layer itself from a leaf h_t."""
    torch.manual_seed(0)
    model = PooledReadout(grukit.GRU(2, 4, variant=variant, dtype=torch.float64), 1).double()
    x = torch.randn(9, 3, 2, dtype=torch.float64)
    target = torch.randn(3, dtype=torch.float64)

    def loss(last_state, model=model):
        return ((model.readout(last_state)[:, 0] - target) ** 2).mean()

    norms = state_gradient_norms(model, x, lambda copy, h: loss(h, copy))
    assert norms.shape == (9,)
    states = model.recurrent(x)[0]
    for t in range(9):
        h_t = states[t].detach().requires_grad_()
        if t == 8:
            last = h_t
        else:
            last = model.recurrent(x[t + 1 :], h_t[None])[1][0]
        (grad,) = torch.autograd.grad(loss(last), h_t)
        torch.testing.assert_close(norms[8 - t], grad.norm(dim=-1).mean())


def test_gate_maps_are_the_gates():
    torch.manual_seed(0)
    x = torch.randn(6, 1, 3)
    mingru = grukit.GRU(3, 4, variant="mingru")
    z = torch.sigmoid(x[:, 0] @ mingru.weight_ih_l0[:4].T + mingru.bias_ih_l0[:4])
    torch.testing.assert_close(gate_maps(mingru, x)["keep"], 1 - z)  # mingru's z writes
    gru = grukit.GRU(3, 4)
    maps = gate_maps(gru, x)
    reference = torch.nn.GRUCell(3, 4)
    reference.load_state_dict({k.removesuffix("_l0"): v for k, v in gru.state_dict().items()})
    h = torch.zeros(1, 4)
    for t in range(6):
        gi = x[t] @ gru.weight_ih_l0.T + gru.bias_ih_l0
        gh = h @ gru.weight_hh_l0.T + gru.bias_hh_l0
        r = torch.sigmoid(gi[:, :4] + gh[:, :4])
        z = torch.sigmoid(gi[:, 4:8] + gh[:, 4:8])
        torch.testing.assert_close(maps["reset"][t], r[0])
        torch.testing.assert_close(maps["keep"][t], z[0])
        h = reference(x[t], h)


def test_analyze_commands_write_their_plots(tmp_path, capsys):
    out = tmp_path / "gradients"
    argv = [
        "analyze",
        "gradients",
        "--seq-len",
        "12",
        "--models",
        "rnn,gru+chrono",
        "--epochs",
        "1",
    ]
    assert main([*argv, "--train-size", "64", "--batch", "8", f"--out={out}"]) == 0
    assert (out / "gradients.png").stat().st_size > 10_000
    curves = json.loads((out / "gradients.json").read_text())
    assert (
        set(curves) == {"untrained", "trained"} and len(curves["trained"]["gru+chrono (64)"]) == 12
    )
    assert "| rnn (" in (out / "gradients.md").read_text()
    checkpoint = out / "models" / "gru-chrono-64" / "best"
    assert main(["analyze", "gates", str(checkpoint), "--index", "2"]) == 0
    printed = capsys.readouterr().out
    assert "keep: mean" in printed and "reset: mean" in printed
    assert (checkpoint.parent / "gates.png").stat().st_size > 10_000
    assert main(["analyze", "gates", str(checkpoint), "--index", "99"]) == 2
    assert "index: got 99, wanted 0..7" in capsys.readouterr().err
