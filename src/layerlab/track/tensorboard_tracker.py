"""Writes a run's curves as TensorBoard event files in RUN/tensorboard (``track: {tensorboard: true}``).

    tensorboard --logdir runs/        # every run's curves, side by side

Per epoch: ``train/loss``, ``val/<metric>``, ``lr`` and ``speed/examples_per_second``; at the end the
test metrics (``test/<metric>``) and the recipe's scalar keys as hyperparameters (the HParams tab).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from layerlab.track.index import flatten
from layerlab.track.tracker import Tracker

if TYPE_CHECKING:
    from layerlab.recipe import Recipe
    from layerlab.rundir import RunDir
    from layerlab.train.trainer import Trainer

FOLDER = "tensorboard"


def tag(key: str) -> str:
    """``val_accuracy`` -> ``val/accuracy``: TensorBoard groups the charts by what comes before '/'."""
    for prefix in ("train_", "val_", "test_"):
        if key.startswith(prefix):
            return f"{prefix[:-1]}/{key[len(prefix):]}"
    return "speed/examples_per_second" if key == "examples_per_second" else key


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def __init__(self, recipe: Recipe, rundir: RunDir):
        self.recipe, self.rundir = recipe, rundir
        self.writer: Any = None
        self.epoch = 0

    def on_fit_start(self, trainer: Trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.rundir.path / FOLDER))
        self.writer.add_text("recipe", "```yaml\n" + self.recipe.to_yaml() + "```", global_step=trainer.state.epoch)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        self.epoch = int(row["epoch"])
        for key, value in row.items():
            if key not in ("epoch", "partial", "seconds"):
                self.writer.add_scalar(tag(key), value, self.epoch)
        self.writer.flush()

    def finish(self, summary: dict[str, Any]) -> None:
        if self.writer is None:
            return
        test = {f"test/{k}": float(v) for k, v in (summary.get("test") or {}).items() if isinstance(v, (int, float))}
        for key, value in test.items():
            self.writer.add_scalar(key, value, self.epoch)
        flat = flatten({k: v for k, v in self.recipe.to_dict().items() if k not in ("tune", "track")})
        hparams = {k: v for k, v in flat.items() if isinstance(v, (int, float, str, bool))}
        best = (summary.get("monitor") or {}).get("best")
        metrics = {**test, **({"best/" + summary["monitor"]["metric"]: float(best)} if best is not None else {})}
        if metrics:
            self.writer.add_hparams(hparams, metrics, run_name=".", global_step=self.epoch)
        self.writer.close()

    def fail(self, error: BaseException) -> None:
        if self.writer is not None:
            self.writer.close()  # what was written so far stays readable
