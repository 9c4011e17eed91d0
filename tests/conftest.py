"""Shared test set-up: real data from ../shared/data, never a download, few threads, warnings as errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT.parent / "shared" / "data").resolve()
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# at most 2, and no more than OMP_NUM_THREADS asks for (a shared machine runs the tests on one thread)
torch.set_num_threads(min(2, os.cpu_count() or 1, int(os.environ.get("OMP_NUM_THREADS") or 2)))


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch, tmp_path_factory):
    """Tests never download, and never write into the user's cache."""
    if SHARED_DATA.is_dir():
        monkeypatch.setenv("LAYERLAB_DATA", str(SHARED_DATA))
    monkeypatch.setenv("LAYERLAB_OFFLINE", "1")
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(autouse=True)
def _restore_determinism():
    """A test that turns on deterministic mode must not leak it into the next one."""
    yield
    torch.use_deterministic_algorithms(False)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def fashion_dir() -> Path:
    if not FASHION_DIR.is_dir():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return FASHION_DIR
