r"""Half-hourly electricity demand in England and Wales (Taylor 2003), a day ahead: from a
window of past half-hours, the next 48 at once (a direct multi-step forecast).

The 12 weeks (Monday 5 June to Sunday 27 August 2000, 4,032 half-hours) split by whole
weeks, in time order, so that each split holds every weekday equally often: weeks 1-8
(5 June - 30 July, 2,688 half-hours) train, weeks 9-10 (31 July - 13 August, 672) validate
for early stopping, weeks 11-12 (14-27 August, 672) test. Two weeks is the least that puts
each weekday twice into the validation and test errors; the eight left for training leave
room for windows that look back two weeks. The scaler is fitted on the training weeks.

Origins. Training windows start at every half-hour (``train_stride`` 1; 1,969 windows with
the defaults), for as many examples as the eight weeks give. Validation and test forecasts
are made at each day's start (00:00), 14 days each: day-ahead forecasting as an operator
does it, every half-hour of the period forecast exactly once, so the errors weigh all times
of day and weekdays equally and the forecasts tile the test plot.

Anchor and window. Demand's strongest pattern is weekly (weekends lower, Mondays and
Fridays unlike mid-week), so the model predicts offsets from the same half-hours a week
earlier (``anchor`` 336) and reads, for each half-hour of its window, the demand and its
own offset from a week before (see ``grukit.tasks.forecasting.base``): it learns how far the
coming day will run from last week's, from how far the recent days ran. Predicting levels
from levels instead did not beat the weekly naive forecast, and neither did offsets read
from levels alone (the model learned only their training mean). The window, default 336
(one week, so a look-back of two weeks), holds every weekday's offsets; it scored best on
validation against 48, 96 and 192.

Baselines, both seasonal naive: the previous day's values (``baseline``) and the same
half-hour a week earlier (``weekly_baseline``). The weekly one is by far the stronger bar
on this data (test MAPE 1.73% against 6.47%): a previous-day forecast is wrong every
Saturday, Sunday and Monday.
"""

from __future__ import annotations

from dataclasses import dataclass

from grukit.config import option, require_at_least
from grukit.data.series import DAY, WEEK, load_taylor, seasonal_naive
from grukit.tasks.forecasting.base import ForecastTask

TRAIN_WEEKS, VALID_WEEKS, TEST_WEEKS = 8, 2, 2


@dataclass
class DataConfig:
    """Half-hourly electricity demand, England and Wales, summer 2000."""

    window: int = option(WEEK, "half-hours of past demand each day-ahead forecast reads")
    anchor: int = option(
        WEEK,
        "predict offsets from the values this many half-hours earlier, and read each step's "
        "own (336: a week; at least 48, a day); 0: levels",
    )
    train_stride: int = option(1, "half-hours between the origins of training windows")

    def __post_init__(self) -> None:
        if self.anchor and self.anchor < DAY:
            raise ValueError(f"anchor: got {self.anchor}, wanted 0 or an int >= {DAY}")
        most = TRAIN_WEEKS * WEEK - DAY - self.anchor  # leaves at least one training window
        if not 1 <= self.window <= most:
            raise ValueError(
                f"window: got {self.window}, wanted an int in 1..{most} with anchor {self.anchor}"
            )
        require_at_least(self, 1, "train_stride")

    @property
    def title(self) -> str:
        return f"electricity-w{self.window}" + (f"-a{self.anchor}" if self.anchor else "")


class ElectricityTask(ForecastTask):
    Data = DataConfig
    model_defaults = {"hidden": 64}  # 13,056 recurrent parameters with gru and 2 inputs
    # ~2,000 windows an epoch: validation stops improving within 5-25 epochs.
    train_defaults = {
        "batch_size": 32,
        "lr": 1e-3,
        "epochs": 30,
        "patience": 8,
        "plateau_epochs": 3,
    }
    unit = "demand (MW)"

    def __init__(self, config: DataConfig) -> None:
        times, values = load_taylor()
        valid_start, test_start = TRAIN_WEEKS * WEEK, (TRAIN_WEEKS + VALID_WEEKS) * WEEK
        test_stop = test_start + TEST_WEEKS * WEEK
        if test_stop != len(values):
            raise ValueError(f"taylor: got {len(values)} half-hours, wanted {test_stop}")
        # Valid and test origins at each day's start: both splits start on a Monday 00:00.
        stretches = {
            "train": (0, valid_start, config.train_stride),
            "valid": (valid_start, test_start, DAY),
            "test": (test_start, test_stop, DAY),
        }
        super().__init__(values, times, stretches, config.window, DAY, config.anchor, config.title)

    def baseline_forecasts(self):
        test = self.origins["test"]
        return [
            ("seasonal naive (previous day)", seasonal_naive(self.series, test, DAY, DAY)),
            ("seasonal naive (a week earlier)", seasonal_naive(self.series, test, DAY, WEEK)),
        ]
