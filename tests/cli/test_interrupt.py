"""Ctrl-C during ``grukit train`` says which command resumes the run, and that command
does resume it; stopped before the run folder holds a run, it says only that it stopped."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from grukit.cli import main
from grukit.train.trainer import Trainer

ADDING = ["--task", "adding", "--seq-len", "8", "--train-size", "64", "--test-size", "32"]
ARGV = ["train", *ADDING, "--hidden", "6", "--epochs", "3"]
HINT = "grukit: interrupted; resume it with: "


@pytest.fixture
def ctrl_c_in_the_second_epoch(monkeypatch):
    """Ctrl-C once, at the start of the second epoch (the first one's checkpoints saved)."""
    real = Trainer._train_epoch
    pressed = []

    def train_epoch(self, epoch):
        if epoch == 1 and not pressed:
            pressed.append(epoch)
            raise KeyboardInterrupt
        return real(self, epoch)

    monkeypatch.setattr(Trainer, "_train_epoch", train_epoch)
    return pressed


def resume_with_printed_command(error: str) -> dict:
    """Run the command the last line of ``error`` gives; the run's result."""
    last = error.strip().splitlines()[-1]
    assert last.startswith(HINT)
    command = shlex.split(last.removeprefix(HINT))
    assert command[:2] == ["grukit", "train"]
    assert main(command[1:]) == 0
    return json.loads((Path(command[3]) / "result.json").read_text())


def test_ctrl_c_prints_the_command_that_resumes_the_run(
    tmp_path, capsys, ctrl_c_in_the_second_epoch
):
    out = tmp_path / "run"
    assert main([*ARGV, "--out", str(out)]) == 130
    error = capsys.readouterr().err
    assert error.strip().splitlines()[-1] == f"{HINT}grukit train --out {out} --resume"
    result = resume_with_printed_command(error)
    assert result["epochs"] == 3 and result["hidden"] == 6  # its own options, all epochs
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]


def test_the_default_run_folder_is_named(tmp_path, monkeypatch, capsys, ctrl_c_in_the_second_epoch):
    monkeypatch.chdir(tmp_path)
    assert main(ARGV) == 130
    error = capsys.readouterr().err
    assert error.strip().splitlines()[-1] == (
        f"{HINT}grukit train --out runs/adding-T8-gru-6 --resume"
    )
    assert resume_with_printed_command(error)["epochs"] == 3


def test_ctrl_c_before_the_run_began_names_no_command(tmp_path, monkeypatch, capsys):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("grukit.run.training.make_task", stop)  # while the data loads
    assert main([*ARGV, "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == "grukit: interrupted\n"
