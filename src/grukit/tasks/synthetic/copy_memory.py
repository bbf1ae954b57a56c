r"""The copy-memory task (Hochreiter & Schmidhuber 1997; as in Bai et al. 2018).

Symbols 0-9, fed one-hot: 0 is blank, 1-8 are digits, 9 is the marker. An input sequence is
ten digits drawn uniformly from 1-8, then T - 1 blanks, then eleven markers (T + 20 steps).
The target is blank for the first T + 10 steps and then the ten digits: the model must
recall them after T steps. The loss is the cross-entropy averaged over all T + 20 steps.

Answering blank with certainty for T + 10 steps and a uniform guess among the eight digits
for the last ten scores 10 ln 8 / (T + 20) (0.0204 at T = 1000): the trivial baseline a
model that has not learnt to remember stays at.

Trained at T = 1000 from the start, a GRU learns this slowly (an epoch costs ~30 s here and
the loss creeps down for hours). Writing, holding and replaying the digits does not depend
on T, so the README's recipe learns it at T = 100 (3 s an epoch) and then goes on at
T = 1000 from those weights (``--init-from``), where only the holding must grow longer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from grukit.config import option
from grukit.data.batching import Batch, FixedLengthBatches
from grukit.tasks.base import Task
from grukit.tasks.synthetic.base import GeneratedSplits

# A batch: inputs (T+20, B, 10), targets (T+20, B), lengths (B,)
SYMBOLS, DIGITS, MARKER = 10, 10, 9


def baseline_loss(seq_len: int) -> float:
    """The trivial cross-entropy 10 ln 8 / (T + 20)."""
    return DIGITS * math.log(8) / (seq_len + 2 * DIGITS)


@dataclass
class DataConfig(GeneratedSplits):
    """The copy-memory task's sequences."""

    seq_len: int = option(1000, "T, the blank steps between the digits and their recall")
    train_size: int = option(10_000, "training sequences (Bai et al.: 10,000)")

    @property
    def title(self) -> str:
        return f"copy-T{self.seq_len}"


def copy_sequences(count: int, seq_len: int, rng: np.random.Generator):
    """inputs and targets (count, T + 20) int64 symbols, as the module doc lays them out."""
    digits = rng.integers(1, 9, size=(count, DIGITS))
    total = seq_len + 2 * DIGITS
    inputs = np.zeros((count, total), dtype=np.int64)
    inputs[:, :DIGITS] = digits
    inputs[:, DIGITS + seq_len - 1 :] = MARKER
    targets = np.zeros((count, total), dtype=np.int64)
    targets[:, -DIGITS:] = digits
    return inputs, targets


class CopyTask(FixedLengthBatches, Task):
    Data = DataConfig
    model_defaults = {"hidden": 67}  # 15.9K parameters with gru: Bai et al.'s ~16K
    train_defaults = {"batch_size": 32, "lr": 1e-3, "epochs": 200, "patience": 20}
    input_size = outputs = SYMBOLS
    head = "step"
    metric = "ce"
    metric_label = "cross-entropy per step (nats)"
    plot_log_scale = True  # the loss falls by orders of magnitude once recall is learnt

    def __init__(self, config: DataConfig) -> None:
        self.splits = config.generate(lambda count, rng: copy_sequences(count, config.seq_len, rng))
        self.steps = config.seq_len + 2 * DIGITS
        self.title = config.title
        self.seq_len = config.seq_len

    @property
    def trivial_loss(self) -> float:
        return baseline_loss(self.seq_len)

    def batch(self, split: str, indices: list[int], rng=None) -> Batch:
        inputs, targets = (torch.from_numpy(array[indices]).T for array in self.splits[split])
        one_hot = nn.functional.one_hot(inputs, SYMBOLS).float()
        lengths = torch.full((len(indices),), self.steps, dtype=torch.int64)
        return Batch(one_hot, targets.contiguous(), lengths)

    def split_size(self, split: str) -> int:
        return len(self.splits[split][0])

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        total = nn.functional.cross_entropy(
            outputs.reshape(-1, SYMBOLS), targets.reshape(-1), reduction="sum"
        )
        return total, targets.numel()

    def scores(self, model: nn.Module, split: str) -> dict:
        """``recall_accuracy``: the fraction of the ten recalled digits that are right."""
        right = count = 0
        for logits, targets, _ in self.outputs_of(model, split, 64):
            guesses = logits[-DIGITS:].argmax(-1)
            right += int((guesses == targets[-DIGITS:]).sum())
            count += targets[-DIGITS:].numel()
        return {"recall_accuracy": right / count}
