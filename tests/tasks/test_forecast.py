"""The forecasting tasks: the sunspot and electricity splits have the documented sizes and
dates, windows and targets line up with the series with no look-ahead, the scaler knows
only the training portion, the errors and baselines equal hand computations, a short run
writes its forecast plot and baseline numbers, and a missing data package says how to get
it."""

from __future__ import annotations

import io
import json
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

from grukit.data.scaling import StandardScaler
from grukit.data.series import (
    DAY,
    WEEK,
    load_sunspots,
    load_taylor,
    make_windows,
    seasonal_naive,
    window_origins,
)
from grukit.metrics import mape
from grukit.models import ModelConfig
from grukit.run.options import RunConfig
from grukit.run.training import run_training
from grukit.tasks.forecasting import electricity, sunspots
from grukit.tasks.forecasting.baselines import arima_one_step
from grukit.train.config import TrainConfig


class Constant(nn.Module):
    """A task model that always answers ``value``: inputs (T, B, 1) -> (B, outputs)."""

    def __init__(self, outputs: int, value: float = 0.0) -> None:
        super().__init__()
        self.outputs, self.value = outputs, value

    def forward(self, inputs, lengths, state=None):
        return torch.full((inputs.shape[1], self.outputs), self.value), state


@pytest.fixture(scope="module")
def sunspot_task():
    return sunspots.SunspotsTask.from_config(
        sunspots.DataConfig(window=20, valid_years=33, anchor=0)
    )


@pytest.fixture(scope="module")
def electricity_task():
    return electricity.ElectricityTask.from_config(
        electricity.DataConfig()
    )  # window 336, anchor 336


# ------------------------------------------------------------------ helpers, by hand


def test_windows_and_origins_by_hand():
    series = np.arange(10.0)
    # Targets x[t : t+2] inside [2, 9), window x[t-3 : t] inside the series, every 2nd.
    assert window_origins(2, 9, window=3, horizon=2, stride=2).tolist() == [3, 5, 7]
    assert window_origins(5, 9, window=3, horizon=2).tolist() == [5, 6, 7]
    inputs, targets = make_windows(series, np.array([3, 5]), 3, 2)
    assert inputs.tolist() == [[0, 1, 2], [2, 3, 4]] and targets.tolist() == [[3, 4], [5, 6]]
    with pytest.raises(ValueError, match="outside the series"):
        make_windows(series, np.array([9]), 3, 2)


def test_seasonal_naive_by_hand():
    series = np.arange(20.0) ** 2
    # f[t+k] = x[t+k-3]: origin 6 -> x[3], x[4]; origin 10 -> x[7], x[8].
    forecast = seasonal_naive(series, np.array([6, 10]), horizon=2, season=3)
    assert forecast.tolist() == [[9, 16], [49, 64]]
    with pytest.raises(ValueError, match="horizon"):  # would use values after the origin
        seasonal_naive(series, np.array([6]), horizon=4, season=3)


def test_scaler_standardises_with_the_values_it_was_fitted_on():
    scaler = StandardScaler.fit(np.array([1.0, 3.0]))  # mean 2, population std 1
    assert (scaler.mean, scaler.std) == (2.0, 1.0)
    assert scaler.transform(np.array([4.0])).tolist() == [2.0]
    assert scaler.inverse(np.array([-1.0])).tolist() == [1.0]
    constant = StandardScaler.fit(np.full(3, 5.0))  # no spread: centred, not scaled
    assert (constant.mean, constant.std) == (5.0, 1.0)
    again = StandardScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert (again.mean, again.std) == (2.0, 1.0)


def test_arima_forecasts_one_step_with_parameters_fixed_on_the_fit_years():
    years, values = load_sunspots()
    forecast, fitted = arima_one_step(values, 221, (2, 0, 0))
    assert fitted.nobs == 221 and forecast.shape == (67,)
    # AR(2) with mean mu: f_t = mu + phi_1 (x_{t-1} - mu) + phi_2 (x_{t-2} - mu), from the
    # actual values before t and the parameters estimated on the 221 years alone.
    mu, phi1, phi2 = fitted.params[:3]
    t = np.arange(221, 288)
    by_hand = mu + phi1 * (values[t - 1] - mu) + phi2 * (values[t - 2] - mu)
    np.testing.assert_allclose(forecast, by_hand, rtol=1e-8)


# ------------------------------------------------------------------ sunspots


def test_sunspot_split_is_zhangs(sunspot_task):
    years, values = load_sunspots()
    assert len(values) == 288 and (years[0], years[-1]) == (1700, 1987)
    task, target_years = sunspot_task, {}
    for split, origins in task.origins.items():
        target_years[split] = years[origins]
    # Zhang's 221 training years: 1700-1887 (targets from 1720, after the first window)
    # to fit, 1888-1920 to stop early; 67 test years.
    assert (target_years["train"][0], target_years["train"][-1]) == (1720, 1887)
    assert target_years["valid"].tolist() == list(range(1888, 1921))
    assert target_years["test"].tolist() == list(range(1921, 1988))
    assert task.actual("test")[[0, -1], 0].tolist() == [26.1, 29.4]  # 1921 and 1987
    assert task.test_start == 221 and task.outputs == 1


def test_sunspot_windows_follow_the_series_without_look_ahead(sunspot_task):
    task = sunspot_task
    scaled = task.scaler.transform(task.series).astype(np.float32)
    assert task.input_size == 1
    for split, origins in task.origins.items():
        inputs, targets = task.windows[split]
        assert inputs.shape == (len(origins), 20, 1) and targets.shape == (len(origins), 1)
        for row in (0, len(origins) - 1):
            t = origins[row]
            np.testing.assert_array_equal(inputs[row, :, 0], scaled[t - 20 : t])
            np.testing.assert_array_equal(targets[row], scaled[t : t + 1])
    # Training targets end before the validation years, validation ones before the test
    # years; the first test window reads the last 20 training years, actual values.
    assert task.origins["train"].max() < task.origins["valid"].min() == 188
    assert task.origins["valid"].max() < task.origins["test"].min() == 221
    np.testing.assert_array_equal(task.windows["test"][0][0, :, 0], scaled[201:221])
    batch = task.batch("test", [0, 5])
    inputs, targets, lengths = batch.inputs, batch.targets, batch.lengths
    assert inputs.shape == (20, 2, 1) and lengths.tolist() == [20, 20]
    torch.testing.assert_close(inputs[:, 1, 0], torch.from_numpy(scaled[206:226]))
    torch.testing.assert_close(targets[:, 0], torch.from_numpy(scaled[[221, 226]]))


def test_sunspot_scaler_is_fitted_on_the_training_years_only(sunspot_task):
    years, values = load_sunspots()
    fit_years = values[years <= 1887]
    assert sunspot_task.scaler.mean == pytest.approx(fit_years.mean(), rel=1e-12)
    assert sunspot_task.scaler.std == pytest.approx(fit_years.std(), rel=1e-12)
    assert sunspot_task.scaler.mean != pytest.approx(values[years <= 1920].mean(), rel=1e-3)


def test_sunspot_anchor_makes_the_outputs_changes_from_last_year():
    task = sunspots.SunspotsTask.from_config(sunspots.DataConfig(window=20, anchor=1))
    scaled = task.scaler.transform(task.series).astype(np.float32)
    # Each year of the window comes with its change from the year before: the first
    # window (target 1721) reads 1701-1720 and needs 1700 too.
    assert task.input_size == 2 and task.origins["train"][0] == 21
    t = task.origins["train"][5]
    inputs, targets = task.windows["train"]
    np.testing.assert_array_equal(inputs[5, :, 0], scaled[t - 20 : t])
    np.testing.assert_array_equal(inputs[5, :, 1], scaled[t - 20 : t] - scaled[t - 21 : t - 1])
    assert targets[5, 0] == scaled[t] - scaled[t - 1]  # the change from last year
    # A model that answers 0 forecasts last year's value.
    forecast = task.predict(Constant(1), "test")
    np.testing.assert_allclose(forecast[:, 0], task.series[220:287], rtol=1e-6)
    total, count = task.loss(Constant(1), task.batch("test", [0, 1, 2]))
    assert count == 3
    assert float(total) == pytest.approx(float((task.windows["test"][1][:3] ** 2).sum()))


def test_sunspot_scores_are_in_sunspot_numbers(sunspot_task):
    # Without an anchor, an output of 0 means the training mean, in original units.
    mean = sunspot_task.scaler.mean
    scores = sunspot_task.scores(Constant(1), "test")
    actual = sunspot_task.series[221:]
    assert scores["rmse"] == pytest.approx(np.sqrt(np.mean((actual - mean) ** 2)), rel=1e-6)
    assert scores["mae"] == pytest.approx(np.mean(np.abs(actual - mean)), rel=1e-6)


# ------------------------------------------------------------------ electricity


def test_electricity_split_sizes_and_dates(electricity_task):
    task = electricity_task
    times, values = load_taylor()
    assert len(values) == 4032 and str(times[0]) == "2000-06-05T00:00"
    assert str(times[-1]) == "2000-08-27T23:30"
    # Eight weeks train (targets after the first window and its week of look-back: from
    # 19 June), two valid, two test.
    assert str(times[task.origins["train"][0]]) == "2000-06-19T00:00"
    assert len(task.origins["train"]) == 8 * WEEK - 2 * WEEK - DAY + 1 == 1969
    assert task.origins["train"][-1] + DAY == 8 * WEEK  # last training target: 30 July 23:30
    for split, first in (("valid", "2000-07-31T00:00"), ("test", "2000-08-14T00:00")):
        origins = task.origins[split]
        assert len(origins) == 14 and str(times[origins[0]]) == first
        assert np.all(np.diff(origins) == DAY)  # each day's start, the days tiling the split
        assert np.all(times[origins].astype("datetime64[m]").astype(int) % (24 * 60) == 0)
    assert task.actual("test").shape == (14, 48)
    np.testing.assert_array_equal(task.actual("test").ravel(), values[10 * WEEK :])


def test_electricity_windows_and_scaler(electricity_task):
    task = electricity_task
    times, values = load_taylor()
    assert task.scaler.mean == pytest.approx(values[: 8 * WEEK].mean(), rel=1e-12)
    assert task.scaler.mean != pytest.approx(values.mean(), rel=1e-4)
    scaled = task.scaler.transform(values).astype(np.float32)
    inputs, targets = task.windows["test"]
    t = task.origins["test"][3]
    # Each half-hour of the week before the origin, and its offset from a week before it.
    np.testing.assert_array_equal(inputs[3, :, 0], scaled[t - WEEK : t])
    np.testing.assert_array_equal(
        inputs[3, :, 1], scaled[t - WEEK : t] - scaled[t - 2 * WEEK : t - WEEK]
    )
    # Targets: the day's offsets from the same half-hours a week earlier.
    np.testing.assert_array_equal(
        targets[3], scaled[t : t + DAY] - scaled[t - WEEK : t - WEEK + DAY]
    )
    batch = task.batch("test", [3, 4])
    inputs_batch, targets_batch, lengths = batch.inputs, batch.targets, batch.lengths
    assert inputs_batch.shape == (WEEK, 2, 2) and lengths.tolist() == [WEEK, WEEK]
    torch.testing.assert_close(inputs_batch[:, 0], torch.from_numpy(inputs[3]))
    torch.testing.assert_close(targets_batch[0], torch.from_numpy(targets[3]))


def test_electricity_baselines_by_hand(electricity_task):
    times, values = load_taylor()
    test = values[10 * WEEK :].reshape(14, 48)
    daily = values[10 * WEEK - DAY : -DAY].reshape(14, 48)  # each day: the day before
    weekly = values[9 * WEEK : -WEEK].reshape(14, 48)  # each day: the same day a week before
    (name, forecast), (weekly_name, weekly_forecast) = electricity_task.baseline_forecasts()
    assert "previous day" in name and "week earlier" in weekly_name
    np.testing.assert_array_equal(forecast, daily)
    np.testing.assert_array_equal(weekly_forecast, weekly)
    # A model answering 0 offsets is the weekly naive forecast, to float32 rounding.
    scores = electricity_task.scores(Constant(48), "test")
    assert scores["mape"] == pytest.approx(mape(test, weekly), rel=1e-5)


def test_bad_options_name_themselves():
    with pytest.raises(ValueError, match="anchor: got 10"):  # a day-ahead forecast would peek
        electricity.DataConfig(anchor=10)
    with pytest.raises(ValueError, match="window: got 2500"):
        electricity.DataConfig(window=2500)
    with pytest.raises(ValueError, match="valid_years: got 0"):
        sunspots.DataConfig(valid_years=0)


# ------------------------------------------------------------------ short runs


@pytest.mark.parametrize(
    "task_name, data, baseline_names",
    [
        ("sunspots", sunspots.DataConfig(window=10, valid_years=20), ["ARIMA(9, 0, 0)"]),
        (
            "electricity",
            electricity.DataConfig(window=96, anchor=48, train_stride=24),
            ["seasonal naive (previous day)", "seasonal naive (a week earlier)"],
        ),
    ],
)
def test_one_epoch_writes_the_forecast_plot_and_baselines(
    task_name, data, baseline_names, tmp_path
):
    model = ModelConfig(model="gru", hidden=4, backend="reference")
    train = TrainConfig(epochs=1, batch_size=64)
    run = RunConfig(task_name, data, model, train, str(tmp_path / "run"))
    run_training(run, log=io.StringIO())
    assert (tmp_path / "run" / "forecast.png").stat().st_size > 10_000
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert [baseline["name"] for baseline in saved["baselines"]] == baseline_names
    for baseline in saved["baselines"]:
        assert set(baseline["scores"]) == {f"test_{error}" for error in ("rmse", "mae", "mape")}
    # The model's errors, in the data's units: its test loss is the MSE of the standardised
    # targets, so RMSE = sqrt(loss) x the scaler's spread; and MAE <= RMSE.
    task_class = {"sunspots": sunspots.SunspotsTask, "electricity": electricity.ElectricityTask}
    spread = task_class[task_name].from_config(data).scaler.std
    assert saved["test_rmse"] == pytest.approx(math.sqrt(saved["test_mse"]) * spread, rel=1e-5)
    assert 0 < saved["test_mae"] <= saved["test_rmse"]
    if task_name == "electricity":  # the previous day's values, by hand
        values = load_taylor()[1]
        expected = mape(values[10 * WEEK :], values[10 * WEEK - DAY : -DAY])
        assert saved["baselines"][0]["scores"]["test_mape"] == pytest.approx(expected, rel=1e-12)
    else:  # Zhang's AR(9) fitted on 1700-1920
        assert saved["baselines"][0]["scores"]["test_rmse"] == pytest.approx(17.58, abs=0.05)


# ------------------------------------------------------------------ missing package


@pytest.mark.parametrize(
    "module, load",
    [("statsmodels.datasets.sunspots", load_sunspots), ("pmdarima.datasets", load_taylor)],
)
def test_missing_package_says_how_to_install_it(module, load, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # the import now fails
    with pytest.raises(ImportError) as error:
        load()
    message = str(error.value)
    assert "pip install 'grukit[forecast]'" in message and "\n" not in message
    assert module.split(".")[0] in message
