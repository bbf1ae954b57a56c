"""``grukit.GRUCell``: one time step of any variant, a drop-in for torch.nn.GRUCell."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from grukit.cells import CellSpec, Params, cell_spec
from grukit.layers.cell_tensors import gather_cell_tensors, register_cell_tensors
from grukit.layers.checks import (
    check_bool,
    check_init,
    check_real_dtype,
    check_size,
    check_tensor,
)


class GRUCell(nn.Module):
    r"""One step ``h' = cell(x, h)`` of any variant (equations: ``grukit.cells``).

    Args:
        input_size: I.
        hidden_size: H.
        bias: whether the cell has its biases.
        variant: as for ``grukit.GRU``.
        reset_after: as for ``grukit.GRU``.
        norm: as for ``grukit.GRU``.
        init: as for ``grukit.GRU``.
        t_max: as for ``grukit.GRU``.

    Shapes: input (B, I) or unbatched (I,); hx (B, H) or (H,), zeros when None;
    output (B, H) or (H,).

    Parameters carry torch.nn.GRUCell's names (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``). With ``variant="ligru"`` and batch norm, a cell in training mode
    normalises with the statistics of its own step's batch (a layer uses all steps).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        variant: str = "gru",
        reset_after: bool | None = None,
        norm: str | None = None,
        init: str = "default",
        t_max: float | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.bias = check_bool("bias", bias)
        self.spec: CellSpec = cell_spec(variant, reset_after, norm)
        self.init, self.t_max = check_init(init, t_max)
        check_real_dtype(dtype)
        self._tensor_names = register_cell_tensors(
            self,
            self.spec,
            self.input_size,
            self.hidden_size,
            self.bias,
            "",
            {"device": device, "dtype": dtype},
        )
        self.reset_parameters()

    @property
    def variant(self) -> str:
        return self.spec.name

    def cell_params(self) -> Params:
        """The cell's tensors by role."""
        return gather_cell_tensors(self, self._tensor_names)

    def reset_parameters(self) -> None:
        self.spec.reset_parameters(self.cell_params(), self.hidden_size, self.t_max)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, {self.spec.options_repr()}"
        if self.init != "default":
            text += f", init={self.init!r}, t_max={self.t_max:g}"
        return text + ("" if self.bias else ", bias=False")

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: input (B, I) or (I,), hx (B, H) or (H,) -> h' of hx's shape."""
        weight = self.weight_ih
        I, H = self.input_size, self.hidden_size
        check_tensor(
            "input",
            input,
            shapes=[(-1, I), (I,)],
            wanted=f"(B, I={I}) or unbatched (I={I},)",
            dtype=weight.dtype,
            device=weight.device,
        )
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            h = x.new_zeros(x.shape[0], H)
        else:
            shape = (x.shape[0], H) if batched else (H,)
            wanted = f"(B={x.shape[0]}, H={H})" if batched else f"(H={H},)"
            check_tensor(
                "hx", hx, shapes=[shape], wanted=wanted, dtype=weight.dtype, device=weight.device
            )
            h = hx if batched else hx.unsqueeze(0)
        params = self.cell_params()
        gi = self.spec.project_input(x.unsqueeze(0), params, None, self.training)[0]
        h_next = self.spec.step(gi, h, params)
        return h_next if batched else h_next.squeeze(0)
