"""Which backend runs a layer, and why.

Backends (each a recurrence plugged into ``run_sequence``):

- ``"reference"``: the Python time loop (kernels/reference.py); any device and dtype.
- ``"fused"``: the C++ CPU kernels (kernels/cpu/); float32 and float64 on CPU.

``"auto"`` takes the fused backend where it applies and falls back to the reference
otherwise; when the fused extension cannot be built it warns once and says why. While
``torch.onnx.export`` runs, every backend is the reference: its plain aten ops export, the
fused custom ops have no ONNX translation (``torch.export.export`` keeps them: they trace
through their fake implementations).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from grukit.kernels.reference import REFERENCE_KERNELS, Kernels

BACKENDS = ("auto", "reference", "fused")
FUSED_DTYPES = (torch.float32, torch.float64)

_warned_unavailable = False


@dataclass(frozen=True)
class BackendChoice:
    """The backend that runs a forward pass, its kernels and the reason for it."""

    name: str
    kernels: Kernels
    reason: str


def check_backend(backend: str) -> str:
    """Validate a ``backend=`` argument."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: got {backend!r}, wanted one of {', '.join(BACKENDS)}")
    return backend


def choose_backend(requested: str, device: torch.device, dtype: torch.dtype) -> BackendChoice:
    """The backend for ``requested`` (``"auto"`` or a backend name) on this device and dtype."""
    global _warned_unavailable
    check_backend(requested)
    if requested == "reference":
        return BackendChoice("reference", REFERENCE_KERNELS, "asked for backend='reference'")
    if torch.onnx.is_in_onnx_export():
        # The fused custom ops have no ONNX translation; the reference is plain aten ops.
        return BackendChoice(
            "reference", REFERENCE_KERNELS, "exporting to ONNX: the reference loop's aten ops"
        )
    supported = device.type == "cpu" and dtype in FUSED_DTYPES
    if requested == "fused" and not supported:
        raise ValueError(
            f"backend: got 'fused' for {dtype} on {device}, wanted float32 or float64 on cpu "
            f"(use backend='auto' to fall back to the reference)"
        )
    if not supported:
        return BackendChoice(
            "reference",
            REFERENCE_KERNELS,
            f"auto: the fused kernels run float32/float64 on CPU, not {dtype} on {device}",
        )
    from grukit.kernels.cpu.build import availability

    available, reason = availability()
    if available:
        from grukit.kernels.cpu.fused import FUSED_KERNELS

        asked = "asked for backend='fused'" if requested == "fused" else f"auto: CPU {dtype}"
        return BackendChoice("fused", FUSED_KERNELS, f"{asked}; fused extension {reason}")
    if requested == "fused":
        raise RuntimeError(f"backend='fused' is not available: {reason}")
    if not _warned_unavailable:
        _warned_unavailable = True
        warnings.warn(f"grukit falls back to the reference backend: {reason}", stacklevel=3)
    return BackendChoice("reference", REFERENCE_KERNELS, f"auto: {reason}")
