"""Which backend runs a layer, and why.

Backends: ``"reference"`` (kernels/reference.py, any device and dtype). ``"auto"`` picks
the fastest correct backend available for the input; today that is always the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from grukit.kernels.reference import run_sequence

BACKENDS = ("auto", "reference")


@dataclass(frozen=True)
class BackendChoice:
    """The backend that runs a forward pass, its sequence runner and the reason for it."""

    name: str
    run: Callable
    reason: str


def check_backend(backend: str) -> str:
    """Validate a ``backend=`` argument."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: got {backend!r}, wanted one of {', '.join(BACKENDS)}")
    return backend


def choose_backend(requested: str) -> BackendChoice:
    """The backend for ``requested`` (``"auto"`` or a backend name)."""
    check_backend(requested)
    if requested == "reference":
        return BackendChoice("reference", run_sequence, "asked for backend='reference'")
    return BackendChoice(
        "reference", run_sequence, "auto: the reference loop is the only backend built so far"
    )
