"""The fused recurrence as PyTorch custom operators, with autograd.

``grukit::recurrence`` runs a whole sequence forward; ``grukit::recurrence_backward`` runs
backward through time. Both are opaque to torch.compile (no graph break) and carry fake
(meta) implementations for tracing. Arguments are the canonical form described in
recurrence.cpp; :mod:`grukit.kernels.cpu.fused` builds it from a CellSpec.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grukit.kernels.cpu.build import load_extension

SAVED_WIDTH = {0: 4, 1: 3, 2: 2, 3: 1}  # gate values saved per step, in units of H, by kind


@torch.library.custom_op("grukit::recurrence", mutates_args=())
def recurrence(
    gi: Tensor,
    h0: Tensor,
    weight_hh: Tensor | None,
    bias_hn: Tensor | None,
    lengths: Tensor | None,
    kind: int,
    reset_after: bool,
    read_state: bool,
    save: bool,
    recurrent_mask: Tensor | None = None,
    zoneout: Tensor | None = None,
    zoneout_p: float = 0.0,
    norm_weight_hh: Tensor | None = None,
    bf16: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """gi (T, B, G*H), h0 (B, H) -> output (T, B, H), h_n (B, H), states, saved, ln_saved.

    ``states`` (T+1, B, H), ``saved`` (T, B, S*H) and ``ln_saved`` (T, B, N + N/H; empty
    without layer norm) are what backward needs; with ``save=False`` (inference) they are
    empty and nothing is kept. Regularisers: ``recurrent_mask`` (B, H) multiplies the
    state the recurrent matmuls read; zoneout keeps ``zoneout`` (T, B, H) (or the constant
    ``zoneout_p``) of the old state; ``norm_weight_hh`` (N) layer-normalises the recurrent
    projection per gate block (reset-after gated kind). ``bf16``: the recurrent GEMMs
    (forward and backward) take bfloat16 operands and sum in float32 (float32 tensors, a
    CPU with AVX512-BF16: ``bf16_supported()``); everything else stays float32.
    """
    output, h_n, states, saved, ln_saved = load_extension().forward(
        gi,
        h0,
        weight_hh,
        bias_hn,
        lengths,
        kind,
        reset_after,
        read_state,
        save,
        recurrent_mask,
        zoneout,
        zoneout_p,
        norm_weight_hh,
        bf16,
    )
    return output, h_n, states, saved, ln_saved


@recurrence.register_fake
def _recurrence_fake(
    gi,
    h0,
    weight_hh,
    bias_hn,
    lengths,
    kind,
    reset_after,
    read_state,
    save,
    recurrent_mask=None,
    zoneout=None,
    zoneout_p=0.0,
    norm_weight_hh=None,
    bf16=False,
):
    steps, batch, _ = gi.shape
    hidden = h0.shape[1]
    if save:
        states = gi.new_empty(steps + 1, batch, hidden)
        saved = gi.new_empty(steps, batch, SAVED_WIDTH[kind] * hidden)
    else:
        states, saved = gi.new_empty(0), gi.new_empty(0)
    ln_saved = gi.new_empty(0)
    if save and norm_weight_hh is not None:
        rows = norm_weight_hh.shape[0]
        ln_saved = gi.new_empty(steps, batch, rows + rows // hidden)
    output = gi.new_empty(steps, batch, hidden)
    return output, gi.new_empty(batch, hidden), states, saved, ln_saved


@torch.library.custom_op("grukit::recurrence_backward", mutates_args=())
def recurrence_backward(
    grad_output: Tensor,
    grad_h_n: Tensor,
    gi: Tensor,
    weight_hh: Tensor | None,
    lengths: Tensor | None,
    states: Tensor,
    saved: Tensor,
    kind: int,
    reset_after: bool,
    read_state: bool,
    has_bias: bool,
    recurrent_mask: Tensor | None = None,
    zoneout: Tensor | None = None,
    zoneout_p: float = 0.0,
    ln_saved: Tensor | None = None,
    norm_weight_hh: Tensor | None = None,
    bf16: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of gi, h0, weight_hh (empty when None), bias_hn (empty when absent) and
    norm_weight_hh (empty without layer norm)."""
    grad_gi, grad_h0, grad_w, grad_b, grad_gain = load_extension().backward(
        grad_output,
        grad_h_n,
        gi,
        weight_hh,
        lengths,
        states,
        saved,
        kind,
        reset_after,
        read_state,
        has_bias,
        recurrent_mask,
        zoneout,
        zoneout_p,
        ln_saved,
        norm_weight_hh,
        bf16,
    )
    return grad_gi, grad_h0, grad_w, grad_b, grad_gain


@recurrence_backward.register_fake
def _recurrence_backward_fake(
    grad_output,
    grad_h_n,
    gi,
    weight_hh,
    lengths,
    states,
    saved,
    kind,
    reset_after,
    read_state,
    has_bias,
    recurrent_mask=None,
    zoneout=None,
    zoneout_p=0.0,
    ln_saved=None,
    norm_weight_hh=None,
    bf16=False,
):
    hidden = grad_h_n.shape[1]
    grad_w = torch.empty_like(weight_hh) if weight_hh is not None else gi.new_empty(0)
    grad_b = gi.new_empty(hidden) if has_bias else gi.new_empty(0)
    grad_gain = torch.empty_like(norm_weight_hh) if norm_weight_hh is not None else gi.new_empty(0)
    return torch.empty_like(gi), torch.empty_like(grad_h_n), grad_w, grad_b, grad_gain


def _setup_context(ctx, inputs, output):
    (gi, h0, weight_hh, bias_hn, lengths, kind, reset_after, read_state, save, *regularisers) = (
        inputs
    )
    defaults = (None, None, 0.0, None, False)  # the optional arguments' defaults
    recurrent_mask, zoneout, zoneout_p, gain, bf16 = (*regularisers, *defaults[len(regularisers) :])
    _, _, states, saved, ln_saved = output
    ctx.mark_non_differentiable(states, saved, ln_saved)
    # No zero-filled gradients for states and saved (they are large and never used), nor
    # for an output the loss does not reach: backward gets None and handles it.
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(
        gi, weight_hh, lengths, states, saved, recurrent_mask, zoneout, ln_saved, gain
    )
    ctx.flags = (kind, reset_after, read_state, bias_hn is not None, save, zoneout_p, bf16)
    ctx.inputs = len(inputs)


def _backward(ctx, grad_output, grad_h_n, _grad_states, _grad_saved, _grad_ln_saved):
    (gi, weight_hh, lengths, states, saved, recurrent_mask, zoneout, ln_saved, gain) = (
        ctx.saved_tensors
    )
    kind, reset_after, read_state, has_bias, save, zoneout_p, bf16 = ctx.flags
    if not save:
        raise RuntimeError(
            "grukit::recurrence ran with save=False (inference) and cannot be differentiated"
        )
    steps, batch, _ = gi.shape
    hidden = states.shape[-1]
    if grad_output is None:
        grad_output = gi.new_zeros(steps, batch, hidden)
    if grad_h_n is None:
        grad_h_n = gi.new_zeros(batch, hidden)
    grad_gi, grad_h0, grad_w, grad_b, grad_gain = recurrence_backward(
        grad_output,
        grad_h_n,
        gi,
        weight_hh,
        lengths,
        states,
        saved,
        kind,
        reset_after,
        read_state,
        has_bias,
        recurrent_mask,
        zoneout,
        zoneout_p,
        ln_saved if gain is not None else None,
        gain,
        bf16,
    )
    grads = [
        grad_gi,
        grad_h0,
        grad_w if weight_hh is not None else None,
        grad_b if has_bias else None,
    ]
    grads += [None] * (ctx.inputs - len(grads))  # lengths, flags and masks: no gradient
    if gain is not None:
        grads[12] = grad_gain  # norm_weight_hh
    return tuple(grads)


recurrence.register_autograd(_backward, setup_context=_setup_context)


@torch.library.custom_op("grukit::linear", mutates_args=())
def linear(x: Tensor, weight: Tensor, bias: Tensor | None, bf16: bool = False) -> Tensor:
    """``x W^T + b`` (the input projection) whose backward is independent of the thread count;
    with ``bf16`` (float32 tensors) its GEMMs, forward and backward, are bfloat16's."""
    return load_extension().linear_forward(x, weight, bias, bf16)


@linear.register_fake
def _linear_fake(x, weight, bias, bf16=False):
    return x.new_empty(*x.shape[:-1], weight.shape[0])


@torch.library.custom_op("grukit::linear_backward", mutates_args=())
def linear_backward(
    grad: Tensor, x: Tensor, weight: Tensor, has_bias: bool, bf16: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of x, weight and bias (empty without bias) of ``linear``."""
    grad_x, grad_w, grad_b = load_extension().linear_backward(grad, x, weight, has_bias, bf16)
    return grad_x, grad_w, grad_b


@linear_backward.register_fake
def _linear_backward_fake(grad, x, weight, has_bias, bf16=False):
    grad_b = weight.new_empty(weight.shape[0] if has_bias else 0)
    return torch.empty_like(x), torch.empty_like(weight), grad_b


def _linear_setup_context(ctx, inputs, output):
    x, weight, bias, *rest = inputs
    ctx.save_for_backward(x, weight)
    ctx.has_bias = bias is not None
    ctx.bf16 = bool(rest[0]) if rest else False
    ctx.inputs = len(inputs)


def _linear_backward(ctx, grad):
    x, weight = ctx.saved_tensors
    grad_x, grad_w, grad_b = linear_backward(grad, x, weight, ctx.has_bias, ctx.bf16)
    grads = (grad_x, grad_w, grad_b if ctx.has_bias else None)
    return grads + (None,) * (ctx.inputs - 3)


linear.register_autograd(_linear_backward, setup_context=_linear_setup_context)
