"""What the generated-sequence tasks share: their split sizes and seed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from grukit.config import option


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
