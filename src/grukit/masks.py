"""The padding mask, shared by the kernels (which must never read padding) and the models
(whose losses and pooling must leave it out). It imports nothing of grukit, so both layers
import it from below them."""

from __future__ import annotations

import torch
from torch import Tensor


def valid_steps(lengths: Tensor, num_steps: int) -> Tensor:
    """(T, B, 1) bool: True where step t lies inside sequence b (t < lengths[b])."""
    steps = torch.arange(num_steps, device=lengths.device)
    return (steps[:, None] < lengths[None, :]).unsqueeze(-1)
