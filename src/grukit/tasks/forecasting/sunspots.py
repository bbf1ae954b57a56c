r"""Yearly sunspot numbers, one year ahead (Zhang 2003's split): the years 1700-1987, the
first 221 (1700-1920) for training and the last 67 (1921-1987) as the test.

Each forecast predicts a year's number from the ``window`` years before it (h = 1). With
the default ``anchor`` 1 the model predicts the change from last year and reads, for each
year s of the window, its value and its own change, ``(z_s, z_s - z_{s-1})`` (see
``grukit.tasks.forecasting.base``): the test years peak at 190, above any training year (154 in
1778), and a forecast of levels from a tanh-bounded state stays under the training range,
where a change from last year does not. Measured on validation, the change beat the level.

Of the 221 training years the last ``valid_years`` are held out for early stopping
(default 33, 1888-1920: three ~11-year cycles, so they hold whole rises and falls); the
model's gradient sees only the years before (1700-1887; targets from 1721, after the
first window and its one-year look-back), and the scaler is fitted on those years alone.
Test windows look back into the training years, as every one-step forecast does.

Window, default 20 years: nearly two solar cycles (~11 years each, 9-14 observed), so a
window spans at least one whole cycle wherever it starts and shows how strong the current
cycle runs against the last. A window of 11 scored worse on validation.

Baseline: ARIMA(9, 0, 0) with a constant, i.e. AR(9), the order Zhang (2003) used on this
split; on the 221 training years AIC also picks p = 9 among AR(2)..AR(12). Its parameters
are estimated on all 221 training years (it needs no early stopping) and kept fixed while
it forecasts each test year from the actual values before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from grukit.config import option, require_at_least
from grukit.data.series import load_sunspots
from grukit.tasks.forecasting.base import ForecastTask
from grukit.tasks.forecasting.baselines import arima_one_step

FIRST_YEAR, LAST_TRAIN_YEAR, LAST_YEAR = 1700, 1920, 1987
ARIMA_ORDER = (9, 0, 0)


@dataclass
class DataConfig:
    """Yearly sunspot numbers, 1700-1987."""

    window: int = option(20, "years of actual values each one-year-ahead forecast reads")
    valid_years: int = option(
        33, "the last training years (up to 1920) held out for early stopping"
    )
    anchor: int = option(
        1,
        "predict the change from the value this many years back, and read each year's "
        "(1: last year's); 0: levels",
    )

    def __post_init__(self) -> None:
        train_years = LAST_TRAIN_YEAR - FIRST_YEAR + 1
        require_at_least(self, 1, "window")
        if self.anchor < 0:
            raise ValueError(f"anchor: got {self.anchor}, wanted an int >= 0")
        # At least as many training targets as validation ones.
        most = (train_years - self.window - self.anchor) // 2
        if not 1 <= self.valid_years <= most:
            raise ValueError(
                f"valid_years: got {self.valid_years}, wanted an int in 1..{most} with "
                f"window {self.window} and anchor {self.anchor}"
            )

    @property
    def title(self) -> str:
        return f"sunspots-w{self.window}" + (f"-a{self.anchor}" if self.anchor else "")


class SunspotsTask(ForecastTask):
    Data = DataConfig
    model_defaults = {"hidden": 64}  # 13,056 recurrent parameters with gru and 2 inputs
    # 167 training windows: small batches, and patience for a noisy validation loss.
    train_defaults = {
        "batch_size": 16,
        "lr": 1e-3,
        "epochs": 300,
        "patience": 40,
        "plateau_epochs": 10,
    }
    unit = "sunspot number"

    def __init__(self, config: DataConfig) -> None:
        years, values = load_sunspots(FIRST_YEAR, LAST_YEAR)
        self.test_start = LAST_TRAIN_YEAR - FIRST_YEAR + 1  # index of 1921
        valid_start = self.test_start - config.valid_years
        stretches = {
            "train": (0, valid_start, 1),
            "valid": (valid_start, self.test_start, 1),
            "test": (self.test_start, len(values), 1),
        }
        super().__init__(values, years, stretches, config.window, 1, config.anchor, config.title)

    def baseline_forecasts(self):
        forecast, _ = arima_one_step(self.series, self.test_start, ARIMA_ORDER)
        return [(f"ARIMA{ARIMA_ORDER}", forecast[:, None])]
