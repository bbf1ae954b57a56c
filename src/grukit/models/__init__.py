"""Task models: a recurrent layer by name, and heads on top of it."""

from grukit.models.heads import PooledReadout, StepReadout, encode
from grukit.models.polyphonic import PolyphonicModel, polyphonic_nll
from grukit.models.recurrent import MODELS, ModelConfig, build_recurrent, recurrent_parameters

__all__ = [
    "MODELS",
    "ModelConfig",
    "PolyphonicModel",
    "PooledReadout",
    "StepReadout",
    "build_recurrent",
    "encode",
    "polyphonic_nll",
    "recurrent_parameters",
]
