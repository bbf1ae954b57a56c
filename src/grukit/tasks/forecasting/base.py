r"""What the forecasting tasks (``sunspots``, ``electricity``) share: windows of one series
per split, standardised with the training portion's mean and deviation, an MSE loss on the
standardised values, errors in original units, and the report that sets the model beside
the task's baselines on the test period.

Shape legend: N windows of a split, B batch, w window (steps read), h horizon (steps
predicted at once), F input features per step (1, or 2 with an anchor).

The model reads a window of the standardised series ``z``, the w steps ``s = t-w .. t-1``
before the origin t, and its pooled read-out predicts the whole horizon at once, (B, h): a
direct multi-step forecast, no forecast fed back as input. Without an anchor it reads
``z_s`` and predicts ``zhat_{t+k} = o_k``. With an ``anchor`` season ``S >= h`` its outputs
are offsets from the seasonal naive forecast, and it reads each step's value beside that
step's own offset from one season before:

    input_s = (z_s, z_s - z_{s-S}),   zhat_{t+k} = z_{t+k-S} + o_k,   k = 0..h-1

Why: a read-out of a tanh-bounded state is bounded by what training asked of it, and an
offset lets the forecast leave the range of the training values (the sunspot test years
peak at 190, the training years at 154); and the past offsets are exactly what the model
must extrapolate (e.g. demand running 2% above last week's all day). A window then looks
back w + S steps, all observed at the origin. The loss is the mean of ``(zhat - z)^2``
over every predicted element, the same squared error in standardised units either way;
the scores map forecasts back with the scaler's inverse and measure them in the data's
own units (see ``grukit.data.series``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from grukit.data.batching import Batch, FixedLengthBatches
from grukit.data.scaling import StandardScaler
from grukit.data.series import anchored_features, make_windows, seasonal_naive, window_origins
from grukit.extras import pyplot
from grukit.metrics import forecast_errors
from grukit.tasks.base import Baseline, Task

# A batch: inputs (w, B, F), targets (B, h), lengths (B,)
PREDICT_BATCH = 256
SPLITS = ("train", "valid", "test")


class ForecastTask(FixedLengthBatches, Task):
    """Windows of ``series`` (N,): ``stretches`` gives each split ("train", "valid",
    "test") as (start, stop, stride), the steps its targets may fill and the steps between
    its origins; ``window`` steps are read and ``horizon`` predicted per origin, ``anchor``
    is the season of the naive forecast the outputs are offsets from (0: none). The scaler
    is fitted on ``series[:valid start]``, the training portion. ``times`` (N,) label the
    steps in plots.

    A task adds ``baseline_forecasts()``: [(name, forecast (N_test, h))], the first the
    bar it is measured against; ``baselines()`` scores them on the test split and
    ``report`` draws them.
    """

    head = "pooled"
    metric = "mse"
    metric_label = "mean squared error (standardised)"
    unit = "value"  # the y label of the forecast plot

    def __init__(
        self,
        series: np.ndarray,
        times: np.ndarray,
        stretches: dict[str, tuple[int, int, int]],
        window: int,
        horizon: int,
        anchor: int,
        title: str,
    ) -> None:
        if anchor and anchor < horizon:
            raise ValueError(
                f"anchor: got {anchor}, wanted 0 or a season >= the horizon ({horizon}), so "
                "that the naive forecast uses only values known at the origin"
            )
        self.series, self.times, self.title = series, times, title
        self.steps, self.outputs, self.anchor = window, horizon, anchor
        training = series[: stretches["valid"][0]]
        if not np.std(training) > 0:
            raise ValueError("series: got a constant training stretch, which has no scale")
        self.scaler = StandardScaler.fit(training)
        self.scaled = self.scaler.transform(series).astype(np.float32)
        features = anchored_features(self.scaled, anchor)  # (N, F)
        self.input_size = features.shape[1]
        self.origins, self.windows = {}, {}
        for split in SPLITS:
            start, stop, stride = stretches[split]
            origins = window_origins(start, stop, window + anchor, horizon, stride)
            inputs = make_windows(features, origins, window, horizon)[0]  # (N, w, F)
            targets = make_windows(self.scaled, origins, window, horizon)[1]
            self.origins[split] = origins
            self.windows[split] = (inputs, targets - self.offsets_from(split))

    def split_size(self, split: str) -> int:
        return len(self.origins[split])

    def batch(self, split: str, indices: list[int], rng=None) -> Batch:
        inputs, targets = (array[indices] for array in self.windows[split])
        lengths = torch.full((len(indices),), self.steps, dtype=torch.int64)
        inputs = torch.from_numpy(inputs.transpose(1, 0, 2).copy())  # (w, B, F)
        return Batch(inputs, torch.from_numpy(targets), lengths)

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        return ((outputs - targets) ** 2).sum(), targets.numel()

    def offsets_from(self, split: str) -> np.ndarray:
        """What the model's outputs are added to, (N, h) standardised: the anchor's seasonal
        naive forecast, or 0."""
        if not self.anchor:
            return np.zeros((len(self.origins[split]), self.outputs), np.float32)
        return seasonal_naive(self.scaled, self.origins[split], self.outputs, self.anchor)

    def actual(self, split: str) -> np.ndarray:
        """The targets (N, h) in original units, read from the series itself."""
        return make_windows(self.series, self.origins[split], self.steps, self.outputs)[1]

    def predict(self, model: nn.Module, split: str) -> np.ndarray:
        """The model's forecasts (N, h) of a split's targets, in original units."""
        forecasts = [
            outputs.double().numpy()
            for outputs, _, _ in self.outputs_of(model, split, PREDICT_BATCH)
        ]
        return self.scaler.inverse(np.concatenate(forecasts) + self.offsets_from(split))

    def scores(self, model: nn.Module, split: str) -> dict:
        return forecast_errors(self.actual(split), self.predict(model, split))

    def preprocessing(self) -> dict:
        """The scaler and the window's shape: recent raw values in, the next ``horizon``
        values out."""
        return {
            "kind": "series",
            "scaler": self.scaler.to_dict(),
            "window": self.steps,
            "horizon": self.outputs,
            "anchor": self.anchor,
        }

    def baseline_forecasts(self) -> list[tuple[str, np.ndarray]]:
        raise NotImplementedError

    def baselines(self) -> list[Baseline]:
        """Each baseline forecast's errors on the test split."""
        actual = self.actual("test")
        return [
            {
                "name": name,
                "scores": {
                    f"test_{error}": value
                    for error, value in forecast_errors(actual, forecast).items()
                },
                "settings": {},
            }
            for name, forecast in self.baseline_forecasts()
        ]

    def report(self, model: nn.Module, out_dir: str | Path) -> dict:
        """forecast.png: the test period, actual, the model and each baseline."""
        forecast = self.predict(model, "test")
        lines = {model_name(model): forecast, **dict(self.baseline_forecasts())}
        plot_forecast(
            self.times[self.origins["test"][:, None] + np.arange(self.outputs)],
            self.actual("test"),
            lines,
            Path(out_dir) / "forecast.png",
            f"{self.title}: test forecasts",
            self.unit,
        )
        return {}


def model_name(model: nn.Module) -> str:
    """The plot label of a task model: its grukit variant, or torch's layer name."""
    recurrent = getattr(model, "recurrent", model)
    return getattr(recurrent, "variant", type(recurrent).__name__.lower()).upper()


def plot_forecast(
    times: np.ndarray,
    actual: np.ndarray,
    forecasts: dict[str, np.ndarray],
    path: str | Path,
    title: str,
    ylabel: str,
) -> Path:
    """The actual values and each forecast over the test period, all (N, h) with their
    ``times`` (N, h). Forecasts from overlapping origins would be drawn over each other, so
    a task's test origins should tile the period (h apart), as both tasks' do."""
    plt = pyplot("drawing the forecasts")

    order = np.argsort(times.ravel(), kind="stable")
    figure, axes = plt.subplots(figsize=(9, 4.5))
    # The actual values on top (zorder): the forecasts often lie right on them.
    axes.plot(times.ravel()[order], actual.ravel()[order], color="black", label="actual", zorder=3)
    for index, (label, forecast) in enumerate(forecasts.items()):
        axes.plot(
            times.ravel()[order],
            forecast.ravel()[order],
            color=f"C{index}",
            linestyle="-" if index == 0 else "--",
            linewidth=1.5 if index == 0 else 1.0,
            label=label,
        )
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
