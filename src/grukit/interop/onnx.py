"""A single-layer ``variant="gru"`` layer as an ONNX ``GRU`` operator.

ONNX stacks gates z, r, h (grukit and torch: r, z, n) and always has a recurrence bias
``Rb``; ``linear_before_reset`` is grukit's ``reset_after``. The Cho form has one bias per
gate, so its ``Rb`` is zero. Needs the ``onnx`` package (``pip install grukit[onnx]``).
"""

from __future__ import annotations

import numpy as np
import torch

from grukit.extras import require
from grukit.layers import GRU

ONNX_OPSET = 17
ONNX_IR_VERSION = 8  # what opset 17 needs; ONNX Runtime reads up to a given IR version


def _onnx_gate_order(stacked: torch.Tensor) -> np.ndarray:
    """Rows r, z, n (grukit) -> z, r, n (ONNX), as float32 NumPy."""
    r, z, n = stacked.detach().to(torch.float32).cpu().chunk(3, dim=0)
    return torch.cat([z, r, n]).numpy()


def onnx_gru_weights(layer: GRU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONNX's W (D, 3H, I), R (D, 3H, H) and B (D, 6H) for a single-layer ``gru`` layer."""
    if layer.variant != "gru" or layer.num_layers != 1:
        raise ValueError(
            f"layer: got variant={layer.variant!r} with num_layers={layer.num_layers}, "
            f"wanted variant='gru' with num_layers=1 (one ONNX GRU operator)"
        )
    extras = [e for e in layer.beyond_plain_gru() if not e.startswith(("recurrent", "weight"))]
    extras = [e for e in extras if not e.startswith(("input_dropout", "dropout_mode"))]
    if extras:  # the training-only dropouts do not change an exported (eval) model
        raise ValueError(
            f"layer: has {', '.join(extras)}, which ONNX's GRU operator does not compute; "
            "export the whole model with torch.onnx.export instead"
        )
    H = layer.hidden_size
    W, R, B = [], [], []
    for direction in range(layer.num_directions):
        params = layer.cell_params(0, direction)
        W.append(_onnx_gate_order(params["weight_ih"]))
        R.append(_onnx_gate_order(params["weight_hh"]))
        zeros = torch.zeros(3 * H)
        bias_w = params.get("bias_ih", zeros)
        bias_r = params.get("bias_hh", zeros)
        B.append(np.concatenate([_onnx_gate_order(bias_w), _onnx_gate_order(bias_r)]))
    return np.stack(W), np.stack(R), np.stack(B)


def onnx_gru_model(layer: GRU):
    """An ONNX model computing ``layer`` (float32, time-major).

    Inputs: ``X`` (T, B, I), ``sequence_lens`` (B,) int32, ``initial_h`` (D, B, H).
    Outputs: ``Y`` (T, D, B, H) and ``Y_h`` (D, B, H).
    """
    onnx = require("onnx", "onnx", needed_by="exporting to ONNX")
    from onnx import TensorProto, helper, numpy_helper

    W, R, B = onnx_gru_weights(layer)
    D, H, I = layer.num_directions, layer.hidden_size, layer.input_size
    node = helper.make_node(
        "GRU",
        ["X", "W", "R", "B", "sequence_lens", "initial_h"],
        ["Y", "Y_h"],
        hidden_size=H,
        direction="bidirectional" if D == 2 else "forward",
        linear_before_reset=int(bool(layer.reset_after)),
    )
    graph = helper.make_graph(
        [node],
        "grukit_gru",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "B", I]),
            helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["B"]),
            helper.make_tensor_value_info("initial_h", TensorProto.FLOAT, [D, "B", H]),
        ],
        [
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["T", D, "B", H]),
            helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [D, "B", H]),
        ],
        initializer=[
            numpy_helper.from_array(W, "W"),
            numpy_helper.from_array(R, "R"),
            numpy_helper.from_array(B, "B"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], ir_version=ONNX_IR_VERSION
    )
    onnx.checker.check_model(model)
    return model
