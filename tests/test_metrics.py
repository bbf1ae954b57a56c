"""grukit.metrics: every score against a value computed by hand (or by scikit-learn)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from grukit.metrics import (
    accuracy,
    bits_per_character,
    classification_scores,
    confusion_matrix,
    forecast_errors,
    macro_f1,
    mae,
    mape,
    perplexity,
    rmse,
)

# Six labels of three classes; rows of the confusion matrix are the true class:
#   true 0: predicted 0, 1       -> [1, 1, 0]
#   true 1: predicted 1          -> [0, 1, 0]
#   true 2: predicted 2, 0, 2    -> [1, 0, 2]
TRUTH = np.array([0, 0, 1, 2, 2, 2])
PREDICTED = np.array([0, 1, 1, 2, 0, 2])
COUNTS = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_confusion_matrix_rows_are_the_true_class():
    counts = confusion_matrix(TRUTH, PREDICTED, 3)
    assert counts.dtype == np.int64 and counts.tolist() == COUNTS
    # A class that never occurs is a row and column of zeros.
    assert confusion_matrix(TRUTH, PREDICTED, 4).tolist() == [
        [1, 1, 0, 0],
        [0, 1, 0, 0],
        [1, 0, 2, 0],
        [0, 0, 0, 0],
    ]


def test_accuracy_and_macro_f1_by_hand():
    counts = np.array(COUNTS)
    assert accuracy(counts) == 4 / 6
    # F1_c = 2 TP / (2 TP + FP + FN): class 0: 2/(2+1+1), class 1: 2/(2+1+0), class 2: 4/(4+0+1)
    by_hand = (2 / 4 + 2 / 3 + 4 / 5) / 3
    assert macro_f1(counts) == pytest.approx(by_hand, rel=1e-12)
    assert classification_scores(counts) == {
        "accuracy": accuracy(counts),
        "macro_f1": macro_f1(counts),
    }
    # Every prediction right: 1; every prediction one class off: 0.
    assert accuracy(np.eye(3, dtype=int) * 5) == 1.0 and macro_f1(np.eye(3, dtype=int)) == 1.0
    shifted = np.roll(np.eye(3, dtype=int), 1, axis=1)
    assert accuracy(shifted) == 0.0 and macro_f1(shifted) == 0.0


def test_macro_f1_equals_sklearn():
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    predicted[truth == 3] = 3  # a class predicted perfectly
    counts = confusion_matrix(truth, predicted, 4)
    assert macro_f1(counts) == pytest.approx(f1_score(truth, predicted, average="macro"))
    # A class absent from truth and predictions does not count.
    padded = np.zeros((5, 5), dtype=int)
    padded[:4, :4] = counts
    assert macro_f1(padded) == pytest.approx(macro_f1(counts))
    # A class only predicted (never true) does count, with F1 = 0: sklearn's mean over 5.
    predicted[0] = 4
    counts = confusion_matrix(truth, predicted, 5)
    expected = f1_score(truth, predicted, average="macro", zero_division=0)
    assert macro_f1(counts) == pytest.approx(expected)


def test_forecast_errors_equal_hand_computations():
    actual, forecast = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0])  # errors -1, 0, 3
    assert math.isclose(rmse(actual, forecast), math.sqrt(10 / 3))
    assert math.isclose(mae(actual, forecast), 4 / 3)
    assert math.isclose(mape(actual, forecast), 100 * (1 / 1 + 0 / 2 + 3 / 4) / 3)
    # Over every element of an (origins, horizon) forecast: sqrt(4 / 4), where the mean of
    # the rows' RMSEs would be (0 + sqrt(2)) / 2.
    assert rmse(np.zeros((2, 2)), np.array([[0.0, 0.0], [0.0, 2.0]])) == 1.0
    # MAPE leaves out the steps whose actual value is 0, and only MAPE does.
    errors = forecast_errors(np.array([[0.0, 2.0]]), np.array([[1.0, 1.0]]))
    assert errors == {"rmse": 1.0, "mae": 1.0, "mape": 50.0}
    assert math.isnan(mape(np.zeros(2), np.ones(2)))
    wanted = r"forecast: got shape \(2,\), wanted the actual's \(2, 1\)"
    with pytest.raises(ValueError, match=wanted):
        forecast_errors(np.ones((2, 1)), np.ones(2))


def test_perplexity_and_bits_per_character():
    assert perplexity(0.0) == 1.0  # a certain model
    assert perplexity(math.log(10_000)) == pytest.approx(10_000)  # uniform over 10,000 words
    assert bits_per_character(math.log(2)) == pytest.approx(1.0)  # a fair coin per character
    assert bits_per_character(math.log(256)) == pytest.approx(8.0)  # uniform over bytes
    # The same cross-entropy both ways: perplexity = 2 ** bits.
    assert perplexity(1.3) == pytest.approx(2 ** bits_per_character(1.3), rel=1e-12)
