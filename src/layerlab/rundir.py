"""The run directory: the only output of a run, and all that later commands read.

    runs/digits-cnn-20261123-101500/
      recipe.yaml          the fully resolved recipe
      model.safetensors    the weights (of the best epoch when there is a validation split)
      model.json           what rebuilds and feeds the model: architecture, input shape, classes, preprocessing
      history.csv          one row per epoch
      summary.json         test metrics, best epoch, parameters, seconds, environment
      curves.png, confusion.png
      checkpoints/last.ckpt, checkpoints/best.safetensors
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerlab.errors import UsageError

FORMAT_VERSION = 1

# A recipe's name becomes a folder name under the runs folder: one path component, printable, short
# enough that the timestamp and a suffix still fit the file system's limit of 255 bytes per name.
MAX_NAME_LENGTH = 100
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|^\.")

# Any of these in a folder means a run is there already; a new run into it would overwrite its weights.
RUN_MARKERS = ("recipe.yaml", "model.safetensors", "checkpoints")


@dataclass(frozen=True)
class RunDir:
    path: Path

    # Everything a run writes is named here, once.
    recipe = property(lambda self: self.path / "recipe.yaml")
    weights = property(lambda self: self.path / "model.safetensors")
    model_meta = property(lambda self: self.path / "model.json")
    history = property(lambda self: self.path / "history.csv")
    summary = property(lambda self: self.path / "summary.json")
    curves_png = property(lambda self: self.path / "curves.png")
    confusion_png = property(lambda self: self.path / "confusion.png")
    checkpoint = property(lambda self: self.path / "checkpoints" / "last.ckpt")
    best_weights = property(lambda self: self.path / "checkpoints" / "best.safetensors")

    @classmethod
    def create(cls, root: Path, name: str) -> RunDir:
        """A new directory ``root/<name>-<timestamp>`` (suffixed if that exists)."""
        path = stamped_path(root, name)
        path.mkdir(parents=True)
        return cls(path)

    @classmethod
    def new_at(cls, path: str | Path) -> RunDir:
        """The directory ``path`` for a new run (``--out``): created if need be, refused when it holds a run."""
        run = cls(Path(path))
        found = [m for m in RUN_MARKERS if (run.path / m).exists()]
        if found:
            raise UsageError(f"--out {path}: holds a run already ({', '.join(found)}), which a new run would "
                             f"overwrite; continue it with `layerlab run --resume {path}`, or give another folder")
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {path}: cannot create the folder ({exc.strerror or exc})") from None
        return run

    @classmethod
    def open(cls, path: str | Path, *, need: tuple[str, ...] = ("recipe", "model_meta", "weights")) -> RunDir:
        """An existing run directory; raises UsageError saying what is missing."""
        run = cls(Path(path))
        if not run.path.is_dir():
            raise UsageError(f"{path}: no such run directory")
        missing = [getattr(run, n).name for n in need if not getattr(run, n).exists()]
        if missing:
            raise UsageError(f"{path}: not a complete LayerLab run directory (missing {', '.join(missing)})")
        return run

    def write_json(self, target: Path, obj: Any) -> None:
        from layerlab.train.state_io import atomic_write_text  # torch: not for checking a recipe's name

        atomic_write_text(target, json.dumps(obj, indent=2, default=_jsonable) + "\n")

    def read_json(self, target: Path) -> Any:
        try:
            return json.loads(target.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{target}: cannot read ({exc})") from None

    def write_history(self, rows: list[dict[str, float]]) -> None:
        keys: list[str] = []
        for row in rows:
            keys += [k for k in row if k not in keys]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
        from layerlab.train.state_io import atomic_write_text

        atomic_write_text(self.history, buffer.getvalue())

    def read_history(self) -> list[dict[str, float]]:
        with self.history.open(newline="", encoding="utf-8") as handle:
            return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def stamped_path(root: Path, name: str) -> Path:
    """``root/<name>-<YYYYmmdd-HHMMSS>``, or with ``-2``, ``-3``, ... after it: a path that does not exist yet."""
    check_run_name(name)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = root / f"{name}-{stamp}", 1
    while path.exists():
        n += 1
        path = root / f"{name}-{stamp}-{n}"
    return path


def check_run_name(name: str) -> str:
    """``name`` when it is safe as one folder name under the runs folder; raises UsageError (exit 2) saying why not.

    Refused, not rewritten, so that the folder a run lands in is always the one its recipe names.
    """
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"name: a run's name must be a non-empty string (it names its folder), got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"name: {len(name)} characters is too long for a run's folder name (at most {MAX_NAME_LENGTH})")
    bad = _UNSAFE_NAME.search(name)
    if bad is not None:
        what = "start with '.'" if bad.group() == "." else f"hold {bad.group()!r}"
        raise UsageError(f"name: {name[:60]!r} cannot be a folder name inside the runs folder (it may not {what}); "
                         "use letters, digits, '-', '_' or '.'")
    return name


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
