"""The classical forecasts a recurrent model has to beat: one-step-ahead ARIMA
(statsmodels; the ``forecast`` extra) here, the seasonal naive forecast in
``grukit.data.series`` (the anchored tasks and ``grukit.load`` read it too)."""

from __future__ import annotations

import numpy as np

from grukit.extras import require


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
