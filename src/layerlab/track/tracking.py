"""What ``runs.run`` asks of tracking: the trackers' callbacks, and ``finish`` once the summary is written.

    tracking = open_tracking(cfg, rundir)
    trainer = Trainer(..., callbacks=[..., *tracking.callbacks])
    ...                                 # summary.json, history.csv and the plots written
    tracking.finish(summary)            # trackers log the results; the run joins the local index

If training (or anything before ``finish``) raises, ``tracking.fail(error)`` marks the tracked run as
failed (MLflow: status FAILED, the error in the ``layerlab.error`` tag) and closes the trackers' files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from layerlab.track.tracker import Tracker

if TYPE_CHECKING:
    from layerlab.recipe import Recipe
    from layerlab.rundir import RunDir

log = logging.getLogger(__name__)


@dataclass
class Tracking:
    recipe: Recipe
    rundir: RunDir
    callbacks: list[Tracker] = field(default_factory=list)

    def finish(self, summary: dict[str, Any]) -> None:
        """Log the summary, artifacts and model to each tracker, then register the run in the index."""
        for tracker in self.callbacks:
            tracker.finish(summary)
        if self.recipe.track.index:
            from layerlab.track.index import register_run

            register_run(self.rundir.path, self.recipe.to_dict(), summary)

    def fail(self, error: BaseException) -> None:
        """Tell every tracker the run failed; a tracker's own trouble here is logged, never raised, so
        the run's error is the one the user sees."""
        for tracker in self.callbacks:
            try:
                tracker.fail(error)
            except Exception as exc:  # noqa: BLE001 - the original error matters more
                log.warning("%s: could not record the failed run (%s)", type(tracker).__name__, exc)


def open_tracking(recipe: Recipe, rundir: RunDir) -> Tracking:
    """The trackers ``recipe.track`` asks for (MLflow, TensorBoard), as trainer callbacks."""
    callbacks: list[Tracker] = []
    if recipe.track.mlflow is not None:
        from layerlab.track.mlflow_tracker import MLflowTracker

        callbacks.append(MLflowTracker(recipe.track.mlflow, recipe, rundir))
    if recipe.track.tensorboard:
        from layerlab.track.tensorboard_tracker import TensorBoardTracker

        callbacks.append(TensorBoardTracker(recipe, rundir))
    return Tracking(recipe, rundir, callbacks)
