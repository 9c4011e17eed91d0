"""What each family adapts for small images, checked on the built modules, and that a model learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from layerlab.models import create_model


def build(section: dict, shape: tuple[int, ...], outputs: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return create_model(section, input_shape=shape, num_outputs=outputs)


def count(model: nn.Module, kind: type[nn.Module]) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize(("side", "pools"), [(8, 2), (28, 2), (32, 2)])
def test_cnn_pools_between_blocks_until_the_map_is_two_pixels(side, pools):
    model = build({"name": "cnn", "width": 4}, (1, side, side))
    assert count(model, nn.MaxPool2d) == pools
    deep = build({"name": "cnn", "width": 4, "blocks": 5}, (1, side, side))
    assert count(deep, nn.MaxPool2d) == {8: 2, 28: 4, 32: 4}[side]  # 8 -> 4 -> 2, then no more
    assert deep(torch.randn(2, 1, side, side)).shape == (2, 10)


def test_cnn_options_shape_the_network():
    model = build({"name": "cnn", "width": 8, "blocks": 2, "convs_per_block": 3, "batch_norm": False,
                   "activation": "gelu", "kernel_size": 5, "head_hidden": 16, "dropout": 0.2}, (3, 32, 32))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 8, 16, 16, 16]
    assert convs[0].in_channels == 3 and convs[0].kernel_size == (5, 5) and convs[0].bias is not None
    assert count(model, nn.BatchNorm2d) == 0 and count(model, nn.GELU) == 7
    assert [m.out_features for m in model.head if isinstance(m, nn.Linear)] == [16, 10]


@pytest.mark.parametrize(("shape", "kernel", "maxpool"), [((1, 28, 28), 3, False), ((3, 64, 64), 7, True)])
def test_resnet_stem_follows_the_input_size(shape, kernel, maxpool):
    model = build({"name": "resnet18"}, shape)
    assert model.conv1.in_channels == shape[0] and model.conv1.kernel_size == (kernel, kernel)
    assert isinstance(model.maxpool, nn.MaxPool2d) == maxpool
    forced = build({"name": "resnet18", "stem": "imagenet"}, shape)
    assert forced.conv1.kernel_size == (7, 7) and forced(torch.randn(2, *shape)).shape == (2, 10)


def test_resnet_width_scales_every_stage():
    model = build({"name": "resnet50", "width": 16}, (3, 32, 32))
    assert model.conv1.out_channels == 16
    assert [getattr(model, f"layer{i}")[0].conv3.out_channels for i in range(1, 5)] == [64, 128, 256, 512]
    assert model.fc.in_features == 512
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnet_zero_init_residual_starts_blocks_as_identities():
    model = build({"name": "resnet18"}, (3, 32, 32))
    assert all(torch.all(block.bn2.weight == 0) for block in model.layer1)
    plain = build({"name": "resnet18", "zero_init_residual": False}, (3, 32, 32))
    assert all(torch.all(block.bn2.weight == 1) for block in plain.layer1)


def test_resnet_with_the_imagenet_stem_takes_a_torchvision_checkpoint():
    model = build({"name": "resnet18", "stem": "imagenet"}, (3, 224, 224), outputs=1000)
    reference = resnet18(weights=None).eval()
    model.load_state_dict(reference.state_dict())  # strict: the same names and shapes
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x))


@pytest.mark.parametrize(("side", "pools"), [(8, 3), (28, 4), (32, 5)])
def test_vgg_drops_the_pools_that_would_leave_less_than_a_pixel(side, pools):
    model = build({"name": "vgg11", "width": 0.125}, (1, side, side))
    assert count(model, nn.MaxPool2d) == pools
    assert model(torch.randn(2, 1, side, side)).shape == (2, 10)


def test_vgg_width_head_and_batch_norm_options():
    model = build({"name": "vgg16", "width": 0.25, "batch_norm": False, "head_hidden": 32}, (3, 32, 32))
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and convs[0].in_channels == 3 and convs[-1].out_channels == 128
    assert count(model, nn.BatchNorm2d) == 0
    assert [m.out_features for m in model.classifier if isinstance(m, nn.Linear)] == [32, 10]
    imagenet = build({"name": "vgg11", "width": 0.125, "head": "imagenet"}, (3, 32, 32))
    assert [m.out_features for m in imagenet.classifier if isinstance(m, nn.Linear)] == [4096, 4096, 10]


@pytest.mark.parametrize("section", [{"name": "cnn", "width": 16, "blocks": 2}, {"name": "mlp", "hidden": [64]}], ids=["cnn", "mlp"])
def test_model_learns_digits(section):
    """Real data: scikit-learn's 8x8 digits, 8 epochs of Adam, well above chance on held-out digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16  # (1797, 1, 8, 8)
    y = torch.tensor(digits.target)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(x), generator=generator)
    train, test = order[:1400], order[1400:]
    model = build(section, (1, 8, 8))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(8):
        model.train()
        for batch in train[torch.randperm(len(train), generator=generator)].split(64):
            loss = F.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x[test]).argmax(1) == y[test]).float().mean().item()
    assert accuracy > 0.9
