"""Next-step prediction on polyphonic music (Chung et al. 2014): the loss is the papers'
NLL in nats, summed over the 88 keys, per predicted time step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from torch import Tensor, nn

from grukit.data.batching import batch_indices, next_step_batch
from grukit.data.music import DATASETS, KEYS, Pieces, load_music
from grukit.models.polyphonic import polyphonic_nll
from grukit.train.config import option

Batch = tuple[Tensor, Tensor, Tensor]  # inputs (T, B, 88), targets (T, B, 88), lengths (B,)
MODEL_DEFAULTS = {"hidden": 46}  # Chung et al.'s GRU
TRAIN_DEFAULTS: dict = {}


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

    @property
    def title(self) -> str:
        return self.dataset


class MusicTask:
    """Batches of pieces from ``splits`` ({"train": [...], "valid": [...], "test": [...]})."""

    input_size = outputs = KEYS
    head = "step"
    metric = "nll"
    metric_label = "NLL per step (nats)"

    def __init__(self, splits: dict[str, Pieces], title: str = "music") -> None:
        self.splits = splits
        self.title = title

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        pieces = self.splits[split]
        lengths = [len(piece) for piece in pieces]
        for indices in batch_indices(
            lengths, batch_size, shuffle=shuffle, seed=seed, bucket=bucket
        ):
            yield next_step_batch([pieces[i] for i in indices])

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, int]:
        inputs, targets, lengths = batch
        return polyphonic_nll(model(inputs, lengths), targets, lengths)

    def scores(self, model: nn.Module, split: str) -> dict:
        return {}


def load_splits(config: DataConfig) -> dict[str, Pieces]:
    splits = load_music(config.dataset, config.data_dir)
    if config.limit:
        splits = {name: pieces[: config.limit] for name, pieces in splits.items()}
    return splits


def make_task(config: DataConfig) -> MusicTask:
    return MusicTask(load_splits(config), config.title)
