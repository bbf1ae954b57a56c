"""Stateful task models on the layers: a recurrent layer by name (every grukit variant, and
torch's LSTM and tanh RNN as peers), and heads on it, per step or per sequence, each with
``forward(inputs, lengths, state) -> (outputs, state)`` and ``step(input_t, state)``
(see ``grukit.models.heads``). Imports nothing from train/, tasks/ or cli/."""

from grukit.models.heads import PooledReadout, SequenceModel, StepReadout, encode
from grukit.models.recurrent import (
    MODELS,
    ModelConfig,
    build_model,
    build_recurrent,
    recurrent_parameters,
)

__all__ = [
    "MODELS",
    "ModelConfig",
    "PooledReadout",
    "SequenceModel",
    "StepReadout",
    "build_model",
    "build_recurrent",
    "encode",
    "recurrent_parameters",
]
