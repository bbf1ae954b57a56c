"""Shared test material: every variant configuration, an independent float64 NumPy version
of every variant's equations (written from the equations table of docs/layer.md, not from
grukit's code), and a loss that weighs every output and state differently."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grukit import VARIANTS
from grukit.cells import RESET_GATED

# (variant, reset_after, norm): every form of every variant.
VARIANT_CONFIGS = [
    (variant, reset_after, None) for variant in RESET_GATED for reset_after in (True, False)
] + [
    ("mgu", None, None),
    ("ligru", None, "batch"),
    ("ligru", None, "layer"),
    ("mingru", None, None),
]
assert {config[0] for config in VARIANT_CONFIGS} == set(VARIANTS)


def config_id(config) -> str:
    variant, reset_after, norm = config
    if reset_after is not None:
        return f"{variant}-reset_after={reset_after}"
    return f"{variant}-{norm}" if norm else variant


variant_configs = pytest.mark.parametrize("config", VARIANT_CONFIGS, ids=config_id)
BACKEND_NAMES = ["reference", "fused"]
backends = pytest.mark.parametrize("backend", BACKEND_NAMES)


def layer_kwargs(config) -> dict:
    variant, reset_after, norm = config
    return {"variant": variant, "reset_after": reset_after, "norm": norm}


def weighted_loss(*tensors: torch.Tensor) -> torch.Tensor:
    """sum_i <t_i, w_i> with fixed random w_i, so no gradient can cancel by symmetry."""
    generator = torch.Generator().manual_seed(99)
    total = 0
    for tensor in tensors:
        weights = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
        total = total + (tensor * weights.to(tensor.device)).sum()
    return total


# ---------------------------------------------------------------- NumPy equations, float64


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_step(config, x, h, p):
    """One step of each variant, from the equations: x (I,), h (H,), p role -> array."""
    variant, reset_after, norm = config
    H = h.shape[0]

    def row(name, k):  # gate block k of a stacked weight or bias
        return p[name][k * H : (k + 1) * H]

    if variant == "gru":
        if reset_after:
            r = _sigmoid(
                row("weight_ih", 0) @ x
                + row("bias_ih", 0)
                + row("weight_hh", 0) @ h
                + row("bias_hh", 0)
            )
            z = _sigmoid(
                row("weight_ih", 1) @ x
                + row("bias_ih", 1)
                + row("weight_hh", 1) @ h
                + row("bias_hh", 1)
            )
            n = np.tanh(
                row("weight_ih", 2) @ x
                + row("bias_ih", 2)
                + r * (row("weight_hh", 2) @ h + row("bias_hh", 2))
            )
        else:
            r = _sigmoid(row("weight_ih", 0) @ x + row("weight_hh", 0) @ h + row("bias_ih", 0))
            z = _sigmoid(row("weight_ih", 1) @ x + row("weight_hh", 1) @ h + row("bias_ih", 1))
            n = np.tanh(row("weight_ih", 2) @ x + row("weight_hh", 2) @ (r * h) + row("bias_ih", 2))
        return (1 - z) * n + z * h
    if variant in ("gru1", "gru2", "gru3"):
        if variant == "gru1":  # z = s(U_z h + b_z), r = s(U_r h + b_r)
            r = _sigmoid(row("weight_hh", 0) @ h + row("bias_hh", 0))
            z = _sigmoid(row("weight_hh", 1) @ h + row("bias_hh", 1))
            W_hn, b_hn = row("weight_hh", 2), (row("bias_hh", 2) if reset_after else None)
        elif variant == "gru2":  # z = s(U_z h), r = s(U_r h)
            r = _sigmoid(row("weight_hh", 0) @ h)
            z = _sigmoid(row("weight_hh", 1) @ h)
            W_hn, b_hn = row("weight_hh", 2), (row("bias_hh", 0) if reset_after else None)
        else:  # z = s(b_z), r = s(b_r)
            r = _sigmoid(row("bias_hh", 0))
            z = _sigmoid(row("bias_hh", 1))
            W_hn, b_hn = p["weight_hh"], (row("bias_hh", 2) if reset_after else None)
        if reset_after:
            n = np.tanh(p["weight_ih"] @ x + p["bias_ih"] + r * (W_hn @ h + b_hn))
        else:
            n = np.tanh(p["weight_ih"] @ x + W_hn @ (r * h) + p["bias_ih"])
        return (1 - z) * n + z * h
    if variant == "mgu":
        f = _sigmoid(row("weight_ih", 0) @ x + row("weight_hh", 0) @ h + row("bias_ih", 0))
        n = np.tanh(row("weight_ih", 1) @ x + row("weight_hh", 1) @ (f * h) + row("bias_ih", 1))
        return (1 - f) * h + f * n
    if variant == "ligru":
        a = p["weight_ih"] @ x
        if norm == "batch":  # eval mode: running statistics
            a_hat = (a - p["norm_running_mean"]) / np.sqrt(p["norm_running_var"] + 1e-5)
        else:
            a_hat = np.concatenate(
                [(g - g.mean()) / np.sqrt(g.var() + 1e-5) for g in (a[:H], a[H:])]
            )
        a_hat = a_hat * p["norm_weight"] + p["norm_bias"]
        z = _sigmoid(a_hat[:H] + row("weight_hh", 0) @ h)
        n = np.maximum(0.0, a_hat[H:] + row("weight_hh", 1) @ h)
        return z * h + (1 - z) * n
    if variant == "mingru":
        z = _sigmoid(row("weight_ih", 0) @ x + row("bias_ih", 0))
        n = row("weight_ih", 1) @ x + row("bias_ih", 1)
        return (1 - z) * h + z * n
    raise AssertionError(variant)


def numpy_sequence(config, x, h0, p, length):
    """One sequence, one direction: x (T, I), h0 (H,) -> outputs (T, H) zero past length, h_n."""
    outputs = np.zeros((x.shape[0], h0.shape[0]))
    h = h0
    for t in range(length):
        h = numpy_step(config, x[t], h, p)
        outputs[t] = h
    return outputs, h


def layer_gradcheck(layer, x: torch.Tensor, lengths, seed: int | None = 0) -> bool:
    """torch.autograd.gradcheck of ``layer(x, lengths=...)[0]`` through the input and every
    parameter (float64). ``seed``: reseeded before each call, so that random masks
    (dropout, zoneout) are the same at every evaluation; None leaves the generator alone."""
    names = [name for name, _ in layer.named_parameters()]

    def run(x, *weights):
        if seed is not None:
            torch.manual_seed(seed)
        with torch.nn.utils.stateless._reparametrize_module(layer, dict(zip(names, weights))):
            return layer(x, lengths=lengths)[0]

    return torch.autograd.gradcheck(run, (x, *layer.parameters()), eps=1e-6, atol=1e-5)
