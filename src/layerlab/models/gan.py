"""``dcgan`` and ``cgan``: a DCGAN generator and discriminator, unconditional or class-conditional.

    generator:     z (B, latent) [+ class embedding] -> linear -> (2w, H/4, W/4) -> BN, ReLU
                   -> transposed conv -> (w, H/2, W/2) -> BN, ReLU -> transposed conv -> (C, H, W) -> tanh
    discriminator: x (B, C, H, W) -> conv (dw, H/2, W/2) -> LeakyReLU -> conv (2dw, H/4, W/4) -> LeakyReLU
                   -> features (B, F) -> linear -> (B, 1) [+ projection of the class embedding]

Both sides work in pixel space [0, 1]: the generator's tanh is mapped to [0, 1] and the discriminator
maps its input back to [-1, 1]. The conditional discriminator is a projection discriminator
(Miyato & Koyama, 2018): its logit adds ``<embed(y), features(x)>`` to the unconditional one.
``spectral_norm`` wraps every discriminator layer in spectral normalisation (Miyato et al., 2018).

The two networks are the submodules ``generator`` and ``discriminator`` of one ``GAN`` module, so one
state dict (one safetensors file) holds both. ``GAN.forward(x, y)`` is the discriminator's logit.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_image import GANConfig
from layerlab.models.layers import image_shape

LEAK = 0.2  # LeakyReLU slope in the discriminator (DCGAN)
EMBED = 32  # width of the generator's class embedding


class Generator(nn.Module):
    def __init__(self, latent: int, shape: tuple[int, int, int], width: int, num_classes: int | None):
        super().__init__()
        channels, height, side_w = shape
        self.latent, self.num_classes = latent, num_classes
        self.embed = nn.Embedding(num_classes, EMBED) if num_classes else None
        inner = (2 * width, height // 4, side_w // 4)
        self.body = nn.Sequential(
            nn.Linear(latent + (EMBED if num_classes else 0), math.prod(inner), bias=False),
            nn.BatchNorm1d(math.prod(inner)), nn.ReLU(), nn.Unflatten(1, inner),  # (B, 2w, H/4, W/4)
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),  # (B, w, H/2, W/2)
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh(),  # (B, C, H, W) in [-1, 1]
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Images in [0, 1] (B, C, H, W) from noise (B, latent) and, when conditional, classes (B,)."""
        if self.embed is not None:
            if y is None:
                raise LayerLabError("a conditional generator needs the class of each image")
            z = torch.cat([z, self.embed(y)], dim=1)
        return (self.body(z) + 1) * 0.5


class Discriminator(nn.Module):
    def __init__(self, shape: tuple[int, int, int], width: int, num_classes: int | None, normalize: bool):
        super().__init__()
        channels, height, side_w = shape
        norm = spectral_norm if normalize else (lambda layer: layer)
        features = 2 * width * (height // 4) * (side_w // 4)
        self.features = nn.Sequential(
            norm(nn.Conv2d(channels, width, 4, stride=2, padding=1)), nn.LeakyReLU(LEAK),  # (B, dw, H/2, W/2)
            norm(nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)), nn.LeakyReLU(LEAK),  # (B, 2dw, H/4, W/4)
            nn.Flatten(),  # (B, F)
        )
        self.head = norm(nn.Linear(features, 1))
        self.embed = norm(nn.Embedding(num_classes, features)) if num_classes else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1): real (high) or generated (low). The class projection is added when ``y`` is
        given to a conditional discriminator; without it the logit is the unconditional part alone."""
        h = self.features(x * 2 - 1)
        out = self.head(h)
        if self.embed is not None and y is not None:
            out = out + (self.embed(y) * h).sum(dim=1, keepdim=True)
        return out


class GAN(nn.Module):
    """A generator and a discriminator; ``sample`` draws images, ``forward`` scores them."""

    def __init__(self, generator: Generator, discriminator: Discriminator):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator

    @property
    def latent(self) -> int:
        return self.generator.latent

    @property
    def num_classes(self) -> int | None:
        return self.generator.num_classes

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.discriminator(x, y)

    def sample(self, n: int, y: Tensor | None = None, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` images in [0, 1] from fresh noise (drawn with ``generator`` when given)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent, generator=generator, device=generator.device if generator else device)
        return self.generator(z.to(device), y)


@MODELS.register("dcgan")
def build_dcgan(cfg: GANConfig, input_shape: tuple[int, ...], num_outputs: int) -> GAN:
    """An unconditional DCGAN for images of ``input_shape``; ``num_outputs`` is not used."""
    return _build(cfg, input_shape, None)


@MODELS.register("cgan")
def build_cgan(cfg: GANConfig, input_shape: tuple[int, ...], num_outputs: int) -> GAN:
    """A conditional DCGAN for images of ``input_shape`` and ``num_outputs`` classes."""
    return _build(cfg, input_shape, num_outputs)


def _build(cfg: GANConfig, input_shape: tuple[int, ...], num_classes: int | None) -> GAN:
    shape = image_shape(cfg.name, input_shape)
    if shape[1] % 4 or shape[2] % 4:
        raise LayerLabError(f"model '{cfg.name}' needs image sides divisible by 4, got {shape[1]}x{shape[2]}")
    return GAN(Generator(cfg.latent, shape, cfg.width, num_classes),
               Discriminator(shape, cfg.d_width, num_classes, cfg.spectral_norm))
