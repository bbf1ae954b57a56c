"""Run a task model's recurrent layer one step at a time in plain PyTorch, keeping every
state h_t (as a node of the autograd graph, so dLoss/dh_t can be read off) and, for grukit
variants, every gate activation. Slow and only for analysis: training runs the kernels.

Shape legend: T time, B batch, I input features, H hidden units.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grukit.layers import GRU


def unroll(recurrent: nn.Module, inputs: Tensor) -> tuple[list[Tensor], dict[str, Tensor]]:
    """States [h_1 .. h_T] of the last layer, each (B, H), and the gates of every layer by
    name (``"z"``, ``"r"``, ``"f"``; ``"z_l1"`` for layer 1 ...), each (T, B, H).

    recurrent: a grukit ``GRU`` (any depth, either direction: a bidirectional layer's states
    are [forward; backward], (B, 2H), its reverse gates named ``"z_rev"``, ...), or a
    single-layer
    torch.nn.LSTM / torch.nn.RNN; run as in eval mode. inputs: (T, B, I), full length.
    """
    if isinstance(recurrent, GRU):
        return _unroll_grukit(recurrent, inputs)
    if getattr(recurrent, "num_layers", 1) != 1 or getattr(recurrent, "bidirectional", False):
        raise ValueError("recurrent: wanted a single-layer unidirectional torch LSTM or RNN")
    if isinstance(recurrent, nn.LSTM):
        return _unroll_lstm(recurrent, inputs), {}
    if isinstance(recurrent, nn.RNN):
        return _unroll_rnn(recurrent, inputs), {}
    raise TypeError(f"recurrent: got {type(recurrent).__name__}, wanted GRU, LSTM or RNN")


def _unroll_grukit(layer: GRU, inputs: Tensor) -> tuple[list[Tensor], dict[str, Tensor]]:
    """Each layer, each direction: the reverse direction reads the sequence backwards and
    its states and gates are put back in time order (suffix ``_rev``), so that every
    picture's step t is the input's step t; a layer above reads [forward; backward]."""
    spec = layer.spec
    x, gates = inputs, {}
    for k in range(layer.num_layers):
        per_direction = []
        for direction in range(2 if layer.bidirectional else 1):
            params = layer.cell_params(k, direction)
            source = x if direction == 0 else x.flip(0)
            gi = spec.project_input(source, params, None, False)
            h = inputs.new_zeros(inputs.shape[1], layer.hidden_size)
            states, records = [], []
            for gi_t in gi.unbind(0):
                record: dict = {}
                h = spec.step(gi_t, h, params, record=record)
                states.append(h)
                records.append(record)
            if direction == 1:
                states, records = states[::-1], records[::-1]
            suffix = (f"_l{k}" if k else "") + ("_rev" if direction else "")
            for name in records[0]:
                gates[name + suffix] = torch.stack([record[name] for record in records])
            per_direction.append(states)
        # One direction: its own states, the nodes dL/dh_t is read from (a copy made by cat
        # would not lie on the path from h_t to the loss).
        states = per_direction[0]
        if len(per_direction) == 2:
            states = [torch.cat(step, -1) for step in zip(*per_direction)]
        x = torch.stack(states)
    return states, gates


def _unroll_lstm(lstm: nn.LSTM, inputs: Tensor) -> list[Tensor]:
    """i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh); c' = f c + i g; h' = o tanh(c')."""
    gi = nn.functional.linear(inputs, lstm.weight_ih_l0, lstm.bias_ih_l0)
    h = c = inputs.new_zeros(inputs.shape[1], lstm.hidden_size)
    states = []
    for gi_t in gi.unbind(0):
        i, f, g, o = (gi_t + nn.functional.linear(h, lstm.weight_hh_l0, lstm.bias_hh_l0)).chunk(
            4, -1
        )
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        states.append(h)
    return states


def _unroll_rnn(rnn: nn.RNN, inputs: Tensor) -> list[Tensor]:
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""
    if rnn.nonlinearity != "tanh":
        raise ValueError("recurrent: wanted a tanh RNN")
    gi = nn.functional.linear(inputs, rnn.weight_ih_l0, rnn.bias_ih_l0)
    h = inputs.new_zeros(inputs.shape[1], rnn.hidden_size)
    states = []
    for gi_t in gi.unbind(0):
        h = torch.tanh(gi_t + nn.functional.linear(h, rnn.weight_hh_l0, rnn.bias_hh_l0))
        states.append(h)
    return states
