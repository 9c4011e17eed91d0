"""Jupyter (and Colab, VS Code notebooks): training shown live in the cell, and runs that show themselves.

    result = layerlab.fit(net, (x, y), epochs=5)        # in a notebook: a progress line and the learning
                                                        # curves, redrawn in place after every epoch
    result                                              # RunResult._repr_html_: metrics, curves, confusion
    layerlab.run("digits-cnn", callbacks=layerlab.notebook.live())    # the same for a recipe

Everything is shown through IPython's display handles (no widgets needed): one line of HTML for the
progress, one PNG for the curves, each updated in place. ``run_html`` is the HTML of a run directory.
"""

from __future__ import annotations

import base64
import html
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from layerlab.train.callbacks import Callback, TrainerView

REFRESH_SECONDS = 0.25  # at most this often the progress line is redrawn


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (Jupyter, JupyterLab, Colab, VS Code), not a terminal."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def live(*, curves: bool = True) -> list[Callback]:
    """The callbacks that show a run in the notebook's cell: a progress line, and (``curves``) the
    learning curves after each epoch. Empty outside a notebook."""
    return [NotebookProgress(curves=curves)] if in_notebook() else []


class NotebookProgress(Callback):
    """Progress over the epochs (steps within the first, a fraction after), the last epoch's figures,
    and the learning curves redrawn after each epoch, in place in the cell."""

    name = "notebook-progress"

    def __init__(self, *, curves: bool = True):
        self.curves = curves
        self.steps_per_epoch: int | None = None
        self._line: Any = None
        self._plot: Any = None
        self._last = 0.0
        self._row = ""
        self._rows: list[dict[str, float]] = []

    def on_fit_start(self, trainer: TrainerView) -> None:
        from IPython.display import HTML, display

        self._line = display(HTML(self._html(trainer, loss=None)), display_id=True)
        self._plot = display(HTML(""), display_id=True) if self.curves else None

    def on_step_end(self, trainer: TrainerView, loss: Any) -> None:
        now = time.perf_counter()
        if self._line is None or now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        from IPython.display import HTML

        self._line.update(HTML(self._html(trainer, loss=float(loss.detach()))))

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        from layerlab.train.progress import format_row

        self.steps_per_epoch = self.steps_per_epoch or trainer.state.step_in_epoch or None
        self._row = format_row(row, trainer.cfg.epochs)
        self._rows.append(dict(row))
        if self._line is None:
            return
        from IPython.display import HTML, Image

        self._line.update(HTML(self._html(trainer, loss=None, done=int(row["epoch"]))))
        if self._plot is not None:
            self._plot.update(Image(data=curves_png(self._rows), format="png"))

    def _html(self, trainer: TrainerView, *, loss: float | None, done: int | None = None) -> str:
        epochs = trainer.cfg.epochs
        state = trainer.state
        value = float(done) if done is not None else state.epoch + (
            state.step_in_epoch / self.steps_per_epoch if self.steps_per_epoch else 0.0)
        where = f"epoch {min(state.epoch + 1, epochs)}/{epochs}" + (
            f", step {state.step_in_epoch}" if done is None else "")
        now = f" &nbsp; loss {loss:.4f}" if loss is not None else ""
        last = f"<br><code>{html.escape(self._row)}</code>" if self._row else ""
        return (f'<div><progress value="{value:.3f}" max="{epochs}" style="width:40%"></progress> '
                f"{where}{now}{last}</div>")


def curves_png(history: list[dict[str, float]]) -> bytes:
    """The learning curves of ``history`` (``analyze.plots.plot_history``) as PNG bytes."""
    from layerlab.analyze.plots import plot_history

    with tempfile.TemporaryDirectory() as folder:
        return plot_history(history, Path(folder) / "curves.png").read_bytes()


# ---------------------------------------------------------------------------------------- run HTML
def run_html(run_dir: str | Path) -> str:
    """A run directory as HTML: its name and status, the test metrics, the learning curves and, for a
    classifier, the confusion matrix (the run's own PNGs, inline). What a run shows in a notebook."""
    path = Path(run_dir)
    summary = _read_json(path / "summary.json")
    parts = [f"<h4>{html.escape(path.name)}</h4>",
             f"<p>{html.escape(_headline(summary, path))}</p>",
             _metrics_table(summary.get("test") or {})]
    for name, title in (("curves.png", "learning curves"), ("confusion.png", "confusion matrix (test)")):
        if (path / name).is_file():
            data = base64.b64encode((path / name).read_bytes()).decode("ascii")
            parts.append(f'<figure><img alt="{title}" style="max-width:100%" src="data:image/png;base64,{data}">'
                         f"<figcaption>{title}</figcaption></figure>")
    return f'<div class="layerlab-run">{"".join(parts)}</div>'


def _headline(summary: dict[str, Any], path: Path) -> str:
    if not summary:
        return f"{path}: no summary.json (the run has not finished)"
    bits = [f"status {summary.get('status', '?')}"]
    if summary.get("epochs") is not None:
        bits.append(f"{summary['epochs']} epochs")
    if summary.get("best_epoch") is not None:
        bits.append(f"best epoch {summary['best_epoch']}")
    if summary.get("params") is not None:
        bits.append(f"{summary['params']:,} parameters")
    if summary.get("seconds") is not None:
        bits.append(f"{summary['seconds']:.1f} s")
    return f"{path}: " + ", ".join(bits)


def _metrics_table(metrics: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_number(v)}</td></tr>" for k, v in metrics.items()
                   if isinstance(v, int | float))
    if not rows:
        return "<p>no test metrics</p>"
    return f"<table><thead><tr><th>test metric</th><th>value</th></tr></thead><tbody>{rows}</tbody></table>"


def _number(value: float) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
