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
