"""What a user relies on around runs: ``--resume`` alone continues a run with its saved
options, a run folder's config.json reruns it, config files may name the task and the
folder, true/false options are flags, and a task's --help offers only what it reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import grukit
from grukit.cli import main

ROOT = Path(__file__).resolve().parents[2]

ADDING = ["--task", "adding", "--seq-len", "8", "--train-size", "64", "--test-size", "32"]
NON_DEFAULT = ["--hidden", "6", "--optimizer", "rmsprop", "--lr", "0.003", "--batch-size", "16"]


def history(out) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def untimed(lines: list[dict]) -> list[dict]:
    """History lines without their wall-clock times."""
    return [{k: v for k, v in line.items() if k not in ("seconds", "wall")} for line in lines]


def test_resume_alone_continues_a_run_started_with_other_options(tmp_path):
    """The README's ``grukit train --out DIR --resume``: no option typed again, and the
    losses are those of an uninterrupted run."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["train", *ADDING, *NON_DEFAULT, "--epochs", "3", "--out", str(whole)]) == 0
    assert main(["train", *ADDING, *NON_DEFAULT, "--epochs", "2", "--out", str(killed)]) == 0
    assert main(["train", "--out", str(killed), "--resume", "--epochs", "3"]) == 0
    assert untimed(history(killed)) == untimed(history(whole))
    result = json.loads((killed / "result.json").read_text())
    assert result["hidden"] == 6 and result["epochs"] == 3


def test_resume_of_a_folder_that_holds_no_run_is_refused(tmp_path, capsys):
    """Not a fresh run of the default task in its place."""
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "missing"):
        assert main(["train", "--out", str(out), "--resume"]) == 2
        assert f"resume: {str(out)!r} holds no run to resume; name a task" in (
            capsys.readouterr().err
        )
        assert not (out / "config.json").exists()


def test_resume_still_refuses_a_changed_option(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *ADDING, *NON_DEFAULT, "--epochs", "1", "--out", str(out)]) == 0
    assert main(["train", "--out", str(out), "--resume", "--lr", "0.01"]) == 2
    assert "train.lr: 0.003 then 0.01" in capsys.readouterr().err


def test_the_saved_config_reruns_the_run(tmp_path):
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["train", *ADDING, *NON_DEFAULT, "--epochs", "2", "--out", str(first)]) == 0
    saved = json.loads((first / "config.json").read_text())
    assert saved["task"] == "adding" and saved["model"]["hidden"] == 6
    assert main(["train", "--config", str(first / "config.json"), "--out", str(again)]) == 0
    assert untimed(history(first)) == untimed(history(again))


def test_a_toml_file_may_hold_every_option(tmp_path):
    out = tmp_path / "from-toml"
    config = tmp_path / "run.toml"
    config.write_text(
        f'task = "adding"\nout = "{out}"\n\n[data]\nseq_len = 8\ntrain_size = 64\n'
        "test_size = 32\n\n[model]\nhidden = 5\n\n[train]\nepochs = 1\n"
    )
    assert main(["train", "--config", str(config)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["task"] == "adding" and result["hidden"] == 5


@pytest.mark.parametrize(
    "path", sorted(str(path) for path in (ROOT / "examples").rglob("*.toml")), ids=lambda p: p[-40:]
)
def test_every_shipped_config_names_known_options_with_valid_values(path):
    """The README's `grukit train --config examples/...` commands: a typo in a key or a
    value out of range would only surface when a user starts a 2-hour run."""
    import tomllib

    from grukit.run.options import configure

    run = configure(config=path)
    written = tomllib.loads(Path(path).read_text())
    assert run.task == written["task"]
    for section, options in written.items():
        if isinstance(options, dict):
            for name, value in options.items():
                assert getattr(getattr(run, section), name) == value, (section, name)
        elif section not in ("task", "out"):  # a flat key: whichever options class has it
            (holder,) = [s for s in (run.data, run.model, run.train) if hasattr(s, section)]
            assert getattr(holder, section) == options, section


def test_python_api_trains_like_the_command_line(tmp_path):
    result = grukit.train_task(
        "adding",
        seq_len=8,
        train_size=64,
        test_size=32,
        hidden=6,
        epochs=1,
        out=tmp_path / "api",
        log=open("/dev/null", "w"),
    )
    assert (
        main(["train", *ADDING, "--hidden", "6", "--epochs", "1", "--out", str(tmp_path / "cli")])
        == 0
    )
    cli = json.loads((tmp_path / "cli" / "result.json").read_text())
    assert result["test_mse"] == cli["test_mse"]


def test_true_false_options_are_flags(tmp_path):
    from grukit.run.options import configure

    assert configure("digits", permuted=True).data.permuted
    for argv, expected in (
        (["--bidirectional"], True),
        (["--no-bidirectional"], False),
        (["--bidirectional", "false"], False),
        (["--bidirectional", "true"], True),
    ):
        out = tmp_path / "-".join(argv).strip("-")
        assert (
            main(
                [
                    "train",
                    "--task",
                    "vowels",
                    *argv,
                    "--hidden",
                    "4",
                    "--epochs",
                    "1",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        saved = json.loads((out / "config.json").read_text())
        assert saved["model"]["bidirectional"] is expected


@pytest.mark.parametrize(
    "task, absent, present",
    [
        ("vowels", "--test-fraction", "--valid-fraction"),  # the official test set is whole
        ("music", "--pooling", "--hidden"),  # a per-step model pools nothing
        ("music", "--bidirectional", "--layers"),  # next-step prediction reads forwards
        ("music", "--embedding", "--hidden"),  # no token inputs: no embedding
        ("sentiment", "--tie", "--embedding"),  # a classifier has no read-out to tie
        ("sentiment", "--activation-penalty", "--word-dropout"),  # its own (data) option
        ("lm", "--pooling", "--temporal-penalty"),
    ],
)
def test_help_offers_only_what_the_task_reads(task, absent, present, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--task", task, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert absent not in text and present in text
    assert "(default: None) (default" not in text and text.count("(default:") > 10


def test_help_without_a_task_says_the_defaults_depend_on_it(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "depend on it" in text and "see --task NAME --help" in text
    assert "ModelConfig:" not in text and "model: Which recurrent model" in text


def test_a_wrong_option_is_reported_in_one_line(capsys):
    """One line naming the sub-command's --help (its usage would list every option)."""
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--task", "vowels", "--bogus", "1"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert (
        error
        == "grukit train: error: unrecognized arguments: --bogus 1 (see grukit train --help)\n"
    )


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"grukit {grukit.__version__}"


def test_help_lists_every_command_and_an_unknown_one_is_refused(capsys):
    """Only the given command's module is imported; without one, none is (the list is
    grukit.cli.COMMANDS')."""
    from grukit.cli import COMMANDS

    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert all(re.search(rf"^    {name}\b", listed, re.MULTILINE) for name in COMMANDS)
    assert "sample text from a language-model checkpoint" in listed
    with pytest.raises(SystemExit) as stopped:
        main(["tarin"])
    assert stopped.value.code == 2
    assert "invalid choice: 'tarin'" in capsys.readouterr().err


def test_resume_of_a_run_killed_in_its_first_epoch(tmp_path):
    """Only config.json is there (no checkpoint yet): --resume alone starts it again with
    its own options, not the default task's."""
    out = tmp_path / "run"
    assert main(["train", *ADDING, *NON_DEFAULT, "--epochs", "1", "--out", str(out)]) == 0
    for name in ("last", "best"):
        import shutil

        shutil.rmtree(out / name)
    assert main(["train", "--out", str(out), "--resume"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["task"] == "adding" and result["hidden"] == 6


def test_a_run_saved_with_a_relative_path_resumes(tmp_path, monkeypatch):
    """Older runs saved --data as typed; today's save it absolute: the same file."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez("mine.npz", features=rng.normal(size=(160, 2)), lengths=[4] * 40, labels=[0, 1] * 20)
    argv = ["train", "--task", "classify", "--data", "mine.npz", "--hidden", "3", "--out", "run"]
    assert main([*argv, "--epochs", "1"]) == 0
    state_file = tmp_path / "run" / "last" / "state.json"
    state = json.loads(state_file.read_text())
    state["config"]["data"]["data"] = "mine.npz"  # as an older grukit wrote it
    state_file.write_text(json.dumps(state))
    (tmp_path / "run" / "config.json").unlink()
    assert main([*argv, "--epochs", "2", "--resume"]) == 0


def test_an_empty_split_is_refused_in_one_line(tmp_path, capsys):
    import numpy as np

    path = tmp_path / "few.npz"
    np.savez(path, features=np.ones((20, 2)), lengths=[2] * 10, labels=[0, 1] * 5)
    argv = ["train", "--task", "classify", "--data", str(path), "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "the valid split is empty (10 sequences, valid_fraction 0.1" in capsys.readouterr().err


def test_options_in_a_file_are_type_checked(tmp_path, capsys):
    for line, message in (
        ('hidden = "64"', "hidden: got '64' (str), wanted an int"),
        ('bidirectional = "false"', "bidirectional: got 'false' (str), wanted true or false"),
        ("epochs = true", "epochs: got True (bool), wanted an int"),
        ("hidden = 1000000", "would need 16.0 TB for the weights alone"),
    ):
        config = tmp_path / "bad.toml"
        config.write_text(f'task = "vowels"\n{line}\n')
        assert main(["train", "--config", str(config), "--out", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err


def test_init_from_another_kind_of_model_says_so(tmp_path, capsys):
    rnn = tmp_path / "rnn"
    assert (
        main(
            [
                "train",
                *ADDING,
                "--model",
                "rnn",
                "--hidden",
                "4",
                "--epochs",
                "1",
                "--out",
                str(rnn),
            ]
        )
        == 0
    )
    argv = ["train", *ADDING, "--hidden", "4", "--init", "chrono", "--t-max", "8"]
    assert main([*argv, "--init-from", str(rnn / "best"), "--out", str(tmp_path / "gru")]) == 2
    assert "holds another kind of model: model 'rnn' there, 'gru' here" in capsys.readouterr().err
