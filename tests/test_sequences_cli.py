"""The sequence commands end to end: sentiment beats chance, generate, translate, the built-in recipes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch

from layerlab import cli
from layerlab.recipe import load_recipe
from layerlab.recipes import builtin_names

SEQUENCE_RECIPES = ["shakespeare-rnn", "shakespeare-lstm", "shakespeare-gru", "shakespeare-transformer",
                    "polarity-lstm", "polarity-cnn", "polarity-transformer", "polarity-fasttext", "multi30k-gru-attention",
                    "multi30k-transformer"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", SEQUENCE_RECIPES)
def test_builtin_sequence_recipes_validate(name):
    assert name in builtin_names()
    cfg = load_recipe(name)
    assert cfg.task.name in {"language_model", "classification", "seq2seq"}


@pytest.mark.slow
def test_a_sentiment_cnn_clearly_beats_chance_on_rt_polarity(shared_data, tmp_path, capsys):
    run = tmp_path / "polarity"
    code = cli.main(["run", "polarity-cnn", "data.limit=5000", "model.embed_dim=64", "model.filters=48",
                     "train.epochs=3", "train.lr=0.003", "train.report=false", "train.threads=1", "--out", str(run), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["test"]["accuracy"] > 0.62, summary["test"]  # chance is 0.5 (balanced classes)
    capsys.readouterr()
    sentences = tmp_path / "reviews.txt"
    sentences.write_text("a gorgeous , witty , seductive movie .\n\nthe plot is dull and the acting is worse .\n")
    assert cli.main(["predict", str(run), str(sentences), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in rows] == [f"{sentences}:1", f"{sentences}:3"]
    assert {r["label"] for r in rows} <= {"neg", "pos"}


def test_a_bag_of_bigrams_clearly_beats_chance_on_rt_polarity_under_cross_validation(shared_data, tmp_path, capsys):
    # two folds of a 3,000-sentence slice (data.limit keeps a stratified part of each fold's training part)
    code = cli.main(["cv", "polarity-fasttext", "data.limit=3000", "model.buckets=8192", "train.epochs=3",
                     "train.report=false", "train.diagnostics_every=0", "--folds", "2", "--out", str(tmp_path / "cv"),
                     "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["folds"] == 2 and result["test"]["accuracy"]["n"] == 2
    assert result["test"]["accuracy"]["min"] > 0.6, result["test"]  # chance is 0.5 (balanced classes)


def test_generate_and_translate_commands(shared_data, tmp_path, capsys):
    lm = tmp_path / "lm"
    assert cli.main(["run", "shakespeare-gru", "data.limit=6000", "data.max_length=32", "model.hidden=32",
                     "model.layers=1", "train.epochs=1", "train.max_seconds=null", "train.report=false",
                     "--out", str(lm), "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["generate", str(lm), "--prompt", "To be", "--tokens", "20", "--temperature", "0.8",
                     "--top-k", "5"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("To be") and len(text.rstrip("\n")) >= 5 + 20 - 1
    assert cli.main(["translate", str(lm), "ein Satz"]) == 2
    assert "translate needs a seq2seq (translation) run" in capsys.readouterr().err

    corpus = tmp_path / "pairs"
    corpus.mkdir()
    for lang in ("de", "en"):
        lines = gzip.open(shared_data / "multi30k" / f"val.{lang}.gz", "rt", encoding="utf-8").read().splitlines()[:40]
        (corpus / f"train.{lang}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mt = tmp_path / "mt"
    assert cli.main(["run", "multi30k-transformer", "data.name=parallel", f"data.path={corpus}", "data.vocab_size=200",
                     "model.dim=32", "model.heads=2", "model.layers=1", "train.epochs=1", "train.max_seconds=null",
                     "train.precision=fp32", "train.report=false", "data.val_fraction=0", "data.test_fraction=0.1",
                     "--out", str(mt), "-q"]) == 0
    capsys.readouterr()
    source = tmp_path / "in.de"
    source.write_text("Ein Hund.\nZwei Katzen.\n", encoding="utf-8")
    assert cli.main(["translate", str(mt), "ein Satz", "--file", str(source), "--beam", "2", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in rows] == ["ein Satz", "Ein Hund.", "Zwei Katzen."]
    assert all(isinstance(r["translation"], str) for r in rows)
    summary = json.loads((mt / "summary.json").read_text())
    assert {"bleu", "chrf", "loss"} <= set(summary["test"]) and summary["report"]["decoding"] == "beam 4"
    assert Path(mt / "model.json").is_file()
