"""``SampleGrid``: after every epoch, the images a generative task draws from its fixed noise batch.

The same noise every epoch (``task.fixed_samples``), so the grids ``samples/epoch-001.png``, ... show
how the generator (a GAN's, a VAE's decoder) develops. Tasks that do not generate images return None
and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from layerlab.tasks.imaging import save_grid
from layerlab.train.callbacks import Callback, TrainerView


class SampleGrid(Callback):
    name = "sample_grid"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.last: Path | None = None  # the latest grid written

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        images = trainer.task.fixed_samples(trainer.model)
        if images is None:
            return
        columns = getattr(trainer.model, "num_classes", None) or None  # a conditional GAN: a class per column
        self.last = save_grid(images, self.folder / f"epoch-{int(row['epoch']):03d}.png", columns=columns)
