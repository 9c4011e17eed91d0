"""Transcripts as token ids for CTC: a vocabulary of characters or of words, padding, and back to text.

    vocab = build_vocabulary(["three one four", "two"], "chars")   # ['<blank>', ' ', 'e', 'f', ...]
    ids = encode(["two"], vocab, where="data")                     # (1, L) int64, 0-padded
    decode([5, 7, 4], vocab)                                       # 'two'

Id 0 is CTC's blank and also the padding of the target rows (a real target never holds a blank, so the
number of non-zero ids of a row is its length). A vocabulary of characters always holds the space, a
vocabulary of words never does (words are split on spaces): that is how ``decode`` tells the two apart,
so a run's saved vocabulary (its preprocessing's ``classes``) is all a loaded run needs.
Transcripts are normalised before tokenising: lower case, runs of white space to one space.
"""

from __future__ import annotations

import numpy as np

from layerlab.data.config import Tokens
from layerlab.errors import DataError

BLANK = "<blank>"


def normalise(text: str) -> str:
    """Lower case, single spaces, no space at either end."""
    return " ".join(text.lower().split())


def split_tokens(text: str, tokens: Tokens) -> list[str]:
    text = normalise(text)
    return text.split() if tokens == "words" else list(text)


def build_vocabulary(transcripts: list[str], tokens: Tokens) -> list[str]:
    """The blank, then every token of ``transcripts`` sorted (characters: the space always among them)."""
    seen = {token for text in transcripts for token in split_tokens(text, tokens)}
    if tokens == "chars":
        seen.add(" ")
    return [BLANK, *sorted(seen)]


def is_words(vocabulary: list[str]) -> bool:
    return " " not in vocabulary


def encode(transcripts: list[str], vocabulary: list[str], *, where: list[str] | str, width: int | None = None) -> np.ndarray:
    """(N, width) int64 token ids, 0-padded (``width``: the longest transcript's tokens by default).

    ``where`` names each transcript (or all of them) for the message when one holds a token outside the
    vocabulary, or is empty. Raises DataError.
    """
    tokens: Tokens = "words" if is_words(vocabulary) else "chars"
    index = {token: i for i, token in enumerate(vocabulary)}
    rows = []
    for i, text in enumerate(transcripts):
        name = where if isinstance(where, str) else where[i]
        parts = split_tokens(text, tokens)
        if not parts:
            raise DataError(f"{name}: the transcript is empty")
        unknown = [p for p in parts if p not in index or p == BLANK]
        if unknown:
            known = " ".join(repr(v) for v in vocabulary[1:])
            raise DataError(f"{name}: the transcript {text!r} holds {unknown[0]!r}, which is not in the vocabulary "
                            f"(the {len(vocabulary) - 1} {tokens} of the training transcripts: {known})")
        rows.append([index[p] for p in parts])
    width = max((len(r) for r in rows), default=1) if width is None else width
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        if len(row) > width:
            raise DataError(f"{where if isinstance(where, str) else where[i]}: the transcript has {len(row)} "
                            f"tokens, more than the {width} this data allows")
        out[i, : len(row)] = row
    return out


def decode(ids: list[int], vocabulary: list[str]) -> str:
    """Token ids (no blanks, no padding) to text: words joined by spaces, characters joined as they are."""
    parts = [vocabulary[i] for i in ids if i != 0]
    return " ".join(parts) if is_words(vocabulary) else "".join(parts)
