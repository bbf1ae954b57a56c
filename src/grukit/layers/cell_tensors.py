"""Creating a cell's parameters and buffers on a module under torch.nn.GRU's names."""

from __future__ import annotations

import torch
from torch import nn

from grukit.cells import CellSpec, Params


def register_cell_tensors(
    module: nn.Module,
    spec: CellSpec,
    input_size: int,
    hidden_size: int,
    bias: bool,
    suffix: str,
    factory_kwargs: dict,
) -> dict[str, str]:
    """Register one cell's tensors on ``module`` as ``{role}{suffix}``; return role -> name.

    Parameters and buffers are registered flat on the module (not in a ParameterDict),
    because that is what makes a torch.nn.GRU state_dict load unchanged.
    """
    names = {}
    for role, shape in spec.parameter_shapes(input_size, hidden_size, bias).items():
        names[role] = role + suffix
        module.register_parameter(names[role], nn.Parameter(torch.empty(shape, **factory_kwargs)))
    for role, shape in spec.buffer_shapes(hidden_size).items():
        names[role] = role + suffix
        module.register_buffer(names[role], torch.empty(shape, **factory_kwargs))
    return names


def gather_cell_tensors(module: nn.Module, names: dict[str, str]) -> Params:
    """The cell's tensors by role, as currently held by ``module``."""
    return {role: getattr(module, name) for role, name in names.items()}


def check_cell_tensors(
    module: nn.Module,
    spec: CellSpec,
    input_size: int,
    hidden_size: int,
    bias: bool,
    names: dict[str, str],
    like: torch.Tensor,
) -> None:
    """Raise ValueError naming the first of the cell's tensors on ``module`` whose shape,
    dtype or device is not what the cell was built with (a parameter replaced by hand):
    the kernels read them by those shapes."""
    wanted = {
        **spec.parameter_shapes(input_size, hidden_size, bias),
        **spec.buffer_shapes(hidden_size),
    }
    for role, shape in wanted.items():
        name = names[role]
        tensor = getattr(module, name)
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(shape):
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(
                f"{name}: got shape {got}, wanted {tuple(shape)} for {spec.name} with "
                f"input_size={input_size}, hidden_size={hidden_size}"
            )
        if tensor.dtype != like.dtype or tensor.device != like.device:
            raise ValueError(
                f"{name}: got {tensor.dtype} on {tensor.device}, wanted {like.dtype} on "
                f"{like.device} like the layer's other tensors"
            )
