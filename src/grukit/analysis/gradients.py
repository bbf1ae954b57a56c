r"""The vanishing-gradient picture: how much of the loss's gradient reaches a state ``d``
steps before the loss.

For a model whose loss L is read from its last state h_T (the adding problem), the total
derivative ``g_t = dL/dh_t`` obeys ``g_t = (dh_{t+1}/dh_t)^T g_{t+1}``: a product of
Jacobians, which shrinks geometrically for a tanh RNN and is held open by a GRU's update
gate. We report ``||g_{T-d}||`` (the mean over a batch of the per-sequence norms) against
``d``, before and after training.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from grukit.analysis.unroll import unroll
from grukit.extras import pyplot


def state_gradient_norms(model: nn.Module, inputs: Tensor, loss_of_last_state) -> Tensor:
    """``||dL/dh_{T-d}||`` for d = 0 .. T-1, each the mean over the batch of per-sequence
    norms: a (T,) tensor, index d.

    model: a task model with ``.recurrent`` (see :func:`unroll`); inputs (T, B, I) full
    length; ``loss_of_last_state(model, h_T) -> L`` a scalar. The model runs on a float64
    copy: these norms fall below float32's smallest number within 100 steps.
    """
    model = copy.deepcopy(model).double()
    states, _ = unroll(model.recurrent, inputs.double())
    for state in states:
        state.retain_grad()
    loss_of_last_state(model, states[-1]).backward()
    norms = torch.stack([state.grad.norm(dim=-1).mean() for state in states])
    return norms.flip(0).detach()


def decay_table(curves: dict[str, Tensor], distances: list[int]) -> str:
    """A markdown table of ``||dL/dh_{T-d}|| / ||dL/dh_T||`` at the given distances."""
    usable = [d for d in distances if all(d < len(norms) for norms in curves.values())]
    lines = [
        "| model | " + " | ".join(f"d={d}" for d in usable) + " |",
        "|---|" + "---:|" * len(usable),
    ]
    for label, norms in curves.items():
        ratios = [float(norms[d] / norms[0]) for d in usable]
        lines.append(f"| {label} | " + " | ".join(f"{r:.2e}" for r in ratios) + " |")
    return "\n".join(lines)


def plot_gradient_decay(panels: dict[str, dict[str, Tensor]], path, title: str):
    """One panel per stage ("untrained", "trained"), one line per model, log y."""
    plt = pyplot("drawing the gradient decay")

    figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), sharey=True)
    axes = [axes] if len(panels) == 1 else list(axes)
    for axis, (stage, curves) in zip(axes, panels.items()):
        for index, (label, norms) in enumerate(curves.items()):
            relative = norms / norms[0]
            axis.semilogy(range(len(norms)), relative.numpy(), color=f"C{index % 10}", label=label)
        axis.set_title(stage)
        axis.set_xlabel("distance d from the loss (steps)")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(r"$\|\partial L/\partial h_{T-d}\| \;/\; \|\partial L/\partial h_T\|$")
    axes[-1].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
