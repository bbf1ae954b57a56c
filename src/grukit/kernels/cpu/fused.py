"""The fused recurrence for every variant: a CellSpec brought to the canonical kinds of
recurrence.cpp, then one custom-op call for the whole sequence.

Canonical form: the gru family always gets gi = [r, z, n] with the gate biases that sit on
the recurrent side (``bias_hh`` rows r, z) folded in — into the projection's bias for
``gru`` (:func:`fold_gate_biases`, run before the projection), in front of the n rows for
``gru1``-``gru3`` (:func:`canonical_gated_input`) — so the kernel needs only two flags:
``reset_after`` and ``read_state`` (whether the gates read h: False for ``gru3``). The
gradients of the folded pieces flow back through ordinary autograd.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from grukit.cells import RESET_GATED, CellSpec, Params
from grukit.kernels.cpu.ops import linear, recurrence
from grukit.kernels.reference import Kernels

KIND_GATED, KIND_MGU, KIND_LIGRU, KIND_MINGRU = 0, 1, 2, 3
KINDS = {"mgu": KIND_MGU, "ligru": KIND_LIGRU, "mingru": KIND_MINGRU}


def recurrent_gate_bias(spec: CellSpec, params: Params, hidden: int) -> Tensor | None:
    """The gate biases b_hr, b_hz that sit on the recurrent side (2H), if the variant has them."""
    bias_hh = params.get("bias_hh")
    if spec.name in RESET_GATED and bias_hh is not None and spec.bias_hh_gates.startswith("rz"):
        return bias_hh[: 2 * hidden]
    return None


def fold_gate_biases(spec: CellSpec, params: Params) -> Params:
    """For ``gru`` (its gates read x), add b_hr, b_hz to bias_ih's r, z rows, so the one
    projection GEMM adds them and gi arrives in canonical form."""
    if spec.input_gates != "rzn" or "bias_ih" not in params:
        return params
    hidden = params["weight_ih"].shape[0] // 3
    gate_bias = recurrent_gate_bias(spec, params, hidden)
    if gate_bias is None:
        return params
    folded = params["bias_ih"] + torch.cat([gate_bias, gate_bias.new_zeros(hidden)])
    return {**params, "bias_ih": folded}


def canonical_gated_input(spec: CellSpec, gi: Tensor, params: Params, hidden: int) -> Tensor:
    """gi of a gru-family variant as [r, z, n] pre-activations (T, B, 3H), gate biases in.

    For ``gru`` that is gi itself (:func:`fold_gate_biases` put the biases in); for
    ``gru1``-``gru3``, whose gates read no input, the constant gate biases (or zeros) are
    put in front of the n rows.
    """
    if spec.input_gates == "rzn":
        return gi
    gate_bias = recurrent_gate_bias(spec, params, hidden)
    steps, batch, _ = gi.shape
    if gate_bias is None:
        gates = gi.new_zeros(steps, batch, 2 * hidden)
    else:
        gates = gate_bias.expand(steps, batch, 2 * hidden)
    return torch.cat([gates, gi], dim=-1)


def kernel_flags(spec: CellSpec) -> tuple[int, bool, bool]:
    """(kind, reset_after, read_state) of the kernel that runs ``spec``."""
    if spec.name in RESET_GATED:
        return KIND_GATED, bool(spec.reset_after), spec.hidden_gates == "rzn"
    return KINDS[spec.name], False, False


def candidate_bias(spec: CellSpec, params: Params, hidden: int) -> Tensor | None:
    """b_hn, the bias the reset gate multiplies (reset-after forms with biases), else None."""
    bias_hh = params.get("bias_hh")
    if spec.name in RESET_GATED and spec.reset_after and bias_hh is not None:
        return bias_hh[-hidden:]
    return None


def fused_recurrence(
    spec: CellSpec,
    gi: Tensor,
    h0: Tensor,
    params: Params,
    lengths: Tensor | None,
    *,
    bf16: bool = False,
) -> tuple[Tensor, Tensor]:
    """The recurrence of any variant in one fused call; same contract as loop_recurrence.
    ``bf16``: its GEMMs take bfloat16 operands (float32 sums, state and gates)."""
    hidden = h0.shape[-1]
    weight_hh = params.get("weight_hh")
    kind, reset_after, read_state = kernel_flags(spec)
    bias_hn = candidate_bias(spec, params, hidden)
    gi = canonical_gated_input(spec, gi, params, hidden) if kind == KIND_GATED else gi
    gain = params.get("norm_weight_hh")
    save = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (gi, h0, weight_hh, bias_hn, gain)
    )
    cpu_lengths = None if lengths is None else lengths.cpu()
    zoneout = params.get("zoneout")
    zoneout_keeps = zoneout if isinstance(zoneout, Tensor) else None
    zoneout_p = float(zoneout) if zoneout is not None and zoneout_keeps is None else 0.0
    output, h_n, _, _, _ = recurrence(
        gi,
        h0,
        weight_hh,
        bias_hn,
        cpu_lengths,
        kind,
        reset_after,
        read_state,
        save,
        params.get("recurrent_mask"),
        zoneout_keeps,
        zoneout_p,
        gain,
        bf16,
    )
    return output, h_n


FUSED_KERNELS = Kernels(recurrence=fused_recurrence, linear=linear, prepare=fold_gate_biases)
"""The fused backend's pieces for ``run_sequence``."""

FUSED_BF16_KERNELS = Kernels(
    recurrence=functools.partial(fused_recurrence, bf16=True),
    linear=functools.partial(linear, bf16=True),
    prepare=fold_gate_biases,
)
"""The same with every GEMM's operands in bfloat16 (float32 sums, state and pointwise math):
the fused backend under ``torch.autocast("cpu", torch.bfloat16)`` or bfloat16 parameters."""
