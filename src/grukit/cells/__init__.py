"""The math of every GRU variant: one :class:`CellSpec` per variant.

``cell_spec(variant, reset_after=None, norm=None)`` (``grukit.cells.variants``) resolves a
variant name and its options to a spec; ``VARIANTS`` lists the names. Equations: each
module's docstring and ``CellSpec.equations``; the gru family's step is stated once in
``grukit.cells.equations``, for torch tensors and NumPy arrays alike.
"""

from __future__ import annotations

from grukit.lazy import lazy_exports

VARIANTS: tuple[str, ...] = ("gru", "gru1", "gru2", "gru3", "mgu", "ligru", "mingru")
"""Every variant grukit implements, in the order of the docs."""

RESET_GATED = ("gru", "gru1", "gru2", "gru3")
"""Variants with a reset gate, for which ``reset_after`` chooses where it acts."""


# The specs import torch; these names are imported on first use, so that the equations
# module (grukit.cells.equations), which the NumPy engine steps, needs no torch.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "BUFFER_ROLES": "grukit.cells.spec",
        "PARAMETER_ROLES": "grukit.cells.spec",
        "CellSpec": "grukit.cells.spec",
        "Params": "grukit.cells.spec",
        "cell_spec": "grukit.cells.variants",
    },
)

__all__ = [
    "BUFFER_ROLES",
    "PARAMETER_ROLES",
    "RESET_GATED",
    "VARIANTS",
    "CellSpec",
    "Params",
    "cell_spec",
]
