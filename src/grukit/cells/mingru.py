r"""minGRU (Feng, Tung, Ahmed, Bengio & Hajimirsadeghi 2024, "Were RNNs All We Needed?").

Shape legend: ``B`` batch, ``I`` input features, ``H`` hidden units; sigma = logistic::

    z  = sigma(W_iz x + b_z)
    n  = W_in x + b_n
    h' = (1 - z) (.) h + z (.) n

Neither the gate nor the candidate reads h, so there is no ``weight_hh``: the recurrence is
a linear scan ``h_t = a_t h_{t-1} + b_t`` that could also run in parallel over time.
Layout: ``weight_ih`` (2H, I) rows z, n; ``bias_ih`` (2H,). Parameters: 2(HI + H).
Note the update convention is the paper's: z weighs the *new* candidate.
"""

from __future__ import annotations

import torch
from torch import Tensor

from grukit.cells.spec import CellSpec, Params


def mingru_step(gi: Tensor, h: Tensor, params: Params, record: dict | None = None) -> Tensor:
    """One step: gi (B, 2H) = [W_iz x + b_z, W_in x + b_n], h (B, H) -> h' (B, H).
    ``record``, if given, receives the gate z."""
    H = h.shape[-1]
    z = torch.sigmoid(gi[:, :H])
    if record is not None:
        record.update(z=z)
    return h + z * (gi[:, H:] - h)


MINGRU = CellSpec(
    name="mingru",
    reset_after=None,
    norm=None,
    input_gates="zn",
    hidden_gates="",
    bias_ih_gates="zn",
    bias_hh_gates="",
    update_gate="z",
    update_keeps=False,
    step=mingru_step,
    equations="z = s(W_iz x + b_z); n = W_in x + b_n; h' = (1-z)*h + z*n",
)
