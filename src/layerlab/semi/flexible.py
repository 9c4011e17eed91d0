"""FlexMatch's curriculum pseudo-labelling (Zhang et al., 2021; USB's ``FlexMatchThresholdingHook``): a
threshold per class, lower for the classes the model has learnt least.

    flex = FlexThresholds(unlabeled=53_600, classes=10, warmup=True)
    mask = flex(confidence, pseudo, index, threshold=0.95)   # which unlabelled examples count, this batch

Every unlabelled example remembers the class of its last prediction that reached the fixed ``threshold``
(-1 until one does). A class's learning effect is how many examples it holds so, over the most any class
holds: beta(c) = sigma(c) / max_c sigma(c). With ``warmup`` the examples that never reached the threshold
count as one more class in that maximum, so every beta starts near 0 and rises as the model grows
confident (FlexMatch's threshold warm-up). A class's threshold is threshold * beta / (2 - beta) (the
convex mapping), so a hard class, or every class early on, takes less confident pseudo-labels than a
learnt one, which keeps the full ``threshold``. The thresholds a batch uses come from the examples seen
before it; the batch then updates its examples. The memory, one class number an example, is the only
state; it is kept in the checkpoint so that a resumed run thresholds as an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class FlexThresholds:
    def __init__(self, unlabeled: int, classes: int, *, warmup: bool):
        if unlabeled < 1 or classes < 2:
            raise ValueError(f"flexible thresholds need unlabelled examples and 2 or more classes, given "
                             f"{unlabeled} and {classes}")
        self.classes, self.warmup = classes, warmup
        self.selected = torch.full((unlabeled,), -1, dtype=torch.long)  # each example's last confident class

    def learning_effect(self) -> Tensor:
        """(classes,) beta: each class's confident examples over the most any class (or, with warm-up, the
        never-confident examples) holds; 0 for every class before any example was confident."""
        counts = torch.bincount(self.selected + 1, minlength=self.classes + 1).float()
        per_class = counts[1:]
        top = torch.maximum(per_class.max(), counts[0]) if self.warmup else per_class.max()
        return per_class / top if top > 0 else torch.zeros(self.classes)

    def thresholds(self, threshold: float) -> Tensor:
        """(classes,) the confidence each class's pseudo-labels need now."""
        beta = self.learning_effect()
        return threshold * beta / (2 - beta)

    def __call__(self, confidence: Tensor, pseudo: Tensor, index: Tensor, threshold: float) -> Tensor:
        """(M,) bool: which of a batch's pseudo-labels count (by the thresholds before the batch); then the
        examples whose confidence reached ``threshold`` remember their class."""
        if len(index) != len(confidence) or int(index.max()) >= len(self.selected) or int(index.min()) < 0:
            raise ValueError(f"flexible thresholds: the batch's example numbers must lie in [0, {len(self.selected)}) "
                             "and match its predictions")
        mask = confidence >= self.thresholds(threshold).to(confidence.device)[pseudo]
        sure = (confidence >= threshold).cpu()
        self.selected[index.cpu()[sure]] = pseudo.cpu()[sure]
        return mask

    def state_dict(self) -> dict[str, Any]:
        return {"selected": self.selected.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        selected = state["selected"]
        if selected.shape != self.selected.shape:
            raise ValueError(f"the checkpoint's flexible thresholds remember {len(selected)} unlabelled examples, "
                             f"this run has {len(self.selected)}; resume with the data it was saved with")
        self.selected = selected.clone().long().cpu()
