"""Language modelling: an LSTM learns tiny-shakespeare; metrics; generation from the run directory alone."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch

import layerlab
from layerlab.api import generate, load_run
from layerlab.errors import LayerLabError, UsageError
from layerlab.tasks.language_model import LanguageModelTask

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
VOCAB = ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", " ", "\n"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_metrics_are_perplexity_and_bits_per_character_of_the_cross_entropy():
    task = LanguageModelTask(VOCAB)
    torch.manual_seed(0)
    output, target = torch.randn(3, 5, len(VOCAB)), torch.randint(4, len(VOCAB), (3, 5))
    metrics = task.metrics(output, target)
    loss = torch.nn.functional.cross_entropy(output.flatten(0, 1), target.flatten()).item()
    assert metrics["loss"] == pytest.approx(loss)
    assert metrics["perplexity"] == pytest.approx(math.exp(loss))
    assert metrics["bits_per_char"] == pytest.approx(loss / math.log(2))  # one character per token
    with pytest.raises(LayerLabError, match="set model.pooling: none"):
        task.loss(torch.randn(3, len(VOCAB)), target)


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    """An LSTM trained for ~10 s on the first 60,000 characters of tiny-shakespeare."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    torch.set_num_threads(1)
    recipe = {
        "name": "tiny-lm",
        "data": {"name": "tinyshakespeare", "limit": 60000, "max_length": 64, "val_fraction": 0.1, "test_fraction": 0.05},
        "model": {"name": "lstm", "embed_dim": 32, "hidden": 128, "layers": 1, "pooling": "none"},
        "task": {"name": "language_model"},
        "train": {"epochs": 4, "batch_size": 32, "lr": 0.01, "grad_clip": 1.0, "report": False, "threads": 1},
    }
    with pytest.MonkeyPatch.context() as env:  # a module fixture runs before the per-test offline set-up
        env.setenv("LAYERLAB_DATA", str(SHARED_DATA))
        env.setenv("LAYERLAB_OFFLINE", "1")
        env.setenv("LAYERLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        return layerlab.run(recipe, out=tmp_path_factory.mktemp("runs") / "lm")


@pytest.mark.slow
def test_an_lstm_language_model_learns_tiny_shakespeare(lstm_run, shared_data):
    uniform = math.log(len(load_run(lstm_run.run_dir).info.class_names))  # ln V: a model that learned nothing
    test = lstm_run.summary["test"]
    assert test["loss"] < 0.65 * uniform, test
    assert test["bits_per_char"] == pytest.approx(test["loss"] / math.log(2))
    assert lstm_run.history[-1]["val_loss"] < lstm_run.history[0]["val_loss"]
    # the gradient through time of the recurrent model, recorded at each epoch end and plotted
    lines = (lstm_run.run_dir / "diagnostics" / "time_gradients.csv").read_text().splitlines()
    assert lines[0].startswith("epoch,back_0,back_1") and len(lines) == 1 + len(lstm_run.history)
    assert (lstm_run.run_dir / "diagnostics" / "time_gradients.png").stat().st_size > 1000


@pytest.mark.slow
def test_generate_continues_a_prompt_from_the_run_directory_alone(lstm_run, tmp_path, monkeypatch):
    copy = shutil.copytree(lstm_run.run_dir, tmp_path / "moved")
    monkeypatch.setenv("LAYERLAB_DATA", str(tmp_path))  # no data set is needed to generate
    out = generate(copy, prompt="ROMEO:", tokens=80, temperature=0.8, top_k=10, seed=1)
    assert out["text"].startswith("ROMEO:") and out["tokens"] == 80 and len(out["text"]) == 6 + 80
    assert generate(copy, prompt="ROMEO:", tokens=80, temperature=0.8, top_k=10, seed=1) == out  # seeded
    greedy = generate(copy, prompt="ROMEO:", tokens=40, temperature=0)
    assert generate(copy, prompt="ROMEO:", tokens=40, top_k=1, seed=7)["text"] == greedy["text"]
    assert generate(copy, tokens=20)["text"]  # an empty prompt starts from a line break
    with pytest.raises(UsageError, match="--tokens must be positive"):
        generate(copy, prompt="a", tokens=0)
