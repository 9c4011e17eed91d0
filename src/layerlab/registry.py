"""One small name → builder registry, used by data sources, models and tasks.

Registering a name twice is an error; an unknown name lists the known ones and the closest match.

    MODELS = Registry("model")

    @MODELS.register("mlp", config=MLPConfig, description="Fully connected network")
    def build_mlp(cfg, input_shape, num_outputs): ...

    MODELS.validate_section({"name": "mlp", "hiden": [10]}, "model")   # the recipe's check of a section
    # ValueError: model.hiden: unknown key; did you mean 'model.hidden'?

A built-in entry is declared where its config lives, in a module that imports no torch, and its object
(the builder, the task class, the reading function) loads with its module on first use, so that checking
and explaining a recipe, or listing the models, imports no torch:

    MODELS.declare("mlp", "layerlab.models.mlp", config=MLPConfig, description="...")   # configs module
    @MODELS.register("mlp")                                                              # layerlab.models.mlp
    def build_mlp(cfg, input_shape, num_outputs): ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from layerlab.errors import LayerLabError, did_you_mean, short
from layerlab.recipe_errors import NestedErrors, problems

T = TypeVar("T")


class UnknownNameError(LayerLabError, KeyError):
    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    loaded: T | None  # the object; None while a declared entry's module has not been imported
    description: str = ""
    config: Any = None  # a pydantic model class describing the entry's options, if it has any
    group: str = ""  # a family name for listings ("resnet" for resnet18, resnet34, ...)
    module: str = field(default="", compare=False)  # a declared entry: the module that registers its object

    @property
    def obj(self) -> T:
        """The registered object, importing the declaring module on first use."""
        if self.loaded is None and self.module:
            importlib.import_module(self.module)
        if self.loaded is None:
            raise LayerLabError(f"'{self.name}' is declared in {self.module or 'no module'}, which did not register it")
        return self.loaded


class Registry(Generic[T]):
    def __init__(self, kind: str, *, name_owners: bool = False):
        self.kind = kind
        # validate_section's message for a key of another entry: which entries have it (data sources,
        # tasks, whose options are few and distinct), rather than the chosen entry's keys (model families)
        self.name_owners = name_owners
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str, *, description: str = "", config: Any = None, group: str = ""
    ) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj, description=description, config=config, group=group)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, description: str = "", config: Any = None, group: str = "") -> None:
        declared = self._entries.get(name)
        if declared is not None and declared.loaded is None and config in (None, declared.config):
            object.__setattr__(declared, "loaded", obj)  # the object of a declared entry, its module loaded
            return
        if declared is not None:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = Entry(name, obj, description, config, group or name)

    def declare(self, name: str, module: str, *, config: Any, description: str = "", group: str = "") -> None:
        """``name`` with its config, its object to be registered by ``module`` (imported on first use)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = Entry(name, None, description, config, group or name, module)

    def remove(self, name: str) -> None:
        """Take ``name`` out again (a plug-in registered for a test); unknown names are an error."""
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        del self._entries[name]

    @contextmanager
    def registered(self, name: str, obj: T, **options: Any) -> Iterator[T]:
        """``add`` for the duration of a ``with`` block (tests that register a plug-in of their own)."""
        self.add(name, obj, **options)
        try:
            yield obj
        finally:
            self.remove(name)

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``; a name ``prefix:rest`` falls to the family registered as ``prefix:``."""
        found = self._find(name)
        if found is None:
            raise UnknownNameError(self.unknown_message(name))
        return found

    def _find(self, name: str) -> Entry[T] | None:
        """The entry of ``name``; on a miss, the installed plugins (entry points) are loaded once and it is looked for again."""
        found = self._entries.get(name) or self._prefix_family(name)
        if found is None:
            from layerlab.plugins import load_entry_points

            if load_entry_points():
                found = self._entries.get(name) or self._prefix_family(name)
        return found

    def _prefix_family(self, name: object) -> Entry[T] | None:
        # Open-ended families ("tv:" takes tv:resnet50, tv:vit_b_16, ...) register their prefix; the
        # family's config checks the rest of the name.
        prefix, sep, rest = str(name).partition(":")
        return self._entries.get(f"{prefix}:") if sep and rest else None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def unknown_message(self, name: object) -> str:
        hint = did_you_mean(str(name), self._entries)
        if not hint:
            hint = f"; known: {', '.join(sorted(self._entries))}"
        return f"{short(str(name))} is not a known {self.kind}{hint}"

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------------------------- recipe sections
    def validate_section(self, section: Any, path: str, *, default: str, saved: bool = False) -> Any:
        """A recipe section (``model:``, ``data:``, ``task:``) as its entry's config object.

        ``section["name"]`` (default ``default``) picks the entry; the other keys are checked against the
        entry's config class. ``saved`` (a recipe read back from a run directory, written when one class
        held every entry's options) drops keys that only other entries have and that hold those entries'
        default values. Raises ValueError whose lines say the key path, what was given and the closest
        match, or which other entries a key belongs to (``NestedErrors``, as the recipe reports them).
        """
        if not isinstance(section, Mapping):
            raise ValueError("@@expected a mapping with at least 'name'")
        name = section.get("name", default)
        if not isinstance(name, str):
            raise ValueError(f"@name@a {self.kind} name is a string, given {short(name)}")
        if name not in self:
            raise ValueError(f"@name@{self.unknown_message(name)}")
        config_cls = self.entry(name).config
        fields = {**section, "name": name}
        if saved:
            fields = {k: v for k, v in fields.items() if k in config_cls.model_fields or not self._a_default(k, v)}
        try:
            return config_cls.model_validate(fields)
        except ValidationError as exc:
            owners = (lambda key: self._owners(name, key)) if self.name_owners else None
            raise NestedErrors(problems(exc, path, config_cls, owners)) from None

    def _owners(self, name: str, key: str) -> str | None:
        owners = [e.name for e in self if e.config is not None and key in e.config.model_fields]
        return f"unknown key for {self.kind} '{name}' (an option of {', '.join(owners)})" if owners else None

    def _a_default(self, key: str, value: Any) -> bool:
        """Whether some entry has option ``key`` with ``value`` as its default."""
        for entry in self:
            field = getattr(entry.config, "model_fields", {}).get(key)
            if field is not None and field.get_default(call_default_factory=True) == value:
                return True
        return False
