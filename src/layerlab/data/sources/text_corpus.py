"""A plain text corpus for language modelling: one file, split contiguously by position.

The text is read as characters (in ``data.encoding``, UTF-8 by default); the test split is its last
``data.test_fraction`` and the validation split the last ``data.val_fraction`` of the rest, so no
window of training text overlaps a held-out one. The tokenizer (``data.tokenizer``) is trained on the
training part only; ``TextPreprocessor`` then cuts each part's token stream into windows of
``data.max_length`` tokens. ``data.limit`` keeps the first that many characters.

``tinyshakespeare`` is Karpathy's 1.1 MB of Shakespeare (found on the search path or downloaded);
``text`` reads any file given as ``data.path``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layerlab.data.config import TextConfig
from layerlab.data.files import FileSet, RemoteFile, find_files, recipe_file
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.text.preprocessor import text_fitter
from layerlab.data.text.reading import read_text
from layerlab.errors import DataError

TINY_SHAKESPEARE = FileSet(
    dataset="tinyshakespeare",
    title="tiny-shakespeare",
    files=(RemoteFile("input.txt", ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",),
                      "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"),),
)


@SOURCES.register("tinyshakespeare")
def load_tinyshakespeare(cfg: TextConfig, ctx: SourceContext) -> RawData:
    files = find_files(TINY_SHAKESPEARE, path=cfg.path, settings=ctx.settings, download=cfg.download)
    return corpus(files["input.txt"], cfg, ctx)


@SOURCES.register("text")
def load_text(cfg: TextConfig, ctx: SourceContext) -> RawData:
    path = recipe_file(cfg.path, ctx.settings, "text", "text file")
    return corpus(path, cfg, ctx)


def corpus(path: Path, cfg: TextConfig, ctx: SourceContext) -> RawData:
    """The characters of ``path`` as an ordered (N,) array, for the language-model task."""
    if ctx.task != "language_model":
        raise DataError(f"data.name: {cfg.name} is a text corpus for task.name: language_model, not {ctx.task}; "
                        "for labelled sentences use data.name: sentences")
    text = read_text(path, encoding=cfg.encoding)
    if not text:
        raise DataError(f"{path}: the file is empty")
    chars = np.frombuffer(text.encode("utf-32-le"), dtype="<U1")  # (N,) one character each, no copy per char
    return RawData(modality="text", x=chars, y=np.zeros(len(chars), dtype=np.int8), fit=text_fitter(cfg, ctx, "lm"), ordered=True)
