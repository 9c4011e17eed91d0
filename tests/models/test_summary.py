"""Model summaries: parameter counts, FLOPs (a multiply-add is 2), rows in forward order, shapes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from layerlab.errors import LayerLabError
from layerlab.models import create_model, parse_input_shape, summarize


def test_flops_of_one_linear_layer_count_a_multiply_add_as_two():
    summary = summarize(nn.Sequential(nn.Linear(10, 5)), (10,))
    assert summary.flops == 2 * 10 * 5
    assert summary.params == 10 * 5 + 5


def test_conv_flops_per_example():
    summary = summarize(nn.Conv2d(3, 8, 3, padding=1, bias=False), (3, 16, 16))
    assert summary.flops == 2 * (3 * 3 * 3) * 8 * 16 * 16


def test_params_and_rows_add_up_with_frozen_layers():
    torch.manual_seed(0)
    model = create_model({"name": "cnn"}, input_shape=(1, 28, 28), num_outputs=10)
    for p in model.features.block1.parameters():
        p.requires_grad_(False)
    summary = summarize(model, (1, 28, 28))
    assert summary.params == sum(p.numel() for p in model.parameters())
    assert summary.trainable == summary.params - sum(p.numel() for p in model.features.block1.parameters())
    assert sum(r.params for r in summary.rows) == summary.params
    assert sum(r.trainable for r in summary.rows) == summary.trainable
    assert summary.input_shape == (1, 28, 28)


def test_rows_follow_the_forward_pass_with_per_example_shapes():
    model = create_model({"name": "cnn", "width": 8, "blocks": 2}, input_shape=(1, 28, 28), num_outputs=10)
    rows = summarize(model, (1, 28, 28)).rows
    assert [r.name for r in rows][:3] == ["features.block1.0", "features.block1.1", "features.block1.2"]
    assert (rows[0].type, rows[0].output_shape, rows[0].params) == ("Conv2d", (8, 28, 28), 8 * 9)
    pool = next(r for r in rows if r.type == "MaxPool2d")
    assert pool.output_shape == (8, 14, 14)
    assert rows[-1].output_shape == (10,)


def test_summary_leaves_the_training_mode_and_reports_a_bad_input():
    model = nn.Sequential(nn.Linear(4, 2), nn.BatchNorm1d(2))  # a batch of one works only in eval mode
    summarize(model, (4,))
    assert model.training
    with pytest.raises(LayerLabError, match="cannot take input of shape 5"):
        summarize(model, (5,))


@pytest.mark.parametrize(("text", "shape"), [("1x28x28", (1, 28, 28)), ("12", (12,)), (" 3 x 32X32 ", (3, 32, 32))])
def test_parse_input_shape(text, shape):
    assert parse_input_shape(text) == shape


@pytest.mark.parametrize("text", ["", "x", "1x28x", "0x28x28", "-1", "1.5x2", "28*28", "abc"])
def test_parse_input_shape_refuses_nonsense(text):
    with pytest.raises(LayerLabError, match="such as 1x28x28"):
        parse_input_shape(text)
