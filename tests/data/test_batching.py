"""Padding with lengths and batch orders."""

from __future__ import annotations

import numpy as np
import pytest

from grukit.data import batch_indices, next_step_batch, pad_sequences


def test_pad_and_next_step():
    a = np.arange(6).reshape(3, 2)
    b = np.arange(10, 14).reshape(2, 2)
    padded, lengths = pad_sequences([a, b])
    assert padded.shape == (3, 2, 2) and lengths.tolist() == [3, 2]
    assert padded[:, 0].tolist() == a.tolist()
    assert padded[:2, 1].tolist() == b.tolist() and padded[2, 1].tolist() == [0, 0]
    batch = next_step_batch([a, b])
    inputs, targets, steps = batch.inputs, batch.targets, batch.lengths
    assert steps.tolist() == [2, 1]
    assert inputs[:, 0].tolist() == a[:-1].tolist() and targets[:, 0].tolist() == a[1:].tolist()
    assert inputs[0, 1].tolist() == b[0].tolist() and targets[0, 1].tolist() == b[1].tolist()


def test_batch_indices():
    lengths = [5, 1, 9, 3, 7, 2, 8]
    for bucket in (False, True):
        batches = list(batch_indices(lengths, 3, seed=4, bucket=bucket))
        assert sorted(i for batch in batches for i in batch) == list(range(7))
        assert batches == list(batch_indices(lengths, 3, seed=4, bucket=bucket))
    assert list(batch_indices(lengths, 3, shuffle=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    bucketed = list(batch_indices(lengths, 2, seed=0, bucket=True))

    def padding(batches):
        return sum(
            len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches
        )

    assert padding(bucketed) <= padding(list(batch_indices(lengths, 2, shuffle=False)))


def test_a_batch_moves_its_tensors_and_reads_a_tuple():
    import torch

    from grukit.data import Batch

    inputs, targets, lengths = torch.zeros(3, 2, 1), torch.ones(2), torch.tensor([3, 1])
    batch = Batch.of((inputs, targets, lengths))  # what a task written for 0.1 yields
    assert batch.inputs is inputs and batch.target_lengths is None and batch.size == 2
    moved = Batch(inputs, targets, lengths, torch.tensor([1, 1])).to(torch.device("meta"))
    assert {t.device.type for t in (moved.inputs, moved.targets, moved.target_lengths)} == {"meta"}
    with pytest.raises(ValueError, match="batch: got list, wanted a grukit.data.batching.Batch"):
        Batch.of([inputs, targets, lengths])
