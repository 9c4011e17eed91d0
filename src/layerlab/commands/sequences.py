"""Commands of the sequences area: ``layerlab translate RUN "ein Satz"`` (and ``--file FILE``)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("translate", help="translate sentences with a trained seq2seq run",
                       description="Translate sentences given as arguments and/or the lines of text files.")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("sentences", nargs="*", metavar="SENTENCE", help="sentences in the run's source language")
    p.add_argument("--file", action="append", default=[], metavar="FILE",
                   help="a text file with one sentence per line (may be repeated)")
    p.add_argument("--beam", type=int, default=None, help="beam width (default: the run's task.beam_size; 1 = greedy)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.set_defaults(handler=cmd_translate)


def cmd_translate(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    rows = api.translate(args.run_dir, args.sentences, files=args.file, beam_size=args.beam, device=args.device)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False) if args.json else row["translation"])
    return 0
