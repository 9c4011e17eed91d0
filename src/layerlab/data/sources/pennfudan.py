"""``pennfudan``: the Penn-Fudan pedestrian photographs (170 images, 345 people) with boxes and masks.

The folder ``PennFudanPed/`` holds ``PNGImages/*.png``, ``PedMasks/*_mask.png`` (0 background, k the
k-th pedestrian) and ``Annotation/*.txt`` (PASCAL boxes). It is looked for in ``data.path``, else as
``pennfudan/PennFudanPed`` in each data directory, else (``data.download``) the official zip is fetched,
extracted into the cache and checked: the extracted files' content digest must equal ``CONTENT_SHA256``.

Every image is resized to ``size`` x ``size`` (aspect not kept, as a fixed-size batch needs); a fixed
seeded draw of ``test_images`` photographs is the test split. Targets: a person/background class map
for ``segmentation``, or the pedestrians' boxes (from the instance masks, which the annotations' boxes
match), labels (0, the one class) and masks for ``detection``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from layerlab.data.config import DataConfig
from layerlab.data.files import FileSet, download, resolve_path, search_dirs
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.images import read_images
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import PennFudanConfig
from layerlab.errors import DataError
from layerlab.settings import Settings

FOLDER = "PennFudanPed"
URL = "https://www.cis.upenn.edu/~jshi/ped_html/PennFudanPed.zip"
# SHA-256 over the 510 files of the extracted data set (each file's path relative to PennFudanPed/, a
# NUL, its bytes, in sorted order): the university publishes no checksum of its zip, so the content is
# checked instead. tests/vision/test_pennfudan.py checks it against the copy in the shared data.
CONTENT_SHA256 = "d7d7b6e199f3d17149defb5d7d34806449f3a0c093a7128e3781a52cf156326f"
LOOKUP = FileSet("pennfudan", "Penn-Fudan", ())
PERSON = "person"


@SOURCES.register("pennfudan")
def load_pennfudan(cfg: PennFudanConfig, ctx: SourceContext) -> RawData:
    folder = find_pennfudan(cfg, ctx.settings)
    images = sorted((folder / "PNGImages").glob("*.png"))
    if not images:
        raise DataError(f"{folder / 'PNGImages'}: no PNG images")
    masks = [_mask_path(folder, image) for image in images]
    size = (cfg.size, cfg.size)
    x = read_images(images, size=size, channels=1 if cfg.grey else 3)
    instances = [_read_mask(path, size) for path in masks]
    dense = ctx.target.kind != "structured"
    y = np.stack([(m > 0).astype(np.int64) for m in instances]) if dense else _structured(instances)
    test = np.random.default_rng(20070101).permutation(len(images))[:cfg.test_images]  # fixed, not the run's seed
    train = np.setdiff1d(np.arange(len(images)), test)
    classes = ["background", PERSON] if dense else [PERSON]
    files = np.array([str(p) for p in images])
    return RawData(
        modality="image", x=x[train], y=y[train], test_x=x[test], test_y=y[test],
        meta={"file": files[train]}, test_meta={"file": files[test]},
        fit=lambda t: ImagePreprocessor.fit(t, scale=255.0, normalize=cfg.normalize, classes=classes),
    )


def _mask_path(folder: Path, image: Path) -> Path:
    path = folder / "PedMasks" / f"{image.stem}_mask.png"
    if not path.is_file():
        raise DataError(f"{image}: its mask {path} is missing")
    return path


def _read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The instance mask (H, W) uint8 resized (nearest) to ``size``: 0 background, k the k-th pedestrian."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.resize(size[::-1], Image.Resampling.NEAREST), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read this mask ({exc})") from None


def _structured(instances: list[np.ndarray]) -> np.ndarray:
    out = np.empty(len(instances), dtype=object)
    for i, mask in enumerate(instances):
        ids = [k for k in np.unique(mask) if k > 0]
        masks = np.stack([mask == k for k in ids]) if ids else np.zeros((0, *mask.shape), dtype=bool)
        boxes = [[c.min(), r.min(), c.max() + 1, r.max() + 1] for r, c in (np.nonzero(m) for m in masks)]
        out[i] = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                  "labels": torch.zeros(len(ids), dtype=torch.int64), "masks": torch.from_numpy(masks)}
    return out


# ------------------------------------------------------------------------------------ finding the files
def find_pennfudan(cfg: DataConfig, settings: Settings) -> Path:
    """The ``PennFudanPed`` folder: data.path (the folder or its parent), the data directories, or the
    official zip downloaded into the cache and checked."""
    if cfg.path is not None:
        given = resolve_path(cfg.path, settings)
        for folder in (given, given / FOLDER):
            if (folder / "PNGImages").is_dir():
                return folder
        raise DataError(f"data.path: {given} is not the Penn-Fudan folder (no PNGImages/ in it or in {FOLDER}/)")
    for base in search_dirs(LOOKUP, settings):
        if (base / FOLDER / "PNGImages").is_dir():
            return base / FOLDER
    target = settings.dataset_cache / "pennfudan"
    if (target / FOLDER / "PNGImages").is_dir():
        return target / FOLDER
    if not cfg.download or settings.offline:
        raise DataError(f"Penn-Fudan not found (looked for pennfudan/{FOLDER}/ in each data directory); put the "
                        f"extracted {FOLDER}/ folder there, or allow the download of {URL}")
    return fetch_pennfudan(URL, target)


def fetch_pennfudan(url: str, target: Path) -> Path:
    """Download the zip from ``url``, extract its ``PennFudanPed/`` files into ``target`` and check their digest."""
    target.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=target))
    try:
        archive = download(url, scratch / "PennFudanPed.zip", sha256=None)
        _extract(archive, scratch)
        digest = content_sha256(scratch / FOLDER)
        if digest != CONTENT_SHA256:
            raise DataError(f"{url}: the extracted files' digest is {digest}, expected {CONTENT_SHA256}; "
                            "the download is damaged or not the Penn-Fudan data set")
        shutil.rmtree(target / FOLDER, ignore_errors=True)
        (scratch / FOLDER).rename(target / FOLDER)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target / FOLDER


def _extract(archive: Path, scratch: Path) -> None:
    wanted = re.compile(rf"^{FOLDER}/(PNGImages|PedMasks|Annotation)/[\w.-]+$")
    try:
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                if wanted.match(name):  # only the known folders: no paths from the archive are trusted
                    dest = scratch / PurePosixPath(name)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(zipped.read(name))
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{archive}: a damaged or truncated zip ({exc}); delete it and get it again") from None


def content_sha256(folder: Path) -> str:
    """SHA-256 over the files under ``folder``: each relative path, a NUL, its bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()
