"""The run report's page: one self-contained HTML page (``report.html``) plus its PNGs (``report/``),
written from what is in memory (``write_report``); ``layerlab.analyze.report.report`` reads a run
directory back to write it, ``layerlab run`` writes it at the end of a run (``report_after_run``).

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
from pathlib import Path
from typing import Any

import torch
from torch import nn

from layerlab.analyze import html
from layerlab.analyze.report_context import REPORT_HTML, SECTIONS, ReportContext, Section
from layerlab.data import Dataset
from layerlab.progress import steps
from layerlab.recipe import Recipe
from layerlab.rundir import RunDir
from layerlab.tasks import Task

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------- public
def write_report(ctx: ReportContext) -> Path:
    """Build every section and write ``report.html``; returns its path."""
    from layerlab.analyze import sections as _builtin  # noqa: F401 (registers the built-in sections)
    from layerlab.analyze.common_sections import common_sections

    started = time.perf_counter()
    head, tail = common_sections(ctx)
    own = [(ctx.task.name, lambda: SECTIONS.get(ctx.task.name)(ctx))] if ctx.task.name in SECTIONS else []
    builders = [("the run", build) for build in head] + own + [("the run", build) for build in tail]
    sections: list[Section] = []
    with steps("report", len(builders)) as advance:
        for what, build in builders:
            advance(f"sections of {what}")
            sections += _safely(what, build)
    subtitle = (f"{ctx.recipe.model['name']} on {ctx.info.name} · {ctx.task.name} · "
                f"status {ctx.summary.get('status', '?')} · written {time.strftime('%Y-%m-%d %H:%M')}")
    page = html.page(f"LayerLab report: {ctx.run.path.name}", subtitle, [(s.title, s.parts) for s in sections])
    path = ctx.run.path / REPORT_HTML
    from layerlab.train.state_io import atomic_write_text

    atomic_write_text(path, page)
    log.info("report written to %s in %.1f s", path, time.perf_counter() - started)
    return path


def _safely(what: str, build: Callable[[], list[Section]]) -> list[Section]:
    """The sections ``build`` returns, or one section with the error when it fails."""
    try:
        return build()
    except Exception as exc:  # a broken section must not cost the whole report
        # One line: the page says what failed, and an expected failure (a NaN-stopped run's NaN outputs) is
        # no bug; the traceback is there for whoever turns on debug logging.
        log.warning("report sections for %s failed: %s: %s", what, type(exc).__name__, _first_line(exc))
        log.debug("report sections for %s failed", what, exc_info=True)
        return [Section(f"Sections for {what} (failed)",
                        [html.paragraph(f"These sections could not be drawn: {type(exc).__name__}: {exc}")])]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


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
