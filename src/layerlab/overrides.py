"""Overrides of a raw recipe: ``train.epochs=3`` strings or ``{"train.epochs": 3}`` mappings."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from layerlab.errors import RecipeError


def apply_overrides(
    raw: dict[str, Any], overrides: Sequence[str] | Mapping[str, Any], label: str | None = None
) -> dict[str, Any]:
    """Set ``a.b.c=value`` keys in a raw recipe dict (a copy). Values are parsed as YAML."""
    raw = copy.deepcopy(raw)
    items: list[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = []
        for text in overrides:
            key, sep, value = str(text).partition("=")
            if not sep or not key.strip():
                raise RecipeError([f"override '{text}' is not of the form key.path=value (e.g. train.epochs=3)"], label)
            try:
                parsed = yaml.safe_load(value) if value.strip() else None
            except yaml.YAMLError:
                parsed = value
            items.append((key.strip(), parsed))
    for key, value in items:
        node = raw
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                path = ".".join(parts[: depth + 1])
                raise RecipeError([f"{key}: cannot set a key inside '{path}', which is {child!r}"], label)
            node = child
        node[parts[-1]] = value
    return raw
