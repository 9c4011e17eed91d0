"""The IDX file format of MNIST and Fashion-MNIST, gzipped or not, decoded with numpy.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order:

    train-images-idx3-ubyte: 0x00000803, 60000, 28, 28, then 60000*28*28 unsigned bytes
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from layerlab.errors import DataError

# type code -> numpy dtype (IDX stores multi-byte values big-endian)
DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not). Raises DataError naming the file."""
    return decode_idx(read_maybe_gzipped(path), path)


def read_maybe_gzipped(path: Path) -> bytes:
    """A file's bytes, decompressed when it is gzipped (told by its first bytes, not its name)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: a damaged or truncated gzip file ({exc}); delete it and get it again") from None


def decode_idx(data: bytes, path: Path | str) -> np.ndarray:
    """Decode the bytes of an IDX file; ``path`` is only for messages."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in DTYPES or data[3] == 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'in an empty file'}; "
                        "expected 0000 followed by a type code and the number of dimensions)")
    dtype, ndim = DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes; {ndim} dimensions need {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape, dtype=np.int64))
    expected = count * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise DataError(f"{path}: {what}: the header says {' x '.join(map(str, shape))} values "
                        f"({expected:,} bytes) but {actual:,} bytes follow it; delete it and get it again")
    return np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape).astype(dtype.newbyteorder("="), copy=False)
