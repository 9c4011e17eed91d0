"""The network that leaves LayerLab: the run's model with the tensor part of its preprocessing built in.

    inputs as a caller has them ─► standardise (the run's training statistics) ─► model ─► outputs in the
    task's units (logits; values; forecasts in the data's units; pixels in [0, 1])

What the caller still does before the graph is what is not arithmetic on tensors: scaling 8-bit pixels
to [0, 1] and resizing images, one-hot encoding a table's categories and filling its missing numbers,
the log-mel spectrogram of a waveform, tokenizing text. ``graph_inputs`` does exactly that for raw
examples as a source reads them (and the ``Predictor`` for files and requests); the JSON spec written
beside an export describes it for callers outside Python.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from layerlab.data.audio_preprocessor import AudioPreprocessor
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.series_preprocessor import SeriesPreprocessor
from layerlab.data.table_preprocessor import TablePreprocessor
from layerlab.errors import UsageError

# Tasks whose network is not one tensors-to-tensors call, and why (``exportable`` refuses them by name).
REFUSED = {
    "language_model": "a language model generates by sampling one token at a time in a Python loop; "
                      "its network could be exported as that loop's step function, which this version does not do",
    "seq2seq": "a translation model decodes by beam search (a loop over a growing set of hypotheses in Python), "
               "which is not one tensors-to-tensors call; use `layerlab translate`",
}

# What the caller does before the graph, by preprocessing kind (written into the JSON spec).
CALLER_DOES = {
    "image": "decode the image, convert it to the run's channels, resize it to (height, width), "
             "scale the pixels to [0, 1] (8-bit: divide by 255); the graph standardises each channel",
    "table": "put the columns in the spec's order; a numeric column as its number (a missing one as the spec's "
             "'fill'); a categorical column one-hot over the spec's 'categories' (an unseen value: all zeros); "
             "the graph standardises the numbers",
    "audio": "read the WAV at the spec's sample rate, cut or zero-pad it to the spec's samples, take its log-mel "
             "spectrogram (layerlab.data.audio.LogMel with the spec's n_mels, window_ms, hop_ms); the graph "
             "standardises each mel band",
    "series": "the window's last 'window' time steps of the spec's columns, in the data's units; the graph "
              "standardises them",
    "text": "tokenize with the run's tokenizer (saved in the spec's 'preprocessor') into int64 ids, padded "
            "with 0 to max_length; no standardisation",
    "noise": "standard normal noise (batch, latent); nothing else",
}


class Standardise(nn.Module):
    """``(x - mean) / std`` with statistics shaped to broadcast over a batch of inputs."""

    def __init__(self, mean: Tensor, std: Tensor):
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class Servable(nn.Module):
    """Inputs as the caller has them -> the task's outputs: ``post(model(standardise(x)))``."""

    def __init__(self, model: nn.Module, standardise: nn.Module | None, post: nn.Module | None):
        super().__init__()
        self.model = model
        self.standardise = standardise if standardise is not None else nn.Identity()
        self.post = post if post is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.post(self.model(self.standardise(x)))


class Affine(nn.Module):
    """``x * scale + shift``: standardised forecasts back to the data's units."""

    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale, self.shift = float(scale), float(shift)

    def forward(self, x: Tensor) -> Tensor:
        return x.float() * self.scale + self.shift


class Sigmoid(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x.float())


class Decoder(nn.Module):
    """A VAE's decoder (codes -> logits) or a GAN's generator (noise -> images), as one module."""

    def __init__(self, fn: Any, owner: nn.Module):
        super().__init__()
        self.owner, self._fn = owner, fn

    def forward(self, z: Tensor) -> Tensor:
        return self._fn(z)


@dataclass
class Graph:
    """What is exported: the module, what it takes and gives, and how its outputs read."""

    module: Servable
    task: str  # the run's task name
    input_kind: str  # a key of CALLER_DOES
    input_shape: tuple[int, ...]  # one example's
    input_dtype: str  # "float32" or "int64"
    outputs: str  # "logits", "values", "forecast", "pixels", "images"
    what: str  # "the model", "the VAE's decoder", "the GAN's generator"


def exportable(loaded: Any) -> Graph:
    """The graph of a loaded run (a ``LoadedRun``). Raises UsageError naming the task and the reason when
    its model cannot be exported."""
    task = loaded.task.name
    if task in REFUSED:
        raise UsageError(f"cannot export {loaded.recipe.name}: {REFUSED[task]}")
    model = loaded.model.eval()
    if task in ("vae", "adversarial"):
        return _generator_graph(loaded, model)
    pre = loaded.preprocessor
    post = {"forecast": Affine(*reversed(pre.target_scale())) if isinstance(pre, SeriesPreprocessor) else None,
            "reconstruction": Sigmoid()}.get(task)
    outputs = {"classification": "logits", "regression": "values", "forecast": "forecast",
               "reconstruction": "pixels"}[task]
    module = Servable(model, standardiser(pre), post).eval()
    dtype = "int64" if pre.kind == "text" else "float32"
    return Graph(module, task, pre.kind, tuple(pre.input_shape), dtype, outputs, "the model")


def _generator_graph(loaded: Any, model: nn.Module) -> Graph:
    if loaded.task.name == "vae":
        module = Servable(Decoder(model.decode, model), None, Sigmoid())
        return Graph(module.eval(), "vae", "noise", (int(model.latent),), "float32", "images", "the VAE's decoder")
    generator = model.generator
    if getattr(generator, "embed", None) is not None:
        raise UsageError(f"cannot export {loaded.recipe.name}: a conditional GAN's generator takes the noise and "
                         "a class per image (two inputs); this version exports one-input generators only")
    module = Servable(Decoder(generator, model), None, None)
    return Graph(module.eval(), "adversarial", "noise", (int(generator.latent),), "float32", "images",
                 "the GAN's generator")


def standardiser(pre: Preprocessor) -> Standardise | None:
    """The tensor part of a run's preprocessing as a module (None when the run did not standardise)."""
    if isinstance(pre, ImagePreprocessor) and pre.mean is not None and pre.std is not None:
        return Standardise(torch.tensor(pre.mean).view(1, -1, 1, 1), torch.tensor(pre.std).view(1, -1, 1, 1))
    if isinstance(pre, AudioPreprocessor) and pre.mean is not None and pre.std is not None:
        return Standardise(torch.tensor(pre.mean).view(1, 1, -1, 1), torch.tensor(pre.std).view(1, 1, -1, 1))
    if isinstance(pre, SeriesPreprocessor) and pre.mean is not None and pre.std is not None:
        return Standardise(torch.tensor(pre.mean), torch.tensor(pre.std))
    if isinstance(pre, TablePreprocessor):
        means, stds = [], []
        for column in pre.columns:
            width = len(column.feature_names())
            means += [column.mean] * width if column.kind == "numeric" else [0.0] * width
            stds += [column.std] * width if column.kind == "numeric" else [1.0] * width
        return Standardise(torch.tensor(means, dtype=torch.float64), torch.tensor(stds, dtype=torch.float64))
    return None


def caller_side(pre: Preprocessor) -> Preprocessor:
    """The run's preprocessing without its standardisation (which the graph does): its ``transform`` and
    ``load_inputs`` give the graph's inputs (images: pixels in [0, 1]; tables: numbers and one-hots)."""
    if isinstance(pre, TablePreprocessor):
        return replace(pre, columns=[replace(c, mean=0.0, std=1.0) if c.kind == "numeric" else c
                                     for c in pre.columns])
    if isinstance(pre, ImagePreprocessor | AudioPreprocessor | SeriesPreprocessor):
        return replace(pre, mean=None, std=None)
    return pre  # text: token ids, nothing to standardise


def graph_inputs(pre: Preprocessor, raw: np.ndarray) -> Tensor:
    """The graph's inputs for raw examples as the run's source reads them. Raises DataError as
    ``pre.transform`` does."""
    return caller_side(pre).transform(raw)


def input_spec(graph: Graph, pre: Preprocessor) -> dict[str, Any]:
    """The JSON spec of the graph's input: shape (batch first, dynamic), dtype, value range, the caller's part."""
    spec: dict[str, Any] = {"name": "input", "shape": ["batch", *graph.input_shape], "dtype": graph.input_dtype,
                            "kind": graph.input_kind, "caller_does": CALLER_DOES[graph.input_kind]}
    if graph.input_kind == "image":
        spec["range"] = [0.0, 1.0]
    if graph.input_kind == "table":
        spec["columns"] = [{"name": c.name, "kind": c.kind, "fill": c.fill, "categories": c.categories}
                           for c in pre.columns]
        spec["features"] = pre.feature_names
    if graph.input_kind == "series":
        spec["columns"] = list(pre.columns)
    if graph.input_kind != "noise":
        spec["preprocessor"] = pre.to_dict()
    return spec
