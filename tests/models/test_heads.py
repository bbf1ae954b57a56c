"""The pooled head reads each sequence's own last state (or its valid steps' mean), so
padding never changes a prediction."""

from __future__ import annotations

import pytest
import torch

import grukit
from grukit.models import PooledReadout


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
    batched = model(inputs, lengths)
    inputs[3:, 1] = 1e3  # padding of the second sequence
    assert torch.equal(model(inputs, lengths), batched)
    for b in range(3):
        alone = model(inputs[: lengths[b], b : b + 1], lengths[b : b + 1])
        torch.testing.assert_close(alone[0], batched[b], rtol=1e-5, atol=1e-6)
    if pooling == "last":
        hidden = recurrent(inputs[:5, 2:3])[0][-1, 0]
        torch.testing.assert_close(batched[2], model.readout(hidden), rtol=1e-5, atol=1e-6)


def test_bad_pooling():
    with pytest.raises(ValueError, match="pooling: got 'max', wanted one of last, mean"):
        PooledReadout(grukit.GRU(2, 3), 2, "max")
