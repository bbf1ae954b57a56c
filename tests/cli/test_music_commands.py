"""`grukit train`, `eval`, `reproduce` and `env` on a slice of JSB Chorales; bad input is
one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import json

import pytest

from grukit.cli import main


def test_train_then_eval(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--task",
            "music",
            "--dataset",
            "jsb",
            "--model",
            "gru",
            "--hidden",
            "12",
            "--limit",
            "8",
            "--epochs",
            "1",
            f"--out={out}",
            "--lr=0.01",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "gru (" in printed and "on jsb: NLL train" in printed
    for name in (
        "metrics.jsonl",
        "curves.png",
        "result.json",
        "best/tensors.safetensors",
        "best/state.json",
        "last/state.json",
    ):
        assert (out / name).is_file(), name
    result = json.loads((out / "result.json").read_text())
    assert main(["eval", str(out / "best"), "--split", "test"]) == 0
    printed = capsys.readouterr().out
    assert f"NLL {result['test_nll']:.4g}" in printed


def test_config_file_and_overrides(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        '[music]\nmodel = "mgu"\nhidden = 10\nlimit = 6\n[train]\nepochs = 1\nlr = 0.5\n'
    )
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--lr", "0.02", f"--out={out}"]) == 0
    saved = json.loads((out / "last" / "state.json").read_text())["config"]
    assert saved["model"]["model"] == "mgu" and saved["model"]["hidden"] == 10
    assert saved["train"]["lr"] == 0.02 and saved["train"]["epochs"] == 1


def test_reproduce_quick_writes_the_report(tmp_path, capsys, monkeypatch):
    # What is checked is the report, the reuse of finished runs and the refusal of other
    # options, not the scores: 3 epochs of the quick recipe's (up to 60) will do.
    import dataclasses

    from grukit.experiments import chung2014

    recipe = chung2014.training_config
    monkeypatch.setattr(
        chung2014,
        "training_config",
        lambda quick, seed: dataclasses.replace(recipe(quick, seed), epochs=3),
    )
    out = tmp_path / "chung"
    assert main(["reproduce", "chung2014", "--quick", "--limit", "8", f"--out={out}"]) == 0
    printed = capsys.readouterr().out
    assert "| gru (reset_after=false) | 18,630 | 46 |" in printed and "(8.54)" in printed
    report = (out / "report.md").read_text()
    assert "| lstm | 18,144 | 36 |" in report and "jsb-curves.png" in report
    assert (out / "jsb-curves.png").is_file()

    # Run again: the finished runs are reused, not retrained, and give the same table.
    assert main(["reproduce", "chung2014", "--quick", "--limit", "8", f"--out={out}"]) == 0
    again = capsys.readouterr()
    assert again.out == printed
    assert again.err.count("finished earlier, reused") == 3
    # Other options over the same folder: refused in one line, nothing overwritten.
    argv = ["reproduce", "chung2014", "--quick", "--limit", "8", "--seed", "1", f"--out={out}"]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("grukit reproduce: resume: the run in")
    assert "train.seed: 0 then 1" in error and error.endswith("--fresh retrains")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "bach"], "grukit train: dataset: got 'bach', wanted one of jsb"),
        (
            ["train", "--dataset", "musedata", "--data-dir", "/no/such/dir"],
            "grukit train: data dir: got '/no/such/dir', which is not a folder",
        ),
        (["train", "--hidden", "-3"], "grukit train: hidden: got -3, wanted an int >= 1"),
        (["train", "--epochs", "0"], "grukit train: epochs: got 0, wanted an int >= 1"),
        (
            ["reproduce", "chung2014", "--datasets", "bach"],
            "grukit reproduce: datasets: got 'bach'",
        ),
    ],
)
def test_bad_input_is_one_line(argv, message, capsys, tmp_path):
    assert main([*argv, f"--out={tmp_path / 'x'}"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(message) and "\n" not in error


def test_eval_of_a_corrupt_checkpoint(tmp_path, capsys):
    folder = tmp_path / "best"
    folder.mkdir()
    (folder / "tensors.safetensors").write_bytes(b"junk")
    (folder / "state.json").write_text("{}")
    assert main(["eval", str(folder)]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error.startswith("grukit eval: checkpoint:") and "is damaged" in error and "\n" not in error
    )


def test_eval_of_a_checkpoint_without_a_task_config(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--limit", "4", "--hidden", "4", "--epochs", "1", f"--out={out}"]) == 0
    state_file = out / "best" / "state.json"
    state = json.loads(state_file.read_text())
    state["config"] = {"task": "music", "music": state["config"]["data"]}  # an older layout
    state_file.write_text(json.dumps(state))
    capsys.readouterr()
    assert main(["eval", str(out / "best")]) == 2
    error = capsys.readouterr().err.strip()
    assert "has no task, data and model config" in error and "\n" not in error


def test_env(capsys):
    assert main(["env"]) == 0
    printed = capsys.readouterr().out
    assert "cpu float32 backend:" in printed and "torch:" in printed
