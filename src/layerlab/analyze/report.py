"""``layerlab report RUN``: write (or rewrite) a run's report from its directory alone.

    layerlab report runs/fashion-cnn-...        # or: layerlab.analyze.report.report(run_dir)

The page itself, its sections and the ``SECTIONS`` registry a task adds its own sections to are in
``layerlab.analyze.report_page``; they are named here too, for the code that adds sections.
"""

from __future__ import annotations

from pathlib import Path

from layerlab.analyze.report_context import SECTIONS, ReportContext, Section
from layerlab.analyze.report_page import report_after_run, write_report
from layerlab.rundir import RunDir
from layerlab.runs import load_run

__all__ = ["SECTIONS", "ReportContext", "Section", "report", "report_after_run", "write_report"]


def report(run_dir: str | Path, *, device: str = "auto", beside: list[str | Path] | tuple[str | Path, ...] = ()) -> Path:
    """Write (or rewrite) a finished run's report from its directory alone; returns ``report.html``.

    The data is read again as the run read it (same recipe and seed, the run's preprocessing), so the
    test examples are the run's own. ``beside`` names other runs whose gradient flow (per layer, and
    through time for recurrent models) is drawn in the same figures as this run's: a plain RNN beside an
    LSTM, a sigmoid MLP beside a ReLU one. Raises UsageError for a directory that is not a complete run.
    """
    others = {}
    for path in beside:
        other = RunDir.open(path, need=("recipe",)).path
        label = other.name if other.name not in others else str(other)
        others[label] = other
    loaded = load_run(run_dir, device=device)
    data = loaded.dataset(group_balance=False)
    run = loaded.run
    summary = run.read_json(run.summary) if run.summary.exists() else {}
    history = run.read_history() if run.history.exists() else []
    ctx = ReportContext(run, loaded.recipe, loaded.task, loaded.model, loaded.info, loaded.preprocessor, data,
                        loaded.device, summary, history, beside=others)
    return write_report(ctx)
