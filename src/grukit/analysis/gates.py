"""What a trained unit keeps and forgets: heat maps of its gates over one real sequence.

The update gate is shown as the fraction of the old state each unit keeps at each step
(``z`` for gru/ligru, ``1 - f`` for mgu, ``1 - z`` for mingru, whose gates write rather
than keep), so that in every picture bright means "remembers". The reset gate (gru family)
is shown as it is: dark means the candidate ignores that unit's past.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from grukit.analysis.unroll import unroll
from grukit.extras import pyplot
from grukit.layers import GRU


def gate_maps(recurrent: GRU, inputs: Tensor) -> dict[str, Tensor]:
    """{"keep", "reset" (if any), "keep_l1", ...}: each (T, H) for the one sequence in
    ``inputs`` (T, 1, I)."""
    spec = recurrent.spec
    with torch.no_grad():
        _, gates = unroll(recurrent, inputs)
    maps = {}
    for name, values in gates.items():
        letter, _, layer = name.partition("_")
        suffix = f"_{layer}" if layer else ""
        if letter == spec.update_gate:
            maps["keep" + suffix] = values[:, 0] if spec.update_keeps else 1 - values[:, 0]
        elif letter == "r":
            maps["reset" + suffix] = values[:, 0]
    return maps


def plot_gate_maps(inputs: Tensor, maps: dict[str, Tensor], path: str | Path, title: str):
    """The input (features x time) above one heat map (units x time) per gate; units sorted
    by their mean, so the long-memory units gather at the top."""
    plt = pyplot("drawing the gate heat maps")

    rows = 1 + len(maps)
    figure, axes = plt.subplots(rows, 1, figsize=(10, 2.2 + 2.4 * len(maps)), sharex=True)
    image = axes[0].imshow(inputs[:, 0].T.numpy(), aspect="auto", origin="lower", cmap="Greys")
    axes[0].set_ylabel("input feature")
    figure.colorbar(image, ax=axes[0], pad=0.01)  # keeps the time axes of all panels aligned
    for axis, (name, values) in zip(axes[1:], maps.items()):
        order = values.mean(0).argsort(descending=True)
        image = axis.imshow(
            values[:, order].T.numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1
        )
        axis.set_ylabel(f"{name}\nunit (sorted)")
        figure.colorbar(image, ax=axis, pad=0.01)
    axes[-1].set_xlabel("time step")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)


def describe(maps: dict[str, Tensor]) -> str:
    """A few numbers per gate: mean, and the share of units whose mean keep is > 0.9."""
    lines = []
    for name, values in maps.items():
        per_unit = values.mean(0)
        line = f"{name}: mean {float(values.mean()):.3f}"
        if name.startswith("keep"):
            share = float((per_unit > 0.9).float().mean())
            line += f", units keeping > 90% per step on average: {share:.0%}"
        lines.append(line)
    return "\n".join(lines)
