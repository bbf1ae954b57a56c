r"""Next-step prediction on polyphonic music (Chung et al. 2014; Bai et al. 2018).

    h_t = recurrent(x_1..x_t);  p(y_{t+1,k} = 1) = sigmoid(W h_t + b)_k   for the 88 keys

The loss is the papers' NLL in nats, summed over the 88 keys, per predicted time step.

Shape legend: T time, B batch, K keys (88), H hidden units.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from grukit.config import option
from grukit.data.batching import Batch, batch_indices, next_step_batch
from grukit.data.music import DATASETS, KEYS, Pieces, load_music
from grukit.masks import valid_steps
from grukit.tasks.base import Task

# A batch: inputs (T, B, 88), targets (T, B, 88), lengths (B,)


def polyphonic_nll(logits: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
    """Negative log-likelihood in nats summed over keys and over valid steps, and the number
    of valid steps: their ratio is the papers' per-step NLL.

    logits, targets (T, B, K); lengths (B,). Padded steps never enter the sum.
    """
    per_key = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    valid = valid_steps(lengths.to(logits.device), logits.shape[0])  # (T, B, 1)
    total = torch.where(valid, per_key, 0).sum()
    return total, int(lengths.sum())


@dataclass
class DataConfig:
    """Which music data set."""

    dataset: str = option("jsb", "jsb, nottingham (bundled), musedata, pianomidi (need --data-dir)")
    data_dir: str | None = option(None, "folder holding the data sets' .mat files")
    limit: int = option(0, "only the first N pieces of each split (0 = all), for quick checks")

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: got {self.dataset!r}, wanted one of {', '.join(DATASETS)}")
        if self.limit < 0:
            raise ValueError(f"limit: got {self.limit}, wanted an int >= 0")
        if self.data_dir:  # saved absolute: `grukit eval` finds it from any folder
            self.data_dir = str(Path(self.data_dir).resolve())

    @property
    def title(self) -> str:
        return self.dataset


def load_splits(config: DataConfig) -> dict[str, Pieces]:
    splits = load_music(config.dataset, config.data_dir)
    if config.limit:
        splits = {name: pieces[: config.limit] for name, pieces in splits.items()}
    return splits


class MusicTask(Task):
    """Batches of pieces from ``splits`` ({"train": [...], "valid": [...], "test": [...]})."""

    Data = DataConfig
    model_defaults = {"hidden": 46}  # Chung et al.'s GRU
    input_size = outputs = KEYS
    head = "step"
    metric = "nll"
    metric_label = "NLL per step (nats)"

    def __init__(self, splits: dict[str, Pieces], title: str = "music") -> None:
        self.splits = splits
        self.title = title

    @classmethod
    def from_config(cls, data: DataConfig) -> MusicTask:
        return cls(load_splits(data), data.title)

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        pieces = self.splits[split]
        lengths = [len(piece) for piece in pieces]
        for indices in batch_indices(
            lengths, batch_size, shuffle=shuffle, seed=seed, bucket=bucket
        ):
            yield next_step_batch([pieces[i] for i in indices])

    def criterion(self, outputs: Tensor, targets: Tensor, lengths: Tensor) -> tuple[Tensor, int]:
        return polyphonic_nll(outputs, targets, lengths)
