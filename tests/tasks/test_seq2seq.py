"""Translation: a transformer overfits 50 real Multi30k pairs; beam search; BLEU and chrF; translate."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

import layerlab
from layerlab.api import load_run, translate
from layerlab.data import load_data
from layerlab.tasks.seq2seq import Seq2SeqTask, beam_search, bleu_chrf, greedy_search

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PAIRS = 50


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The first 50 German-English pairs of Multi30k's training set, as a plain parallel corpus."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    folder = tmp_path_factory.mktemp("pairs")
    for lang in ("de", "en"):
        lines = gzip.open(SHARED_DATA / "multi30k" / f"train.{lang}.gz", "rt", encoding="utf-8").read().splitlines()
        (folder / f"train.{lang}").write_text("\n".join(lines[:PAIRS]) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def overfit_run(corpus, tmp_path_factory):
    torch.set_num_threads(1)
    recipe = {
        "name": "tiny-translation",
        "data": {"name": "parallel", "path": str(corpus), "tokenizer": "bpe", "vocab_size": 400, "max_length": 40,
                 "val_fraction": 0, "test_fraction": 0},
        "model": {"name": "transformer-seq2seq", "dim": 64, "heads": 2, "layers": 2, "dropout": 0.0},
        "task": {"name": "seq2seq"},
        "train": {"epochs": 40, "batch_size": 10, "lr": 0.004, "report": False, "diagnostics_every": 0, "threads": 1},
    }
    return layerlab.run(recipe, out=tmp_path_factory.mktemp("runs") / "mt")


@pytest.mark.slow
def test_a_transformer_overfits_50_pairs_to_bleu_above_90(overfit_run, corpus):
    run = load_run(overfit_run.run_dir)
    data = load_data(run.recipe.data, task="seq2seq", seed=0, preprocessor=run.preprocessor)
    metrics, report = run.task.evaluate(run.model, data.train, batch_size=64, report=True)
    assert metrics["bleu"] > 90 and metrics["chrf"] > 90, report["samples"]
    assert report["samples"][0]["reference"] == "Two young, White males are outside near many bushes."  # detokenised


@pytest.mark.slow
def test_beam_search_of_width_one_is_greedy_and_wider_beams_score_at_least_as_well(overfit_run):
    run = load_run(overfit_run.run_dir)
    src = run.preprocessor.encode_sources(["Zwei Hunde spielen im Schnee.", "Ein Mann fährt Fahrrad.",
                                           "Mehrere Männer mit Schutzhelmen bedienen ein Antriebsradsystem."])
    with torch.inference_mode():
        greedy = greedy_search(run.model, src, max_length=30)
        assert torch.equal(beam_search(run.model, src, beam=1, max_length=30), greedy)
        beam = beam_search(run.model, src, beam=4, max_length=30, length_penalty=0.0)

        def score(ids: torch.Tensor) -> torch.Tensor:  # summed log-probability of each output until <eos>
            prefix = torch.cat([torch.full((len(ids), 1), 2), ids[:, :-1]], 1)
            logp = run.model(src, prefix).log_softmax(-1).gather(-1, ids[..., None]).squeeze(-1)
            return logp.masked_fill(ids == 0, 0).sum(1)

        assert torch.all(score(beam) >= score(greedy) - 1e-4)


@pytest.mark.slow
def test_translate_sentences_and_a_file_from_the_run_directory(overfit_run, tmp_path):
    source = tmp_path / "in.de"
    source.write_text("Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.\n\n", encoding="utf-8")
    rows = translate(overfit_run.run_dir, ["Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche."],
                     files=[source], beam_size=3)
    assert [r["translation"] for r in rows] == ["Two young, White males are outside near many bushes."] * 2
    assert rows[1]["input"] == f"{source}:1"


def test_loss_ignores_padding_and_bleu_is_sacrebleus():
    task = Seq2SeqTask(["<pad>", "<unk>", "<bos>", "<eos>", "▁a", "▁dog", "."])
    target = torch.tensor([[2, 4, 5, 3, 0, 0]])
    output = torch.randn(1, 5, 7)
    changed = output.clone()
    changed[:, 3:] = 100.0  # outputs at padded positions do not count
    assert task.loss(output, target) == task.loss(changed, target)
    assert task.detokenize([4, 5, 6, 3, 4]) == "a dog."
    assert bleu_chrf(["a dog runs ."], ["a dog runs ."])["bleu"] == pytest.approx(100.0)


def test_val_bleu_records_bleu_against_training_time(corpus, tmp_path):
    recipe = {
        "name": "tiny-translation-curve",
        "data": {"name": "parallel", "path": str(corpus), "tokenizer": "bpe", "vocab_size": 300, "max_length": 40,
                 "val_fraction": 0.2, "test_fraction": 0},
        "model": {"name": "transformer-seq2seq", "dim": 32, "heads": 2, "layers": 1, "dropout": 0.0},
        "task": {"name": "seq2seq", "val_bleu": True, "beam_size": 3},
        "train": {"epochs": 2, "batch_size": 10, "lr": 0.004, "report": False, "diagnostics_every": 0, "threads": 1},
    }
    run = layerlab.run(recipe, out=tmp_path / "mt")
    assert len(run.history) == 2
    for row in run.history:
        assert 0 <= row["val_bleu"] <= 100 and 0 <= row["val_chrf"] <= 100 and row["seconds"] > 0
    header = (run.run_dir / "history.csv").read_text().splitlines()[0].split(",")
    assert {"val_bleu", "val_chrf"} <= set(header)


def test_val_bleu_is_refused_outside_translation():
    from layerlab.errors import RecipeError

    with pytest.raises(RecipeError, match="val_bleu"):
        layerlab.load_recipe({"name": "x", "data": {"name": "digits"}, "model": {"name": "mlp"},
                              "task": {"name": "classification", "val_bleu": True}})


TOY_VOCABULARY = ["<pad>", "<unk>", "<bos>", "<eos>"] + [f"▁w{i}" for i in range(26)]


def _tiny_model(family: str = "transformer-seq2seq", vocab: int = 30):
    from layerlab.models import create_model

    torch.manual_seed(0)
    options = {"dim": 32, "heads": 2, "layers": 1} if family == "transformer-seq2seq" else {"embed_dim": 16, "hidden": 24}
    return create_model({"name": family, "dropout": 0.0, "vocab_size": vocab, "target_vocab_size": vocab, **options},
                        input_shape=(24,), num_outputs=vocab).eval()


@pytest.mark.parametrize("family", ["transformer-seq2seq", "rnn-seq2seq"])
def test_trimming_all_padding_columns_changes_no_logit_and_no_loss(family):
    model = _tiny_model(family)
    task = Seq2SeqTask(TOY_VOCABULARY)
    x = torch.tensor([[5, 6, 7, 8, 9, 0], [10, 11, 0, 0, 0, 0]])
    y = torch.tensor([[2, 12, 13, 3, 0, 0, 0], [2, 14, 15, 16, 3, 0, 0]])
    wide_x, wide_y = torch.cat([x, torch.zeros(2, 18, dtype=torch.long)], 1), torch.cat([y, torch.zeros(2, 18, dtype=torch.long)], 1)
    with torch.inference_mode():
        trimmed = task.forward(model, wide_x, wide_y)
        assert trimmed.shape[1] == 4  # the longest target: <bos> + 3 tokens fed in, 4 predicted
        padded = model(wide_x, wide_y[:, :-1])  # every column computed, as before trimming
        assert torch.allclose(trimmed, padded[:, :4], atol=1e-5)
        assert task.loss(trimmed, wide_y) == pytest.approx(task.loss(padded, wide_y).item(), abs=1e-5)
        assert task.metrics(trimmed, wide_y) == pytest.approx(task.metrics(padded, wide_y))


def test_decoding_sorts_by_length_and_returns_the_translations_in_the_order_given():
    model = _tiny_model()
    task = Seq2SeqTask(TOY_VOCABULARY, beam_size=2)
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(1, 24, (9,), generator=g)
    src = torch.randint(4, 30, (9, 24), generator=g) * (torch.arange(24) < lengths[:, None])
    together = task.translate_ids(model, src, max_length=10, batch_size=4)
    with torch.inference_mode():  # each sentence alone, padded to the full 24 columns
        one_by_one = [task.detokenize(beam_search(model, src[i : i + 1], beam=2, max_length=10)[0].tolist())
                      for i in range(9)]
    assert together == one_by_one


def test_length_grouped_translation_resumes_exactly(corpus, tmp_path):
    from layerlab.train.callbacks import LambdaCallback
    from layerlab.train.checkpoint import load_weights

    recipe = {
        "name": "tiny-grouped",
        "data": {"name": "parallel", "path": str(corpus), "tokenizer": "bpe", "vocab_size": 300, "max_length": 40,
                 "val_fraction": 0, "test_fraction": 0},
        "model": {"name": "transformer-seq2seq", "dim": 32, "heads": 2, "layers": 1, "dropout": 0.1},
        "task": {"name": "seq2seq"},
        "train": {"epochs": 2, "batch_size": 8, "lr": 0.004, "report": False, "diagnostics_every": 0, "threads": 1,
                  "group_by_length": True, "deterministic": True},
    }
    whole = layerlab.run(recipe, out=tmp_path / "whole")

    def stop_at_step_9(trainer, loss):  # 50 pairs = 7 batches of 8 an epoch: in the middle of the second
        if trainer.state.global_step == 9:
            trainer.interrupt()

    with pytest.raises(layerlab.api.Interrupted):
        layerlab.run(recipe, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=stop_at_step_9)])
    resumed = layerlab.run(resume=tmp_path / "cut")
    a, b = load_weights(whole.run_dir / "model.safetensors"), load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in resumed.history]


def test_group_by_length_is_refused_for_images_by_name(tmp_path):
    from layerlab.errors import LayerLabError

    recipe = {"name": "x", "data": {"name": "digits", "limit": 100}, "model": {"name": "mlp", "hidden": [8]},
              "train": {"epochs": 1, "group_by_length": True, "report": False, "diagnostics_every": 0}}
    with pytest.raises(LayerLabError, match="train.group_by_length groups token sequences"):
        layerlab.run(recipe, out=tmp_path / "img")
