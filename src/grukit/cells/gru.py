r"""The fully gated unit and Dey & Salem's reduced-gate types 1-3.

Shape legend: ``B`` batch, ``I`` input features, ``H`` hidden units; ``x`` = x_t,
``h`` = h_{t-1}; sigma = logistic; (.) = elementwise product.

All four share the candidate and the update (torch's "keep" form)::

    reset_after=True  (cuDNN, PyTorch, Keras default, ONNX linear_before_reset=1):
        n  = tanh(W_in x + b_in + r (.) (W_hn h + b_hn))
    reset_after=False (Cho et al. 2014, ONNX linear_before_reset=0, one bias per gate):
        n  = tanh(W_in x + W_hn (r (.) h) + b_n)
    h' = (1 - z) (.) n + z (.) h

and differ in what the reset gate r and update gate z read:

=========  ================================================  ===============================
variant    gates                                             source
=========  ================================================  ===============================
``gru``    r = sigma(W_ir x + W_hr h + b_r), same for z       Cho et al. 2014
``gru1``   r = sigma(W_hr h + b_r),          same for z       Dey & Salem 2017, type 1
``gru2``   r = sigma(W_hr h),                same for z       Dey & Salem 2017, type 2
``gru3``   r = sigma(b_r),                   same for z       Dey & Salem 2017, type 3
=========  ================================================  ===============================

Parameter layout (rows gate by gate; ``gru`` with reset_after=True is exactly torch.nn.GRU,
where r and z carry two biases each, b_i* + b_h*):

==========================  ==========  =========  ==========  ==================
variant (reset_after)       weight_ih   weight_hh  bias_ih     bias_hh
==========================  ==========  =========  ==========  ==================
gru (True)                  r, z, n     r, z, n    r, z, n     r, z, n
gru (False)                 r, z, n     r, z, n    r, z, n     --
gru1 (True / False)         n           r, z, n    n           r, z, n / r, z
gru2 (True / False)         n           r, z, n    n           n / --
gru3 (True / False)         n           n          n           r, z, n / r, z
==========================  ==========  =========  ==========  ==================

So with ``bias=True``: ``gru`` has 3(HI + H^2 + H) parameters (+3H with reset_after),
``gru1`` HI + 3H^2 + 3H, ``gru2`` HI + 3H^2 + H, ``gru3`` HI + H^2 + 3H (each +H with
reset_after, for b_hn): Dey & Salem's counts for types 1-3.
"""

from __future__ import annotations

import functools

from grukit.cells.equations import gated_step, gru_family_flags
from grukit.cells.spec import CellSpec


def gru_family_spec(name: str, reset_after: bool) -> CellSpec:
    """The CellSpec of ``gru``, ``gru1``, ``gru2`` or ``gru3`` (layout in the module doc)."""
    flags = gru_family_flags(name, reset_after)
    gates_read_input, gates_read_state = flags["gates_read_input"], flags["gates_read_state"]
    gate_bias_in_hh = flags["gate_bias_in_hh"]
    gate_bias_in_ih = name == "gru"
    candidate = "n" if reset_after else ""
    return CellSpec(
        name=name,
        reset_after=reset_after,
        norm=None,
        input_gates="rzn" if gates_read_input else "n",
        hidden_gates="rzn" if gates_read_state else "n",
        bias_ih_gates="rzn" if gate_bias_in_ih else "n",
        bias_hh_gates=("rz" if gate_bias_in_hh else "") + candidate,
        update_gate="z",
        update_keeps=True,
        step=functools.partial(gated_step, **flags),
        equations=_EQUATIONS[name]
        + (
            "n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); "
            if reset_after
            else "n = tanh(W_in x + W_hn (r*h) + b_n); "
        )
        + "h' = (1-z)*n + z*h",
    )


_EQUATIONS = {
    "gru": "r = s(W_ir x + W_hr h + b_r); z = s(W_iz x + W_hz h + b_z); ",
    "gru1": "r = s(W_hr h + b_r); z = s(W_hz h + b_z); ",
    "gru2": "r = s(W_hr h); z = s(W_hz h); ",
    "gru3": "r = s(b_r); z = s(b_z); ",
}
