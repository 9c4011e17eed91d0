"""``layerlab tune --nproc N``: each trial trains data-parallel in N processes, as ``layerlab run --nproc N``.

    result = train_on_ranks(recipe, Path("study/trials/0003"), nproc=2)

The trial's recipe is written beside its run directory (``trials/0003.yaml``) and trained by
``layerlab run trials/0003.yaml --out trials/0003 --quiet`` through torchrun (``train.launch``: the same
launcher, watcher and Ctrl-C handling as ``run --nproc``); the ranks' output goes to ``trials/0003.log``.
The trial learns its epochs from the finished run directory (``history.csv``, ``summary.json``), so a
search with ``--nproc`` cannot prune a trial part-way (``tune.pruner`` must be none) and extra trainer
callbacks cannot reach the ranks; both are refused before the study starts (``check_ranks``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab.errors import LayerLabError, TrainingError, UsageError
from layerlab.rundir import RunDir
from layerlab.train.state_io import atomic_write_text

if TYPE_CHECKING:
    from layerlab.recipe import Recipe
    from layerlab.runs import RunResult


def check_ranks(cfg: Recipe, nproc: int, *, callbacks: bool) -> None:
    """Refuse what a search whose trials train on ``nproc`` processes cannot do, naming the alternative."""
    from layerlab.train.launch import check_world

    if nproc < 1:
        raise UsageError(f"--nproc {nproc}: give 1 or more processes per trial")
    if nproc == 1:
        return
    if cfg.tune.pruner != "none":
        raise UsageError(f"tune.pruner: {cfg.tune.pruner} stops a trial part-way from its per-epoch metric, and a "
                         "trial on --nproc processes reports its epochs only when it ends; set tune.pruner: none "
                         "with --nproc, or prune with one process per trial (--workers runs trials side by side)")
    if callbacks:
        raise UsageError("extra trainer callbacks run in this process only, and --nproc trains each trial in "
                         "processes of its own; use nproc=1 with them")
    check_world(cfg.train, nproc)


def train_on_ranks(recipe: dict[str, Any], run_dir: Path, nproc: int) -> RunResult:
    """Train ``recipe`` into ``run_dir`` as ``nproc`` ranks; the finished run's result (``model`` None).
    Raises TrainingError when the run stopped on a non-finite loss, Interrupted after Ctrl-C, and
    LayerLabError naming the log for any other failure."""
    from layerlab import runs
    from layerlab.plugins import IMPORTED
    from layerlab.recipe import load_recipe
    from layerlab.train.launch import launch

    recipe_file, log_file = run_dir.with_suffix(".yaml"), run_dir.with_suffix(".log")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(recipe_file, load_recipe(recipe).to_yaml())
    argv = [*(f"--import={name}" for name in IMPORTED), "run", str(recipe_file), f"--out={run_dir}", "--quiet"]
    with log_file.open("w", encoding="utf-8") as log:
        code = launch(argv, nproc=nproc, log=log)
    rundir = RunDir(run_dir)
    summary = rundir.read_json(rundir.summary) if rundir.summary.is_file() else {}
    if code == 0 and summary:
        return runs.RunResult(run_dir, summary, rundir.read_history(), None)
    if summary.get("status") == "nan":
        raise TrainingError(f"{summary.get('stop_reason')}. Training stopped (trial run {run_dir})")
    if code in (130, 143):
        raise runs.Interrupted(f"interrupted; the trial's checkpoint is in {run_dir}")
    raise LayerLabError(f"trial run {run_dir}: its {nproc} processes exited with status {code}{_last_line(log_file)} "
                        f"(the whole output: {log_file})")


def _last_line(log_file: Path) -> str:
    lines = [line for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    shown = (errors or lines[-1:] or [""])[0].strip()
    return f": {shown}" if shown else ""
