"""What every GRU variant declares: its parameters, its input projection and its step.

A variant is a :class:`CellSpec`. The layers (``grukit.GRU``, ``grukit.GRUCell``) and the
sequence runners (``grukit.kernels``) know nothing about any particular variant: they
create the parameters the spec lists, call ``project_input`` once for all time steps and
``step`` once per time step.

Parameter roles and their layout (``G_i``, ``G_h``: gates with an input / recurrent
weight; rows are stacked gate by gate, each gate ``H`` rows, in the order the variant's
docstring gives, e.g. ``r, z, n`` for ``gru`` exactly as torch.nn.GRU):

====================  ==============  =============================================
role                  shape           meaning
====================  ==============  =============================================
``weight_ih``         (G_i*H, I)      input-to-gate weights, all time steps in one GEMM
``weight_hh``         (G_h*H, H)      recurrent weights, one GEMM per step
``bias_ih``           (B_i*H,)        added to the input projection
``bias_hh``           (B_h*H,)        added on the recurrent side (see each variant)
``norm_weight``       (G_i*H,)        scale of the normalised input projection
``norm_bias``         (G_i*H,)        shift of the normalised input projection (ligru)
``norm_weight_hh``    (G_h*H,)        scale of the normalised recurrent projection
                                      (layer norm of the gru family and mgu)
====================  ==============  =============================================

Buffers (batch norm only): ``norm_running_mean``, ``norm_running_var`` (G_i*H,).

Regularisers a layer adds to the params of one forward pass (``grukit.GRU``):

====================  ==============  =============================================
``recurrent_mask``    (B, H)          variational dropout on the state the recurrent
                                      matmuls read: ``W_h (m (.) h)`` (Gal &
                                      Ghahramani 2016); the update reads h itself
``zoneout``           (T, B, H) or    the share of the old state each unit keeps:
                      a float p       ``h_t = k (.) h_{t-1} + (1-k) (.) step(...)``;
                                      0/1 draws in training, p in eval (Krueger 2017)
====================  ==============  =============================================

A layer names a parameter ``{role}_l{k}`` (``{role}_l{k}_reverse`` for the reverse
direction), a cell names it ``{role}``: the names of torch.nn.GRU / torch.nn.GRUCell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

Params = dict[str, Tensor]
"""A cell's tensors by role (``"weight_ih"``, ...), for one layer and direction."""

# (x, weight, bias or None) -> x weight^T + bias: torch.nn.functional.linear, or a backend's
Linear = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]
# (x (T, B, I), params, valid (T, B, 1) bool or None, training, linear=...) -> gi (T, B, G_i*H)
ProjectInput = Callable[..., Tensor]
# (gi_t (B, G_i*H), h (B, H), params, record=None) -> h' (B, H); a ``record`` dict, if
# given, receives the step's gate activations by letter ("r", "z", "f"), each (B, H).
Step = Callable[..., Tensor]

PARAMETER_ROLES = (
    "weight_ih",
    "weight_hh",
    "bias_ih",
    "bias_hh",
    "norm_weight",
    "norm_bias",
    "norm_weight_hh",
)
NORM_EPS = 1e-5
REGULARISER_ROLES = ("recurrent_mask", "zoneout")


def layer_norm_blocks(a: Tensor, width: int) -> Tensor:
    """(a - mu) / sqrt(var + eps) over each block of ``width`` features of the last axis
    (one block per gate), without scale or shift."""
    # torch's fused layer norm: one pass forward and backward, not six.
    blocks = a.unflatten(-1, (-1, width))
    return torch.nn.functional.layer_norm(blocks, (width,), eps=NORM_EPS).flatten(-2)


def layer_normalised_projection(
    x: Tensor,
    params: Params,
    valid: Tensor | None,
    training: bool,
    linear: Linear = torch.nn.functional.linear,
) -> Tensor:
    """``g (.) LN(x W_ih^T) + b_ih`` per gate block, all steps at once: the input side of a
    layer-normalised gru-family or mgu cell, whose ``bias_ih`` is the shift."""
    a = layer_norm_blocks(linear(x, params["weight_ih"], None), params["weight_hh"].shape[1])
    bias = params.get("bias_ih")
    if bias is None:
        return a * params["norm_weight"]
    return torch.addcmul(bias, a, params["norm_weight"])  # scale and shift in one pass


BUFFER_ROLES = ("norm_running_mean", "norm_running_var")


def linear_projection(
    x: Tensor,
    params: Params,
    valid: Tensor | None,
    training: bool,
    linear: Linear = torch.nn.functional.linear,
) -> Tensor:
    """``gi = x W_ih^T + b_ih`` for all time steps in one GEMM: (T, B, I) -> (T, B, G_i*H)."""
    return linear(x, params["weight_ih"], params.get("bias_ih"))


@dataclass(frozen=True)
class CellSpec:
    """One GRU variant: parameter layout, input projection and step function.

    Attributes:
        name: the variant's name, one of ``grukit.VARIANTS``.
        reset_after: for variants with a reset gate, whether it is applied after the
            recurrent matmul (torch/cuDNN form) or before it (Cho et al. 2014); ``None``
            for variants without that choice.
        norm: ``"batch"`` or ``"layer"`` normalisation of the input projection, or None.
        input_gates: gates that have rows in ``weight_ih`` (and ``gi``), in row order.
        hidden_gates: gates that have rows in ``weight_hh``, in row order ("" = none).
        bias_ih_gates: gates that have an entry in ``bias_ih`` (when ``bias=True``).
        bias_hh_gates: gates that have an entry in ``bias_hh`` (when ``bias=True``).
        step: ``(gi_t, h, params) -> h'``, the pure-PyTorch reference of one step.
        update_gate: the letter of the gate that mixes old state and candidate.
        update_keeps: True if that gate is the fraction of the old state kept
            (``h' = u*h + (1-u)*n``), False if it is the fraction written
            (``h' = (1-u)*h + u*n``).
        project_input: ``(x, params, valid, training, linear=F.linear) -> gi``, all steps
            at once; ``linear`` is the backend's GEMM with bias.
        equations: the variant's equations, for documentation and ``explain()``.
        norm_shift: the normalisation has its own shift ``norm_bias`` (ligru); without
            it the cell's biases shift the normalised projections (gru family, mgu).
        norm_recurrent: the recurrent projection is layer-normalised too
            (``norm_weight_hh``; gru family and mgu with ``norm="layer"``).
    """

    name: str
    reset_after: bool | None
    norm: str | None
    input_gates: str
    hidden_gates: str
    bias_ih_gates: str
    bias_hh_gates: str
    step: Step
    update_gate: str
    update_keeps: bool
    project_input: ProjectInput = linear_projection
    equations: str = ""
    norm_shift: bool = True
    norm_recurrent: bool = False

    def parameter_shapes(
        self, input_size: int, hidden_size: int, bias: bool = True
    ) -> dict[str, tuple[int, ...]]:
        """Shapes of this cell's parameters by role, for one layer and direction."""
        H = hidden_size
        shapes: dict[str, tuple[int, ...]] = {"weight_ih": (len(self.input_gates) * H, input_size)}
        if self.hidden_gates:
            shapes["weight_hh"] = (len(self.hidden_gates) * H, H)
        if bias and self.bias_ih_gates:
            shapes["bias_ih"] = (len(self.bias_ih_gates) * H,)
        if bias and self.bias_hh_gates:
            shapes["bias_hh"] = (len(self.bias_hh_gates) * H,)
        if self.norm is not None:
            shapes["norm_weight"] = (len(self.input_gates) * H,)
            if bias and self.norm_shift:
                shapes["norm_bias"] = (len(self.input_gates) * H,)
        if self.norm_recurrent:
            shapes["norm_weight_hh"] = (len(self.hidden_gates) * H,)
        return shapes

    def buffer_shapes(self, hidden_size: int) -> dict[str, tuple[int, ...]]:
        """Shapes of this cell's buffers (batch-norm running statistics) by role."""
        if self.norm != "batch":
            return {}
        width = (len(self.input_gates) * hidden_size,)
        return {"norm_running_mean": width, "norm_running_var": width}

    def reset_parameters(
        self, params: Params, hidden_size: int, t_max: float | None = None
    ) -> None:
        """Initialise in place as torch.nn.GRU does: weights and biases ~ U(-1/sqrt(H), 1/sqrt(H)).

        Normalisation scales start at 1 and shifts at 0, running mean 0 and variance 1.
        With ``t_max``, the update gate's bias then gets :meth:`chrono_initialise`.
        """
        bound = 1.0 / math.sqrt(hidden_size)
        with torch.no_grad():
            for role, tensor in params.items():
                if role in ("norm_weight", "norm_weight_hh", "norm_running_var"):
                    tensor.fill_(1.0)
                elif role in ("norm_bias", "norm_running_mean"):
                    tensor.zero_()
                else:
                    tensor.uniform_(-bound, bound)
        if t_max is not None:
            self.chrono_initialise(params, hidden_size, t_max)

    def chrono_initialise(self, params: Params, hidden_size: int, t_max: float) -> None:
        """Chrono initialisation (Tallec & Ollivier 2018) of the update gate's bias, in place.

        Each unit j draws a time scale ``u_j ~ U(1, t_max - 1)`` and its update-gate bias
        becomes ``b_j = log(u_j)`` if the gate keeps the old state (``-log(u_j)`` if it
        writes the candidate), so that with no input a unit keeps a fraction
        ``u_j / (1 + u_j)`` of its state per step: it forgets over about ``1 + u_j`` steps,
        spread between 2 and ``t_max``. The update gate's bias sits in the first of
        ``norm_bias`` (the batch-norm shift), ``bias_ih``, ``bias_hh`` that has it; its entries
        in the others are zeroed, so the sum is exactly ``b``.
        """
        carriers = [
            (role, gates)
            for role, gates in (
                ("norm_bias", self.input_gates),
                ("bias_ih", self.bias_ih_gates),
                ("bias_hh", self.bias_hh_gates),
            )
            if role in params and self.update_gate in gates
        ]
        if not carriers:
            raise ValueError(
                f"init: got 'chrono' for variant {self.name!r}, which has no update-gate bias "
                "to set (gru2 has none; bias=False removes them)"
            )
        H = hidden_size
        scales = torch.empty(H, dtype=torch.float64).uniform_(1.0, t_max - 1.0)
        bias = scales.log() if self.update_keeps else -scales.log()
        with torch.no_grad():
            for index, (role, gates) in enumerate(carriers):
                start = gates.index(self.update_gate) * H
                block = params[role][start : start + H]
                block.copy_(bias) if index == 0 else block.zero_()

    def options_repr(self) -> str:
        """The options that select this spec, as keyword arguments: "variant='gru', ..."."""
        text = f"variant={self.name!r}"
        if self.reset_after is not None:
            text += f", reset_after={self.reset_after}"
        if self.norm is not None:
            text += f", norm={self.norm!r}"
        return text

    def num_parameters(self, input_size: int, hidden_size: int, bias: bool = True) -> int:
        """Trainable parameters of one layer and direction."""
        return sum(
            math.prod(s) for s in self.parameter_shapes(input_size, hidden_size, bias).values()
        )
