"""Data: sources, splits, preprocessing and batching.

    from layerlab.data import load_data
    data = load_data(recipe.data, task="classification", seed=0)
    data.train.x.shape, data.info.class_names, data.preprocessor.to_dict()

A source is one file in ``sources/``: its config class (a ``DataConfig`` subclass, ``layerlab.data.config``)
and its reading function, registered in ``SOURCES``; importing this package registers them all.
"""

from layerlab.data.config import DataConfig
from layerlab.data.dataset import DataInfo, Dataset, Split
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.load import load_data
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.source import DATASETS, SOURCES, RawData, SourceContext
from layerlab.data.sources import (  # noqa: F401  (they register)  # noqa: F401  (text sources)  # noqa: F401  (audio and time-series sources)
    arrays,
    audio_folder,
    cifar10,
    coco,
    csv_table,
    digit_strings,
    digits,
    image_folder,
    mask_folder,
    mnist,
    parallel,
    pennfudan,
    scenes,
    sentences,
    speech_manifest,
    text_corpus,
    timeseries,
    yolo,
)
from layerlab.data.table_preprocessor import TablePreprocessor
from layerlab.data.targets import StructuredTargets, TargetSpec

# ``@layerlab.data.register("name", config=Cfg)``: a data source of the user's own, from their module (see layerlab.plugins)
register = SOURCES.register

__all__ = [
    "register",
    "DATASETS",
    "SOURCES",
    "DataConfig",
    "Dataset",
    "DataInfo",
    "ImagePreprocessor",
    "Preprocessor",
    "RawData",
    "SourceContext",
    "Split",
    "StructuredTargets",
    "TablePreprocessor",
    "TargetSpec",
    "load_data",
]
