"""LayerLab: a deep-learning workbench on PyTorch.

The verbs (``run``, ``evaluate``, ``predict``, ...) load on first use, so importing ``layerlab`` (and
``layerlab --help``) stays fast and does not import torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["run", "evaluate", "predict", "load_run", "load_recipe", "Recipe", "RecipeError", "LayerLabError", "__version__"]

_LAZY = {
    "run": "layerlab.api",
    "evaluate": "layerlab.api",
    "predict": "layerlab.api",
    "load_run": "layerlab.api",
    "load_recipe": "layerlab.recipe",
    "Recipe": "layerlab.recipe",
    "RecipeError": "layerlab.errors",
    "LayerLabError": "layerlab.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'layerlab' has no attribute '{name}'")
