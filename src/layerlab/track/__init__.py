"""Where runs are recorded: the local run index, MLflow and TensorBoard.

    track:
      mlflow: true           # or a tracking URI, or {uri, experiment, log_model, artifacts}
      tensorboard: true

``open_tracking(recipe, run_dir)`` gives the trainer callbacks of the trackers a recipe asks for and,
once the run has written its summary, ``finish`` logs the artifacts and registers the run in the index
(``layerlab runs``). Importing this package (as the recipe schema does) imports neither MLflow nor torch.
"""

from __future__ import annotations

from layerlab.lazy import lazy_exports

__all__ = ["open_tracking", "list_runs", "register_run"]

_LAZY = {
    "open_tracking": "layerlab.track.tracking",
    "list_runs": "layerlab.track.index",
    "register_run": "layerlab.track.index",
}


__getattr__ = lazy_exports(__name__, _LAZY)
