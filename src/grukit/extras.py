"""Optional data packages: the application tasks read their data from packages that are
grukit extras (``pip install 'grukit[text]'``, ``'grukit[forecast]'``); a missing one is a
``MissingExtra`` whose one-line message names the extra to install."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType


class MissingExtra(ImportError):
    """A task's data package is not installed."""


def _missing(package: str, extra: str, task: str) -> MissingExtra:
    return MissingExtra(f"task {task} needs the {package} package: pip install 'grukit[{extra}]'")


def require(module: str, extra: str, task: str) -> ModuleType:
    """Import ``module`` (e.g. "statsmodels.datasets.sunspots") or say which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise _missing(module.split(".")[0], extra, task) from error


def package_folder(package: str, extra: str, task: str) -> Path:
    """Where ``package`` is installed, found without importing it (for data files inside
    a package whose import is slow or heavy)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(package, extra, task)
    return Path(spec.submodule_search_locations[0])
