"""Stateful models: the state a model returns continues its sequences exactly (truncated
BPTT), ``step()`` over T steps equals ``forward`` over T, and per-step heads allow a
bidirectional layer only where the task does not predict later steps."""

from __future__ import annotations

import pytest
import torch

import grukit
from grukit.models import ModelConfig, StepReadout, build_model
from grukit.tasks.music.next_step import polyphonic_nll

KINDS = ["gru", "lstm", "rnn"]


def per_step_model(kind: str, layers: int = 2, **options) -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(model=kind, hidden=7, layers=layers, **options)
    return build_model(config, 5, 5, head="step").eval()


def assert_same_state(a, b):
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_carried_state_continues_the_sequence(kind):
    """Two halves, the state of the first fed to the second, give the outputs, final state
    and loss of one pass over the whole sequence; with lengths too."""
    model = per_step_model(kind)
    inputs = torch.randn(12, 3, 5)
    targets = (torch.rand(12, 3, 5) > 0.5).float()
    whole, whole_state = model(inputs)
    first, state = model(inputs[:5])
    second, final = model(inputs[5:], state=state)
    torch.testing.assert_close(torch.cat([first, second]), whole, rtol=1e-5, atol=1e-6)
    assert_same_state(final, whole_state)
    full = torch.full((3,), 12)
    loss = polyphonic_nll(whole, targets, full)[0]
    halves = (
        polyphonic_nll(first, targets[:5], torch.full((3,), 5))[0]
        + polyphonic_nll(second, targets[5:], torch.full((3,), 7))[0]
    )
    torch.testing.assert_close(halves, loss, rtol=1e-5, atol=1e-5)
    # With lengths: the state returned is each sequence's own last one.
    lengths = torch.tensor([12, 9, 12])
    _, padded_state = model(inputs, lengths)
    _, alone_state = model(inputs[:9, 1:2])
    h_padded = padded_state[0] if kind == "lstm" else padded_state
    h_alone = alone_state[0] if kind == "lstm" else alone_state
    torch.testing.assert_close(h_padded[:, 1], h_alone[:, 0], rtol=1e-5, atol=1e-6)


def test_carried_state_trains_through_the_halves_like_one_pass():
    """Truncated BPTT's gradient: through both halves (no detach) it equals one pass's."""
    model = per_step_model("gru").train()
    inputs = torch.randn(10, 2, 5)
    model(inputs)[0].square().sum().backward()
    whole = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    first, state = model(inputs[:4])
    second, _ = model(inputs[4:], state=state)
    (first.square().sum() + second.square().sum()).backward()
    for a, b in zip(whole, (p.grad for p in model.parameters())):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", [*KINDS, *[v for v in grukit.VARIANTS if v != "gru"]])
def test_step_equals_forward(kind):
    """step() T times (the fused streaming path for grukit layers) = forward over T."""
    model = per_step_model(kind)
    inputs = torch.randn(9, 2, 5)
    expected, expected_state = model(inputs)
    state = None
    for t in range(9):
        output, state = model.step(inputs[t], state)
        torch.testing.assert_close(output, expected[t], rtol=1e-4, atol=1e-5)
    assert_same_state(state, expected_state)


def test_step_follows_the_weights_after_training():
    """step() works from the current weights: it notices an optimizer's in-place update."""
    model = per_step_model("gru", layers=1)
    x = torch.randn(1, 5)
    before = model.step(x)[0]
    with torch.no_grad():
        model.recurrent.weight_hh_l0.add_(0.5)
        model.recurrent.weight_ih_l0.add_(0.5)
    after = model.step(x)[0]
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, model(x[None])[0][0], rtol=1e-5, atol=1e-6)


def test_step_through_an_embedding():
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(model="gru", hidden=6), 4, 11, head="step", vocabulary_size=11
    ).eval()
    ids = torch.randint(1, 11, (7, 3))
    expected, _ = model(ids)
    state = None
    for t in range(7):
        output, state = model.step(ids[t], state)
        torch.testing.assert_close(output, expected[t], rtol=1e-4, atol=1e-5)


def test_pooled_step_reads_the_state_so_far():
    torch.manual_seed(0)
    model = build_model(ModelConfig(model="gru", hidden=6), 3, 2, head="pooled").eval()
    inputs = torch.randn(5, 2, 3)
    state = None
    for t in range(5):
        output, state = model.step(inputs[t], state)
    torch.testing.assert_close(output, model(inputs)[0], rtol=1e-4, atol=1e-5)
    mean = build_model(ModelConfig(model="gru", hidden=6, pooling="mean"), 3, 2, head="pooled")
    with pytest.raises(ValueError, match="step: got pooling 'mean', wanted 'last'"):
        mean.step(inputs[0])


def test_bidirectional_per_step_heads_only_where_the_future_is_not_predicted():
    config = ModelConfig(model="gru", hidden=4, bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional: this task predicts later steps"):
        build_model(config, 3, 2, head="step")
    tagger = build_model(config, 3, 2, head="step", causal=False).eval()  # tagging, CTC
    inputs = torch.randn(6, 2, 3)
    outputs, state = tagger(inputs, torch.tensor([6, 4]))
    assert outputs.shape == (6, 2, 2) and state.shape == (2, 2, 4)
    # The output at step 0 depends on later steps: the backward direction read them.
    changed = inputs.clone()
    changed[5, 0] += 1.0
    assert not torch.allclose(tagger(changed, torch.tensor([6, 4]))[0][0, 0], outputs[0, 0])
    with pytest.raises(ValueError, match="step: got a bidirectional model"):
        tagger.step(inputs[0])
    lstm = build_model(
        ModelConfig(model="lstm", hidden=4, bidirectional=True), 3, 2, head="step", causal=False
    ).eval()
    outputs = lstm(inputs)[0]
    assert outputs.shape == (6, 2, 2)
    assert not torch.allclose(lstm(changed)[0][0, 0], outputs[0, 0])  # it reads ahead too


def test_step_readout_refuses_bidirectional_by_default():
    with pytest.raises(ValueError, match="read forwards only"):
        StepReadout(grukit.GRU(2, 3, bidirectional=True), 2)


def test_step_follows_a_change_of_dtype_and_of_data():
    """.double() and .data = ... keep the tensor objects: step() must see them anyway."""
    model = per_step_model("gru", layers=1).double()
    x = torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(model.step(x)[0], model(x[None])[0][0])
    with torch.no_grad():
        model.recurrent.weight_ih_l0.data = model.recurrent.weight_ih_l0.data * 2
    torch.testing.assert_close(model.step(x)[0], model(x[None])[0][0])


def test_torch_peers_step_without_dropout_in_training_mode():
    model = per_step_model("lstm", dropout=0.5).train()
    x = torch.randn(2, 5)
    first, second = model.step(x)[0], model.step(x)[0]
    torch.testing.assert_close(first, second)
    assert model.recurrent.training  # the mode is given back


def test_regularisers_reach_the_layer_and_are_refused_for_torch_peers():
    model = build_model(
        ModelConfig(model="mgu", hidden=4, zoneout=0.1, dropout_mode="locked", input_dropout=0.2),
        3,
        2,
        head="step",
    )
    layer = model.recurrent
    assert (layer.zoneout, layer.dropout_mode, layer.input_dropout) == (0.1, "locked", 0.2)
    with pytest.raises(ValueError, match="zoneout: got 0.1 for model 'lstm'; it is an option"):
        ModelConfig(model="lstm", zoneout=0.1)
