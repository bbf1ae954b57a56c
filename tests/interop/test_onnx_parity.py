"""grukit's `gru` (both reset placements) against ONNX's GRU operator: the ONNX reference
evaluator (NumPy) and ONNX Runtime, including sequence_lens and the reverse direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import grukit
from grukit.interop.onnx import onnx_gru_model

onnx_reference = pytest.importorskip("onnx.reference")
onnxruntime = pytest.importorskip("onnxruntime")

T, B, I, H = 6, 4, 3, 5
LENGTHS = [T, 1, 3, T - 2]


def make_case(reset_after, bidirectional, seed):
    """A layer, its ONNX model and float32 inputs X (T, B, I), initial_h (D, B, H)."""
    layer = grukit.GRU(I, H, bidirectional=bidirectional, reset_after=reset_after)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((layer.num_directions, B, H)).astype(np.float32)
    return layer, onnx_gru_model(layer), x, h0


def run_grukit(layer, x, h0, lengths):
    with torch.no_grad():
        output, h_n = layer(torch.from_numpy(x), torch.from_numpy(h0), lengths=lengths)
    D = layer.num_directions
    return output.reshape(T, B, D, H).permute(0, 2, 1, 3).numpy(), h_n.numpy()


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_matches_onnx_reference_evaluator(reset_after, bidirectional):
    layer, model, x, h0 = make_case(reset_after, bidirectional, seed=0)
    evaluator = onnx_reference.ReferenceEvaluator(model)
    # The reference evaluator ignores sequence_lens, so it is compared at full length.
    Y, Y_h = evaluator.run(
        None, {"X": x, "sequence_lens": np.full(B, T, np.int32), "initial_h": h0}
    )
    ours, ours_h = run_grukit(layer, x, h0, None)
    np.testing.assert_allclose(ours, Y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours_h, Y_h, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_matches_onnx_runtime_with_lengths(reset_after, bidirectional):
    layer, model, x, h0 = make_case(reset_after, bidirectional, seed=1)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    Y, Y_h = session.run(
        None, {"X": x, "sequence_lens": np.array(LENGTHS, np.int32), "initial_h": h0}
    )
    ours, ours_h = run_grukit(layer, x, h0, LENGTHS)
    np.testing.assert_allclose(ours, Y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours_h, Y_h, rtol=1e-5, atol=1e-5)


def test_onnx_export_refuses_other_variants():
    with pytest.raises(
        ValueError, match=r"layer: got variant='mgu' with num_layers=1, wanted variant='gru'"
    ):
        onnx_gru_model(grukit.GRU(I, H, variant="mgu"))
