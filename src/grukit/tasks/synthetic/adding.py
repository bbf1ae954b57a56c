r"""The adding problem (Hochreiter & Schmidhuber 1997; as in Bai et al. 2018).

Each sequence has T steps of two features: a value ``v_t ~ U(0, 1)`` and a marker, 1 at two
distinct steps drawn uniformly from all T and 0 elsewhere. The target is the sum of the two
marked values; the loss is the mean squared error of the model's output after the last step.

Always answering 1 (the target's mean) scores E[(v_a + v_b - 1)^2] = Var(v_a + v_b) = 1/6
~ 0.1667 (Bai et al. quote 0.1767 for this baseline). A model must carry two numbers across
up to T steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from grukit.config import option
from grukit.data.batching import Batch, FixedLengthBatches
from grukit.tasks.base import Task
from grukit.tasks.synthetic.base import GeneratedSplits

# A batch: inputs (T, B, 2), targets (B,), lengths (B,)
BASELINE_MSE = 1 / 6


@dataclass
class DataConfig(GeneratedSplits):
    """The adding problem's sequences."""

    MIN_SEQ_LEN: ClassVar[int] = 2  # room for two marked steps
    seq_len: int = option(600, "T, steps per sequence (Bai et al.: 600)")
    train_size: int = option(50_000, "training sequences (Bai et al.: 50,000)")

    @property
    def title(self) -> str:
        return f"adding-T{self.seq_len}"


def adding_sequences(count: int, seq_len: int, rng: np.random.Generator):
    """values (count, T) float32 ~ U(0, 1), marked (count, 2) distinct step indices,
    targets (count,) the sums of the marked values."""
    values = rng.random((count, seq_len), dtype=np.float32)
    # Two distinct positions per row: the first two of a random permutation's ranks.
    marked = np.argsort(rng.random((count, seq_len)), axis=1)[:, :2]
    targets = np.take_along_axis(values, marked, axis=1).sum(axis=1)
    return values, marked, targets


class AddingTask(FixedLengthBatches, Task):
    Data = DataConfig
    model_defaults = {"hidden": 150}  # 69K parameters with gru: Bai et al.'s ~70K
    train_defaults = {"batch_size": 32, "lr": 2e-3, "epochs": 30, "patience": 6}
    input_size = 2
    outputs = 1
    head = "pooled"
    metric = "mse"
    metric_label = "mean squared error"
    trivial_loss = BASELINE_MSE

    def __init__(self, config: DataConfig) -> None:
        self.splits = config.generate(
            lambda count, rng: adding_sequences(count, config.seq_len, rng)
        )
        self.steps = config.seq_len
        self.title = config.title

    def batch(self, split: str, indices: list[int], rng=None) -> Batch:
        values, marked, targets = (array[indices] for array in self.splits[split])
        markers = np.zeros_like(values)
        np.put_along_axis(markers, marked, 1.0, axis=1)
        inputs = torch.from_numpy(np.stack([values, markers], axis=-1)).transpose(0, 1)
        lengths = torch.full((len(indices),), self.steps, dtype=torch.int64)
        return Batch(inputs.contiguous(), torch.from_numpy(targets), lengths)

    def split_size(self, split: str) -> int:
        return len(self.splits[split][2])

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        return ((outputs[:, 0] - targets) ** 2).sum(), len(targets)
