"""Commands of the speech area: ``layerlab transcribe RUN file.wav folder/``, ``layerlab speak RUN "three one four" --out x.wav``.

Both are given the user's own input (WAV files, text): what cannot be read or said is a usage error of the
command, one line and exit 2, as a bad argument is.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
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
    p = sub.add_parser("speak", help="say text with a trained speech synthesis run, into a WAV file",
                       description="Synthesise the text's log-mel frames and turn them into a WAV file (Griffin-Lim).")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("text", help="the words to say, e.g. \"three one four\"")
    p.add_argument("--out", required=True, metavar="FILE.wav")
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=cmd_speak)


def cmd_transcribe(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    with _input_errors_exit_2():
        rows = api.transcribe(args.run_dir, args.inputs, decoder=args.decoder, device=args.device)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_speak(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    with _input_errors_exit_2():
        said = api.speak(args.run_dir, args.text, out=args.out, device=args.device)
    print(json.dumps(said, ensure_ascii=False))
    return 0


@contextmanager
def _input_errors_exit_2() -> Iterator[None]:
    """A DataError (a WAV file that cannot be read, a word that cannot be said) as a UsageError: exit 2."""
    from layerlab.errors import DataError, UsageError

    try:
        yield
    except DataError as exc:
        raise UsageError(str(exc)) from None
