"""Optional dependencies, installed as grukit extras.

``pip install grukit`` is the layer alone (torch, numpy, ninja, safetensors). Training and
what it draws or reads come with ``grukit[train]`` (matplotlib for the learning curves and
plots, scipy for the music .mat files, scikit-learn for the digits task and the classical
baselines); the application tasks' data packages with ``grukit[apps]`` (or one by one:
``text``, ``forecast``, ``lm``); ONNX export with ``grukit[onnx]``; all of it with
``grukit[all]``. Each is imported where it is used, through :func:`require`, so that
``import grukit`` and the layer never need them; a missing one is a ``MissingExtra``
whose one-line message names the extra to install (``grukit <command>`` prints just that
line).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

# The import names of what an extra brings that grukit checks before it starts a job
# (pyproject.toml lists their distributions; a test keeps the two in step).
EXTRAS = {"train": ("matplotlib", "scipy", "sklearn")}

# Import name -> the name pip installs it by, where the two differ.
DISTRIBUTIONS = {"sklearn": "scikit-learn"}


class MissingExtra(ImportError):
    """An optional package is not installed."""


def _missing(package: str, extra: str, user: str) -> MissingExtra:
    name = DISTRIBUTIONS.get(package, package)
    return MissingExtra(f"{user} needs the {name} package: pip install 'grukit[{extra}]'")


def require(
    module: str, extra: str, task: str | None = None, *, needed_by: str | None = None
) -> ModuleType:
    """Import ``module`` (e.g. "statsmodels.datasets.sunspots") or say which extra brings
    it, naming what needs it: ``task`` (a task's name) or ``needed_by`` (e.g. "the
    learning curves")."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        user = needed_by or f"task {task}"
        raise _missing(module.split(".")[0], extra, user) from error


def package_folder(package: str, extra: str, task: str) -> Path:
    """Where ``package`` is installed, found without importing it (for data files inside
    a package whose import is slow or heavy)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(package, extra, f"task {task}")
    return Path(spec.submodule_search_locations[0])


def installed(package: str) -> bool:
    """Whether ``package`` can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a parent package missing, or a stub in sys.modules
        return False


def require_extra(extra: str, user: str) -> None:
    """Raise ``MissingExtra`` before a job starts (``user``, e.g. "training") unless
    every package of ``extra`` is installed: a training run should not stop at its end
    for want of the package that draws its curves."""
    missing = [DISTRIBUTIONS.get(name, name) for name in EXTRAS[extra] if not installed(name)]
    if missing:
        raise MissingExtra(
            f"{user} needs the {extra} extra ({', '.join(missing)} not installed): "
            f"pip install 'grukit[{extra}]'"
        )


def pyplot(needed_by: str) -> ModuleType:
    """matplotlib's pyplot drawing to files (the Agg backend: no display needed), or
    ``MissingExtra`` naming the train extra."""
    matplotlib = require("matplotlib", "train", needed_by=needed_by)
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")
