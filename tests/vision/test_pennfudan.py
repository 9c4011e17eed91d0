"""The pennfudan source: the real photographs, a fixed 50-image test split, masks as class maps or instances."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from layerlab.data import load_data
from layerlab.data.config import DataConfig
from layerlab.data.sources.pennfudan import CONTENT_SHA256, FOLDER, content_sha256, fetch_pennfudan
from layerlab.errors import DataError
from tests.conftest import SHARED_DATA

LOCAL = SHARED_DATA / "pennfudan" / FOLDER
pytestmark = pytest.mark.skipif(not LOCAL.is_dir(), reason="needs ../shared/data/pennfudan")


def _config(**options) -> DataConfig:
    return DataConfig.model_validate({"name": "pennfudan", "size": 64, **options})


def test_person_masks_and_a_fixed_test_split_of_fifty():
    a = load_data(_config(), task="segmentation", seed=0)
    b = load_data(_config(), task="segmentation", seed=1)
    assert len(a.test) == 50 and len(a.train) + len(a.val) == 120
    assert a.train.x.shape[1:] == (3, 64, 64) and a.train.y.shape[1:] == (64, 64)
    assert a.info.class_names == ["background", "person"]
    assert set(a.test.y.unique().tolist()) == {0, 1}
    assert 0.05 < a.train.y.float().mean() < 0.4  # people cover a part of each photograph
    assert (a.test.y == b.test.y).all()  # the test split does not move with the run's seed
    assert list(a.test.ids) == list(b.test.ids) and a.test.ids[0].endswith(".png")


def test_detection_targets_hold_every_pedestrian():
    data = load_data(_config(val_fraction=0), task="detection", seed=0)
    people = sum(len(t["labels"]) for t in [*data.train.y, *data.test.y])
    assert people == 423  # the 423 boxes of Annotation/*.txt (the site says 345 pedestrians), each with its mask
    first = data.train.y[0]
    assert first["boxes"].shape[1] == 4 and (first["boxes"][:, 2:] > first["boxes"][:, :2]).all()
    assert first["masks"].shape[1:] == (64, 64)


def test_the_content_digest_matches_the_shared_copy():
    assert content_sha256(LOCAL) == CONTENT_SHA256


def test_a_wrong_folder_is_refused_naming_it(tmp_path):
    with pytest.raises(DataError, match="not the Penn-Fudan folder"):
        load_data(_config(path=str(tmp_path)), task="segmentation", seed=0)


def test_a_damaged_or_foreign_zip_is_refused(tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="damaged"):
        fetch_pennfudan(broken.as_uri(), tmp_path / "cache1")
    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr(f"{FOLDER}/PNGImages/x.png", b"123")
    with pytest.raises(DataError, match="digest"):
        fetch_pennfudan(foreign.as_uri(), tmp_path / "cache2")
    assert not (tmp_path / "cache2" / FOLDER).exists()


@pytest.mark.slow
def test_the_official_zip_layout_is_extracted_and_checked(tmp_path):
    archive = tmp_path / "PennFudanPed.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        for path in sorted(LOCAL.rglob("*")):
            if path.is_file():
                z.write(path, f"{FOLDER}/{path.relative_to(LOCAL).as_posix()}")
        z.writestr("../evil.txt", b"never extracted")
    folder = fetch_pennfudan(archive.as_uri(), tmp_path / "cache")
    assert folder == tmp_path / "cache" / FOLDER and len(list((folder / "PNGImages").glob("*.png"))) == 170
    assert not (tmp_path / "evil.txt").exists()
    assert np.array_equal(sorted(p.name for p in (folder / "PedMasks").iterdir()),
                          sorted(p.name for p in (LOCAL / "PedMasks").iterdir()))
