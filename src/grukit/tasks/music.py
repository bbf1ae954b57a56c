"""Next-step prediction on polyphonic music (Chung et al. 2014): the loss is the papers'
NLL in nats, summed over the 88 keys, per predicted time step."""

from __future__ import annotations

from collections.abc import Iterator

from torch import Tensor, nn

from grukit.data.batching import batch_indices, next_step_batch
from grukit.data.music import Pieces
from grukit.models.polyphonic import polyphonic_nll

Batch = tuple[Tensor, Tensor, Tensor]  # inputs (T, B, 88), targets (T, B, 88), lengths (B,)


class MusicTask:
    """Batches of pieces from ``splits`` ({"train": [...], "valid": [...], "test": [...]})."""

    def __init__(self, splits: dict[str, Pieces]) -> None:
        self.splits = splits

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
