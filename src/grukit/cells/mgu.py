r"""Minimal gated unit (Zhou, Wu, Zhang & Zhou 2016): one forget gate that both resets and updates.

Shape legend: ``B`` batch, ``I`` input features, ``H`` hidden units; sigma = logistic::

    f  = sigma(W_if x + W_hf h + b_f)
    n  = tanh(W_in x + W_hn (f (.) h) + b_n)
    h' = (1 - f) (.) h + f (.) n

Layout: ``weight_ih`` (2H, I) rows f, n; ``weight_hh`` (2H, H) rows f, n; ``bias_ih``
(2H,) b_f, b_n; no ``bias_hh``. Parameters: 2(HI + H^2 + H), two thirds of a ``gru``.
(This is Zhou et al.'s unit, not Flax's MGUCell, which applies the gate after the matmul.)
"""

from __future__ import annotations

import torch
from torch import Tensor

from grukit.cells.equations import recurrent_input, recurrent_matmul
from grukit.cells.spec import CellSpec, Params


def mgu_step(gi: Tensor, h: Tensor, params: Params, record: dict | None = None) -> Tensor:
    """One step: gi (B, 2H) = [W_if x + b_f, W_in x + b_n], h (B, H) -> h' (B, H).
    ``record``, if given, receives the gate f."""
    H = h.shape[-1]
    h_read = recurrent_input(h, params)
    f = torch.sigmoid(gi[:, :H] + recurrent_matmul(params, h_read, slice(0, H)))
    if record is not None:
        record.update(f=f)
    n = torch.tanh(gi[:, H:] + recurrent_matmul(params, f * h_read, slice(H, 2 * H)))
    return h + f * (n - h)


MGU = CellSpec(
    name="mgu",
    reset_after=None,
    norm=None,
    input_gates="fn",
    hidden_gates="fn",
    bias_ih_gates="fn",
    bias_hh_gates="",
    step=mgu_step,
    update_gate="f",
    update_keeps=False,
    equations="f = s(W_if x + W_hf h + b_f); n = tanh(W_in x + W_hn (f*h) + b_n); "
    "h' = (1-f)*h + f*n",
)
