"""Batching by index and augmentation of whole batches."""

from __future__ import annotations

import pytest
import torch

from layerlab.data.batching import (
    BatchAugment,
    batches,
    epoch_order,
    length_grouped,
    num_batches,
    token_lengths,
)
from layerlab.errors import DataError
from layerlab.recipe import AugmentConfig


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(b: int = 64, c: int = 3, h: int = 8, w: int = 10) -> torch.Tensor:
    """Distinct positive values everywhere, so any shift, flip or zeroing shows."""
    return torch.arange(1, b * c * h * w + 1, dtype=torch.float32).reshape(b, c, h, w)


# ------------------------------------------------------------------------------------------ batches
def test_epoch_order_is_a_pure_function_of_n_seed_and_epoch():
    a = epoch_order(100, seed=1, epoch=0)
    assert torch.equal(a, epoch_order(100, seed=1, epoch=0))
    assert sorted(a.tolist()) == list(range(100))
    assert not torch.equal(a, epoch_order(100, seed=1, epoch=1))
    assert not torch.equal(a, epoch_order(100, seed=2, epoch=0))
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(a, epoch_order(100, seed=1, epoch=0))


def test_batches_follow_the_order_and_start_skips_batches():
    x, y = torch.arange(10).float()[:, None], torch.arange(10)
    order = epoch_order(10, seed=0, epoch=0)
    whole = list(batches(x, y, batch_size=3, order=order))
    assert [len(b[1]) for b in whole] == [3, 3, 3, 1] and num_batches(10, 3) == 4
    assert torch.equal(torch.cat([b[1] for b in whole]), order)
    assert all(torch.equal(bx[:, 0].long(), by) for bx, by in whole)
    resumed = list(batches(x, y, batch_size=3, order=order, start=2))
    assert len(resumed) == 2 and all(torch.equal(a[1], b[1]) for a, b in zip(resumed, whole[2:], strict=True))


def test_sequential_batches_and_drop_last():
    x, y = torch.zeros(10, 2), torch.arange(10)
    assert [b[1].tolist() for b in batches(x, y, batch_size=4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(list(batches(x, y, batch_size=4, drop_last=True))) == num_batches(10, 4, drop_last=True) == 2
    assert list(batches(x, y, batch_size=4, start=5)) == []
    with pytest.raises(ValueError, match="order has 9 indices for 10 examples"):
        list(batches(x, y, batch_size=4, order=torch.arange(9)))


# ------------------------------------------------------------------------------------- augmentation
def test_disabled_augmentation_is_the_identity():
    augment = BatchAugment(AugmentConfig())
    x = images()
    assert not augment.enabled and augment(x, gen(0)) is x


def test_all_options_keep_shapes_and_are_pure_functions_of_the_generator_seed():
    augment = BatchAugment(AugmentConfig(crop_padding=2, hflip=True, vflip=True, erase=0.5, noise=0.1))
    x = images()
    a, b, c = augment(x, gen(7)), augment(x, gen(7)), augment(x, gen(8))
    assert augment.enabled and a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, images())  # the input is not changed


def test_random_crop_shifts_each_example_by_its_own_offset():
    p = 2
    x = images(b=64)
    out = BatchAugment(AugmentConfig(crop_padding=p))(x, gen(0))
    padded = torch.nn.functional.pad(x, (p, p, p, p))
    offsets = []
    for i in range(len(x)):  # the test may loop; the code does not
        matches = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                   if torch.equal(out[i], padded[i, :, dy:dy + 8, dx:dx + 10])]
        assert len(matches) == 1
        offsets.append(matches[0])
    assert len(set(offsets)) > 10 and any(o != (p, p) for o in offsets)  # content actually moves
    shifted = offsets.index(next(o for o in offsets if o[0] > p))
    assert (out[shifted, :, -1] == 0).all()  # shifted up: zero padding comes in at the bottom


def test_flips_flip_about_half_of_the_examples():
    x = images(b=200)
    for option, dim in (("hflip", 3), ("vflip", 2)):
        out = BatchAugment(AugmentConfig(**{option: True}))(x, gen(1))
        flipped = torch.tensor([torch.equal(out[i], x[i].flip(dim - 1)) for i in range(len(x))])
        kept = torch.tensor([torch.equal(out[i], x[i]) for i in range(len(x))])
        assert torch.all(flipped ^ kept) and 60 < int(flipped.sum()) < 140


def test_erasing_zeros_one_rectangle_across_channels():
    x = torch.ones(32, 3, 16, 16)
    out = BatchAugment(AugmentConfig(erase=1.0))(x, gen(2))
    for i in range(len(x)):
        zero = out[i] == 0
        assert torch.equal(zero[0], zero[1]) and torch.equal(zero[0], zero[2])
        rows, cols = zero[0].nonzero(as_tuple=True)
        assert len(rows) > 0
        box = zero[0, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.all() and int(zero[0].sum()) == box.numel()  # exactly a filled rectangle
    assert torch.all(out[out != 0] == 1)


def test_erase_probability_zero_point_three_erases_some():
    out = BatchAugment(AugmentConfig(erase=0.3))(torch.ones(200, 1, 8, 8), gen(3))
    erased = int((out == 0).flatten(1).any(1).sum())
    assert 30 < erased < 95


def test_noise_has_the_configured_standard_deviation_and_works_on_tables():
    x = torch.zeros(500, 20)
    out = BatchAugment(AugmentConfig(noise=0.5))(x, gen(4))
    assert out.std().item() == pytest.approx(0.5, rel=0.05) and out.mean().abs().item() < 0.03


def test_spatial_augmentation_needs_image_batches():
    with pytest.raises(DataError, match=r"need image batches \(B, C, H, W\), not shape \(4, 5\)"):
        BatchAugment(AugmentConfig(hflip=True))(torch.zeros(4, 5), gen(0))


def _token_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n right-padded token rows of 1..30 real tokens (ids >= 1), and targets of their own lengths."""
    g = torch.Generator().manual_seed(seed)
    x_len, y_len = torch.randint(1, 31, (n,), generator=g), torch.randint(2, 20, (n,), generator=g)
    x = torch.randint(1, 50, (n, 30), generator=g) * (torch.arange(30) < x_len[:, None])
    y = torch.randint(1, 50, (n, 20), generator=g) * (torch.arange(20) < y_len[:, None])
    return x, y


def test_token_lengths_count_input_and_target_tokens_and_refuse_images():
    x, y = torch.tensor([[5, 6, 0, 0], [7, 0, 0, 0]]), torch.tensor([[2, 9, 3], [2, 3, 0]])
    assert token_lengths(x, y).tolist() == [5, 3]
    assert token_lengths(x, torch.tensor([0, 1])).tolist() == [2, 1]  # class labels add nothing
    with pytest.raises(DataError, match=r"train.group_by_length .* float32 of shape \(1, 8, 8\)"):
        token_lengths(torch.zeros(4, 1, 8, 8), torch.zeros(4))


def test_length_grouped_batches_hold_one_length_and_stay_a_random_permutation():
    x, y = _token_data(1000)
    lengths = token_lengths(x, y)
    order = epoch_order(1000, seed=0, epoch=0)
    grouped = length_grouped(order, lengths, batch_size=16, seed=0, epoch=0, window=8)
    assert sorted(grouped.tolist()) == list(range(1000))  # every example once
    assert torch.equal(grouped, length_grouped(order, lengths, batch_size=16, seed=0, epoch=0, window=8))  # pure

    def spread(o: torch.Tensor) -> float:  # the mean range of lengths within a batch
        return sum(float(lengths[b].max() - lengths[b].min()) for b in o.split(16)) / len(o.split(16))

    assert spread(grouped) < spread(order) / 4
    # Batches do not come longest first: their order is shuffled again (not sorted by the window's lengths).
    firsts = [int(lengths[b].max()) for b in grouped.split(16)[:8]]
    assert firsts != sorted(firsts, reverse=True)
    # Another epoch, another grouping; the batch of 1000 % 16 = 8 left over stays last, so it comes out short.
    other = length_grouped(epoch_order(1000, seed=0, epoch=1), lengths, batch_size=16, seed=0, epoch=1, window=8)
    assert not torch.equal(other, grouped)
    assert [len(b) for b, _ in batches(x, y, batch_size=16, order=other)][-1] == 8
