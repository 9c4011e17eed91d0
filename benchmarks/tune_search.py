"""Random search against TPE, each with pruning off and on, on Fashion-MNIST with `fashion-mlp`.

    .venv/bin/python benchmarks/tune_search.py [--trials 30] [--limit 6000] [--epochs 4] [--space narrow|wide]
                                               [--seeds 0 1 2] [--pruner median|halving|hyperband]
                                               [--schedule onecycle|cosine|constant] [--tpe-seed-offset 1000]

Every search runs the same number of trials over the same space (learning rate, weight decay, dropout,
batch size, hidden layers), with the same sampler seed, on a short budget: ``data.limit`` training
examples (validation: 10% of them; test: the official 10,000), ``--epochs`` epochs with the recipe's
one-cycle schedule (or ``--schedule``). Pruning is Optuna's median pruner (after 5 trials, from epoch 2),
or with ``--pruner`` successive halving or Hyperband (minimum resource one epoch, reduction factor 3). Reported per
search: the best validation accuracy, the wall time, and the wall time at which it first reached
the best of plain random search. The issue's target: TPE with pruning reaches random search's best in
at most half of random search's wall time.

With several ``--seeds`` (the sampler's seed, so every search draws other settings) each search is
repeated once per seed, and the table gives the mean over seeds, and in how many seeds each search
reached that seed's random-search best within half of random search's wall time.

TPE starts with random trials (``startup_trials: 8``) drawn, with the same seed, exactly as random
search draws its first 8: when random search's best is among them, TPE "reaches" it for free.
``--tpe-seed-offset N`` gives TPE the sampler seed + N, so the two searches share no trial.

Besides wall time, which another job on the machine can stretch, the epochs trained (by every trial,
pruned ones included) measure the work each search needed. Writes benchmarks/results/tune_search.json
(and the studies under benchmarks/results/tune_search/); ``--analyse-only`` reads them again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

SPACES = {
    # ranges a practitioner who knows MLPs would give: most settings train well
    "narrow": {
        "train.lr": {"log_uniform": [1.0e-4, 1.0e-1]},
        "train.weight_decay": {"log_uniform": [1.0e-6, 1.0e-2]},
        "model.dropout": {"uniform": [0.0, 0.5]},
        "train.batch_size": {"choice": [64, 128, 256]},
        "model.hidden": {"choice": [[128], [256, 128], [512, 256]]},
    },
    # ranges of someone who does not know where to look: many settings train badly or not at all
    "wide": {
        "train.lr": {"log_uniform": [1.0e-5, 1.0]},
        "train.weight_decay": {"log_uniform": [1.0e-6, 1.0e-1]},
        "model.dropout": {"uniform": [0.0, 0.8]},
        "train.batch_size": {"choice": [32, 64, 128, 256, 512]},
        "model.hidden": {"choice": [[64], [128], [256, 128], [512, 256], [256, 256, 256]]},
    },
}
STRATEGIES = ("random", "tpe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--limit", type=int, default=6000, help="training examples (data.limit)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--space", choices=list(SPACES), default="narrow")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--pruner", choices=["median", "halving", "hyperband"], default="median")
    parser.add_argument("--schedule", default="onecycle", help="train.schedule of every trial")
    parser.add_argument("--tpe-seed-offset", type=int, default=0,
                        help="TPE's sampler seed is the seed + this (0: TPE's start-up trials are random search's first)")
    parser.add_argument("--out", default="benchmarks/results/tune_search")
    parser.add_argument("--analyse-only", action="store_true", help="only read the studies of an earlier run")
    args = parser.parse_args()
    label = args.space + ("" if (args.pruner, args.schedule) == ("median", "onecycle")
                          else f"-{args.pruner}-{args.schedule}-{args.epochs}ep") \
        + (f"-tpe+{args.tpe_seed_offset}" if args.tpe_seed_offset else "")
    out = Path(args.out) / label
    per_seed = {}
    for seed in args.seeds:
        if not args.analyse_only:
            run_searches(out / f"seed{seed}", trials=args.trials, limit=args.limit, epochs=args.epochs,
                         space=SPACES[args.space], seed=seed, pruner=args.pruner, schedule=args.schedule,
                         tpe_seed_offset=args.tpe_seed_offset)
        per_seed[seed] = compare(out / f"seed{seed}")
        print(f"seed {seed}:\n{_markdown(per_seed[seed])}\n", flush=True)
    report = {
        "command": f"python benchmarks/tune_search.py --trials {args.trials} --limit {args.limit} --epochs {args.epochs} "
                   f"--space {args.space} --seeds {' '.join(map(str, args.seeds))} --pruner {args.pruner} "
                   f"--schedule {args.schedule} --tpe-seed-offset {args.tpe_seed_offset}",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "space": SPACES[args.space], "per_seed": per_seed, "summary": summarise(per_seed),
    }
    (Path(args.out) / f"tune_search-{label}.json").write_text(json.dumps(report, indent=2) + "\n")
    if len(per_seed) > 1:
        print(_summary_markdown(report["summary"], len(per_seed)))


def compare(seed_dir: Path) -> list[dict]:
    """The four searches of one seed, each with when it first reached plain random search's best."""
    results = [analyse(seed_dir / name) for name in _names()]
    target, random_wall = results[0]["best_val_accuracy"], results[0]["wall_s"]
    for row in results:
        hit = next((p for p in row["progress"] if p["best"] >= target), None)
        row["reached_random_best_s"] = None if hit is None else hit["seconds"]
        row["reached_random_best_epochs"] = None if hit is None else hit["epochs"]
        row["within_half"] = hit is not None and hit["seconds"] <= 0.5 * random_wall
    return results


def summarise(per_seed: dict[int, list[dict]]) -> list[dict]:
    """Per search, over the seeds: mean best, wall time and epochs, and the seeds in which it reached
    that seed's random-search best within half of random search's wall time."""
    rows = []
    for i, name in enumerate(_names()):
        runs = [results[i] for results in per_seed.values()]
        rows.append({"search": name,
                     "mean_best": sum(r["best_val_accuracy"] for r in runs) / len(runs),
                     "mean_wall_s": sum(r["wall_s"] for r in runs) / len(runs),
                     "mean_epochs": sum(r["epochs"] for r in runs) / len(runs),
                     "reached": sum(r["reached_random_best_s"] is not None for r in runs),
                     "within_half": sum(r["within_half"] for r in runs)})
    return rows


def _summary_markdown(rows: list[dict], seeds: int) -> str:
    lines = [f"Over {seeds} seeds:\n",
             "| search | mean best val accuracy | mean wall time (s) | mean epochs trained "
             "| seeds reaching random's best | within half of random's time |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['search']} | {r['mean_best']:.4f} | {r['mean_wall_s']:.0f} | {r['mean_epochs']:.0f} | "
                     f"{r['reached']}/{seeds} | {r['within_half']}/{seeds} |")
    return "\n".join(lines)


def _names() -> list[str]:
    return [f"{strategy}-{kind}" for strategy in STRATEGIES for kind in ("full", "pruned")]


def run_searches(out: Path, *, trials: int, limit: int, epochs: int, space: dict, seed: int, pruner: str,
                 schedule: str, tpe_seed_offset: int = 0) -> None:
    from layerlab.recipe import load_recipe
    from layerlab.tune import tune

    shutil.rmtree(out, ignore_errors=True)
    base = load_recipe("fashion-mlp", {
        "data.limit": limit, "train.epochs": epochs, "train.schedule": schedule, "train.diagnostics_every": 0,
        "tune": {"space": space, "trials": trials, "seed": seed, "startup_trials": 8,
                 "prune_startup": 5, "prune_warmup": 1},
    }).to_dict()
    searches = [(strategy, kind) for strategy in STRATEGIES for kind in ("none", pruner)]
    for (strategy, kind), name in zip(searches, _names()):
        print(f"== seed {seed}: {name}", flush=True)
        recipe = {**base, "tune": {**base["tune"], "strategy": strategy, "pruner": kind,
                                   "seed": seed + (tpe_seed_offset if strategy == "tpe" else 0)}}
        started = time.time()
        result = tune(recipe, out=out / name)
        print(f"   best {result.best_value:.4f} in {time.time() - started:.0f} s ({result.counts})", flush=True)


def analyse(study_dir: Path) -> dict:
    """Best accuracy, wall time (first trial's start to last trial's end) and, after each complete
    trial, the seconds and the epochs trained so far (by every trial, pruned ones included)."""
    import optuna

    study = optuna.load_study(study_name="fashion-mlp", storage=f"sqlite:///{study_dir / 'study.db'}")
    trials = [t for t in study.trials if t.datetime_complete is not None]
    started = min(t.datetime_start for t in trials).timestamp()
    progress, best = [], float("-inf")
    for trial in sorted(trials, key=lambda t: t.datetime_complete):
        if trial.state == optuna.trial.TrialState.COMPLETE:
            best = max(best, trial.value)
        end = trial.datetime_complete.timestamp()
        epochs = sum(len(t.intermediate_values) for t in trials if t.datetime_complete.timestamp() <= end)
        progress.append({"seconds": round(end - started, 1), "epochs": epochs, "best": best})
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.name.lower()] = counts.get(trial.state.name.lower(), 0) + 1
    return {"search": study_dir.name, "best_val_accuracy": best, "best_values": study.best_trial.user_attrs["values"],
            "wall_s": progress[-1]["seconds"], "epochs": progress[-1]["epochs"], "counts": counts,
            "progress": progress}


def _markdown(results: list[dict]) -> str:
    random_wall, random_epochs = results[0]["wall_s"], results[0]["epochs"]
    lines = ["| search | best val accuracy | wall time (s) | epochs trained | reached random's best at (s) "
             "| share of random's time | share of random's epochs | trials |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in results:
        seconds, epochs = row["reached_random_best_s"], row["reached_random_best_epochs"]
        counts = ", ".join(f"{n} {state}" for state, n in row["counts"].items())
        lines.append(f"| {row['search']} | {row['best_val_accuracy']:.4f} | {row['wall_s']:.0f} | {row['epochs']} | "
                     + ("never | | |" if seconds is None else
                        f"{seconds:.0f} | {seconds / random_wall:.0%} | {epochs / random_epochs:.0%} |")
                     + f" {counts} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
