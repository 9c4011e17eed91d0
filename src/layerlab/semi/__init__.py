"""Semi-supervised learning: a few labelled examples and many unlabelled ones (``train.semi``).

One file per method, each registered in ``SEMI`` with its typed config (``semi.base``); importing this
package registers them all. ``layerlab.train.semi_training`` runs the chosen method inside the trainer's
step.
"""

from layerlab.semi import fixmatch, mean_teacher, pseudo_label  # noqa: F401  (they register)
from layerlab.semi.base import SEMI, SemiBatch, SemiConfig, SemiMethod, Views, semi_section

__all__ = ["SEMI", "SemiBatch", "SemiConfig", "SemiMethod", "Views", "semi_section"]
