"""Tokenizers: character, word and subword (BPE), trained on the training split with Hugging Face ``tokenizers``.

    tok = train_tokenizer(train_texts, kind="bpe", vocab_size=8000)
    ids = tok.encode_batch(["Ein Hund läuft."])   # [[...]]
    tok.decode(ids[0])                            # "Ein Hund läuft."
    TextTokenizer.from_dict(tok.to_dict())        # saved in the run as JSON (no pickle)

Every vocabulary starts with the same four special tokens, so their ids are fixed across kinds:
``<pad>`` 0, ``<unk>`` 1 (a token not seen in training), ``<bos>`` 2 and ``<eos>`` 3 (start and end
of a sentence, for translation). ``char`` keeps every character (spaces and newlines too) and decodes
by concatenation; ``word`` splits on white space and punctuation and decodes with single spaces; ``bpe``
marks word starts with ``▁`` (Metaspace) and splits off punctuation, so its decoding restores the
original spacing, which translation needs for BLEU on detokenised text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from layerlab.errors import DataError

if TYPE_CHECKING:  # the package is imported where it is used: it is an optional dependency (extra "text")
    from tokenizers import Tokenizer

TokenizerKind = Literal["char", "word", "bpe"]
SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)


@dataclass
class TextTokenizer:
    """A trained tokenizer of one kind, around a Hugging Face ``tokenizers.Tokenizer``."""

    kind: TokenizerKind
    tokenizer: Tokenizer

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def tokens(self) -> list[str]:
        """The vocabulary, in id order."""
        vocab = self.tokenizer.get_vocab()
        return sorted(vocab, key=vocab.__getitem__)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=self.pretrained).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=self.pretrained)]

    @property
    def pretrained(self) -> bool:
        """A pretrained model's own tokenizer (kind ``hf:<model>``): it adds the model's [CLS] and [SEP]."""
        return self.kind.startswith("hf:")

    def decode(self, ids: Iterable[int]) -> str:
        """Text from token ids; special tokens (padding, start, end) are left out."""
        return self.tokenizer.decode([int(i) for i in ids if int(i) >= len(SPECIAL_TOKENS) or int(i) == UNK],
                                     skip_special_tokens=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (the tokenizer's own JSON, parsed) that ``from_dict`` rebuilds."""
        return {"kind": self.kind, "tokenizer": json.loads(self.tokenizer.to_str())}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextTokenizer:
        tokenizers = _tokenizers()
        try:
            return cls(d["kind"], tokenizers.Tokenizer.from_str(json.dumps(d["tokenizer"])))
        except (KeyError, TypeError, Exception) as exc:  # tokenizers raises plain Exception
            raise DataError(f"the saved tokenizer cannot be read back ({exc})") from None


def train_tokenizer(texts: Sequence[str], *, kind: TokenizerKind = "char", vocab_size: int = 8000,
                    min_frequency: int = 1, lowercase: bool = False) -> TextTokenizer:
    """A tokenizer of ``kind`` trained on ``texts`` (the training split only).

    ``vocab_size`` caps the vocabulary (special tokens included; most frequent tokens kept) for word and
    bpe; ``min_frequency`` drops rarer tokens, which become ``<unk>``. Raises DataError for no text.
    """
    if not any(texts):
        raise DataError("no training text to build a vocabulary from")
    tk = _tokenizers()
    Regex, Tokenizer, decoders, models = tk.Regex, tk.Tokenizer, tk.decoders, tk.models
    normalizers, pre_tokenizers, trainers = tk.normalizers, tk.pre_tokenizers, tk.trainers
    if str(kind).startswith("hf:"):  # a pretrained model's own tokenizer: read, not trained
        return pretrained_tokenizer(str(kind))
    special = list(SPECIAL_TOKENS)
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
        tok.decoder = decoders.Metaspace()
        trainer: Any = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special)
    else:
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        if kind == "char":
            tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
            tok.decoder = decoders.Fuse()
            vocab_size, min_frequency = 1 << 24, 1  # every character is kept
        else:
            tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special)
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.train_from_iterator(texts, trainer=trainer)
    if [tok.token_to_id(t) for t in special] != list(range(len(special))):  # pragma: no cover - a tokenizers change
        raise RuntimeError("the special tokens did not get ids 0..3")
    return TextTokenizer(kind, tok)


def _tokenizers() -> Any:
    """The Hugging Face ``tokenizers`` package, or a DataError saying how to install it."""
    try:
        import tokenizers
    except ImportError:
        raise DataError("text needs the 'tokenizers' package: pip install 'layerlab[text]'") from None
    return tokenizers


def vocabulary_kind(tokens: Sequence[str]) -> TokenizerKind:
    """Which kind of tokenizer made a vocabulary (tokens in id order, as saved with a run)."""
    pieces = tokens[len(SPECIAL_TOKENS) :]
    if any(t.startswith("▁") for t in pieces):
        return "bpe"
    return "char" if all(len(t) == 1 for t in pieces) else "word"


def detokenize(pieces: Sequence[str], kind: TokenizerKind) -> str:
    """Text from token strings, as the kind's decoder joins them: characters as they are, words with
    spaces, BPE pieces with ``▁`` turned back into the spaces it stands for."""
    if kind == "char":
        return "".join(pieces)
    if kind == "word":
        return " ".join(pieces)
    return "".join(pieces).replace("▁", " ").strip()


def pretrained_tokenizer(kind: str) -> TextTokenizer:
    """The tokenizer of a pretrained model ``hf:<hub id or directory>`` (its ``tokenizer.json``), as it is:
    its vocabulary and special tokens are the model's. Padding and truncation are left to the caller."""
    from layerlab.models.pretrained_text import tokenizer_file

    tok = _tokenizers().Tokenizer.from_file(str(tokenizer_file(kind.partition(":")[2])))
    tok.no_padding()
    tok.no_truncation()
    return TextTokenizer(kind, tok)  # type: ignore[arg-type]
