"""Lazy exports: a package names what it offers, and the module behind each name loads on first use.

    __getattr__ = lazy_exports(__name__, {"run": "layerlab.api", "Recipe": "layerlab.recipe"})

Importing the package then costs nothing (no torch, no Optuna, no MLflow) until a name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any


def lazy_exports(package: str, exports: dict[str, str], submodules: Sequence[str] = ()) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` on first use and returns its ``name``; a
    value ``"module:attribute"`` gives that attribute of the module under the name (an alias).
    ``submodules``: names of the package's own modules, imported on first use (``layerlab.api``)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            module, _, attribute = exports[name].partition(":")
            return getattr(importlib.import_module(module), attribute or name)
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
