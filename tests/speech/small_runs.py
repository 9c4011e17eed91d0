"""What the speech tests share: a small run of a built-in recipe made offline on ../shared/data."""

from __future__ import annotations

import pytest

import layerlab
from tests.conftest import SHARED_DATA


def offline_run(tmp_path_factory, recipe: str, overrides: list[str], name: str):
    """``layerlab.run`` of ``recipe`` on the shared data, with no download (a module fixture runs before the
    per-test offline set-up); skipped where ../shared/data is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAYERLAB_DATA", str(SHARED_DATA))
        env.setenv("LAYERLAB_OFFLINE", "1")
        env.setenv("LAYERLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        return layerlab.run(recipe, overrides, out=tmp_path_factory.mktemp("runs") / name)
