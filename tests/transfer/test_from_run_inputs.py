"""``model.from_run`` prepares the inputs as the backbone's run did: its image statistics, its tokenizer."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from layerlab import api
from layerlab.errors import DataError
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_weights

QUIET = {"epochs": 1, "batch_size": 32, "report": False, "diagnostics_every": 0}


def preprocessing(run_dir) -> dict:
    return json.loads((run_dir / "model.json").read_text())["preprocessor"]


@pytest.fixture
def bright_images(tmp_path):
    """An image folder of 8x8 grey images, much brighter than scikit-learn's digits: two classes."""
    rng = np.random.default_rng(0)
    for label, level in (("dim", 150), ("lit", 230)):
        folder = tmp_path / "bright" / label
        folder.mkdir(parents=True)
        for i in range(20):
            pixels = np.clip(rng.normal(level, 20, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(folder / f"{i}.png")
    return tmp_path / "bright"


def test_images_are_standardised_with_the_backbone_s_statistics(bright_images, tmp_path):
    model = {"name": "cnn", "width": 4, "blocks": 2}
    first = api.run({"data": {"name": "digits", "limit": 300}, "model": model, "train": QUIET}, out=tmp_path / "first")
    recipe = {"data": {"name": "image-folder", "path": str(bright_images), "grayscale": True, "val_fraction": 0,
                       "test_fraction": 0.25},
              "model": {**model, "from_run": str(first.run_dir)}, "train": QUIET}
    second = api.run(recipe, out=tmp_path / "second")
    source, target = preprocessing(first.run_dir), preprocessing(second.run_dir)
    assert target["mean"] == source["mean"] and target["std"] == source["std"]
    assert target["classes"] == ["dim", "lit"]  # the targets stay this data's
    # The same images standardised on their own statistics: the backbone would have seen other inputs.
    own = api.run({**recipe, "model": model}, out=tmp_path / "own")
    assert abs(preprocessing(own.run_dir)["mean"][0] - source["mean"][0]) > 0.3
    # evaluate and predict read the run's own preprocessing: the inputs as in training, the same metrics
    assert api.evaluate(second.run_dir)["metrics"]["accuracy"] == pytest.approx(second.summary["test"]["accuracy"])


def test_sentences_take_the_backbone_s_tokenizer(tmp_path):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    source_csv, target_csv = tmp_path / "a.csv", tmp_path / "b.csv"
    source_csv.write_text("text,label\n" + "".join(
        f"{' '.join(rng.choice(words[:30], 6))},{'x' if i % 2 else 'y'}\n" for i in range(120)))
    # other words (w20-w39) and other classes: fitted on its own, this data's vocabulary would differ in size
    target_csv.write_text("text,label\n" + "".join(
        f"{' '.join(rng.choice(words[20:], 4))},{('p', 'q', 'r')[i % 3]}\n" for i in range(90)))
    model = {"name": "lstm", "hidden": 8, "layers": 1, "embed_dim": 8}
    data = {"name": "sentences", "tokenizer": "word", "val_fraction": 0}
    first = api.run({"data": {**data, "path": str(source_csv)}, "model": model, "train": QUIET}, out=tmp_path / "first")
    second = api.run({"data": {**data, "path": str(target_csv)}, "model": {**model, "from_run": str(first.run_dir)},
                      "train": QUIET}, out=tmp_path / "second")
    source, target = preprocessing(first.run_dir), preprocessing(second.run_dir)
    assert target["tokenizer"] == source["tokenizer"]
    assert target["classes"] == ["p", "q", "r"]
    own = api.run({"data": {**data, "path": str(target_csv)}, "model": model, "train": QUIET}, out=tmp_path / "own")
    assert preprocessing(own.run_dir)["tokenizer"] != source["tokenizer"]


def test_a_backbone_of_another_modality_is_refused_before_training(bright_images, tmp_path):
    first = api.run({"data": {"name": "image-folder", "path": str(bright_images), "grayscale": True},
                     "model": {"name": "mlp", "hidden": [8]}, "train": QUIET}, out=tmp_path / "first")
    csv = tmp_path / "s.csv"
    csv.write_text("text,label\n" + "".join(f"a b {i},{i % 2}\n" for i in range(40)))
    recipe = {"data": {"name": "sentences", "path": str(csv)},
              "model": {"name": "lstm", "hidden": 8, "layers": 1, "from_run": str(first.run_dir)}, "train": QUIET}
    with pytest.raises(DataError, match="model.from_run: that run was trained on image data, but sentences gives text"):
        api.run(recipe, out=tmp_path / "second")


def test_a_resumed_run_keeps_the_inputs_it_began_with_when_the_backbone_s_run_is_gone(bright_images, tmp_path):
    model = {"name": "cnn", "width": 4, "blocks": 2}
    first = api.run({"data": {"name": "digits", "limit": 300}, "model": model, "train": QUIET}, out=tmp_path / "first")
    recipe = {"data": {"name": "image-folder", "path": str(bright_images), "grayscale": True, "val_fraction": 0},
              "model": {**model, "from_run": str(first.run_dir)}, "train": {**QUIET, "epochs": 2, "batch_size": 8}}
    whole = api.run(recipe, out=tmp_path / "whole")

    def stop_after_three(trainer, loss):
        if trainer.state.global_step == 3:
            trainer.interrupt()

    with pytest.raises(api.Interrupted):
        api.run(recipe, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=stop_after_three)])
    shutil.rmtree(first.run_dir)
    resumed = api.run(resume=tmp_path / "cut")
    w1, w2 = load_weights(whole.run_dir / "model.safetensors"), load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_spectrograms_take_the_backbone_s_band_statistics_and_refuse_other_bands():
    from layerlab.data.audio_preprocessor import AudioPreprocessor

    def audio(n_mels, mean, classes):
        return AudioPreprocessor(8000, 8000, n_mels, 32.0, 16.0, True, [mean] * n_mels, [2.0] * n_mels, classes)

    adopted = audio(4, 0.0, ["a", "b"]).with_inputs_of(audio(4, 5.0, ["x", "y", "z"]))
    assert adopted.mean == [5.0] * 4 and adopted.std == [2.0] * 4 and adopted.classes == ["a", "b"]
    with pytest.raises(DataError, match="that run's spectrograms have 8 mel bands, these 4; set data.n_mels: 8"):
        audio(4, 0.0, ["a"]).with_inputs_of(audio(8, 5.0, ["x"]))
