"""Labelled sentences: one file per class (rt-polarity's ``.pos`` and ``.neg``), or a CSV/TSV table.

``data.path`` is either a folder whose files each hold the sentences of one class, one per line (the
class is the file's suffix when the names share a stem, as ``rt-polarity.pos``; else the name without
suffix), or one CSV/TSV file with a text column (``data.text_column``, default the first) and a label
column (``data.target``, default the last). Files are read in ``data.encoding`` (UTF-8 by default) and
a file that does not decode is named with the byte offset of the first bad byte.

``rt-polarity`` is Pang and Lee's sentence polarity data v1.0, read as UTF-8 or, failing that, as Latin-1
(the original release's encoding), unless ``data.encoding`` says otherwise.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from layerlab.data.files import FileSet, RemoteFile, find_files, resolve_path
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import SentencesConfig
from layerlab.data.text.preprocessor import TextPreprocessor, text_fitter
from layerlab.data.text.reading import read_lines, read_text
from layerlab.errors import DataError

_RT = "https://raw.githubusercontent.com/dennybritz/cnn-text-classification-tf/master/data/rt-polaritydata/"
RT_POLARITY = FileSet(
    dataset="rt-polarity",
    title="rt-polarity (sentence polarity v1.0)",
    files=(RemoteFile("rt-polarity.neg", (_RT + "rt-polarity.neg",),
                      "2d11cfbc790f1cd96d78339f41ce53ced1efa83cd22d37d6788fa3fe3d17e2fd"),
           RemoteFile("rt-polarity.pos", (_RT + "rt-polarity.pos",),
                      "4134882974a28d0c7b5151256f0e33a6169984ee7372c279e673f1114f475d58")),
)


@SOURCES.register("rt-polarity")
def load_rt_polarity(cfg: SentencesConfig, ctx: SourceContext) -> RawData:
    files = list(find_files(RT_POLARITY, path=cfg.path, settings=ctx.settings, download=cfg.download).values())
    encoding = cfg.encoding
    if encoding is None:  # the original release is Latin-1; copies in circulation are also UTF-8
        try:
            return labelled(per_class_files(files, "utf-8"), cfg, ctx, "utf-8")
        except DataError:
            encoding = "latin-1"
    return labelled(per_class_files(files, encoding), cfg, ctx, encoding)


@SOURCES.register("sentences")
def load_sentences(cfg: SentencesConfig, ctx: SourceContext) -> RawData:
    if cfg.path is None:
        raise DataError("data.path: the sentences source needs a folder (one file per class) or a CSV/TSV file")
    path = resolve_path(cfg.path, ctx.settings)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if len(files) < 2:
            raise DataError(f"{path}: {len(files)} file(s); one file of sentences per class needs at least two")
        examples = per_class_files(files, cfg.encoding)
    else:
        examples = table_rows(path, cfg)
    return labelled(examples, cfg, ctx, cfg.encoding)


def per_class_files(files: list[Path], encoding: str | None) -> tuple[list[str], list[str], list[str]]:
    """(sentences, labels, ids) from one file per class; empty lines are skipped."""
    files = sorted(files)
    stems = {f.name.split(".")[0] for f in files}
    names = [f.suffix.lstrip(".") if len(stems) == 1 and f.suffix else f.name.split(".")[0] for f in files]
    if len(set(names)) != len(names):
        raise DataError(f"cannot tell the classes apart by file name: {', '.join(f.name for f in files)}")
    sentences, labels, ids = [], [], []
    for file, name in zip(files, names):
        for number, line in enumerate(read_lines(file, encoding=encoding), start=1):
            if line.strip():
                sentences.append(line.strip())
                labels.append(name)
                ids.append(f"{file.name}:{number}")
    return sentences, labels, ids


def table_rows(path: Path, cfg: SentencesConfig) -> tuple[list[str], list[str], list[str]]:
    """(sentences, labels, ids) from a CSV or TSV file (tab-separated when the name ends in .tsv)."""
    delimiter = "\t" if path.name.removesuffix(".gz").endswith(".tsv") and cfg.delimiter == "," else cfg.delimiter
    rows = list(csv.reader(io.StringIO(read_text(path, encoding=cfg.encoding)), delimiter=delimiter))
    names = rows[0] if cfg.header and rows else []
    body = rows[1:] if cfg.header else rows
    if not body:
        raise DataError(f"{path}: no rows of sentences")
    width = len(body[0])

    def column(key: str | None, default: int, role: str) -> int:
        if key is None:
            return default % width
        if key in names:
            return names.index(key)
        if key.lstrip("-").isdigit() and -width <= int(key) < width:
            return int(key) % width
        raise DataError(f"{path}: no {role} '{key}'; the columns are {', '.join(names) or f'0..{width - 1}'}")

    text, label = column(cfg.text_column, 0, "text column (data.text_column)"), column(cfg.target, -1, "label column (data.target)")
    first = 2 if cfg.header else 1
    short = [first + i for i, row in enumerate(body) if len(row) <= max(text, label)]
    if short:
        raise DataError(f"{path}, line {short[0]}: fewer columns than the text and label columns need")
    return [r[text] for r in body], [r[label] for r in body], [f"{path.name}:{first + i}" for i in range(len(body))]


def labelled(examples: tuple[list[str], list[str], list[str]], cfg: SentencesConfig, ctx: SourceContext,
             encoding: str | None) -> RawData:
    """RawData of sentences (N,) with class indices, for classification."""
    if ctx.target.kind != "class":
        raise DataError(f"data.name: {cfg.name} holds labelled sentences, for task.name: classification, not {ctx.task}")
    sentences, labels, ids = examples
    fitted = ctx.fitted if isinstance(ctx.fitted, TextPreprocessor) else None
    classes = fitted.classes if fitted is not None and fitted.classes else sorted(set(labels))
    index = {name: i for i, name in enumerate(classes)}
    unknown = next((i for i, label in enumerate(labels) if label not in index), None)
    if unknown is not None:
        raise DataError(f"{ids[unknown]}: class '{labels[unknown]}' is not one of the run's classes ({', '.join(classes)})")
    y = np.array([index[label] for label in labels], dtype=np.int64)

    fit = text_fitter(cfg, ctx, "classify", classes=classes, encoding=encoding)
    return RawData(modality="text", x=np.array(sentences, dtype=str), y=y, fit=fit, meta={"id": np.array(ids)})
