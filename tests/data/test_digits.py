"""load_data on scikit-learn's digits: shapes, splits, stratification, determinism, normalisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from layerlab.data import DATASETS, Dataset, load_data
from layerlab.errors import DataError, RecipeError
from layerlab.recipe import AugmentConfig, DataConfig, load_recipe


def load(seed: int = 0, **fields) -> Dataset:
    return load_data(DataConfig(name="digits", **fields), task="classification", seed=seed)


def class_shares(y: torch.Tensor) -> np.ndarray:
    return np.bincount(y.numpy(), minlength=10) / len(y)


def test_every_source_is_registered_with_a_description():
    assert set(DATASETS.names()) >= {"digits", "fashion-mnist", "mnist", "cifar10", "image-folder", "csv",
                                      "tinyshakespeare", "text", "rt-polarity", "sentences", "multi30k", "parallel"}
    assert all(entry.description for entry in DATASETS)


def test_digits_shapes_sizes_and_info():
    data = load()
    # 1797 examples: 20% test (359), then 10% of the remaining 1438 for validation (144)
    assert (len(data.train), len(data.val), len(data.test)) == (1294, 144, 359)
    assert data.train.x.shape == (1294, 1, 8, 8) and data.train.x.dtype == torch.float32
    assert data.train.y.dtype == torch.int64 and set(data.train.y.tolist()) == set(range(10))
    info = data.info
    assert (info.name, info.modality, info.input_shape, info.num_classes) == ("digits", "image", (1, 8, 8), 10)
    assert info.class_names == [str(d) for d in range(10)] and info.feature_names is None


def test_splits_are_stratified():
    data = load()
    overall = np.bincount(load_digits().target, minlength=10) / 1797
    for split in (data.train, data.val, data.test):
        assert np.abs(class_shares(split.y) - overall).max() < 0.02


def test_splits_are_disjoint_and_cover_the_data():
    data = load(normalize=False)
    pixels = torch.cat([data.train.x, data.val.x, data.test.x]).reshape(-1, 64) * 16
    rows = {tuple(r) for r in pixels.round().int().tolist()}
    expected = {tuple(r) for r in load_digits().data.astype(int).tolist()}
    assert len(pixels) == 1797 and rows == expected


def test_same_seed_same_split_and_different_seed_different_split():
    a, b, c = load(seed=5), load(seed=5), load(seed=6)
    for name in ("train", "val", "test"):
        assert torch.equal(getattr(a, name).x, getattr(b, name).x)
        assert torch.equal(getattr(a, name).y, getattr(b, name).y)
    assert not torch.equal(a.test.y, c.test.y)
    assert a.preprocessor.to_dict() == b.preprocessor.to_dict()


def test_normalisation_statistics_come_from_the_training_split_only():
    raw = load(normalize=False)  # pixels in [0, 1]
    data = load()
    mean, std = raw.train.x.mean().item(), raw.train.x.std(unbiased=False).item()
    assert data.preprocessor.mean == pytest.approx([mean], rel=1e-5)
    assert data.preprocessor.std == pytest.approx([std], rel=1e-4)
    assert data.train.x.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert data.train.x.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    # validation and test are standardised with the training statistics, not their own
    assert torch.allclose(data.test.x, (raw.test.x - mean) / std, atol=1e-5)
    assert data.test.x.mean().item() != pytest.approx(0.0, abs=1e-4)


def test_unnormalised_digits_are_scaled_to_unit_range():
    data = load(normalize=False)
    assert data.train.x.min() == 0 and data.train.x.max() == 1
    assert data.preprocessor.mean is None


def test_limit_caps_training_examples_before_the_validation_split():
    data = load(limit=600)
    assert (len(data.train), len(data.val), len(data.test)) == (540, 60, 359)
    assert np.abs(class_shares(data.train.y) - 0.1).max() < 0.02


def test_no_validation_split():
    data = load(val_fraction=0.0, limit=512)
    assert len(data.train) == 512 and len(data.val) == 0
    assert data.val.x.shape == (0, 1, 8, 8)


def test_given_preprocessor_is_applied_instead_of_fitted():
    trained = load(seed=1)
    again = load_data(DataConfig(name="digits"), task="classification", seed=1, preprocessor=trained.preprocessor)
    assert again.preprocessor is trained.preprocessor
    assert torch.equal(again.test.x, trained.test.x)
    other = load_data(DataConfig(name="digits"), task="classification", seed=2, preprocessor=trained.preprocessor)
    assert other.train.x.mean().item() != pytest.approx(0.0, abs=1e-5)  # seed 2's training split, seed 1's statistics


def test_split_to_device_and_len():
    data = load(limit=100)
    moved = data.train.to("cpu")
    assert len(moved) == 90 and moved.x.device.type == "cpu"


def test_image_data_refuses_regression():
    with pytest.raises(DataError, match="regression needs a csv table"):
        load_data(DataConfig(name="digits"), task="regression", seed=0)


def test_unknown_source_name_is_refused_by_the_recipe():
    from layerlab.errors import RecipeError
    from layerlab.recipe import load_recipe

    with pytest.raises(RecipeError, match="did you mean 'digits'"):
        load_recipe({"data": {"name": "digit"}})


def test_augment_config_is_part_of_the_data_section():
    cfg = DataConfig(name="digits", augment=AugmentConfig(crop_padding=1))
    assert cfg.augment.crop_padding == 1


def test_k_folds_test_every_digit_once():
    images = load_digits().data
    tests = [load(folds=5, fold=k, val_fraction=0.1, normalize=False).test for k in range(5)]
    seen = torch.cat([t.x.flatten(1) for t in tests]).numpy()
    whole = load(normalize=False, test_fraction=0.0, val_fraction=0.0).train.x.flatten(1).numpy()
    assert len(seen) == len(images) == len(whole)
    assert np.array_equal(np.unique(seen, axis=0, return_counts=True)[1],
                          np.unique(whole, axis=0, return_counts=True)[1])  # the whole data set, each once
    assert np.allclose(np.unique(seen, axis=0), np.unique(whole, axis=0))
    fold = load(folds=5, fold=2, val_fraction=0.1)
    assert len(fold.test) in (359, 360) and len(fold.train) + len(fold.val) + len(fold.test) == len(images)
    assert np.abs(class_shares(fold.test.y) - class_shares(fold.train.y)).max() < 0.02  # stratified
    with pytest.raises(RecipeError, match=r"data.fold: is 0-based and must be below data.folds \(5\), got 5"):
        load_recipe({"data": {"name": "digits", "folds": 5, "fold": 5}})
    with pytest.raises(RecipeError, match="data.fold: needs data.folds"):
        load_recipe({"data": {"name": "digits", "fold": 1}})
