"""Learning curves as PNG (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path


def plot_learning_curves(
    histories: dict[str, list[dict]],
    path: str | Path,
    title: str,
    ylabel: str = "NLL per step (nats)",
) -> Path:
    """One line per run and split (train solid, valid dashed) against the epoch."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, (label, history) in enumerate(histories.items()):
        color = f"C{index % 10}"
        epochs = [line["epoch"] for line in history]
        axes.plot(epochs, [line["train"] for line in history], color=color, label=f"{label} train")
        axes.plot(
            epochs,
            [line["valid"] for line in history],
            color=color,
            linestyle="--",
            label=f"{label} valid",
        )
    # The first epochs of a fresh model sit far above the rest: keep the scale for the rest.
    later = [
        line[key]
        for history in histories.values()
        for line in history[2:]
        for key in ("train", "valid")
    ]
    if later:
        everything = [
            line[key]
            for history in histories.values()
            for line in history
            for key in ("train", "valid")
        ]
        low, high = min(everything), max(later)
        axes.set_ylim(low - 0.02 * (high - low), high + 0.05 * (high - low))
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
