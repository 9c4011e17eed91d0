"""``evaluate_ensemble``: classifiers' averaged class probabilities on a split their runs share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from layerlab.errors import UsageError
from layerlab.models.inference import predict_outputs
from layerlab.runs.loaded import LoadedRun, load_run, pick_split

# the data fields that decide which examples the test part holds, beside the folds or test_fraction
TEST_FIELDS = ("name", "path", "test_split", "test_speaker")


def split_fields(data: Any, split: str) -> dict[str, Any]:
    """The data fields that decide which examples land in ``split`` (with train.seed): an ensemble's runs
    must agree on them. The test part is cut first (fold ``fold`` of ``folds``, or ``test_fraction``), so
    the validation fraction and ``limit``, which cut what is left, decide only the train and val parts.
    A field a source does not have is None."""
    folds = getattr(data, "folds", None)
    fields = [*TEST_FIELDS, *(("folds", "fold") if folds else ("test_fraction",))]
    if split != "test":
        fields += ["val_fraction", "limit"]
    return {f: getattr(data, f, None) for f in fields}


def evaluate_ensemble(run_dirs: Sequence[str | Path], *, split: str = "test", device: str = "auto") -> dict[str, Any]:
    """Metrics of classifiers' averaged class probabilities on a split their runs share.

    Each run reads the data through its own preprocessing (its own tokenizer or statistics), so runs
    of different models, vocabularies or input sizes can be combined. Returns ``{"split", "n",
    "metrics" (the ensemble's), "members" ({run: its own metrics})}``; ``loss`` is the cross-entropy of
    the averaged probabilities. Raises UsageError unless there are two or more classification runs of
    the same data whose ``split`` holds the same examples (the data fields that decide it, and
    train.seed), with the same classes. Runs that only set aside different validation parts (a
    cross-validation with one, a fine-tuning run without) share their test split.
    """
    if len(run_dirs) < 2:
        raise UsageError(f"an ensemble needs at least two runs, given {len(run_dirs)}")
    first = None
    probabilities, members = [], {}
    for run_dir in run_dirs:
        loaded = load_run(run_dir, device=device)
        if loaded.recipe.task.name != "classification":
            raise UsageError(f"{run_dir}: a {loaded.recipe.task.name} run; ensembles average the class "
                             "probabilities of classification runs")
        split_by = (split_fields(loaded.recipe.data, split), loaded.recipe.train.seed)
        # an empty split is compared, not refused: "not split as" says why better than "empty" would
        chosen = pick_split(loaded.dataset(), split).to(loaded.device)
        if first is None:
            first = (run_dir, loaded, split_by, chosen.y.cpu())
        else:
            _check_same_split(first, run_dir, loaded, split_by, chosen.y.cpu())
        outputs = predict_outputs(loaded.model, chosen.x, batch_size=loaded.recipe.train.eval_batch_size)
        members[str(run_dir)] = loaded.task.metrics(outputs, chosen.y)
        probabilities.append(outputs.float().softmax(1).cpu())
    _, loaded, _, target = first
    log_mean = torch.stack(probabilities).mean(0).clamp_min(1e-12).log()
    metrics = loaded.task.metrics(log_mean, target)
    # the plain cross-entropy of the averaged probabilities (the task's loss may smooth or weight it)
    metrics["loss"] = torch.nn.functional.nll_loss(log_mean, target.long()).item()
    return {"split": split, "n": len(target), "metrics": metrics, "members": members}


def _check_same_split(first: tuple[Any, ...], run_dir: str | Path, loaded: LoadedRun,
                      split_by: tuple[dict[str, Any], int], target: torch.Tensor) -> None:
    first_dir, first_loaded, first_split_by, first_target = first
    if loaded.info.class_names != first_loaded.info.class_names:
        raise UsageError(f"{run_dir} has the classes {loaded.info.class_names}, {first_dir} "
                         f"{first_loaded.info.class_names}; an ensemble's runs must share their classes")
    (fields, seed), (first_fields, first_seed) = split_by, first_split_by
    differ = [f"data.{f} ({fields.get(f)!r} against {first_fields.get(f)!r})"
              for f in dict.fromkeys([*first_fields, *fields]) if fields.get(f) != first_fields.get(f)]
    if seed != first_seed:
        differ.append(f"train.seed ({seed} against {first_seed})")
    if differ or not torch.equal(target, first_target):
        why = ", ".join(differ) or "other examples"
        raise UsageError(f"{run_dir} was not split as {first_dir} was: {why}; an ensemble's runs must be "
                         "tested on the same examples (the same data, split fields and train.seed)")
