"""Sequence benchmarks: tiny-shakespeare (RNN, LSTM, GRU, GPT at one wall-clock budget), rt-polarity
(LSTM, CNN, Transformer on a fixed seeded 90/10 split) and Multi30k de->en (GRU+attention, Transformer;
BLEU on test_2016_flickr against training time).

    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/sequences.py shakespeare --seconds 900
    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/sequences.py polarity
    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/sequences.py polarity --models cnn --set model.filters=200
    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/sequences.py multi30k --seconds 3600

Each section prints a markdown table (and writes it to --out). The budgets default to the issue's
figures (15 minutes per language model); pass smaller ones for a quick look.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import layerlab
from layerlab.api import generate
from layerlab.train.gradient_time import compare_time_gradients


def _run(recipe: str, overrides: list[str], out: Path) -> tuple[dict, list[dict], float]:
    started = time.perf_counter()
    result = layerlab.run(recipe, overrides, out=out)
    return result.summary, result.history, time.perf_counter() - started


def shakespeare(args: argparse.Namespace) -> str:
    rows = ["| model | params | train s | steps | val loss | val bits/char | test loss |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    samples = []
    for cell in args.models:
        overrides = [f"train.max_seconds={args.seconds}", f"train.threads={args.threads}", "train.report=false", *args.set]
        summary, history, _ = _run(f"shakespeare-{cell}", overrides, args.runs / f"shakespeare-{cell}")
        best = min(history, key=lambda r: r["val_loss"])
        rows.append(f"| {cell} | {summary['params']:,} | {summary['train_seconds']:.0f} | {summary['steps']:,} | "
                    f"{best['val_loss']:.3f} | {best['val_bits_per_char']:.3f} | {summary['test']['loss']:.3f} |")
        text = generate(args.runs / f"shakespeare-{cell}", prompt="ROMEO:", tokens=300, temperature=0.8, top_k=40)["text"]
        samples.append(f"**{cell}** (`layerlab generate RUN --prompt ROMEO: --tokens 300 --temperature 0.8 --top-k 40`):\n\n"
                       f"```\n{text}\n```")
    figure = compare_time_gradients({c: args.runs / f"shakespeare-{c}" for c in args.models if c != "transformer"},
                                    args.runs / "time_gradients_compare.png")
    if figure is not None:
        samples.append(f"Gradient through time (last epoch of each recurrent run): `{figure}`")
    return "\n".join(rows) + "\n\n" + "\n\n".join(samples)


def polarity(args: argparse.Namespace) -> str:
    """One row per model: test accuracy on the split of each seed (train.seed picks the split), and their mean."""
    seeds = " / ".join(str(seed) for seed in args.seeds)
    rows = [f"| model | params | epochs | train s | best val accuracy, mean | test accuracy, split seed {seeds} | mean | "
            f"macro F1 (seed {args.seeds[0]}) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for model in args.models:
        summaries, val = [], []
        for seed in args.seeds:
            overrides = [f"train.threads={args.threads}", "train.report=false", f"train.seed={seed}", *args.set]
            if args.epochs:
                overrides.append(f"train.epochs={args.epochs}")
            summary, history, _ = _run(f"polarity-{model}", overrides, args.runs / f"polarity-{model}-seed{seed}")
            summaries.append(summary)
            val.append(100 * max(row["val_accuracy"] for row in history))  # the epoch whose weights were kept
        first, accuracies = summaries[0], [100 * s["test"]["accuracy"] for s in summaries]
        rows.append(f"| {model} | {first['params']:,} | {first['epochs']} | {first['train_seconds']:.0f} | "
                    f"{sum(val) / len(val):.1f} % | {' / '.join(f'{a:.1f} %' for a in accuracies)} | "
                    f"{sum(accuracies) / len(accuracies):.1f} % | {first['test']['macro_f1']:.3f} |")
    return "\n".join(rows)


def multi30k(args: argparse.Namespace) -> str:
    rows = ["| model | params | train s | epochs | val loss | test BLEU | test chrF | decoding | decode s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    samples = []
    for model in args.models:
        overrides = [f"train.max_seconds={args.seconds}", f"train.threads={args.threads}", "train.report=false",
                     f"task.beam_size={args.beam}", *args.set]
        summary, history, _ = _run(f"multi30k-{model}", overrides, args.runs / f"multi30k-{model}")
        test, report = summary["test"], summary["report"]
        rows.append(f"| {model} | {summary['params']:,} | {summary['train_seconds']:.0f} | {len(history)} | "
                    f"{min(r['val_loss'] for r in history):.3f} | {test['bleu']:.1f} | {test['chrf']:.1f} | "
                    f"{report['decoding']} | {report['decoding_seconds']:.0f} |")
        samples.append(f"**{model}**:\n\n" + "\n".join(f"- {s['translation']}  (reference: {s['reference']})"
                                                     for s in report["samples"][:3]))
        if history and "val_bleu" in history[0]:  # BLEU against training time, from the recipe's task.val_bleu
            elapsed, curve = 0.0, []
            for row in history:
                elapsed += row["seconds"]
                curve.append(f"{elapsed:.0f} s: {row['val_bleu']:.1f}")
            samples.append(f"**{model}**, validation BLEU (greedy) after each epoch's training time: " + ", ".join(curve))
    return "\n".join(rows) + "\n\n" + "\n\n".join(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="section", required=True)
    for name, models, seconds in (("shakespeare", ["rnn", "lstm", "gru", "transformer"], 900),
                                  ("polarity", ["lstm", "cnn", "transformer"], None),
                                  ("multi30k", ["gru-attention", "transformer"], 3600)):
        p = sub.add_parser(name)
        p.add_argument("--models", nargs="+", default=models)
        if seconds is not None:
            p.add_argument("--seconds", type=float, default=seconds, help="training wall-clock budget per model")
        p.add_argument("--threads", type=int, default=2, help="torch CPU threads (1 is faster on a busy machine)")
        p.add_argument("--runs", type=Path, default=Path("runs/bench-sequences"))
        p.add_argument("--out", type=Path, default=None, help="also write the markdown here")
        p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                       help="recipe overrides for every model, e.g. train.precision=bf16")
        if name == "polarity":
            p.add_argument("--epochs", type=int, default=None, help="override the recipes' train.epochs")
            p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                           help="train.seed of each run: it picks the 90/10 split, the initialisation and the batches")
        if name == "multi30k":
            p.add_argument("--beam", type=int, default=4, help="beam width for the test translations")
    args = parser.parse_args()
    started = time.perf_counter()
    markdown = {"shakespeare": shakespeare, "polarity": polarity, "multi30k": multi30k}[args.section](args)
    markdown += f"\n\n(total {time.perf_counter() - started:.0f} s; arguments {json.dumps({k: str(v) for k, v in vars(args).items()})})\n"
    print(markdown)
    if args.out is not None:
        args.out.write_text(markdown, encoding="utf-8")


if __name__ == "__main__":
    main()
