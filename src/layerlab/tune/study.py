"""``layerlab tune``: a hyperparameter search over a recipe's ``tune.space``, as an Optuna study.

    result = tune("recipe.yaml", trials=30, workers=2)                  # local, SQLite in the study folder
    result = tune("recipe.yaml", storage="postgresql://u:p@db/optuna",  # the same on every machine
                  study="fashion-lr")

The study's folder (``--out``, default ``runs/<recipe>-tune-<time>``) holds the default SQLite
storage, one normal run directory per trial (``trials/0007``), and at the end the best recipe
(``best.yaml``), the leaderboard (``leaderboard.csv``), ``study.json`` and the plots. Calling ``tune``
again on the same folder (or storage and study) continues the study: ``tune.trials`` counts the
trials of every call, so an interrupted study runs only what is left.

Several workers, local processes or other machines, share one study through its storage. Each
worker checks the count before it starts a trial, so with N workers the study may end up to N - 1
trials past the target, as Optuna's own ``n_trials`` does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab.errors import LayerLabError, TrainingError, UsageError
from layerlab.recipe import Recipe, load_recipe
from layerlab.runs import Interrupted
from layerlab.tune.objective import Objective
from layerlab.tune.ranks import check_ranks
from layerlab.tune.results import TuneResult, write_results
from layerlab.tune.space import parse_space
from layerlab.tune.strategies import make_pruner, make_sampler, make_storage, redact

if TYPE_CHECKING:
    import optuna
    from rich.console import Console

    from layerlab.train.callbacks import Callback

log = logging.getLogger(__name__)

STUDY_DB = "study.db"
POLL_SECONDS = 1.0  # how often the live table of a parallel search looks at the storage
FINGERPRINT_ATTR = "layerlab.recipe"


def tune(
    recipe: str | Path | Mapping[str, Any] | Recipe,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    strategy: str | None = None,
    trials: int | None = None,
    timeout: str | float | None = None,
    workers: int = 1,
    storage: str | None = None,
    study: str | None = None,
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    console: Console | None = None,
    callbacks: Sequence[Callback] = (), nproc: int = 1,
) -> TuneResult:
    """Search ``recipe.tune.space``; returns the best trial, the leaderboard and where all was written.

    ``strategy``, ``trials`` and ``timeout`` override ``tune.*``. ``workers`` local processes share the
    study (``callbacks``, extra trainer callbacks for every trial, need ``workers=1``). ``storage`` is a
    database URL shared by workers on many machines, with ``study`` its name in there (default: the
    recipe's name); else it is ``out/study.db``. ``console`` shows a live table. ``nproc``: processes per trial
    (torchrun; tune.ranks). Raises RecipeError for a bad recipe or space, UsageError for bad arguments or an
    unreachable storage, Interrupted (exit 130) after Ctrl-C, with the results so far written.
    """
    started = time.perf_counter()
    extra = {k: v for k, v in (("tune.strategy", strategy), ("tune.trials", trials), ("tune.timeout", timeout))
             if v is not None}
    cfg = _searchable(load_recipe(recipe, _merged(overrides, extra)), workers=workers, callbacks=callbacks, nproc=nproc)
    metric, direction = resolve_objective(cfg)
    study_name = study or cfg.name
    study_dir = Path(out) if out is not None else _new_study_dir(Path(runs_root), cfg.name, study)
    study_dir.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(study_dir / STUDY_DB).resolve().as_posix()}"
    (study_dir / "recipe.yaml").write_text(cfg.to_yaml(), encoding="utf-8")

    target, grid = _target(cfg)
    spec = WorkerSpec(recipe=cfg.to_dict(), url=url, study=study_name, study_dir=str(study_dir), target=target,
                      deadline=None, grid=grid, metric=metric, direction=direction, workers=workers,
                      shared_storage=storage is not None, nproc=nproc)
    with _quiet_optuna():
        optuna_study = open_study(cfg, spec, worker_index=0)
        # the time budget starts once the study is open, when the first trial can start
        deadline = spec.deadline = None if cfg.tune.timeout is None else time.time() + cfg.tune.timeout_seconds
        from layerlab.tune.live import LiveTable

        live = LiveTable(console, optuna_study, metric=metric, direction=direction, target=target)
        try:
            with live:
                if workers == 1:
                    objective = spec.objective(worker_index=0, callbacks=callbacks, on_epoch=live.refresh)
                    work(optuna_study, objective, target=target, deadline=deadline, grid=grid, on_trial=live.refresh)
                else:
                    _run_workers(spec, live)
        except (KeyboardInterrupt, Interrupted) as exc:
            write_results(optuna_study, cfg, study_dir, metric=metric, direction=direction)
            raise Interrupted(f"interrupted; the study keeps its {_count(optuna_study)} trials. Continue with: "
                              f"layerlab tune {_resume_hint(study_dir, storage, study_name)}") from exc
        result = write_results(optuna_study, cfg, study_dir, metric=metric, direction=direction)
    result.seconds = time.perf_counter() - started
    return result


def _searchable(cfg: Recipe, *, workers: int, callbacks: Sequence[Callback], nproc: int = 1) -> Recipe:
    """``cfg``, once it has a space to search and the workers (and ``nproc`` per trial) fit; UsageError otherwise."""
    if not cfg.tune.space:
        raise UsageError("the recipe has no tune.space to search; add one, e.g.\n"
                         "  tune:\n    space:\n      train.lr: {log_uniform: [1.0e-4, 1.0e-1]}")
    if workers < 1:
        raise UsageError(f"--workers: needs at least 1, given {workers}")
    if workers > 1 and callbacks:
        raise UsageError("extra trainer callbacks run in this process only; use workers=1 with them")
    check_ranks(cfg, nproc, callbacks=bool(callbacks))
    return cfg


# ------------------------------------------------------------------------------ the objective
def resolve_objective(cfg: Recipe) -> tuple[str, str]:
    """The metric a search optimises and its direction ("maximize" or "minimize")."""
    from layerlab.tasks import TASKS
    from layerlab.train.callbacks import metric_mode

    metric = cfg.tune.metric
    if metric == "auto":
        metric = cfg.train.monitor if cfg.train.monitor != "auto" else TASKS.get(cfg.task.name).monitor[0]
    if metric.startswith("val_") and cfg.data.val_fraction == 0:
        raise UsageError(f"tune.metric: {metric} needs a validation split; set data.val_fraction above 0")
    direction = cfg.tune.direction
    if direction == "auto":
        direction = "maximize" if metric_mode(metric) == "max" else "minimize"
    return metric, direction


# --------------------------------------------------------------------------------- the study
@dataclass
class WorkerSpec:
    """Everything a worker process needs to join the study: plain data, sent to spawned processes."""

    recipe: dict[str, Any]
    url: str
    study: str
    study_dir: str
    target: int | None
    deadline: float | None
    grid: list[dict[str, Any]] | None
    metric: str
    direction: str
    workers: int
    shared_storage: bool
    nproc: int = 1  # processes per trial (tune --nproc)

    def seed(self, worker_index: int, base: int) -> int:
        """Workers must not draw the same random trials: each gets its own seed (machines: by host and pid)."""
        if not self.shared_storage:
            return base + worker_index
        return base + worker_index + zlib.crc32(f"{socket.gethostname()}:{os.getpid()}".encode()) % 1_000_000

    def objective(self, *, worker_index: int, callbacks: Sequence[Callback] = (),
                  on_epoch: Callable[[], None] | None = None) -> Objective:
        base = {k: v for k, v in self.recipe.items() if k != "tune"}
        train = dict(base["train"])
        train["report"] = False  # trials skip the HTML report; `layerlab run best.yaml` makes one
        if (self.workers > 1 or self.nproc > 1) and train.get("threads") is None:  # the cores shared out
            train["threads"] = max(1, (os.cpu_count() or 1) // (self.workers * self.nproc))
        if train.get("monitor", "auto") == "auto":
            train["monitor"] = self.metric  # the kept weights are those of the epoch the trial is scored by
        base["train"] = train
        return Objective(base=base, space_raw=self.recipe["tune"]["space"], metric=self.metric,
                         direction=self.direction, trials_dir=Path(self.study_dir) / "trials",
                         callbacks=callbacks, on_epoch=on_epoch, nproc=self.nproc)


def open_study(cfg: Recipe, spec: WorkerSpec, *, worker_index: int) -> optuna.Study:
    """Create the study, or load it and check that it was started with the same recipe."""
    import optuna

    storage = make_storage(spec.url)
    sampler = make_sampler(cfg.tune, spec.seed(worker_index, cfg.tune.seed))
    pruner = make_pruner(cfg.tune, cfg.train.epochs)
    study = optuna.create_study(storage=storage, study_name=spec.study, direction=spec.direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    mine = fingerprint(cfg)
    theirs = study.user_attrs.get(FINGERPRINT_ATTR)
    if theirs is None:
        study.set_user_attr(FINGERPRINT_ATTR, mine)
        study.set_user_attr("layerlab.metric", spec.metric)
    else:
        changed = [k for k in sorted(set(mine) & set(theirs)) if mine[k] != theirs[k]]
        if changed:
            shown = ", ".join(f"{k} ({theirs[k]} -> {mine[k]})" for k in changed[:4])
            raise UsageError(f"study '{spec.study}' in {redact(spec.url)} was started with another recipe: {shown}"
                             f"{' ...' if len(changed) > 4 else ''}; use a new --out or --study")
    return study


def fingerprint(cfg: Recipe) -> dict[str, str]:
    """What must be equal for trials to belong to one study: the recipe, less what may change on resume."""
    import json

    from layerlab.track.index import flatten

    raw = cfg.to_dict()
    raw.pop("track", None)
    raw["train"].pop("threads", None)
    for key in ("trials", "timeout", "seed"):
        raw["tune"].pop(key, None)
    return {k: json.dumps(v, sort_keys=True) for k, v in flatten(raw).items()}


def _target(cfg: Recipe) -> tuple[int | None, list[dict[str, Any]] | None]:
    if cfg.tune.strategy != "grid":
        return cfg.tune.trials, None
    grid = parse_space(cfg.tune.space).grid()
    return min(cfg.tune.trials or len(grid), len(grid)), grid


# ------------------------------------------------------------------------------ the worker loop
def work(study: optuna.Study, objective: Objective, *, target: int | None, deadline: float | None,
         grid: list[dict[str, Any]] | None, on_trial: Callable[[], None] | None = None) -> None:
    """Run trials until the study has ``target`` of them, the deadline passes or the grid is done."""
    while True:
        trials = study.get_trials(deepcopy=False)
        if target is not None and _counted(trials) >= target:
            return
        if deadline is not None and time.time() >= deadline:
            return
        if grid is not None:
            point = _next_grid_point(trials, len(grid))
            if point is None:
                return
            study.enqueue_trial(grid[point], user_attrs={"grid_point": point})
        study.optimize(objective, n_trials=1, catch=(TrainingError,), gc_after_trial=False)
        if on_trial is not None:
            on_trial()


def _counts(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trial counts toward the target: done, running or queued, or failed by its own recipe
    (not by an interruption or a killed worker: those are run again)."""
    from optuna.trial import TrialState

    if trial.state == TrialState.FAIL:
        return "error" in trial.user_attrs
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def _counted(trials: Sequence[optuna.trial.FrozenTrial]) -> int:
    return sum(_counts(t) for t in trials)


def _count(study: optuna.Study) -> int:
    return _counted(study.get_trials(deepcopy=False))


def _next_grid_point(trials: Sequence[optuna.trial.FrozenTrial], size: int) -> int | None:
    taken = {t.user_attrs["grid_point"] for t in trials if "grid_point" in t.user_attrs and _counts(t)}
    free = [i for i in range(size) if i not in taken]
    return free[0] if free else None


# ---------------------------------------------------------------------------- worker processes
def _run_workers(spec: WorkerSpec, live: Any) -> None:
    import multiprocessing
    import signal

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch or DB state
    queue = context.Queue()
    processes = [context.Process(target=worker_main, args=(spec, i, queue), name=f"layerlab-tune-{i}")
                 for i in range(spec.workers)]
    for process in processes:
        process.start()
    try:
        while any(p.is_alive() for p in processes):
            live.refresh()
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        # Ctrl-C at a terminal reaches the workers too: each finishes its step, keeps its run's
        # checkpoint and stops. Those still running a little later did not hear it; tell them once.
        for process in processes:
            process.join(timeout=10)
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGINT)
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()
        raise
    for process in processes:
        process.join()
    messages = []
    while not queue.empty():
        messages.append(queue.get())
    errors = [text for kind, text in messages if kind == "error"]
    if errors:
        raise LayerLabError(errors[0])
    if any(kind == "interrupted" for kind, _ in messages):
        raise Interrupted("a worker was interrupted")
    if len(messages) < len(processes):
        codes = [p.exitcode for p in processes]
        raise LayerLabError(f"a tune worker ended without a word (exit codes {codes}); see its output above")


def worker_main(spec: WorkerSpec, worker_index: int, queue: Any) -> None:
    """The body of a worker process: join the study and run trials until the shared count is reached."""
    try:
        cfg = load_recipe(spec.recipe)
        with _quiet_optuna():
            study = open_study(cfg, spec, worker_index=worker_index)
            work(study, spec.objective(worker_index=worker_index), target=spec.target, deadline=spec.deadline,
                 grid=spec.grid)
        queue.put(("ok", ""))
    except (KeyboardInterrupt, Interrupted):
        queue.put(("interrupted", ""))
    except LayerLabError as exc:
        queue.put(("error", str(exc)))


# ------------------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial at INFO and warns of experimental features; the live table says it better."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(before)


def _merged(overrides: Sequence[str] | Mapping[str, Any], extra: dict[str, Any]) -> Sequence[str] | Mapping[str, Any]:
    if not extra:
        return overrides
    if isinstance(overrides, Mapping):
        return {**overrides, **extra}
    import json

    return [*overrides, *(f"{k}={json.dumps(v)}" for k, v in extra.items())]


def _new_study_dir(root: Path, name: str, study: str | None) -> Path:
    if study is not None:
        return root / study  # a named study (shared storage) keeps one folder, so a second call continues it
    from layerlab.rundir import stamped_path

    return stamped_path(root, f"{name}-tune")


def _resume_hint(study_dir: Path, storage: str | None, study: str) -> str:
    where = f" --storage {redact(storage)} --study {study}" if storage else ""
    return f"{study_dir / 'recipe.yaml'} --out {study_dir}{where}"
