"""A complete task in a few lines: the parity of a random bit string, read one bit per
step (a classic test of memory: every bit flips the answer). docs/own-task.md shows this
file whole; tests/test_readme_and_examples.py runs it as printed there, twice, and
tests/tasks/test_own_task.py trains it.

    python examples/own_task.py      # trains it in a new folder under runs/
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import grukit
from grukit.config import option
from grukit.data.batching import batch_indices
from grukit.tasks import register
from grukit.tasks.base import Task


@dataclass
class ParityData:
    """Random bit strings and their parity."""

    seq_len: int = option(6, "bits per string")
    size: int = option(2000, "training strings (validation and test: a quarter each)")

    @property
    def title(self) -> str:
        return f"parity-T{self.seq_len}"


class ParityTask(Task):
    Data = ParityData
    model_defaults = {"hidden": 32}
    # Parity sits on a plateau (loss ln 2) for a while, then drops at once: no early stop.
    train_defaults = {
        "epochs": 30,
        "batch_size": 32,
        "lr": 1e-2,
        "lr_schedule": "none",
        "patience": 0,
        # A model this small gains nothing from a second thread, and spinning threads lose
        # much beside other jobs (see "Threads" in docs/cli.md).
        "threads": 1,
    }
    metric, metric_label = "ce", "cross-entropy (nats)"
    head = "pooled"  # one answer per string, from the state after its last bit
    input_size, outputs = 1, 2

    def __init__(self, data: ParityData) -> None:
        rng = np.random.default_rng(0)
        sizes = {"train": data.size, "valid": data.size // 4, "test": data.size // 4}
        self.bits = {split: rng.integers(0, 2, (n, data.seq_len)) for split, n in sizes.items()}
        self.title = data.title

    def batches(self, split, batch_size, *, shuffle, seed, bucket):
        bits = self.bits[split]
        steps = [bits.shape[1]] * len(bits)
        for rows in batch_indices(steps, batch_size, shuffle=shuffle, seed=seed):
            inputs = torch.tensor(bits[rows].T[..., None], dtype=torch.float32)  # (T, B, 1)
            targets = torch.tensor(bits[rows].sum(1) % 2)  # (B,)
            yield inputs, targets, torch.full((len(rows),), bits.shape[1])

    def criterion(self, outputs, targets, lengths):
        return nn.functional.cross_entropy(outputs, targets, reduction="sum"), len(targets)

    def scores(self, model, split):
        right = sum(int((out.argmax(-1) == t).sum()) for out, t, _ in self.outputs_of(model, split))
        return {"accuracy": right / len(self.bits[split])}


register("parity", ParityTask)

if __name__ == "__main__":
    # A new folder for every run: a run folder is never overwritten (train_task(out=...,
    # resume=True) would go on with one), so running this file again trains again.
    Path("runs").mkdir(exist_ok=True)
    out = tempfile.mkdtemp(prefix="parity-", dir="runs")
    result = grukit.train_task("parity", out=out)
    print(f"test accuracy {result['test_accuracy']:.1%} (chance: 50%); run folder: {out}")
