"""The bias audit of a trained run: how its quality differs between groups of examples.

    layerlab audit runs/fsdd-... --group 'file:^\\d+_([a-z]+)_'      # the speaker in FSDD file names
    layerlab audit runs/adult-... --group column:sex

Groups come from a rule (``layerlab.data.groups``): a table column, a regular expression on file
names, or a metadata file; without ``--group`` the recipe's ``data.groups`` is used. The data is
read again as the run read it, so the audited split is the run's own.

Classification: per group the accuracy, error rate, macro F1 and expected calibration error, each
group's gap to the best, the worst group; for a binary task (or with ``positive``) the selection,
true and false positive rates and the demographic parity and equalised odds differences
(``layerlab.analyze.fairness``). Regression: per group the MAE, RMSE and the gap to the best MAE.
Written to ``RUN/audit/<name>.json`` and ``.png``; the report shows every audit of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from layerlab.analyze.findings import audit_path
from layerlab.analyze.group_audit import audit_classification, audit_regression, plot_audit
from layerlab.errors import UsageError
from layerlab.models.inference import predict_outputs
from layerlab.runs import load_run


def audit(run_dir: str | Path, *, group: str | None = None, split: str = "test", positive: int | None = None,
          device: str = "auto") -> dict[str, Any]:
    """Audit a run (see the module docstring); returns the JSON-able result, also written to
    ``RUN/audit/<rule>.json`` with its plot. Raises UsageError without a group rule or for an empty
    split, DataError for a rule that does not fit the data, LayerLabError for fewer than two groups."""
    loaded = load_run(run_dir, device=device)
    rule = group or getattr(loaded.recipe.data, "groups", None)
    if not rule:
        raise UsageError("audit needs --group (column:NAME, file:REGEX or meta:PATH), or data.groups in the recipe")
    chosen = loaded.split(split, groups=rule, group_balance=False)
    outputs = predict_outputs(loaded.model, chosen.x.to(loaded.device),
                              batch_size=loaded.recipe.train.eval_batch_size).cpu()
    if loaded.task.name == "classification":
        result = audit_classification(outputs, chosen.y.cpu(), chosen.groups, positive=positive,
                                      class_names=loaded.info.class_names)
    elif loaded.task.name == "regression":
        result = audit_regression(outputs, chosen.y.cpu(), chosen.groups)
    else:
        raise UsageError(f"audit compares classification or regression quality; this run's task is {loaded.task.name}")
    result = {"run": str(loaded.run.path), "rule": rule, "split": split, "task": loaded.task.name, **result}
    loaded.run.write_json(audit_path(loaded.run.path, rule, ".json"), result)
    result["plot"] = str(plot_audit(result, audit_path(loaded.run.path, rule, ".png")))
    return result
