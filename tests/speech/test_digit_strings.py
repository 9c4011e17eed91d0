"""The digit-strings source: utterances of one speaker's digits with transcripts, test strings only from the
official test recordings or from the held-out speaker, the same on every call."""

from __future__ import annotations

import re

import pytest
import torch

from layerlab.data import load_data
from layerlab.errors import DataError, RecipeError
from layerlab.recipe import load_recipe

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SMALL = {"name": "digit-strings", "utterances": 60, "test_utterances": 30, "val_fraction": 0, "clip_seconds": 4.0}


def _load(**data):
    recipe = load_recipe({"data": {**SMALL, **data}, "task": {"name": "speech_recognition"}, "model": {"name": "acoustic"}})
    return load_data(recipe.data, task="speech_recognition", seed=0)


def _texts(split, vocabulary):
    return [" ".join(vocabulary[i] for i in row if i) for row in split.y.tolist()]


def test_utterances_join_one_speakers_recordings_and_their_transcripts_match(shared_data):
    data = _load()
    vocabulary = data.info.class_names
    assert vocabulary == ["<blank>", *sorted(WORDS)]
    assert data.train.x.shape == (60, 1, 40, 251) and data.train.y.dtype == torch.int64
    for split in (data.train, data.test):
        for utterance, text in zip(split.ids, _texts(split, vocabulary)):
            files = utterance.split("+")
            assert 1 <= len(files) <= 7
            parsed = [re.fullmatch(r"(\d)_([a-z]+)_(\d+)", f).groups() for f in files]
            assert len({speaker for _, speaker, _ in parsed}) == 1  # one speaker an utterance
            assert text == " ".join(WORDS[int(digit)] for digit, _, _ in parsed)
            if split is data.test:  # the official test recordings only
                assert all(int(index) < 5 for _, _, index in parsed)
            else:
                assert all(int(index) >= 5 for _, _, index in parsed)
    assert torch.equal(_load().train.x, data.train.x)  # seeded: the same utterances again


def test_held_out_speaker_and_character_tokens(shared_data):
    data = _load(test_speaker="theo", tokens="chars")
    assert all("_theo_" in f for u in data.test.ids for f in u.split("+"))
    assert not any("_theo_" in u for u in data.train.ids)
    vocabulary = data.info.class_names
    assert " " in vocabulary and all(len(t) == 1 for t in vocabulary[1:])
    first = "".join(vocabulary[i] for i in data.test.y[0].tolist() if i)
    assert first.split() == [WORDS[int(f[0])] for f in data.test.ids[0].split("+")]


def test_bad_options_are_refused_with_the_key(shared_data):
    with pytest.raises(DataError, match="data.clip_seconds"):
        _load(clip_seconds=1.0)
    with pytest.raises(RecipeError, match="min_digits"):
        load_recipe({"data": {**SMALL, "min_digits": 5, "max_digits": 3}})
