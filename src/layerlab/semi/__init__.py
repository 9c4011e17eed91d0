"""Semi-supervised learning: a few labelled examples and many unlabelled ones (``train.semi``).

Each method's options are a ``SemiConfig`` subclass declared in ``SEMI`` by ``semi.config`` (no torch
there, so a recipe is checked without it); the method itself is one file, registered under the same
name and loaded on first use. ``layerlab.train.semi_training`` runs the chosen method inside the
trainer's step. The interface's names (``semi.base``) load on first use too.
"""

from layerlab.lazy import lazy_exports
from layerlab.semi.config import SEMI, SemiConfig, semi_section

__all__ = ["SEMI", "SemiBatch", "SemiConfig", "SemiMethod", "Views", "semi_section"]

__getattr__ = lazy_exports(__name__, {
    "SemiBatch": "layerlab.semi.base",
    "SemiMethod": "layerlab.semi.base",
    "Views": "layerlab.semi.base",
})
