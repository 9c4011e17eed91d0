"""Plugins: a user's own model families, data sources and tasks, registered from their own modules.

    # my_models.py
    import layerlab.models
    @layerlab.models.register("tiny-mlp", config=TinyConfig, description="...")
    def build_tiny(cfg, input_shape, num_outputs): ...

Such a module is found in one of two ways:

- ``layerlab --import my_models run recipe.yaml`` (before or after the command; repeatable) imports it
  first (``import_modules``);
- an installed package declares it in the entry-point group ``layerlab.plugins``
  (``[project.entry-points."layerlab.plugins"] tiny = "my_models"``). Those are loaded lazily: the
  first time a registry is asked for a name it does not know (``load_entry_points``), so commands that
  name no plugin never import one. A failing plugin is named in one line.

Imports only the standard library at its top (``layerlab --help`` stays torch-free).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from layerlab.errors import LayerLabError

GROUP = "layerlab.plugins"
_loaded = False


class PluginError(LayerLabError):
    exit_code = 2


IMPORTED: list[str] = []  # the --import modules this process imported, in order (for the processes it starts)


def import_modules(modules: Sequence[str]) -> None:
    """Import each ``--import`` module, from the current folder too (as ``python -m`` does). Raises
    PluginError (``--import NAME: Type: message``, one line) for the first that fails."""
    if modules and "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    for name in modules:
        try:
            importlib.import_module(name)
            IMPORTED.append(name)
        except Exception as exc:  # noqa: BLE001 -- a user's module may fail in any way; name it, briefly
            raise PluginError(_one_line(f"--import {name}", exc)) from None


def load_entry_points() -> bool:
    """Load every ``layerlab.plugins`` entry point, once per process; True when this call loaded some
    (so a lookup that failed is worth trying again). Raises PluginError naming the one that fails."""
    global _loaded
    if _loaded:
        return False
    _loaded = True
    from importlib.metadata import entry_points

    found = list(entry_points(group=GROUP))
    for point in found:
        try:
            point.load()
        except Exception as exc:  # noqa: BLE001 -- as above: the plugin's own failure, named
            raise PluginError(_one_line(f"plugin {point.name} ({point.value}, entry point group {GROUP})", exc)) from None
    return bool(found)


def take_imports(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``--import MODULE`` / ``--import=MODULE`` taken from anywhere on a command line: (modules, the rest)."""
    modules: list[str] = []
    rest: list[str] = []
    items = iter(argv)
    for item in items:
        if item == "--":
            rest += [item, *items]
        elif item == "--import":
            module = next(items, None)
            if module is None:
                rest.append(item)  # argparse says it needs a value
            else:
                modules.append(module)
        elif item.startswith("--import="):
            modules.append(item.partition("=")[2])
        else:
            rest.append(item)
    return modules, rest


def _one_line(what: str, exc: BaseException) -> str:
    return f"{what}: {type(exc).__name__}: {exc}".splitlines()[0]
