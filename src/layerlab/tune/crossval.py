"""``layerlab cv``: k-fold cross-validation of a recipe, the test metrics' mean and spread over the folds.

    cross_validate("polarity-cnn", folds=10)        # ten runs, each tested on its own tenth of the data

Fold i is an ordinary run of the recipe with ``data.folds=k data.fold=i``: the data is cut into k
seeded, stratified folds, fold i is the test part and the rest is split into training and validation as
the recipe says. Every example is tested on exactly once. The folder holds the k run directories,
``cv.csv`` (a row per fold) and ``cv.json`` (mean, standard deviation and standard error of each test
metric). A fold whose run finished is read, not trained again, so an interrupted cross-validation
continues where it stopped when called again with the same folder. ``only`` trains and summarises some
of the folds (a cheap first look at a variant); a later call without it adds the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab import runs
from layerlab.errors import UsageError
from layerlab.recipe import load_recipe
from layerlab.rundir import RUN_MARKERS, RunDir
from layerlab.track.index import flatten
from layerlab.train.state_io import atomic_write_text
from layerlab.tune.comparison import _as_mapping, _row, _write_csv

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class CrossValResult:
    out: Path
    folds: int
    rows: list[dict[str, Any]]  # one per fold run here, as `layerlab compare` gives them
    folds_run: list[int]  # the folds of rows (all of 0..folds-1 unless ``only`` chose some)
    stats: dict[str, dict[str, float]]  # test metric -> mean, std, sem, min, max
    csv_path: Path
    json_path: Path


def cross_validate(
    recipe: str | Path,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    folds: int = 10,
    out: str | Path | None = None,
    only: Sequence[int] | None = None,
    runs_root: str | Path = "runs",
    console: Console | None = None,
) -> CrossValResult:
    """Train ``recipe`` (with ``overrides``) once per fold (or per fold in ``only``) and summarise the test
    metrics over those folds.

    Raises UsageError for fewer than two folds, folds in ``only`` outside 0..folds-1, or overrides that
    choose the folds themselves; the data's own errors (a source with its own test split, ordered data)
    come from the first fold's run.
    """
    if folds < 2:
        raise UsageError(f"--folds: cross-validation needs at least 2 folds, given {folds}")
    chosen_folds = sorted(set(only)) if only is not None else list(range(folds))
    outside = [f for f in chosen_folds if not 0 <= f < folds]
    if outside or not chosen_folds:
        raise UsageError(f"--only: folds are numbered 0 to {folds - 1} here, given {list(only or [])}")
    extra = _as_mapping(overrides)
    chosen = sorted(k for k in extra if k in ("data.folds", "data.fold"))
    if chosen:
        raise UsageError(f"cross-validation sets {', '.join(chosen)} itself; give the number of folds with --folds")
    folder = Path(out) if out is not None else _new_folder(Path(runs_root), Path(str(recipe)).stem)
    folder.mkdir(parents=True, exist_ok=True)
    run_dirs = []
    for fold in chosen_folds:
        target = RunDir(folder / f"fold-{fold:02d}")
        fold_overrides = {**extra, "data.folds": folds, "data.fold": fold}
        state = _fold_state(target, load_recipe(recipe, fold_overrides).to_dict())
        if console is not None:
            said = {"finished": "finished earlier, read", "interrupted": "interrupted earlier, resumed"}
            console.print(f"[bold]fold {fold + 1}/{folds}[/] {said.get(state, '→')} {target.path}")
        if state == "interrupted":
            runs.run(resume=target.path, console=console)
        elif state == "new":
            _clear_unfinished(target)
            runs.run(recipe, fold_overrides, out=target.path, console=console)
        run_dirs.append(target.path)
    rows = [_row(d) for d in run_dirs]
    metrics = list(dict.fromkeys(k for row in rows for k in row["test"]))
    stats = {m: _stats([row["test"][m] for row in rows if m in row["test"]]) for m in metrics}
    csv_path, json_path = folder / "cv.csv", folder / "cv.json"
    _write_csv(rows, csv_path)
    atomic_write_text(json_path, json.dumps({"recipe": str(recipe), "overrides": extra, "folds": folds,
                                             "folds_run": chosen_folds, "test": stats,
                                             "runs": [r["path"] for r in rows]}, indent=2) + "\n")
    return CrossValResult(folder, folds, rows, chosen_folds, stats, csv_path, json_path)


def _fold_state(run: RunDir, expected: dict[str, Any]) -> str:
    """"finished" (read it), "interrupted" (resume it) or "new" (train it) for this fold's directory.

    Raises UsageError when the directory holds a run of another recipe, fold or number of folds than
    ``expected`` (the fold's whole recipe), so that no other run's result is taken for this one's.
    """
    if not run.recipe.is_file():
        return "new"
    import yaml

    try:
        saved = yaml.safe_load(run.recipe.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{run.recipe}: cannot be read ({exc}); give another --out folder") from None
    want, have = flatten(expected), flatten(saved)
    differ = [key for key in dict.fromkeys([*want, *have]) if want.get(key) != have.get(key)]
    if differ:
        shown = ", ".join(f"{key}: {want.get(key)!r} here, {have.get(key)!r} there" for key in differ[:3])
        raise UsageError(f"{run.path} holds a run of another recipe ({shown}); give another --out folder")
    try:
        status = json.loads(run.summary.read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError):
        status = None
    if status in ("finished", "stopped"):
        return "finished"
    return "interrupted" if run.checkpoint.is_file() else "new"


def _clear_unfinished(run: RunDir) -> None:
    """A fold of this recipe stopped before its first checkpoint (killed early) left files but nothing to
    resume from: remove what it wrote, so that the fold trains afresh in its own folder."""
    import shutil

    for name in RUN_MARKERS:
        path = run.path / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _stats(values: list[float]) -> dict[str, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "sem": std / math.sqrt(n), "min": min(values), "max": max(values), "n": n}


def _new_folder(root: Path, name: str) -> Path:
    from layerlab.rundir import stamped_path

    return stamped_path(root, f"{name}-cv")


def ensemble_folds(folders: Sequence[str | Path], *, device: str = "auto") -> dict[str, Any]:
    """The ensemble of cross-validations fold by fold: fold i's runs of every folder, their averaged class
    probabilities on fold i's test part. Returns ``{"folds", "test" (stats over the folds), "per_fold"}``.

    Raises UsageError unless every folder holds the same folds (``fold-00`` ... of one ``layerlab cv``).
    """
    if len(folders) < 2:
        raise UsageError(f"an ensemble needs at least two cross-validation folders, given {len(folders)}")
    names = [sorted(p.name for p in Path(f).glob("fold-*") if p.is_dir()) for f in folders]
    if not names[0]:
        raise UsageError(f"{folders[0]}: no fold-NN run directories; give folders written by `layerlab cv`")
    for folder, found in zip(folders[1:], names[1:]):
        if found != names[0]:
            raise UsageError(f"{folder} holds {len(found)} folds, {folders[0]} {len(names[0])}; an ensemble of "
                             "cross-validations needs the same folds in every folder")
    per_fold = [runs.evaluate_ensemble([Path(f) / name for f in folders], device=device)["metrics"]
                for name in names[0]]
    stats = {m: _stats([fold[m] for fold in per_fold]) for m in per_fold[0]}
    return {"folds": len(per_fold), "test": stats, "per_fold": per_fold}
