"""The registry of checkpoint kinds: ``grukit.load`` returns each family's predictor
through it, ``grukit predict`` / ``generate`` dispatch through it, and a kind registered
from outside the package (an entry point of another distribution) is served with no edit
inside grukit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import grukit
from grukit.checkpoint import save_checkpoint
from grukit.cli import main
from grukit.inference import registry
from grukit.inference.generation import TextGenerator
from grukit.inference.predictors import Forecaster, SequenceClassifier, TextClassifier

ROOT = Path(__file__).resolve().parents[2]
V3 = ROOT / "tests" / "fixtures" / "checkpoint_v3"


@pytest.mark.parametrize(
    "name, cls",
    [
        ("vowels", SequenceClassifier),
        ("sentiment", TextClassifier),
        ("sunspots", Forecaster),
        ("lm", TextGenerator),
    ],
)
def test_load_returns_each_familys_predictor(name, cls):
    assert type(grukit.load(V3 / name)) is cls


def test_load_dispatches_through_the_registry(monkeypatch):
    """Replacing a kind's entry changes what load returns: nothing else chooses."""

    class Mine(Forecaster):
        pass

    monkeypatch.setitem(registry.KINDS, "series", Mine)
    assert type(grukit.load(V3 / "sunspots")) is Mine


def test_a_command_that_does_not_serve_a_kind_names_the_one_that_does(capsys):
    assert main(["generate", str(V3 / "vowels"), "--tokens", "3"]) == 2
    assert "holds a sequence classifier; grukit predict serves it" in capsys.readouterr().err
    assert main(["predict", str(V3 / "lm"), "--data", str(V3 / "README.md")]) == 2
    assert "holds a language model; grukit generate serves it" in capsys.readouterr().err


def test_predict_without_data_says_what_the_checkpoint_takes(capsys):
    assert main(["predict", str(V3 / "sunspots")]) == 0
    assert "a column of at least 21 recent values (window 20 + anchor 1)" in (
        capsys.readouterr().out
    )


def test_a_run_folder_stands_for_its_best_checkpoint(tmp_path, capsys):
    import shutil

    shutil.copytree(V3 / "sunspots", tmp_path / "run" / "best")
    values = [float(v) for v in range(40)]
    expected = grukit.load(V3 / "sunspots").predict(values)["forecast"]
    capsys.readouterr()
    predicted = grukit.load(tmp_path / "run").predict(values)["forecast"]
    assert predicted.tolist() == expected.tolist()
    assert "is a run folder; reading its best/" in capsys.readouterr().err


def test_unknown_and_duplicate_kinds_are_refused(monkeypatch):
    with pytest.raises(ValueError, match=r"its kind 'nope' has no predictor here \(known: "):
        registry.predictor_class("nope")
    with pytest.raises(ValueError, match="kind: 'lm' is registered already"):
        registry.register("lm", TextGenerator)
    monkeypatch.setattr(registry, "KINDS", dict(registry.KINDS))
    registry.register("mine", "grukit.inference.predictors:Forecaster")
    assert registry.predictor_class("mine") is Forecaster


TOY_PACKAGE = '''
"""A predictor that lives outside grukit: it multiplies each number by a factor saved in
its checkpoint's preprocessing."""
from grukit.inference.base import Predictor


class Scaler(Predictor):
    description = "toy scaler"

    def __init__(self, factor):
        self.factor = factor

    @classmethod
    def from_checkpoint(cls, checkpoint):
        return cls(checkpoint.preprocessing["factor"])

    def read_inputs(self, path):
        return [float(line) for line in path.read_text().split()]

    def predict(self, values):
        return {"scaled": [self.factor * value for value in values]}

    def rows(self, predictions):
        return ["index", "scaled"], list(enumerate(predictions["scaled"]))

    def wants(self):
        return f"numbers to multiply by {self.factor}"
'''


def test_a_kind_from_another_package_is_served_by_grukit_predict(tmp_path):
    """An installed distribution's entry point (group ``grukit.predictors``) names the
    predictor; ``grukit predict`` finds it in a fresh process."""
    site = tmp_path / "site"
    (site / "toykind").mkdir(parents=True)
    (site / "toykind" / "__init__.py").write_text(textwrap.dedent(TOY_PACKAGE))
    info = site / "toykind-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toykind\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[grukit.predictors]\ntoy = toykind:Scaler\n")
    checkpoint = tmp_path / "toy"
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    extra = {"preprocessing": {"kind": "toy", "factor": 3}, "model_shape": {}}
    save_checkpoint(checkpoint, model, optimizer, {}, {}, extra)
    data = tmp_path / "numbers.txt"
    data.write_text("1\n2.5\n")
    environment = {"PYTHONPATH": f"{site}:{ROOT / 'src'}", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "grukit.cli", "predict", str(checkpoint)]
    done = subprocess.run(
        [*command, "--data", str(data)], capture_output=True, text=True, env=environment
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["index,scaled", "0,3.0", "1,7.5"]
    described = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert described.stdout.strip() == "numbers to multiply by 3"
