"""Built-in recipes: YAML files shipped in this folder, listed by ``layerlab recipes``."""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).parent
DEFAULT = "digits-cnn"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def builtin_path(name: str) -> Path | None:
    path = HERE / f"{name}.yaml"
    return path if path.is_file() else None


def builtin_description(name: str) -> str:
    path = builtin_path(name)
    if path is None:
        return ""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return str(raw.get("description", ""))
