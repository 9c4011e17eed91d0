"""Reading pickled numpy data (CIFAR-10's python batches) without running arbitrary code.

``pickle.load`` calls whatever a file names, so a doctored file could run ``os.system``. This
unpickler resolves only the few names that plain dicts of numpy arrays need and refuses every other
one with a DataError.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from layerlab.errors import DataError


def _allowed() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2 keeps them in numpy._core; older files name numpy.core
        from numpy._core.multiarray import _reconstruct
        from numpy._core.numeric import _frombuffer
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core.multiarray import _reconstruct
        from numpy.core.numeric import _frombuffer
    import _codecs

    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = _reconstruct  # ndarray, protocols 0-4
        allowed[(f"{core}.numeric", "_frombuffer")] = _frombuffer  # ndarray, protocol 5
    # bytes pickled by Python 3 with protocol <= 2 (a pure function: text -> bytes)
    allowed[("_codecs", "encode")] = _codecs.encode
    return allowed


class SafeUnpickler(pickle.Unpickler):
    """An unpickler for dicts, lists, strings, numbers and numpy arrays, and nothing else."""

    ALLOWED = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise DataError(f"refusing to load '{module}.{name}': a data file may only hold numpy arrays, "
                            "lists, dicts, strings and numbers") from None


def load_pickle(path: Path) -> Any:
    """Unpickle a data file safely (bytes stay bytes, as in CIFAR's Python 2 pickles).

    Raises DataError naming the file when it is truncated, damaged, or names anything not allowed.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError, KeyError) as exc:
        raise DataError(f"{path}: a damaged or truncated pickle ({type(exc).__name__}: {exc}); "
                        "delete it and get it again") from None
