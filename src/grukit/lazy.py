"""Package attributes imported on first use (PEP 562), so that importing a package does not
import torch: ``grukit generate`` on a NumPy-steppable model never needs it, and torch's
import alone takes 1-2 s (``grukit.inference.generation``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """(``__getattr__``, ``__dir__``) for ``package``: each name in ``exports`` is read from
    the module it maps to when first asked for, then kept in the package's namespace."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(importlib.import_module(package)), *exports})

    return __getattr__, __dir__
