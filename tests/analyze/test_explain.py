"""Explanations: integrated-gradients completeness, Grad-CAM's size, token attributions, attention
maps, and `layerlab explain` on a trained run."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from layerlab.analyze import explain as methods
from layerlab.cli import main
from layerlab.errors import LayerLabError


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 3 * 4, 3)).eval()


def test_integrated_gradients_add_up_to_the_output_difference():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 3)).double().eval()
    x = torch.randn(5, dtype=torch.float64)
    baseline = torch.full_like(x, 0.3)
    attributions, delta = methods.integrated_gradients(model, x, target=2, baseline=baseline)
    with torch.no_grad():
        difference = (model(x[None]) - model(baseline[None]))[0, 2].item()
    assert abs(difference) > 1e-3  # a non-trivial case
    assert attributions.sum().item() == pytest.approx(difference, abs=1e-6)  # completeness
    assert abs(delta) < 1e-6


def test_integrated_gradients_of_an_image_add_up_too():
    model = small_cnn()
    x = torch.randn(1, 12, 16)
    attributions, delta = methods.integrated_gradients(model, x, target=1)
    with torch.no_grad():
        difference = (model(x[None]) - model(torch.zeros(1, 1, 12, 16)))[0, 1].item()
    assert attributions.shape == x.shape
    assert attributions.sum().item() == pytest.approx(difference, rel=0.02, abs=1e-3)


def test_grad_cam_has_the_input_size_and_points_at_the_evidence():
    model = small_cnn()
    x = torch.randn(1, 12, 16)  # not square, and the last conv sees only 6 x 8
    cam = methods.grad_cam(model, x, target=0)
    assert cam.shape == (12, 16)
    assert (cam >= 0).all()
    assert methods.saliency(model, x, target=0).shape == (12, 16)


def test_grad_cam_needs_a_convolution():
    with pytest.raises(LayerLabError, match="needs a convolutional layer"):
        methods.grad_cam(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), torch.randn(1, 2, 2), target=0)


class TinyTextModel(nn.Module):
    """Embedding -> self-attention -> mean over tokens -> linear: an embedding-input text classifier."""

    def __init__(self, vocab: int = 12, dim: int = 8, classes: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.attention = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids)  # (B, T, D)
        h, _ = self.attention(h, h, h, need_weights=False)
        return self.head(h.mean(1))  # (B, classes)


def _assert_one_score_per_position_adding_up(model: nn.Module, ids: torch.Tensor) -> None:
    """Integrated gradients of class 1: a score per position of ``ids`` (padding included), summing to the
    output's change from the baseline (completeness): the same sentence, its padding mask included, with
    the padding vector in place of every word's vector. The reference is a copy of the model whose word
    vectors are overwritten; for a model without a mask that is the all-padding sentence."""
    scores, delta = methods.token_attributions(model, ids, target=1)
    blank = copy.deepcopy(model)
    vectors = methods.embedding_layer(blank).weight
    with torch.no_grad():
        vectors[ids] = vectors[0].clone()
        difference = (model(ids[None]) - blank(ids[None]))[0, 1].item()
    assert abs(difference) > 1e-3  # a non-trivial case
    assert scores.shape == ids.shape
    assert scores.sum() == pytest.approx(difference, abs=1e-3)
    assert abs(delta) < 1e-3


def test_token_attributions_are_one_per_token_and_complete():
    torch.manual_seed(0)
    _assert_one_score_per_position_adding_up(TinyTextModel().eval(), torch.tensor([5, 3, 7, 0, 0]))


def test_attention_maps_come_out_of_multihead_attention():
    torch.manual_seed(0)
    model = TinyTextModel().eval()
    maps = methods.attention_maps(model, torch.tensor([5, 3, 7, 2]))
    assert [name for name, _ in maps] == ["attention"]
    weights = maps[0][1]
    assert weights.shape == (4, 4)
    assert weights.sum(1) == pytest.approx([1, 1, 1, 1], abs=1e-5)  # each query's weights sum to 1


def test_attention_maps_of_layerlabs_own_attention_modules():
    """The transformer classifier's multi-head attention (one (T, T) map per layer, heads averaged) and
    a GRU's additive attention pooling (one row); no weight on padding; the model is left as it was."""
    from layerlab.models import create_model
    from layerlab.models.attention import MultiHeadAttention

    ids = torch.tensor([5, 3, 7, 9, 0, 0])
    torch.manual_seed(0)
    transformer = create_model({"name": "transformer", "vocab_size": 30, "dim": 16, "heads": 2, "layers": 2},
                               input_shape=(6,), num_outputs=2).eval()
    maps = methods.attention_maps(transformer, ids)
    assert len(maps) == 2
    for _, weights in maps:
        assert weights.shape == (6, 6)
        assert weights.sum(1) == pytest.approx([1] * 6, abs=1e-5)
        assert (weights[:, 4:] == 0).all()  # the padding keys
    assert not any(m.keep_weights or m.weights is not None for m in transformer.modules() if isinstance(m, MultiHeadAttention))

    gru = create_model({"name": "gru", "vocab_size": 30, "embed_dim": 8, "hidden": 8, "pooling": "attention"},
                       input_shape=(6,), num_outputs=2).eval()
    [(name, weights)] = methods.attention_maps(gru, ids)
    assert weights.shape == (1, 6)
    assert weights.sum() == pytest.approx(1, abs=1e-5)
    assert (weights[0, 4:] == 0).all() and (weights[0, :4] > 0).all()


def test_explain_command_writes_overlays_and_the_report(digits_run, capsys):
    assert main(["explain", str(digits_run), "test:0", "test:3", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["input"].split(" ")[0] for r in results] == ["test:0", "test:3"]
    for result in results:
        assert result["methods"] == ["saliency", "integrated gradients", "Grad-CAM"]
        assert all((digits_run / "explain" / f.split("/")[-1]).stat().st_size > 5000 for f in result["files"])
        assert result["target_name"] == result["label"]  # the predicted class by default
    page = (digits_run / "report.html").read_text()
    assert "<h2>Explanations</h2>" in page and "test:3" in page


def test_explain_command_on_a_transformer_text_run_plots_tokens_and_attention(tmp_path, capsys):
    import layerlab

    words = ["good", "great", "fine", "bad", "awful", "dull"]
    rows = [f"{words[i % 6]} {words[(i // 6) % 6]} film\t{'pos' if i % 6 < 3 else 'neg'}" for i in range(60)]
    (tmp_path / "s.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    recipe = {"data": {"name": "sentences", "path": str(tmp_path / "s.tsv"), "tokenizer": "word", "min_frequency": 1},
              "model": {"name": "transformer", "dim": 16, "heads": 2, "layers": 2},
              "train": {"epochs": 1, "report": False}}
    layerlab.run(recipe, out=tmp_path / "run")
    assert main(["explain", str(tmp_path / "run"), "test:0", "--json", "--no-report"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["kind"] == "tokens" and abs(result["ig_delta"]) < 1e-2
    assert sorted(f.split(".")[-2] for f in result["files"]) == ["attention0", "attention1", "tokens"]


def test_explain_refuses_an_unknown_class_and_a_bad_index(digits_run, capsys):
    assert main(["explain", str(digits_run), "test:0", "--target", "eleven", "--no-report"]) == 2
    assert "'eleven' is not a class of this run" in capsys.readouterr().err
    assert main(["explain", str(digits_run), "test:100000", "--no-report"]) == 2
    assert "the test split has" in capsys.readouterr().err


def test_token_attributions_of_a_padded_sentence_for_a_model_that_trims_padding():
    """The textcnn computes a batch only to its longest sentence; integrated gradients still need the model at
    the sentence's full width, against an all-padding baseline of that width: one score per position."""
    from layerlab.models import create_model

    torch.manual_seed(0)
    model = create_model({"name": "textcnn", "vocab_size": 30, "kernel_sizes": [2, 3]}, input_shape=(8,),
                         num_outputs=2).eval()
    _assert_one_score_per_position_adding_up(model, torch.tensor([5, 3, 7, 0, 0, 0, 0, 0]))


@pytest.mark.parametrize("options", [{"name": "lstm", "embed_dim": 8, "hidden": 8, "pooling": "mean"},
                                     {"name": "gru", "embed_dim": 8, "hidden": 8, "pooling": "last"},
                                     {"name": "transformer", "dim": 16, "heads": 2, "layers": 1}],
                         ids=lambda options: options["name"])
def test_token_attributions_of_a_model_that_masks_padding_add_up(options):
    """The recurrent nets and the transformer read the sentence's padding mask from its ids. Integrated
    gradients move only the embedding's output, so the mask stays the sentence's along the path; the delta
    must check completeness against that same start (with the all-padding ids' mask it was off by 0.08)."""
    from layerlab.models import create_model

    torch.manual_seed(0)
    model = create_model({**options, "vocab_size": 30}, input_shape=(8,), num_outputs=2).eval()
    _assert_one_score_per_position_adding_up(model, torch.tensor([5, 3, 7, 0, 0, 0, 0, 0]))
