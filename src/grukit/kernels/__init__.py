"""How a whole sequence is run: the reference loop, the fused CPU kernels, and the choice
between them."""

from grukit.kernels.dispatch import BACKENDS, BackendChoice, choose_backend
from grukit.kernels.reference import loop_recurrence, reverse_sequences, run_sequence
from grukit.masks import valid_steps


def release_buffers() -> int:
    """Free the large buffers the fused kernels keep for reuse (at most 1 GiB; those unused
    for 30 s go by themselves at the pool's next use); return the bytes freed (0 when the
    kernels were never loaded)."""
    import sys

    if "grukit.kernels.cpu.ops" not in sys.modules:
        return 0
    from grukit.kernels.cpu.build import load_extension

    return load_extension().release_buffers()


__all__ = [
    "BACKENDS",
    "BackendChoice",
    "choose_backend",
    "release_buffers",
    "loop_recurrence",
    "reverse_sequences",
    "run_sequence",
    "valid_steps",
]
