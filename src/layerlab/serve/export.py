"""``export``: a run's graph to a file, checked against PyTorch before it is written, with its JSON spec.

The check runs up to ``limit`` test examples through the run's model in PyTorch (inputs prepared by the
run's own data path, as ``layerlab evaluate`` prepares them) and through the exported file (the same raw
examples, prepared only as the spec tells a caller to). A file whose outputs differ by more than
``tolerance`` (times the outputs' largest magnitude, when that is above 1) is not written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from layerlab.errors import LayerLabError
from layerlab.models.inference import predict_outputs
from layerlab.runs import load_run
from layerlab.serve import formats
from layerlab.serve.graph import Graph, exportable, input_spec
from layerlab.serve.rawdata import Examples, test_examples

OUTPUTS = {
    "logits": "class scores before softmax, (batch, classes), in the order of 'classes'",
    "values": "predicted values in the target's units, (batch, targets)",
    "forecast": "forecasts in the data's units, (batch, horizon)",
    "pixels": "the reconstruction in [0, 1], the input's shape",
    "images": "generated images in [0, 1], (batch, channels, height, width)",
}


class ExportMismatch(LayerLabError):
    """The exported file's outputs differ from PyTorch's beyond the tolerance; nothing was written."""

    exit_code = 2


@dataclass
class Check:
    examples: int
    max_abs_diff: float
    tolerance: float  # the bound the difference was held to (the tolerance, scaled to the outputs)
    argmax_agreement: float | None  # classifiers: the fraction of examples with the same top class

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance  # False for NaN too


@dataclass
class ExportResult:
    path: Path
    spec_path: Path
    format: str
    check: Check
    spec: dict[str, Any]


def export(run_dir: str | Path, *, format: str = "onnx", out: str | Path | None = None, limit: int = 1000,
           tolerance: float = 1e-4) -> ExportResult:
    """Export a run's model (its input standardisation built in) to ``out`` (default ``RUN/model.<suffix>``)
    and write ``<out>.json`` beside it: the task, classes, input and output spec, recipe and test metrics.

    ``format`` is onnx, torchscript or exported-program. Raises UsageError naming the reason when the
    model cannot be exported, ExportMismatch (with the figures) when the check fails.
    """
    fmt = formats.check_format(format)
    loaded = load_run(run_dir, device="cpu")
    graph = exportable(loaded)
    examples = test_examples(loaded, graph, limit=limit)
    reference = reference_outputs(loaded, graph, examples)
    out = Path(out) if out is not None else loaded.run.path / f"model{formats.FORMATS[fmt]}"
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / out.name
        formats.write(graph.module, fmt, staged, examples.graph[:2])
        exported = formats.run_chunks(formats.open_file(staged, fmt), examples.graph)
        check = compare(reference, exported, graph, tolerance)
        if not check.passed:
            raise ExportMismatch(f"{fmt}: the exported model's outputs differ from PyTorch's on {check.examples} test "
                                 f"examples: max abs difference {check.max_abs_diff:.3g} > tolerance "
                                 f"{check.tolerance:.3g}{_agreement(check)}; not written")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), out)
    spec = describe(loaded, graph, fmt, out, check, tuple(reference.shape[1:]))
    spec_path = out.with_name(out.name + ".json")
    spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return ExportResult(out, spec_path, fmt, check, spec)


def reference_outputs(loaded: Any, graph: Graph, examples: Examples) -> Tensor:
    """The outputs PyTorch gives, in the graph's units, from the run's own standardised inputs."""
    with torch.no_grad():
        if graph.input_kind == "noise":
            return formats.run_chunks(lambda z: graph.module(torch.from_numpy(z)).numpy(), examples.graph)
        outputs = predict_outputs(loaded.model, examples.standardised, batch_size=formats.CHUNK)
        if graph.task == "forecast":
            return loaded.task.forecast(outputs)
        return torch.sigmoid(outputs) if graph.task == "reconstruction" else outputs


def compare(reference: Tensor, exported: Tensor, graph: Graph, tolerance: float) -> Check:
    if exported.shape != reference.shape:
        return Check(len(reference), float("inf"), tolerance, None)
    diff = (exported - reference).abs().max().item() if reference.numel() else 0.0
    bound = tolerance * max(1.0, reference.abs().max().item() if reference.numel() else 1.0)
    agreement = None
    if graph.outputs == "logits":
        agreement = (exported.argmax(1) == reference.argmax(1)).float().mean().item()
    return Check(len(reference), diff, bound, agreement)


def describe(loaded: Any, graph: Graph, fmt: str, out: Path, check: Check, output_shape: tuple[int, ...]) -> dict[str, Any]:
    """The JSON spec written beside an export."""
    from layerlab import __version__

    run = loaded.run
    summary = run.read_json(run.summary) if run.summary.exists() else {}
    return {
        "file": out.name,
        "format": fmt,
        **({"opset": formats.OPSET} if fmt == "onnx" else {}),
        "exported": graph.what,
        "recipe": loaded.recipe.name,
        "run": str(run.path),
        "task": graph.task,
        "classes": loaded.info.class_names,
        "input": input_spec(graph, loaded.preprocessor),
        "output": {"name": "output", "shape": ["batch", *output_shape], "dtype": "float32",
                   "kind": graph.outputs, "meaning": OUTPUTS[graph.outputs]},
        "metrics": summary.get("test", {}),
        "check": asdict(check),
        "versions": {"layerlab": __version__, "torch": torch.__version__},
    }


def _agreement(check: Check) -> str:
    return "" if check.argmax_agreement is None else f", argmax agreement {check.argmax_agreement:.2%}"
