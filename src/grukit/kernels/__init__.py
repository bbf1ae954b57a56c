"""How a whole sequence is run: the reference loop, and the choice between backends."""

from grukit.kernels.dispatch import BACKENDS, BackendChoice, choose_backend
from grukit.kernels.reference import reverse_sequences, run_sequence, valid_steps

__all__ = [
    "BACKENDS",
    "BackendChoice",
    "choose_backend",
    "reverse_sequences",
    "run_sequence",
    "valid_steps",
]
