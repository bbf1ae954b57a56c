"""``pip install grukit`` is the layer alone: with matplotlib, scipy and scikit-learn absent
the layer still runs forward and backward, and what needs them (``grukit train``, a plot,
the digits) says in one line which extra brings them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import torch

import grukit
from grukit.extras import DISTRIBUTIONS, EXTRAS, MissingExtra, require, require_extra

ROOT = Path(__file__).resolve().parents[1]
TRAIN_EXTRA = ("matplotlib", "scipy", "sklearn")  # import names


def run_without_train_extra(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where the train extra's packages cannot be
    imported (None in sys.modules: ``import matplotlib`` raises ImportError, and
    importlib.util.find_spec finds nothing), with this test's grukit."""
    script = f"import sys\nfor name in {TRAIN_EXTRA!r}:\n    sys.modules[name] = None\n"
    script += textwrap.dedent(code)
    source = str(Path(grukit.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
    )


LAYER_RUN = """
    import torch
    import grukit

    torch.manual_seed(0)
    gru = grukit.GRU(3, 5, 2, variant="mgu", batch_first=True)
    x = torch.randn(4, 6, 3, requires_grad=True)
    output, h_n = gru(x, lengths=[6, 4, 2, 1])
    (output.square().sum() + h_n.sum()).backward()
    print(output.sum().item(), x.grad.sum().item(), gru.weight_hh_l0.grad.sum().item())
    print(sorted(name for name in ("matplotlib", "scipy", "sklearn") if sys.modules[name]))
"""


def test_the_layer_runs_forward_and_backward_without_the_train_extra():
    result = run_without_train_extra(LAYER_RUN)
    assert result.returncode == 0, result.stderr[-2000:]
    values, imported = result.stdout.strip().splitlines()
    # The same numbers as this process gets with the extra installed.
    torch.manual_seed(0)
    gru = grukit.GRU(3, 5, 2, variant="mgu", batch_first=True)
    x = torch.randn(4, 6, 3, requires_grad=True)
    output, h_n = gru(x, lengths=[6, 4, 2, 1])
    (output.square().sum() + h_n.sum()).backward()
    expected = (output.sum().item(), x.grad.sum().item(), gru.weight_hh_l0.grad.sum().item())
    assert [float(value) for value in values.split()] == pytest.approx(expected, rel=1e-6)
    assert imported == "[]"  # none of them imported


def test_grukit_train_without_the_train_extra_names_it_in_one_line():
    result = run_without_train_extra(
        """
        from grukit.cli import main
        sys.exit(main(["train", "--task", "adding", "--epochs", "1"]))
        """
    )
    assert result.returncode == 2
    assert result.stderr == (
        "grukit train: training needs the train extra (matplotlib, scipy, scikit-learn not "
        "installed): pip install 'grukit[train]'\n"
    )
    assert result.stdout == ""


def test_train_help_needs_no_extra():
    """The options can be read before the extra is installed."""
    result = run_without_train_extra(
        """
        from grukit.cli import main
        main(["train", "--task", "digits", "--help"])
        """
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--permuted" in result.stdout


def test_the_train_extra_of_pyproject_is_the_one_checked():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    listed = {re.split(r"[<>=!~ ;\[]", spec, maxsplit=1)[0] for spec in extras["train"]}
    assert listed == {DISTRIBUTIONS.get(name, name) for name in EXTRAS["train"]}
    # The old extra names still install what they did, and all is everything but dev.
    assert {"text", "forecast", "lm", "onnx", "apps", "all", "dev"} <= set(extras)
    assert extras["all"] == ["grukit[train,apps,onnx]"] and "grukit[all]" in extras["dev"]
    assert extras["apps"] == ["grukit[text,forecast,lm]"]
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ;\[]", spec, maxsplit=1)[0] for spec in dependencies}
    assert names == {"torch", "numpy", "ninja", "safetensors"}


def test_a_missing_package_is_named_by_the_name_pip_knows(monkeypatch):
    for name in [name for name in sys.modules if name.split(".")[0] == "sklearn"] + ["sklearn"]:
        monkeypatch.setitem(sys.modules, name, None)  # also what an earlier test imported
    from grukit.tasks.classification.digits import load_digits_split

    with pytest.raises(MissingExtra) as error:
        load_digits_split(0)
    assert str(error.value) == (
        "task digits needs the scikit-learn package: pip install 'grukit[train]'"
    )
    with pytest.raises(MissingExtra) as error:
        require_extra("train", "training")
    assert str(error.value) == (
        "training needs the train extra (scikit-learn not installed): pip install 'grukit[train]'"
    )


def test_a_plot_without_matplotlib_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    from grukit.train.plots import plot_learning_curves

    with pytest.raises(MissingExtra) as error:
        plot_learning_curves({}, tmp_path / "curves.png", "t")
    assert str(error.value) == (
        "drawing the learning curves needs the matplotlib package: pip install 'grukit[train]'"
    )


def test_require_returns_the_module_when_it_is_there():
    assert require("json.decoder", "train", needed_by="nothing").__name__ == "json.decoder"
