"""Does a detector's object-level class help ``scenes-segmentation``'s U-Net? Its masks are kept and the class of
its foreground pixels is taken, or weighed, from ``scenes-detection``'s objects (CenterNet boxes) covering them,
and optionally from a Fashion-MNIST classifier applied to each detected object's crop.

    python benchmarks/scenes_fusion.py SEG_RUN DET_RUN [--classifier CNN_RUN] [--threads 2] [--json FILE]

Both runs must be of the same scenes (the script checks the test inputs are equal). Rules, each scored on the
test scenes with the segmentation task's confusion metrics (mIoU over the 11 classes, foreground mIoU, pixel
accuracy, IoU per garment class):

- ``unet``: the U-Net's own argmax; ``unet_hflip``: with its mirror image's probabilities averaged in.
- ``box_class@t``: a foreground pixel inside a detection of score >= t takes the class of the best such box.
- ``restricted@t``: ... takes the U-Net's most probable class among the classes of the boxes covering it.
- ``mix{w}@t``: the argmax of the U-Net's probability plus w times the best covering box's score, per class.
- ``crop_*@t`` (with ``--classifier``): as ``box_class`` and ``mix1``, the box's class and score replaced by the
  classifier's probabilities on the object's crop: a square of side max(w, h) around the box, the pixels
  the U-Net calls background blacked out, resized to 28x28 (Fashion-MNIST's framing), times the box's score.

Not a test: the figures depend on the runs. BENCHMARKS.md, "Detection and segmentation", has the results.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from torch import Tensor

from layerlab.models.inference import predict_outputs
from layerlab.runs.loaded import LoadedRun, load_run
from layerlab.tasks.segmentation import confusion_metrics, per_class_scores, pixel_confusion

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def detections(det: LoadedRun, x: Tensor, batch: int = 128) -> list[dict[str, Tensor]]:
    det.model.eval()
    with torch.no_grad():
        return [d for start in range(0, len(x), batch) for d in det.model(x[start:start + batch])]


def box_masks(boxes: Tensor, side: int) -> Tensor:
    """(k, side, side) bool: the pixels whose centres lie in each box (x1, y1, x2, y2 in pixels)."""
    centres = torch.arange(side).float() + 0.5
    inside_x = (centres[None] >= boxes[:, :1]) & (centres[None] <= boxes[:, 2:3])  # (k, side)
    inside_y = (centres[None] >= boxes[:, 1:2]) & (centres[None] <= boxes[:, 3:4])
    return inside_y[:, :, None] & inside_x[:, None, :]


def evidence(found: list[dict[str, Tensor]], per_box: list[Tensor], classes: int, side: int) -> Tensor:
    """(N, classes, side, side): per class, the highest evidence of a box covering the pixel; ``per_box[i]``
    is (k_i, classes) for the boxes of image i."""
    out = torch.zeros(len(found), classes, side, side)
    for i, (d, scores) in enumerate(zip(found, per_box)):
        if len(d["boxes"]):
            inside = box_masks(d["boxes"], side).float()  # (k, side, side)
            out[i] = (scores[:, :, None, None] * inside[:, None]).amax(0)
    return out


def crops(pixels: Tensor, boxes: Tensor, side: int) -> Tensor:
    """(k, 1, 28, 28): a square of side max(w, h) around each box of one image (1, side, side), zero outside."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).amax(1).clamp(min=4) / 2
    theta = torch.zeros(len(boxes), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = half / (side / 2)
    theta[:, :, 2] = (centre - side / 2) / (side / 2)
    grid = F.affine_grid(theta, [len(boxes), 1, 28, 28], align_corners=False)
    return F.grid_sample(pixels.expand(len(boxes), -1, -1, -1), grid, align_corners=False)


def score(truth: Tensor, predicted: Tensor, classes: int, names: list[str]) -> dict:
    confusion = pixel_confusion(truth, predicted, classes)
    iou, _ = per_class_scores(confusion)
    return {**{k: round(v, 4) for k, v in confusion_metrics(confusion).items()},
            "iou": {n: round(float(v), 3) for n, v in zip(names, iou)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seg", help="a scenes-segmentation run")
    parser.add_argument("det", help="a scenes-detection run on the same scenes")
    parser.add_argument("--classifier", help="a Fashion-MNIST classification run (fashion-cnn) for the crops")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    seg, det = load_run(args.seg, device="cpu"), load_run(args.det, device="cpu")
    test, det_test = seg.split("test"), det.split("test")
    if not torch.equal(test.x, det_test.x):
        raise SystemExit(f"scenes_fusion: {args.seg} and {args.det} hold different test scenes")
    names = list(seg.task.class_names)
    if names[1:] != list(det.task.class_names):
        raise SystemExit(f"scenes_fusion: classes {names[1:]} against the detector's {det.task.class_names}")
    x, y, classes, side = test.x, test.y, len(names), test.x.shape[-1]
    probs = predict_outputs(seg.model, x, batch_size=128).softmax(1)
    mirrored = predict_outputs(seg.model, x.flip(-1), batch_size=128).softmax(1).flip(-1)
    unet = probs.argmax(1)
    foreground = unet != 0
    found = detections(det, x)
    rules = {"unet": unet, "unet_hflip": (probs + mirrored).argmax(1)}
    crop_probs = crop_classes(args.classifier, seg, x, foreground, found) if args.classifier else None
    for t in THRESHOLDS:
        kept = [{k: v[d["scores"] >= t] for k, v in d.items()} for d in found]
        onehot = [F.one_hot(d["labels"] + 1, classes).float() * d["scores"][:, None] for d in kept]
        e = evidence(kept, onehot, classes, side)
        covered = foreground & (e.amax(1) > 0)
        rules[f"box_class@{t}"] = torch.where(covered, e.argmax(1), unet)
        rules[f"restricted@{t}"] = torch.where(covered, (probs * (e > 0)).argmax(1), unet)
        for w in (0.5, 1.0, 2.0):
            rules[f"mix{w}@{t}"] = torch.where(foreground, (probs[:, 1:] + w * e[:, 1:]).argmax(1) + 1, unet)
        if crop_probs is not None:
            per_box = [p[f["scores"] >= t] * k["scores"][:, None] for p, f, k in zip(crop_probs, found, kept)]
            e = evidence(kept, per_box, classes, side)
            rules[f"crop_class@{t}"] = torch.where(foreground & (e.amax(1) > 0), e.argmax(1), unet)
            rules[f"crop_mix1.0@{t}"] = torch.where(foreground, (probs[:, 1:] + e[:, 1:]).argmax(1) + 1, unet)
    results = {name: score(y, predicted, classes, names) for name, predicted in rules.items()}
    for name, r in results.items():
        print(f"{name:18s} mIoU {r['miou']:.4f}  fg {r['fg_miou']:.4f}  pixels {r['pixel_accuracy']:.4f}  "
              + " ".join(f"{v:.2f}" for v in list(r["iou"].values())[1:]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


def crop_classes(run_dir: str, seg: LoadedRun, x: Tensor, foreground: Tensor,
                 found: list[dict[str, Tensor]]) -> list[Tensor]:
    """Per scene (k_i, 1 + classes): the classifier run's probabilities on each detection's crop, taken from the
    scene's pixels back in [0, 1] with the U-Net's background blacked out (column 0, the background, zero)."""
    cnn = load_run(run_dir, device="cpu")
    cnn.model.eval()
    scale, shift = _affine_inputs(cnn)
    mean, std = _standardisation(seg)
    pixels = (x[:, 0] * std + mean).clamp(0, 1) * foreground  # (N, S, S)
    side = x.shape[-1]
    out = []
    with torch.no_grad():
        for scene, d in zip(pixels, found):
            p = cnn.model(crops(scene[None], d["boxes"], side) * scale + shift).softmax(1) if len(d["boxes"]) else (
                torch.zeros(0, len(cnn.task.class_names)))
            out.append(F.pad(p, (1, 0)))
    return out


def _standardisation(run: LoadedRun) -> tuple[float, float]:
    """The (mean, std) the run's preprocessing standardised its one channel of [0, 1] pixels with."""
    mean, std = getattr(run.preprocessor, "mean", None), getattr(run.preprocessor, "std", None)
    if mean is None or std is None:
        raise SystemExit(f"scenes_fusion: {run.run.path} does not standardise its pixels (data.normalize)")
    return float(mean[0]), float(std[0])


def _affine_inputs(run: LoadedRun) -> tuple[float, float]:
    mean, std = _standardisation(run)
    return 1 / std, -mean / std


if __name__ == "__main__":
    main()
