"""Object detection: boxes and classes (and, with Mask R-CNN, instance masks) in each image.

The targets are ``StructuredTargets``: per image ``{"boxes": (k, 4) corners x1, y1, x2, y2 in pixels,
"labels": (k,) 0-based classes, "masks": (k, H, W)}``. The loss is inside the model (our CenterNet,
``models/centernet.py``, or torchvision's detectors, ``models/detection_tv.py``): ``forward`` hands the model the batch's targets and gets its
dict of losses, which ``loss`` sums. Evaluation runs the model in evaluation mode and scores its
detections with COCO's average precision (torchmetrics' ``MeanAveragePrecision``): ``map``
(mAP@[.5:.95]), ``map_50``, ``map_75``, and per class in the report.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import DetectionConfig

METRICS = ("loss", "map", "map_50", "map_75")


@TASKS.register("detection")
class DetectionTask(Task):
    name = "detection"
    monitor = ("val_map", "max")
    target = TargetSpec("structured", modalities=("image",), on_pixels=True,
                        needs="images with boxes (data.name: scenes, pennfudan, coco, yolo)")

    def __init__(self, class_names: list[str], *, score_threshold: float = 0.5):
        self.class_names, self.score_threshold = list(class_names), float(score_threshold)

    @classmethod
    def from_config(cls, cfg: DetectionConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Any) -> DetectionTask:
        if not class_names:
            raise LayerLabError("task.name is 'detection' but the data has no classes")
        return cls(class_names, score_threshold=cfg.score_threshold)

    def num_outputs(self) -> int:
        return len(self.class_names)

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": "model", "score_threshold": self.score_threshold}

    def metric_names(self) -> list[str]:
        return list(METRICS)

    # ------------------------------------------------------------------------------------ every step
    def forward(self, model: nn.Module, x: Tensor, y: Any) -> dict[str, Tensor]:
        """The model's dict of losses for the batch (a torchvision detector in training mode)."""
        return model(x, list(y))

    def loss(self, output: dict[str, Tensor], target: Any) -> Tensor:
        if not isinstance(output, dict):
            raise LayerLabError(f"detection needs a model whose training forward returns its losses "
                                f"(model.name: centernet or tv-detection), got {type(output).__name__}")
        return sum(v.float() for v in output.values())

    # ----------------------------------------------------------------------------- a whole split
    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        detections = self.detect(model, split.x, batch_size=batch_size)
        scores = average_precision(detections, list(split.y), self.class_names)
        metrics = {"loss": float("nan"), **{k: scores[k] for k in METRICS[1:]}}  # no loss outside training mode
        return metrics, (scores if report else {})

    @torch.no_grad()
    def detect(self, model: nn.Module, x: Tensor, *, batch_size: int) -> list[dict[str, Tensor]]:
        """The model's detections (boxes, labels, scores, masks) of each image, on the CPU."""
        was_training = model.training
        model.eval()
        try:
            found = [d for i in range(0, len(x), batch_size) for d in model(x[i:i + batch_size])]
        finally:
            model.train(was_training)
        return [{k: v.detach().cpu() for k, v in d.items()} for d in found]

    def outputs(self, model: nn.Module, x: Tensor, *, batch_size: int) -> list[dict[str, Tensor]]:
        return self.detect(model, x, batch_size=batch_size)

    def metrics(self, output: Any, target: Any) -> dict[str, float]:
        scores = average_precision(output, list(target), self.class_names)
        return {"loss": float("nan"), **{k: scores[k] for k in METRICS[1:]}}

    def report(self, output: Any, target: Any) -> dict[str, Any]:
        return average_precision(output, list(target), self.class_names)

    def predict(self, output: Any) -> list[dict[str, Any]]:
        """Per image: the detections scoring at least ``score_threshold``: box, class, score."""
        rows = []
        for d in output:
            keep = d["scores"] >= self.score_threshold
            rows.append({"detections": [
                {"box": [round(v, 2) for v in box], "class": self.class_names[int(label)], "score": round(float(s), 4)}
                for box, label, s in zip(d["boxes"][keep].tolist(), d["labels"][keep], d["scores"][keep])]})
        return rows


def average_precision(detections: list[dict[str, Tensor]], targets: list[dict[str, Tensor]],
                      class_names: list[str]) -> dict[str, Any]:
    """COCO box AP of ``detections`` against ``targets`` (torchmetrics, pycocotools): ``map``
    (over IoU 0.5 to 0.95), ``map_50``, ``map_75``, ``mar_100`` and ``per_class`` AP."""
    from torchmetrics.detection import MeanAveragePrecision

    if len(detections) != len(targets):
        raise LayerLabError(f"{len(detections)} images of detections for {len(targets)} of targets")
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", class_metrics=True)
    metric.update([{k: d[k] for k in ("boxes", "scores", "labels")} for d in detections],
                  [{"boxes": t["boxes"].cpu(), "labels": t["labels"].cpu()} for t in targets])
    result = metric.compute()
    per_class = {}
    for label, ap in zip(result["classes"].reshape(-1).tolist(), result["map_per_class"].reshape(-1).tolist()):
        if 0 <= label < len(class_names):
            per_class[class_names[label]] = ap
    return {**{k: _finite(result[k]) for k in ("map", "map_50", "map_75", "mar_100")}, "per_class": per_class}


def _finite(value: Tensor) -> float:
    """A torchmetrics score as a float; its -1 (nothing to score) as NaN."""
    v = float(value)
    return float("nan") if v == -1 or math.isinf(v) else v
