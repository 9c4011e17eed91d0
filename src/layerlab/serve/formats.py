"""The three export formats: how each is written from a graph, and how each is read back and run.

    onnx               torch.onnx.export (the dynamo exporter), run by ONNX Runtime on the CPU
    torchscript        torch.jit.trace, run by torch.jit.load (TorchScript is deprecated in PyTorch 2.x but
                       still what LibTorch C++ and older runtimes load)
    exported-program   torch.export.export + torch.export.save, run by torch.export.load(...).module()

Every format gets a dynamic batch axis. A file is run in chunks of ``CHUNK`` examples.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from layerlab.errors import UsageError
from layerlab.models.layers import untrimmed

FORMATS = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}
CHUNK = 256
OPSET = 18

Runner = Callable[[np.ndarray], np.ndarray]  # a batch of graph inputs -> a batch of outputs (float32)


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise UsageError(f"--format: {name!r} is not an export format; choose one of {', '.join(FORMATS)}")
    return name


def write(module: nn.Module, fmt: str, path: Path, example: torch.Tensor) -> None:
    """Write ``module`` (in eval mode, on the CPU) to ``path`` in ``fmt``, traced on ``example`` (a batch of
    at least two inputs, so that the batch axis is not taken for a constant). Raises UsageError with the
    exporter's reason when the model cannot be exported."""
    module = module.eval()
    try:  # untrimmed: text models keep every column (trimming a batch's padding is data-dependent, and exact
        # to skip because the models mask padding), so the graph has one static sequence length
        with torch.no_grad(), _quiet(), untrimmed():
            if fmt == "onnx":
                torch.onnx.export(module, (example,), str(path), input_names=["input"], output_names=["output"],
                                  dynamic_shapes=({0: torch.export.Dim("batch")},), opset_version=OPSET,
                                  dynamo=True, verbose=False, external_data=False)
            elif fmt == "torchscript":
                torch.jit.trace(module, example, check_trace=False).save(str(path))
            else:
                program = torch.export.export(module, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
                torch.export.save(program, str(path))
    except UsageError:
        raise
    except Exception as exc:  # the exporters raise many kinds; the user needs the reason, not the trace
        cause = exc
        while cause.__cause__ is not None:  # the ONNX exporter wraps torch.export's error, which says why
            cause = cause.__cause__
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(cause)).strip()  # and colours its messages
        first = text.splitlines()[0] if text else ""
        raise UsageError(f"cannot export this model to {fmt}: {type(cause).__name__}: {first}") from exc


def open_file(path: str | Path, fmt: str | None = None, *, threads: int | None = None) -> Runner:
    """A function that runs an exported file (``fmt`` from its suffix when None) on a batch of inputs."""
    path = Path(path)
    fmt = fmt or next((name for name, suffix in FORMATS.items() if path.name.endswith(suffix)), None)
    if fmt is None:
        raise UsageError(f"{path}: not an exported model (suffixes: {', '.join(FORMATS.values())})")
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {"input": x})[0]
    with _quiet():
        module = torch.jit.load(str(path)) if fmt == "torchscript" else torch.export.load(str(path)).module()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(x)).float().numpy()

    return run


def run_chunks(runner: Runner, x: torch.Tensor) -> torch.Tensor:
    """``runner`` on all of ``x`` in chunks, concatenated (float32)."""
    parts = [torch.from_numpy(np.asarray(runner(np.ascontiguousarray(x[i : i + CHUNK].numpy()))))
             for i in range(0, len(x), CHUNK)]
    return torch.cat(parts).float()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters print progress (and, on failure, the whole graph) and warn that TorchScript is deprecated;
    none of it is the user's concern (a failure's reason is raised)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield
