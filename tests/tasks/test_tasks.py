"""The long-term-dependency tasks: each generator has the stated layout, statistics and
baseline; the digits splits have the documented sizes and label ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from grukit.data.batching import batch_indices
from grukit.tasks.classification import digits
from grukit.tasks.synthetic import adding, copy_memory


def test_adding_sequences_layout_and_baseline():
    task = adding.AddingTask.from_config(
        adding.DataConfig(seq_len=50, train_size=20_000, test_size=10)
    )
    values, marked, targets = task.splits["train"]
    assert values.shape == (20_000, 50) and values.min() >= 0 and values.max() < 1
    assert np.all(marked[:, 0] != marked[:, 1])
    np.testing.assert_allclose(targets, values[np.arange(20_000)[:, None], marked].sum(1))
    # Markers land anywhere: every step is marked about 2/T of the time.
    hits = np.bincount(marked.ravel(), minlength=50) / 20_000
    assert np.all(np.abs(hits - 2 / 50) < 0.01)
    # Always answering 1 scores Var(v_a + v_b) = 1/6; 20,000 draws: standard error ~0.0015.
    assert abs(np.mean((targets - 1) ** 2) - adding.BASELINE_MSE) < 0.006
    batch = task.batch("train", [3, 7])
    inputs, batch_targets, lengths = batch.inputs, batch.targets, batch.lengths
    assert inputs.shape == (50, 2, 2) and lengths.tolist() == [50, 50]
    assert inputs[:, :, 1].sum(0).tolist() == [2.0, 2.0]
    marked_sum = (inputs[:, :, 0] * inputs[:, :, 1]).sum(0)
    torch.testing.assert_close(marked_sum, batch_targets)


def test_adding_loss_is_the_mean_squared_error():
    task = adding.AddingTask.from_config(adding.DataConfig(seq_len=5, train_size=8, test_size=4))

    class AnswerOne(nn.Module):
        def forward(self, inputs, lengths):
            return torch.ones(inputs.shape[1], 1), None

    batch = task.batch("test", [0, 1, 2, 3])
    total, count = task.loss(AnswerOne(), batch)
    assert count == 4
    assert math.isclose(float(total), float(((batch.targets - 1) ** 2).sum()), rel_tol=1e-6)


def test_copy_sequences_layout():
    T = 30
    task = copy_memory.CopyTask.from_config(
        copy_memory.DataConfig(seq_len=T, train_size=500, test_size=4)
    )
    inputs, targets = task.splits["train"]
    assert inputs.shape == targets.shape == (500, T + 20)
    digits_ = inputs[:, :10]
    assert digits_.min() == 1 and digits_.max() == 8
    assert np.all(inputs[:, 10 : 10 + T - 1] == 0) and np.all(inputs[:, T + 9 :] == 9)
    assert np.all(targets[:, : T + 10] == 0) and np.array_equal(targets[:, -10:], digits_)
    batch = task.batch("train", [0, 1])
    one_hot, batch_targets, lengths = batch.inputs, batch.targets, batch.lengths
    assert one_hot.shape == (T + 20, 2, 10) and torch.all(one_hot.sum(-1) == 1)
    assert batch_targets.shape == (T + 20, 2) and lengths.tolist() == [T + 20] * 2


def test_copy_trivial_answer_scores_the_stated_baseline():
    T = 100
    task = copy_memory.CopyTask.from_config(
        copy_memory.DataConfig(seq_len=T, train_size=4, test_size=8)
    )

    class Trivial(nn.Module):
        """Certain blank for T + 10 steps, then uniform over the digits 1-8."""

        def forward(self, inputs, lengths):
            logits = torch.full((*inputs.shape[:2], 10), -1e9)
            logits[: T + 10, :, 0] = 0
            logits[T + 10 :, :, 1:9] = 0
            return logits, None

    total, count = task.loss(Trivial(), task.batch("test", list(range(8))))
    assert count == 8 * (T + 20)
    assert math.isclose(float(total) / count, copy_memory.baseline_loss(T), rel_tol=1e-6)
    assert math.isclose(copy_memory.baseline_loss(1000), 10 * math.log(8) / 1020)
    assert 0.1 < task.scores(Trivial(), "test")["recall_accuracy"] < 0.3  # 1/8 by chance


def test_digits_splits_and_order():
    task = digits.DigitsTask.from_config(digits.DataConfig())
    sizes = {split: len(labels) for split, (_, labels) in task.splits.items()}
    assert sizes == {"train": 1257, "valid": 180, "test": 360}
    for images, labels in task.splits.values():
        assert images.shape[1] == 64 and images.min() >= 0 and images.max() <= 1
        assert set(labels.tolist()) == set(range(10))  # stratified: every class everywhere
    batch = task.batch("test", [0, 5])
    inputs, labels, lengths = batch.inputs, batch.targets, batch.lengths
    assert inputs.shape == (64, 2, 1) and lengths.tolist() == [64, 64]
    np.testing.assert_array_equal(inputs[:, 1, 0].numpy(), task.splits["test"][0][5])
    permuted = digits.DigitsTask.from_config(digits.DataConfig(permuted=True))
    assert sorted(permuted.order.tolist()) == list(range(64))
    assert not np.array_equal(permuted.order, np.arange(64))
    shuffled = permuted.batch("test", [5]).inputs[:, 0, 0].numpy()
    np.testing.assert_array_equal(shuffled, task.splits["test"][0][5][permuted.order])


@pytest.mark.parametrize(
    "module, overrides, message",
    [
        (adding, {"seq_len": 1}, "seq_len: got 1, wanted an int >= 2"),
        (adding, {"train_size": 0}, "train_size: got 0, wanted an int >= 1"),
        (copy_memory, {"seq_len": 0}, "seq_len: got 0, wanted an int >= 1"),
    ],
)
def test_bad_data_options(module, overrides, message):
    with pytest.raises(ValueError, match=message):
        module.DataConfig(**overrides)


def test_digit_shifts_move_whole_images_by_at_most_one_pixel():
    images = digits.load_digits_split(0)["train"][0][:50]
    shifted = digits.shift_images(images, np.random.default_rng(1))
    padded = np.pad(images.reshape(-1, 8, 8), ((0, 0), (1, 1), (1, 1)))
    offsets = set()
    for original, moved in zip(padded, shifted.reshape(-1, 8, 8)):
        matches = [
            (dy, dx)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if np.array_equal(original[1 - dy : 9 - dy, 1 - dx : 9 - dx], moved)
        ]
        assert matches
        offsets.add(matches[0])
    assert len(offsets) >= 5  # the offsets vary


def test_shift_changes_only_training_batches_and_depends_on_the_seed():
    plain = digits.DigitsTask.from_config(digits.DataConfig(shift=False))
    shifting = digits.DigitsTask.from_config(digits.DataConfig(shift=True, permuted=True))
    permuted = digits.DigitsTask.from_config(digits.DataConfig(permuted=True, shift=False))

    def first(task, split, shuffle, seed):
        batch = next(task.batches(split, 16, shuffle=shuffle, seed=seed, bucket=False))
        return batch.inputs

    for split in ("valid", "test"):
        assert torch.equal(first(shifting, split, False, 0), first(permuted, split, False, 0))
    assert not torch.equal(first(shifting, "train", True, 0), first(permuted, "train", True, 0))
    assert torch.equal(first(shifting, "train", True, 3), first(shifting, "train", True, 3))
    assert not torch.equal(first(shifting, "train", True, 3), first(shifting, "train", True, 4))
    # Without shift, a training batch holds the images unchanged.
    indices = next(batch_indices([64] * 1257, 16, shuffle=True, seed=0))
    unchanged = torch.from_numpy(plain.splits["train"][0][indices]).T.unsqueeze(-1)
    assert torch.equal(first(plain, "train", True, 0), unchanged)


def test_digits_pixel_baseline_is_the_same_whatever_the_order(tmp_path):
    """The baseline sees the 64 pixels at once: permuting them changes nothing for it."""
    from grukit.models import ModelConfig

    baselines = []
    for permuted in (False, True):
        task = digits.DigitsTask.from_config(digits.DataConfig(permuted=permuted))
        torch.manual_seed(0)
        model = task.build_model(ModelConfig(model="gru", hidden=4))
        task.report(model, tmp_path)
        assert (tmp_path / "confusion.png").is_file()
        baselines += task.baselines()
    plain, permuted = baselines
    assert plain["name"] == "logreg on the 64 pixels"
    accuracy = plain["scores"]["test_accuracy"]
    assert 0.9 < accuracy == permuted["scores"]["test_accuracy"] <= 1
