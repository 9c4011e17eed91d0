"""Calibration: does a classifier's confidence match how often it is right?

A model is calibrated when, among the examples it predicts with confidence ``p`` (the largest
softmax probability), a share ``p`` is right. ``reliability`` sorts examples into equal-width
confidence bins and compares each bin's mean confidence with its accuracy; the expected calibration
error (ECE) is the gap averaged over the bins, weighted by how many examples each holds (Guo et al.,
"On calibration of modern neural networks", 2017). ``fit_temperature`` learns the one number that
fixes most of the over-confidence of a trained network, and ``plot_reliability`` draws the bins.

Bins are half-open on the left, ``(lower, upper]``, with a confidence of exactly 0 in the first bin.
Statistics are computed on the CPU in float64 from the ``(N,)`` confidences, whatever the device of
the inputs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from layerlab.analyze.plots import new_figure, save_png
from layerlab.errors import LayerLabError

MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-2, 1e2  # fit_temperature's answer is kept within these
RELIABILITY_KEYS = ("lower", "upper", "count", "confidence", "accuracy", "ece")  # what plot_reliability reads


# ------------------------------------------------------------------------------------------ metrics
def expected_calibration_error(probs: Tensor, targets: Tensor, *, bins: int = 15) -> float:
    """The ECE of class probabilities ``probs`` ``(N, C)`` against class indices ``targets`` ``(N,)``.

    ``ECE = Σ_b (n_b / N) · |acc_b − conf_b|`` over ``bins`` equal-width bins of the confidence (the
    largest probability of each row), where ``acc_b`` is the share of the bin's examples whose most
    probable class is the target and ``conf_b`` their mean confidence. 0 is perfect; it is at most 1.
    NaN when there are no examples. Raises LayerLabError for shapes that do not match, probabilities
    outside [0, 1], targets outside ``0..C-1`` or fewer than 1 bin.
    """
    return reliability(probs, targets, bins=bins)["ece"]


def reliability(probs: Tensor, targets: Tensor, *, bins: int = 15) -> dict[str, Any]:
    """The reliability table behind the ECE, as JSON-able lists with one entry per bin.

    Returns ``{"bins", "n", "lower", "upper", "count", "confidence", "accuracy", "ece", "mce"}``:
    the bin edges, the number of examples in each bin, their mean confidence and accuracy (None for an
    empty bin), the expected calibration error, and the maximum calibration error ``max_b |acc_b −
    conf_b|`` over the non-empty bins (both NaN when there are no examples). Takes the same arguments,
    and raises the same errors, as ``expected_calibration_error``.
    """
    confidence, correct = _confidence_and_correct(probs, targets, bins)
    edges = torch.linspace(0.0, 1.0, bins + 1, dtype=torch.float64)
    # bucketize with right=False puts x in bin i where edges[i] < x <= edges[i + 1]; 0 lands in bin 0
    index = torch.bucketize(confidence, edges[1:-1])
    count = torch.bincount(index, minlength=bins)
    confidence_sum = torch.bincount(index, weights=confidence, minlength=bins)
    correct_sum = torch.bincount(index, weights=correct, minlength=bins)
    n = len(confidence)
    # (n_b / N) · |acc_b − conf_b| = |Σ correct − Σ confidence| / N: no division by an empty bin
    gaps = (correct_sum - confidence_sum).abs()
    filled = count > 0
    ece = (gaps.sum() / n).item() if n else math.nan
    mce = (gaps[filled] / count[filled]).max().item() if n else math.nan
    return {
        "bins": bins,
        "n": n,
        "lower": edges[:-1].tolist(),
        "upper": edges[1:].tolist(),
        "count": count.tolist(),
        "confidence": _means(confidence_sum, count),
        "accuracy": _means(correct_sum, count),
        "ece": ece,
        "mce": mce,
    }


def _confidence_and_correct(probs: Tensor, targets: Tensor, bins: int) -> tuple[Tensor, Tensor]:
    """``(N,)`` float64 CPU tensors: the largest probability of each row, and 1.0 where its class is the target."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise LayerLabError(f"bins must be a whole number of at least 1; got {bins!r}")
    if probs.ndim != 2 or probs.shape[1] < 1 or targets.shape != probs.shape[:1]:
        raise LayerLabError(f"expected probabilities (N, C) and targets (N,); got {tuple(probs.shape)} and "
                            f"{tuple(targets.shape)}")
    _check_targets(targets, probs.shape[1])
    if not probs.numel():
        empty = torch.zeros(0, dtype=torch.float64)
        return empty, empty
    confidence, pred = probs.detach().max(dim=1)  # (N,), (N,) on the inputs' device: only 2N numbers move
    confidence = confidence.cpu().double()
    if not torch.isfinite(confidence).all() or confidence.min() < 0 or confidence.max() > 1:
        raise LayerLabError("probabilities must lie in [0, 1]; pass softmax(logits), not the logits themselves")
    correct = (pred == targets.to(pred.device)).cpu().double()
    return confidence, correct


def _means(sums: Tensor, count: Tensor) -> list[float | None]:
    return [s / c if c else None for s, c in zip(sums.tolist(), count.tolist())]


def _check_targets(targets: Tensor, num_classes: int) -> None:
    if targets.is_floating_point() or targets.is_complex():
        raise LayerLabError(f"targets must be integer class indices; got {targets.dtype}")
    if targets.numel() and (targets.min() < 0 or targets.max() >= num_classes):
        raise LayerLabError(f"targets must lie in 0..{num_classes - 1}; got {targets.min().item()}.."
                            f"{targets.max().item()}")


# -------------------------------------------------------------------------------------- temperature
def fit_temperature(logits: Tensor, targets: Tensor, *, max_iter: int = 100) -> float:
    """The temperature ``T > 0`` that minimises the mean NLL of ``softmax(logits / T)`` on ``targets``.

    Fit it on held-out data (a validation split), never on the training data, where a network is
    over-confident for a reason that does not carry over. ``logits`` is ``(N, C)``, ``targets``
    ``(N,)`` class indices. The NLL is minimised over ``log T`` (so T stays positive) with L-BFGS in
    float64, for at most ``max_iter`` iterations. The NLL is convex in ``1 / T``, so the minimum
    found is the only one. When the data pulls T towards 0 (every example already right, with
    margin) or infinity (logits unrelated to the targets), the search stops where the NLL stops
    changing, and never leaves ``[MIN_TEMPERATURE, MAX_TEMPERATURE]``. Returns 1.0 for empty input.

    Scaling cannot change a prediction: dividing a row of logits by the same positive number keeps
    the order of its entries, so the argmax, the ranking of classes and the accuracy stay exactly as
    they were; only the confidence moves. Raises LayerLabError for mismatched shapes, targets outside
    ``0..C-1`` or logits that are not finite.
    """
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise LayerLabError(f"expected logits (N, C) and targets (N,); got {tuple(logits.shape)} and "
                            f"{tuple(targets.shape)}")
    _check_targets(targets, logits.shape[1])
    if not logits.numel():
        return 1.0
    logits = logits.detach().cpu().double()
    targets = targets.detach().cpu().long()
    if not torch.isfinite(logits).all():
        raise LayerLabError("logits must be finite to fit a temperature; some are NaN or infinite")

    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # start at T = 1
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        # clamping keeps exp() finite when the optimum lies at T -> 0 or infinity; outside the range the
        # gradient is 0 and L-BFGS stops
        loss = F.cross_entropy(logits / log_t.clamp(low, high).exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().clamp(low, high).exp().item())


# ------------------------------------------------------------------------------------------- plot
def plot_reliability(info: dict[str, Any], path: Path, *, title: str = "") -> Path:
    """A reliability diagram of ``reliability(...)``'s result, written as a PNG to ``path``.

    Top: the accuracy of each confidence bin as a bar, the gap to the bin's mean confidence shaded
    (above the bar for an over-confident bin, inside it for an under-confident one), and the diagonal
    a calibrated model would follow. Below: how many examples fall in each bin. The ECE is in the
    title, after ``title`` when one is given. Returns ``path``; raises LayerLabError when ``info``
    lacks one of ``RELIABILITY_KEYS`` or its lists differ in length.
    """
    missing = [key for key in RELIABILITY_KEYS if key not in info]
    if missing:
        raise LayerLabError(f"plot_reliability needs the result of reliability(); {missing} are missing")
    lower, upper = np.asarray(info["lower"], dtype=float), np.asarray(info["upper"], dtype=float)
    count = np.asarray(info["count"], dtype=float)
    lengths = {len(info[key]) for key in ("lower", "upper", "count", "confidence", "accuracy")}
    if len(lengths) != 1:
        raise LayerLabError("the lists in a reliability table must have one entry per bin; their lengths differ")
    accuracy = np.array([np.nan if a is None else a for a in info["accuracy"]], dtype=float)
    confidence = np.array([np.nan if c is None else c for c in info["confidence"]], dtype=float)
    centres, widths = (lower + upper) / 2, upper - lower
    filled = count > 0

    fig = new_figure(5.0, 5.5)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.bar(centres[filled], accuracy[filled], width=widths[filled], color="tab:blue", edgecolor="white",
            label="accuracy")
    gap = confidence[filled] - accuracy[filled]
    top.bar(centres[filled], gap, bottom=accuracy[filled], width=widths[filled], color="tab:red", alpha=0.3,
            edgecolor="tab:red", hatch="//", label="gap to confidence")
    top.plot([0, 1], [0, 1], color="0.3", linestyle="--", linewidth=1, label="calibrated")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize="small")
    top.grid(alpha=0.3)
    ece = info["ece"]
    heading = f"ECE {ece:.3f}" if ece is not None and math.isfinite(ece) else "ECE n/a (no examples)"
    top.set_title(f"{title} ({heading})" if title else f"Reliability ({heading})")

    bottom.bar(centres, count, width=widths, color="0.55", edgecolor="white")
    bottom.set_xlabel("confidence (largest probability)")
    bottom.set_ylabel("examples")
    bottom.grid(alpha=0.3)
    return save_png(fig, path)
