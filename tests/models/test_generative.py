"""The generative families: autoencoder, vae, dcgan, cgan (shapes, options, refusals)."""

from __future__ import annotations

import pytest
import torch

from layerlab.errors import LayerLabError
from layerlab.models import create_model


@pytest.mark.parametrize("kind", ["conv", "dense"])
def test_autoencoder_encodes_to_its_latent_and_decodes_to_the_input_shape(kind):
    torch.manual_seed(0)
    model = create_model({"name": "autoencoder", "kind": kind, "latent": 5, "width": 4, "hidden": 16},
                         input_shape=(1, 28, 28), num_outputs=10)
    x = torch.rand(3, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (3, 5)
    assert model.decode(z).shape == (3, 1, 28, 28)
    assert torch.equal(model(x), model.decode(z))


def test_dense_autoencoder_takes_tables():
    model = create_model({"name": "autoencoder", "kind": "dense", "latent": 2}, input_shape=(12,), num_outputs=1)
    assert model(torch.randn(4, 12)).shape == (4, 12)


def test_vae_posterior_has_a_mean_and_a_log_variance_per_latent_dimension():
    torch.manual_seed(0)
    model = create_model({"name": "vae", "latent": 6, "width": 4}, input_shape=(3, 32, 32), num_outputs=10)
    mean, log_var = model.posterior(torch.rand(2, 3, 32, 32))
    assert mean.shape == log_var.shape == (2, 6)
    assert torch.equal(model.encode(torch.zeros(1, 3, 32, 32)), model.posterior(torch.zeros(1, 3, 32, 32))[0])
    assert "train_batches" in model.state_dict()  # the KL warm-up's counter travels with the weights


def test_plain_autoencoder_has_no_posterior():
    model = create_model({"name": "autoencoder"}, input_shape=(1, 8, 8), num_outputs=10)
    with pytest.raises(LayerLabError, match="use model.name: vae"):
        model.posterior(torch.rand(1, 1, 8, 8))


@pytest.mark.parametrize("name", ["autoencoder", "dcgan"])
def test_conv_models_refuse_sides_not_divisible_by_4(name):
    with pytest.raises(LayerLabError, match="divisible by 4") as info:
        create_model({"name": name}, input_shape=(1, 30, 30), num_outputs=10)
    assert "30x30" in str(info.value)


def test_gan_samples_are_images_in_pixel_space():
    torch.manual_seed(0)
    gan = create_model({"name": "dcgan", "latent": 8, "width": 8, "d_width": 8}, input_shape=(1, 28, 28), num_outputs=10)
    images = gan.sample(5)
    assert images.shape == (5, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    assert gan.num_classes is None and gan(images).shape == (5, 1)


def test_conditional_gan_needs_classes_and_uses_them():
    torch.manual_seed(0)
    gan = create_model({"name": "cgan", "latent": 8, "width": 8, "d_width": 8}, input_shape=(1, 8, 8), num_outputs=3).eval()
    assert gan.num_classes == 3
    with pytest.raises(LayerLabError, match="class of each image"):
        gan.sample(2)
    z = torch.randn(2, 8)
    a = gan.generator(z, torch.tensor([0, 0]))
    b = gan.generator(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)  # the class changes the image
    x = torch.rand(2, 1, 8, 8)
    assert not torch.allclose(gan(x, torch.tensor([0, 0])), gan(x, torch.tensor([2, 2])))  # the projection


def test_spectral_norm_bounds_the_discriminator_layers():
    torch.manual_seed(0)
    gan = create_model({"name": "dcgan", "spectral_norm": True, "d_width": 8, "width": 8}, input_shape=(1, 8, 8),
                       num_outputs=1)
    head = gan.discriminator.head
    assert hasattr(head, "parametrizations")
    for _ in range(20):  # power iterations converge in training mode
        gan.discriminator(torch.rand(4, 1, 8, 8))
    assert torch.linalg.matrix_norm(head.weight, ord=2).item() == pytest.approx(1.0, abs=0.05)
