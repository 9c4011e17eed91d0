"""The check of ``tune.space`` against the rest of its recipe, run when the recipe is validated.

The recipe's validator calls ``recipe_problems`` with its own ``validate_recipe``, so that this module
needs nothing of the recipe module (which imports it) at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from layerlab.errors import RecipeError
from layerlab.tune.space import Choice, Dimension, SpaceError, apply_values, parse_space

if TYPE_CHECKING:
    from layerlab.recipe import Recipe


def recipe_problems(recipe: Recipe, validate: Callable[[dict[str, Any]], Any]) -> list[str]:
    """Problems of ``recipe.tune`` (with their paths), checked against the rest of the recipe.

    Every key must be a recipe key and every value the search can give (each choice, both ends of a
    range) must make a valid recipe, keys under ``when`` together with their choice: ``validate`` (the
    recipe's ``validate_recipe``) is called on each and raises RecipeError. Empty when fine.
    """
    tune = recipe.tune
    if not tune.space:
        return []
    try:
        space = parse_space(tune.space)
    except SpaceError as exc:
        return exc.problems
    problems: list[str] = []
    if tune.strategy == "grid":
        try:
            space.grid()
        except SpaceError as exc:
            problems += exc.problems
    elif tune.trials is None and tune.timeout is None:
        problems.append("tune.trials: give a number of trials or a time budget (tune.timeout); "
                        "only a grid search ends by itself")
    base = recipe.to_dict()
    del base["tune"]
    for dim, context in _with_context(space.dims, {}):
        for value in dim.probes():
            try:
                validate(apply_values(base, {**context, dim.key: value}))
            except RecipeError as exc:
                problems += [_located(dim, value, p) for p in exc.problems]
    return list(dict.fromkeys(problems))


def _with_context(dims: Sequence[Dimension], context: dict[str, Any]) -> Iterable[tuple[Dimension, dict[str, Any]]]:
    for dim in dims:
        yield dim, context
        if isinstance(dim, Choice):
            for index, sub in dim.when.items():
                yield from _with_context(sub, {**context, dim.key: dim.values[index]})


def _located(dim: Dimension, value: Any, problem: str) -> str:
    """``train.lrr: unknown key; ...`` becomes ``tune.space.train.lrr: unknown key; ...``."""
    if problem.startswith(f"{dim.key}: "):
        return f"{dim.where}: {problem[len(dim.key) + 2:]}"
    return f"{dim.where}: {value!r} does not make a valid recipe: {problem}"
