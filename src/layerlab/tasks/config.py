"""The ``task`` section: what every task shares, and the options of families of tasks.

Each task declares its own options as a subclass of ``TaskConfig`` in its own file and registers it
with the task (``@TASKS.register("regression", config=RegressionConfig)``); a recipe's
``task: {name: regression, ...}`` is checked against that class, so an option of another task is an
unknown key. Options shared by a family of tasks are declared once here.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from layerlab.config import NamedSection
from layerlab.registry import Registry
from layerlab.tasks.registry import TASKS


class TaskConfig(NamedSection):
    name: str = Field("classification", description="what is learned: classification, regression, ... (`layerlab recipe explain task NAME` lists a task's options)")
    loss: str = Field("auto", description="auto (the task's usual loss), or one the task allows: cross_entropy; mse, mae, huber; ...")

    @classmethod
    def registry(cls) -> Registry:
        return TASKS

    @model_validator(mode="after")
    def _loss_fits(self) -> TaskConfig:
        allowed = TASKS.get(self.name).losses
        if self.loss not in allowed:
            raise ValueError(f"@loss@'{self.loss}' is not a loss for {self.name}; allowed: {', '.join(sorted(allowed))}")
        return self


# ----------------------------------------------------------------------------------------- families
class SmoothingConfig(TaskConfig):
    """Tasks that predict one of a set of classes or tokens with a cross-entropy (classification,
    language models, translation)."""

    label_smoothing: float = Field(0.0, ge=0, lt=1, description="classification, language_model, seq2seq: label smoothing of the cross-entropy")


class GenerativeConfig(TaskConfig):
    """Tasks that generate images from noise (VAEs, GANs) and save samples after every epoch."""

    samples_seed: int = Field(1234, description="vae, adversarial: seed of the fixed noise batch whose samples are saved after every epoch")
