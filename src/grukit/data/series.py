r"""Univariate time series for forecasting: two real data sets, and the forecast origins
and windows cut from them (the scaler is ``grukit.data.scaling``, the errors
``grukit.metrics``, ARIMA ``grukit.tasks.forecasting.baselines``), the seasonal naive
forecast and the anchored inputs.

Data (both need the ``forecast`` extra: ``pip install 'grukit[forecast]'``):

- yearly sunspot numbers, 1700-2008, from ``statsmodels.datasets.sunspots``; the forecasting
  literature (Zhang 2003, Neurocomputing 50: 159-175) uses 1700-1987, 288 years, the first
  221 (1700-1920) to fit and the last 67 (1921-1987) to test;
- half-hourly electricity demand in England and Wales (MW), Monday 5 June to Sunday 27
  August 2000, 4,032 half-hours = 12 weeks, from ``pmdarima.datasets.load_taylor`` (Taylor
  2003, J. Oper. Res. Soc. 54: 799-805).

Windows. A series ``x`` (N,) is cut at forecast origins ``t``: the model reads the window
``x[t-w : t]`` (w steps, all known at the origin) and predicts ``x[t : t+h]`` (the horizon,
h steps). A split owns the origins whose targets lie in its own stretch of the series; its
windows may look back into the stretch before it, which is no leak: at the origin those
values are already observed.
"""

from __future__ import annotations

import numpy as np

from grukit.extras import require

SUNSPOT_YEARS = (1700, 1987)  # Zhang (2003)'s stretch of the yearly series
TAYLOR_START = np.datetime64("2000-06-05T00:00")  # a Monday, 00:00-00:30 the first value
HALF_HOUR = np.timedelta64(30, "m")
DAY = 48  # half-hours
WEEK = 7 * DAY


def load_sunspots(
    first: int = SUNSPOT_YEARS[0], last: int = SUNSPOT_YEARS[1]
) -> tuple[np.ndarray, np.ndarray]:
    """Yearly sunspot numbers of the years ``first``..``last`` (both included):
    years (N,) int64 and values (N,) float64. The default is Zhang (2003)'s 288 years."""
    data = require("statsmodels.datasets.sunspots", "forecast", "sunspots").load_pandas().data
    years = data["YEAR"].to_numpy().astype(np.int64)
    if first < years[0] or last > years[-1] or first > last:
        raise ValueError(
            f"years: got {first}-{last}, wanted a stretch inside {years[0]}-{years[-1]}"
        )
    keep = (years >= first) & (years <= last)
    return years[keep], data["SUNACTIVITY"].to_numpy(dtype=np.float64)[keep]


def load_taylor() -> tuple[np.ndarray, np.ndarray]:
    """Half-hourly demand in England and Wales (MW): times (4032,) datetime64[m], the start
    of each half-hour from Monday 2000-06-05 00:00, and values (4032,) float64."""
    values = (
        require("pmdarima.datasets", "forecast", "electricity").load_taylor().astype(np.float64)
    )
    times = TAYLOR_START + HALF_HOUR * np.arange(len(values))
    return times, values


def window_origins(start: int, stop: int, window: int, horizon: int, stride: int = 1) -> np.ndarray:
    """The forecast origins ``t`` (int64) whose targets ``x[t : t+h]`` lie inside
    ``[start, stop)`` and whose window ``x[t-w : t]`` lies inside the series (t >= w):
    every ``stride``-th one from the first."""
    if window < 1 or horizon < 1 or stride < 1:
        raise ValueError(
            f"window, horizon, stride: got {window}, {horizon}, {stride}, wanted ints >= 1"
        )
    return np.arange(max(start, window), stop - horizon + 1, stride, dtype=np.int64)


def make_windows(
    series: np.ndarray, origins: np.ndarray, window: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """inputs (N, w) = ``x[t-w : t]`` and targets (N, h) = ``x[t : t+h]`` for each of the
    N ``origins``, in the series' dtype."""
    origins = np.asarray(origins)[:, None]
    if origins.size and (origins.min() < window or origins.max() + horizon > len(series)):
        raise ValueError("origins: a window or its targets would reach outside the series")
    return series[origins + np.arange(-window, 0)], series[origins + np.arange(horizon)]


def seasonal_naive(
    series: np.ndarray, origins: np.ndarray, horizon: int, season: int
) -> np.ndarray:
    """The seasonal naive forecast (N, h): ``f[t+k] = x[t+k-season]`` for ``k < h``, the
    value one season earlier. ``h <= season`` keeps every value used at or before the
    origin (season 48: the previous day; 336: the same half-hour a week earlier)."""
    if not 1 <= horizon <= season:
        raise ValueError(f"horizon: got {horizon}, wanted 1 <= horizon <= season ({season})")
    origins = np.asarray(origins)[:, None]
    if origins.size and origins.min() < season:
        raise ValueError(f"origins: got {origins.min()}, wanted >= season ({season})")
    return series[origins + np.arange(horizon) - season]


def anchored_features(scaled: np.ndarray, anchor: int) -> np.ndarray:
    """(N, F) model inputs of a scaled series (N,): each step's value, and with a seasonal
    ``anchor`` S also its offset from one season before, ``z_s - z_{s-S}`` (NaN for the
    first S steps, which no window reads)."""
    features = [scaled]
    if anchor:
        lagged = np.full_like(scaled, np.nan)
        lagged[anchor:] = scaled[anchor:] - scaled[:-anchor]
        features.append(lagged)
    return np.stack(features, axis=-1)


def read_values(path) -> list[float]:
    """A column of numbers from a file: one per line, or a .csv's 'value' column (else its
    last one). A .csv's first line is a header when the chosen cell of it is not a number;
    a header-less file keeps its first value."""
    import csv
    from pathlib import Path

    path = Path(path)
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    cells = lines
    if path.suffix == ".csv" and lines:
        rows = [next(csv.reader([line])) for line in lines]
        header = rows[0]
        column = header.index("value") if "value" in header else len(header) - 1
        cells = [row[column] if column < len(row) else "" for row in rows]
        if not _is_number(cells[0]):
            cells = cells[1:]
    try:
        return [float(cell) for cell in cells]
    except ValueError as error:
        raise ValueError(
            f"data: {path.name!r} holds a value that is not a number ({error})"
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
