"""Data: sources, splits, preprocessing and batching.

    from layerlab.data import load_data
    data = load_data(recipe.data, task="classification", seed=0)
    data.train.x.shape, data.info.class_names, data.preprocessor.to_dict()

A source's options are a ``DataConfig`` subclass declared in ``source_configs`` (no torch there, so a
recipe is checked without it); its reading function is one file in ``sources/``, registered in
``SOURCES`` under the same name and loaded on first use. The names below load on first use too.
"""

from layerlab.data import source_configs  # noqa: F401  (it declares every source)
from layerlab.data.config import DataConfig
from layerlab.data.registry import DATASETS, SOURCES
from layerlab.lazy import lazy_exports

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

__getattr__ = lazy_exports(__name__, {
    "Dataset": "layerlab.data.dataset",
    "DataInfo": "layerlab.data.dataset",
    "Split": "layerlab.data.dataset",
    "ImagePreprocessor": "layerlab.data.image_preprocessor",
    "Preprocessor": "layerlab.data.preprocessor",
    "RawData": "layerlab.data.source",
    "SourceContext": "layerlab.data.source",
    "StructuredTargets": "layerlab.data.targets",
    "TargetSpec": "layerlab.data.targets",
    "TablePreprocessor": "layerlab.data.table_preprocessor",
    "load_data": "layerlab.data.load",
})
