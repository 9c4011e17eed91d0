"""What a report section is given and gives back: ``ReportContext`` (the run, its model, task, data and
outputs) and ``Section``; and ``SECTIONS``, where a task registers the sections of its own. A section
builder writes its PNGs with ``ctx.png(name)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from layerlab.data import DataInfo, Dataset, Preprocessor
from layerlab.models.inference import predict_outputs
from layerlab.recipe import Recipe
from layerlab.registry import Registry
from layerlab.rundir import RunDir
from layerlab.tasks import Task

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
