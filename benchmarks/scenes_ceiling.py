"""How high can ``scenes-segmentation``'s mIoU go when every mask is exact and only the garments' classes are
guessed? The recipe's 500 test scenes are rebuilt object by object (the source's own draws, replayed by
``scene_layouts``); each object's class is replaced by a Fashion-MNIST classifier's prediction on the very
28x28 test image the object was cut from, and the class maps so made are scored against the true ones with
the segmentation task's own metrics.

    python benchmarks/scenes_ceiling.py [--classifier fashion-cnn] [--run RUN_DIR] [--threads 2] [--set KEY=VALUE ...]

``--run`` takes a trained classifier run (trained on fashion-mnist, all ten classes); without it the
``--classifier`` recipe is trained first (``fashion-cnn``: about 93 % test accuracy in 3 minutes). ``--set``
overrides the scenes recipe. The figure is an upper bound for a model that sees each garment at its own scale
and place: the U-Net must also find the pixels, at 0.8-1.5 times the size, on noise, beside other garments.
Prints the classifier's test accuracy, its accuracy on the scenes' objects, and the mIoU, foreground mIoU and
per-class IoU of the class maps with its classes. Not a test: the figure depends on the classifier run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

import layerlab
from layerlab.data import load_data
from layerlab.data.files import find_files
from layerlab.data.sources.mnist import FASHION_CLASSES, FASHION_MNIST, TEST_IMAGES, TEST_LABELS, _read_pair
from layerlab.data.sources.scenes import _class_map, _only, scene_layouts
from layerlab.recipe import load_recipe
from layerlab.runs.loaded import load_run
from layerlab.settings import load_settings
from layerlab.tasks.segmentation import confusion_metrics, per_class_scores, pixel_confusion


def classifier_predictions(run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The run's predicted class of each of Fashion-MNIST's 10,000 test images, and their true classes (the files' order)."""
    loaded = load_run(run_dir, device="cpu")
    cfg = loaded.recipe
    data = load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed, preprocessor=loaded.preprocessor)
    loaded.model.eval()
    with torch.no_grad():
        predicted = torch.cat([loaded.model(x).argmax(1) for x in data.test.x.split(500)]).numpy()
    return predicted, data.test.y.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="scenes-segmentation")
    parser.add_argument("--classifier", default="fashion-cnn")
    parser.add_argument("--run", type=Path, help="a trained Fashion-MNIST classifier run (default: train --classifier)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="overrides of the scenes recipe")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    scenes = load_recipe(args.recipe, args.set).data
    run_dir = args.run
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix="scenes-ceiling-")) / args.classifier
        layerlab.run(args.classifier, [f"train.threads={args.threads}", "train.report=false", "track.index=false"],
                     out=run_dir)
    predicted, truth = classifier_predictions(run_dir)

    paths = find_files(FASHION_MNIST, path=scenes.path, settings=load_settings(), download=scenes.download)
    images, labels = _read_pair(paths[TEST_IMAGES], paths[TEST_LABELS], len(FASHION_CLASSES))
    chosen = scenes.classes if scenes.classes is not None else list(range(len(FASHION_CLASSES)))
    if chosen != list(range(len(FASHION_CLASSES))):
        raise SystemExit("scenes_ceiling: the classifier knows all ten classes; the recipe's data.classes must be None")
    if not np.array_equal(truth, labels):
        raise SystemExit(f"scenes_ceiling: {run_dir}'s test split is not Fashion-MNIST's test images in order")
    accuracy = float((predicted == labels).mean())
    kept, kept_labels = _only(images, labels, chosen)
    classes = len(chosen) + 1
    confusion = torch.zeros(classes, classes, dtype=torch.int64)
    objects = right = 0
    for _, owner, truth, sources in scene_layouts(kept, kept_labels, scenes, count=scenes.test_scenes, stream=1):
        guessed = [int(predicted[s]) for s in sources]
        true_map, guessed_map = _class_map(owner, truth), _class_map(owner, guessed)
        confusion += pixel_confusion(torch.from_numpy(true_map), torch.from_numpy(guessed_map), classes)
        objects += len(truth)
        right += sum(t == g for t, g in zip(truth, guessed))
    iou, _ = per_class_scores(confusion)
    names = ["background", *FASHION_CLASSES]
    result = {"classifier_run": str(run_dir), "classifier_test_accuracy": round(accuracy, 4),
              "objects": objects, "object_accuracy": round(right / objects, 4),
              **{k: round(v, 4) for k, v in confusion_metrics(confusion).items()},
              "iou": {name: round(float(v), 4) for name, v in zip(names, iou)}}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
