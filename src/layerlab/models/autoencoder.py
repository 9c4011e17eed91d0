"""``autoencoder`` and ``vae``: an encoder to a small code and a decoder back to the input.

    x (B, *shape) -> encoder -> z (B, latent) -> decoder -> logits (B, *shape)

``kind: conv`` (images): two stride-2 4x4 convolutions (``width``, ``2 * width`` channels), then a
linear layer to the code; the decoder mirrors it with transposed convolutions. Image sides must be
divisible by 4 (28x28 -> 14x14 -> 7x7). ``kind: dense`` (any shape, tables too): flatten, one hidden
layer of ``hidden`` units on each side.

The decoder returns *logits*: ``torch.sigmoid(model(x))`` is the reconstruction in pixel space
[0, 1]; the tasks use the logits for a numerically stable binary cross-entropy.

``vae`` is the same network whose encoder gives a Gaussian posterior, mean and log-variance of each
latent dimension (``posterior``); ``forward`` decodes the posterior mean. It also counts its training
batches in a buffer (``train_batches``), which the VAE task reads for the KL warm-up; being in the
state dict, the count survives a checkpoint and a resume.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_image import AutoencoderConfig
from layerlab.models.layers import activation, image_shape


class Autoencoder(nn.Module):
    """Encoder and decoder; with ``variational`` the encoder gives a mean and a log-variance."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent: int, *, variational: bool):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.latent, self.variational = latent, variational
        if variational:
            self.register_buffer("train_batches", torch.zeros((), dtype=torch.long))

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The Gaussian posterior q(z|x): mean and log-variance, each (B, latent). VAEs only."""
        if not self.variational:
            raise LayerLabError("a plain autoencoder has no posterior; use model.name: vae")
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var.clamp(-30.0, 20.0)  # keeps exp(log_var) finite

    def encode(self, x: Tensor) -> Tensor:
        """The code of each input (B, latent): a VAE's posterior mean."""
        return self.posterior(x)[0] if self.variational else self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Logits of the reconstruction (B, *shape) for codes (B, latent)."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


def _build(cfg: AutoencoderConfig, input_shape: tuple[int, ...], *, variational: bool) -> Autoencoder:
    code = cfg.latent * (2 if variational else 1)
    if cfg.kind == "dense":
        size = math.prod(input_shape)
        encoder = nn.Sequential(nn.Flatten(), nn.Linear(size, cfg.hidden), activation(cfg.activation),
                                nn.Linear(cfg.hidden, code))
        decoder = nn.Sequential(nn.Linear(cfg.latent, cfg.hidden), activation(cfg.activation),
                                nn.Linear(cfg.hidden, size), nn.Unflatten(1, input_shape))
        return Autoencoder(encoder, decoder, cfg.latent, variational=variational)
    channels, height, width = image_shape(cfg.name, input_shape)
    if height % 4 or width % 4:
        raise LayerLabError(f"model '{cfg.name}' with kind: conv needs image sides divisible by 4, got "
                            f"{height}x{width}; use model.kind: dense")
    w = cfg.width
    inner = (2 * w, height // 4, width // 4)  # the feature map at the bottleneck
    encoder = nn.Sequential(
        nn.Conv2d(channels, w, 4, stride=2, padding=1), activation(cfg.activation),  # (B, w, H/2, W/2)
        nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), activation(cfg.activation),  # (B, 2w, H/4, W/4)
        nn.Flatten(), nn.Linear(math.prod(inner), code),  # (B, code)
    )
    decoder = nn.Sequential(
        nn.Linear(cfg.latent, math.prod(inner)), activation(cfg.activation), nn.Unflatten(1, inner),
        nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), activation(cfg.activation),  # (B, w, H/2, W/2)
        nn.ConvTranspose2d(w, channels, 4, stride=2, padding=1),  # (B, C, H, W) logits
    )
    return Autoencoder(encoder, decoder, cfg.latent, variational=variational)


@MODELS.register("autoencoder")
def build_autoencoder(cfg: AutoencoderConfig, input_shape: tuple[int, ...], num_outputs: int) -> Autoencoder:
    """An autoencoder for inputs of ``input_shape``; ``num_outputs`` (the classes) is not used."""
    return _build(cfg, input_shape, variational=False)


@MODELS.register("vae")
def build_vae(cfg: AutoencoderConfig, input_shape: tuple[int, ...], num_outputs: int) -> Autoencoder:
    """A VAE for inputs of ``input_shape``; ``num_outputs`` (the classes) is not used."""
    return _build(cfg, input_shape, variational=True)
