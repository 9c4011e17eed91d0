"""A Hugging Face model directory (a tiny BERT the test builds with transformers' config classes, and
its WordPiece tokenizer) loads as ``hf:<dir>``, trains and predicts from the run directory."""

from __future__ import annotations

import pytest

from layerlab import api
from layerlab.recipe import load_recipe


@pytest.mark.slow
def test_hf_directory_trains_and_predicts(bert_dir, sentences, tmp_path):
    recipe = {"name": "tiny-bert", "data": {"name": "sentences", "path": str(sentences), "max_length": 12},
              "model": {"name": f"hf:{bert_dir}", "dropout": 0.0},
              "train": {"epochs": 6, "batch_size": 16, "lr": 0.01, "report": False, "diagnostics_every": 0}}
    cfg = load_recipe(recipe)
    assert cfg.data.tokenizer == f"hf:{bert_dir}"  # the model's own tokenizer
    result = api.run(recipe, out=tmp_path / "run")
    assert result.summary["status"] == "finished"
    assert result.summary["test"]["accuracy"] >= 0.85  # "good"/"great" against "bad"/"awful" is easy
    (tmp_path / "new.txt").write_text("the film was great\nthe film was very awful\n", encoding="utf-8")
    rows = api.predict(result.run_dir, [tmp_path / "new.txt"])
    assert [r["label"] for r in rows] == ["pos", "neg"]


def test_padding_columns_are_dropped_without_changing_the_outputs(bert_dir):
    import torch

    from layerlab.models import create_model

    model = create_model({"name": f"hf:{bert_dir}", "dropout": 0.0}, input_shape=(24,), num_outputs=2).eval()
    torch.manual_seed(0)
    ids = torch.randint(5, 19, (3, 24))
    ids[0, 7:], ids[1, 5:], ids[2, 9:] = 0, 0, 0  # three sentences, the longest 9 tokens
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args, kwargs: seen.append(tuple(kwargs["input_ids"].shape)),
                                            with_kwargs=True)
    with torch.no_grad():
        trimmed = model(ids)
        mask = ids != 0  # the same sentences through all 24 columns
        hidden = model.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        weights = mask.unsqueeze(-1).float()
        full = model.head((hidden * weights).sum(1) / weights.sum(1))
    assert seen == [(3, 9), (3, 24)]
    torch.testing.assert_close(trimmed, full, rtol=1e-5, atol=1e-5)


def test_groups_are_the_embeddings_each_layer_and_the_head_without_the_unused_pooler(bert_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    from layerlab.models import create_model
    from layerlab.train.groups import layer_groups

    model = create_model({"name": f"hf:{bert_dir}"}, input_shape=(12,), num_outputs=2)
    names = [g.name for g in layer_groups(model)]
    # The word, position and type tables and their norm are one step of a layer-wise rate decay, and BERT's
    # pooler (for next-sentence prediction; the sentence vector is a mean here) is no group that trains for nothing.
    assert names == ["encoder.embeddings", "encoder.encoder.layer.0", "encoder.encoder.layer.1", "head"]
    assert not any(".pooler." in k for k in model.state_dict())
    saved = load_file(bert_dir / "model.safetensors")
    assert any(k.startswith("pooler.") for k in saved)  # the checkpoint has one: it is dropped on load
    torch.testing.assert_close(model.encoder.embeddings.word_embeddings.weight, saved["embeddings.word_embeddings.weight"])
    # Weights saved while the pooler was kept (earlier runs) still load, and give the same outputs.
    old = {**model.state_dict(), "encoder.pooler.dense.weight": torch.zeros(16, 16), "encoder.pooler.dense.bias": torch.zeros(16)}
    again = create_model({"name": f"hf:{bert_dir}"}, input_shape=(12,), num_outputs=2)
    again.load_state_dict(old)
    ids = torch.randint(5, 19, (2, 12))
    torch.testing.assert_close(again.eval()(ids), model.eval()(ids))


def test_layers_concatenates_the_chosen_hidden_states_sentence_vectors(bert_dir):
    import torch

    from layerlab.models import create_model

    model = create_model({"name": f"hf:{bert_dir}", "dropout": 0.0, "layers": [0, -1]}, input_shape=(12,),
                         num_outputs=2).eval()
    assert model.head.in_features == 2 * 16  # the embeddings' and the last layer's, 16 wide each
    ids = torch.randint(5, 19, (2, 12))
    ids[0, 6:] = 0
    with torch.no_grad():
        mask = ids != 0
        states = model.encoder(input_ids=ids, attention_mask=mask.long(), output_hidden_states=True).hidden_states
        weights = mask.unsqueeze(-1).float()
        pooled = [(states[i] * weights).sum(1) / weights.sum(1) for i in (0, 2)]
        expected = model.head(torch.cat(pooled, dim=1))
        torch.testing.assert_close(model(ids), expected, rtol=1e-5, atol=1e-5)
    every = create_model({"name": f"hf:{bert_dir}", "layers": "all"}, input_shape=(12,), num_outputs=3)
    assert every.head.in_features == 3 * 16  # the embeddings' and both layers'


@pytest.mark.parametrize(("layers", "message"), [
    ([3], r"model.layers: \[3\] not among the hidden states .* it has 3, 0 \(the embeddings'\) to 2"),
    ([2, -1], r"model.layers: \[2, -1\] names one hidden state twice"),
])
def test_layers_outside_the_model_or_named_twice_are_refused(bert_dir, layers, message):
    from layerlab.errors import LayerLabError
    from layerlab.models import create_model

    with pytest.raises(LayerLabError, match=message):
        create_model({"name": f"hf:{bert_dir}", "layers": layers}, input_shape=(12,), num_outputs=2)


def test_a_recipe_with_no_layers_is_refused(bert_dir):
    from layerlab.errors import LayerLabError

    recipe = {"name": "tiny-bert", "data": {"name": "sentences", "path": "x"}, "model": {"name": f"hf:{bert_dir}", "layers": []}}
    with pytest.raises(LayerLabError, match="model.layers.*at least one hidden state"):
        load_recipe(recipe)
