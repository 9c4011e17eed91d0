"""The one place the serving package reads a trained run back (``load``), so that where ``load_run``
lives is named once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from layerlab.api import LoadedRun


def load(run_dir: str | Path, device: str = "cpu") -> LoadedRun:
    """The run's model (in eval mode, on ``device``), task, data info and preprocessing."""
    from layerlab.api import load_run

    return load_run(run_dir, device=device)
