"""LayerLab: a deep-learning workbench on PyTorch.

The verbs (``run``, ``fit``, ``evaluate``, ``predict``, ...) and the modules a user reaches from here
(``layerlab.api``, ``layerlab.models.register``, ``layerlab.data``, ``layerlab.tasks``, ``layerlab.notebook``)
load on first use, so importing ``layerlab`` (and ``layerlab --help``) stays fast and does not import torch.
"""

from __future__ import annotations

from layerlab.lazy import lazy_exports

__version__ = "0.1.0"

__all__ = ["run", "fit", "evaluate", "predict", "load_run", "load_recipe", "Recipe", "RecipeError", "LayerLabError", "__version__"]

_LAZY = {
    "run": "layerlab.api",
    "fit": "layerlab.api",
    "evaluate": "layerlab.api",
    "predict": "layerlab.api",
    "load_run": "layerlab.api",
    "load_recipe": "layerlab.recipe",
    "Recipe": "layerlab.recipe",
    "RecipeError": "layerlab.errors",
    "LayerLabError": "layerlab.errors",
}


# the package's modules reached as attributes (``layerlab.api.tune``, ``@layerlab.models.register(...)``),
# imported on first use as ``import layerlab.api`` would
_SUBMODULES = ("api", "models", "data", "tasks", "notebook", "plugins", "recipe", "recipes", "runs", "tune", "serve",
               "analyze", "errors")

__getattr__ = lazy_exports(__name__, _LAZY, _SUBMODULES)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})
