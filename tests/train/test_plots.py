"""A short run's learning curve marks its points: one epoch reads as a point with its
value, a few epochs as marked lines; a long run is drawn as plain lines."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from grukit.train.plots import MARKED_EPOCHS, learning_curve_figure, plot_learning_curves  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    from matplotlib import pyplot

    pyplot.close("all")


def history(epochs: int) -> list[dict]:
    return [{"epoch": e, "train": 2.0 / e, "valid": 2.1 / e + 0.1} for e in range(1, epochs + 1)]


def lines_of(figure) -> dict:
    return {line.get_label(): line for line in figure.axes[0].get_lines()}


def test_one_epoch_is_a_point_with_its_value(tmp_path):
    figure = learning_curve_figure({"gru": [{"epoch": 1, "train": 2.31, "valid": 2.05}]}, "t")
    axes, lines = figure.axes[0], lines_of(figure)
    assert lines["gru train"].get_marker() == "o" and lines["gru valid"].get_marker() == "s"
    assert lines["gru train"].get_markersize() >= 4
    assert {text.get_text() for text in axes.texts} == {"train 2.31", "best 2.05"}
    assert axes.get_xlim() == (0.0, 2.0)  # the epoch in the middle, integer ticks
    assert [tick for tick in axes.get_xticks() if 0 <= tick <= 2] == [0.0, 1.0, 2.0]
    path = plot_learning_curves({"gru": history(1)}, tmp_path / "curves.png", "t")
    assert path.stat().st_size > 1000


@pytest.mark.parametrize(
    "epochs, marker", [(5, "o"), (MARKED_EPOCHS, "o"), (MARKED_EPOCHS + 1, "None")]
)
def test_short_runs_mark_their_epochs(epochs, marker):
    figure = learning_curve_figure({"gru": history(epochs), "lstm": history(epochs)}, "t")
    lines = lines_of(figure)
    assert lines["gru train"].get_marker() == marker and lines["lstm train"].get_marker() == marker
    assert len(lines["gru train"].get_xdata()) == epochs
    texts = {text.get_text() for text in figure.axes[0].texts}
    assert not any(text.startswith("train ") for text in texts)  # one epoch's label only
