"""A model holding a grukit.GRU on the default backend exports as it is: torch.onnx.export
(both exporters) routes the layer through the reference loop's aten ops, and the exported
model equals the layer in ONNX Runtime; torch.export.export keeps the fused custom ops."""

from __future__ import annotations

import io
import warnings

import pytest
import torch

import grukit
from grukit.models import ModelConfig, build_model

onnxruntime = pytest.importorskip("onnxruntime")

T, B, I = 7, 3, 4


def model_of(variant: str) -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(model=variant, hidden=6, layers=2, zoneout=0.1)
    return build_model(config, I, 5, head="step").eval()


def onnx_outputs(model, x, dynamo: bool):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buffer, dynamo=dynamo, input_names=["x"])
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})


@pytest.mark.parametrize("variant", ["gru", "mgu", "ligru", "mingru"])
@pytest.mark.parametrize("dynamo", [False, True])
def test_onnx_export_equals_the_model(variant, dynamo):
    if dynamo:
        pytest.importorskip("onnxscript")
    model = model_of(variant)
    assert model.recurrent.backend_choice().name == "fused"  # what it runs outside export
    x = torch.randn(T, B, I)
    with torch.no_grad():
        expected, state = model(x)
    outputs, states = onnx_outputs(model, x, dynamo)[:2]
    torch.testing.assert_close(torch.from_numpy(outputs), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(states), state, rtol=1e-4, atol=1e-5)


def test_torch_export_keeps_the_fused_ops():
    layer = grukit.GRU(I, 6).eval()
    x = torch.randn(T, B, I)
    program = torch.export.export(layer, (x,))
    assert "grukit.recurrence" in str(program.graph)
    torch.testing.assert_close(program.module()(x)[0], layer(x)[0])
