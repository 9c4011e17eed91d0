"""``Predictor``: a run or an exported file, loaded once, called on arrays, files, table rows or sentences.

    predictor = Predictor.from_run("runs/digits", runtime="onnx")   # or Predictor.from_export("model.onnx")
    predictor(["seven.png"])        # [{"label": "7", "index": 7, "probability": 0.98, "top": [...]}]
    predictor.rows([{"age": 41, "job": "admin"}])                   # a table run
    predictor.sentences(["a fine film"])                            # a text classifier

Every call prepares its inputs as the run's caller side does (``graph.caller_side``), runs the graph
(which standardises) and reads the outputs by the task. PyTorch runs every forward at a fixed batch shape
(``exact``), so an example's answer has the same bits alone or in any batch; so does ONNX Runtime. The
server calls ``prepare`` and ``run`` separately, to gather many requests into one ``run``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab.data.preprocessor import Preprocessor
from layerlab.errors import DataError, UsageError
from layerlab.models.inference import autocast, native_bf16
from layerlab.models.layers import untrimmed
from layerlab.serve import formats
from layerlab.serve.exact import exact
from layerlab.serve.graph import caller_side, exportable, input_spec

TOP = 3  # classes listed under "top"
PRECISIONS = ("fp32", "bf16", "auto")


def serving_precision(precision: str, runtime: str, device: torch.device | None = None) -> str:
    """``precision`` checked for ``runtime`` and resolved on ``device`` (``auto``: bf16 where native, else fp32).

    bf16 autocast runs convolutions and matrix products in bf16 (fashion-resnet18 served 2.3x the fp32
    server's requests/s at concurrency 64 on a CPU with AMX: BENCHMARKS.md, "Serving under load"); answers
    then follow bf16's rounding, not fp32's, and may differ in their last digits (rarely their label) from
    fp32's. ONNX Runtime runs the exported fp32 graph."""
    if precision not in PRECISIONS:
        raise UsageError(f"--precision: {precision!r}; choose {', '.join(PRECISIONS)}")
    if runtime != "torch" and precision == "bf16":
        raise UsageError("--precision bf16 needs --runtime torch: ONNX Runtime runs the exported fp32 graph")
    if device is None or precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


class InputError(DataError):
    """An input that does not fit the model; ``field`` names where it is (for an HTTP answer)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.detail = field, message


@dataclass
class Predictor:
    runner: formats.Runner  # graph inputs (N, *shape) -> outputs (N, ...), both numpy
    spec: dict[str, Any]  # as written beside an export: task, classes, input, output, recipe, metrics
    preprocessor: Preprocessor | None  # the caller side (no standardisation); None for generators

    # -------------------------------------------------------------------------------- loading
    @classmethod
    def from_run(cls, run_dir: str | Path, *, runtime: str = "torch", threads: int | None = None,
                 precision: str = "fp32") -> Predictor:
        """The run's model on the CPU, run by PyTorch (``runtime="torch"``) or exported, checked and run
        by ONNX Runtime (``"onnx"``). ``precision``: PyTorch's forward in fp32, or under bf16 autocast
        (``bf16``; ``auto``: bf16 where the CPU has it natively). Raises UsageError when the run's model
        cannot be served."""
        serving_precision(precision, runtime)
        if runtime == "onnx":
            from layerlab.serve.export import export

            with tempfile.TemporaryDirectory() as tmp:
                result = export(run_dir, format="onnx", out=Path(tmp) / "model.onnx")
                runner = formats.open_file(result.path, "onnx", threads=threads)  # the session holds the model
            return cls(runner, result.spec, _caller(result.spec))
        if runtime != "torch":
            raise UsageError(f"--runtime: {runtime!r}; choose torch or onnx")
        from layerlab.runs import load_run

        return cls.from_loaded(load_run(run_dir, device="cpu"), precision=precision)

    @classmethod
    def from_loaded(cls, loaded: Any, *, precision: str = "fp32") -> Predictor:
        """A run already loaded (a ``LoadedRun``), run by PyTorch on its device, at ``precision`` (as ``from_run``)."""
        from layerlab.serve.export import OUTPUTS

        graph = exportable(loaded)
        module, device = graph.module, next(graph.module.parameters(), torch.empty(0)).device
        precision = serving_precision(precision, "torch", device)

        def runner(x: np.ndarray) -> np.ndarray:  # untrimmed: a text batch keeps its width, whatever it holds
            with torch.inference_mode(), untrimmed(), autocast(device, precision):
                return module(torch.from_numpy(x)).float().numpy()

        summary = loaded.run.read_json(loaded.run.summary) if loaded.run.summary.exists() else {}
        spec = {"format": "torch", "precision": precision, "exported": graph.what, "recipe": loaded.recipe.name, "run": str(loaded.run.path),
                "task": graph.task, "classes": loaded.info.class_names, "input": input_spec(graph, loaded.preprocessor),
                "output": {"kind": graph.outputs, "meaning": OUTPUTS[graph.outputs]}, "metrics": summary.get("test", {})}
        caller = _caller(spec)
        return cls(exact(runner, spec, caller), spec, caller)

    @classmethod
    def from_export(cls, path: str | Path, *, threads: int | None = None) -> Predictor:
        """An exported file and the ``<file>.json`` spec beside it."""
        path = Path(path)
        spec_path = path.with_name(path.name + ".json")
        if not spec_path.is_file():
            raise UsageError(f"{spec_path}: missing; an exported model is read with the JSON spec written beside it")
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        runner, caller = formats.open_file(path, spec.get("format"), threads=threads), _caller(spec)
        if spec.get("format") != "onnx":  # PyTorch's kernels: fixed batch shapes (ONNX Runtime's are exact as is)
            runner = exact(runner, spec, caller)
        return cls(runner, spec, caller)

    # ---------------------------------------------------------------------------- properties
    @property
    def task(self) -> str:
        return self.spec["task"]

    @property
    def input_kind(self) -> str:
        return self.spec["input"]["kind"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.spec["input"]["shape"][1:])

    @property
    def classes(self) -> list[str] | None:
        return self.spec.get("classes")

    # ------------------------------------------------------------------------------ calling
    def __call__(self, inputs: Any) -> list[dict[str, Any]]:
        """Predictions for ``inputs``: an array of graph inputs ((N, *shape) or one example), a list of
        file paths (images, WAV, CSV or text files, as the run takes), a list of sentences (text runs) or
        of table rows as dicts (table runs)."""
        if isinstance(inputs, np.ndarray | torch.Tensor):
            x = self.array(inputs)
        elif isinstance(inputs, str | Path):
            x = self.files([inputs])
        elif isinstance(inputs, Sequence) and inputs and all(isinstance(i, dict) for i in inputs):
            x = self.rows(inputs, prepare_only=True)
        elif self.input_kind == "text" and isinstance(inputs, Sequence) and not any(
                isinstance(i, Path) for i in inputs):
            x = self.prepare_sentences(list(inputs))
        else:
            x = self.files(list(inputs))
        return self.decode(self.run(x))

    def run(self, x: np.ndarray) -> np.ndarray:
        """The graph on a batch of prepared inputs, in chunks."""
        return formats.run_chunks(self.runner, torch.from_numpy(x)).numpy()

    def array(self, values: Any) -> np.ndarray:
        """Graph inputs given as an array, checked: (N, *shape), or one example of the shape."""
        x = np.asarray(values.numpy() if isinstance(values, torch.Tensor) else values)
        shape, dtype = self.input_shape, np.dtype(self.spec["input"]["dtype"])
        if x.shape == shape:
            x = x[None]
        if x.shape[1:] != shape:
            raise InputError("inputs", f"shape {tuple(x.shape)}; this model takes (batch, {', '.join(map(str, shape))})")
        if dtype.kind == "i" and x.dtype.kind not in "iu":
            raise InputError("inputs", f"{x.dtype} values; this model takes integer token ids")
        if dtype.kind == "f" and not np.isfinite(x.astype(np.float64)).all():
            raise InputError("inputs", "contains NaN or infinite values")
        return np.ascontiguousarray(x.astype(dtype))

    def files(self, paths: Sequence[str | Path]) -> np.ndarray:
        """Graph inputs read from files as the run's ``layerlab predict`` reads them (images resized to the
        run's size and channels; WAV files resampled and cut; CSV rows encoded)."""
        pre = self._needs_inputs("files")
        x, _ = pre.load_inputs([Path(p) for p in paths])
        return np.ascontiguousarray(x.numpy())

    def prepare_sentences(self, sentences: list[Any]) -> np.ndarray:
        pre = self._needs_inputs("sentences")
        if self.input_kind != "text":
            raise InputError("sentences", f"this model takes {self.input_kind} inputs, not sentences")
        for i, sentence in enumerate(sentences):
            if not isinstance(sentence, str) or not sentence.strip():
                raise InputError(f"sentences[{i}]", "must be a non-empty string")
        return np.ascontiguousarray(pre.transform(np.array(sentences, dtype=object)).numpy())

    def sentences(self, sentences: list[str]) -> list[dict[str, Any]]:
        return self.decode(self.run(self.prepare_sentences(sentences)))

    def rows(self, rows: Sequence[dict[str, Any]], *, prepare_only: bool = False) -> Any:
        """Table rows as ``{column: value}`` (a missing value: None or ""); predictions, or with
        ``prepare_only`` the graph inputs. A missing column is an InputError naming the row and column."""
        pre = self._needs_inputs("rows")
        columns = [c["name"] for c in self.spec["input"].get("columns") or []]
        if self.input_kind != "table":
            raise InputError("rows", f"this model takes {self.input_kind} inputs, not table rows")
        cells = np.empty((len(rows), len(columns)), dtype=object)
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise InputError(f"rows[{i}]", "must be an object of column: value")
            missing = [c for c in columns if c not in row]
            if missing:
                raise InputError(f"rows[{i}]", f"missing column(s) {', '.join(missing)}; the model takes "
                                 f"{', '.join(columns)}")
            cells[i] = ["" if row[c] is None else str(row[c]).strip() for c in columns]
        try:
            x = np.ascontiguousarray(pre.transform(cells.astype(str)).numpy())
        except DataError as exc:
            raise InputError("rows", str(exc)) from None
        return x if prepare_only else self.decode(self.run(x))

    def decode(self, outputs: np.ndarray) -> list[dict[str, Any]]:
        """One JSON-able dict per example, by the output's kind."""
        kind = self.spec["output"]["kind"]
        if kind == "logits":
            probs = torch.from_numpy(outputs).float().softmax(dim=1)
            top_p, top_i = probs.topk(min(TOP, probs.shape[1]), dim=1)
            names = self.classes or [str(i) for i in range(probs.shape[1])]
            return [{"label": names[ids[0]], "index": ids[0], "probability": ps[0],
                     "top": [[names[i], p] for i, p in zip(ids, ps)]}
                    for ids, ps in zip(top_i.tolist(), top_p.tolist())]
        if kind in ("values", "forecast"):
            flat = outputs.reshape(len(outputs), -1).tolist()
            return [{"value": row[0] if len(row) == 1 else row} for row in flat]
        return [{"shape": list(o.shape), "pixels": np.round(o.ravel(), 4).tolist()} for o in outputs]

    def _needs_inputs(self, what: str) -> Preprocessor:
        if self.preprocessor is None:
            raise InputError(what, "this model generates from noise; give it arrays of standard normal noise "
                             f"(batch, {self.input_shape[0]})")
        return self.preprocessor


def _caller(spec: dict[str, Any]) -> Preprocessor | None:
    saved = spec["input"].get("preprocessor")
    return caller_side(Preprocessor.from_dict(saved)) if saved else None
