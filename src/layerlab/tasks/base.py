"""What every task shares: the interface the trainer and the commands call, the registry, ``create_task``.

A task owns what is learned: the loss of a batch, the metrics and the detailed report of a whole
split, and the predictions a user sees. Each concrete task lives in its own file with what it needs of
the data (``TargetSpec``), and registers itself; the class of its recipe options is declared with its
name, without torch, in ``tasks.config``:

    class RegressionConfig(TaskConfig):                                 # tasks/config.py
        losses: ClassVar[tuple[str, ...] | None] = ("auto", "mse", "mae", "huber")
        huber_delta: float = Field(1.0, gt=0, description="...")
    TASKS.declare("regression", "layerlab.tasks.regress", config=RegressionConfig, description="...")

    @TASKS.register("regression")                                      # tasks/regress.py
    class RegressionTask(Task):
        target = TargetSpec("real", modalities=("table", "text", "audio"))

``create_task(recipe.task, ...)`` then builds the one the recipe names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError, UsageError
from layerlab.models.inference import predict_outputs
from layerlab.tasks.config import TaskConfig
from layerlab.tasks.registry import TASKS
from layerlab.tasks.step import MakeOptimizer, TrainingStep

__all__ = ["TASKS", "Task", "TaskConfig", "create_task"]


class Task(ABC):
    """The contract between a task and the trainer, the commands and the run directory.

    ``loss`` runs every step, so it stays cheap and graph-friendly: no ``.item()``, no Python loops.
    ``metrics``, ``report`` and ``predict`` run on a whole split's concatenated outputs and return
    plain Python values (JSON-able). Outputs may come in bf16 or fp16; tasks compute in float32.
    """

    name: ClassVar[str]
    monitor: ClassVar[tuple[str, str]]  # the default metric to monitor and its mode ("min" or "max")
    losses: ClassVar[tuple[str, ...]]  # a plug-in task: the values task.loss may take ("auto" first); built-in tasks declare them on their config
    target: ClassVar[TargetSpec]  # what it needs of the data: the kind of target, stratified splits, ...

    @classmethod
    @abstractmethod
    def from_config(
        cls, cfg: TaskConfig, *, num_classes: int | None, class_names: list[str] | None, train_targets: Tensor
    ) -> Task:
        """Build the task from its recipe section and what the data says (see ``create_task``)."""

    @abstractmethod
    def num_outputs(self) -> int:
        """The width of the model's output: the number of classes, or of regression targets."""

    @abstractmethod
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """The scalar mean loss of a batch, in float32."""

    @abstractmethod
    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        """Metrics of a whole split; always has ``"loss"``."""

    @abstractmethod
    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        """JSON-able detail of a whole split, for ``summary.json``."""

    @abstractmethod
    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """One JSON-able dict per example."""

    # ---------------------------------------------------------------- overridable, with defaults
    def metric_names(self) -> list[str]:
        """The names ``metrics`` returns (``val_`` + each is a metric ``train.monitor`` may name). The
        default calls ``metrics`` on two made-up examples of the task's kind of target; tasks whose
        metrics come from their own ``evaluate``, or whose targets have no made-up form, name them."""
        targets = self.target.example_targets(2)
        if targets is None:
            raise NotImplementedError(f"{type(self).__name__} has structured targets; it must name its metrics")
        return list(self.metrics(torch.zeros(2, self.num_outputs()), targets))

    forward_on_inputs = False  # an overriding forward that only calls the model on (copies of) x says so: a
    # head-only stage may then call it with the head on cached head inputs in place of the model on x

    def forward(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """The training forward pass of one batch; its result goes to ``loss(output, y)``.

        The default is ``model(x)``. Tasks that feed the targets in (teacher forcing in seq2seq)
        or that are their own targets (reconstruction) override it.
        """
        return model(x)

    def evaluate(
        self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32", report: bool = False
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """Metrics of ``model`` on a whole split (a ``layerlab.data.Split`` on the model's device),
        and with ``report=True`` the detailed report too (else ``{}``).

        The default runs ``model(x)`` in batches and calls ``metrics`` and ``report`` on the
        concatenated outputs; tasks whose outputs do not fit in memory at once, or whose metrics need
        decoding (BLEU), override it.
        """
        outputs = predict_outputs(model, split.x, batch_size=batch_size, precision=precision)
        return self.metrics(outputs, split.y), (self.report(outputs, split.y) if report else {})

    def outputs(self, model: nn.Module, x: Tensor, *, batch_size: int) -> Any:
        """What ``predict`` takes for inputs ``x``: the model's outputs in evaluation mode (a detector
        overrides it with its list of detections)."""
        return predict_outputs(model, x, batch_size=batch_size)

    def generate(self, model: nn.Module, *, preprocessor: Any, device: Any, **options: Any) -> dict[str, Any]:
        """New examples from a trained model (text, images); ``layerlab generate`` calls this.

        ``options`` are the command's (prompt, tokens, temperature, top_k, n, class_, out, seed).
        Returns a JSON-able dict: ``{"text": ...}`` or ``{"path": ..., ...}``.
        """
        raise UsageError(f"a {self.name} run cannot generate; generation needs a language model, a VAE or a GAN")

    def training_step(self, model: nn.Module, *, make_optimizer: MakeOptimizer, precision: str) -> TrainingStep | None:
        """The task's own training step (a GAN's alternating updates), or None for the trainer's usual
        forward, loss, backward, optimiser step. See ``layerlab.tasks.step``."""
        return None

    def fixed_samples(self, model: nn.Module) -> Tensor | None:
        """Images in [0, 1] from a fixed noise batch (the same every call), which training saves as a
        grid after every epoch; None for tasks that do not generate images."""
        return None

    def wrap_model(self, model: nn.Module) -> nn.Module:
        """The network trained, evaluated and saved: ``model`` with what the task puts around it (a
        forecaster's level-relative inputs), or ``model`` itself, the default. Called once the model is
        built, before its weights are loaded or trained, in training, when a run is loaded back and in
        the LR finder, so that saved weights always fit the same wrapping."""
        return model

    def loss_targets(self, target: Tensor) -> Tensor:
        """The targets in the units in which ``loss`` compares them with the outputs (a forecaster
        standardises them); the targets themselves by default. Diagnostics use it to take the loss
        as training does."""
        return target

    def attach_preprocessor(self, preprocessor: Any) -> None:
        """Called with the run's fitted preprocessing right after the task is built, in training and when
        a run is loaded back. A task whose loss or metrics need statistics of the data (a forecaster: the
        target's scale, the season of its baseline) keeps them here; the default does nothing."""
        return None

    @abstractmethod
    def config_dict(self) -> dict[str, Any]:
        """The task's recipe section with everything resolved (``loss: auto`` → the loss used,
        ``class_weights: balanced`` → the weights), so that a run directory rebuilds the same task."""


def check_token_targets(name: str, class_names: list[str] | None, train_targets: Tensor, *, use: str) -> None:
    """A task over token sequences (language models, translation) needs text: a vocabulary (the classes)
    and targets of shape (N, T). ``use`` says which data to use instead. Raises LayerLabError."""
    if not class_names:
        raise LayerLabError(f"task.name is '{name}' but the data is not text in token sequences; use {use}")
    if train_targets.numel() and train_targets.ndim != 2:
        raise LayerLabError(f"{name}'s targets are token sequences (N, T); the data gives "
                            f"{tuple(train_targets.shape)} (use {use})")


def create_task(
    cfg: TaskConfig, *, num_classes: int | None, class_names: list[str] | None, train_targets: Tensor,
    preprocessor: Any = None,
) -> Task:
    """The task a recipe's ``task`` section names, fitted to the data.

    ``num_classes`` and ``class_names`` come from the data (None for numeric targets);
    ``train_targets`` are the training split's targets, used for ``class_weights: balanced`` and to
    check that the targets suit the task (an empty tensor skips both, as when a run is loaded back).
    ``preprocessor``, the run's fitted preprocessing, goes to ``Task.attach_preprocessor``.
    Raises LayerLabError when task and data do not fit (regression on class targets, classification
    without classes) or when ``class_weights`` is a list of the wrong length.
    """
    task_cls = TASKS.get(cfg.name)
    task = task_cls.from_config(cfg, num_classes=num_classes, class_names=class_names, train_targets=train_targets)
    if preprocessor is not None:
        task.attach_preprocessor(preprocessor)
    return task
