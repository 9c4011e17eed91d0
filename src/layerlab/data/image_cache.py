"""A cache of decoded images on disk (a uint8 .npy, memory-mappable), for image folders larger than memory (issue 34).

With ``data.cache: mmap`` the image-folder source decodes every image once into a uint8 ``.npy``
file of shape (N, C, H, W), beside a small JSON manifest: the folder, each file's relative path, size
and modification time, and the image shape. A later run reads that file instead of decoding again
while the manifest still matches the folder; a folder that changed (a file added, removed or
rewritten) is decoded anew; a cache whose files are unreadable or disagree with each other is refused
with a message naming them (deleting both is always safe: the folder is decoded again).

Where: ``$LAYERLAB_CACHE/images/`` (default ``~/.cache/layerlab/images/``), one ``<folder>-<key>.npy``
and ``.json`` per folder, ``key`` a hash of the folder's full path and the image shape.

Rows are read by position (``ImageCache.read``: positioned reads, not a mapping of the file, whose
pages the kernel would count as the process's), so the process's resident memory stays far below the
file's size however many epochs read it; the page cache keeps the file for the next epoch where memory allows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerlab.data.images import read_images
from layerlab.errors import DataError
from layerlab.settings import Settings

log = logging.getLogger(__name__)

FORMAT = 1  # the manifest's layout; a cache written by another format is decoded anew
FIT_BYTES = 32 * 2**20  # float64 bytes per chunk when the preprocessing's statistics are fitted on cached images
_DECODE_CHUNK = 1024  # images decoded, then written, at a time while the cache is built


@dataclass(frozen=True)
class CacheFiles:
    array: Path  # the .npy file: uint8 (N, C, H, W)
    manifest: Path  # the .json file: what the array was decoded from

    @classmethod
    def of(cls, settings: Settings, folder: Path, shape: tuple[int, int, int]) -> CacheFiles:
        key = hashlib.sha256(f"{folder.resolve()}|{shape}".encode()).hexdigest()[:16]
        stem = settings.cache_dir / "images" / f"{folder.resolve().name or 'images'}-{key}"
        return cls(Path(f"{stem}.npy"), Path(f"{stem}.json"))

    def corrupt(self, why: str) -> DataError:
        return DataError(f"{self.array}: this image cache is corrupt ({why}); delete it and {self.manifest.name} "
                         "beside it, and the folder is decoded again")


def use_mmap(choice: str, decoded_bytes: int, memory: int | None = None) -> bool:
    """Whether images go to the memory-mapped cache: ``data.cache`` mmap, or auto with the decoded images
    over half of the machine's memory (``memory``: its bytes, default read from the system)."""
    if choice != "auto":
        return choice == "mmap"
    return decoded_bytes > (memory if memory is not None else _physical_memory()) // 2


def fit_chunk(shape: tuple[int, ...]) -> int:
    """Images per chunk when fitting statistics on cached images: about ``FIT_BYTES`` of float64."""
    return max(1, FIT_BYTES // (8 * int(np.prod(shape))))


def cached_images(files: list[Path], *, folder: Path, shape: tuple[int, int, int], settings: Settings) -> ImageCache:
    """The decoded images of ``files`` (all under ``folder``, in this order) as (N, C, H, W) uint8, mapped from
    the cache, which is written first when missing or when the folder changed since it was.

    Raises DataError naming an image that cannot be read, or a cache file that is corrupt.
    """
    paths = CacheFiles.of(settings, folder, shape)
    listing = [[f.relative_to(folder).as_posix(), *_stat(f)] for f in files]
    manifest = _read_manifest(paths)
    full_shape = (len(files), *shape)
    if manifest is not None and manifest["files"] == listing and paths.array.exists():
        if manifest["shape"] != list(full_shape):
            raise paths.corrupt(f"its manifest lists {len(files)} files but gives the shape {manifest['shape']}")
        return ImageCache.open(paths, full_shape)
    if manifest is not None:
        log.info("%s changed since %s was written: decoding its %d images again", folder, paths.array, len(files))
    _build(files, paths, full_shape, {"format": FORMAT, "folder": str(folder.resolve()),
                                      "shape": list(full_shape), "files": listing})
    return ImageCache.open(paths, full_shape)


class ImageCache:
    """A cache file's images, (N, C, H, W) uint8, read by row with positioned reads (``os.pread``).

    Not through a mapping of the file: on a kernel that caches files in large folios, touching one 12 KB
    row of a mapped file maps its whole folio into the process, and 256 random rows of a 1.2 GB cache made
    380 MB resident (``benchmarks/image_cache.py``). Positioned reads copy just the rows; the kernel's page
    cache still keeps the file's pages for the next epoch while memory allows, outside the process.
    """

    def __init__(self, paths: CacheFiles, shape: tuple[int, ...], fd: int, offset: int):
        self.paths, self.shape, self._fd, self._offset = paths, shape, fd, offset
        self._row_bytes = int(np.prod(shape[1:]))
        weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls, paths: CacheFiles, shape: tuple[int, ...]) -> ImageCache:
        """The cache of ``paths``, checked against the ``shape`` its manifest gives."""
        try:
            with open(paths.array, "rb") as f:
                found, offset = _npy_header(f)
                size = os.fstat(f.fileno()).st_size
                if found != shape:
                    raise paths.corrupt(f"it holds images of shape {found}, its manifest says {shape}")
                if size != offset + int(np.prod(shape)):
                    raise paths.corrupt(f"{size} bytes where the shape {shape} needs {offset + int(np.prod(shape))}")
                fd = os.dup(f.fileno())
        except (OSError, ValueError) as exc:
            raise paths.corrupt(str(exc)) from None
        return cls(paths, tuple(shape), fd, offset)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The images at ``positions`` (an integer array, each in 0..N-1), as a new array."""
        positions = np.asarray(positions, dtype=np.int64)
        if len(positions) and (positions.min() < 0 or positions.max() >= self.shape[0]):
            raise IndexError(f"rows {positions.min()}..{positions.max()} of a cache of {self.shape[0]} images")
        out = np.empty((len(positions), *self.shape[1:]), dtype=np.uint8)
        flat, row = out.reshape(len(positions), self._row_bytes), self._row_bytes
        for start, count in _runs(positions):  # consecutive rows in one read
            data = os.pread(self._fd, row * count, self._offset + row * int(positions[start]))
            if len(data) != row * count:
                raise self.paths.corrupt(f"it ended {row * count - len(data)} bytes early; was it truncated while in use?")
            flat[start : start + count] = np.frombuffer(data, dtype=np.uint8).reshape(count, row)
        return out

    def __reduce__(self) -> tuple[Any, ...]:  # a file descriptor is not picklable; the file is
        return ImageCache.open, (self.paths, self.shape)


def _runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of consecutive values in ``positions`` (sorted or not)."""
    if len(positions) == 0:
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    starts = np.concatenate([[0], breaks])
    return list(zip(starts.tolist(), np.diff(np.concatenate([starts, [len(positions)]])).tolist()))


# ---------------------------------------------------------------------------------------- the files
def _build(files: list[Path], paths: CacheFiles, shape: tuple[int, ...], manifest: dict[str, Any]) -> None:
    """Decode ``files`` into ``paths.array`` in chunks (never all in memory), then write the manifest."""
    start = time.perf_counter()
    paths.array.parent.mkdir(parents=True, exist_ok=True)
    paths.manifest.unlink(missing_ok=True)  # no reader pairs the old manifest with the new array
    partial = paths.array.with_name(f"{paths.array.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": shape})
            for lo in range(0, len(files), _DECODE_CHUNK):
                f.write(read_images(files[lo : lo + _DECODE_CHUNK], size=shape[2:], channels=shape[1]).tobytes())
        os.replace(partial, paths.array)
    finally:
        partial.unlink(missing_ok=True)
    written = paths.manifest.with_name(f"{paths.manifest.name}.{os.getpid()}.partial")
    written.write_text(json.dumps(manifest))
    os.replace(written, paths.manifest)
    log.info("decoded %d images into %s (%.1f MB) in %.1f s", shape[0], paths.array,
             paths.array.stat().st_size / 1e6, time.perf_counter() - start)


def _read_manifest(paths: CacheFiles) -> dict[str, Any] | None:
    """The manifest, None when there is none or it is of another format; refused when unreadable."""
    if not paths.manifest.exists():
        return None
    try:
        manifest = json.loads(paths.manifest.read_text())
        if manifest.get("format") != FORMAT:
            return None
        if not isinstance(manifest["files"], list) or not isinstance(manifest["shape"], list):
            raise ValueError("'files' and 'shape' must be lists")
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise DataError(f"{paths.manifest}: this image cache manifest is corrupt ({exc}); delete it and "
                        f"{paths.array.name} beside it, and the folder is decoded again") from None
    return manifest


def _npy_header(f: Any) -> tuple[tuple[int, ...], int]:
    """(shape, offset of the data) of an uint8, C-ordered .npy file; ValueError for any other."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"unknown .npy version {version}")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(f)
    if dtype != np.uint8 or fortran or len(shape) != 4:
        raise ValueError(f"it holds {dtype} of shape {shape}, not uint8 images (N, C, H, W)")
    return tuple(int(s) for s in shape), f.tell()


def _stat(path: Path) -> tuple[int, int]:
    """(size, modification time in ns) of a file: what tells the manifest the folder changed."""
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot read this image ({exc})") from None
    return st.st_size, st.st_mtime_ns


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # unknown: never chosen by size
        return 2**62
