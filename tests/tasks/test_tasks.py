"""Every registered task keeps the contract the trainer and the commands rely on."""

from __future__ import annotations

import json

import pytest
import torch

from layerlab.errors import LayerLabError
from layerlab.recipe import TaskConfig
from layerlab.tasks import TASKS, Task, create_task

DATA = {  # what the data side hands create_task for each task
    "classification": {"num_classes": 4, "class_names": ["ant", "bee", "cat", "dog"],
                       "train_targets": torch.tensor([0, 1, 2, 3, 3, 3])},
    "regression": {"num_classes": None, "class_names": None, "train_targets": torch.randn(6)},
}
# Text tasks: the classes are the (target) vocabulary; targets are token sequences (N, T).
VOCAB = ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", " "]
DATA["language_model"] = {"num_classes": 8, "class_names": VOCAB, "train_targets": torch.randint(4, 8, (3, 5))}
DATA["seq2seq"] = {"num_classes": 8, "class_names": VOCAB, "train_targets": torch.randint(4, 8, (3, 6))}
# Speech recognition: the blank, then the tokens; targets are 0-padded token rows (N, L).
DATA["speech_recognition"] = {"num_classes": 5, "class_names": ["<blank>", " ", "a", "b", "c"],
                              "train_targets": torch.tensor([[2, 1, 3, 0], [4, 4, 0, 0]])}
# Forecasting: the next `horizon` values of a series (N, horizon); without a preprocessor, unit scale.
DATA["forecast"] = {"num_classes": None, "class_names": None, "train_targets": torch.randn(6, 1)}
# Segmentation: a class per pixel; targets are class maps (N, H, W).
DATA["segmentation"] = {"num_classes": 3, "class_names": ["background", "cat", "dog"],
                        "train_targets": torch.randint(0, 3, (4, 6, 5))}


def batch(task: Task, n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    output = torch.randn(n, task.num_outputs(), generator=g)
    if task.name in ("language_model", "seq2seq"):  # an output per token; seq2seq targets start with <bos>
        target = torch.randint(4, task.num_outputs(), (n, 6 if task.name == "seq2seq" else 5), generator=g)
        return torch.randn(n, 5, task.num_outputs(), generator=g), target
    if task.name == "classification":
        return output, torch.randint(0, task.num_outputs(), (n,), generator=g)
    if task.name == "speech_recognition":  # per-frame logits (B, T, V); token rows 0-padded after a random length
        target = torch.randint(1, task.num_outputs(), (n, 4), generator=g)
        target[torch.arange(4)[None, :] >= torch.randint(1, 5, (n, 1), generator=g)] = 0
        return torch.randn(n, 12, task.num_outputs(), generator=g), target
    if task.name == "segmentation":  # per-pixel logits (B, C, H, W) for class maps (B, H, W)
        return (torch.randn(n, task.num_outputs(), 6, 5, generator=g),
                torch.randint(0, task.num_outputs(), (n, 6, 5), generator=g))
    return output, torch.randn(n, generator=g)


def test_registry_lists_the_tasks_of_the_recipe():
    assert set(TASKS.names()) >= {"classification", "regression", "language_model", "seq2seq"}
    for entry in TASKS:
        assert entry.obj.name == entry.name and entry.description


# The generative tasks (pixel_space) score structured outputs (reconstruction and input, posterior, the
# discriminator's two logits) in their own evaluate; tests/tasks/test_generative_tasks.py covers them.
# Detection's loss is the model's own loss dict and its outputs are per-image detections: tests/vision covers it.
# Speech synthesis's targets are token-duration pairs and its output a named tuple (log-mels, durations):
# tests/speech/test_speech_synthesis.py covers it.
TENSOR_TASKS = [n for n in TASKS.names() if not getattr(TASKS.get(n), "pixel_space", False)
                and n not in ("detection", "speech_synthesis")]


@pytest.mark.parametrize("name", TENSOR_TASKS)
def test_task_contract(name):
    task = create_task(TaskConfig(name=name), **DATA[name])
    assert task.name == name
    metric, mode = task.monitor
    assert metric.startswith("val_") and mode in ("min", "max")

    output, target = batch(task)
    output.requires_grad_(True)
    loss = task.loss(output, target)
    assert loss.ndim == 0 and loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()

    metrics = task.metrics(output.detach(), target)
    assert "loss" in metrics and f"val_{next(iter(metrics))}" == "val_loss"
    assert metric.removeprefix("val_") in metrics
    assert all(isinstance(v, float) for v in metrics.values())
    json.dumps(task.report(output.detach(), target))
    predictions = task.predict(output.detach())
    assert len(predictions) == len(output)
    json.dumps(predictions)
    TaskConfig(**task.config_dict())  # the saved section is a valid recipe section


@pytest.mark.parametrize("name", TENSOR_TASKS)
def test_metric_names_on_a_tiny_made_up_batch(name):
    """The trainer's CLI finds a task's metric names from two all-zero outputs; that must work."""
    task = create_task(TaskConfig(name=name), **DATA[name])
    if name != "segmentation":  # a class map has no made-up (2,) form: the task names its metrics
        target = torch.zeros(2, dtype=torch.long) if name == "classification" else torch.zeros(2)
        assert "loss" in task.metrics(torch.zeros(2, task.num_outputs()), target)
    # Task.metric_names makes that batch from the task's TargetSpec, with no test of the task's name
    names = task.metric_names()
    assert names[0] == "loss" and task.monitor[0].removeprefix("val_") in names
    output, target = batch(task)
    assert names == list(task.metrics(output, target))


def test_classification_without_classes_is_refused():
    with pytest.raises(LayerLabError, match="task.name is 'classification' but the data has no classes.*regression"):
        create_task(TaskConfig(), **DATA["regression"])


def test_classification_on_numeric_targets_is_refused():
    with pytest.raises(LayerLabError, match="integer class index"):
        create_task(TaskConfig(), num_classes=3, class_names=None, train_targets=torch.tensor([0.5, 1.5]))


def test_class_targets_out_of_range_are_refused():
    with pytest.raises(LayerLabError, match=r"0\.\.2; the training targets span 0\.\.5"):
        create_task(TaskConfig(), num_classes=3, class_names=None, train_targets=torch.tensor([0, 5]))


def test_class_names_must_fit_the_classes():
    with pytest.raises(LayerLabError, match="3 classes but 2 class names"):
        create_task(TaskConfig(), num_classes=3, class_names=["a", "b"], train_targets=torch.tensor([0, 1, 2]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", TENSOR_TASKS)
def test_same_results_on_the_gpu(name):
    cfg = TaskConfig(name=name, class_weights=[1.0, 2.0, 1.0, 0.5]) if name == "classification" else TaskConfig(name=name)
    task = create_task(cfg, **DATA[name])
    output, target = batch(task, 64)
    cuda = torch.device("cuda")
    torch.testing.assert_close(task.loss(output.to(cuda), target.to(cuda)).cpu(), task.loss(output, target))
    assert task.metrics(output.to(cuda), target.to(cuda)) == pytest.approx(task.metrics(output, target), rel=1e-5)
    assert_close_nested(task.report(output.to(cuda), target.to(cuda)), task.report(output, target))


def assert_close_nested(got, expected):
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        for key in expected:
            assert_close_nested(got[key], expected[key])
    elif isinstance(expected, list):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert_close_nested(a, b)
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-5, nan_ok=True)
    else:
        assert got == expected
