"""Stateful task models on the layers: a recurrent layer by name (every grukit variant, and
torch's LSTM and tanh RNN as peers) with a read-out per step or per sequence
(``grukit.models.sequence``), language models (``grukit.models.language``), each with
``forward(inputs, lengths, state) -> (outputs, state)`` and ``step(input_t, state)``;
``build_model`` makes any of them from a ModelConfig and a task's shape, and
``load_model`` makes one back from a checkpoint. Imports nothing from train/, tasks/ or
cli/."""

from grukit.models.recurrent import (
    MODELS,
    ModelConfig,
    build_model,
    build_recurrent,
    recurrent_parameters,
    saved_model_config,
)
from grukit.models.saved import load_model
from grukit.models.sequence import PooledReadout, SequenceModel, StepReadout, encode

__all__ = [
    "MODELS",
    "ModelConfig",
    "PooledReadout",
    "SequenceModel",
    "StepReadout",
    "build_model",
    "build_recurrent",
    "encode",
    "load_model",
    "recurrent_parameters",
    "saved_model_config",
]
