r"""The scores grukit reports, in one place for every task.

Classification, from a confusion matrix ``counts`` (C, C), rows the true class, columns the
predicted one:

    accuracy = trace(counts) / sum(counts)
    macro F1 = mean over the classes present of F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)

(macro F1 weighs a rare class as much as a common one).

Forecasting, over every forecast step ``i`` (all origins and horizon steps), in the data's
own units:

    RMSE = sqrt(mean_i (y_i - f_i)^2),   MAE = mean_i |y_i - f_i|,
    MAPE = 100 mean_{i: y_i != 0} |y_i - f_i| / |y_i|   (percent)

MAPE is undefined where the actual value is 0; those steps are left out of it and only of
it.

Language: from a mean cross-entropy ``nats`` per token, perplexity = exp(nats) and bits
per character = nats / ln 2.
"""

from __future__ import annotations

import math

import numpy as np


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(truth), np.asarray(predicted)), 1)
    return counts


def accuracy(confusion: np.ndarray) -> float:
    """The share of the diagonal in ``confusion`` (C, C)."""
    return float(np.trace(confusion) / confusion.sum())


def macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 over the classes that occur in the truth or the predictions of ``confusion``
    (C, C), rows true class, columns predicted class."""
    hits = np.diag(confusion).astype(float)
    truth, predicted = confusion.sum(1), confusion.sum(0)
    present = (truth + predicted) > 0
    return float(np.mean(2 * hits[present] / (truth + predicted)[present]))


def classification_scores(confusion: np.ndarray) -> dict[str, float]:
    """{"accuracy", "macro_f1"} of a confusion matrix."""
    return {"accuracy": accuracy(confusion), "macro_f1": macro_f1(confusion)}


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error over all elements."""
    return float(np.sqrt(np.mean((np.asarray(actual) - forecast) ** 2)))


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error over all elements."""
    return float(np.mean(np.abs(np.asarray(actual) - forecast)))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error (percent) over the elements whose actual value is not
    0 (where it is undefined); NaN if every actual value is 0."""
    actual, forecast = np.asarray(actual), np.asarray(forecast)
    defined = actual != 0
    if not defined.any():
        return float("nan")
    return float(100 * np.mean(np.abs((actual - forecast)[defined] / actual[defined])))


def forecast_errors(actual: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    """{"rmse", "mae", "mape"} of a forecast, in the units of ``actual``."""
    if np.shape(actual) != np.shape(forecast):
        raise ValueError(
            f"forecast: got shape {np.shape(forecast)}, wanted the actual's {np.shape(actual)}"
        )
    return {
        "rmse": rmse(actual, forecast),
        "mae": mae(actual, forecast),
        "mape": mape(actual, forecast),
    }


def perplexity(nats_per_token: float) -> float:
    """exp of a mean cross-entropy in nats per token (inf for a diverging model's loss
    above ln(float max), where exp overflows)."""
    try:
        return math.exp(nats_per_token)
    except OverflowError:
        return math.inf


def bits_per_character(nats_per_character: float) -> float:
    """A mean cross-entropy in nats per character, in bits."""
    return nats_per_character / math.log(2)
