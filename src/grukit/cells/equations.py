r"""The gru family's step, stated once for torch tensors and NumPy arrays alike.

The reference runner (``grukit.kernels.reference``) calls :func:`gated_step` on torch
tensors, with autograd through it; the NumPy engine of the inference wing
(``grukit.inference.numpy_engine``) calls the same function on NumPy arrays, so that a
language model is stepped without importing torch (1.4-1.6 s of ``grukit generate``'s
start otherwise). This module therefore imports no torch: the few operations that
differ between the two (the logistic function, tanh, a zero vector, broadcasting a
gate) are taken from the array itself, torch's methods where it has them.

Shape legend: ``B`` batch, ``H`` hidden units; the equations are in ``grukit.cells.gru``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any  # a torch.Tensor or a numpy.ndarray
Params = dict  # role -> array, as grukit.cells.spec.Params


def sigmoid(a: Array) -> Array:
    """The logistic function: torch's for a tensor; for an array, its tanh form, which
    neither overflows nor warns for large |a|."""
    return a.sigmoid() if hasattr(a, "sigmoid") else 0.5 * np.tanh(0.5 * a) + 0.5


def tanh(a: Array) -> Array:
    return a.tanh() if hasattr(a, "tanh") else np.tanh(a)


def _zeros_like_row(h: Array, size: int) -> Array:
    return h.new_zeros(size) if hasattr(h, "new_zeros") else np.zeros(size, h.dtype)


def _broadcast(gate: Array, h: Array) -> Array:
    return gate.expand_as(h) if hasattr(gate, "expand_as") else np.broadcast_to(gate, h.shape)


def recurrent_input(h: Array, params: Params) -> Array:
    """The state the recurrent matmuls read: ``h``, or ``m (.) h`` with recurrent dropout."""
    mask = params.get("recurrent_mask")
    return h if mask is None else h * mask


def recurrent_matmul(params: Params, inputs: Array, rows: slice) -> Array:
    """``inputs W_hh[rows]^T``: the recurrent projection of the gates in ``rows``; with
    ``norm_weight_hh`` (layer norm, torch tensors only), each gate's block normalised and
    scaled, ``g (.) LN(inputs W^T)`` (Ba et al. 2016)."""
    out = inputs @ params["weight_hh"][rows].T
    gain = params.get("norm_weight_hh")
    if gain is None:
        return out
    from grukit.cells.spec import layer_norm_blocks  # torch: only a torch layer has a gain

    return layer_norm_blocks(out, inputs.shape[-1]) * gain[rows]


def gru_family_flags(name: str, reset_after: bool) -> dict:
    """What :func:`gated_step` needs to know of ``gru``, ``gru1``, ``gru2`` or ``gru3``:
    whether the gates read the input and the state, whether their biases are in
    ``bias_hh``, and where the reset acts."""
    return {
        "gates_read_input": name == "gru",
        "gates_read_state": name in ("gru", "gru1", "gru2"),
        "gate_bias_in_hh": name in ("gru1", "gru3") or (name == "gru" and reset_after),
        "reset_after": reset_after,
    }


def gated_step(
    gi: Array,
    h: Array,
    params: Params,
    *,
    gates_read_input: bool,
    gates_read_state: bool,
    gate_bias_in_hh: bool,
    reset_after: bool,
    record: dict | None = None,
) -> Array:
    """One step of the ``gru`` family: (B, G_i*H), (B, H) -> (B, H).

    ``gi`` is the input projection ``W_i x + b_i`` of this step: rows r, z, n when the
    gates read the input, else n only. ``record``, if given, receives the gates r and z.
    """
    H = h.shape[-1]
    b_hh = params.get("bias_hh")
    h_read = recurrent_input(h, params)  # what the matmuls see; the update keeps h

    if gates_read_input:
        gate_input, n_input = gi[:, : 2 * H], gi[:, 2 * H :]
    else:
        gate_input, n_input = None, gi

    gate_bias = b_hn = None
    if b_hh is not None:
        if gate_bias_in_hh:
            gate_bias, b_hh = b_hh[: 2 * H], b_hh[2 * H :]
        if reset_after:
            b_hn = b_hh

    gate_state = n_state = None
    n_rows = slice(2 * H, 3 * H) if gates_read_state else slice(0, H)  # W_hn in weight_hh
    if gates_read_state:
        if reset_after:
            # One GEMM for all three gates: [W_hr h, W_hz h, W_hn h].
            gh = recurrent_matmul(params, h_read, slice(None))
            gate_state, n_state = gh[:, : 2 * H], gh[:, 2 * H :]
        else:
            gate_state = recurrent_matmul(params, h_read, slice(0, 2 * H))
    elif reset_after:
        n_state = recurrent_matmul(params, h_read, n_rows)

    terms = [t for t in (gate_input, gate_state, gate_bias) if t is not None]
    gate_pre = sum(terms[1:], terms[0]) if terms else _zeros_like_row(h, 2 * H)
    gates = sigmoid(gate_pre)
    r, z = gates[..., :H], gates[..., H:]
    if record is not None:
        record.update(r=_broadcast(r, h), z=_broadcast(z, h))

    if reset_after:
        if b_hn is not None:
            n_state = n_state + b_hn
        n = tanh(n_input + r * n_state)
    else:
        n = tanh(n_input + recurrent_matmul(params, r * h_read, n_rows))
    return n + z * (h - n)
