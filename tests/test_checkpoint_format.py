"""Checkpoints carry a format version; those written before it (format 1, committed as
fixtures by the code of that time) still load, score and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grukit.checkpoint import FORMAT_VERSION, CheckpointError, read_checkpoint
from grukit.cli import main
from grukit.run.evaluation import evaluate_checkpoint

FIXTURES = Path(__file__).resolve().parents[0] / "fixtures" / "checkpoint_v1"
# Scores the code that wrote the fixtures gave them (adding T=6, 5 units; JSB slice, 4).
WRITTEN_SCORES = {
    ("adding", "valid"): 0.315990686416626,
    ("adding", "test"): 0.22557955980300903,
    ("music", "valid"): 62.594998573059364,
    ("music", "test"): 62.328807121545225,
}


@pytest.mark.parametrize("name, split", sorted(WRITTEN_SCORES))
def test_a_format_1_checkpoint_scores_as_when_it_was_written(name, split):
    _, state = read_checkpoint(FIXTURES / name)
    assert "format" not in state  # written before the version existed
    result = evaluate_checkpoint(FIXTURES / name, split)
    score = result["scores"][result["metric"]]
    assert score == pytest.approx(WRITTEN_SCORES[name, split], rel=1e-6)


def test_a_format_1_run_resumes(tmp_path, capsys):
    """Its folder resumes with --resume alone; the new checkpoints carry the version."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copytree(FIXTURES / "adding", run / "last")
    shutil.copytree(FIXTURES / "adding", run / "best")
    assert main(["train", "--out", str(run), "--resume", "--epochs", "3"]) == 0
    _, state = read_checkpoint(run / "last")
    assert state["format"] == FORMAT_VERSION and state["progress"]["epoch"] == 3
    assert "adding-T6" in capsys.readouterr().out


def test_a_newer_format_is_refused(tmp_path):
    shutil.copytree(FIXTURES / "adding", tmp_path / "ckpt")
    state_file = tmp_path / "ckpt" / "state.json"
    state = json.loads(state_file.read_text())
    state["format"] = FORMAT_VERSION + 1
    state_file.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=f"has format {FORMAT_VERSION + 1}, this grukit"):
        read_checkpoint(tmp_path / "ckpt")


def test_a_format_1_run_with_weight_decay_is_refused_clearly(tmp_path, capsys):
    """Weight decay now skips biases: two parameter groups where the old run saved one."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copytree(FIXTURES / "adding", run / "last")
    state_file = run / "last" / "state.json"
    state = json.loads(state_file.read_text())
    state["config"]["train"]["weight_decay"] = 0.01
    state_file.write_text(json.dumps(state))
    assert main(["train", "--out", str(run), "--resume", "--epochs", "3"]) == 2
    assert "saved an optimizer of 1 parameter group(s), this grukit makes 2" in (
        capsys.readouterr().err
    )


V3 = FIXTURES.parent / "checkpoint_v3"
V3_EXPECTED = json.loads((V3 / "expected.json").read_text())


@pytest.mark.parametrize("name", ["vowels", "sentiment", "sunspots"])
def test_a_grukit_0_1_predictor_predicts_as_when_it_was_written(name):
    import numpy as np

    import grukit

    expected = V3_EXPECTED[name]
    predictor = grukit.load(V3 / name)
    if name == "vowels":
        inputs = [np.array(frames) for frames in expected["inputs"]]
    else:
        inputs = expected["inputs"]
    predicted = predictor.predict(inputs)
    key = "forecast" if name == "sunspots" else "probabilities"
    np.testing.assert_allclose(predicted[key], expected[key], rtol=1e-5, atol=1e-7)


def test_a_grukit_0_1_language_model_draws_the_same_text_on_both_engines():
    import grukit

    expected = V3_EXPECTED["lm"]
    for engine, text in (("numpy", expected["text"]), ("torch", expected["torch_text"])):
        generator = grukit.load(V3 / "lm", engine=engine)
        assert generator.generate(expected["prompt"], tokens=40, seed=0) == text
    model = grukit.load(V3 / "lm", engine="torch").model
    assert model.readout.weight is model.embedding.weight  # tied, as trained


@pytest.mark.parametrize("name", ["vowels", "sentiment", "sunspots", "lm"])
def test_a_grukit_0_1_checkpoint_scores_as_when_it_was_written(name):
    scores = evaluate_checkpoint(V3 / name, "valid")["scores"]
    assert scores == pytest.approx(V3_EXPECTED[name]["eval"], rel=1e-6)
