"""A CIFAR-10 folder in the real format (pickled dicts with bytes keys), for the FixMatch recipe."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

LABEL_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


@pytest.fixture
def tiny_cifar(tmp_path) -> Path:
    """``cifar-10-batches-py`` with 60 random images a batch, every class in each (6 of each)."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.permutation(np.repeat(np.arange(10), 6))
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in labels],
                 b"data": rng.integers(0, 256, (60, 3072), dtype=np.uint8),
                 b"filenames": [f"{i}.png".encode() for i in range(60)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {b"label_names": LABEL_NAMES, b"num_cases_per_batch": 60, b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder
