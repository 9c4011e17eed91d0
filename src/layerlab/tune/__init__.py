"""Hyperparameter search (Optuna) and fair comparisons of recipes and runs.

    from layerlab.tune import tune, compare, cross_validate
    result = tune("my-recipe.yaml", trials=30, workers=2)
    print(result.best_value, result.best_recipe)

``tune:`` in a recipe says what is searched (``layerlab.tune.config``, ``layerlab.tune.space``); every
trial is a normal run directory under the study's directory. The functions load on first use, so
importing this package (as the recipe schema does) imports neither Optuna nor torch.
"""

from __future__ import annotations

from layerlab.lazy import lazy_exports

__all__ = ["tune", "compare", "cross_validate", "TuneResult", "CompareResult", "CrossValResult"]

_LAZY = {
    "tune": "layerlab.tune.study",
    "TuneResult": "layerlab.tune.study",
    "compare": "layerlab.tune.comparison",
    "CompareResult": "layerlab.tune.comparison",
    "cross_validate": "layerlab.tune.crossval",
    "CrossValResult": "layerlab.tune.crossval",
}


__getattr__ = lazy_exports(__name__, _LAZY)
