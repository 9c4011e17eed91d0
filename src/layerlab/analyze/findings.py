"""Where ``layerlab explain`` and ``layerlab audit`` leave their findings in a run directory, and how
the report reads them back."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

EXPLAIN_DIR = "explain"
AUDIT_DIR = "audit"


def read_explanations(run_dir: Path) -> list[dict[str, Any]]:
    """Every explanation written into a run directory (``explain/index.json``)."""
    path = Path(run_dir) / EXPLAIN_DIR / "index.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def read_audits(run_dir: Path) -> list[dict[str, Any]]:
    """Every audit written into a run directory, as read from its JSON files."""
    folder = Path(run_dir) / AUDIT_DIR
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def audit_path(run_dir: Path, rule: str, suffix: str) -> Path:
    """The file of the audit by the group rule ``rule``: ``RUN/audit/<rule, made a file name><suffix>``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", rule).strip("_")[:60] or "groups"
    return Path(run_dir) / AUDIT_DIR / f"{name}{suffix}"
