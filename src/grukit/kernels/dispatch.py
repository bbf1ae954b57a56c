"""Which backend runs a layer, and why.

Backends (each a recurrence plugged into ``run_sequence``):

- ``"reference"``: the Python time loop (kernels/reference.py); any device and dtype.
- ``"fused"``: the C++ CPU kernels (kernels/cpu/); float32 and float64 on CPU.

``"auto"`` takes the fused backend where it applies and falls back to the reference
otherwise; when the fused extension cannot be built it warns once and says why. While
``torch.onnx.export`` runs, every backend is the reference: its plain aten ops export, the
fused custom ops have no ONNX translation (``torch.export.export`` keeps them: they trace
through their fake implementations).

Precision of the fused GEMMs (``precision=``): ``"fp32"`` keeps the layer's dtype;
``"bf16"`` rounds every GEMM's operands to bfloat16 and sums in float32 (state, gates and
gradients stay float32); ``"auto"`` takes bfloat16 where the user asked for it — under
``torch.autocast("cpu", dtype=torch.bfloat16)`` or with bfloat16 parameters — when the CPU
has AVX512-BF16, and says why not otherwise. No batch size is excluded: our bfloat16
micro-kernel was measured faster than float32 even at batch 1 (1.4x for inference at
(B, T, I, H) = (1, 1000, 64, 128) on an AVX512-BF16 Zen 4), unlike torch's bfloat16 matmul.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from grukit.kernels.cpu.build import availability, constant_under_compile, load_extension
from grukit.kernels.reference import REFERENCE_KERNELS, Kernels

BACKENDS = ("auto", "reference", "fused")
PRECISIONS = ("auto", "fp32", "bf16")
FUSED_DTYPES = (torch.float32, torch.float64, torch.bfloat16)

_warned_unavailable = False


@dataclass(frozen=True)
class BackendChoice:
    """The backend that runs a forward pass, its kernels and the reason for it."""

    name: str
    kernels: Kernels
    reason: str
    bf16: bool = False  # the fused GEMMs take bfloat16 operands


def check_backend(backend: str) -> str:
    """Validate a ``backend=`` argument."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: got {backend!r}, wanted one of {', '.join(BACKENDS)}")
    return backend


def check_precision(precision: str) -> str:
    """Validate a ``precision=`` argument."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision: got {precision!r}, wanted one of {', '.join(PRECISIONS)}")
    return precision


def autocast_bf16(device: torch.device) -> bool:
    """Whether ``torch.autocast`` is on for ``device`` with bfloat16."""
    return torch.is_autocast_enabled(device.type) and (
        torch.get_autocast_dtype(device.type) == torch.bfloat16
    )


# Under torch.compile the answer is a constant of the graph (the extension's load and its
# self-check are not traceable), as for the fused backend's availability.
@constant_under_compile
def bf16_support() -> tuple[bool, str]:
    """Whether the fused kernels run bfloat16 GEMMs on this CPU, and why not."""
    available, reason = availability()
    if not available:
        return False, reason
    if load_extension().bf16_supported():
        return True, "AVX512-BF16"
    return False, "this CPU has no AVX512-BF16 (or its self-check failed)"


def _with_precision(
    choice: BackendChoice, precision: str, device: torch.device, dtype: torch.dtype
) -> BackendChoice:
    """The fused choice with bfloat16 GEMMs where ``precision`` (see above) asks for them."""
    asked = precision == "bf16" or (
        precision == "auto" and (dtype == torch.bfloat16 or autocast_bf16(device))
    )
    if not asked:
        return choice
    why_not = None
    supported, reason = bf16_support()
    if dtype == torch.float64:
        why_not = "float64 parameters"
    elif not supported:
        why_not = reason
    if why_not is None:
        from grukit.kernels.cpu.fused import FUSED_BF16_KERNELS

        return BackendChoice(
            "fused", FUSED_BF16_KERNELS, f"{choice.reason}; bfloat16 GEMMs ({reason})", True
        )
    if precision == "bf16":
        raise RuntimeError(f"precision='bf16' is not available: {why_not}")
    return BackendChoice(choice.name, choice.kernels, f"{choice.reason}; float32 GEMMs: {why_not}")


def choose_backend(
    requested: str,
    device: torch.device,
    dtype: torch.dtype,
    precision: str = "auto",
) -> BackendChoice:
    """The backend for ``requested`` (``"auto"`` or a backend name) on this device and dtype,
    with its GEMMs' precision (``precision``, in the current autocast state)."""
    global _warned_unavailable
    check_backend(requested)
    check_precision(precision)
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
            f"backend: got 'fused' for {dtype} on {device}, wanted float32, float64 or "
            "bfloat16 on cpu "
            f"(use backend='auto' to fall back to the reference)"
        )
    if not supported:
        return BackendChoice(
            "reference",
            REFERENCE_KERNELS,
            f"auto: the fused kernels run on CPU, not {device}",
        )
    available, reason = availability()
    if available:
        from grukit.kernels.cpu.fused import FUSED_KERNELS

        asked = "asked for backend='fused'" if requested == "fused" else f"auto: CPU {dtype}"
        choice = BackendChoice("fused", FUSED_KERNELS, f"{asked}; fused extension {reason}")
        return _with_precision(choice, precision, device, dtype)
    if requested == "fused":
        raise RuntimeError(f"backend='fused' is not available: {reason}")
    if not _warned_unavailable:
        _warned_unavailable = True
        warnings.warn(f"grukit falls back to the reference backend: {reason}", stacklevel=3)
    return BackendChoice("reference", REFERENCE_KERNELS, f"auto: {reason}")
