"""Pieces of the reference runner: valid-step masks and per-sequence reversal."""

from __future__ import annotations

import torch

from grukit.kernels import reverse_sequences, valid_steps


def test_valid_steps():
    mask = valid_steps(torch.tensor([3, 1]), 4)
    assert mask.shape == (4, 2, 1)
    assert mask.squeeze(-1).T.tolist() == [[True, True, True, False], [True, False, False, False]]


def test_reverse_sequences_within_lengths():
    x = torch.arange(8.0).reshape(4, 2, 1)  # x[t, b] = 2t + b
    out = reverse_sequences(x, torch.tensor([3, 1])).squeeze(-1).T
    assert out.tolist() == [[4.0, 2.0, 0.0, 6.0], [1.0, 3.0, 5.0, 7.0]]
    torch.testing.assert_close(
        reverse_sequences(reverse_sequences(x, torch.tensor([3, 1])), torch.tensor([3, 1])), x
    )
    torch.testing.assert_close(reverse_sequences(x, None), x.flip(0))
