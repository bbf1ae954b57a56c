"""The public custom ops (torch.ops.grukit.*) and the streaming step check every tensor
they read: a wrong shape, dtype or device is a RuntimeError naming the argument, never a
segfault or bytes read as another dtype. The bad calls run in a subprocess: a signal
there fails the test instead of killing the test run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import grukit

SCRIPT = textwrap.dedent(
    """
    import json, torch
    import grukit.kernels.cpu.ops  # registers torch.ops.grukit
    from grukit.kernels.cpu.build import load_extension
    ops, ext = torch.ops.grukit, load_extension()
    T, B, H = 4, 2, 3
    f32 = dict(dtype=torch.float32)
    gi, h0 = torch.randn(T, B, 3 * H), torch.zeros(B, H)
    w, b = torch.randn(3 * H, H), torch.zeros(H)
    output, h_n, states, saved, _ = ops.recurrence(gi, h0, w, b, None, 0, True, True, True)
    go, gh = torch.randn(T, B, H), torch.randn(B, H)
    calls = {
        # the issue's segfault: empty states and saved
        "backward, empty states": lambda: ops.recurrence_backward(
            go, gh, gi, w, None, torch.empty(0), torch.empty(0), 0, True, True, True),
        "backward, short saved": lambda: ops.recurrence_backward(
            go, gh, gi, w, None, states, saved[:1], 0, True, True, True),
        "backward, short grad_output": lambda: ops.recurrence_backward(
            go[:1], gh, gi, w, None, states, saved, 0, True, True, True),
        "backward, float64 states": lambda: ops.recurrence_backward(
            go, gh, gi, w, None, states.double(), saved, 0, True, True, True),
        "forward, float64 h0": lambda: ops.recurrence(
            gi, h0.double(), w, b, None, 0, True, True, False),
        "forward, float64 weight": lambda: ops.recurrence(
            gi, h0, w.double(), b, None, 0, True, True, False),
        "forward, float64 bias_hn": lambda: ops.recurrence(
            gi, h0, w, b.double(), None, 0, True, True, False),
        "forward, float lengths": lambda: ops.recurrence(
            gi, h0, w, b, torch.tensor([4.0, 2.5]), 0, True, True, False),
        # (through the op, torch's dispatcher sends a meta tensor to the fake kernel)
        "forward, meta h0": lambda: ext.forward(
            gi, h0.to("meta"), w, b, None, 0, True, True, False, None, None, 0.0, None, False
        ),
        "linear, wrong weight": lambda: ops.linear(torch.randn(5, 4), torch.randn(6, 3), None),
        "linear, float64 bias": lambda: ops.linear(
            torch.randn(5, 4), torch.randn(6, 4), torch.zeros(6, dtype=torch.float64)),
        "linear_backward, short grad": lambda: ops.linear_backward(
            torch.randn(2, 6), torch.randn(5, 4), torch.randn(6, 4), True),
        "stream_step, mis-shaped whh_t (mgu)": lambda: ext.stream_step(
            torch.randn(1, 4), torch.zeros(1, H), torch.randn(4, 2 * H), None,
            torch.randn(7, 5), None, 1, False, False, 2 * H),
        "stream_step, float64 h": lambda: ext.stream_step(
            torch.randn(1, 4), torch.zeros(1, H, dtype=torch.float64), torch.randn(4, 3 * H),
            None, torch.randn(H, 3 * H), None, 0, True, True, 3 * H),
    }
    results = {}
    for name, call in calls.items():
        try:
            call()
            results[name] = "no error"
        except Exception as error:
            results[name] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
    print(json.dumps(results))
    """
)

EXPECTED = {
    "backward, empty states": "states must be",
    "backward, short saved": "saved must be",
    "backward, short grad_output": "grad_output must be",
    "backward, float64 states": "states must be Float",
    "forward, float64 h0": "the state must be Float",
    "forward, float64 weight": "weight_hh must be Float",
    "forward, float64 bias_hn": "bias_hn must be Float",
    "forward, float lengths": "lengths must hold integers",
    "forward, meta h0": "the state must be a CPU tensor",
    "linear, wrong weight": "x must be (..., I=3)",
    "linear, float64 bias": "bias must be Float",
    "linear_backward, short grad": "grad must be",
    "stream_step, mis-shaped whh_t (mgu)": "whh_t must be [3, 6]",
    "stream_step, float64 h": "h must be Float",
}


def test_every_bad_operand_is_an_error_naming_it():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"signal or crash: {result.returncode}\n{result.stderr[-3000:]}"
    got = json.loads(result.stdout.strip().splitlines()[-1])
    for name, wanted in EXPECTED.items():
        assert got[name].startswith("RuntimeError") and wanted in got[name], (name, got[name])


@pytest.mark.parametrize("role", ["weight_hh", "weight_ih", "bias_ih"])
def test_stream_refuses_a_replaced_parameter(role):
    """It segfaulted (weight_hh) or returned NaN (weight_ih) instead of refusing."""
    layer = grukit.GRU(4, 8, variant="mgu")
    setattr(layer, f"{role}_l0", nn.Parameter(torch.randn(5, 7)))
    with pytest.raises(ValueError, match=rf"{role}_l0: got shape \(5, 7\), wanted \("):
        layer.stream()(torch.randn(1, 4))


def test_stream_refuses_a_parameter_of_another_dtype():
    layer = grukit.GRU(4, 8)
    layer.weight_hh_l0 = nn.Parameter(layer.weight_hh_l0.detach().double())
    with pytest.raises(
        ValueError, match=r"weight_hh_l0: got torch.float64 on cpu, wanted torch.float32"
    ):
        layer.stream()
