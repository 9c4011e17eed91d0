"""Preprocessing of text: the tokenizer(s) trained on the training split, and how sentences become tensors.

One ``TextPreprocessor`` serves the three ways text is learned from, its ``mode``:

- ``lm`` (language modelling): the split's text, as one token stream, cut into windows of
  ``max_length + 1`` tokens; the inputs are a window's first ``max_length`` tokens and the targets the
  same shifted by one: ``x[i] = w[:-1]``, ``y[i] = w[1:]``, both ``(N, max_length)`` int64.
- ``classify`` (a label per sentence): token ids cut to ``max_length`` and padded with ``<pad>`` (0):
  ``(N, max_length)`` int64; the targets are class indices.
- ``seq2seq`` (translation): sources as in ``classify`` with ``<eos>`` appended; targets
  ``<bos> ids <eos>`` padded to ``target_max_length + 2``, so that teacher forcing feeds ``y[:, :-1]``
  and predicts ``y[:, 1:]``.

Everything is saved in the run's ``model.json`` as plain JSON (the tokenizers as Hugging Face's own
JSON), so ``evaluate``, ``predict``, ``generate`` and ``translate`` prepare text exactly as in training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch

from layerlab.data.preprocessor import Preprocessor
from layerlab.data.text.reading import read_lines
from layerlab.data.text.tokenizers import BOS, EOS, PAD, UNK, TextTokenizer, TokenizerKind, train_tokenizer
from layerlab.errors import DataError

if TYPE_CHECKING:
    from layerlab.data.config import TextConfig
    from layerlab.data.source import SourceContext

TextMode = Literal["lm", "classify", "seq2seq"]


@dataclass
class TextPreprocessor(Preprocessor):
    kind: ClassVar[str] = "text"

    mode: TextMode
    tokenizer: TextTokenizer | dict[str, Any]
    max_length: int  # lm: tokens per window; classify and seq2seq: longest source in tokens
    classes: list[str] | None = None  # classify: the labels; lm: the tokens; seq2seq: the target tokens
    target_tokenizer: TextTokenizer | dict[str, Any] | None = None  # seq2seq: of the target language
    target_max_length: int = 0  # seq2seq: longest target in tokens (without <bos> and <eos>)
    encoding: str | None = None  # how text files given to ``predict`` are decoded

    def __post_init__(self) -> None:
        if isinstance(self.tokenizer, dict):
            self.tokenizer = TextTokenizer.from_dict(self.tokenizer)
        if isinstance(self.target_tokenizer, dict):
            self.target_tokenizer = TextTokenizer.from_dict(self.target_tokenizer)

    # ------------------------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, train: np.ndarray, *, mode: TextMode, kind: TokenizerKind, vocab_size: int, min_frequency: int,
            lowercase: bool, max_length: int, classes: list[str] | None = None,
            encoding: str | None = None) -> TextPreprocessor:
        """Train the tokenizer(s) on the training examples as a source reads them (see ``raw_texts``).

        For ``classify`` and ``seq2seq``, ``max_length`` is a cap: the longest training sentence (in
        tokens) below it is used, so short sentences are not padded needlessly.
        """
        options = {"kind": kind, "vocab_size": vocab_size, "min_frequency": min_frequency, "lowercase": lowercase}
        if mode == "lm":  # the classes of a language model are its tokens
            tokenizer = train_tokenizer([join_chars(train)], **options)
            return cls(mode, tokenizer, max_length, classes=tokenizer.tokens(), encoding=encoding)
        sources = list(train[:, 0] if mode == "seq2seq" else train)
        tokenizer = train_tokenizer(sources, **options)
        longest = max((len(ids) for ids in tokenizer.encode_batch(sources)), default=1)
        source_length = max(1, min(max_length, longest + (mode == "seq2seq")))
        if mode == "classify":
            return cls(mode, tokenizer, source_length, classes=classes, encoding=encoding)
        targets = list(train[:, 1])
        target_tokenizer = train_tokenizer(targets, **options)
        target_longest = max((len(ids) for ids in target_tokenizer.encode_batch(targets)), default=1)
        return cls(mode, tokenizer, source_length, classes=target_tokenizer.tokens(), target_tokenizer=target_tokenizer,
                   target_max_length=max(1, min(max_length, target_longest)), encoding=encoding)

    # ---------------------------------------------------------------------------------- the contract
    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.max_length,)

    def data_fields(self) -> dict[str, Any]:
        fields = {"vocab_size": self.tokenizer.vocab_size, "pad_id": PAD}
        if self.target_tokenizer is not None:
            fields["target_vocab_size"] = self.target_tokenizer.vocab_size
        return fields

    def with_inputs_of(self, source: Preprocessor) -> TextPreprocessor:
        """The source run's tokenizer: its ids are the rows of the backbone's embedding table. A language
        model's classes are its tokens, so they come with it; a translation run's target side does too
        when the source translated. Sentences keep this data's ``max_length`` (with a char or word
        tokenizer the same count of tokens as before)."""
        assert isinstance(source, TextPreprocessor)
        assert isinstance(source.tokenizer, TextTokenizer)
        adopted = replace(self, tokenizer=source.tokenizer)
        if self.mode == "lm":
            adopted.classes = source.tokenizer.tokens()
        elif self.mode == "seq2seq" and source.mode == "seq2seq":
            adopted.target_tokenizer, adopted.classes = source.target_tokenizer, source.classes
        return adopted

    def transform(self, raw: np.ndarray) -> torch.Tensor:
        """Model inputs: (N, max_length) int64 token ids (for ``lm``, the input windows)."""
        if self.mode == "lm":
            return self._windows(raw)[:, :-1]
        sources = raw[:, 0] if raw.ndim == 2 else raw
        return self.encode_sources([str(s) for s in sources])

    def transform_split(self, x: np.ndarray, y: np.ndarray, *, target_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "lm":
            windows = self._windows(x)
            return windows[:, :-1], windows[:, 1:]
        if self.mode == "seq2seq":
            return self.transform(x), self.encode_targets([str(t) for t in x[:, 1]])
        return self.transform(x), torch.tensor(np.asarray(y), dtype=target_dtype)

    def load_inputs(self, paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
        """Text files, one sentence per line (empty lines skipped); ids are ``file:line``."""
        if self.mode == "lm":
            raise DataError("a language model has no inputs to predict from; use `layerlab generate RUN --prompt ...`")
        sentences, ids = [], []
        for path in map(Path, paths):
            if path.is_dir() or not path.exists():
                raise DataError(f"{path}: {'a folder' if path.is_dir() else 'no such file'}; "
                                "give text files with one sentence per line")
            for number, line in enumerate(read_lines(path, encoding=self.encoding), start=1):
                if line.strip():
                    sentences.append(line)
                    ids.append(f"{path}:{number}")
        if not sentences:
            raise DataError("no sentences in the input files")
        return self.encode_sources(sentences), ids

    def _fields(self) -> dict[str, Any]:
        target = self.target_tokenizer.to_dict() if self.target_tokenizer is not None else None
        return {"mode": self.mode, "tokenizer": self.tokenizer.to_dict(), "max_length": self.max_length,
                "classes": self.classes, "target_tokenizer": target,
                "target_max_length": self.target_max_length, "encoding": self.encoding}

    # --------------------------------------------------------------------------------- encoding
    def encode_sources(self, sentences: list[str]) -> torch.Tensor:
        """(N, max_length) int64: ids cut to fit, ``<eos>`` appended for seq2seq, padded with 0.

        An empty sentence becomes one ``<unk>``, so that no example is all padding."""
        end = [EOS] if self.mode == "seq2seq" else []
        rows = [ids[: self.max_length - len(end)] + end for ids in self.tokenizer.encode_batch(sentences)]
        return pad_rows([row or [UNK] for row in rows], self.max_length)

    def encode_targets(self, sentences: list[str]) -> torch.Tensor:
        """(N, target_max_length + 2) int64: ``<bos> ids <eos>``, padded with 0."""
        assert self.target_tokenizer is not None
        rows = [[BOS, *ids[: self.target_max_length], EOS] for ids in self.target_tokenizer.encode_batch(sentences)]
        return pad_rows(rows, self.target_max_length + 2)

    def decode_targets(self, ids: torch.Tensor) -> list[str]:
        """Detokenised target sentences from (N, T) ids, each up to its first ``<eos>``."""
        tokenizer = self.target_tokenizer or self.tokenizer
        return [tokenizer.decode(row[: row.index(EOS)] if EOS in row else row) for row in ids.tolist()]

    def _windows(self, chars: np.ndarray) -> torch.Tensor:
        """(N, max_length + 1) windows of the text's token stream, one after another (the tail dropped)."""
        ids = torch.tensor(self.tokenizer.encode(join_chars(chars)), dtype=torch.int64)
        size = self.max_length + 1
        if len(ids) < size:
            return torch.empty(0, size, dtype=torch.int64)
        # Windows overlap by one token, so every token of the stream is a target exactly once.
        return ids.unfold(0, size, self.max_length)


def join_chars(chars: np.ndarray) -> str:
    """The text held as an array of single characters (how a corpus source gives it)."""
    return np.ascontiguousarray(chars, dtype="<U1").tobytes().decode("utf-32-le")


def pad_rows(rows: list[list[int]], length: int) -> torch.Tensor:
    out = torch.full((len(rows), length), PAD, dtype=torch.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row[:length], dtype=torch.int64)
    return out


def text_fitter(cfg: TextConfig, ctx: SourceContext, mode: TextMode, *, classes: list[str] | None = None,
                encoding: str | None = None) -> Callable[[np.ndarray], TextPreprocessor]:
    """The ``fit`` of a text source's RawData: the run's own preprocessing when it has one (evaluate,
    predict), else tokenizer(s) trained on the training examples with the recipe's ``data.*`` settings."""
    fitted = ctx.fitted if isinstance(ctx.fitted, TextPreprocessor) else None

    def fit(train: np.ndarray) -> TextPreprocessor:
        if fitted is not None:
            return fitted
        return TextPreprocessor.fit(train, mode=mode, kind=cfg.tokenizer, vocab_size=cfg.vocab_size,
                                    min_frequency=cfg.min_frequency, lowercase=cfg.lowercase,
                                    max_length=cfg.max_length, classes=classes,
                                    encoding=encoding if encoding is not None else cfg.encoding)

    return fit
