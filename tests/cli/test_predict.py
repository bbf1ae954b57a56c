"""Prediction on new data from a checkpoint alone: ``grukit predict`` on a file gives the
predictions behind ``grukit eval``'s scores; ``grukit.load`` needs no training data."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

import grukit
from grukit.checkpoint import CheckpointError
from grukit.cli import main
from grukit.run.evaluation import evaluate_checkpoint, load_checkpoint_model


def labelled_file(path, count, seed, names=("cat", "dog", "eel")):
    """Sequences of 2 features whose mean tells the class, with named labels."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 9, count)
    labels = np.arange(count) % len(names)
    features = np.concatenate([rng.normal(c, 0.7, (n, 2)) for n, c in zip(lengths, labels)])
    np.savez(path, features=features, lengths=lengths, labels=np.array(names)[labels])


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classify")
    labelled_file(folder / "train.npz", 90, 0)
    labelled_file(folder / "test.npz", 30, 1)
    argv = ["train", "--task", "classify", "--data", str(folder / "train.npz")]
    argv += ["--test-data", str(folder / "test.npz"), "--hidden", "6", "--epochs", "3"]
    assert main([*argv, "--out", str(folder / "run")]) == 0
    return folder


def test_predict_equals_the_predictions_behind_eval(classify_run, capsys, monkeypatch):
    checkpoint = classify_run / "run" / "best"
    monkeypatch.chdir(classify_run.parent)  # eval works from any folder
    capsys.readouterr()
    assert main(["predict", str(checkpoint), "--data", str(classify_run / "test.npz")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 30 and {row["label"] for row in rows} <= {"cat", "dog", "eel"}
    truth = np.array(["cat", "dog", "eel"])[np.arange(30) % 3]
    accuracy = np.mean([row["label"] == t for row, t in zip(rows, truth)])
    scores = evaluate_checkpoint(checkpoint, "test")["scores"]
    assert accuracy == pytest.approx(scores["accuracy"], abs=1e-12)
    # ... and one by one, the same classes the task's own model gives on its test split.
    task, model, _ = load_checkpoint_model(checkpoint)
    expected = [
        int(c) for logits, _, _ in task.outputs_of(model, "test") for c in logits.argmax(-1)
    ]
    assert [["cat", "dog", "eel"].index(row["label"]) for row in rows] == expected


def test_load_needs_no_training_data(classify_run):
    predictor = grukit.load(classify_run / "run" / "best")
    (classify_run / "train.npz").rename(classify_run / "moved.npz")
    try:
        frames = [np.full((4, 2), 2.0), np.zeros((6, 2))]
        predicted = predictor.predict(frames)
        assert predicted["probabilities"].shape == (2, 3)
        np.testing.assert_allclose(predicted["probabilities"].sum(1), 1.0)
        with pytest.raises(ValueError, match=r"sequence 0 has shape \(4, 3\), wanted"):
            predictor.predict([np.zeros((4, 3))])
    finally:
        (classify_run / "moved.npz").rename(classify_run / "train.npz")


def test_a_forecaster_predicts_the_next_values(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--task", "sunspots", "--window", "10", "--valid-years", "20"]
    assert main([*argv, "--hidden", "4", "--epochs", "1", "--out", str(out)]) == 0
    task, model, _ = load_checkpoint_model(out / "best")
    history = task.series[: task.test_start]  # every year up to 1920: forecast 1921
    (tmp_path / "recent.csv").write_text("value\n" + "\n".join(map(str, history)) + "\n")
    capsys.readouterr()
    assert main(["predict", str(out / "best"), "--data", str(tmp_path / "recent.csv")]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = task.predict(model, "test")[0, 0]  # the task's own forecast of 1921
    assert len(rows) == 1 and float(rows[0]["forecast"]) == pytest.approx(expected, rel=1e-5)


def test_checkpoints_from_before_ask_for_eval_or_retraining():
    with pytest.raises(CheckpointError, match="before grukit saved what prediction needs"):
        grukit.load("tests/fixtures/checkpoint_v1/adding")


def test_a_task_without_prediction_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--task", "adding", "--seq-len", "5", "--train-size", "16"]
    assert (
        main([*argv, "--test-size", "8", "--hidden", "3", "--epochs", "1", "--out", str(out)]) == 0
    )
    (tmp_path / "x.txt").write_text("1\n")
    assert main(["predict", str(out / "best"), "--data", str(tmp_path / "x.txt")]) == 2
    assert "offers no prediction on new data" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["task"] == "adding"
