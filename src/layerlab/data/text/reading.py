"""Reading text files in a stated encoding, gzipped or plain, with errors that name file and byte offset.

    text = read_text(path, encoding="latin-1")
    lines = read_lines(path)            # UTF-8 by default; .gz files are decompressed

A file that does not decode is refused with the file, the byte offset of the first bad byte and a hint
(``data.encoding``), never with Python's bare ``UnicodeDecodeError``.
"""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

from layerlab.errors import DataError

DEFAULT_ENCODING = "utf-8"


def read_text(path: str | Path, *, encoding: str | None = None) -> str:
    """The whole text of a file (``.gz`` decompressed), decoded with ``encoding`` (default UTF-8).

    Raises DataError when the file cannot be read, the encoding is unknown, or the bytes do not decode;
    the last names the file and the byte offset of the first undecodable byte.
    """
    path = Path(path)
    encoding = encoding or DEFAULT_ENCODING
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"data.encoding: '{encoding}' is not a known text encoding (e.g. utf-8, latin-1, cp1252)") from None
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start : exc.start + 4].hex(" ")
        raise DataError(
            f"{path}: not valid {encoding} at byte offset {exc.start} (line {line}, bytes {bad}); "
            f"set data.encoding to the file's encoding (e.g. data.encoding=latin-1)"
        ) from None


def read_lines(path: str | Path, *, encoding: str | None = None) -> list[str]:
    """The lines of a text file without their line ends (a last empty line is dropped)."""
    return read_text(path, encoding=encoding).splitlines()
