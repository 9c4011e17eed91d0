"""Commands of the speech area: ``layerlab transcribe RUN file.wav folder/``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("transcribe", help="transcribe WAV files with a trained speech recognition run",
                       description="Print one JSON object per WAV file: its path, its transcript and the "
                                   "conversions made (channels mixed down, resampled).")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("inputs", nargs="+", metavar="WAV", help="WAV files and folders of WAV files")
    p.add_argument("--decoder", choices=("beam", "greedy"), default=None,
                   help="beam search or best path (default: the run's task.decoder)")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=cmd_transcribe)


def cmd_transcribe(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    for row in api.transcribe(args.run_dir, args.inputs, decoder=args.decoder, device=args.device):
        print(json.dumps(row, ensure_ascii=False))
    return 0
