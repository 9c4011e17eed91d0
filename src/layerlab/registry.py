"""One small name → builder registry, used by data sources, models and tasks.

Registering a name twice is an error; an unknown name lists the known ones and the closest match.

    MODELS = Registry("model")

    @MODELS.register("mlp", config=MLPConfig, description="Fully connected network")
    def build_mlp(cfg, input_shape, num_outputs): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from layerlab.errors import LayerLabError, did_you_mean

T = TypeVar("T")


class UnknownNameError(LayerLabError, KeyError):
    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    description: str = ""
    config: Any = None  # a pydantic model class describing the entry's options, if it has any
    group: str = ""  # a family name for listings ("resnet" for resnet18, resnet34, ...)


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self, name: str, *, description: str = "", config: Any = None, group: str = ""
    ) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            self.add(name, obj, description=description, config=config, group=group)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, description: str = "", config: Any = None, group: str = "") -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = Entry(name, obj, description, config, group or name)

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``; a name ``prefix:rest`` falls to the family registered as ``prefix:``."""
        found = self._entries.get(name) or self._prefix_family(name)
        if found is None:
            raise UnknownNameError(self.unknown_message(name))
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
        return f"'{name}' is not a known {self.kind}{hint}"

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or self._prefix_family(name) is not None

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
