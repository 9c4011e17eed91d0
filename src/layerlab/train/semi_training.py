"""``train.semi`` inside the trainer: a second, seeded stream of unlabelled batches, the method's loss
added to the task's, and per-epoch history of the pseudo-labels.

    task, callbacks = with_semi(cfg, built, callbacks)   # (built.task, callbacks) when train.semi is off
    Trainer(model, task, cfg.train, callbacks=callbacks, ...)

The trainer's step is unchanged: it calls ``task.forward`` and ``task.loss``, and here the task is
``SemiTask``, which draws the next unlabelled batch (``mu`` x the batch size) in ``forward``, lets the
method compute the labelled logits and its unlabelled loss, and adds that loss, weighted and ramped up,
in ``loss``. Unlabelled batch k is a pure function of (seed, k): its examples come from a permutation
of the unlabelled examples drawn per pass over them, its views from generators seeded by (seed, k).
``SemiTraining``, a callback, keeps k, the epoch's counts and the method's state (Mean Teacher's
teacher) in the checkpoint, so a resumed run draws the batches an uninterrupted one would. Each
epoch's history row gets ``unlabeled_loss``, ``unlabeled_above_threshold`` (the share of unlabelled
examples whose prediction reached ``threshold``) and ``pseudo_label_accuracy`` (how many of those were
right, by the hidden true labels, where known): confirmation bias shows as the first rising while the second falls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from layerlab.data import Split
from layerlab.data.batching import BatchAugment, num_batches
from layerlab.data.spec_augment import SpecAugment
from layerlab.data.strong_augment import StrongAugment
from layerlab.data.unlabeled import UNKNOWN
from layerlab.data.word_dropout import WordDropout
from layerlab.errors import LayerLabError
from layerlab.semi import SEMI, SemiBatch, SemiConfig, SemiMethod, Views
from layerlab.semi.base import ramp_up
from layerlab.tasks import Task
from layerlab.tasks.classify import ClassificationTask
from layerlab.train.callbacks import Callback, TrainerView

if TYPE_CHECKING:
    from layerlab.recipe import Recipe
    from layerlab.runs.assemble import Assembled

STREAM = 32  # the unlabelled stream's number in the seed sequences (apart from every other seeded draw)
COUNTS = 6  # what an epoch counts of the unlabelled batches (SemiTraining.counts)


def with_semi(cfg: Recipe, built: Assembled, callbacks: list[Callback]) -> tuple[Any, list[Callback]]:
    """The task and callbacks the trainer takes: ``built``'s, or with ``train.semi`` the semi-supervised
    task and its callback first (its history fields are then in the row the others see)."""
    if cfg.train.semi is None:
        return built.task, callbacks
    semi = SemiTraining(cfg, built)
    return semi.task, [semi, *callbacks]


@dataclass
class _Stream:
    """Unlabelled batches by number: batch k of a pass of len(x) // size batches over a seeded permutation."""

    x: Tensor
    y: Tensor  # the true labels, hidden from the method (UNKNOWN where nobody knows them)
    size: int
    seed: int

    order: tuple[int, Tensor] | None = None  # the current pass's number and permutation

    def batch(self, k: int) -> tuple[Tensor, Tensor, Tensor]:
        """Batch k's inputs, true labels and numbers in the unlabelled set."""
        per_pass = max(1, len(self.x) // self.size)
        n_pass, j = divmod(k, per_pass)
        if self.order is None or self.order[0] != n_pass:
            perm = torch.randperm(len(self.x), generator=_generator(self.seed, 0, n_pass)).to(self.x.device)
            self.order = (n_pass, perm)
        idx = self.order[1][j * self.size : (j + 1) * self.size]
        return self.x[idx], self.y[idx], idx


def _generator(seed: int, purpose: int, k: int, device: torch.device | str = "cpu") -> torch.Generator:
    state = np.random.SeedSequence([seed % 2**64, STREAM, purpose, k]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state) % 2**63)


class SemiTask:
    """The task the trainer sees under ``train.semi``: the wrapped task in everything but the training
    forward pass (``forward`` with the model in training mode) and its loss."""

    def __init__(self, task: Task, semi: SemiTraining):
        self._task, self._semi = task, semi

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)

    forward_on_inputs = False  # the step calls the whole model on unlabelled inputs too: no cached head

    def forward(self, model: nn.Module, x: Tensor, y: Tensor) -> Any:
        if not model.training:
            return self._task.forward(model, x, y)
        return self._semi.step(model, x)

    def loss(self, output: Any, target: Tensor) -> Tensor:
        if not isinstance(output, SemiBatch):
            return self._task.loss(output, target)
        return self._task.loss(output.logits, target) + self._semi.weight() * output.unlabeled_loss


class SemiTraining(Callback):
    name = "semi"

    def __init__(self, cfg: Recipe, built: Assembled):
        semi: SemiConfig = cfg.train.semi
        unlabeled = built.data.unlabeled
        _check(cfg, built, unlabeled)
        assert unlabeled is not None
        views = _views(cfg, built.data.info.modality, unlabeled, built.data.info.pad_id)
        self.method: SemiMethod = SEMI.get(semi.method)(semi, views, _prior(built), len(unlabeled))
        if self.method.needs_strong and views.strong is None:
            raise LayerLabError(f"train.semi.method: {semi.method} needs a strong augmentation, and there is none "
                                f"for {built.data.info.modality} data (images, spectrograms and sentences have one); use "
                                "pseudo_label or mean_teacher")
        self.cfg, self.seed = semi, cfg.train.seed
        self.unlabeled = unlabeled
        self.steps_per_epoch = num_batches(len(built.data.train), cfg.train.batch_size)
        self.size = min(semi.mu * cfg.train.batch_size, len(unlabeled))
        self.task = SemiTask(built.task, self)
        self.drawn = 0  # unlabelled batches drawn so far
        self.counts = torch.zeros(COUNTS)  # this epoch: examples, above threshold, right among them, loss sum,
        # batches, and above threshold among the examples whose true label is known (data.unlabeled's are not)
        self._stream: _Stream | None = None

    # ---------------------------------------------------------------------------- the step
    def step(self, model: nn.Module, x: Tensor) -> SemiBatch:
        """The method's work on the labelled batch ``x`` and unlabelled batch ``drawn``."""
        stream = self._on(x.device)
        u, truth, index = stream.batch(self.drawn)
        generators = (_generator(self.seed, 1, self.drawn, x.device), _generator(self.seed, 2, self.drawn, x.device))
        out = self.method.losses(model, x, u, generators, index)
        above = out.confidence >= self.cfg.threshold if out.used is None else out.used
        self.counts = self.counts.to(x.device) + torch.stack([  # on the device: no wait for it each step
            torch.tensor(float(len(u)), device=x.device), above.sum().float(), (above & (out.pseudo == truth)).sum().float(),
            out.unlabeled_loss.detach().float(), torch.ones((), device=x.device), (above & (truth != UNKNOWN)).sum().float()])
        self.drawn += 1
        return out

    def weight(self) -> float:
        """The unlabelled loss's weight at the batch being trained (``drawn`` has counted it)."""
        if self.cfg.ramp_up_epochs == 0:
            return self.cfg.weight
        return self.cfg.weight * ramp_up((self.drawn - 1) / (self.cfg.ramp_up_epochs * self.steps_per_epoch))

    def _on(self, device: torch.device) -> _Stream:
        if self._stream is None or self._stream.x.device != device:
            self._stream = _Stream(self.unlabeled.x.to(device), self.unlabeled.y.to(device), self.size, self.seed)
        return self._stream

    # ----------------------------------------------------------------------------- hooks
    def on_fit_start(self, trainer: TrainerView) -> None:
        self.method.start(trainer.model)

    def on_step_end(self, trainer: TrainerView, loss: Tensor) -> None:
        if trainer.at_step_boundary:
            self.method.after_step(trainer.model, trainer.state.global_step)

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        seen, above, right, loss, batches, known = self.counts.tolist()
        row["unlabeled_loss"] = loss / max(batches, 1)
        row["unlabeled_above_threshold"] = above / max(seen, 1)
        row["pseudo_label_accuracy"] = right / known if known else float("nan")  # NaN: no true label to check against
        self.counts.zero_()

    def state_dict(self) -> dict[str, Any]:
        return {"drawn": self.drawn, "counts": self.counts.clone(), "method": self.method.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        counts = state["counts"].clone().cpu()
        if len(counts) == COUNTS - 1:  # saved before data.unlabeled: every example's label was known
            counts = torch.cat([counts, counts[1:2]])
        self.drawn, self.counts = int(state["drawn"]), counts
        self.method.load_state_dict(state["method"])


def _views(cfg: Recipe, modality: str, unlabeled: Split, pad_id: int | None = None) -> Views:
    """Weak: the recipe's data.augment (flips, crops, ...). Strong: RandAugment-like for images,
    SpecAugment for spectrograms, word dropout for sentences (token ids), none otherwise."""
    weak = BatchAugment(cfg.data.augment)
    strong: Any = None
    if modality == "image":
        dims = [d for d in range(unlabeled.x.dim()) if d != 1]
        strong = StrongAugment(unlabeled.x.amin(dims), unlabeled.x.amax(dims))
    elif modality == "audio":
        bins, frames = unlabeled.x.shape[-2:]
        strong = SpecAugment(freq_mask=max(1, bins // 5), time_mask=max(1, frames // 5), freq_masks=2, time_masks=2)
    elif modality == "text" and unlabeled.x.dim() == 2:  # sentences as token ids: words left out
        strong = WordDropout(pad_id=pad_id if pad_id is not None else 0)  # text's DataInfo names it; 0 is <pad>
    return Views(weak=weak if weak.enabled else (lambda u, generator: u), strong=strong)


def _prior(built: Assembled) -> Tensor:
    """(classes,) the labelled training examples' class shares (data.labeled_repeat repeats every one alike)."""
    y = torch.as_tensor(built.data.train.y).long().flatten().cpu()
    counts = torch.bincount(y, minlength=built.data.info.num_classes or 0).float()
    return counts / counts.sum()


def _check(cfg: Recipe, built: Assembled, unlabeled: Split | None) -> None:
    """Refuse what cannot learn from unlabelled data, naming the key."""
    if not isinstance(built.task, ClassificationTask):
        raise LayerLabError(f"train.semi learns classes from unlabelled examples; task {cfg.task.name} is not "
                            "classification")
    if unlabeled is None or not len(unlabeled):
        raise LayerLabError("train.semi needs unlabelled examples: set data.labels_per_class (the rest of the "
                            "training split is then unlabelled) or data.unlabeled (a folder or source of them)")
    if built.task.rdrop:
        raise LayerLabError("task.rdrop runs its own two-pass forward; leave it at 0 with train.semi")
