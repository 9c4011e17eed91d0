"""The data sources, one file each; importing a module registers its sources in ``DATASETS``."""
