"""VAE: a variational autoencoder trained on the ELBO, split into its reconstruction and KL terms.

For an image x (pixels in [0, 1]) with posterior q(z|x) = N(mean, exp(log_var)) and prior N(0, I):

    reconstruction = -log p(x|z)  (Bernoulli decoder: the binary cross-entropy summed over the pixels)
    kl             = KL(q(z|x) || p(z)) = 0.5 * sum(mean**2 + exp(log_var) - 1 - log_var)
    loss           = reconstruction + weight * kl,   weight = beta * min(1, batches / kl_warmup)

so that ``-loss`` is the ELBO in nats per image when beta is 1 (a beta-VAE weighs the KL by beta).
The weight rises over the first ``task.kl_warmup`` training batches (KL warm-up), counted by the model
itself (``train_batches``) so that a resumed run continues the warm-up where it was. Metrics of a
split: ``elbo`` (always with weight 1), its two terms, ``loss`` (with beta) and PSNR/SSIM of the
posterior-mean reconstructions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError, UsageError
from layerlab.models.inference import autocast
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import VAEConfig
from layerlab.tasks.imaging import psnr, save_grid, ssim

EVAL_SEED = 0  # the posterior samples of every evaluation
FIXED_SAMPLES = 64  # images in the grid saved after every epoch


class VAEOutput(NamedTuple):
    logits: Tensor  # (B, *shape): the decoder's logits for z drawn from the posterior
    target: Tensor  # (B, *shape): the input
    mean: Tensor  # (B, latent)
    log_var: Tensor  # (B, latent)
    kl_weight: float = 1.0  # beta times the warm-up factor, when training


def kl_divergence(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mean, exp(log_var)) || N(0, I)) of each example (B,), summed over the latent dimensions."""
    mean, log_var = mean.float(), log_var.float()
    return 0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(dim=1)


def bernoulli_nll(logits: Tensor, target: Tensor) -> Tensor:
    """-log p(x|z) of each example (B,) under independent Bernoulli pixels: the summed BCE."""
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none").flatten(1).sum(1)


@TASKS.register("vae")
class VAETask(Task):
    name = "vae"
    target = TargetSpec("class", unsupervised=True, stratify=True)
    monitor = ("val_loss", "min")
    pixel_space = VAEConfig.pixel_space  # inputs are pixels in [0, 1]: the recipe refuses data.normalize

    def __init__(self, *, beta: float = 1.0, kl_warmup: int = 0, samples_seed: int = 1234,
                 num_classes: int | None = None):
        self.beta, self.kl_warmup, self.samples_seed = float(beta), int(kl_warmup), int(samples_seed)
        self.num_classes = num_classes

    @classmethod
    def from_config(cls, cfg: VAEConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> VAETask:
        return cls(beta=cfg.beta, kl_warmup=cfg.kl_warmup, samples_seed=cfg.samples_seed, num_classes=num_classes)

    def num_outputs(self) -> int:
        return self.num_classes or 1  # unused by the VAE

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": "bce", "beta": self.beta, "kl_warmup": self.kl_warmup,
                "samples_seed": self.samples_seed}

    def kl_weight(self, batches: int) -> float:
        """beta, scaled by the warm-up: 0 at the first batch, beta after ``kl_warmup`` batches."""
        if self.kl_warmup <= 0:
            return self.beta
        return self.beta * min(1.0, batches / self.kl_warmup)

    # ------------------------------------------------------------------------------------ every step
    def forward(self, model: nn.Module, x: Tensor, y: Tensor) -> VAEOutput:
        _check_vae(model)
        mean, log_var = model.posterior(x)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()  # the reparameterisation trick
        weight = self.kl_weight(int(model.train_batches))
        if model.training:
            model.train_batches += 1
        return VAEOutput(model.decode(z), x, mean, log_var, weight)

    def loss(self, output: VAEOutput, target: Tensor) -> Tensor:
        """Mean over the batch of reconstruction + kl_weight * KL, in nats per image."""
        return (bernoulli_nll(output.logits, output.target)
                + output.kl_weight * kl_divergence(output.mean, output.log_var)).mean()

    # ----------------------------------------------------------------------------- a whole split
    @torch.inference_mode()
    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        _check_vae(model)
        was_training = model.training
        model.eval()
        generator = torch.Generator(split.x.device).manual_seed(EVAL_SEED)
        sums = {"reconstruction": 0.0, "kl": 0.0, "psnr": 0.0, "ssim": 0.0}
        for i in range(0, len(split.x), batch_size):
            x = split.x[i : i + batch_size]
            with autocast(x.device, precision):
                mean, log_var = (t.float() for t in model.posterior(x))
                noise = torch.randn(mean.shape, generator=generator, device=mean.device)
                logits = model.decode(mean + noise * (0.5 * log_var).exp()).float()
                estimate = torch.sigmoid(model.decode(mean).float())
            sums["reconstruction"] += bernoulli_nll(logits, x).sum().item()
            sums["kl"] += kl_divergence(mean, log_var).sum().item()
            sums["psnr"] += psnr(estimate, x).sum().item()
            if x.ndim == 4:
                sums["ssim"] += ssim(estimate, x).sum().item()
        model.train(was_training)
        n = max(1, len(split.x))
        values = {k: v / n for k, v in sums.items() if k != "ssim" or split.x.ndim == 4}
        values["elbo"] = -(values["reconstruction"] + values["kl"])
        values["loss"] = values["reconstruction"] + self.beta * values["kl"]
        return values, (dict(values, beta=self.beta) if report else {})

    def metric_names(self) -> list[str]:
        """What ``evaluate`` reports for image data (tables have no ``ssim``)."""
        return ["loss", "reconstruction", "kl", "elbo", "psnr", "ssim"]

    def metrics(self, output: VAEOutput, target: Tensor) -> dict[str, float]:
        reconstruction = bernoulli_nll(output.logits, output.target).mean().item()
        kl = kl_divergence(output.mean, output.log_var).mean().item()
        return {"loss": reconstruction + self.beta * kl, "reconstruction": reconstruction, "kl": kl,
                "elbo": -(reconstruction + kl)}

    def report(self, output: VAEOutput, target: Tensor) -> dict[str, Any]:
        return self.metrics(output, target)

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """The reconstruction (from the posterior mean) of each input, flattened, in [0, 1]."""
        images = torch.sigmoid(output.float())
        return [{"shape": list(image.shape), "pixels": [round(v, 4) for v in image.flatten().tolist()]}
                for image in images]

    # -------------------------------------------------------------------------------- generating
    @torch.inference_mode()
    def sample(self, model: nn.Module, n: int, *, seed: int) -> Tensor:
        """``n`` images in [0, 1] decoded from prior draws z ~ N(0, I) made with ``seed``."""
        _check_vae(model)
        device = next(model.parameters()).device
        z = torch.randn(n, model.latent, generator=torch.Generator().manual_seed(seed)).to(device)
        was_training = model.training
        model.eval()
        images = torch.sigmoid(model.decode(z).float())
        model.train(was_training)
        return images

    def fixed_samples(self, model: nn.Module) -> Tensor | None:
        return self.sample(model, FIXED_SAMPLES, seed=self.samples_seed) if _is_image_vae(model) else None

    def generate(self, model: nn.Module, *, preprocessor: Any, device: Any, n: int = 64, class_: Any = None,
                 out: str | None = None, seed: int = 0, **options: Any) -> dict[str, Any]:
        """A PNG grid of ``n`` images decoded from the prior; ``{"path", "n", "shape"}``."""
        if class_ is not None:
            raise UsageError("a VAE is not conditioned on classes; leave out --class (a cgan run takes it)")
        if n < 1:
            raise UsageError(f"--n: give at least 1 image, not {n}")
        if out is None:
            raise UsageError("give the PNG file to write (--out grid.png)")
        images = self.sample(model, n, seed=seed)
        path = save_grid(images, out)
        return {"path": str(path), "n": n, "shape": list(images.shape[1:])}


def _check_vae(model: nn.Module) -> None:
    if not getattr(model, "variational", False):
        raise LayerLabError("task.name: vae needs a variational model; use model.name: vae")


def _is_image_vae(model: nn.Module) -> bool:
    with torch.no_grad():
        probe = model.decode(torch.zeros(1, model.latent, device=next(model.parameters()).device))
    return probe.ndim == 4
