"""The local run index: one small SQLite file beside the run directories, listed by ``layerlab runs``.

    runs/index.sqlite       every run whose directory is in runs/ (written when a run ends)
    runs/study/trials/index.sqlite

Each row holds what a listing needs (recipe, model, status, the monitored metric, the test metrics,
the flattened recipe) so that listing many runs reads no run directory. The run directory stays the
truth: ``rebuild_index`` registers every run found under a folder again from its files.

    rows = list_runs("runs", where=["model=mlp", "test.accuracy>0.9"], sort="test.accuracy")
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from layerlab.errors import UsageError, did_you_mean

INDEX_NAME = "index.sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS runs (path TEXT PRIMARY KEY, created REAL NOT NULL, record TEXT NOT NULL)"
_FILTER = re.compile(r"^\s*([\w.\-\[\]]+)\s*(<=|>=|!=|=|<|>|~)\s*(.*?)\s*$")
# Columns a listing shows first, in this order; metrics and recipe keys follow when asked for.
COLUMNS = ("run", "recipe", "model", "data", "status", "epochs", "params", "seconds", "monitor", "best")


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=60)  # parallel workers write to one index
    connection.execute(_SCHEMA)
    return connection


def run_record(run_dir: Path, recipe: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    """The index row of a finished run, from its resolved recipe (a dict) and its summary."""
    monitor = summary.get("monitor") or {}
    return {
        "path": str(run_dir.resolve()),
        "run": run_dir.name,
        "created": time.time(),
        "recipe": recipe.get("name"),
        "model": (recipe.get("model") or {}).get("name"),
        "data": (recipe.get("data") or {}).get("name"),
        "task": (recipe.get("task") or {}).get("name"),
        "status": summary.get("status"),
        "epochs": summary.get("epochs"),
        "params": summary.get("params"),
        "seconds": summary.get("seconds"),
        "monitor": monitor.get("metric"),
        "best": monitor.get("best"),
        "test": {k: v for k, v in (summary.get("test") or {}).items() if isinstance(v, (int, float))},
        "config": flatten({k: v for k, v in recipe.items() if k not in ("tune", "track")}),
    }


def register_run(run_dir: str | Path, recipe: Mapping[str, Any], summary: Mapping[str, Any]) -> Path:
    """Add (or replace) a run in the index of the folder that holds its directory; returns the index's path."""
    run_dir = Path(run_dir)
    record = run_record(run_dir, recipe, summary)
    index = run_dir.resolve().parent / INDEX_NAME
    with _connect(index) as connection:
        connection.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)",
                           (record["path"], record["created"], json.dumps(record, default=str)))
    connection.close()
    return index


def rebuild_index(root: str | Path) -> int:
    """Register every run directory under ``root`` (a folder with recipe.yaml and summary.json) again.

    For runs copied in from elsewhere, or made with ``track.index: false``. Returns how many.
    """
    import yaml

    count = 0
    for summary_path in sorted(Path(root).rglob("summary.json")):
        run_dir = summary_path.parent
        recipe_path = run_dir / "recipe.yaml"
        if not recipe_path.is_file():
            continue
        try:
            recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8")) or {}
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):
            continue
        register_run(run_dir, recipe, summary)
        count += 1
    return count


def read_index(root: str | Path) -> list[dict[str, Any]]:
    """Every run registered in ``root``'s index and in the indexes of the folders below it.

    Runs whose directory is gone are left out. ``run`` is the directory's path relative to ``root``.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder of runs")
    base = root.resolve()
    records: dict[str, dict[str, Any]] = {}
    for index in sorted(root.rglob(INDEX_NAME)):
        connection = _connect(index)
        try:
            rows = connection.execute("SELECT record FROM runs ORDER BY created").fetchall()
        finally:
            connection.close()
        for (text,) in rows:
            record = json.loads(text)
            path = Path(record["path"])
            if not path.is_dir():
                continue
            try:
                record["run"] = str(path.relative_to(base))
            except ValueError:
                record["run"] = str(path)
            records[record["path"]] = record
    return list(records.values())


def list_runs(root: str | Path = "runs", *, where: Sequence[str] = (), sort: str | None = None,
              descending: bool | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The runs under ``root``, filtered, sorted and cut to ``limit``.

    ``where`` holds conditions ``KEY OP VALUE`` with OP one of ``= != < <= > >= ~`` (``~``: contains),
    all of which must hold, e.g. ``model=mlp``, ``test.accuracy>=0.9``, ``train.lr<0.01``. KEY is a
    column (run, recipe, model, data, task, status, epochs, params, seconds, monitor, best), a test
    metric (``test.accuracy``) or a recipe key (``train.lr``). ``sort`` is such a key; metrics sort
    best first (losses ascending, the rest descending) unless ``descending`` says otherwise. Without
    ``sort`` the newest run comes first. Raises UsageError for a malformed condition or an unknown key.
    """
    records = read_index(root)
    known = sorted(_known_keys(records))
    for condition in where:
        key, op, text = _parse_condition(condition)
        _check_key(key, known, records, what=f"--where '{condition}'")
        records = [r for r in records if _holds(lookup(r, key), op, text)]
    if sort is None:
        records.sort(key=lambda r: r.get("created") or 0, reverse=True if descending is None else descending)
    else:
        _check_key(sort, known, records, what="--sort")
        if descending is None:
            from layerlab.train.callbacks import metric_mode

            descending = metric_mode(sort.split(".")[-1]) == "max" and sort not in ("run", "recipe", "model", "data")
        present = [r for r in records if _sortable(lookup(r, sort))]
        missing = [r for r in records if not _sortable(lookup(r, sort))]
        present.sort(key=lambda r: _sort_key(lookup(r, sort)), reverse=descending)
        records = present + missing
    return records[:limit] if limit is not None else records


def lookup(record: Mapping[str, Any], key: str) -> Any:
    """A record's value for a column, a ``test.`` metric or a recipe key; None when it has none."""
    if key in record and not isinstance(record[key], dict):
        return record[key]
    if key.startswith("test.") and key[5:] in (record.get("test") or {}):
        return record["test"][key[5:]]
    return (record.get("config") or {}).get(key)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` as ``{"train.lr": 0.1}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _known_keys(records: Iterable[Mapping[str, Any]]) -> set[str]:
    keys = set(COLUMNS) | {"task", "created", "path"}
    for record in records:
        keys |= {f"test.{k}" for k in record.get("test") or {}}
        keys |= set(record.get("config") or {})
    return keys


def _check_key(key: str, known: list[str], records: list[dict[str, Any]], *, what: str) -> None:
    if records and key not in known:
        raise UsageError(f"{what}: '{key}' is not a column, test metric or recipe key of these runs"
                         f"{did_you_mean(key, known)}")


def _parse_condition(condition: str) -> tuple[str, str, str]:
    match = _FILTER.match(condition)
    if match is None or not match.group(3):
        raise UsageError(f"--where '{condition}': expected KEY OP VALUE with OP one of = != < <= > >= ~ "
                         "(e.g. model=mlp, test.accuracy>0.9)")
    return match.group(1), match.group(2), match.group(3)


def _holds(value: Any, op: str, text: str) -> bool:
    if value is None:
        return op == "!="
    if op == "~":
        return text.lower() in str(value).lower()
    wanted = _parse_value(text)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(wanted, (int, float)):
        a, b = float(value), float(wanted)
    else:
        a, b = _text(value), _text(wanted)
        if op not in ("=", "!="):
            return False
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)


def _sortable(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, _text(value))
