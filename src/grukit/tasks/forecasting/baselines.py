"""The classical forecasts a recurrent model has to beat: the seasonal naive forecast and
one-step-ahead ARIMA (statsmodels; the ``forecast`` extra)."""

from __future__ import annotations

import numpy as np

from grukit.extras import require


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


def arima_one_step(
    series: np.ndarray, fit_stop: int, order: tuple[int, int, int]
) -> tuple[np.ndarray, object]:
    """One-step-ahead ARIMA forecasts of ``series[fit_stop:]``, (N - fit_stop,), and the
    fitted results: the parameters are estimated on ``series[:fit_stop]`` only, then kept
    fixed while the model runs over the rest, each forecast conditioned on the actual
    values before it (statsmodels' ``apply(..., refit=False)``)."""
    arima = require("statsmodels.tsa.arima.model", "forecast", "sunspots")
    fitted = arima.ARIMA(series[:fit_stop], order=order).fit()
    running = fitted.apply(series, refit=False)
    return running.predict(start=fit_stop, end=len(series) - 1), fitted
