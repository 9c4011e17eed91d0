"""scikit-learn's handwritten digits: 1,797 images of 8x8 pixels with values 0 to 16, ten classes.

The data ships with scikit-learn, so it is always there. It has no test split of its own; ``load_data``
holds out ``data.test_fraction`` of it (stratified, seeded).
"""

from __future__ import annotations

import numpy as np

from layerlab.data.config import DataConfig
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import DIGIT_CLASSES as CLASS_NAMES


@SOURCES.register("digits")
def load_digits(cfg: DataConfig, ctx: SourceContext) -> RawData:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = bunch.images.astype(np.float32)[:, None]  # (1797, 1, 8, 8), values 0..16
    y = bunch.target.astype(np.int64)
    return RawData(
        modality="image",
        x=x,
        y=y,
        fit=lambda train: ImagePreprocessor.fit(train, scale=16.0, normalize=cfg.normalize, classes=CLASS_NAMES),
    )
