"""Variable-length batches: padding with lengths, optional length bucketing, no sorting
asked of the caller. Shape legend: T time, B batch, F features."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass
class Batch:
    """One batch of a task's split, what the trainer hands to the task's ``loss``.

    - ``inputs``: (T, B, F) features, or (T, B) token ids;
    - ``targets``: one per step (T, B, ...) or one per sequence (B, ...);
    - ``lengths`` (B,) int64: each input sequence's steps;
    - ``target_lengths`` (B,) int64 or None: each target sequence's own length, where the
      targets are sequences of their own length (a transcript for CTC, the target side of
      a translation); None where they follow the inputs' steps or are one per sequence.
    """

    inputs: Any
    targets: Any
    lengths: Tensor
    target_lengths: Tensor | None = None

    @classmethod
    def of(cls, batch: Batch | tuple) -> Batch:
        """``batch`` as a Batch: an (inputs, targets, lengths) tuple, what a task written
        for grukit 0.1 yields, is read as one."""
        if isinstance(batch, Batch):
            return batch
        if isinstance(batch, tuple) and len(batch) in (3, 4):
            return cls(*batch)
        raise ValueError(
            f"batch: got {type(batch).__name__}, wanted a grukit.data.batching.Batch or an "
            "(inputs, targets, lengths) tuple"
        )

    def to(self, device: torch.device) -> Batch:
        """The batch with its tensors on ``device`` (nothing is copied where they are)."""
        return Batch(
            *(
                value.to(device) if isinstance(value, Tensor) else value
                for value in (getattr(self, item.name) for item in fields(self))
            )
        )

    @property
    def size(self) -> int:
        """B, the sequences in the batch."""
        return int(self.lengths.shape[0])


def pad_sequences(
    sequences: Sequence[np.ndarray], dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """[(T_i, F), ...] -> padded (max T_i, B, F) with zeros past each end, lengths (B,) int64."""
    if not sequences:
        raise ValueError("sequences: got an empty list, wanted at least one sequence")
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int64)
    features = sequences[0].shape[1]
    padded = torch.zeros(int(lengths.max()), len(sequences), features, dtype=dtype)
    for b, sequence in enumerate(sequences):
        padded[: len(sequence), b] = torch.from_numpy(np.asarray(sequence)).to(dtype)
    return padded, lengths


def next_step_batch(sequences: Sequence[np.ndarray], dtype: torch.dtype = torch.float32) -> Batch:
    """Inputs x[:-1] and targets x[1:] of each sequence, padded: (T-1, B, F) twice, lengths-1."""
    padded, lengths = pad_sequences(sequences, dtype)
    return Batch(padded[:-1], padded[1:], lengths - 1)


def batch_indices(
    lengths: Sequence[int],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    bucket: bool = False,
) -> Iterator[list[int]]:
    """Indices of each batch, every sequence once.

    ``bucket``: batches of sequences of similar length (less padding), in shuffled order;
    otherwise a shuffled (or, with ``shuffle=False``, the given) order cut into batches.
    The same seed gives the same batches.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: got {batch_size}, wanted an int >= 1")
    rng = np.random.default_rng(seed)
    order = np.arange(len(lengths))
    if shuffle:
        rng.shuffle(order)
    if bucket:  # stable sort of the shuffled order: equal lengths stay shuffled
        order = order[np.argsort(np.asarray(lengths)[order], kind="stable")]
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if bucket and shuffle:
        rng.shuffle(batches)
    yield from batches


class FixedLengthBatches:
    """``batches`` for a task whose sequences all have ``self.steps`` steps; the task gives
    ``split_size(split)`` and ``batch(split, indices, rng)``. ``rng`` is a generator seeded
    like the batch order when the batches are shuffled (training), else None: a task may
    use it to augment its training data, reproducibly."""

    steps: int

    def split_size(self, split: str) -> int:
        raise NotImplementedError

    def batch(
        self, split: str, indices: list[int], rng: np.random.Generator | None = None
    ) -> Batch:
        raise NotImplementedError

    def batches(
        self, split: str, batch_size: int, *, shuffle: bool, seed: int, bucket: bool
    ) -> Iterator[Batch]:
        lengths = [self.steps] * self.split_size(split)
        rng = np.random.default_rng([seed, 1]) if shuffle else None
        for indices in batch_indices(lengths, batch_size, shuffle=shuffle, seed=seed):
            yield self.batch(split, indices, rng)
