"""FixMatch's strong augmentation: each operation does what its name says, on a whole batch with
per-example magnitudes; the whole is seeded, stays in the inputs' range, and changes every example."""

from __future__ import annotations

import pytest
import torch

from layerlab.data import strong_augment as sa

H = W = 17  # odd: a centre pixel


def _ramp(b: int = 2, c: int = 1) -> torch.Tensor:
    """(b, c, H, W) in [0, 1]: a diagonal ramp (every value distinct enough to see changes)."""
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    return ((rows + cols).float() / (H + W - 2)).expand(b, c, H, W).clone()


def _bar(column: int) -> torch.Tensor:
    """(1, 1, H, W): black, one white column."""
    x = torch.zeros(1, 1, H, W)
    x[..., column] = 1.0
    return x


def _centroid(x: torch.Tensor, dim: int) -> float:
    """Where the brightness above GREY lies, along rows (dim=2) or columns (dim=3)."""
    weight = (x - sa.GREY).clamp_min(0)[0, 0]
    positions = torch.arange(x.shape[dim], dtype=torch.float32)
    profile = weight.sum(1 if dim == 2 else 0)
    return float((profile * positions).sum() / profile.sum())


def test_identity_and_zero_magnitudes_leave_the_image():
    x, zero = _ramp(), torch.zeros(2)
    for name, op in sa.OPS.items():
        if name in ("autocontrast", "posterize"):
            continue  # stretches the range; rounds to 8 bits
        assert torch.allclose(op(x, zero), x, atol=1e-5), name


def test_brightness_scales_towards_black_or_up():
    x = _ramp()
    assert torch.allclose(sa.brightness(x, torch.tensor([-1.0, 0.0])), x * torch.tensor([0.05, 1.0])[:, None, None, None])
    assert torch.allclose(sa.brightness(x, torch.tensor([1.0, 1.0])), (1.95 * x).clamp(max=1))


def test_contrast_shrinks_or_grows_the_spread_about_the_mean():
    x = _ramp() * 0.5 + 0.25
    low, high = sa.contrast(x, torch.tensor([-1.0, 1.0])).unbind(0)
    assert low.std().item() == pytest.approx(0.05 * x[0].std().item(), rel=1e-3)
    assert high.std() > 1.5 * x[0].std() and low.mean().item() == pytest.approx(x[0].mean().item(), abs=1e-5)


def test_colour_desaturates_rgb_and_leaves_grey_alone():
    rgb = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0))
    grey = sa.colour(rgb, torch.tensor([-1.0]))
    spread = lambda t: (t.amax(1) - t.amin(1)).mean().item()  # noqa: E731 -- how far the channels differ
    assert spread(grey) == pytest.approx(0.05 * spread(rgb), rel=1e-3)
    one = _ramp(1)
    assert torch.allclose(sa.colour(one, torch.tensor([1.0])), one)


def test_sharpness_smooths_or_sharpens():
    x = torch.rand(2, 1, H, W, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.25
    variation = lambda t: (t[..., 1:] - t[..., :-1]).abs().mean()  # noqa: E731
    smooth, sharp = sa.sharpness(x, torch.tensor([-1.0, 1.0])).unbind(0)
    assert variation(smooth) < 0.7 * variation(x[0]) and variation(sharp) > 1.3 * variation(x[1])


def test_posterize_keeps_four_bits_at_full_magnitude():
    x = torch.linspace(0, 1, H * W).view(1, 1, H, W)
    assert len(sa.posterize(x, torch.tensor([1.0])).unique()) == 16
    assert len(sa.posterize(x, torch.tensor([0.0])).unique()) > 200


def test_solarize_inverts_the_values_above_its_threshold():
    x = _ramp(1)
    half = sa.solarize(x, torch.tensor([0.5]))
    assert torch.equal(half[x >= 0.5], 1 - x[x >= 0.5]) and torch.equal(half[x < 0.5], x[x < 0.5])
    assert torch.allclose(sa.solarize(x, torch.tensor([-1.0])), 1 - x)


def test_autocontrast_stretches_each_image_to_the_whole_range():
    x = _ramp() * 0.3 + 0.2
    out = sa.autocontrast(x, torch.zeros(2))
    assert out.amin() == 0 and out.amax() == pytest.approx(1)


@pytest.mark.parametrize(("op", "dim"), [(sa.translate_x, 3), (sa.translate_y, 2)])
def test_translations_move_the_image_by_up_to_a_third(op, dim):
    x = _bar(H // 2) if dim == 3 else _bar(H // 2).transpose(2, 3)
    moved = op(x, torch.tensor([1.0]))
    back = op(x, torch.tensor([-1.0]))
    shift = sa.MAX_SHIFT * H
    assert abs(_centroid(moved, dim) - _centroid(x, dim)) == pytest.approx(shift, abs=0.6)
    assert _centroid(back, dim) - H // 2 == pytest.approx(-(_centroid(moved, dim) - H // 2), abs=0.6)
    assert (moved == sa.GREY).any()  # grey comes in at the edge


def test_shear_x_slants_a_vertical_bar():
    sheared = sa.shear_x(_bar(H // 2), torch.tensor([1.0]))
    top, bottom = sheared[..., :3, :], sheared[..., -3:, :]
    assert abs(_centroid(top, 3) - _centroid(bottom, 3)) > 0.2 * H
    assert _centroid(sheared[..., H // 2 : H // 2 + 1, :], 3) == pytest.approx(H // 2, abs=0.5)  # the centre row stays


def test_shear_y_and_rotate_move_a_horizontal_bar_off_its_row():
    bar = _bar(H // 2).transpose(2, 3)
    for op in (sa.shear_y, sa.rotate):
        out = op(bar, torch.tensor([1.0]))
        left, right = out[..., :3], out[..., -3:]
        assert abs(_centroid(left, 2) - _centroid(right, 2)) > 0.2 * H, op.__name__
        assert out[0, 0, H // 2, W // 2] == pytest.approx(1.0, abs=1e-4)  # about the centre


def test_rotate_turns_by_up_to_thirty_degrees_both_ways():
    bar = _bar(H // 2).transpose(2, 3)
    plus, minus = sa.rotate(bar.expand(2, 1, H, W), torch.tensor([1.0, -1.0])).unbind(0)
    assert torch.allclose(plus, minus.flip(-1), atol=1e-5)  # mirror images of each other
    slope = (_centroid(plus[None, ..., -3:], 2) - _centroid(plus[None, ..., :3], 2)) / (W - 3)
    assert abs(slope) == pytest.approx(torch.tan(torch.tensor(torch.pi / 6)).item(), abs=0.08)


def test_cutout_fills_one_square_of_the_given_side():
    x = torch.zeros(1, 1, H, W)
    out = sa.cutout(x, torch.tensor([7.0]), torch.tensor([[0.5, 0.5]]))  # centred on the middle pixel
    filled = out[0, 0] == sa.GREY
    assert filled.sum() == 49 and filled[5:12, 5:12].all()


def test_the_whole_is_seeded_in_range_and_changes_every_example():
    x = torch.randn(64, 3, H, W, generator=torch.Generator().manual_seed(2))
    low, high = x.amin((0, 2, 3)), x.amax((0, 2, 3))
    strong = sa.StrongAugment(low, high)
    a = strong(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, strong(x, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, strong(x, torch.Generator().manual_seed(6)))
    assert (a >= low[None, :, None, None] - 1e-4).all() and (a <= high[None, :, None, None] + 1e-4).all()
    assert ((a - x).abs().flatten(1).amax(1) > 1e-3).all()  # cutout at least, on every example
    with pytest.raises(ValueError, match="image batches"):
        strong(x.flatten(1), torch.Generator())


@pytest.mark.parametrize("batch", [1, 7, 64])
def test_operations_on_their_own_examples_give_the_bits_of_the_whole_batch(batch):
    """The CPU's way (each operation on the examples that drew it) against the device's (every operation
    on the whole batch, then torch.where): the same bits, every operation drawn, one and three channels."""
    g = torch.Generator().manual_seed(batch)
    for channels in (1, 3):
        x = torch.rand(batch, channels, H, W, generator=g)
        for _ in range(4):
            pick = torch.randint(len(sa.OPS), (batch,), generator=g)
            m = torch.rand(batch, generator=g) * 2 - 1
            assert torch.equal(sa.apply_ops(x.clone(), pick, m, by_rows=True), sa.apply_ops(x, pick, m, by_rows=False))
