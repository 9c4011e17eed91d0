"""2-D maps: PCA and t-SNE shapes, quality against a random projection, and the files written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from layerlab.analyze.embed import (
    embed_features,
    map_quality,
    penultimate_features,
    project,
    representation,
    write_embedding,
)
from layerlab.errors import UsageError


@pytest.fixture(autouse=True)
def one_openmp_thread():
    """t-SNE's OpenMP threads slow it down many times over on a busy shared machine (measured 16x)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:300].astype(np.float32) / 16, y[:300]  # small: t-SNE's cost grows fast


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_maps_have_one_point_per_item_and_beat_a_random_projection(method, digits):
    x, y = digits
    coords = project(x, method, seed=0)
    assert coords.shape == (len(x), 2) and np.isfinite(coords).all()
    random = x @ np.random.default_rng(0).normal(size=(x.shape[1], 2)).astype(np.float32)
    ours, theirs = map_quality(x, coords, y), map_quality(x, random, y)
    assert ours["trustworthiness"] > theirs["trustworthiness"] + 0.05
    assert ours["knn_accuracy"] > theirs["knn_accuracy"]
    if method == "tsne":  # t-SNE keeps the digit classes apart
        assert ours["knn_accuracy"] > 0.9 and ours["trustworthiness"] > 0.95


def test_knn_accuracy_counts_each_items_neighbours_but_not_itself():
    coords = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11], [11, 10]], dtype=float)
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert map_quality(coords, coords, labels, k=2)["knn_accuracy"] == 1.0
    assert map_quality(coords, coords, 1 - labels[[0, 3, 1, 4, 2, 5]], k=2)["knn_accuracy"] < 0.5


def test_unknown_method_and_missing_umap_are_explained(digits):
    with pytest.raises(UsageError, match="'tsen' is not a projection method; did you mean 'tsne'"):
        project(digits[0], "tsen")


def test_written_files_are_self_contained(tmp_path, digits):
    x, y = digits
    result = embed_features(x[:120], y[:120], methods=("pca", "tsne"))
    images = torch.from_numpy(x[:120]).view(-1, 1, 8, 8)
    written = write_embedding(result, tmp_path, class_names=[f"digit {i}" for i in range(10)], items=images,
                              title="digits", compare=True)
    assert set(written["files"]) == {"pca.csv", "pca.png", "tsne.csv", "tsne.png", "compare.png", "embedding.html",
                                     "quality.json"}
    rows = list(csv.DictReader(open(tmp_path / "tsne.csv")))
    assert len(rows) == 120 and rows[0].keys() == {"index", "label", "x", "y"} and rows[0]["label"].startswith("digit")
    page = (tmp_path / "embedding.html").read_text()
    assert "<script src" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert page.count("data:image/png;base64,") == 120  # one hover thumbnail per item, inline
    assert json.loads((tmp_path / "quality.json").read_text())["pca"]["trustworthiness"] > 0.5


def test_representations_of_a_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    x = torch.rand(5, 1, 8, 8)
    features = penultimate_features(model, x)
    expected = torch.relu(model[1](x.flatten(1)))
    assert features.shape == (5, 7) and np.allclose(features, expected.detach().numpy(), atol=1e-6)
    assert representation(model, x, source="inputs").shape == (5, 64)
    with pytest.raises(UsageError, match="--source latent needs an autoencoder"):
        representation(model, x, source="latent")
