"""Commands of the shipping area: ``layerlab export RUN --format onnx`` and ``layerlab serve RUN``."""

from __future__ import annotations

import argparse
import json
from typing import Any

FORMATS = ("onnx", "torchscript", "exported-program")


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="export a run's model (ONNX, TorchScript, torch.export), checked against PyTorch",
                       description="Export a run's model with its input standardisation built in, and a JSON spec "
                                   "beside it (<file>.json). The export is checked on up to --limit test examples "
                                   "and not written when its outputs differ from PyTorch's beyond --tolerance.")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--format", choices=FORMATS, default="onnx")
    p.add_argument("--out", metavar="FILE", help="the file to write (default RUN/model.onnx, .pt or .pt2)")
    p.add_argument("--limit", type=int, default=1000, help="test examples the check runs (default 1000)")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed abs difference, times the outputs' magnitude when above 1 (default 1e-4)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("serve", help="serve a run over HTTP (FastAPI, micro-batching, /docs, /metrics)",
                       description="Serve a run's model: POST /predict (JSON or files), GET /health, /metadata, "
                                   "/metrics (Prometheus), /docs. Concurrent requests share forward passes.")
    p.add_argument("run_dir", metavar="RUN", help="a run directory, or an exported file with its .json spec")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                   help="PyTorch eager, or the model exported to ONNX (checked first) run by ONNX Runtime")
    p.add_argument("--max-batch", type=int, default=32, help="examples per forward pass at most (1: no batching)")
    p.add_argument("--max-wait-ms", type=float, default=2.0, help="how long a request waits for others to join it")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="fp32",
                   help="torch runtime: the forward in fp32, under bf16 autocast, or auto (bf16 where the CPU or GPU "
                        "has it natively); bf16 answers may differ from fp32's in their last digits")
    p.set_defaults(handler=cmd_serve)


def cmd_export(args: argparse.Namespace, console: Any) -> int:
    from layerlab.api import export

    result = export(args.run_dir, format=args.format, out=args.out, limit=args.limit, tolerance=args.tolerance)
    check = result.check
    if args.json:
        print(json.dumps({"path": str(result.path), "spec": str(result.spec_path), "format": result.format,
                          "check": vars(check)}))
        return 0
    agreement = "" if check.argmax_agreement is None else f", argmax agreement {check.argmax_agreement:.2%}"
    console.print(f"{result.format}: {check.examples} test examples, max abs difference {check.max_abs_diff:.3g} "
                  f"(tolerance {check.tolerance:.3g}){agreement}", highlight=False)
    console.print(f"wrote {result.path} and {result.spec_path}", highlight=False)
    return 0


def cmd_serve(args: argparse.Namespace, console: Any) -> int:
    from layerlab.api import serve

    console.print(f"serving {args.run_dir} on http://{args.host}:{args.port} (docs at /docs; Ctrl-C stops)",
                  highlight=False)
    serve(args.run_dir, host=args.host, port=args.port, runtime=args.runtime, max_batch=args.max_batch,
          max_wait_ms=args.max_wait_ms, precision=args.precision)
    return 0
