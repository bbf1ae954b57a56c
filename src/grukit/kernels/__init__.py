"""How a whole sequence is run: the reference loop, the fused CPU kernels, and the choice
between them."""

from grukit.kernels.dispatch import BACKENDS, BackendChoice, choose_backend
from grukit.kernels.reference import loop_recurrence, reverse_sequences, run_sequence
from grukit.masks import valid_steps

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "choose_backend",
    "loop_recurrence",
    "reverse_sequences",
    "run_sequence",
    "valid_steps",
]
