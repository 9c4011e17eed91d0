"""The run report: one self-contained HTML page (``report.html``) plus its PNGs (``report/``).

    layerlab report runs/fashion-cnn-...        # or: layerlab.analyze.report.report(run_dir)

Sections every run gets: the recipe, the data (sizes, class balance, sample inputs), training (the
learning curves and the learning rate), gradients and activations (``train.diagnostics``), and the
test metrics. A task adds its own sections through ``SECTIONS``, keyed by the task's name; the
classification and regression ones live in ``layerlab.analyze.sections``:

    @SECTIONS.register("language_model", description="generated samples")
    def language_model_sections(ctx: ReportContext) -> list[Section]:
        text = ctx.task.generate(ctx.model, preprocessor=ctx.preprocessor, device=ctx.device, tokens=300)
        return [Section("Samples", [html.preformatted(text["text"])])]

A section function gets the ``ReportContext`` (the run, its model, task, data and outputs) and
returns sections made of ``layerlab.analyze.html`` fragments; it writes its PNGs with
``ctx.png(name)``. One that fails is replaced by a section saying why, so the rest of the report
still appears.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from layerlab.analyze import html
from layerlab.data import DataInfo, Dataset, Preprocessor
from layerlab.models.inference import predict_outputs
from layerlab.recipe import Recipe
from layerlab.registry import Registry
from layerlab.rundir import RunDir
from layerlab.tasks import Task

log = logging.getLogger(__name__)

REPORT_HTML = "report.html"
REPORT_DIR = "report"
SAMPLES = 16  # sample inputs shown per report


@dataclass
class Section:
    title: str
    parts: list[str]  # HTML fragments from layerlab.analyze.html


@dataclass
class ReportContext:
    """All a section may draw on. ``outputs`` are the model's outputs on the test split (computed once)."""

    run: RunDir
    recipe: Recipe
    task: Task
    model: nn.Module
    info: DataInfo
    preprocessor: Preprocessor
    data: Dataset | None
    device: torch.device
    summary: dict[str, Any]
    history: list[dict[str, float]]
    beside: dict[str, Path] = field(default_factory=dict)  # other runs whose gradient flow is drawn beside this one's
    _outputs: torch.Tensor | None = field(default=None, repr=False)

    @property
    def out_dir(self) -> Path:
        return self.run.path / REPORT_DIR

    def png(self, name: str) -> Path:
        """Where a section writes its PNG ``name`` (``report/<name>.png``)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return self.out_dir / f"{name}.png"

    def test_outputs(self) -> torch.Tensor | None:
        """The model's outputs on the test split (float32, CPU), or None without test data."""
        if self._outputs is None and self.data is not None and len(self.data.test):
            x = self.data.test.x.to(self.device)
            self._outputs = predict_outputs(self.model, x, batch_size=self.recipe.train.eval_batch_size).cpu()
        return self._outputs


SectionBuilder = Callable[[ReportContext], list[Section]]
SECTIONS: Registry[SectionBuilder] = Registry("report section")


# ---------------------------------------------------------------------------------------- public
def write_report(ctx: ReportContext) -> Path:
    """Build every section and write ``report.html``; returns its path."""
    from layerlab.analyze import sections as _builtin  # noqa: F401 (registers the built-in sections)
    from layerlab.analyze.common_sections import common_sections

    started = time.perf_counter()
    head, tail = common_sections(ctx)
    sections = [s for build in head for s in _safely("the run", build)]
    if ctx.task.name in SECTIONS:
        sections += _safely(ctx.task.name, lambda: SECTIONS.get(ctx.task.name)(ctx))
    sections += [s for build in tail for s in _safely("the run", build)]
    subtitle = (f"{ctx.recipe.model['name']} on {ctx.info.name} · {ctx.task.name} · "
                f"status {ctx.summary.get('status', '?')} · written {time.strftime('%Y-%m-%d %H:%M')}")
    page = html.page(f"LayerLab report: {ctx.run.path.name}", subtitle, [(s.title, s.parts) for s in sections])
    path = ctx.run.path / REPORT_HTML
    from layerlab.train.state_io import atomic_write_text

    atomic_write_text(path, page)
    log.info("report written to %s in %.1f s", path, time.perf_counter() - started)
    return path


def report(run_dir: str | Path, *, device: str = "auto", beside: list[str | Path] | tuple[str | Path, ...] = ()) -> Path:
    """Write (or rewrite) a finished run's report from its directory alone; returns ``report.html``.

    The data is read again as the run read it (same recipe and seed, the run's preprocessing), so the
    test examples are the run's own. ``beside`` names other runs whose gradient flow (per layer, and
    through time for recurrent models) is drawn in the same figures as this run's: a plain RNN beside an
    LSTM, a sigmoid MLP beside a ReLU one. Raises UsageError for a directory that is not a complete run.
    """
    from layerlab.api import load_run
    from layerlab.data import load_data

    others = {}
    for path in beside:
        other = RunDir.open(path, need=("recipe",)).path
        label = other.name if other.name not in others else str(other)
        others[label] = other
    loaded = load_run(run_dir, device=device)
    data = load_data(loaded.recipe.data.model_copy(update={"group_balance": False}), task=loaded.recipe.task.name,
                     seed=loaded.recipe.train.seed, preprocessor=loaded.preprocessor)
    run = loaded.run
    summary = run.read_json(run.summary) if run.summary.exists() else {}
    history = run.read_history() if run.history.exists() else []
    ctx = ReportContext(run, loaded.recipe, loaded.task, loaded.model, loaded.info, loaded.preprocessor, data,
                        loaded.device, summary, history, beside=others)
    return write_report(ctx)


def _safely(what: str, build: Callable[[], list[Section]]) -> list[Section]:
    """The sections ``build`` returns, or one section with the error when it fails."""
    try:
        return build()
    except Exception as exc:  # a broken section must not cost the whole report
        log.exception("report sections for %s failed", what)
        return [Section(f"Sections for {what} (failed)",
                        [html.paragraph(f"These sections could not be drawn: {type(exc).__name__}: {exc}")])]


def probabilities(outputs: torch.Tensor) -> np.ndarray:
    return outputs.float().softmax(dim=1).numpy()


def report_after_run(run: RunDir, recipe: Recipe, task: Task, model: nn.Module, data: Dataset, device: torch.device,
                     summary: dict[str, Any], history: list[dict[str, float]]) -> Path | None:
    """The report ``layerlab run`` writes at the end of a run, from what it has in memory. A failure
    is logged, not raised: the run's results are saved already, and ``layerlab report RUN`` retries."""
    ctx = ReportContext(run, recipe, task, model, data.info, data.preprocessor, data, device, summary, history)
    try:
        return write_report(ctx)
    except Exception:  # the weights and summary are safe; the report must not turn the run into a failure
        log.exception("the report could not be written; try again with `layerlab report %s`", run.path)
        return None
