"""Task heads: a recurrent layer and a linear read-out, per step or per sequence.

Shape legend: T time, B batch, I input features, H hidden units, O outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from grukit.kernels.reference import valid_steps
from grukit.layers import GRU

POOLINGS = ("last", "mean")


def encode(recurrent: nn.Module, inputs: Tensor, lengths: Tensor) -> Tensor:
    """Run a time-major unidirectional layer over padded ``inputs`` (T, B, I) with
    ``lengths`` (B,): the outputs (T, B, H), zero at padded steps. grukit layers take the
    lengths directly; torch's go through a PackedSequence."""
    if isinstance(recurrent, GRU):
        return recurrent(inputs, lengths=lengths)[0]
    packed = pack_padded_sequence(inputs, lengths.cpu(), enforce_sorted=False)
    return pad_packed_sequence(recurrent(packed)[0], total_length=inputs.shape[0])[0]


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: got {pooling!r}, wanted one of {', '.join(POOLINGS)}")


def check_recurrent(recurrent: nn.Module) -> None:
    if getattr(recurrent, "batch_first", False):
        raise ValueError("recurrent: wanted a time-major layer")


def directions(recurrent: nn.Module) -> int:
    return 2 if getattr(recurrent, "bidirectional", False) else 1


class Readout(nn.Module):
    """A recurrent layer and a linear read-out ``W dropout(h) + b``. Dropout on the
    read-out's input (identity in eval mode) is the one regulariser a single layer has on
    its non-recurrent connections (Zaremba et al. 2014); stacked layers add their own.
    ``embedding`` (e.g. an nn.Embedding for token ids (T, B) -> (T, B, I)) runs first.
    A bidirectional layer's read-out sees both directions' states, 2H features."""

    def __init__(
        self,
        recurrent: nn.Module,
        outputs: int,
        dropout: float = 0.0,
        embedding: nn.Module | None = None,
    ) -> None:
        super().__init__()
        check_recurrent(recurrent)
        self.embedding = embedding if embedding is not None else nn.Identity()
        self.recurrent = recurrent
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(directions(recurrent) * recurrent.hidden_size, outputs)

    def read(self, hidden: Tensor) -> Tensor:
        """(..., D H) -> (..., O), D = 1 or 2 directions."""
        return self.readout(self.dropout(hidden))


class StepReadout(Readout):
    """``y_t = W h_t + b`` at every step: inputs (T, B, I), lengths (B,) -> (T, B, O).
    Padded steps' outputs are junk for the loss to leave out. The layer must be
    unidirectional: a step's output may depend only on the steps so far."""

    def __init__(self, recurrent: nn.Module, outputs: int, *args, **kwargs) -> None:
        if directions(recurrent) == 2:
            raise ValueError(
                "bidirectional: a per-step model must read forwards only (a backward pass "
                "would see the steps it is asked to predict)"
            )
        super().__init__(recurrent, outputs, *args, **kwargs)

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        return self.read(encode(self.recurrent, self.embedding(inputs), lengths))


class PooledReadout(Readout):
    """``y = W pool(h_1..h_len) + b`` per sequence: inputs (T, B, I), lengths (B,) -> (B, O).

    pooling: "last" takes each sequence's state after its own last step, h_len; "mean"
    averages its valid steps, (1/len) sum_{t<len} h_t. Padding never enters either. With a
    bidirectional layer, "last" is each direction's final state: the forward state at the
    sequence's last step beside the backward state at its first, [h->_len; h<-_1].
    """

    def __init__(
        self,
        recurrent: nn.Module,
        outputs: int,
        pooling: str = "last",
        dropout: float = 0.0,
        embedding: nn.Module | None = None,
    ) -> None:
        check_pooling(pooling)
        super().__init__(recurrent, outputs, dropout, embedding)
        self.pooling = pooling

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        hidden = encode(self.recurrent, self.embedding(inputs), lengths)  # (T, B, H), 0 padded
        lengths = lengths.to(hidden.device)
        if self.pooling == "last":
            index = (lengths - 1).view(1, -1, 1).expand(1, -1, hidden.shape[-1])
            pooled = hidden.gather(0, index)[0]
            if directions(self.recurrent) == 2:  # the backward direction ends at step 0
                forward_size = self.recurrent.hidden_size
                pooled = torch.cat([pooled[:, :forward_size], hidden[0, :, forward_size:]], -1)
        else:
            valid = valid_steps(lengths, hidden.shape[0])
            pooled = hidden.where(valid, 0).sum(0) / lengths.view(-1, 1).to(hidden.dtype)
        return self.read(pooled)
