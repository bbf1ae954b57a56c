"""What the generated-sequence tasks share: their split sizes and seed, and batches of
fixed-length sequences."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from grukit.data.batching import batch_indices
from grukit.train.config import option


@dataclass
class GeneratedSplits:
    """How long and how many sequences to generate, from which seed; a task sets its own
    defaults and ``MIN_SEQ_LEN``."""

    MIN_SEQ_LEN: ClassVar[int] = 1
    seq_len: int = option(100, "T, steps per sequence")
    train_size: int = option(1_000, "training sequences")
    test_size: int = option(1_000, "validation and test sequences, each")
    data_seed: int = option(0, "seeds the sequences (train, valid and test differ)")

    def __post_init__(self) -> None:
        minimums = {"seq_len": self.MIN_SEQ_LEN, "train_size": 1, "test_size": 1}
        for name, minimum in minimums.items():
            if getattr(self, name) < minimum:
                raise ValueError(f"{name}: got {getattr(self, name)}, wanted an int >= {minimum}")

    def generate(self, make: Callable[[int, np.random.Generator], Any]) -> dict[str, Any]:
        """{"train", "valid", "test"}: ``make(count, rng)`` for each, from one generator."""
        rng = np.random.default_rng(self.data_seed)
        sizes = {"train": self.train_size, "valid": self.test_size, "test": self.test_size}
        return {split: make(size, rng) for split, size in sizes.items()}


class FixedLengthBatches:
    """``batches`` for a task whose sequences all have ``self.steps`` steps; the task gives
    ``split_size(split)`` and ``batch(split, indices, rng)``. ``rng`` is a generator seeded
    like the batch order when the batches are shuffled (training), else None: a task may
    use it to augment its training data, reproducibly."""

    steps: int

    def split_size(self, split: str) -> int:
        raise NotImplementedError

    def batch(self, split: str, indices: list[int], rng: np.random.Generator | None = None):
        raise NotImplementedError

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Any]:
        lengths = [self.steps] * self.split_size(split)
        rng = np.random.default_rng([seed, 1]) if shuffle else None
        for indices in batch_indices(lengths, batch_size, shuffle=shuffle, seed=seed):
            yield self.batch(split, indices, rng)
