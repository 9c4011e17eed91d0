"""Explanations of single predictions, with Captum.

Images (``(C, H, W)`` float input):

- ``saliency``: |∂ output / ∂ input|, the largest over the channels (Simonyan et al., 2013);
- ``integrated_gradients``: (x − baseline) · the mean gradient along the straight path from a
  baseline (all zeros: the mean image, after standardisation) to x (Sundararajan et al., 2017);
  the attributions add up to output(x) − output(baseline) (completeness);
- ``grad_cam``: the last convolution's feature maps weighted by their mean gradient, ReLU'd and
  upsampled to the input's size (Selvaraju et al., 2017).

Token inputs (``(T,)`` integer ids into an ``nn.Embedding``): ``token_attributions`` runs integrated
gradients on the embedding layer's output and sums over the embedding dimension, giving one signed
score per token. The baseline is the padding id's vector at every position of the sentence, while the
model still reads the sentence's own padding mask (only the embedding's output moves along the path), so
the scores add up to output(x) − output(that baseline); the returned delta checks exactly that sum.

Attention: ``attention_maps`` records, during one forward, the weights (averaged over heads) of every
attention module: torch's and LayerLab's multi-head attention, additive attention (a recurrent net's
attention pooling: one row), and any module that stores its last weights as ``attention_weights``.

Every function takes the model in eval mode and one example; ``target`` is the output index to explain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from layerlab.errors import LayerLabError
from layerlab.models.layers import untrimmed

IG_STEPS = 64  # integration steps of integrated gradients


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """``(H, W)``: the largest absolute gradient over the channels of the input ``x`` ``(C, H, W)``."""
    from captum.attr import Saliency

    grads = Saliency(model).attribute(x[None].clone().requires_grad_(True), target=target, abs=True)
    return grads[0].detach().amax(0).cpu().numpy()


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int, *, baseline: torch.Tensor | None = None,
                         steps: int = IG_STEPS) -> tuple[torch.Tensor, float]:
    """Attributions of the shape of ``x`` (one example) and Captum's convergence delta: the sum of the
    attributions minus (output(x) − output(baseline)), near 0 when ``steps`` suffice."""
    from captum.attr import IntegratedGradients

    base = torch.zeros_like(x) if baseline is None else baseline
    attributions, delta = IntegratedGradients(model).attribute(
        x[None], baselines=base[None], target=target, n_steps=steps, method="gausslegendre",
        return_convergence_delta=True)
    return attributions[0].detach(), float(delta.item())


def grad_cam(model: nn.Module, x: torch.Tensor, target: int, *, layer: nn.Module | None = None) -> np.ndarray:
    """``(H, W)`` Grad-CAM map of the input ``x`` ``(C, H, W)``, from ``layer`` (default: the last
    ``nn.Conv2d``), upsampled bilinearly to the input's size; 0 where nothing speaks for ``target``."""
    from captum.attr import LayerAttribution, LayerGradCam

    layer = layer if layer is not None else last_conv(model)
    cam = LayerGradCam(model, layer).attribute(x[None], target=target, relu_attributions=True)  # (1, 1, h, w)
    cam = LayerAttribution.interpolate(cam.detach(), tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return cam[0, 0].clamp(min=0).cpu().numpy()


def last_conv(model: nn.Module) -> nn.Module:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise LayerLabError("Grad-CAM needs a convolutional layer, and this model has none; "
                            "use saliency or integrated gradients")
    return convs[-1]


def embedding_layer(model: nn.Module) -> nn.Embedding:
    found = [m for m in model.modules() if isinstance(m, nn.Embedding)]
    if not found:
        raise LayerLabError("token attributions need a model with an nn.Embedding input layer")
    return found[0]


def token_attributions(model: nn.Module, ids: torch.Tensor, target: int, *, pad_id: int = 0,
                       steps: int = IG_STEPS) -> tuple[np.ndarray, float]:
    """One score per token of ``ids`` ``(T,)`` (integrated gradients on the embedding's output, summed
    over the embedding dimension), and the convergence delta: the scores' sum minus (output(x) −
    output(the baseline)), near 0 when ``steps`` suffice."""
    from captum.attr import LayerIntegratedGradients

    layer = embedding_layer(model)
    explainer = LayerIntegratedGradients(model, layer)
    with untrimmed():  # the all-padding baseline keeps the sentence's width, and every position gets a score
        attributions = explainer.attribute(ids[None], baselines=torch.full_like(ids[None], pad_id),
                                           target=target, n_steps=steps)
        # Captum's own delta runs the baseline ids, whose mask hides every position; the path it integrated
        # along kept the sentence's mask, so the end it started from is the sentence with padding vectors.
        with torch.no_grad():
            output = model(ids[None])[0, target]
            handle = layer.register_forward_hook(lambda module, args, out: module.weight[pad_id].expand_as(out))
            try:
                start = model(ids[None])[0, target]
            finally:
                handle.remove()
    scores = attributions[0].sum(-1).detach()
    return scores.cpu().numpy(), float(scores.sum() - (output - start))


def attention_maps(model: nn.Module, x: torch.Tensor) -> list[tuple[str, np.ndarray]]:
    """``(name, (T, S) weights)`` of each attention module during one forward of ``x`` (one example):
    torch's ``nn.MultiheadAttention``, LayerLab's ``MultiHeadAttention`` (told to keep its weights for
    this forward), ``AdditiveAttention`` (one query, a ``(1, S)`` row: the attention pooling of the
    recurrent nets) and any module that stores its last weights as ``attention_weights``."""
    from layerlab.models.attention import AdditiveAttention, MultiHeadAttention

    found: list[tuple[str, np.ndarray]] = []
    hooks, told = [], []

    def ask_for_weights(module: nn.Module, args: Any, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return args, {**kwargs, "need_weights": True, "average_attn_weights": True}

    def keep(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if isinstance(module, MultiHeadAttention):
                weights = module.weights
            elif isinstance(output, tuple) and len(output) > 1:
                weights = output[1]
            else:
                weights = getattr(module, "attention_weights", None)
            if isinstance(weights, torch.Tensor):
                w = weights.detach().float()[0]  # the one example: ([heads,] T, S), or (S,) for one query
                if w.ndim == 3:
                    w = w.mean(0)
                found.append((name, w.reshape(-1, w.shape[-1]).cpu().numpy()))
        return hook

    for name, module in model.named_modules():
        if isinstance(module, nn.MultiheadAttention):
            hooks.append(module.register_forward_pre_hook(ask_for_weights, with_kwargs=True))
        elif isinstance(module, MultiHeadAttention):
            told.append((module, module.keep_weights))
            module.keep_weights = True
        elif not isinstance(module, AdditiveAttention) and not hasattr(module, "attention_weights"):
            continue
        hooks.append(module.register_forward_hook(keep(name)))
    try:
        with torch.no_grad(), untrimmed():  # one row per token of x, padding included, as the plot labels them
            model(x[None])
    finally:
        for hook in hooks:
            hook.remove()
        for module, before in told:
            module.keep_weights, module.weights = before, None
    return found
