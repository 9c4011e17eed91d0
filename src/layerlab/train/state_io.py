"""Saving nested training state without pickle, atomically.

A checkpoint holds nested dicts and lists (model and optimiser state dicts, RNG states, counters). The
tensors go into a safetensors file under their path in the structure (``optimizer/state/3/exp_avg``);
everything else is kept as a JSON skeleton in the file's metadata. Loading rebuilds the structure and
never executes code, so a checkpoint from anywhere is safe to open.

Writes go to a temporary file in the same directory, are flushed to disk, then renamed over the old
file, so an interrupted write always leaves the previous checkpoint readable; the temporary file a kill
leaves behind is removed at the next save or load of the same target.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from layerlab.errors import LayerLabError

_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_INTKEYS = "__intkeys__"


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write a file by calling ``write(handle)`` on a temporary file, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    # The writer's pid in the name tells a temporary file that a kill left behind from one being written now.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files of ``atomic_write`` for ``path`` whose writer is gone (a SIGKILL or a power
    cut between the write and the rename leaves one, perhaps empty, next to the target). Only names of our
    own pattern, ``.<name>.<pid>.<8 characters>.tmp``, are touched, and only when no process ``<pid>`` runs
    (older versions wrote ``.<name>.<8 characters>.tmp``, without a pid). Returns the files removed."""
    path = Path(path)
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = _TEMPORARY.fullmatch(candidate.name[len(path.name) + 2 : -len(".tmp")])
        if match is None or (match["pid"] is not None and _running(int(match["pid"]))):
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or a folder we may read but not change
            candidate.unlink()
            removed.append(candidate)
    return removed


_TEMPORARY = re.compile(r"(?:(?P<pid>[0-9]+)\.)?[a-z0-9_]{8}")  # what follows ".<name>." in a temporary's name


def _running(pid: int) -> bool:
    if os.name == "nt":  # there os.kill(pid, 0) would end the process, not ask about it
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # someone else's process, or no way to tell: leave its file alone
    return True


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda h: h.write(text), mode="w")


def pack(obj: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested structure into a JSON-able skeleton and a flat dict of tensors."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, key: str) -> Any:
        if isinstance(node, torch.Tensor):
            tensors[key] = node.detach().cpu().contiguous()
            return {_TENSOR: key}
        if isinstance(node, dict):
            int_keys = all(isinstance(k, int) for k in node) and bool(node)
            packed = {str(k): walk(v, f"{key}/{k}") for k, v in node.items()}
            return {_INTKEYS: packed} if int_keys else packed
        if isinstance(node, tuple):
            return {_TUPLE: [walk(v, f"{key}/{i}") for i, v in enumerate(node)]}
        if isinstance(node, list):
            return [walk(v, f"{key}/{i}") for i, v in enumerate(node)]
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise TypeError(f"cannot save a {type(node).__name__} at '{key}' in a checkpoint")

    return walk(obj, ""), tensors


def unpack(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of ``pack``."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if _TENSOR in node:
                return tensors[node[_TENSOR]]
            if _TUPLE in node:
                return tuple(walk(v) for v in node[_TUPLE])
            if _INTKEYS in node:
                return {int(k): walk(v) for k, v in node[_INTKEYS].items()}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(skeleton)


def save_state(path: str | Path, obj: Any) -> Path:
    """Atomically save a nested structure of tensors and plain values to ``path`` (safetensors)."""
    skeleton, tensors = pack(obj)
    # safetensors refuses tensors that share memory; RNG states and views are small, so copy them apart.
    tensors = {k: v.clone() for k, v in tensors.items()}
    data = st_save(tensors, metadata={"skeleton": json.dumps(skeleton)})
    return atomic_write(path, lambda h: h.write(data))


def load_state(path: str | Path) -> Any:
    """Load what ``save_state`` wrote. Raises LayerLabError naming the file when it is unreadable."""
    path = Path(path)
    remove_stale_temporaries(path)
    try:
        data = path.read_bytes()
        tensors = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__", {})
        skeleton = json.loads(metadata["skeleton"])
    except FileNotFoundError:
        raise LayerLabError(f"{path}: no such checkpoint") from None
    except (SafetensorError, KeyError, ValueError, OSError) as exc:
        raise LayerLabError(f"{path}: not a readable LayerLab checkpoint ({exc})") from None
    return unpack(skeleton, tensors)
