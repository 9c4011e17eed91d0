"""The report sections every run gets, whatever its task: summary, data, training, gradients, recipe."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab.analyze import html
from layerlab.analyze.plots import plot_history

if TYPE_CHECKING:
    from layerlab.analyze.report_context import ReportContext, Section

MAX_FEATURES = 12  # table columns shown among the sample inputs
MAX_BALANCE_ROWS = 50  # classes or groups listed in a balance table


def common_sections(ctx: ReportContext) -> tuple[list[Callable[[], list[Section]]], list[Callable[[], list[Section]]]]:
    """Builders of the sections before the task's (summary, data, training, gradients) and after
    (explanations, audits, recipe); each is built on its own, so that one failing costs only itself."""
    return ([lambda: [summary_section(ctx)], lambda: [data_section(ctx)], lambda: [training_section(ctx)],
             lambda: [gradients_section(ctx)]],
            [lambda: findings_sections(ctx), lambda: [recipe_section(ctx)]])


def summary_section(ctx: ReportContext) -> Section:
    from layerlab.analyze.report_context import Section

    s = ctx.summary
    rows: list[list[Any]] = [["status", s.get("status", "?")]]
    if s.get("stop_reason"):
        rows.append(["stopped because", s["stop_reason"]])
    for key in ("epochs", "steps", "best_epoch", "params", "train_seconds"):
        if s.get(key) is not None:
            rows.append([key.replace("_", " "), s[key]])
    monitor = s.get("monitor") or {}
    if monitor.get("best") is not None:
        rows.append([f"best {monitor['metric']}", monitor["best"]])
    calibration = s.get("calibration")
    if calibration:
        rows.append(["temperature (task.calibrate)", calibration["temperature"]])
    parts = [html.table(["", "value"], rows)]
    test = s.get("test") or {}
    if test:
        parts.append(html.paragraph(f"Test split ({s.get('data', {}).get('test', '?')} examples):"))
        parts.append(html.table(["metric", "value"], [[k, v] for k, v in test.items()]))
    else:
        parts.append(html.paragraph("No test metrics (no test split, or the run was interrupted).", note=True))
    return Section("Summary", parts)


def data_section(ctx: ReportContext) -> Section:
    from layerlab.analyze.report_context import SAMPLES, Section

    info, data = ctx.info, ctx.data
    sizes = ctx.summary.get("data") or ({"train": len(data.train), "val": len(data.val), "test": len(data.test)}
                                        if data is not None else {})
    parts = [html.paragraph(f"{info.name}: {info.modality} examples of shape "
                            f"{' x '.join(map(str, info.input_shape))}"
                            + (f", {info.num_classes} classes" if info.num_classes else "") + "."),
             html.table(["split", "examples"], [[k, v] for k, v in sizes.items()])]
    if data is None:
        return Section("Data", parts + [html.paragraph("The data could not be read again.", note=True)])
    splits = {"train": data.train, "val": data.val, "test": data.test}
    if info.class_names and getattr(data.train.y, "ndim", 0) == 1 and not data.train.y.is_floating_point():  # not structured targets
        parts.append(html.paragraph("Class balance (examples per class):"))
        parts.append(html.table(["class", *splits],
                                _balance({k: [info.class_names[i] for i in v.y.tolist()] for k, v in splits.items()})))
    if data.train.groups is not None:
        parts.append(html.paragraph(f"Groups ({ctx.recipe.data.groups}; examples per group"
                                    + (", after group-balanced resampling of train" if ctx.recipe.data.group_balance
                                       else "") + "):"))
        parts.append(html.table(["group", *splits], _balance({k: list(v.groups) for k, v in splits.items()
                                                               if v.groups is not None})))
    parts += _samples(ctx, data.train, SAMPLES)
    return Section("Data", parts)


def _balance(labels: dict[str, list[str]]) -> list[list[Any]]:
    counts = {split: Counter(values) for split, values in labels.items()}
    names = sorted({n for c in counts.values() for n in c}, key=str)[:MAX_BALANCE_ROWS]
    return [[name, *[counts[split].get(name, 0) for split in labels]] for name in names]


def _samples(ctx: ReportContext, split: Any, n: int) -> list[str]:
    """Sample training inputs: an image grid, the first table rows, or token ids."""
    if not len(split):
        return []
    x = split.x[:n].cpu()
    targets = split.y[:n]
    labels = [_target_text(ctx, v) for v in (targets.tolist() if hasattr(targets, "tolist") else targets)]
    if ctx.info.modality == "image" and x.ndim == 4:
        from layerlab.analyze.image_grid import plot_image_grid

        path = plot_image_grid(x, labels, ctx.png("samples"), title="Sample training inputs")
        return [html.image(path, caption="The first training inputs after preprocessing, with their targets.")]
    if x.ndim == 2 and x.dtype.is_floating_point:
        features = ctx.info.feature_names or [str(j) for j in range(x.shape[1])]
        shown = features[:MAX_FEATURES]
        rows = [[label, *row[: len(shown)]] for label, row in zip(labels, x.tolist())]
        more = f" (first {len(shown)} of {len(features)} columns)" if len(features) > len(shown) else ""
        return [html.paragraph(f"Sample training inputs after preprocessing{more}:"),
                html.table(["target", *shown], rows[:8], digits=3)]
    tokenizer = getattr(ctx.preprocessor, "tokenizer", None)
    if x.ndim == 2 and not x.dtype.is_floating_point and hasattr(tokenizer, "decode"):
        texts = [tokenizer.decode(row) for row in x[:4].tolist()]
        return [html.paragraph("Sample training inputs, decoded:"),
                *[html.preformatted(text) for text in texts]]
    return [html.paragraph(f"Sample training inputs: tensors of shape {tuple(x.shape[1:])}, "
                           f"dtype {str(x.dtype).removeprefix('torch.')}.", note=True)]


def training_section(ctx: ReportContext) -> Section:
    from layerlab.analyze.report_context import Section

    if not ctx.history:
        return Section("Training", [html.paragraph("No epoch finished, so there are no curves.", note=True)])
    path = ctx.run.curves_png if ctx.run.curves_png.exists() else plot_history(ctx.history, ctx.png("curves"))
    last = ctx.history[-1]
    rows = [[k, v] for k, v in last.items() if k != "epoch"]
    return Section("Training", [
        html.image(path, caption="Loss and metrics per epoch (train and validation) and the learning rate; "
                                 "the dashed line marks the best epoch, whose weights the run keeps."),
        html.paragraph(f"Last epoch ({int(last.get('epoch', len(ctx.history)))}):"),
        html.table(["", "value"], rows),
    ])


def gradients_section(ctx: ReportContext) -> Section:
    from layerlab.analyze.gradient_plots import plot_activations, plot_gradient_flow, plot_gradient_norms
    from layerlab.analyze.report_context import Section
    from layerlab.train.diagnostics import read_diagnostics

    diag = read_diagnostics(ctx.run.path / "diagnostics")
    parts: list[str] = []
    if diag is not None and diag["gradients"]:
        layers = _layers(diag)
        weighted = _weight_layers(diag)
        parts += [
            html.paragraph(f"Recorded every {diag['meta'].get('every', '?')} optimiser steps, before gradient "
                           "clipping. Vanishing gradients show as norms that fall by orders of magnitude towards "
                           "the input layers; exploding ones as norms that grow over the steps."),
            html.image(plot_gradient_flow(diag["gradients"], weighted, ctx.png("gradient_flow")),
                       caption="Median gradient norm per layer, input side on the left, in each third of training"
                               + (" (normalisation layers left out)." if len(weighted) < len(layers) else ".")),
            html.image(plot_gradient_norms(diag["gradients"], layers, ctx.png("gradient_norms")),
                       caption="Gradient norm of each layer over the optimiser steps."),
        ]
        if diag["activations"]:
            parts.append(html.image(plot_activations(diag["activations"], ctx.png("activations")),
                                    caption="Dead ReLUs (units off for the whole batch) and saturated sigmoid/tanh "
                                            "outputs, per activation layer."))
            parts.append(_last_activations(diag["activations"]))
    parts += _flow_beside_parts(ctx, diag)
    parts += _time_gradient_parts(ctx)
    if not parts:
        parts = [html.paragraph("No diagnostics were recorded (train.diagnostics_every: 0).", note=True)]
    return Section("Gradients and activations", parts)


def _layers(diag: dict[str, Any]) -> list[str]:
    return diag["meta"].get("layers") or [k for k in diag["gradients"][0] if k not in ("step", "epoch")]


def _weight_layers(diag: dict[str, Any]) -> list[str]:
    """The layers that hold weights, input side first; normalisation layers carry tiny gradients that
    would zigzag a flow plot, so they are left out."""
    types = diag["meta"].get("layer_types") or {}
    layers = _layers(diag)
    return [layer for layer in layers if "Norm" not in types.get(layer, "")] or layers


def _flow_beside_parts(ctx: ReportContext, diag: dict[str, Any] | None) -> list[str]:
    """This run's gradient flow beside that of the runs given with ``layerlab report RUN --beside OTHER``."""
    from layerlab.analyze.gradient_plots import median_flow, plot_flow_beside
    from layerlab.train.diagnostics import read_diagnostics

    if not ctx.beside:
        return []
    flows, rows = {}, []
    for label, path in [(ctx.run.path.name, ctx.run.path), *ctx.beside.items()]:
        other = diag if path == ctx.run.path else read_diagnostics(Path(path) / "diagnostics")
        if other is None or not other["gradients"]:
            continue
        flow = median_flow(other["gradients"], _weight_layers(other))
        flows[label] = flow
        rows.append([label, len(flow), _test_metric(Path(path)), float(flow[0]), float(flow[-1]),
                     float(flow[0] / max(flow[-1], 1e-30))])
    if len(flows) < 2:
        return []
    return [
        html.paragraph("Beside other runs: each line is a run's median gradient norm per weight layer over the "
                       "whole of its training."),
        html.image(plot_flow_beside(flows, ctx.png("gradient_flow_beside")),
                   caption="Gradient flow of this run and the runs beside it (input side on the left)."),
        html.table(["run", "weight layers", "test", "first layer", "last layer", "first / last"], rows, digits=3),
    ]


def _time_gradient_parts(ctx: ReportContext) -> list[str]:
    """For recurrent runs: how much the loss at the last step depends on each earlier input, per epoch,
    and beside the other runs given with ``--beside``."""
    from layerlab.train.gradient_time import plot_time_gradients, read_time_gradients

    mine = read_time_gradients(ctx.run.path)
    others = {label: rows for label, path in ctx.beside.items() if (rows := read_time_gradients(path))}
    if not mine and not others:
        return []
    parts = [html.paragraph("Gradient through time: the norm of the gradient of the loss at a sequence's last "
                            "step with respect to the input of the recurrence at each earlier step. A plain "
                            "RNN's falls by orders of magnitude within a few dozen steps (the vanishing "
                            "gradient); an LSTM's or GRU's stays far higher, which is why they learn long "
                            "dependencies.")]
    if mine:
        parts.append(html.image(plot_time_gradients(mine, ctx.png("time_gradients")),
                                caption="‖∂ loss at T / ∂ input at t‖ against T − t, one line per epoch (log scale)."))
    runs = ({ctx.run.path.name: mine} if mine else {}) | others
    if len(runs) > 1:
        labels = list(runs)
        parts.append(html.image(plot_time_gradients([rows[-1] for rows in runs.values()],
                                                    ctx.png("time_gradients_beside"), labels),
                                caption="The last epoch's gradient through time of this run and the runs beside it."))
    table = []
    for label, rows in runs.items():
        last = [v for k, v in rows[-1].items() if k.startswith("back_")]
        table.append([label, len(last) - 1, last[0], last[-1], last[-1] / max(last[0], 1e-30)])
    parts.append(html.table(["run", "steps back", "norm at the last step", "norm furthest back",
                             "furthest / last"], table, digits=3))
    return parts


def _test_metric(run_dir: Path) -> str:
    """A run's first test metric as "name value", or "" when its summary has none."""
    import json

    try:
        test = json.loads((run_dir / "summary.json").read_text(encoding="utf-8")).get("test") or {}
    except (OSError, ValueError):
        return ""
    for name in ("accuracy", "loss", "rmse"):
        if isinstance(test.get(name), (int, float)):
            return f"{name} {test[name]:.4f}"
    return ""


def _last_activations(rows: list[dict[str, Any]]) -> str:
    last_step = max(float(r["step"]) for r in rows)
    last = [r for r in rows if float(r["step"]) == last_step]
    return html.paragraph(f"At step {int(last_step)}:") + html.table(
        ["layer", "kind", "zero fraction", "dead fraction", "saturated fraction", "mean", "std"],
        [[r["layer"], r["kind"], r["zero_fraction"], r["dead_fraction"], r["saturated_fraction"], r["mean"], r["std"]]
         for r in last], digits=3)


def recipe_section(ctx: ReportContext) -> Section:
    from layerlab.analyze.report_context import Section

    env = ctx.summary.get("environment") or {}
    parts = [html.paragraph("The resolved recipe (recipe.yaml): run it again with `layerlab run recipe.yaml`."),
             html.preformatted(ctx.recipe.to_yaml())]
    if env:
        parts += [html.paragraph("Environment:"), html.table(["", "value"], [[k, str(v)] for k, v in env.items()])]
    return Section("Recipe", parts)


def _target_text(ctx: ReportContext, value: Any) -> str:
    if isinstance(value, dict):  # structured targets: a detection's objects
        return f"{len(value.get('labels', ()))} objects"
    if isinstance(value, list):
        return f"{len(value)} values"
    if ctx.info.class_names and isinstance(value, int):
        return ctx.info.class_names[value]
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def findings_sections(ctx: ReportContext) -> list[Section]:
    """Explanations and audits written into the run by ``layerlab explain`` and ``layerlab audit``."""
    from layerlab.analyze.findings import EXPLAIN_DIR, audit_path, read_audits, read_explanations
    from layerlab.analyze.report_context import Section

    sections = []
    explained = read_explanations(ctx.run.path)
    if explained:
        parts = []
        for entry in explained:
            parts.append(html.paragraph(f"{entry['input']}: predicted {entry.get('label', entry.get('value', '?'))}"
                                        + (f" ({entry['probability']:.3f})" if "probability" in entry else "")
                                        + f"; explaining '{entry['target_name']}'."))
            if entry.get("kind") == "tokens":
                parts.append(html.highlighted_tokens(entry["tokens"], entry["scores"]))
            files = [ctx.run.path / EXPLAIN_DIR / Path(f).name for f in entry.get("files", [])]  # the run may have moved
            parts += [html.image(f, caption=f.name) for f in files if f.exists()]
        sections.append(Section("Explanations", parts))
    audits = read_audits(ctx.run.path)
    if audits:
        sections.append(Section("Audits", [fragment for result in audits for fragment in audit_fragments(
            result, audit_path(ctx.run.path, result["rule"], ".png"))]))
    return sections


def audit_fragments(result: dict[str, Any], png: Path | None = None) -> list[str]:
    """A paragraph, the per-group table and (when given or saved) the plot of one audit result."""
    metric = result["compared_on"]
    groups = result["groups"]
    columns = [c for c in ("n", "accuracy", "error_rate", "macro_f1", "ece", "selection_rate", "true_positive_rate",
                           "false_positive_rate", "false_negative_rate", "mae", "rmse", "gap_to_best")
               if any(c in row for row in groups.values())]
    rows = [[name, *[row.get(c) for c in columns]] for name, row in groups.items()]
    worst = result["worst_group"]
    text = (f"Groups by {result['rule']} on the {result['split']} split: worst group '{worst['name']}' with "
            f"{metric} {worst[metric]:.4f} (overall {result['overall'][metric]:.4f}).")
    for key, label in (("demographic_parity_difference", "demographic parity difference"),
                       ("equalized_odds_difference", "equalised odds difference")):
        if result.get(key) is not None:
            text += f" {label[0].upper() + label[1:]}: {result[key]:.4f}."
    parts = [html.paragraph(text), html.table(["group", *[c.replace("_", " ") for c in columns]], rows)]
    if png is not None and png.exists():
        parts.append(html.image(png, caption=f"{metric} per group; the worst in red."))
    return parts
