"""Word dropout, FixMatch's strong view of a sentence: words left out at the rate asked, the rest kept in
order at the start of the row, padding after; seeded; a sentence never left empty."""

from __future__ import annotations

import pytest
import torch

from layerlab.data.word_dropout import WordDropout


def _sentences() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 30, (200,), generator=g)
    x = torch.randint(4, 1000, (200, 32), generator=g)
    return x.masked_fill(torch.arange(32)[None] >= lengths[:, None], 0)  # padded with 0 at the end


def _words(row: torch.Tensor) -> list[int]:
    return [int(t) for t in row if t != 0]


def _is_subsequence(part: list[int], whole: list[int]) -> bool:
    it = iter(whole)
    return all(any(t == w for w in it) for t in part)


def test_words_are_left_out_at_the_rate_and_the_rest_keep_their_order():
    x = _sentences()
    out = WordDropout(0.3)(x, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    kept = sum(len(_words(r)) for r in out) / sum(len(_words(r)) for r in x)
    assert 0.65 < kept < 0.75
    for before, after in zip(x, out, strict=True):
        words = _words(after)
        assert words and _is_subsequence(words, _words(before))
        assert (after[len(words):] == 0).all() and (after[: len(words)] != 0).all()  # padding only after the words


def test_seeded_and_rate_zero_changes_nothing():
    x = _sentences()
    a = WordDropout(0.5)(x, torch.Generator().manual_seed(7))
    b = WordDropout(0.5)(x, torch.Generator().manual_seed(7))
    c = WordDropout(0.5)(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(WordDropout(0.0)(x, torch.Generator().manual_seed(7)), x)


def test_a_sentence_is_never_left_empty_and_padding_stays_padding():
    x = torch.tensor([[5, 0, 0, 0], [0, 0, 0, 0], [7, 8, 9, 0]])
    out = WordDropout(0.99)(x, torch.Generator().manual_seed(3))
    assert out[0].tolist() == [5, 0, 0, 0] and out[1].tolist() == [0, 0, 0, 0]
    assert len(_words(out[2])) >= 1 and _is_subsequence(_words(out[2]), [7, 8, 9])


def test_inputs_that_are_not_token_ids_are_refused():
    with pytest.raises(ValueError, match="token ids"):
        WordDropout(0.3)(torch.randn(2, 5), torch.Generator())
    with pytest.raises(ValueError, match="rate"):
        WordDropout(1.0)
