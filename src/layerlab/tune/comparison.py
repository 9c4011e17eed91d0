"""``layerlab compare``: runs side by side, or recipes trained under one fair budget and then compared.

    compare(["runs/a", "runs/b"])                                   # runs as they are
    compare(["fashion-mlp", "fashion-cnn"], epochs=3)               # same number of epochs
    compare(["fashion-mlp", "fashion-cnn"], budget="5m")            # same wall-clock budget each

Under a budget each recipe trains until its epochs are done or ``train.max_seconds`` (the budget) is
spent, whichever comes first; give ``epochs`` too to make both the same. Every recipe gets the same
seed. The comparison's folder holds the trained runs, ``compare.csv`` and ``curves.png``: the
training loss and the monitored validation metric of every run, against epochs and against time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab import runs
from layerlab.errors import UsageError
from layerlab.rundir import RunDir
from layerlab.train.state_io import atomic_write_text
from layerlab.tune.config import parse_duration

if TYPE_CHECKING:
    from rich.console import Console

COLUMNS = ("run", "recipe", "model", "params", "epochs", "seconds", "examples/s", "best")


@dataclass
class CompareResult:
    out: Path
    rows: list[dict[str, Any]]
    curves_png: Path | None
    csv_path: Path
    histories: dict[str, list[dict[str, float]]] = field(default_factory=dict)


def compare(
    items: Sequence[str | Path],
    *,
    epochs: int | None = None,
    budget: str | float | None = None,
    seed: int | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    console: Console | None = None,
) -> CompareResult:
    """Compare run directories and recipes (trained first, under one budget); returns the table's rows.

    An item that is a run directory (it has summary.json) is read as it is; any other is a recipe (a
    file or a built-in name), trained with ``overrides`` and the fair budget: ``epochs`` (all the
    same), ``budget`` (the same wall-clock time each: seconds or '90s', '5m'), ``seed`` (default:
    the same for all, 0). Raises UsageError for an empty list or a budget given with runs only.
    """
    if not items:
        raise UsageError("compare needs at least one run directory or recipe")
    is_run = [(Path(i) / "summary.json").is_file() for i in items]
    if all(is_run) and (epochs is not None or budget is not None or overrides):
        raise UsageError("--epochs, --budget and --set apply to recipes; run directories are compared as they are")
    if epochs is not None and epochs < 1:
        raise UsageError(f"--epochs: needs at least 1, given {epochs}")
    fair: dict[str, Any] = {"train.seed": 0 if seed is None else seed}
    if epochs is not None:
        fair["train.epochs"] = epochs
    if budget is not None:
        try:
            fair["train.max_seconds"] = parse_duration(budget)
        except ValueError as exc:
            raise UsageError(f"--budget: {exc}") from None
    extra = _as_mapping(overrides)
    from layerlab.recipe import load_recipe

    for item, run in zip(items, is_run):  # every recipe checked before any folder exists: no empty ones left
        if not run:
            load_recipe(item, {**extra, **fair})
    folder = Path(out) if out is not None else _new_folder(Path(runs_root))
    folder.mkdir(parents=True, exist_ok=True)
    run_dirs: list[Path] = []
    for n, (item, run) in enumerate(zip(items, is_run)):
        if run:
            run_dirs.append(Path(item))
            continue
        target = folder / f"{n:02d}-{Path(str(item)).stem}"
        if console is not None:
            console.print(f"[bold]{item}[/] → {target}")
        result = runs.run(item, {**extra, **fair}, out=target, console=console)
        run_dirs.append(result.run_dir)
    rows = [_row(d) for d in run_dirs]
    histories = {row["run"]: RunDir(Path(row["path"])).read_history() for row in rows}
    csv_path = folder / "compare.csv"
    _write_csv(rows, csv_path)
    from layerlab.tune.comparison_plot import plot_curves

    curves = plot_curves(histories, {row["run"]: row["monitor"] for row in rows}, folder / "curves.png")
    return CompareResult(folder, rows, curves, csv_path, histories)


def _row(run_dir: Path) -> dict[str, Any]:
    run = RunDir.open(run_dir, need=("recipe", "summary", "history"))
    summary = run.read_json(run.summary)
    history = run.read_history()
    import yaml

    recipe = yaml.safe_load(run.recipe.read_text(encoding="utf-8")) or {}
    speeds = [r["examples_per_second"] for r in history if "examples_per_second" in r and not r.get("partial")]
    monitor = summary.get("monitor") or {}
    return {
        "run": run.path.name,
        "path": str(run.path),
        "recipe": summary.get("recipe") or recipe.get("name"),
        "model": (recipe.get("model") or {}).get("name"),
        "params": summary.get("params"),
        "epochs": summary.get("epochs"),
        "seconds": summary.get("train_seconds", summary.get("seconds")),
        "examples/s": sum(speeds) / len(speeds) if speeds else None,
        "monitor": monitor.get("metric"),
        "best": monitor.get("best"),
        "status": summary.get("status"),
        "test": {k: v for k, v in (summary.get("test") or {}).items() if isinstance(v, (int, float))},
    }


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    metrics = list(dict.fromkeys(k for row in rows for k in row["test"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*COLUMNS, "monitor", *(f"test_{m}" for m in metrics), "status", "path"])
    for row in rows:
        writer.writerow([row[c] for c in COLUMNS] + [row["monitor"]] + [row["test"].get(m, "") for m in metrics]
                        + [row["status"], row["path"]])
    atomic_write_text(path, buffer.getvalue())


def _as_mapping(overrides: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(overrides, Mapping):
        return dict(overrides)
    from layerlab.recipe import apply_overrides
    from layerlab.track.index import flatten

    return flatten(apply_overrides({}, overrides)) if overrides else {}


def _new_folder(root: Path) -> Path:
    from layerlab.rundir import stamped_path

    return stamped_path(root, "compare")


def rows_as_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2, default=str)
