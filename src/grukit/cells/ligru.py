r"""Light GRU (Ravanelli, Brakel, Omologo & Bengio 2018): no reset gate, ReLU candidate,
normalised input projections.

Shape legend: ``T`` time, ``B`` batch, ``I`` input features, ``H`` hidden units::

    z  = sigma(N_z(W_iz x) + W_hz h)
    n  = ReLU(N_n(W_in x) + W_hn h)
    h' = z (.) h + (1 - z) (.) n

``N`` normalises the input projection ``a = W_i x`` (2H features) and then scales and
shifts it: ``N(a) = gamma (.) (a - mu) / sqrt(var + eps) + beta``.

- ``norm="batch"`` (the paper's): mu and var per feature over all *valid* (t, b) of the
  batch while training (padded steps never enter the statistics); running averages
  (momentum 0.1, unbiased variance, as torch.nn.BatchNorm1d) in eval mode.
- ``norm="layer"``: mu and var over the H features of each gate, per (t, b).

Layout: ``weight_ih`` (2H, I) rows z, n; ``weight_hh`` (2H, H) rows z, n; no linear
biases (beta plays that role); ``norm_weight`` gamma (2H,), ``norm_bias`` beta (2H,)
when ``bias=True``; batch norm buffers ``norm_running_mean``, ``norm_running_var`` (2H,).
Parameters: 2(HI + H^2) + 4H (2H fewer without bias).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from grukit.cells.equations import recurrent_input, recurrent_matmul
from grukit.cells.spec import NORM_EPS, CellSpec, Linear, Params, layer_norm_blocks

BATCH_NORM_MOMENTUM = 0.1
NORMS = ("batch", "layer")


def normalised_projection(
    x: Tensor,
    params: Params,
    valid: Tensor | None,
    training: bool,
    linear: Linear = torch.nn.functional.linear,
    *,
    norm: str,
) -> Tensor:
    """``N(W_i x)`` for all steps: x (T, B, I), valid (T, B, 1) bool -> (T, B, 2H).

    Batch norm in training mode updates ``norm_running_mean``/``norm_running_var`` in place.
    """
    a = linear(x, params["weight_ih"], None)
    if norm == "layer":
        a_hat = layer_norm_blocks(a, a.shape[-1] // 2)
    else:
        running_mean, running_var = params["norm_running_mean"], params["norm_running_var"]
        if training:
            # Statistics over valid steps only, so padding cannot shift them.
            rows = a.reshape(-1, a.shape[-1]) if valid is None else a[valid.squeeze(-1)]
            count = rows.shape[0]
            if count < 2:
                raise ValueError(
                    f"ligru batch norm needs more than 1 valid time step in training mode, "
                    f"got {count}; use norm='layer' or call .eval()"
                )
            mean = rows.mean(0)
            var = rows.var(0, unbiased=False)
            with torch.no_grad():
                running_mean.lerp_(mean, BATCH_NORM_MOMENTUM)
                running_var.lerp_(var * (count / (count - 1)), BATCH_NORM_MOMENTUM)
        else:
            mean, var = running_mean, running_var
        a_hat = (a - mean) * torch.rsqrt(var + NORM_EPS)
    a_hat = a_hat * params["norm_weight"]
    beta = params.get("norm_bias")
    return a_hat if beta is None else a_hat + beta


def ligru_step(gi: Tensor, h: Tensor, params: Params, record: dict | None = None) -> Tensor:
    """One step: gi (B, 2H) = [N_z(W_iz x), N_n(W_in x)], h (B, H) -> h' (B, H).
    ``record``, if given, receives the gate z."""
    H = h.shape[-1]
    gh = recurrent_matmul(params, recurrent_input(h, params), slice(None))
    z = torch.sigmoid(gi[:, :H] + gh[:, :H])
    if record is not None:
        record.update(z=z)
    n = torch.relu(gi[:, H:] + gh[:, H:])
    return n + z * (h - n)


def ligru_spec(norm: str) -> CellSpec:
    """The light GRU with ``norm`` ("batch" or "layer") on its input projections."""
    return CellSpec(
        name="ligru",
        reset_after=None,
        norm=norm,
        input_gates="zn",
        hidden_gates="zn",
        bias_ih_gates="",
        bias_hh_gates="",
        step=ligru_step,
        update_gate="z",
        update_keeps=True,
        project_input=functools.partial(normalised_projection, norm=norm),
        equations=f"z = s(N(W_iz x) + W_hz h); n = relu(N(W_in x) + W_hn h); "
        f"h' = z*h + (1-z)*n; N = {norm} norm",
    )
