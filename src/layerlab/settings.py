"""The one place where LayerLab reads environment variables.

``LAYERLAB_DATA``   colon-separated directories searched for data sets before the cache.
``LAYERLAB_CACHE``  where downloads go (default ``~/.cache/layerlab``).
``LAYERLAB_OFFLINE`` set to 1 to never download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Where Debian's dataset packages (``dataset-fashion-mnist``) and similar put their files.
SYSTEM_DATA_DIRS = (Path("/usr/share/datasets"), Path("/usr/local/share/datasets"))


@dataclass(frozen=True)
class Settings:
    data_dirs: tuple[Path, ...] = ()
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "layerlab")
    offline: bool = False

    @property
    def dataset_cache(self) -> Path:
        return self.cache_dir / "datasets"

    def search_path(self) -> list[Path]:
        """Directories searched for a data set, in order (without the recipe's own ``path:``)."""
        return [*self.data_dirs, self.dataset_cache, *SYSTEM_DATA_DIRS]


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dirs = tuple(Path(p).expanduser() for p in env.get("LAYERLAB_DATA", "").split(os.pathsep) if p)
    cache = env.get("LAYERLAB_CACHE")
    offline = env.get("LAYERLAB_OFFLINE", "").strip().lower() in {"1", "true", "yes"}
    if cache:
        return Settings(data_dirs=data_dirs, cache_dir=Path(cache).expanduser(), offline=offline)
    return Settings(data_dirs=data_dirs, offline=offline)


def torchrun_env(environ: dict[str, str] | None = None) -> tuple[int, int, int] | None:
    """(rank, world size, local rank) of a process that torchrun (torch.distributed.run) started, read from
    its ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; None when they are not set (one process on its own)."""
    env = os.environ if environ is None else environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    try:
        return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", env["RANK"]))
    except ValueError:
        raise ValueError(f"RANK={env['RANK']!r}, WORLD_SIZE={env['WORLD_SIZE']!r}, LOCAL_RANK={env.get('LOCAL_RANK')!r}: "
                         "torchrun sets these to whole numbers") from None
