"""Next-step polyphonic music model and its metric (Chung et al. 2014; Bai et al. 2018).

    h_t = recurrent(x_1..x_t);  p(y_{t+1,k} = 1) = sigmoid(W h_t + b)_k   for the 88 keys

Shape legend: T time, B batch, K keys (88), H hidden units.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grukit.kernels.reference import valid_steps
from grukit.models.heads import StepReadout


def polyphonic_nll(logits: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
    """Negative log-likelihood in nats summed over keys and over valid steps, and the number
    of valid steps: their ratio is the papers' per-step NLL.

    logits, targets (T, B, K); lengths (B,). Padded steps never enter the sum.
    """
    per_key = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    valid = valid_steps(lengths.to(logits.device), logits.shape[0])  # (T, B, 1)
    total = torch.where(valid, per_key, 0).sum()
    return total, int(lengths.sum())


class PolyphonicModel(StepReadout):
    """A recurrent layer (any grukit variant, torch.nn.LSTM or torch.nn.RNN), then a linear
    read-out to one logit per key: inputs (T, B, K), lengths (B,) -> logits (T, B, K).

    Args:
        recurrent: the layer; time-major, unidirectional.
        keys: K, input and output width (88 piano keys).
    """

    def __init__(self, recurrent: nn.Module, keys: int = 88) -> None:
        super().__init__(recurrent, keys)
