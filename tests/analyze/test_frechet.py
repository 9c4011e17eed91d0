"""The Fréchet distance: zero for a set with itself, growing with noise, equal to scipy's reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from layerlab.analyze import frechet as frechet_module
from layerlab.analyze.frechet import METRIC_NAMES, frechet_distance
from layerlab.cli import main
from layerlab.errors import LayerLabError


def _reference(a: np.ndarray, b: np.ndarray) -> float:
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def test_a_set_is_at_distance_zero_from_itself_and_noise_pushes_it_away():
    torch.manual_seed(0)
    features = torch.randn(800, 16) @ torch.randn(16, 16)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    distances = [frechet_distance(features, features + s * torch.randn_like(features)) for s in (0.1, 0.5, 1.0, 2.0)]
    assert distances == sorted(distances) and distances[0] > 0


def test_it_matches_a_scipy_reference():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(250, 6)) @ rng.normal(size=(6, 6)) + 0.5
    ours = frechet_distance(torch.from_numpy(a), torch.from_numpy(b))
    assert ours == pytest.approx(_reference(a, b), rel=1e-6)


def test_mismatched_sets_are_refused():
    with pytest.raises(LayerLabError, match="same D; got \\(10, 3\\) and \\(10, 4\\)"):
        frechet_distance(torch.zeros(10, 3), torch.zeros(10, 4))


def test_report_on_a_classifiers_features_and_generated_training_data(tmp_path, monkeypatch):
    """End to end on digits: a small classifier judges a briefly trained conditional GAN; the GAN's
    samples then join a classifier's training split (data.generated)."""
    from layerlab import api
    from layerlab.analyze.generated import frechet

    fast = {"report": False, "diagnostics_every": 0, "threads": 1}
    classifier = api.run({"name": "cls", "data": {"name": "digits"}, "model": {"name": "mlp"},
                          "train": {"epochs": 8, "batch_size": 64, "lr": 0.003, **fast}}, out=tmp_path / "cls")
    api.run({"name": "gan", "data": {"name": "digits", "normalize": False},
             "model": {"name": "cgan", "latent": 8, "width": 16, "d_width": 16},
             "task": {"name": "adversarial", "loss": "hinge"},
             "train": {"epochs": 2, "batch_size": 64, "optimizer": "adam", "lr": 0.002, "betas": [0.5, 0.999], **fast}},
            out=tmp_path / "gan")
    assert len(list((tmp_path / "gan" / "samples").glob("*.png"))) == 2

    report = frechet(tmp_path / "gan", tmp_path / "cls", n=200)
    assert report["n"] == 200 and report["fd"] > report["fd_real_floor"] > 0
    assert report["real_accuracy"] > 0.8  # the judge knows real digits; the GAN's images are scored by it
    assert 0 <= report["class_accuracy"] <= 1 and len(report["per_class_accuracy"]) == 10
    assert "penultimate layer" in report["features"] and report["metric"] == METRIC_NAMES["classifier"]
    # torchvision's Inception (its weights are not here: a stand-in featurizer) is named as FID-like, not FID
    monkeypatch.setattr(frechet_module, "_inception_features", lambda device, batch_size: lambda px: px.flatten(1))
    named = frechet(tmp_path / "gan", tmp_path / "cls", n=200, features="inception")
    assert named["metric"] == METRIC_NAMES["inception"] and "torchvision" in named["features"]
    with pytest.raises(Exception, match="not a generative run"):
        frechet(tmp_path / "cls", tmp_path / "cls")

    augmented = api.run({"name": "aug", "data": {"name": "digits", "generated": str(tmp_path / "gan"),
                                                 "generated_per_class": 5},
                         "model": {"name": "mlp"}, "train": {"epochs": 1, **fast}}, out=tmp_path / "aug")
    assert augmented.summary["data"]["train"] == classifier.summary["data"]["train"] + 50


def test_neither_figure_is_called_fid():
    assert "not FID" in METRIC_NAMES["classifier"]
    assert "torchvision's ImageNet Inception-v3" in METRIC_NAMES["inception"]
    assert "not comparable to published FID" in METRIC_NAMES["inception"]


def test_the_help_and_the_refusal_say_what_inception_is(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        main(["frechet", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "torchvision's ImageNet Inception-v3" in help_text and "not comparable to published FID" in help_text

    import torchvision.models

    def no_weights(**_):
        raise RuntimeError("no network")

    monkeypatch.setattr(torchvision.models, "inception_v3", no_weights)
    with pytest.raises(LayerLabError, match="torchvision's Inception-v3 weights cannot be loaded.*neither is FID"):
        frechet_module._inception_features(torch.device("cpu"), 8)
