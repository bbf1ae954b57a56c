"""Learning curves and confusion matrices as PNG (matplotlib, from the train extra; no
display needed)."""

from __future__ import annotations

from pathlib import Path

from grukit.extras import pyplot

# Runs of at most this many epochs mark each epoch's point, so that a short run's curve
# shows where its points are (and one epoch's is a point, not nothing).
MARKED_EPOCHS = 30


def plot_learning_curves(
    histories: dict[str, list[dict]],
    path: str | Path,
    title: str,
    ylabel: str = "NLL per step (nats)",
    *,
    log_scale: bool = False,
    reference: float | None = None,
    reference_label: str = "trivial loss",
) -> Path:
    """Draw :func:`learning_curve_figure` into the PNG file ``path``."""
    figure = learning_curve_figure(
        histories,
        title,
        ylabel,
        log_scale=log_scale,
        reference=reference,
        reference_label=reference_label,
    )
    path = Path(path)
    figure.savefig(path, dpi=110)
    pyplot("drawing the learning curves").close(figure)
    return path


def learning_curve_figure(
    histories: dict[str, list[dict]],
    title: str,
    ylabel: str = "NLL per step (nats)",
    *,
    log_scale: bool = False,
    reference: float | None = None,
    reference_label: str = "trivial loss",
):
    """One line per run and split (train solid, valid dashed) against the epoch, a dot on
    each run's best validation epoch, and ``reference`` (e.g. what a model that learnt
    nothing scores) as a grey line. A run of at most ``MARKED_EPOCHS`` epochs marks its
    points (train circles, valid squares); a run of one epoch also writes its train value
    beside its point (the valid one is written as the best). ``log_scale``: a log y axis,
    for losses that fall by orders of magnitude. On a linear axis the first epochs of a
    fresh model sit far above the rest; the axis is then cut to keep the scale for the
    rest, and the plot says so. Returns the matplotlib figure."""
    plt = pyplot("drawing the learning curves")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, (label, history) in enumerate(histories.items()):
        color = f"C{index % 10}"
        epochs = [line["epoch"] for line in history]
        train = [line["train"] for line in history]
        valid = [line["valid"] for line in history]
        few = len(history) <= MARKED_EPOCHS
        axes.plot(
            epochs, train, color=color, label=f"{label} train", marker="o" if few else None, ms=4
        )
        axes.plot(
            epochs,
            valid,
            color=color,
            linestyle="--",
            label=f"{label} valid",
            marker="s" if few else None,
            ms=4,
        )
        if len(history) == 1:
            axes.annotate(
                f"train {train[0]:.4g}",
                (epochs[0], train[0]),
                textcoords="offset points",
                xytext=(-4, 6),
                ha="right",
                fontsize=7,
                color=color,
            )
        if history:
            best = min(range(len(valid)), key=valid.__getitem__)
            axes.plot(epochs[best], valid[best], "o", color=color, markersize=6, zorder=4)
            axes.annotate(
                f"best {valid[best]:.4g}",
                (epochs[best], valid[best]),
                textcoords="offset points",
                xytext=(-4, -12),
                ha="right",  # inside the axes, also when the best is the last epoch
                fontsize=7,
                color=color,
            )
    if reference is not None:
        axes.axhline(reference, color="grey", linewidth=1, linestyle=":", label=reference_label)
    if log_scale:
        axes.set_yscale("log")
    else:
        clip_first_epochs(axes, histories, reference)
    epochs = {line["epoch"] for history in histories.values() for line in history}
    if len(epochs) == 1:  # matplotlib would span 0.95..1.05 with ticks at 0.96, 0.98...
        axes.set_xlim(min(epochs) - 1, min(epochs) + 1)
    axes.xaxis.get_major_locator().set_params(integer=True)  # epochs: no 0.5 ticks
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def clip_first_epochs(axes, histories: dict[str, list[dict]], reference: float | None) -> None:
    """Cut the y axis at the highest loss after the first two epochs (and the reference
    line), and write on the plot which points lie above it."""
    values = [
        (line["epoch"], line[key])
        for history in histories.values()
        for line in history
        for key in ("train", "valid")
    ]
    later = [
        line[key]
        for history in histories.values()
        for line in history[2:]
        for key in ("train", "valid")
    ]
    if not later:
        return
    low = min(value for _, value in values)
    high = max(later + ([reference] if reference is not None else []))
    axes.set_ylim(low - 0.02 * (high - low), high + 0.05 * (high - low))
    above = sorted({epoch for epoch, value in values if value > high + 0.05 * (high - low)})
    if above:
        axes.text(
            0.99,
            0.98,
            f"epoch{'s' if len(above) > 1 else ''} {', '.join(map(str, above))} above the axis",
            transform=axes.transAxes,
            ha="right",
            va="top",
            fontsize=7,
            color="grey",
        )


def plot_confusion(counts, class_names: list[str], path: str | Path, title: str) -> Path:
    """A confusion matrix (C, C), rows true class, columns predicted, as a heat map of each
    row's fractions with the counts written in."""
    import numpy as np

    plt = pyplot("drawing the confusion matrix")

    counts = np.asarray(counts)
    fractions = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    size = max(4.0, 0.45 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(class_names))
    slanted = len(class_names) > 10 or max(len(name) for name in class_names) > 3
    axes.set_xticks(
        ticks, class_names, rotation=45 if slanted else 0, ha="right" if slanted else "center"
    )
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    if len(class_names) <= 20:  # counts stay legible
        for row in ticks:
            for column in ticks:
                if counts[row, column]:
                    dark = fractions[row, column] > 0.5
                    axes.text(
                        column,
                        row,
                        counts[row, column],
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if dark else "black",
                    )
    figure.colorbar(image, ax=axes, label="fraction of the true class")
    axes.set_title(title)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
