"""Text data: tokenizers, reading with encodings, and the corpus, sentences and parallel sources."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from layerlab.data import load_data
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.text import BOS, EOS, PAD, UNK, TextTokenizer, read_lines, read_text, train_tokenizer
from layerlab.errors import DataError
from layerlab.recipe import load_recipe

SENTENCES = ["A man rides a horse.", "Two dogs play in the snow.", "A woman, smiling, reads a book."]


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
def test_tokenizers_reserve_the_special_ids_round_trip_and_survive_json(kind):
    tok = train_tokenizer(SENTENCES * 5, kind=kind, vocab_size=200)
    assert tok.tokens()[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    ids = tok.encode_batch(SENTENCES)
    assert all(min(row) >= 4 for row in ids)  # every character / word / piece of the training text is known
    decoded = [tok.decode(row) for row in ids]
    if kind == "word":  # words decode with single spaces between them
        assert decoded[0] == "A man rides a horse ."
    else:  # characters and BPE restore the text exactly
        assert decoded == SENTENCES
    again = TextTokenizer.from_dict(tok.to_dict())
    assert again.encode_batch(SENTENCES) == ids and again.kind == kind


def test_word_tokenizer_caps_the_vocabulary_and_maps_rare_words_to_unk():
    tok = train_tokenizer(["the cat", "the dog", "the cat sat"], kind="word", min_frequency=2)
    assert set(tok.tokens()[4:]) == {"the", "cat"}
    assert tok.encode("the zebra") == [tok.tokenizer.token_to_id("the"), UNK]
    small = train_tokenizer(SENTENCES * 3, kind="word", vocab_size=8)
    assert small.vocab_size == 8


def test_latin1_without_encoding_is_refused_naming_file_and_byte_offset(tmp_path):
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "reviews.pos").write_bytes("a fine film\nun café très agréable\n".encode("latin-1"))
    (folder / "reviews.neg").write_bytes(b"a dull film\n")
    cfg = load_recipe({"data": {"name": "sentences", "path": str(folder)}}).data
    with pytest.raises(DataError) as info:
        load_data(cfg, task="classification", seed=0)
    message = str(info.value)
    assert str(folder / "reviews.pos") in message
    assert "not valid utf-8 at byte offset 18 (line 2, bytes e9" in message and "data.encoding" in message

    ok = load_recipe({"data": {"name": "sentences", "path": str(folder), "encoding": "latin-1", "val_fraction": 0,
                               "test_fraction": 0, "tokenizer": "char"}}).data
    data = load_data(ok, task="classification", seed=0)
    assert data.info.class_names == ["neg", "pos"] and "é" in data.preprocessor.tokenizer.tokens()


def test_read_text_reads_gzip_and_refuses_unknown_encodings(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress(b"eins\nzwei\n"))
    assert read_lines(path) == ["eins", "zwei"]
    with pytest.raises(DataError, match="'utf-9' is not a known text encoding"):
        read_text(path, encoding="utf-9")


def test_tiny_shakespeare_is_split_contiguously_by_position(shared_data):
    cfg = load_recipe({"data": {"name": "tinyshakespeare", "max_length": 32, "limit": 20000,
                                "val_fraction": 0.1, "test_fraction": 0.1}}).data
    data = load_data(cfg, task="language_model", seed=0)
    text = (shared_data / "tinyshakespeare" / "input.txt").read_text()
    decode = data.preprocessor.tokenizer.decode
    # the test part is the end of the corpus, validation the end of what precedes it; limit keeps the start
    train_text = "".join(decode(row[:-1].tolist()) for row in torch.cat([data.train.x, data.train.y[:, -1:]], 1))
    assert text.startswith(train_text[:-1])
    cut = round(0.9 * len(text))
    assert decode(data.test.x[0].tolist()) == text[cut : cut + 32]
    assert data.val.x.shape[1] == 32 and torch.equal(data.train.x[:, 1:], data.train.y[:, :-1])  # shifted by one
    assert data.info.num_classes == data.info.vocab_size == len(data.info.class_names)
    with pytest.raises(DataError, match="for task.name: language_model, not classification"):
        load_data(cfg, task="classification", seed=0)


def test_rt_polarity_gives_two_balanced_classes_with_a_stratified_split(shared_data):
    cfg = load_recipe({"data": {"name": "rt-polarity", "tokenizer": "word", "max_length": 40}}).data
    data = load_data(cfg, task="classification", seed=0)
    assert data.info.class_names == ["neg", "pos"]
    assert len(data.train) + len(data.val) + len(data.test) == 10662
    assert abs(data.test.y.float().mean().item() - 0.5) < 0.01
    assert data.train.x.dtype == torch.int64 and data.train.x.shape[1] <= 40
    restored = Preprocessor.from_dict(data.preprocessor.to_dict())
    assert torch.equal(restored.transform(np.array(["a gorgeous , witty film"])),
                       data.preprocessor.transform(np.array(["a gorgeous , witty film"])))


def test_sentences_from_a_tsv_file(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("text\tlabel\ngood movie\tpos\nbad movie\tneg\nfine film\tpos\nawful film\tneg\n")
    cfg = load_recipe({"data": {"name": "sentences", "path": str(path), "test_fraction": 0, "val_fraction": 0,
                                "tokenizer": "word"}}).data
    data = load_data(cfg, task="classification", seed=0)
    assert data.info.class_names == ["neg", "pos"] and data.train.y.tolist() == [1, 0, 1, 0]
    bad = load_recipe({"data": {"name": "sentences", "path": str(path), "text_column": "review"}}).data
    with pytest.raises(DataError, match="no text column .data.text_column. 'review'; the columns are text, label"):
        load_data(bad, task="classification", seed=0)


def test_parallel_corpus_refuses_mismatched_line_counts_naming_both_files(tmp_path):
    (tmp_path / "train.de").write_text("ein Hund\nzwei Katzen\n")
    (tmp_path / "train.en.gz").write_bytes(gzip.compress(b"a dog\n"))
    cfg = load_recipe({"data": {"name": "parallel", "path": str(tmp_path)}, "task": {"name": "seq2seq"}}).data
    with pytest.raises(DataError) as info:
        load_data(cfg, task="seq2seq", seed=0)
    message = str(info.value)
    assert f"{tmp_path / 'train.de'} has 2 lines but {tmp_path / 'train.en.gz'} has 1" in message


def test_multi30k_uses_its_own_validation_and_test_splits(shared_data):
    cfg = load_recipe({"data": {"name": "multi30k", "tokenizer": "bpe", "vocab_size": 2000, "limit": 300},
                       "task": {"name": "seq2seq"}}).data
    data = load_data(cfg, task="seq2seq", seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (300, 1014, 1000)
    assert (data.test.y[:, 0] == BOS).all() and ((data.test.y == EOS).sum(1) == 1).all()
    first = gzip.open(shared_data / "multi30k" / "test_2016_flickr.en.gz", "rt").readline().strip()
    assert data.preprocessor.decode_targets(data.test.y[:1, 1:]) == [first]
    assert data.info.model_hints() == {"vocab_size": 2000, "target_vocab_size": 2000}


def test_k_folds_are_refused_for_ordered_text_and_for_a_source_with_its_own_test_split(tmp_path):
    (tmp_path / "corpus.txt").write_text("to be or not to be, that is the question. " * 50)
    cfg = load_recipe({"data": {"name": "text", "path": str(tmp_path / "corpus.txt"), "max_length": 16,
                                "folds": 5, "fold": 1}, "task": {"name": "language_model"}}).data
    with pytest.raises(DataError, match="is ordered .* split by position.* data.folds does not apply"):
        load_data(cfg, task="language_model", seed=0)
    for stem in ("train", "test"):
        (tmp_path / f"{stem}.de").write_text("ein Hund\nzwei Katzen\ndrei Pferde\n")
        (tmp_path / f"{stem}.en").write_text("a dog\ntwo cats\nthree horses\n")
    cfg = load_recipe({"data": {"name": "parallel", "path": str(tmp_path), "folds": 3},
                       "task": {"name": "seq2seq"}}).data
    with pytest.raises(DataError, match="parallel comes with its own test split; data.folds cross-validates sources without one"):
        load_data(cfg, task="seq2seq", seed=0)
