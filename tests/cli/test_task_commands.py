"""`grukit train --task adding|copy|digits` and `grukit eval` on tiny settings; each task's
--help shows its own options and defaults."""

from __future__ import annotations

import json

import pytest
import torch

from grukit.checkpoint import read_checkpoint
from grukit.cli import main


@pytest.mark.parametrize(
    "argv, metric, extra",
    [
        (["--task", "digits", "--hidden", "8"], "ce", "test_accuracy"),
        (
            ["--task=adding", "--seq-len", "20", "--train-size", "64", "--test-size", "32"],
            "mse",
            None,
        ),
        (
            [
                "--task",
                "copy",
                "--seq-len",
                "10",
                "--train-size",
                "64",
                "--test-size",
                "32",
                "--init",
                "chrono",
                "--t-max",
                "30",
            ],
            "ce",
            "test_recall_accuracy",
        ),
    ],
)
def test_train_then_eval(argv, metric, extra, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *argv, "--epochs", "1", f"--out={out}"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    assert result["metric"] == metric and f"{metric.upper()} train" in printed
    assert (out / "curves.png").is_file() and (out / "best" / "state.json").is_file()
    if extra:
        assert f"{extra} {result[extra]:.4g}" in printed
    # eval rebuilds the best checkpoint from its folder alone and scores it again: the
    # loss and the accuracy the run reported.
    assert main(["eval", str(out / "best")]) == 0
    printed = capsys.readouterr().out
    assert f"{metric.upper()} {result[f'test_{metric}']:.4g}" in printed
    if extra:
        assert f"{extra.removeprefix('test_').upper()} {result[extra]:.4g}" in printed


def test_each_task_documents_its_own_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--task", "copy", "--help"])
    text = capsys.readouterr().out
    assert "data (copy)" in text and "--seq-len" in text and "(default: 1000)" in text
    assert "--dataset DATASET" not in text
    assert "hidden units of each recurrent layer (default: 67)" in text


def test_unknown_task_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--task", "chess"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'chess'" in capsys.readouterr().err


def test_a_run_can_start_from_another_runs_weights(tmp_path, capsys):
    """The curriculum the copy-memory recipe uses: short sequences first, then the long
    ones from those weights (``--init-from``); a model of another shape or kind (here
    reset before the matmul instead of after: same shapes) is refused."""
    short, long = tmp_path / "short", tmp_path / "long"
    tiny = ["--task", "copy", "--train-size", "64", "--test-size", "32", "--hidden", "8"]
    assert main(["train", *tiny, "--seq-len", "6", "--epochs", "2", f"--out={short}"]) == 0
    argv = [*tiny, "--seq-len", "12", "--epochs", "1", "--lr", "1e-12", f"--out={long}"]
    assert main(["train", *argv, f"--init-from={short / 'best'}"]) == 0
    started, _ = read_checkpoint(short / "best")
    ended, _ = read_checkpoint(long / "best")
    model_tensors = [name for name in started if name.startswith("model.")]
    assert model_tensors and all(
        torch.allclose(started[name], ended[name], atol=1e-8) for name in model_tensors
    )  # a fresh initialisation would differ by ~0.1
    capsys.readouterr()
    wider = [*tiny[:-1], "9", "--seq-len", "12", f"--out={tmp_path / 'wider'}"]
    assert main(["train", *wider, f"--init-from={short / 'best'}"]) == 2
    error = capsys.readouterr().err
    assert "holds a model of another shape" in error and "recurrent." in error
    other = [*tiny, "--seq-len", "12", "--reset-after", "false", f"--out={tmp_path / 'b'}"]
    assert main(["train", *other, f"--init-from={short / 'best'}"]) == 2
    error = capsys.readouterr().err
    assert "another kind of model: reset_after True there, False here" in error
    # The checkpoint's default placement (None) is "after": saying so is the same model.
    same = [*tiny, "--seq-len", "12", "--reset-after", "true", "--epochs", "1"]
    assert main(["train", *same, f"--out={tmp_path / 'c'}", f"--init-from={short / 'best'}"]) == 0
