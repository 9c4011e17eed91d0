"""Overrides of a raw recipe: ``train.epochs=3`` strings or ``{"train.epochs": 3}`` mappings."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from layerlab.errors import RecipeError, short
from layerlab.recipe_yaml import parse_yaml


def apply_overrides(
    raw: dict[str, Any], overrides: Sequence[str] | Mapping[str, Any], label: str | None = None
) -> dict[str, Any]:
    """Set ``a.b.c=value`` keys in a raw recipe dict (a copy). Values are parsed as YAML, as a recipe
    file's are (``1e9`` is a number); a value that YAML reads as a mapping only because it holds a
    colon (``model.name=tv:``) stays a string: a mapping is written ``{a: 1}``."""
    raw = copy.deepcopy(raw)
    for key, value in override_items(overrides, label):
        node = raw
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                path = ".".join(parts[: depth + 1])
                raise RecipeError([f"{key}: cannot set a key inside '{path}', which is {short(child)}"], label)
            node = child
        node[parts[-1]] = value
    return raw


def override_items(overrides: Sequence[str] | Mapping[str, Any], label: str | None = None) -> list[tuple[str, Any]]:
    """``(key path, value)`` of each override, the strings' values parsed."""
    if isinstance(overrides, Mapping):
        return [(str(key), value) for key, value in overrides.items()]
    items = []
    for text in overrides:
        key, sep, value = str(text).partition("=")
        if not sep or not key.strip():
            raise RecipeError([f"override {short(str(text))} is not of the form key.path=value (e.g. train.epochs=3)"], label)
        items.append((key.strip(), _parsed(value)))
    return items


def _parsed(value: str) -> Any:
    if not value.strip():
        return None
    try:
        parsed = parse_yaml(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, dict) and not value.lstrip().startswith("{"):
        return value
    return parsed
