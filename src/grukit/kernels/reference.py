"""The reference sequence runner: a plain time loop over a cell's step.

It is the source of truth every other backend is tested against. It runs in any dtype
(float64 for gradcheck) on any device, and autograd flows through it. The input projection
of all time steps is one GEMM; the loop then walks ``gi.unbind(0)`` (indexing ``gi[t]``
inside the loop would make backward O(T^2): each index's backward writes a full-size
gradient).

Shape legend: ``T`` time, ``B`` batch, ``I`` input features, ``H`` hidden units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from grukit.cells.spec import CellSpec, Linear, Params
from grukit.masks import valid_steps


def reverse_sequences(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence within its own length; padding stays where it is.

    x (T, B, F), lengths (B,) -> (T, B, F) with out[t, b] = x[lengths[b] - 1 - t, b] for
    t < lengths[b] and x[t, b] otherwise. The map is its own inverse.
    """
    if lengths is None:
        return x.flip(0)
    steps = torch.arange(x.shape[0], device=x.device)[:, None]
    last = lengths.to(x.device)[None, :] - 1
    index = torch.where(steps <= last, last - steps, steps)
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


Recurrence = Callable[[CellSpec, Tensor, Tensor, Params, "Tensor | None"], tuple[Tensor, Tensor]]
"""(spec, gi (T, B, G_i*H), h0 (B, H), params, lengths) -> output (T, B, H), h_n (B, H)."""


def loop_recurrence(
    spec: CellSpec, gi: Tensor, h0: Tensor, params: Params, lengths: Tensor | None
) -> tuple[Tensor, Tensor]:
    """The recurrence as a Python loop over ``spec.step``: the reference.

    gi (T, B, G_i*H) is the input projection of every step (padded steps hold anything);
    output (T, B, H) is zero at padded steps; h_n (B, H) is each sequence's last state.
    With ``params["zoneout"]`` (k: (T, B, H) or a float) each unit keeps k of its old
    state: ``h_t = h_{t-1} + k (.) (step(...) - h_{t-1})`` with (1 - k) in place of k.
    """
    num_steps = gi.shape[0]
    zoneout = params.get("zoneout")
    keeps = (
        [zoneout] * num_steps
        if zoneout is None or not isinstance(zoneout, Tensor)
        else list(zoneout.unbind(0))
    )

    def step(gi_t: Tensor, h: Tensor, keep) -> Tensor:
        h_next = spec.step(gi_t, h, params)
        return h_next if keep is None else h_next + keep * (h - h_next)

    h = h0
    outputs = []
    if lengths is None:
        for gi_t, keep in zip(gi.unbind(0), keeps):
            h = step(gi_t, h, keep)
            outputs.append(h)
        return torch.stack(outputs), h
    valid = valid_steps(lengths, num_steps)
    active = int(lengths.max())  # steps past every sequence's end are skipped
    for gi_t, valid_t, keep in zip(gi[:active].unbind(0), valid[:active].unbind(0), keeps):
        h_next = step(gi_t, h, keep)
        outputs.append(torch.where(valid_t, h_next, 0))
        h = torch.where(valid_t, h_next, h)
    outputs.extend([h.new_zeros(h.shape)] * (num_steps - active))
    return torch.stack(outputs), h


def keep_params(spec: CellSpec, params: Params) -> Params:
    """The reference projects with the parameters as they are."""
    return params


@dataclass(frozen=True)
class Kernels:
    """What a backend plugs into :func:`run_sequence`.

    Attributes:
        recurrence: the time loop over the projected input.
        linear: the GEMM with bias of the input projection.
        prepare: (spec, params) -> params for the projection (a backend may fold biases).
    """

    recurrence: Recurrence = loop_recurrence
    linear: Linear = torch.nn.functional.linear
    prepare: Callable[[CellSpec, Params], Params] = keep_params


REFERENCE_KERNELS = Kernels()


def run_sequence(
    spec: CellSpec,
    x: Tensor,
    h0: Tensor,
    params: Params,
    lengths: Tensor | None = None,
    *,
    reverse: bool = False,
    training: bool = False,
    kernels: Kernels = REFERENCE_KERNELS,
) -> tuple[Tensor, Tensor]:
    """Run one layer and direction of a cell over a batch of sequences.

    Padding, direction and the input projection are handled here, once for every backend;
    ``kernels`` supply the projection's GEMM and the time loop (the reference's by default).

    Args:
        spec: the variant.
        x: (T, B, I) input.
        h0: (B, H) initial state.
        params: the cell's tensors by role, for this layer and direction.
        lengths: (B,) int64 on x's device, 1 <= lengths <= T, or None for all T.
        reverse: run from each sequence's own last step back to its first.
        training: batch statistics (and running-statistic updates) for batch norm.
        kernels: the backend's pieces.

    Returns:
        output (T, B, H), zero at padded steps; h_n (B, H), each sequence's state after
        its own last step.
    """
    valid = None if lengths is None else valid_steps(lengths, x.shape[0])
    if valid is not None:
        # Padded inputs are replaced before anything reads them: not even a NaN there can
        # reach an output, a statistic or a gradient.
        x = torch.where(valid, x, 0)
    if reverse:
        x = reverse_sequences(x, lengths)
    params = kernels.prepare(spec, params)
    gi = spec.project_input(x, params, valid, training, kernels.linear)
    output, h_n = kernels.recurrence(spec, gi, h0, params, lengths)
    if reverse:
        output = reverse_sequences(output, lengths)
    return output, h_n
