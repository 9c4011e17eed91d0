"""The search space of ``tune.space``: which recipe keys a search varies, and over what values.

    tune:
      space:
        train.lr: {log_uniform: [1.0e-4, 1.0e-1]}          # a float, sampled on a log scale
        train.weight_decay: {uniform: [0.0, 0.01], step: 0.001}
        model.width: {int: [16, 64], step: 16}              # whole numbers (log: true for a log scale)
        model.hidden: {choice: [[128], [256, 128]]}         # any recipe values, lists included
        train.optimizer:
          choice: [adamw, sgd]
          when:                                             # keys searched only under one choice
            sgd: {train.momentum: {uniform: [0.5, 0.99]}}

Keys are recipe key paths, dotted (``train.lr``) or nested (``train: {lr: ...}``). A choice of
``model.name`` switches the model family: the chosen family starts from its own defaults, and its
keys go under ``when``. The space is checked against the recipe before any trial runs: every key must
be a recipe key, and every value the search can give (each choice, each end of a range) must make a
valid recipe (``layerlab.tune.space_check``); problems are reported with their path, as
``tune.space.train.lr: ...``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from layerlab.errors import close_match
from layerlab.overrides import apply_overrides

if TYPE_CHECKING:
    import optuna

KINDS = ("log_uniform", "uniform", "int", "choice")
OPTIONS = {"log_uniform": (), "uniform": ("step",), "int": ("step", "log"), "choice": ("when",)}
EXAMPLE = "{log_uniform: [1.0e-4, 1.0e-1]}, {uniform: [0.0, 0.5]}, {int: [16, 128]} or {choice: [32, 64]}"
PREFIX = "tune.space"


class SpaceError(ValueError):
    """Problems of a search space, one line each, with their key paths."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# ---------------------------------------------------------------------------------- dimensions
@dataclass(frozen=True)
class _Range:
    """What both numeric dimensions share: the key, where it sits, the bounds, the scale."""

    key: str
    where: str  # the path in the recipe, for messages: tune.space.train.lr
    low: float
    high: float
    log: bool = False

    def probes(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True)
class FloatRange(_Range):
    """``uniform`` or ``log_uniform``: a float in [low, high], on a grid of ``step`` when given."""

    step: float | None = None

    def suggest(self, trial: optuna.Trial) -> float:
        return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)

    def grid(self) -> list[float] | None:
        if self.step is None:
            return None
        n = int(math.floor((self.high - self.low) / self.step + 1e-9))
        return [round(self.low + i * self.step, 12) for i in range(n + 1)]


@dataclass(frozen=True)
class IntRange(_Range):
    """``int``: a whole number in [low, high], every ``step``-th, on a log scale with ``log``."""

    low: int
    high: int
    step: int = 1

    def suggest(self, trial: optuna.Trial) -> int:
        return trial.suggest_int(self.key, self.low, self.high, step=self.step, log=self.log)

    def grid(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


@dataclass(frozen=True)
class Choice:
    """``choice``: one of ``values``; ``when[i]`` holds the keys searched only when ``values[i]`` is chosen."""

    key: str
    where: str
    values: tuple[Any, ...]
    when: dict[int, tuple[Dimension, ...]] = field(default_factory=dict)

    def labels(self) -> list[Any]:
        """What Optuna stores: the values themselves, or their JSON text when one is not a plain scalar."""
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in self.values):
            return list(self.values)
        return [json.dumps(v) for v in self.values]

    def suggest(self, trial: optuna.Trial) -> Any:
        labels = self.labels()
        return self.values[labels.index(trial.suggest_categorical(self.key, labels))]

    def grid(self) -> list[Any]:
        return self.labels()

    def probes(self) -> list[Any]:
        return list(self.values)


Dimension = FloatRange | IntRange | Choice


# ---------------------------------------------------------------------------------- the space
@dataclass(frozen=True)
class SearchSpace:
    dims: tuple[Dimension, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.dims)

    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """The recipe values of a trial, ``{"train.lr": 0.003, ...}``, asked of Optuna key by key."""
        values: dict[str, Any] = {}
        _sample(self.dims, trial, values)
        return values

    def grid(self) -> list[dict[str, Any]]:
        """Every point of the grid, as Optuna parameters (``{"train.lr": 0.01, ...}``), in a fixed order.

        Raises SpaceError when a dimension has no finite set of values (``log_uniform``, or
        ``uniform`` without ``step``).
        """
        problems = [f"{d.where}: grid search needs a finite set of values; "
                    + ("use choice: [...] instead of log_uniform" if d.log else "give uniform a step")
                    for d in _walk(self.dims) if isinstance(d, FloatRange) and d.step is None]
        if problems:
            raise SpaceError(problems)
        return _grid(self.dims)

    def keys(self) -> list[str]:
        return list(dict.fromkeys(d.key for d in _walk(self.dims)))

    def names(self) -> dict[str, Dimension]:
        return {d.key: d for d in _walk(self.dims)}


def _sample(dims: Sequence[Dimension], trial: optuna.Trial, values: dict[str, Any]) -> None:
    for dim in dims:
        value = dim.suggest(trial)
        values[dim.key] = value
        if isinstance(dim, Choice):
            _sample(dim.when.get(dim.values.index(value), ()), trial, values)


def _grid(dims: Sequence[Dimension]) -> list[dict[str, Any]]:
    def options(dim: Dimension) -> list[dict[str, Any]]:
        if not isinstance(dim, Choice):
            return [{dim.key: v} for v in dim.grid()]
        return [{dim.key: label, **sub} for i, label in enumerate(dim.labels())
                for sub in _grid(dim.when.get(i, ()))]

    return [dict(itertools.chain.from_iterable(p.items() for p in combo))
            for combo in itertools.product(*(options(d) for d in dims))]


def _walk(dims: Iterable[Dimension]) -> Iterable[Dimension]:
    for dim in dims:
        yield dim
        if isinstance(dim, Choice):
            for sub in dim.when.values():
                yield from _walk(sub)


# ------------------------------------------------------------------------------------- parsing
def parse_space(raw: Mapping[str, Any], where: str = PREFIX) -> SearchSpace:
    """The space of ``tune.space`` (a mapping); raises SpaceError listing every problem with its path."""
    problems: list[str] = []
    dims = _parse_entries(raw, where, problems)
    if problems:
        raise SpaceError(list(dict.fromkeys(problems)))
    return SearchSpace(tuple(dims))


def _parse_entries(raw: Any, where: str, problems: list[str], key_prefix: str = "") -> list[Dimension]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping of recipe keys to distributions, given {raw!r}")
        return []
    dims: list[Dimension] = []
    for name, value in raw.items():
        key = f"{key_prefix}{name}"
        path = f"{where}.{name}"
        if _is_nesting(value):
            dims += _parse_entries(value, path, problems, key_prefix=f"{key}.")
        else:
            dim = _parse_dimension(key, path, value, problems)
            if dim is not None:
                dims.append(dim)
    seen: set[str] = set()
    for dim in dims:
        if dim.key in seen:
            problems.append(f"{dim.where}: {dim.key} is given twice")
        seen.add(dim.key)
        if dim.key.split(".")[0] == "tune":
            problems.append(f"{dim.where}: a search cannot vary the search itself (tune.*)")
    return dims


def _is_nesting(value: Any) -> bool:
    """``train: {lr: {...}}`` nests keys; ``{log_uniform: [...]}`` (or a misspelt one) is a distribution."""
    if not isinstance(value, Mapping) or not value:
        return False
    words = {*KINDS, *itertools.chain.from_iterable(OPTIONS.values())}
    return not any(k in words for k in value) and all(isinstance(v, Mapping) for v in value.values())


def _parse_dimension(key: str, where: str, raw: Any, problems: list[str]) -> Dimension | None:
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{where}: expected a distribution, e.g. {EXAMPLE}; given {raw!r}")
        return None
    kinds = [k for k in raw if k in KINDS]
    if len(kinds) != 1:
        if kinds:
            problems.append(f"{where}: give one of {', '.join(KINDS)}, not {' and '.join(kinds)}")
        else:
            unknown = next(iter(raw))
            hint = close_match(str(unknown), KINDS)
            problems.append(f"{where}: '{unknown}' is not a distribution"
                            + (f"; did you mean '{hint}'?" if hint else f"; expected one of {', '.join(KINDS)}"))
        return None
    kind = kinds[0]
    before = len(problems)
    for option in raw:
        if option != kind and option not in OPTIONS[kind]:
            allowed = OPTIONS[kind]
            elsewhere = [k for k, opts in OPTIONS.items() if option in opts]
            if elsewhere:
                problems.append(f"{where}: '{option}' applies to {' and '.join(elsewhere)} only, not {kind}")
            else:
                hint = close_match(str(option), allowed)
                problems.append(f"{where}: unknown option '{option}'" + (f"; did you mean '{hint}'?" if hint else
                                (f"; {kind} takes {', '.join(allowed)}" if allowed else f"; {kind} takes none")))
    if len(problems) > before:
        return None
    return _BUILDERS[kind](key, where, raw, problems)


def _bounds(raw: Any) -> tuple[Any, Any] | None:
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 2:
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in raw):
            return raw[0], raw[1]
    return None


def _float_range(key: str, where: str, raw: Mapping[str, Any], problems: list[str]) -> FloatRange | None:
    log = "log_uniform" in raw
    kind = "log_uniform" if log else "uniform"
    bounds = _bounds(raw[kind])
    ok = bounds is not None and bounds[0] < bounds[1] and (not log or bounds[0] > 0)
    if not ok:
        need = "0 < low < high" if log else "low < high"
        problems.append(f"{where}: {kind} needs [low, high] with {need}, given {raw[kind]!r}")
        return None
    step = raw.get("step")
    if step is not None and not (_number(step) and step > 0):
        problems.append(f"{where}: step must be a positive number, given {step!r}")
        return None
    if step is not None and step > bounds[1] - bounds[0]:
        problems.append(f"{where}: step {step} is wider than the range [{bounds[0]}, {bounds[1]}]")
        return None
    return FloatRange(key, where, float(bounds[0]), float(bounds[1]), log=log,
                      step=None if step is None else float(step))


def _int_range(key: str, where: str, raw: Mapping[str, Any], problems: list[str]) -> IntRange | None:
    bounds = _bounds(raw["int"])
    log = raw.get("log", False)
    if bounds is None or not all(float(b).is_integer() for b in bounds) or not bounds[0] < bounds[1]:
        problems.append(f"{where}: int needs [low, high], whole numbers with low < high, given {raw['int']!r}")
        return None
    low, high = int(bounds[0]), int(bounds[1])
    step = raw.get("step", 1)
    if not (_number(step) and float(step).is_integer() and step >= 1):
        problems.append(f"{where}: step must be a positive whole number, given {step!r}")
        return None
    if not isinstance(log, bool):
        problems.append(f"{where}: log must be true or false, given {log!r}")
        return None
    if log and (low < 1 or step != 1):
        problems.append(f"{where}: int with log: true needs low >= 1 and no step")
        return None
    return IntRange(key, where, low, high, step=int(step), log=log)


def _choice(key: str, where: str, raw: Mapping[str, Any], problems: list[str]) -> Choice | None:
    values = raw["choice"]
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        problems.append(f"{where}: choice needs a non-empty list of values, given {values!r}")
        return None
    texts = [json.dumps(v, sort_keys=True, default=str) for v in values]
    doubled = [v for v, t in zip(values, texts) if texts.count(t) > 1]
    if doubled:
        problems.append(f"{where}: choice lists {doubled[0]!r} twice")
        return None
    when_raw = raw.get("when", {})
    if not isinstance(when_raw, Mapping):
        problems.append(f"{where}.when: expected a mapping from choices to the keys searched under them, "
                        f"e.g. when: {{{values[0]}: {{train.momentum: {{uniform: [0.5, 0.99]}}}}}}")
        return None
    when: dict[int, tuple[Dimension, ...]] = {}
    for label, sub in when_raw.items():
        index = _choice_index(values, label)
        if index is None:
            shown = ", ".join(map(str, values))
            hint = close_match(str(label), [str(v) for v in values])
            problems.append(f"{where}.when.{label}: '{label}' is not one of the choices ({shown})"
                            + (f"; did you mean '{hint}'?" if hint else ""))
            continue
        when[index] = tuple(_parse_entries(sub, f"{where}.when.{label}", problems))
    return Choice(key, where, tuple(values), when)


def _choice_index(values: Sequence[Any], label: Any) -> int | None:
    """Where ``label`` (a key under ``when``: YAML keys may be text, numbers or booleans) is in ``values``."""
    for i, value in enumerate(values):
        if label == value and type(label) is type(value):
            return i
    for i, value in enumerate(values):
        if str(label) == (json.dumps(value) if not isinstance(value, str) else value):
            return i
    return None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_BUILDERS: dict[str, Callable[[str, str, Mapping[str, Any], list[str]], Dimension | None]] = {
    "log_uniform": _float_range,
    "uniform": _float_range,
    "int": _int_range,
    "choice": _choice,
}


# ------------------------------------------------------------------------- applying to a recipe
def apply_values(raw: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a raw recipe with a trial's values set (``{"train.lr": 0.01}``).

    A ``model.name`` that changes the family replaces the whole ``model`` section by the new family's
    defaults first: the old family's keys mean nothing to the new one.
    """
    raw = dict(raw)
    family = values.get("model.name")
    if family is not None and (raw.get("model") or {}).get("name", "cnn") != family:
        raw["model"] = {"name": family}
    ordered = sorted(values.items(), key=lambda item: item[0] != "model.name")
    return apply_overrides(raw, dict(ordered))
