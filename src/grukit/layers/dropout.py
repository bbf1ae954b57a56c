"""Dropout over a time-major sequence, as the GRU layer and the task heads share it.

``step`` is torch's dropout: a new Bernoulli(1 - p) mask for every element, so each time
step of a sequence loses different units. ``locked`` (Gal & Ghahramani 2016's variational
dropout on the non-recurrent connections, AWD-LSTM's ``LockedDropout``, Merity et al.
2017) draws one mask per sequence, (1, B, F), and every step of that sequence loses the
same units. Both scale kept values by 1/(1 - p), so the expectation is the input.
"""

from __future__ import annotations

from torch import Tensor, nn

from grukit.layers.checks import check_dropout

DROPOUT_MODES = ("step", "locked")


def check_dropout_mode(mode: str) -> str:
    if mode not in DROPOUT_MODES:
        raise ValueError(f"dropout_mode: got {mode!r}, wanted one of {', '.join(DROPOUT_MODES)}")
    return mode


def sequence_dropout(x: Tensor, p: float, mode: str) -> Tensor:
    """Training-time dropout on ``x`` (T, B, F), or on (B, F) (one step: both modes are
    the same there), with probability ``p``; the caller decides whether it is training."""
    if check_dropout_mode(mode) == "step" or x.dim() < 3:
        return nn.functional.dropout(x, p, training=True)
    if p == 1:
        return x * 0
    mask = x.new_empty(1, *x.shape[1:]).bernoulli_(1 - p) / (1 - p)
    return x * mask


class SequenceDropout(nn.Module):
    """``sequence_dropout`` as a module: identity in eval mode or with p = 0."""

    def __init__(self, p: float = 0.0, mode: str = "step") -> None:
        super().__init__()
        self.p = check_dropout(p)
        self.mode = check_dropout_mode(mode)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or not self.p:
            return x
        return sequence_dropout(x, self.p, self.mode)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"
