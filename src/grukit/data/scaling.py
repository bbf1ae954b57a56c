"""The one standard scaler: ``z = (x - mean) / std`` per feature, with the statistics of the
training data only (the valid and test sets must not leak into the scaling). It is saved
with a checkpoint (``to_dict``), so that predictions on new data are scaled the same way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StandardScaler:
    """``mean`` and ``std``: per feature, (F,) arrays (0-d for a univariate series). A
    feature that never varies in training gets std 1: it passes through centred."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray | list[np.ndarray]) -> StandardScaler:
        """From values (N, F) or (N,), or a list of (T_i, F) sequences taken together: the
        mean and population standard deviation over the first axis."""
        # float64: float32 sums of squares overflow for values near 1e19 and beyond (a
        # feature of 1e37 came out as NaN, one of 3e38 as an all-zero column)
        values = np.concatenate(values) if isinstance(values, list) else np.asarray(values)
        values = values.astype(np.float64)
        std = values.std(0)
        return cls(values.mean(0), np.where(std > 0, std, 1.0))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def transform_sequences(self, sequences: list[np.ndarray]) -> list[np.ndarray]:
        """Each (T_i, F) sequence's frames standardised, as float32 (the model's inputs)."""
        return [self.transform(np.asarray(s)).astype(np.float32) for s in sequences]

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        return scaled * self.std + self.mean

    def to_dict(self) -> dict:
        """JSON-able: {"mean": [...], "std": [...], "dtype"}."""
        mean = np.asarray(self.mean)
        return {
            "mean": mean.tolist(),
            "std": np.asarray(self.std).tolist(),
            "dtype": str(mean.dtype),
        }

    @classmethod
    def from_dict(cls, values: dict) -> StandardScaler:
        dtype = np.dtype(values.get("dtype", "float64"))
        return cls(np.asarray(values["mean"], dtype), np.asarray(values["std"], dtype))
