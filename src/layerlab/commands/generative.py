"""Commands of the generative area: ``generate``, ``reconstruct``, ``interpolate``, ``embed``, ``frechet``.

Only argparse and the standard library are imported here; the handlers call ``layerlab.api`` (the run's
task generates; the rest is ``layerlab.analyze.generated``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from layerlab.commands import shared_options


def register(sub: Any) -> None:
    register_generate(sub)
    p = sub.add_parser("reconstruct", help="images beside an autoencoder's or VAE's reconstructions (PNG)")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--n", type=int, default=16, help="how many images (default 16)")
    shared_options(p, split="train, val or test (default test)", out="the PNG to write (default RUN/reconstructions.png)")
    p.set_defaults(handler=cmd_reconstruct)

    p = sub.add_parser("interpolate", help="walk a VAE's latent space between pairs of images (PNG)")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--pairs", type=int, default=4, help="pairs of images, one row each (default 4)")
    p.add_argument("--steps", type=int, default=10, help="decoded points between the two images (default 10)")
    shared_options(p, split="train, val or test (default test)", out="the PNG to write (default RUN/interpolation.png)",
                   seed=True)
    p.set_defaults(handler=cmd_interpolate)

    p = sub.add_parser("embed", help="2-D maps (PCA, t-SNE, UMAP) of inputs, latent codes or features, with their quality")
    p.add_argument("run_dir", metavar="RUN", nargs="?", help="a run directory (or give --data)")
    p.add_argument("--data", default=None, metavar="NAME", help="map a data source's raw inputs, without a run")
    p.add_argument("--source", default="auto", choices=["auto", "inputs", "latent", "features"],
                   help="what to map: raw inputs, an autoencoder's latent codes, a model's penultimate features "
                        "(auto: latent for autoencoders, else features)")
    p.add_argument("--method", default="pca,tsne", help="comma-separated: pca, tsne, umap (default pca,tsne)")
    p.add_argument("--compare", action="store_true", help="also put the methods side by side in one figure and table")
    p.add_argument("--n", type=int, default=2000, help="items to map (default 2000)")
    shared_options(p, split="train, val or test (default test)", out="folder to write (default RUN/embedding)", seed=True)
    p.set_defaults(handler=cmd_embed)

    p = sub.add_parser("frechet", help="Fréchet distance of a GAN's or VAE's images, on a LayerLab classifier's features")
    p.add_argument("run_dir", metavar="RUN", help="the generator's run directory")
    p.add_argument("--classifier", required=True, metavar="RUN", help="a classification run trained on the same data")
    p.add_argument("--n", type=int, default=None, help="images each side (default the whole test split)")
    p.add_argument("--features", default="classifier", choices=["classifier", "inception"],
                   help="classifier (default): a LayerLab classifier's features; inception: torchvision's ImageNet "
                        "Inception-v3 pool features (needs its weights), an FID-like distance on another network "
                        "than FID's, not comparable to published FID. Neither figure is FID")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_frechet)


def register_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="new text (language models) or images (VAEs, GANs) from a run")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--prompt", default="", help="text: the start of the text to continue")
    p.add_argument("--tokens", type=int, default=500, help="text: how many tokens to generate (default 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="text: sampling temperature (default 0.8)")
    p.add_argument("--top-k", type=int, default=40, help="text: sample from the k likeliest tokens (default 40)")
    p.add_argument("--n", type=int, default=64, help="images: how many to generate (default 64)")
    p.add_argument("--class", dest="class_", default=None, help="images: the class to generate (conditional models)")
    p.add_argument("--out", default=None, help="images: the PNG grid to write (default RUN/generated.png)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_generate)


def _print(result: dict[str, Any], args: argparse.Namespace, console: Any) -> None:
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items())
        console.print(f"{key}: {value}", highlight=False)


def cmd_generate(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    options = {k: getattr(args, k) for k in ("prompt", "tokens", "temperature", "top_k", "n", "class_", "out", "seed")}
    result = api.generate(args.run_dir, device=args.device, **options)
    if args.json:
        print(json.dumps(result, indent=2))
    elif "text" in result:
        print(result["text"])
    else:
        console.print("  ".join(f"{k} {v}" for k, v in result.items()))
    return 0


def cmd_reconstruct(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    _print(api.reconstruct(args.run_dir, out=args.out, n=args.n, split=args.split, device=args.device), args, console)
    return 0


def cmd_interpolate(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    result = api.interpolate(args.run_dir, out=args.out, pairs=args.pairs, steps=args.steps, split=args.split,
                         seed=args.seed, device=args.device)
    _print(result, args, console)
    return 0


def cmd_embed(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    methods = tuple(m.strip() for m in args.method.split(",") if m.strip())
    result = api.embed(args.run_dir, data=args.data, source=args.source, methods=methods, n=args.n, split=args.split,
                   out=args.out, compare=args.compare, seed=args.seed, device=args.device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    from rich.table import Table

    table = Table(box=None, title=f"{result['source']} of {result['n']} items")
    for column in ("method", "trustworthiness", "k-NN accuracy", "seconds"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, q in result["quality"].items():
        table.add_row(method, f"{q['trustworthiness']:.3f}", f"{q['knn_accuracy']:.3f}", f"{q['seconds']:.1f}")
    console.print(table)
    console.print(f"written to {result['folder']}: {', '.join(result['files'])}", highlight=False)
    return 0


def cmd_frechet(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    result = api.frechet(args.run_dir, args.classifier, n=args.n, seed=args.seed, features=args.features,
                     device=args.device)
    _print(result, args, console)
    return 0
