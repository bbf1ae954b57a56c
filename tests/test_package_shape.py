"""The package's shape holds: imports go one way (DESIGN.md), and the Python versions
pyproject claims are the ones the code can run on."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "grukit"

# package -> packages of grukit it must never import
FORBIDDEN = {
    "cells": ("train", "tasks", "cli", "models", "experiments"),
    "kernels": ("train", "tasks", "cli", "models", "experiments"),
    "layers": ("train", "tasks", "cli", "models", "experiments"),
    "models": ("train", "tasks", "cli", "experiments"),
    "data": ("train", "tasks", "cli", "models", "experiments"),
    "train": ("models", "tasks", "cli", "experiments", "layers", "kernels", "cells"),
    "tasks": ("cli", "experiments"),
    "experiments": ("cli",),
}


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


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_go_one_way(package):
    offences = [
        f"{path.relative_to(PACKAGE)} imports grukit.{name}"
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for name in sorted(grukit_imports(path) & set(FORBIDDEN[package]))
    ]
    assert offences == []


def test_the_checker_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from grukit.tasks.runner import score\n")
    assert grukit_imports(module) == {"tasks"}


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
