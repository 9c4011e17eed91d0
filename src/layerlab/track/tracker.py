"""``Tracker``, the base of the MLflow and TensorBoard trackers: in a module of its own, so that they and
``open_tracking``, which imports them, do not import each other."""

from __future__ import annotations

from typing import Any

from layerlab.train.callbacks import Callback


class Tracker(Callback):
    """A trainer callback that also hears of the run's end, after summary.json and the plots exist."""

    def finish(self, summary: dict[str, Any]) -> None: ...

    def fail(self, error: BaseException) -> None:
        """The run ended with ``error`` before its summary: record that, close what is open."""
