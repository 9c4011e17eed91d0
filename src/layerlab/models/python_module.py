"""``python:<module>:<class>``: a user's own ``nn.Module`` class, named by its import path.

    model: {name: "python:my_nets:SmallCNN", args: {width: 32}}

The class is imported and called with ``args`` (its constructor's keyword arguments); the data's input
shape and the task's number of outputs are not passed: the user's module has them built in.
``layerlab.fit`` trains an instance the user built (``supplied``), and records its class and arguments
here so that ``load_run`` (evaluate, predict, report, export, serve) rebuilds it by import. A class
defined in a notebook or a script (module ``__main__``) is importable only in that same session.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from torch import nn

from layerlab.errors import LayerLabError, short
from layerlab.models.base import MODELS
from layerlab.models.configs_python import PREFIX, PythonModuleConfig

# The instance ``layerlab.fit`` trains: the family returns it instead of building a new one.
_SUPPLIED: ContextVar[nn.Module | None] = ContextVar("supplied_module", default=None)


def class_path(module: nn.Module) -> str:
    """``python:<module>:<qualname>`` of ``module``'s class."""
    cls = type(module)
    return f"{PREFIX}{cls.__module__}:{cls.__qualname__}"


def needs_arguments(module: nn.Module) -> bool:
    """Whether ``module``'s class cannot be called without arguments to rebuild it (torch's own
    containers, nn.Sequential and the like, are given their layers)."""
    return type(module).__module__.split(".")[0] == "torch" or bool(_required(type(module)))


@contextmanager
def supplied(module: nn.Module) -> Iterator[None]:
    """While the block runs, the ``python:`` family gives ``module`` itself rather than a new instance."""
    token = _SUPPLIED.set(module)
    try:
        yield
    finally:
        _SUPPLIED.reset(token)


@MODELS.register(PREFIX)
def build_python_module(cfg: PythonModuleConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    given = _SUPPLIED.get()
    if given is not None:
        return given
    if cfg.import_path()[0].split(".")[0] == "torch":
        raise LayerLabError(f"model {cfg.name}: a torch container built in place (its layers given to it) cannot be "
                            "rebuilt from the run directory; define the model as a class of your own (a subclass of "
                            "nn.Module) in a module on the Python path")
    cls = import_class(cfg)
    if cfg.args is None and _required(cls):
        raise LayerLabError(f"model {cfg.name}: its constructor arguments were not recorded ({', '.join(_required(cls))} "
                            "have no default), so the model cannot be rebuilt; train it with "
                            "layerlab.fit(..., model_args={...}) to record them")
    try:
        module = cls(**(cfg.args or {}))
    except Exception as exc:  # noqa: BLE001 -- the user's constructor: whatever it raises is named
        raise LayerLabError(f"model {cfg.name}: {cls.__qualname__}(**{cfg.args or {}}) failed: "
                            f"{type(exc).__name__}: {short(exc, 200)}") from None
    if not isinstance(module, nn.Module):
        raise LayerLabError(f"model {cfg.name}: {cls.__qualname__} is not a torch nn.Module class")
    return module


def import_class(cfg: PythonModuleConfig) -> type:
    """The class ``cfg.name`` names; LayerLabError saying it must be importable when it is not."""
    module_name, qualname = cfg.import_path()
    advice = ("the class must be importable to rebuild the model: define it in a module on the Python path "
              "(a class defined in a notebook or a script is importable only in that session)")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except ImportError as exc:
        raise LayerLabError(f"model {cfg.name}: cannot import module {module_name} ({short(exc, 160)}); {advice}") from None
    except AttributeError:
        raise LayerLabError(f"model {cfg.name}: module {module_name} has no {qualname}; {advice}") from None
    if not isinstance(found, type):
        raise LayerLabError(f"model {cfg.name}: {qualname} is not a class")
    return found


def _required(cls: type) -> list[str]:
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
