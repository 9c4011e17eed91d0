"""How good a generator is, measured: a Fréchet distance and, for a conditional GAN, class accuracy.

**The features are a LayerLab classifier's, not Inception's.** The FID of Heusel et al. (2017) compares
Inception-v3 features of real and generated images; Inception's weights cannot be downloaded here, and
on 28x28 grey images a classifier trained on the same data sees more. So ``frechet_report`` takes a
classification run trained on the same data (``fashion-cnn``, say) and compares its penultimate
features of generated images with those of real held-out (test) images. The numbers are comparable
between generators measured with the same classifier run, not with published FIDs. As a floor, the
same distance between real training images and the test images: what a perfect generator would score.
``features="inception"`` uses torchvision's ImageNet Inception-v3 instead, where its weights can be loaded:
an FID-like figure, still not FID, whose network is the TensorFlow Inception of Heusel et al. with other
weights and resizing, so not comparable to published FIDs either. Every result says which it is
(``metric``, from ``METRIC_NAMES``).

For a conditional GAN the classifier also says whether each generated image shows the class it was
asked for: ``class_accuracy`` overall and per class.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from layerlab.analyze.embed import penultimate_features
from layerlab.errors import UsageError
from layerlab.tasks.imaging import frechet_distance

__all__ = ["METRIC_NAMES", "classifier_inputs", "frechet_distance", "frechet_report"]

# What ``fd`` is, per kind of features: the ``metric`` of every result, the CLI's help and the refusals.
METRIC_NAMES = {
    "classifier": "Fréchet distance on a LayerLab classifier's penultimate features; not FID, comparable only "
                  "between generators judged by the same classifier run",
    "inception": "FID-like Fréchet distance on torchvision's ImageNet Inception-v3 pool features; not the FID "
                 "network (TensorFlow Inception of Heusel et al.), so not comparable to published FID",
}


def classifier_inputs(classifier: Any, pixels: Tensor) -> Tensor:
    """Images in [0, 1] (N, C, H, W) prepared as the classifier run's own inputs (its standardisation)."""
    prep = classifier.preprocessor
    if getattr(prep, "kind", None) != "image" or tuple(prep.input_shape) != tuple(pixels.shape[1:]):
        raise UsageError(f"the classifier run takes inputs of shape {tuple(prep.input_shape)}, not images of "
                         f"shape {tuple(pixels.shape[1:])}; use a classifier trained on the same data")
    return prep.transform(pixels.detach().float().cpu().numpy() * prep.scale).to(classifier.device)


def frechet_report(generator: Any, classifier: Any, *, n: int | None = None, seed: int = 0,
                   features: str = "classifier", batch_size: int = 512) -> dict[str, Any]:
    """Fréchet distance of ``generator``'s images (a GAN or VAE run, as ``runs.load_run`` gives) to the
    real test images of its data, on ``classifier``'s features (a classification run on the same data).

    ``n`` images each side (default: the whole test split); generated images of a conditional GAN
    follow the test split's classes. Returns ``{"fd", "fd_real_floor", "n", "features", ...}`` and for a
    conditional GAN ``class_accuracy`` and ``per_class_accuracy``. Raises UsageError when the runs do not
    fit (not a generator; another data set's classes).
    """
    task, model = generator.task, generator.model
    if not hasattr(task, "sample"):
        raise UsageError(f"{generator.run.path} is not a generative run (a vae or an adversarial task)")
    if classifier.info.class_names != generator.info.class_names:
        raise UsageError("the classifier run was trained on other classes than the generator's data")
    data = generator.dataset()
    n = min(n or len(data.test), len(data.test), len(data.train))
    real_test, labels = data.test.x[:n], data.test.y[:n].long()
    real_train = data.train.x[torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:n]]
    conditional = bool(getattr(model, "num_classes", None))
    fake = _generate(task, model, n, labels if conditional else None, seed)

    featurize = _featurizer(classifier, features, batch_size)
    f_test, f_train, f_fake = featurize(real_test), featurize(real_train), featurize(fake)
    result: dict[str, Any] = {
        "fd": frechet_distance(f_fake, f_test),
        "fd_real_floor": frechet_distance(f_train, f_test),
        "n": n,
        "features": "torchvision inception-v3 pool (ImageNet weights)" if features == "inception"
        else f"penultimate layer of {classifier.run.path}",
        "metric": METRIC_NAMES[features],
    }
    if conditional:
        predicted = _predict(classifier, fake, batch_size)
        hits = (predicted == labels).float()
        names = generator.info.class_names or [str(i) for i in range(model.num_classes)]
        result["class_accuracy"] = hits.mean().item()
        result["per_class_accuracy"] = {name: hits[labels == i].mean().item()
                                        for i, name in enumerate(names) if (labels == i).any()}
        result["real_accuracy"] = (_predict(classifier, real_test, batch_size) == labels).float().mean().item()
    return result


def _generate(task: Any, model: Any, n: int, labels: Tensor | None, seed: int) -> Tensor:
    if labels is not None:
        return task.sample(model, n, seed=seed, classes=labels)
    return task.sample(model, n, seed=seed)


def _featurizer(classifier: Any, features: str, batch_size: int) -> Any:
    if features == "classifier":
        return lambda pixels: torch.from_numpy(
            penultimate_features(classifier.model, classifier_inputs(classifier, pixels), batch_size=batch_size))
    if features == "inception":
        return _inception_features(classifier.device, batch_size)
    raise UsageError(f"--features: '{features}' is not known (classifier or inception)")


def _inception_features(device: torch.device, batch_size: int) -> Any:
    """Inception-v3's 2048 pool features of images in [0, 1], resized to 299x299 and made RGB."""
    try:
        from torchvision.models import Inception_V3_Weights, inception_v3

        net = inception_v3(weights=Inception_V3_Weights.IMAGENET1K_V1, aux_logits=True)
    except Exception as exc:  # no network, no cached weights: say so plainly
        raise UsageError(f"torchvision's Inception-v3 weights cannot be loaded here ({type(exc).__name__}: {exc}); "
                         "use the default --features classifier (neither is FID)") from None
    net.fc = torch.nn.Identity()
    net.to(device).eval()
    mean = torch.tensor([0.485, 0.456, 0.406], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=device).view(1, 3, 1, 1)

    @torch.inference_mode()
    def featurize(pixels: Tensor) -> Tensor:
        out = []
        for i in range(0, len(pixels), batch_size):
            x = pixels[i : i + batch_size].to(device).float()
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            out.append(net((x - mean) / std).float().cpu())
        return torch.cat(out)

    return featurize


@torch.inference_mode()
def _predict(classifier: Any, pixels: Tensor, batch_size: int) -> Tensor:
    from layerlab.models.inference import predict_outputs

    outputs = predict_outputs(classifier.model, classifier_inputs(classifier, pixels), batch_size=batch_size)
    return outputs.argmax(1).cpu()
