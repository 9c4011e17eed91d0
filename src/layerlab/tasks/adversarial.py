"""Adversarial training of a GAN: alternating discriminator and generator steps.

Each batch: one discriminator step on real images and generated ones; every ``task.n_critic`` batches
also one generator step. Each network has its own optimiser and learning rate (``task.d_lr``,
``task.g_lr``); during the generator's step the discriminator's weights take no gradient. Losses:

    bce      D: -log D(x) - log(1 - D(G(z)))  (real target 1 - label_smoothing); G: -log D(G(z)) (non-saturating)
    hinge    D: relu(1 - D(x)) + relu(1 + D(G(z)));  G: -D(G(z))
    wgan-gp  D: D(G(z)) - D(x) + gp_weight * (|grad D(x_hat)| - 1)**2;  G: -D(G(z))

Validation after every epoch: both losses, the discriminator's mean logits, a Fréchet distance between
real and generated images in *pixel* space (cheap and model-free, for picking the best epoch; the
classifier-feature distance of ``layerlab.analyze.frechet`` is the one to report), and the sample
diversity: the mean pairwise distance between generated images over that between real ones (per
class for a conditional GAN). A diversity under ``COLLAPSE_BELOW`` logs a mode-collapse warning.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError, UsageError
from layerlab.models.inference import autocast
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import AdversarialConfig
from layerlab.tasks.imaging import frechet_distance, save_grid
from layerlab.tasks.step import MakeOptimizer, TrainingStep

log = logging.getLogger(__name__)

COLLAPSE_BELOW = 0.35  # diversity ratio (generated / real) under which samples count as collapsed
DIVERSITY_IMAGES = 512  # images per side for the diversity ratio
PIXEL_FD_IMAGES = 2048  # images per side for the pixel-space Fréchet distance
FIXED_SAMPLES = 64
EVAL_SEED = 0


@TASKS.register("adversarial")
class AdversarialTask(Task):
    name = "adversarial"
    target = TargetSpec("class", unsupervised=True, stratify=True)
    monitor = ("val_pixel_fd", "min")
    pixel_space = AdversarialConfig.pixel_space  # inputs are pixels in [0, 1]: the recipe refuses data.normalize

    def __init__(self, *, loss: str = "bce", n_critic: int = 1, d_lr: float | None = None,
                 g_lr: float | None = None, gp_weight: float = 10.0, label_smoothing: float = 0.0,
                 samples_seed: int = 1234, num_classes: int | None = None, class_names: list[str] | None = None):
        self.loss_name = "bce" if loss == "auto" else loss
        self.n_critic, self.d_lr, self.g_lr = int(n_critic), d_lr, g_lr
        self.gp_weight, self.label_smoothing = float(gp_weight), float(label_smoothing)
        self.samples_seed = int(samples_seed)
        self.num_classes, self.class_names = num_classes, class_names

    @classmethod
    def from_config(cls, cfg: AdversarialConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> AdversarialTask:
        if cfg.label_smoothing and cfg.loss not in ("auto", "bce"):
            raise LayerLabError("task.label_smoothing applies to the bce loss of a GAN, not to " + cfg.loss)
        return cls(loss=cfg.loss, n_critic=cfg.n_critic, d_lr=cfg.d_lr, g_lr=cfg.g_lr, gp_weight=cfg.gp_weight,
                   label_smoothing=cfg.label_smoothing, samples_seed=cfg.samples_seed, num_classes=num_classes,
                   class_names=class_names)

    def num_outputs(self) -> int:
        return self.num_classes or 1  # a conditional GAN's number of classes

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": self.loss_name, "n_critic": self.n_critic, "d_lr": self.d_lr,
                "g_lr": self.g_lr, "gp_weight": self.gp_weight, "label_smoothing": self.label_smoothing,
                "samples_seed": self.samples_seed}

    # ------------------------------------------------------------------------------------- losses
    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """The discriminator's loss from its logits on real and on generated images (no penalty)."""
        real, fake = real.float(), fake.float()
        if self.loss_name == "hinge":
            return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
        if self.loss_name == "wgan-gp":
            return fake.mean() - real.mean()
        return (F.binary_cross_entropy_with_logits(real, torch.full_like(real, 1 - self.label_smoothing))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))

    def g_loss(self, fake: Tensor) -> Tensor:
        """The generator's loss from the discriminator's logits on its images."""
        fake = fake.float()
        if self.loss_name == "bce":
            return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
        return -fake.mean()

    def loss(self, output: tuple[Tensor, Tensor], target: Tensor) -> Tensor:
        """The discriminator's loss; ``output`` is its logits on (real, generated) images."""
        return self.d_loss(*output)

    def training_step(self, model: nn.Module, *, make_optimizer: MakeOptimizer, precision: str) -> AdversarialStep:
        _check_gan(model)
        if precision == "fp16":
            raise LayerLabError("adversarial training runs in fp32 or bf16; set train.precision to one of them")
        return AdversarialStep(self, model, make_optimizer, precision)

    # ----------------------------------------------------------------------------- a whole split
    @torch.inference_mode()
    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        """Losses, mean logits, pixel Fréchet distance and diversity on ``split`` against as many
        generated images (of the same classes, for a conditional GAN), from a fixed seed."""
        _check_gan(model)
        was_training = model.training
        model.eval()
        generator = torch.Generator().manual_seed(EVAL_SEED)
        labels = split.y.long() if model.num_classes else None
        real_logits, fake_logits, fakes = [], [], []
        for i in range(0, len(split.x), batch_size):
            x = split.x[i : i + batch_size]
            y = labels[i : i + batch_size] if labels is not None else None
            with autocast(x.device, precision):
                fake = model.sample(len(x), y, generator=generator).float()
                real_logits.append(model(x, y).float())
                fake_logits.append(model(fake, y).float())
            fakes.append(fake)
        model.train(was_training)
        real, fake = torch.cat(real_logits), torch.cat(fake_logits)
        generated = torch.cat(fakes)
        values = {"loss": self.d_loss(real, fake).item(), "g_loss": self.g_loss(fake).item(),
                  "d_real": real.mean().item(), "d_fake": fake.mean().item()}
        n = min(PIXEL_FD_IMAGES, len(generated))
        if n >= 2:
            values["pixel_fd"] = frechet_distance(split.x[:n].flatten(1), generated[:n].flatten(1))
        values["diversity"] = diversity_ratio(generated, split.x, labels)
        if values["diversity"] < COLLAPSE_BELOW:
            log.warning("the generated images are much less varied than real ones (diversity %.2f of the real "
                        "images'; under %.2f): the generator may be collapsing onto a few modes. Try loss hinge or "
                        "wgan-gp, model.spectral_norm, a lower task.d_lr, or label smoothing",
                        values["diversity"], COLLAPSE_BELOW)
        return values, (dict(values) if report else {})

    def metric_names(self) -> list[str]:
        """What ``evaluate`` reports."""
        return ["loss", "g_loss", "d_real", "d_fake", "pixel_fd", "diversity"]

    def metrics(self, output: tuple[Tensor, Tensor], target: Tensor) -> dict[str, float]:
        real, fake = output
        return {"loss": self.d_loss(real, fake).item(), "g_loss": self.g_loss(fake).item(),
                "d_real": real.float().mean().item(), "d_fake": fake.float().mean().item()}

    def report(self, output: tuple[Tensor, Tensor], target: Tensor) -> dict[str, Any]:
        return self.metrics(output, target)

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """The discriminator's verdict on each image: its logit and the probability of being real."""
        logits = output.float().flatten()
        return [{"logit": v, "real_probability": p} for v, p in zip(logits.tolist(), torch.sigmoid(logits).tolist())]

    # -------------------------------------------------------------------------------- generating
    @torch.inference_mode()
    def sample(self, model: nn.Module, n: int, *, seed: int, classes: Tensor | None = None) -> Tensor:
        """``n`` images in [0, 1] from noise drawn with ``seed``; a conditional GAN needs ``classes`` (n,)."""
        _check_gan(model)
        device = next(model.parameters()).device
        if model.num_classes and classes is None:
            raise UsageError("a conditional GAN needs the class of each image")
        was_training = model.training
        model.eval()
        images = model.sample(n, None if classes is None else classes.to(device),
                              generator=torch.Generator().manual_seed(seed))
        model.train(was_training)
        return images.float()

    def fixed_samples(self, model: nn.Module) -> Tensor:
        classes = torch.arange(FIXED_SAMPLES) % model.num_classes if model.num_classes else None
        return self.sample(model, FIXED_SAMPLES, seed=self.samples_seed, classes=classes)

    def generate(self, model: nn.Module, *, preprocessor: Any, device: Any, n: int = 64, class_: Any = None,
                 out: str | None = None, seed: int = 0, **options: Any) -> dict[str, Any]:
        """A PNG grid of ``n`` generated images; a conditional GAN draws ``class_`` (a name or an
        index) or, without it, every class in turn (one class per column). ``{"path", "n", "classes", "shape"}``."""
        if n < 1:
            raise UsageError(f"--n: give at least 1 image, not {n}")
        if out is None:
            raise UsageError("give the PNG file to write (--out grid.png)")
        classes = self.classes_for(model, n, class_)
        images = self.sample(model, n, seed=seed, classes=classes)
        columns = model.num_classes if classes is not None and class_ is None and n >= model.num_classes else None
        path = save_grid(images, out, columns=columns)
        return {"path": str(path), "n": n, "classes": None if classes is None else classes.tolist(),
                "shape": list(images.shape[1:])}

    def classes_for(self, model: nn.Module, n: int, class_: Any) -> Tensor | None:
        """The class of each of ``n`` images: ``class_`` (a class name or index) for all, or every class
        in turn; None for an unconditional GAN (which refuses ``class_``)."""
        if not model.num_classes:
            if class_ is not None:
                raise UsageError("this GAN is not conditional (model dcgan); --class needs a cgan run")
            return None
        if class_ is None:
            return torch.arange(n) % model.num_classes
        return torch.full((n,), self.class_index(class_, model.num_classes))

    def class_index(self, class_: Any, num_classes: int) -> int:
        names = self.class_names or [str(i) for i in range(num_classes)]
        text = str(class_)
        if text in names:
            return names.index(text)
        if text.lstrip("-").isdigit() and 0 <= int(text) < num_classes:
            return int(text)
        shown = ", ".join(f"{i} {name}" for i, name in enumerate(names))
        raise UsageError(f"--class: '{class_}' is not a class of this run; give a name or an index: {shown}")


class AdversarialStep(TrainingStep):
    """One batch of GAN training: a discriminator step, and every ``n_critic`` batches a generator step."""

    def __init__(self, task: AdversarialTask, model: nn.Module, make_optimizer: MakeOptimizer, precision: str):
        self.task, self.model, self.precision = task, model, precision
        self.d_opt = make_optimizer(model.discriminator, task.d_lr)  # None: train.lr
        self.g_opt = make_optimizer(model.generator, task.g_lr)
        self.batches = 0

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        labels = y.long() if self.model.num_classes else None
        loss = self.discriminator_step(x, labels)
        self.batches += 1
        if self.batches % self.task.n_critic == 0:
            self.generator_step(len(x), labels)
        return loss

    def discriminator_step(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """One update of the discriminator only, on ``x`` and as many generated images."""
        gen, disc = self.model.generator, self.model.discriminator
        z = torch.randn(len(x), gen.latent, device=x.device)
        with torch.no_grad(), self._autocast(x):
            fake = gen(z, labels).float()
        with self._autocast(x):
            loss = self.task.d_loss(disc(x, labels), disc(fake, labels))
        if self.task.loss_name == "wgan-gp" and self.task.gp_weight > 0:
            loss = loss + self.task.gp_weight * gradient_penalty(disc, x, fake, labels)
        _check_finite(loss, "discriminator")
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.d_opt.step()
        return loss.detach()

    def generator_step(self, n: int, labels: Tensor | None) -> Tensor:
        """One update of the generator only; the discriminator's weights take no gradient."""
        gen, disc = self.model.generator, self.model.discriminator
        z = torch.randn(n, gen.latent, device=next(gen.parameters()).device)
        disc.requires_grad_(False)
        try:
            with self._autocast(z):
                loss = self.task.g_loss(disc(gen(z, labels), labels))
            _check_finite(loss, "generator")
            self.g_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.g_opt.step()
        finally:
            disc.requires_grad_(True)
        return loss.detach()

    def _autocast(self, like: Tensor) -> contextlib.AbstractContextManager:
        return autocast(like.device, self.precision)

    def state_dict(self) -> dict[str, Any]:
        return {"d_opt": self.d_opt.state_dict(), "g_opt": self.g_opt.state_dict(), "batches": self.batches}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_opt.load_state_dict(state["d_opt"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.batches = int(state["batches"])


def gradient_penalty(disc: nn.Module, real: Tensor, fake: Tensor, labels: Tensor | None) -> Tensor:
    """WGAN-GP's penalty (Gulrajani et al., 2017): mean (|grad_x D(x_hat)| - 1)**2 at random points
    x_hat between real and generated images, in float32."""
    eps = torch.rand(len(real), *([1] * (real.ndim - 1)), device=real.device)
    between = (eps * real.float() + (1 - eps) * fake.float()).requires_grad_(True)
    scores = disc(between, labels).float()
    (grads,) = torch.autograd.grad(scores.sum(), between, create_graph=True)
    return (grads.flatten(1).norm(dim=1) - 1).square().mean()


def diversity_ratio(generated: Tensor, real: Tensor, labels: Tensor | None) -> float:
    """Mean pairwise L2 distance between generated images over that between real ones (up to
    ``DIVERSITY_IMAGES`` each); per class when ``labels`` (shared by both sides) are given. About 1 when
    the generator varies as much as the data; near 0 when it has collapsed."""
    def spread(images: Tensor) -> Tensor:
        flat = images[:DIVERSITY_IMAGES].flatten(1).float()
        n = len(flat)
        return torch.cdist(flat, flat).sum() / max(1, n * (n - 1))

    if labels is None:
        return (spread(generated) / spread(real).clamp(min=1e-12)).item()
    ratios = [spread(generated[labels == c]) / spread(real[labels == c]).clamp(min=1e-12)
              for c in labels.unique() if (labels == c).sum() >= 2]
    return torch.stack(ratios).mean().item() if ratios else float("nan")


def _check_finite(loss: Tensor, which: str) -> None:
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the {which} loss became {loss.item()}")


def _check_gan(model: nn.Module) -> None:
    if not (hasattr(model, "generator") and hasattr(model, "discriminator")):
        raise LayerLabError("task.name: adversarial needs a GAN model; use model.name: dcgan or cgan")


def add_generated(data: Any, gan: Any, *, per_class: int, seed: int) -> Any:
    """``data`` (a classification ``Dataset``) with ``per_class`` images of every class, drawn from the
    conditional GAN run ``gan`` (an ``api.LoadedRun``), added to its training split.

    The images are prepared with ``data``'s own preprocessing (standardisation), as the real ones are.
    Raises LayerLabError when the run is not a conditional GAN, or was trained on other classes or
    another image shape.
    """
    from dataclasses import replace

    from layerlab.data import Split

    model, task = gan.model, gan.task
    if not isinstance(task, AdversarialTask) or not getattr(model, "num_classes", None):
        raise LayerLabError(f"data.generated: {gan.run.path} is not a conditional GAN run (task adversarial, "
                            "model cgan)")
    if data.info.class_names != task.class_names or tuple(data.info.input_shape) != tuple(gan.info.input_shape):
        raise LayerLabError(f"data.generated: {gan.run.path} was trained on other classes or another image shape "
                            f"({gan.info.class_names}, {gan.info.input_shape}) than this data's "
                            f"({data.info.class_names}, {data.info.input_shape})")
    classes = torch.arange(model.num_classes).repeat_interleave(per_class)
    pixels = task.sample(model, len(classes), seed=seed, classes=classes).cpu()
    x = data.preprocessor.transform(pixels.numpy() * data.preprocessor.scale)  # as the source's raw pixels
    train = Split(torch.cat([data.train.x, x.to(data.train.x.device)]),
                  torch.cat([data.train.y, classes.to(data.train.y.device, data.train.y.dtype)]))
    log.info("data.generated: %d generated images (%d per class) added to %d training images",
             len(classes), per_class, len(data.train))
    return replace(data, train=train)
