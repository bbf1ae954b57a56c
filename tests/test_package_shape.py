"""The package's shape holds: imports go one way (the architecture page of the docs,
docs/architecture.md), and the Python versions pyproject claims are the ones the code
can run on."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "grukit"

# The modules at the package's root are the lowest layer: they import nothing of grukit,
# and every package may import them.
ROOT_MODULES = ("checkpoint", "config", "extras", "lazy", "masks", "metrics")
LOW = set(ROOT_MODULES)
# package -> the grukit packages it may import (besides itself and the root modules): each
# imports only from layers below it, so nothing low imports anything high.
ALLOWED = {
    "cells": set(),
    "kernels": {"cells"},
    "layers": {"cells", "kernels"},
    "data": set(),
    "models": {"cells", "kernels", "layers"},
    "train": set(),
    "analysis": {"cells", "kernels", "layers"},
    "interop": {"cells", "kernels", "layers"},
    # The inference wing: from a checkpoint to predictions, without the trainer, the
    # tasks, the run layer or the command line.
    "inference": {"cells", "kernels", "layers", "models", "data"},
    "tasks": {"cells", "kernels", "layers", "models", "data", "train"},
    "run": {"cells", "kernels", "layers", "models", "data", "train", "tasks"},
    "experiments": {
        "cells", "kernels", "layers", "models", "data", "train", "tasks", "run", "analysis"
    },
}  # fmt: skip
# cli/ may import anything (it is the top); grukit/__init__.py imports lazily, on demand.


def grukit_imports(path: Path) -> set[str]:
    """The grukit subpackages a module imports (anywhere in it, lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "grukit" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules_of(package: str) -> list[Path]:
    if package in ROOT_MODULES:
        return [PACKAGE / f"{package}.py"]
    return sorted((PACKAGE / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED) + list(ROOT_MODULES))
def test_imports_go_one_way(package):
    allowed = ALLOWED.get(package, set()) | {package} | (set() if package in LOW else LOW)
    offences = [
        f"{path.relative_to(PACKAGE)} imports grukit.{name}"
        for path in modules_of(package)
        for name in sorted(grukit_imports(path) - allowed)
    ]
    assert offences == []


def test_every_package_has_its_rule():
    """A new package must say where it stands."""
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert packages - {"cli"} == set(ALLOWED)
    assert modules == set(ROOT_MODULES)


def test_the_inference_wing_imports_no_trainer_task_run_or_cli():
    found = set().union(*(grukit_imports(path) for path in modules_of("inference")))
    assert found & {"train", "tasks", "run", "cli", "experiments"} == set()
    assert {"checkpoint", "models"} <= found  # what it does read: checkpoints, models


def test_the_checker_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from grukit.run.evaluation import score\n")
    assert grukit_imports(module) == {"run"}


def minimum_python() -> tuple[int, int]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    major, minor = re.fullmatch(r">=\s*(\d+)\.(\d+)", spec).groups()
    return int(major), int(minor)


def test_requires_python_is_true():
    """Every module parses as the oldest Python pyproject admits, and this interpreter (the
    one CI runs) is one of those admitted."""
    oldest = minimum_python()
    assert sys.version_info[:2] >= oldest
    for path in sorted(PACKAGE.rglob("*.py")):
        ast.parse(path.read_text(), filename=str(path), feature_version=oldest)
