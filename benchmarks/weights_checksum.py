"""Checksums of the final weights of built-in recipes trained with ``train.deterministic=true``.

The structure issue's guard: a refactoring must leave every result bit-identical, so the same
recipes give the same checksums before and after. Usage:

    python benchmarks/weights_checksum.py [RECIPE ...] [--out DIR] [--set KEY=VALUE ...]

Prints one line per recipe: ``recipe sha256`` over every tensor of ``model.safetensors`` (names in
sorted order, each name, dtype, shape and raw bytes), so the file's header layout does not matter.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from pathlib import Path

RECIPES = ("digits-cnn", "fashion-mlp", "polarity-cnn", "co2-lstm", "fashion-vae")


def tensors_digest(path: Path) -> str:
    from safetensors.torch import load_file

    digest = hashlib.sha256()
    for name, tensor in sorted(load_file(str(path)).items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.contiguous().view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=list(RECIPES))
    parser.add_argument("--out", default=None, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an extra override")
    args = parser.parse_args()
    from layerlab import api

    root = Path(args.out or tempfile.mkdtemp(prefix="checksums-"))
    for name in args.recipes:
        overrides = ["train.deterministic=true", "train.report=false", "track.index=false", *args.set]
        result = api.run(name, overrides, out=root / name)
        print(name, tensors_digest(result.run_dir / "model.safetensors"), flush=True)


if __name__ == "__main__":
    main()
