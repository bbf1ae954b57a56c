"""Stateful task models: an optional embedding, a recurrent layer and a linear read-out,
per step or per sequence, with the recurrent state in and out.

Every model has

- ``forward(inputs, lengths=None, state=None) -> (outputs, state)``: inputs (T, B, I), or
  token ids (T, B) when the model has an embedding; lengths (B,) or None (all T steps);
  ``state`` the recurrent layer's initial state (None = zeros) and, returned, its state
  after each sequence's own last step. Feeding the returned state to the next call
  continues the sequences (truncated backpropagation through time; detach it first to
  cut the gradient).
- ``step(input_t, state=None) -> (output_t, state)``: one step of a unidirectional model,
  input_t (B, I) or token ids (B,); inference only (no gradient, eval-mode semantics: no
  dropout). For a grukit layer it runs on the fused streaming path (``grukit.Stream``).

State: (L D, B, H) for a grukit GRU and torch.nn.RNN, the pair (h, c) of such tensors
for torch.nn.LSTM; L layers, D = 2 when bidirectional.

Shape legend: T time, B batch, I input features, H hidden units, O outputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from grukit.layers import GRU
from grukit.layers.dropout import SequenceDropout
from grukit.masks import valid_steps

POOLINGS = ("last", "mean")

State = Tensor | tuple[Tensor, Tensor]


def encode(
    recurrent: nn.Module,
    inputs: Tensor,
    lengths: Tensor | None = None,
    state: State | None = None,
) -> tuple[Tensor, State]:
    """Run a time-major layer over ``inputs`` (T, B, I) with ``lengths`` (B,) or None:
    (outputs (T, B, D H), zero at padded steps; the state after each sequence's last
    step). grukit layers take the lengths directly; torch's go through a PackedSequence."""
    if isinstance(recurrent, GRU):
        return recurrent(inputs, state, lengths=lengths)
    if lengths is None:
        return recurrent(inputs, state)
    packed = pack_padded_sequence(inputs, lengths.cpu(), enforce_sorted=False)
    outputs, state = recurrent(packed, state)
    return pad_packed_sequence(outputs, total_length=inputs.shape[0])[0], state


def check_pooling(pooling: str) -> None:
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: got {pooling!r}, wanted one of {', '.join(POOLINGS)}")


def directions(recurrent: nn.Module) -> int:
    return 2 if getattr(recurrent, "bidirectional", False) else 1


def _versions(module: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer of ``module`` is replaced, updated in place,
    or given new data (``.data = ...``, ``.double()``, ``.to()`` keep the tensor object)."""
    return tuple(
        (id(t), t._version, t.data_ptr(), t.dtype, t.device)
        for t in (*module.parameters(), *module.buffers())
    )


class SequenceModel(nn.Module):
    """The parts every head shares: ``embedding`` (e.g. nn.Embedding for token ids
    (T, B) -> (T, B, I); None = the inputs are features), ``recurrent`` (time-major; a
    grukit GRU, torch.nn.LSTM or torch.nn.RNN), dropout on the read-out's input (identity
    in eval mode; the one regulariser a single layer has on its non-recurrent connections,
    Zaremba et al. 2014; ``dropout_mode`` "step" or "locked", see
    ``grukit.layers.dropout``), and the read-out ``W dropout(h) + b``, which sees both
    directions' states (D H features) of a bidirectional layer."""

    def __init__(
        self,
        recurrent: nn.Module,
        outputs: int,
        dropout: float = 0.0,
        embedding: nn.Module | None = None,
        *,
        dropout_mode: str = "step",
    ) -> None:
        super().__init__()
        if getattr(recurrent, "batch_first", False):
            raise ValueError("recurrent: wanted a time-major layer (batch_first=False)")
        self.embedding = embedding if embedding is not None else nn.Identity()
        self.recurrent = recurrent
        self.dropout = SequenceDropout(dropout, dropout_mode)
        self.readout = nn.Linear(directions(recurrent) * recurrent.hidden_size, outputs)
        self._stream = None  # (key, grukit.Stream) of step(), rebuilt when weights change

    def read(self, hidden: Tensor) -> Tensor:
        """(..., D H) -> (..., O)."""
        return self.readout(self.dropout(hidden))

    def encode(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """The embedded inputs through the recurrent layer: (hidden (T, B, D H), state)."""
        return encode(self.recurrent, self.embedding(inputs), lengths, state)

    @torch.no_grad()
    def step_state(self, input_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One step through the embedding and the recurrent layer: (h_t (B, H) of the last
        layer, the new state)."""
        if directions(self.recurrent) == 2:
            raise ValueError(
                "step: got a bidirectional model, wanted a unidirectional one: the reverse "
                "direction needs the whole sequence before its first output"
            )
        x_t = self.embedding(input_t)
        if isinstance(self.recurrent, GRU):
            stream = self._grukit_stream(x_t.shape[0])
            stream.reset(state)
            h_t = stream(x_t)
            return h_t, stream.state
        training = self.recurrent.training
        self.recurrent.eval()  # no dropout between torch's stacked layers: as the stream
        try:
            output, state = self.recurrent(x_t.unsqueeze(0), state)
        finally:
            self.recurrent.train(training)
        return output[0], state

    def _grukit_stream(self, batch_size: int):
        """A Stream of the current weights: made again after training changed them."""
        key = (batch_size, _versions(self.recurrent))
        if self._stream is None or self._stream[0] != key:
            self._stream = (key, self.recurrent.stream(batch_size))
        return self._stream[1]


class StepReadout(SequenceModel):
    """``y_t = W h_t + b`` at every step: forward -> (outputs (T, B, O), state); padded
    steps' outputs are junk for the loss to leave out.

    ``causal`` (the default): the task predicts what comes later (the next note, a
    recalled digit), so a step's output may depend only on the steps so far and a
    bidirectional layer is refused. ``causal=False`` allows one (tagging, CTC)."""

    def __init__(
        self,
        recurrent: nn.Module,
        outputs: int,
        dropout: float = 0.0,
        embedding: nn.Module | None = None,
        *,
        causal: bool = True,
        dropout_mode: str = "step",
    ) -> None:
        if causal and directions(recurrent) == 2:
            raise ValueError(
                "bidirectional: this task predicts later steps, so its per-step model must "
                "read forwards only (a backward pass would see the steps it is asked to "
                "predict)"
            )
        super().__init__(recurrent, outputs, dropout, embedding, dropout_mode=dropout_mode)

    def forward(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        hidden, state = self.encode(inputs, lengths, state)
        return self.read(hidden), state

    @torch.no_grad()
    def step(self, input_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One step: (y_t (B, O), state); what forward gives at that step in eval mode."""
        h_t, state = self.step_state(input_t, state)
        return self.readout(h_t), state


class PooledReadout(SequenceModel):
    """``y = W pool(h_1..h_len) + b`` per sequence: forward -> (outputs (B, O), state).

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

    def forward(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        hidden, state = self.encode(inputs, lengths, state)  # (T, B, D H), 0 at padding
        if lengths is None:
            lengths = torch.full((hidden.shape[1],), hidden.shape[0], dtype=torch.int64)
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
        return self.read(pooled), state

    @torch.no_grad()
    def step(self, input_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One step: (y (B, O) as if each sequence ended here, state); "last" pooling only
        (a running mean would need the step count in the state)."""
        if self.pooling != "last":
            raise ValueError(f"step: got pooling {self.pooling!r}, wanted 'last'")
        h_t, state = self.step_state(input_t, state)
        return self.readout(h_t), state
