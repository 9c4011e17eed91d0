"""An HTTP request's body to the graph's inputs, with every mistake an ``InputError`` naming its field.

JSON bodies (``application/json``), one key of:
    inputs     arrays as the graph takes them (the spec's input shape, per example, or a batch)
    rows       table rows as {column: value}                                   (table runs)
    sentences  strings                                                         (text runs)
    images     base64-encoded image files (PNG, JPEG, ...)                     (image runs)
    audio      base64-encoded WAV files                                        (audio runs)
Multipart bodies (``multipart/form-data``): files under any field name; images, WAV files, CSV files
(table and series runs) or text files with one sentence per line, as the run takes. Images are converted
to the run's channels and resized to its size, WAV files resampled and cut, as ``layerlab predict`` does.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from layerlab.errors import DataError
from layerlab.serve.predictor import InputError, Predictor

T = TypeVar("T")
JSON_KEYS = ("inputs", "rows", "sentences", "images", "audio")
FILE_KINDS = {"image": "images", "audio": "audio"}  # the JSON key of base64 files, by input kind
MAX_SENTENCE = 10_000  # characters; the tokenizer then keeps the run's max_length tokens


def from_json(predictor: Predictor, body: Any, *, max_items: int) -> np.ndarray:
    """The graph inputs of a JSON body (see the module's docstring)."""
    if not isinstance(body, dict):
        raise InputError("body", f"must be a JSON object with one of the keys {', '.join(JSON_KEYS)}")
    keys = [k for k in JSON_KEYS if k in body]
    if len(keys) != 1:
        unknown = [k for k in body if k not in JSON_KEYS]
        raise InputError("body", f"needs exactly one of the keys {', '.join(JSON_KEYS)}"
                         + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else ""))
    key = keys[0]
    items = body[key]
    if not isinstance(items, list) or not items:
        raise InputError(key, "must be a non-empty list")
    if len(items) > max_items:
        raise InputError(key, f"{len(items)} items; at most {max_items} per request")
    if key == "inputs":
        return _array(predictor, items)
    if key == "rows":
        return predictor.rows(items, prepare_only=True)
    if key == "sentences":
        for i, sentence in enumerate(items):
            if isinstance(sentence, str) and len(sentence) > MAX_SENTENCE:
                raise InputError(f"sentences[{i}]", f"{len(sentence)} characters; at most {MAX_SENTENCE}")
        return predictor.prepare_sentences(items)
    if FILE_KINDS.get(predictor.input_kind) != key:
        raise InputError(key, f"this model takes {predictor.input_kind} inputs; send "
                         f"{_json_key(predictor)} instead")
    return from_files(predictor, base64_files(key, items), max_items=max_items)


def base64_files(key: str, items: list[Any]) -> list[tuple[str, str, bytes]]:
    """Base64-encoded files (a ``data:`` URL's prefix allowed) as ``(field, "", content)``."""
    files = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(f"{key}[{i}]", "must be a base64-encoded file")
        try:
            files.append((f"{key}[{i}]", "", base64.b64decode(item.split(",", 1)[-1], validate=True)))
        except (binascii.Error, ValueError):
            raise InputError(f"{key}[{i}]", "is not valid base64") from None
    return files


def from_files(predictor: Predictor, files: list[tuple[str, str, bytes]], *, max_items: int) -> np.ndarray:
    """The graph inputs of uploaded files, each ``(field, filename, content)``, read one by one so that an
    error names the field of the file that does not fit; at most ``max_items`` examples in all (a CSV file
    holds many)."""
    if predictor.input_kind == "noise":
        raise InputError("files", "this model generates from noise; send {\"inputs\": [[...noise...]]}")
    parts = read_each(files, lambda path: predictor.files([path]))
    x = np.concatenate(parts)
    if len(x) > max_items:
        raise InputError("files", f"{len(x)} examples in the files; at most {max_items} per request")
    return x


def read_each(files: list[tuple[str, str, bytes]], read: Callable[[Path], T]) -> list[T]:
    """``read`` of each uploaded file ``(field, filename, content)``, written to a temporary file; an empty
    file or a DataError is an InputError naming the file's field (and its name, not the temporary path)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="layerlab-serve-") as tmp:
        for i, (field, filename, content) in enumerate(files):
            if not content:
                raise InputError(field, f"{filename or 'the file'} is empty")
            suffix = "".join(c for c in Path(filename).suffix.lower() if c.isalnum() or c == ".")[:8]
            path = Path(tmp) / f"upload{i}{suffix}"
            path.write_bytes(content)
            try:
                results.append(read(path))
            except DataError as exc:
                message = str(exc).replace(f"{path}: ", "").replace(str(path), filename or "the file")
                raise InputError(field, f"{filename + ': ' if filename else ''}{message}") from None
    return results


def _array(predictor: Predictor, items: list[Any]) -> np.ndarray:
    try:
        x = np.asarray(items)
    except ValueError:
        raise InputError("inputs", "ragged arrays; every example must have the spec's input shape") from None
    if x.dtype == object or x.dtype.kind not in "biuf":
        raise InputError("inputs", "must be numbers in nested lists of the spec's input shape")
    return predictor.array(x)


def _json_key(predictor: Predictor) -> str:
    return {"image": "images (base64) or inputs", "audio": "audio (base64) or inputs", "table": "rows",
            "text": "sentences", "series": "inputs (windows) or a CSV file", "noise": "inputs"}[predictor.input_kind]
