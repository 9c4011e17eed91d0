"""The registry of data sources, in a module of its own that imports no torch (nor numpy).

Each source's options are declared with it in ``layerlab.data.source_configs``; its reading function,
in ``layerlab.data.sources.<name>``, loads on first use.
"""

from __future__ import annotations

from layerlab.registry import Registry

SOURCES: Registry = Registry("data set", name_owners=True)
DATASETS = SOURCES  # the registry's first name, still imported by code written before the sources had configs
