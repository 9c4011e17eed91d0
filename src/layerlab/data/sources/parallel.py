"""Line-aligned parallel corpora for translation: ``train.de`` beside ``train.en`` (gzipped or plain).

``data.path`` is a folder with ``{split}.{lang}`` files (``.gz`` or not) for the languages
``data.source_lang`` and ``data.target_lang``: ``train`` is needed; ``val`` is used as the validation
split when present (else ``data.val_fraction`` of train), and the test split is ``data.test_split``
(default ``test``; else ``data.test_fraction`` of train). Line i of one file translates line i of the
other; files whose line counts differ are refused, naming both files and their counts.

``multi30k`` is Multi30k task 1 (German–English image descriptions), tested on ``test_2016_flickr``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layerlab.data.files import FileSet, RemoteFile, find_files, resolve_folder
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import ParallelConfig
from layerlab.data.text.preprocessor import text_fitter
from layerlab.data.text.reading import read_lines
from layerlab.errors import DataError

_M30K = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
_M30K_SHA = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
}
MULTI30K = FileSet(
    dataset="multi30k",
    title="Multi30k task 1 (German-English)",
    files=tuple(RemoteFile(name, (_M30K + name,), sha) for name, sha in _M30K_SHA.items()),
)


@SOURCES.register("multi30k")
def load_multi30k(cfg: ParallelConfig, ctx: SourceContext) -> RawData:
    if (cfg.source_lang, cfg.target_lang) not in {("de", "en"), ("en", "de")}:
        raise DataError(f"multi30k has German (de) and English (en); data.source_lang={cfg.source_lang!r}, "
                        f"data.target_lang={cfg.target_lang!r}")
    files = find_files(MULTI30K, path=cfg.path, settings=ctx.settings, download=cfg.download)
    folder = files["train.de.gz"].parent
    return parallel(folder, cfg, ctx, test_split=cfg.test_split or "test_2016_flickr")


@SOURCES.register("parallel")
def load_parallel(cfg: ParallelConfig, ctx: SourceContext) -> RawData:
    folder = resolve_folder(cfg.path, ctx.settings, needs="the parallel source needs the folder holding "
                            f"train.{cfg.source_lang} and train.{cfg.target_lang}")
    return parallel(folder, cfg, ctx, test_split=cfg.test_split or "test")


def parallel(folder: Path, cfg: ParallelConfig, ctx: SourceContext, *, test_split: str) -> RawData:
    """(N, 2) source/target sentence pairs of train (then val at the end), and the test pairs."""
    if ctx.task != "seq2seq":
        raise DataError(f"data.name: {cfg.name} is a parallel corpus, for task.name: seq2seq, not {ctx.task}")
    train = read_pairs(folder, "train", cfg, required=True)
    val = read_pairs(folder, "val", cfg)
    test = read_pairs(folder, test_split, cfg)
    pool = train if val is None else np.concatenate([train, val])
    return RawData(modality="text", x=pool, y=np.zeros(len(pool), dtype=np.int8), fit=text_fitter(cfg, ctx, "seq2seq"),
                   test_x=test, test_y=None if test is None else np.zeros(len(test), dtype=np.int8),
                   ordered=val is not None, val_size=None if val is None else len(val))


def read_pairs(folder: Path, split: str, cfg: ParallelConfig, *, required: bool = False) -> np.ndarray | None:
    """(N, 2) pairs of ``split`` in ``folder``, or None when its files are absent (and not ``required``)."""
    paths = [_find(folder, f"{split}.{lang}") for lang in (cfg.source_lang, cfg.target_lang)]
    if None in paths:
        if required or any(paths):
            missing = [f"{split}.{lang}" for lang, p in zip((cfg.source_lang, cfg.target_lang), paths) if p is None]
            raise DataError(f"{folder}: no {' or '.join(missing)} (or .gz); a parallel corpus needs both sides")
        return None
    source, target = (read_lines(p, encoding=cfg.encoding) for p in paths)
    if len(source) != len(target):
        raise DataError(f"the parallel files are not line-aligned: {paths[0]} has {len(source):,} lines but "
                        f"{paths[1]} has {len(target):,}")
    return np.array([source, target], dtype=str).T.copy() if source else np.empty((0, 2), dtype=str)


def _find(folder: Path, name: str) -> Path | None:
    return next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)
