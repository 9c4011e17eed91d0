"""Reconstruction: an autoencoder learns to give back its input, or with ``task.noise`` to clean it.

The targets are the inputs themselves, in pixel space [0, 1] (the recipe sets ``data.normalize:
false``); the class labels ride along unused. With noise (gaussian, salt_pepper, mask) the model sees a
corrupted input and is scored against the clean one: a denoising autoencoder.

Loss: MSE of the reconstruction (``sigmoid`` of the model's logits), or binary cross-entropy on the
logits. Metrics: MSE, PSNR and SSIM of each image, averaged; with noise also the PSNR of the noisy
input and the gain over it. Validation noise is drawn from a fixed seed, so epochs compare fairly.
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
from layerlab.tasks.config import ReconstructionConfig
from layerlab.tasks.imaging import corrupt, psnr, ssim

EVAL_NOISE_SEED = 0  # the noise of every evaluation, so that epochs and runs compare on the same inputs
PIXELS_SHOWN = 4  # decimals of each pixel in ``predict``


class Reconstruction(NamedTuple):
    logits: Tensor  # (B, *shape): the model's output; sigmoid(logits) is the image
    target: Tensor  # (B, *shape): the clean input
    noisy: Tensor | None = None  # (B, *shape): the corrupted input the model saw, when there is noise


@TASKS.register("reconstruction")
class ReconstructionTask(Task):
    name = "reconstruction"
    target = TargetSpec("class", unsupervised=True, stratify=True)
    monitor = ("val_loss", "min")
    pixel_space = ReconstructionConfig.pixel_space  # inputs are pixels in [0, 1]: the recipe refuses data.normalize

    def __init__(self, *, loss: str = "mse", noise: str = "none", noise_level: float = 0.3,
                 num_classes: int | None = None, class_names: list[str] | None = None):
        self.loss_name = "mse" if loss == "auto" else loss
        self.noise, self.noise_level = noise, float(noise_level)
        self.num_classes, self.class_names = num_classes, class_names

    @classmethod
    def from_config(cls, cfg: ReconstructionConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> ReconstructionTask:
        return cls(loss=cfg.loss, noise=cfg.noise, noise_level=cfg.noise_level, num_classes=num_classes,
                   class_names=class_names)

    def num_outputs(self) -> int:
        return self.num_classes or 1  # the autoencoders ignore it; their output has the input's shape

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": self.loss_name, "noise": self.noise, "noise_level": self.noise_level}

    # ------------------------------------------------------------------------------------ every step
    def forward(self, model: nn.Module, x: Tensor, y: Tensor) -> Reconstruction:
        noisy = corrupt(x, self.noise, self.noise_level)
        return Reconstruction(model(noisy), x)

    def loss(self, output: Reconstruction, target: Tensor) -> Tensor:
        """Mean per-pixel MSE of ``sigmoid(logits)``, or mean binary cross-entropy of the logits."""
        return reconstruction_loss(output.logits, output.target, self.loss_name)

    # ----------------------------------------------------------------------------- a whole split
    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        output = self.reconstruct(model, split.x, batch_size=batch_size, precision=precision)
        return self.metrics(output, split.y), (self.report(output, split.y) if report else {})

    @torch.inference_mode()
    def reconstruct(self, model: nn.Module, x: Tensor, *, batch_size: int, precision: str = "fp32") -> Reconstruction:
        """Logits of ``model`` on ``x`` corrupted by the task's noise (from a fixed seed), batch by batch."""
        was_training = model.training
        model.eval()
        generator = torch.Generator(x.device).manual_seed(EVAL_NOISE_SEED)
        noisy = corrupt(x, self.noise, self.noise_level, generator)
        with autocast(x.device, precision):
            logits = [model(noisy[i : i + batch_size]).float() for i in range(0, len(x), batch_size)]
        model.train(was_training)
        return Reconstruction(torch.cat(logits), x, noisy if self.noise != "none" else None)

    def metric_names(self) -> list[str]:
        """What ``evaluate`` reports for image data (tables have no ``ssim``)."""
        return ["loss", "mse", "psnr", "ssim"] + (["noisy_psnr", "psnr_gain"] if self.noise != "none" else [])

    def metrics(self, output: Reconstruction, target: Tensor) -> dict[str, float]:
        """``loss``, ``mse``, ``psnr`` (dB) and ``ssim`` averaged over the images; with noise also
        ``noisy_psnr`` (of the corrupted input) and ``psnr_gain`` (psnr - noisy_psnr)."""
        per_image = self._per_image(output)
        values = {"loss": reconstruction_loss(output.logits, output.target, self.loss_name).item()}
        values.update({k: v.mean().item() for k, v in per_image.items()})
        if "noisy_psnr" in values:
            values["psnr_gain"] = values["psnr"] - values["noisy_psnr"]
        return values

    def report(self, output: Reconstruction, target: Tensor) -> dict[str, Any]:
        """The metrics, and the mean PSNR and SSIM of each class when the data has classes."""
        result: dict[str, Any] = self.metrics(output, target)
        if self.class_names and target.numel():
            per_image = self._per_image(output)
            labels = target.long()
            result["per_class"] = {
                name: {"psnr": per_image["psnr"][labels == i].mean().item(),
                       "ssim": per_image["ssim"][labels == i].mean().item(), "n": int((labels == i).sum())}
                for i, name in enumerate(self.class_names) if (labels == i).any()
            }
        return result

    def _per_image(self, output: Reconstruction) -> dict[str, Tensor]:
        estimate = torch.sigmoid(output.logits.float())
        values = {"mse": (estimate - output.target).square().flatten(1).mean(1), "psnr": psnr(estimate, output.target)}
        if estimate.ndim == 4:
            values["ssim"] = ssim(estimate, output.target)
        if output.noisy is not None:
            values["noisy_psnr"] = psnr(output.noisy, output.target)
        return values

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """The reconstruction of each input: ``{"shape": [...], "pixels": [...]}`` (flattened, in [0, 1])."""
        images = torch.sigmoid(output.float())
        return [{"shape": list(image.shape), "pixels": [round(v, PIXELS_SHOWN) for v in image.flatten().tolist()]}
                for image in images]

    def generate(self, model: nn.Module, *, preprocessor: Any, device: Any, **options: Any) -> dict[str, Any]:
        raise UsageError("an autoencoder reconstructs but does not generate; use `layerlab reconstruct RUN`, "
                         "or train a vae (fashion-vae) or a GAN (fashion-dcgan) to generate")


def reconstruction_loss(logits: Tensor, target: Tensor, kind: str) -> Tensor:
    """Mean per-value loss: ``mse`` of ``sigmoid(logits)``, or ``bce`` (binary cross-entropy on logits)."""
    logits, target = logits.float(), target.float()
    if logits.shape != target.shape:
        raise LayerLabError(f"a reconstruction has the input's shape; got {tuple(logits.shape)} for inputs "
                            f"{tuple(target.shape)} (use an autoencoder model)")
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    return F.mse_loss(torch.sigmoid(logits), target)
