"""The papers' metric by hand, and padding that never changes the loss."""

from __future__ import annotations

import math

import torch

import grukit
from grukit.data import next_step_batch
from grukit.models import StepReadout
from grukit.tasks.music.next_step import polyphonic_nll


def test_metric_equals_hand_computation():
    logits = torch.tensor([[[0.5, -1.0]], [[2.0, 0.0]]])  # (T=2, B=1, K=2)
    targets = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    total, steps = polyphonic_nll(logits, targets, torch.tensor([2]))

    def sigmoid(v):
        return 1 / (1 + math.exp(-v))

    by_hand = -(
        math.log(sigmoid(0.5))
        + math.log(1 - sigmoid(-1.0))
        + math.log(1 - sigmoid(2.0))
        + math.log(sigmoid(0.0))
    )
    assert steps == 2
    assert abs(total.item() - by_hand) < 1e-6


def test_padding_does_not_change_the_loss():
    torch.manual_seed(0)
    logits = torch.randn(4, 2, 88)
    targets = (torch.rand(4, 2, 88) > 0.9).float()
    lengths = torch.tensor([4, 2])
    total, steps = polyphonic_nll(logits, targets, lengths)
    logits[2:, 1] = 1e3
    targets[2:, 1] = 1.0 - targets[2:, 1]
    assert torch.equal(polyphonic_nll(logits, targets, lengths)[0], total) and steps == 6


def test_model_ignores_padding_for_every_recurrent_kind():
    torch.manual_seed(0)
    pieces = [(torch.rand(length, 88) > 0.9).numpy().astype("uint8") for length in (9, 4, 6)]
    batch = next_step_batch(pieces)
    inputs, targets, lengths = batch.inputs, batch.targets, batch.lengths
    for recurrent in (grukit.GRU(88, 12), torch.nn.LSTM(88, 8), torch.nn.RNN(88, 16)):
        model = StepReadout(recurrent, 88)
        total, steps = polyphonic_nll(model(inputs, lengths)[0], targets, lengths)
        alone = sum(
            polyphonic_nll(
                model(inputs[: lengths[b], b : b + 1], lengths[b : b + 1])[0],
                targets[: lengths[b], b : b + 1],
                lengths[b : b + 1],
            )[0]
            for b in range(3)
        )
        assert steps == 8 + 3 + 5
        torch.testing.assert_close(total, alone, rtol=1e-5, atol=1e-4)
