"""A variant name and its options resolved to its :class:`~grukit.cells.spec.CellSpec`."""

from __future__ import annotations

import dataclasses

from grukit.cells import RESET_GATED, VARIANTS
from grukit.cells.gru import gru_family_spec
from grukit.cells.ligru import NORMS, ligru_spec
from grukit.cells.mgu import MGU
from grukit.cells.mingru import MINGRU
from grukit.cells.spec import CellSpec, layer_normalised_projection


def cell_spec(variant: str, reset_after: bool | None = None, norm: str | None = None) -> CellSpec:
    """Resolve a variant name and its options to its :class:`CellSpec`.

    Args:
        variant: one of :data:`VARIANTS`.
        reset_after: for ``gru``/``gru1``/``gru2``/``gru3``: apply the reset gate after the
            recurrent matmul (True, the default: torch.nn.GRU's form) or before it (False,
            Cho et al. 2014). Must be None for the other variants, which have no such choice.
        norm: for ``ligru``: ``"batch"`` (default) or ``"layer"`` on its input projection.
            For the gru family and ``mgu``: None, or ``"layer"``: layer normalisation of
            the input projection and of the recurrent projection, per gate block, each
            with its own gain (``norm_weight``, ``norm_weight_hh``), the cell's biases as
            the shifts (Ba et al. 2016; the form of Haste's LayerNormGRU). Not ``mingru``.
    """
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"variant: got {variant!r}, wanted one of {', '.join(VARIANTS)}")
    if reset_after is not None and not isinstance(reset_after, bool):
        raise TypeError(f"reset_after: got {reset_after!r}, wanted True, False or None")
    if reset_after is not None and variant not in RESET_GATED:
        raise ValueError(
            f"reset_after: got {reset_after!r} for variant {variant!r}, which has no reset "
            f"gate to place; wanted None (reset_after applies to {', '.join(RESET_GATED)})"
        )
    if variant == "mingru" and norm is not None:
        raise ValueError(f"norm: got {norm!r} for variant 'mingru'; wanted None")
    if variant in (*RESET_GATED, "mgu") and norm not in (None, "layer"):
        raise ValueError(f"norm: got {norm!r} for variant {variant!r}; wanted None or 'layer'")
    if variant in RESET_GATED:
        spec = gru_family_spec(variant, True if reset_after is None else reset_after)
        return spec if norm is None else layer_normalised(spec)
    if variant == "mgu" and norm == "layer":
        return layer_normalised(MGU)
    if variant == "ligru":
        norm = "batch" if norm is None else norm
        if norm not in NORMS:
            raise ValueError(f"norm: got {norm!r}, wanted one of {', '.join(NORMS)}")
        return ligru_spec(norm)
    return MGU if variant == "mgu" else MINGRU


def layer_normalised(spec: CellSpec) -> CellSpec:
    """``spec`` with layer norm on its input and recurrent projections (see cell_spec)."""
    return dataclasses.replace(
        spec,
        norm="layer",
        norm_shift=False,
        norm_recurrent=True,
        project_input=layer_normalised_projection,
        equations=spec.equations + "; W_i x and W_h h layer-normalised per gate (gains g_i, g_h)",
    )
