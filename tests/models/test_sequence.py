"""The pooled head reads each sequence's own last state (or its valid steps' mean), so
padding never changes a prediction."""

from __future__ import annotations

import pytest
import torch

import grukit
from grukit.models import ModelConfig, PooledReadout, StepReadout, build_model


@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("kind", ["gru", "lstm", "rnn"])
def test_pooled_prediction_ignores_padding(pooling, kind):
    torch.manual_seed(0)
    recurrent = {
        "gru": lambda: grukit.GRU(3, 8),
        "lstm": lambda: torch.nn.LSTM(3, 8),
        "rnn": lambda: torch.nn.RNN(3, 8),
    }[kind]()
    model = PooledReadout(recurrent, 4, pooling)
    lengths = torch.tensor([7, 3, 5])
    inputs = torch.randn(7, 3, 3)
    batched = model(inputs, lengths)[0]
    inputs[3:, 1] = 1e3  # padding of the second sequence
    assert torch.equal(model(inputs, lengths)[0], batched)
    for b in range(3):
        alone = model(inputs[: lengths[b], b : b + 1], lengths[b : b + 1])[0]
        torch.testing.assert_close(alone[0], batched[b], rtol=1e-5, atol=1e-6)
    if pooling == "last":
        hidden = recurrent(inputs[:5, 2:3])[0][-1, 0]
        torch.testing.assert_close(batched[2], model.readout(hidden), rtol=1e-5, atol=1e-6)


def test_bad_pooling():
    with pytest.raises(ValueError, match="pooling: got 'max', wanted one of last, mean"):
        PooledReadout(grukit.GRU(2, 3), 2, "max")


def test_readout_dropout_acts_in_training_only():
    """``dropout`` zeroes read-out inputs in training (scaling the rest by 1/(1-p)) and is
    the identity in eval mode; a task's ModelConfig.dropout reaches it."""
    torch.manual_seed(0)
    recurrent = grukit.GRU(3, 64)
    model = StepReadout(recurrent, 1, dropout=0.5)
    model.readout.bias.data.zero_()
    inputs, lengths = torch.randn(4, 2, 3), torch.tensor([4, 4])
    hidden = recurrent(inputs)[0]
    model.eval()
    torch.testing.assert_close(model(inputs, lengths)[0], model.readout(hidden))
    model.train()
    model.readout.weight.data.fill_(1.0)
    torch.manual_seed(1)
    kept = torch.nn.functional.dropout(torch.ones_like(hidden), 0.5)  # the same draw
    torch.manual_seed(1)
    trained = model(inputs, lengths)[0]
    torch.testing.assert_close(trained[..., 0], (hidden * kept).sum(-1))
    assert 0 < (kept == 0).float().mean() < 1

    built = build_model(ModelConfig(model="lstm", hidden=5, dropout=0.25), 3, 2, head="pooled")
    assert built.dropout.p == 0.25 and built.recurrent.dropout == 0.0  # one layer: none between


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_bidirectional_last_pooling_reads_each_directions_final_state(kind):
    """ "last" with two directions is [forward state after the last step; backward state
    after reading back to the first], whatever the padding."""
    torch.manual_seed(0)
    config = ModelConfig(model=kind, hidden=5, bidirectional=True)
    model = build_model(config, 3, 2, head="pooled")
    model.readout = torch.nn.Identity()  # look at the pooled state itself
    lengths = torch.tensor([6, 2, 4])
    inputs = torch.randn(6, 3, 3)
    inputs[2:, 1] = 1e3  # padding
    pooled = model(inputs, lengths)[0]
    for b in range(3):
        alone = inputs[: lengths[b], b : b + 1]
        h_n = model.recurrent(alone)[1]
        h_n = h_n[0] if kind == "lstm" else h_n  # (directions, 1, H)
        torch.testing.assert_close(
            pooled[b], torch.cat([h_n[0, 0], h_n[1, 0]]), rtol=1e-5, atol=1e-6
        )


def test_per_step_models_refuse_to_read_backwards():
    with pytest.raises(ValueError, match="bidirectional: this task predicts later steps"):
        StepReadout(grukit.GRU(2, 3, bidirectional=True), 2)
