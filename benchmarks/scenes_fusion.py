"""Does a detector's object-level class help ``scenes-segmentation``'s U-Net? Its masks are kept and the class of
its foreground pixels is taken, or weighed, from ``scenes-detection``'s objects (CenterNet boxes) covering them,
and optionally from a Fashion-MNIST classifier applied to each detected object's crop.

    python benchmarks/scenes_fusion.py SEG_RUN DET_RUN [--classifier CNN_RUN [--tune-crops EPOCHS [--tuned FILE]]
        [--crop-hflip]] [--split val|test] [--threads 2] [--json FILE]

Both runs must be of the same scenes (the script checks the inputs are equal). Rules, each scored on the test
scenes (``--split val``: the validation scenes) with the segmentation task's confusion metrics (mIoU over the 11
classes, foreground mIoU, pixel accuracy, IoU per garment class):

- ``unet``: the U-Net's own argmax; ``unet_hflip``: with its mirror image's probabilities averaged in.
- ``box_class@t``: a foreground pixel inside a detection of score >= t takes the class of the best such box.
- ``restricted@t``: ... takes the U-Net's most probable class among the classes of the boxes covering it.
- ``mix{w}@t``: the argmax of the U-Net's probability plus w times the best covering box's score, per class.
- ``pooled_*@t``: the U-Net's class probabilities averaged over each detection's foreground pixels (one
  distribution an object, the background's column dropped); ``pooled_best``: a covered pixel takes the class
  with the highest pooled probability times box score among the boxes covering it; ``pooled_restricted``: its own most probable class among the
  pooled argmaxes of the boxes covering it; ``pooled_mix{w}``: the argmax of its probability plus w times the
  highest pooled probability, per class, of the boxes covering it.
- ``oracle_classes_unet_mask``: the U-Net's foreground given the true classes (what its mask alone costs).
- ``crop_*@t`` (with ``--classifier``): as ``box_class``, ``mix1``, ``mix3`` and ``restricted``, the box's class
  and score replaced by the classifier's probabilities (``crop_restricted_hflip``: the U-Net's probabilities with
  its mirror image's averaged in; ``crop_product``: the argmax of the U-Net's probability times the highest
  crop probability of the boxes covering the pixel, per class) on the object's crop: a square of side max(w, h) around the box, the pixels
  the U-Net calls background blacked out, resized to 28x28 (Fashion-MNIST's framing), times the box's score.

With ``--classifier`` the script also classifies the crops of the *true* objects of the test scenes (their tight
boxes), the scene's true background blacked out (``all``) or every pixel but the object's own visible mask
(``own``), and prints the share of objects classified right, and the mIoU of the true masks given those classes:
how far crops of scenes are from the classifier's own test images, without the detector's or the U-Net's errors.

Not a test: the figures depend on the runs. BENCHMARKS.md, "Detection and segmentation", has the results.
"""

from __future__ import annotations

import argparse
import json
import os

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
    return crops_each(pixels.expand(len(boxes), -1, -1, -1), boxes, side)


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
    parser.add_argument("--tune-crops", type=int, default=0, metavar="EPOCHS",
                        help="first fine-tune the classifier this many epochs on the training scenes' true objects' "
                             "crops (the true background blacked out, hflips, boxes jittered by up to 2 pixels)")
    parser.add_argument("--tuned", metavar="FILE", help="with --tune-crops: the tuned weights, loaded from FILE "
                        "where it exists, else saved there after tuning")
    parser.add_argument("--crop-hflip", action="store_true",
                        help="average the classifier's probabilities on each crop and its mirror image")
    parser.add_argument("--split", default="test", choices=("val", "test"),
                        help="the scenes scored (val: to choose a rule and threshold before looking at the test)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    seg, det = load_run(args.seg, device="cpu"), load_run(args.det, device="cpu")
    test, det_test = seg.split(args.split), det.split(args.split)
    if not torch.equal(test.x, det_test.x):
        raise SystemExit(f"scenes_fusion: {args.seg} and {args.det} hold different {args.split} scenes")
    names = list(seg.task.class_names)
    if names[1:] != list(det.task.class_names):
        raise SystemExit(f"scenes_fusion: classes {names[1:]} against the detector's {det.task.class_names}")
    x, y, classes, side = test.x, test.y, len(names), test.x.shape[-1]
    probs = predict_outputs(seg.model, x, batch_size=128).softmax(1)
    unet = probs.argmax(1)
    foreground = unet != 0
    found = detections(det, x)
    mirrored = predict_outputs(seg.model, x.flip(-1), batch_size=128).softmax(1).flip(-1)
    rules = {"unet": unet, "unet_hflip": (probs + mirrored).argmax(1)}
    cnn = load_run(args.classifier, device="cpu") if args.classifier else None
    if cnn is not None and args.tune_crops:
        if args.tuned and os.path.exists(args.tuned):
            cnn.model.load_state_dict(torch.load(args.tuned, weights_only=True))
        else:
            tune_on_crops(cnn, det, args.tune_crops)
            if args.tuned:
                torch.save(cnn.model.state_dict(), args.tuned)
    crop_probs = crop_classes(cnn, seg, x, foreground, found, args.crop_hflip) if cnn is not None else None
    for t in THRESHOLDS:
        kept = [{k: v[d["scores"] >= t] for k, v in d.items()} for d in found]
        rules.update(detector_rules(t, kept, probs, unet, foreground, classes, side))
        if crop_probs is not None:
            kept_probs = [p[d["scores"] >= t] for p, d in zip(crop_probs, found)]
            rules.update(crop_rules(t, kept, kept_probs, probs, mirrored, unet, foreground, classes, side))
    # the U-Net's mask with the true classes (its false foreground keeps the U-Net's garment class)
    rules["oracle_classes_unet_mask"] = torch.where(foreground, torch.where(y > 0, y, unet), 0)
    if args.classifier:
        for blackout in ("all", "own"):
            predicted, right, total = true_object_classes(cnn, seg, x, det_test.y, blackout)
            rules[f"true_masks_crop_{blackout}"] = predicted
            print(f"classifier on the true objects' crops ({blackout}): {right} of {total} right "
                  f"({100 * right / total:.1f} %)")
    results = {name: score(y, predicted, classes, names) for name, predicted in rules.items()}
    for name, r in results.items():
        print(f"{name:18s} mIoU {r['miou']:.4f}  fg {r['fg_miou']:.4f}  pixels {r['pixel_accuracy']:.4f}  "
              + " ".join(f"{v:.2f}" for v in list(r["iou"].values())[1:]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


def detector_rules(t: float, kept: list[dict[str, Tensor]], probs: Tensor, unet: Tensor, foreground: Tensor,
                   classes: int, side: int) -> dict[str, Tensor]:
    """The rules from the detections of score >= t alone: their classes, and the U-Net's probabilities pooled."""
    rules = {}
    onehot = [F.one_hot(d["labels"] + 1, classes).float() * d["scores"][:, None] for d in kept]
    e = evidence(kept, onehot, classes, side)
    covered = foreground & (e.amax(1) > 0)
    rules[f"box_class@{t}"] = torch.where(covered, e.argmax(1), unet)
    rules[f"restricted@{t}"] = torch.where(covered, (probs * (e > 0)).argmax(1), unet)
    for w in (0.5, 1.0, 2.0):
        rules[f"mix{w}@{t}"] = torch.where(foreground, (probs[:, 1:] + w * e[:, 1:]).argmax(1) + 1, unet)
    pooled = pooled_classes(probs, foreground, kept)
    e = evidence(kept, [p * d["scores"][:, None] for p, d in zip(pooled, kept)], classes, side)
    rules[f"pooled_best@{t}"] = torch.where(covered, e.argmax(1), unet)
    e = evidence(kept, [F.one_hot(p.argmax(1), classes).float() for p in pooled], classes, side)
    rules[f"pooled_restricted@{t}"] = torch.where(covered, (probs * (e > 0)).argmax(1), unet)
    e = evidence(kept, pooled, classes, side)
    for w in (1.0, 4.0):
        rules[f"pooled_mix{w}@{t}"] = torch.where(covered, (probs[:, 1:] + w * e[:, 1:]).argmax(1) + 1, unet)
    return rules


def crop_rules(t: float, kept: list[dict[str, Tensor]], kept_probs: list[Tensor], probs: Tensor, mirrored: Tensor,
               unet: Tensor, foreground: Tensor, classes: int, side: int) -> dict[str, Tensor]:
    """The rules from the classifier's probabilities on the crops of the detections of score >= t."""
    rules = {}
    e = evidence(kept, [p * d["scores"][:, None] for p, d in zip(kept_probs, kept)], classes, side)
    rules[f"crop_class@{t}"] = torch.where(foreground & (e.amax(1) > 0), e.argmax(1), unet)
    for w in (1.0, 3.0):
        rules[f"crop_mix{w}@{t}"] = torch.where(foreground, (probs[:, 1:] + w * e[:, 1:]).argmax(1) + 1, unet)
    e = evidence(kept, [F.one_hot(p.argmax(1), classes).float() for p in kept_probs], classes, side)
    covered = foreground & (e.amax(1) > 0)
    rules[f"crop_restricted@{t}"] = torch.where(covered, (probs * (e > 0)).argmax(1), unet)
    rules[f"crop_restricted_hflip@{t}"] = torch.where(covered, ((probs + mirrored) * (e > 0)).argmax(1), unet)
    e = evidence(kept, kept_probs, classes, side)
    rules[f"crop_product@{t}"] = torch.where(covered, (probs * e).argmax(1), unet)
    return rules


def pooled_classes(probs: Tensor, foreground: Tensor, found: list[dict[str, Tensor]]) -> list[Tensor]:
    """Per scene (k_i, classes): the U-Net's probabilities averaged over the foreground pixels inside each box,
    the background's column zeroed and the rest renormalised (a box over no foreground pixel: all zeros)."""
    out = []
    for p, fg, d in zip(probs, foreground, found):
        inside = (box_masks(d["boxes"], p.shape[-1]) & fg).float()  # (k, S, S)
        summed = torch.einsum("kst,cst->kc", inside, p)
        summed[:, 0] = 0
        out.append(summed / summed.sum(1, keepdim=True).clamp(min=1e-12))
    return out


def crop_classes(cnn: LoadedRun, seg: LoadedRun, x: Tensor, foreground: Tensor,
                 found: list[dict[str, Tensor]], hflip: bool = False) -> list[Tensor]:
    """Per scene (k_i, 1 + classes): the classifier run's probabilities on each detection's crop, taken from the
    scene's pixels back in [0, 1] with the U-Net's background blacked out (column 0, the background, zero)."""
    cnn.model.eval()
    scale, shift = _affine_inputs(cnn)
    pixels = _unit_pixels(x, seg) * foreground  # (N, S, S)
    side = x.shape[-1]
    out = []
    with torch.no_grad():
        for scene, d in zip(pixels, found):
            if not len(d["boxes"]):
                p = torch.zeros(0, len(cnn.task.class_names))
            else:
                views = crops(scene[None], d["boxes"], side) * scale + shift
                p = cnn.model(views).softmax(1)
                if hflip:
                    p = (p + cnn.model(views.flip(-1)).softmax(1)) / 2
            out.append(F.pad(p, (1, 0)))
    return out


def true_object_classes(cnn: LoadedRun, seg: LoadedRun, x: Tensor, truth: list[dict[str, Tensor]],
                        blackout: str) -> tuple[Tensor, int, int]:
    """The classifier on each true object's crop (``blackout``: "all" keeps every object's pixels, "own" the
    object's alone): a class map of the true masks painted with the classifier's classes, and how many objects
    it classified right of how many."""
    cnn.model.eval()
    scale, shift = _affine_inputs(cnn)
    unit = _unit_pixels(x, seg)
    side = x.shape[-1]
    maps = torch.zeros(len(x), side, side, dtype=torch.int64)
    right = total = 0
    with torch.no_grad():
        for i, objects in enumerate(truth):
            boxes, labels, masks = (torch.as_tensor(objects[k]) for k in ("boxes", "labels", "masks"))
            if not len(boxes):
                continue
            keep = masks.any(0)[None].expand(len(boxes), -1, -1) if blackout == "all" else masks
            views = crops_each((unit[i] * keep)[:, None], boxes, side)
            predicted = cnn.model(views * scale + shift).argmax(1)
            right += int((predicted == labels).sum())
            total += len(labels)
            for mask, c in zip(masks, predicted):
                maps[i][mask] = int(c) + 1
    return maps, right, total


def tune_on_crops(cnn: LoadedRun, det: LoadedRun, epochs: int, batch: int = 256, lr: float = 1e-3) -> None:
    """Fine-tune the classifier in place on crops of the detection run's training scenes' true objects (AdamW,
    cosine over the epochs, seeded): each object's blacked-out scene is kept, and its crop cut every batch
    with a fresh box jitter and hflip."""
    train = det.split("train")
    unit = _unit_pixels(train.x, det)
    scale, shift = _affine_inputs(cnn)
    side = train.x.shape[-1]
    pixels, boxes, labels = [], [], []
    for i, objects in enumerate(train.y):
        if len(objects["boxes"]):
            pixels.append((unit[i] * objects["masks"].any(0)).expand(len(objects["boxes"]), -1, -1))
            boxes.append(objects["boxes"])
            labels.append(objects["labels"])
    pixels, boxes, labels = torch.cat(pixels), torch.cat(boxes), torch.cat(labels)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(cnn.model.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * -(-len(labels) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    cnn.model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        total = right = 0
        for start in range(0, len(order), batch):
            i = order[start:start + batch]
            jittered = boxes[i] + (torch.rand(len(i), 4, generator=generator) * 4 - 2)
            views = crops_each(pixels[i][:, None], jittered, side)
            flip = torch.rand(len(i), generator=generator) < 0.5
            views = torch.where(flip[:, None, None, None], views.flip(-1), views)
            logits = cnn.model(views * scale + shift)
            loss = F.cross_entropy(logits, labels[i])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += len(i)
            right += int((logits.argmax(1) == labels[i]).sum())
        print(f"tune_on_crops: epoch {epoch + 1}/{epochs}: {len(labels)} training crops, {100 * right / total:.1f} % "
              "right while training")
    cnn.model.eval()


def crops_each(pixels: Tensor, boxes: Tensor, side: int) -> Tensor:
    """As ``crops``, each box from its own image: pixels (k, 1, side, side), boxes (k, 4)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).amax(1).clamp(min=4) / 2
    theta = torch.zeros(len(boxes), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = half / (side / 2)
    theta[:, :, 2] = (centre - side / 2) / (side / 2)
    grid = F.affine_grid(theta, [len(boxes), 1, 28, 28], align_corners=False)
    return F.grid_sample(pixels, grid, align_corners=False)


def _unit_pixels(x: Tensor, run: LoadedRun) -> Tensor:
    """(N, S, S): the run's standardised one-channel inputs (N, 1, S, S) back in [0, 1]."""
    mean, std = _standardisation(run)
    return (x[:, 0] * std + mean).clamp(0, 1)


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
