"""`grukit train --task adding|copy|digits` and `grukit eval` on tiny settings; each task's
--help shows its own options and defaults."""

from __future__ import annotations

import json

import pytest

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
        assert 0 <= result[extra] <= 1 and extra.removeprefix("test_") in printed
    assert main(["eval", str(out / "best")]) == 0
    printed = capsys.readouterr().out
    assert f"{metric.upper()} {result[f'test_{metric}']:.4g}" in printed


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
