"""The one way back from a checkpoint to its model: the saved ModelConfig and model shape
through ``build_model``, the function every task builds its model with, then the saved
weights. ``grukit.load``, ``grukit eval`` and ``grukit generate`` all come through here."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from grukit.checkpoint import CheckpointError, read_checkpoint, restore
from grukit.models.recurrent import build_model, saved_model_config


def load_model(path: str | Path, default_shape: dict | None = None) -> tuple[nn.Module, dict]:
    """(the model of a checkpoint folder with its saved weights, in eval mode; the
    checkpoint's state). ``default_shape``: the model's shape for checkpoints older than
    the shape saved with them (a caller that rebuilt the task knows it); CheckpointError
    when neither says it."""
    tensors, state = read_checkpoint(path, prefix="model.")  # not the optimizer's state
    config = state.get("config") or {}
    shape = (state.get("extra") or {}).get("model_shape") or default_shape
    if shape is None or "model" not in config:
        raise CheckpointError(
            f"checkpoint: {str(path)!r} was written before grukit saved what prediction needs "
            "(model shape, preprocessing); grukit eval still scores it, or train it again"
        )
    model = build_model(saved_model_config(config), **shape)
    restore(tensors, state, model)
    return model.eval(), state
