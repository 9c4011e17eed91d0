"""Report sections of a classification run: classes, ROC/PR, calibration, confidently wrong examples."""

from __future__ import annotations

import numpy as np
import torch

from layerlab.analyze import html
from layerlab.analyze.report_context import SECTIONS, ReportContext, Section

WRONG_SHOWN = 16  # most confidently wrong test examples shown


@SECTIONS.register("classification", description="per-class metrics, ROC/PR, calibration, confident mistakes")
def classification_sections(ctx: ReportContext) -> list[Section]:
    outputs = ctx.test_outputs()
    if outputs is None:
        return [Section("Classes", [html.paragraph("There is no test split to analyse.", note=True)])]
    targets = ctx.data.test.y.cpu().numpy()
    probs = outputs.float().softmax(dim=1).numpy()
    sections = [_classes(ctx, probs, targets), _curves(ctx, probs, targets), _calibration(ctx, outputs, targets),
                _confidently_wrong(ctx, probs, targets)]
    groups = ctx.data.test.groups
    if groups is not None and len(set(groups.tolist())) >= 2:
        sections.append(_groups(ctx, outputs, groups))
    return sections


def _groups(ctx: ReportContext, outputs: torch.Tensor, groups: np.ndarray) -> Section:
    from layerlab.analyze.common_sections import audit_fragments
    from layerlab.analyze.group_audit import audit_classification, plot_audit

    result = audit_classification(outputs, ctx.data.test.y.cpu(), groups, class_names=ctx.info.class_names)
    result.update(rule=ctx.recipe.data.groups, split="test")
    png = plot_audit(result, ctx.png("groups"))
    return Section("Groups", audit_fragments(result, png))


def _classes(ctx: ReportContext, probs: np.ndarray, targets: np.ndarray) -> Section:
    from layerlab.analyze.curves import curve_areas
    from layerlab.analyze.plots import plot_confusion
    from layerlab.tasks.classify import confusion_matrix, per_class_stats

    names = ctx.info.class_names
    pred = probs.argmax(1)
    matrix = confusion_matrix(torch.from_numpy(targets), torch.from_numpy(pred), len(names))
    stats = per_class_stats(matrix)
    areas = curve_areas(probs, targets, names)["classes"]
    rows = []
    for i, name in enumerate(names):
        area = areas.get(name, {})
        rows.append([name, float(stats["precision"][i]), float(stats["recall"][i]), float(stats["f1"][i]),
                     int(stats["support"][i]), area.get("roc_auc"), area.get("average_precision")])
    path = plot_confusion(matrix.tolist(), names, ctx.png("confusion"))
    accuracy = float((pred == targets).mean())
    return Section("Classes", [
        html.paragraph(f"Test accuracy {accuracy:.4f} on {len(targets):,} examples."),
        html.image(path, caption="Confusion matrix of the test split (rows: true class, columns: predicted)."),
        html.table(["class", "precision", "recall", "F1", "support", "ROC AUC", "average precision"], rows),
    ])


def _curves(ctx: ReportContext, probs: np.ndarray, targets: np.ndarray) -> Section:
    from layerlab.analyze.curves import plot_roc_pr

    path = plot_roc_pr(probs, targets, ctx.info.class_names, ctx.png("roc_pr"))
    what = "the positive class" if len(ctx.info.class_names) == 2 else "each class against the rest (lowest AUC first)"
    return Section("ROC and precision-recall", [html.image(path, caption=f"Curves of {what} on the test split.")])


def _calibration(ctx: ReportContext, outputs: torch.Tensor, targets: np.ndarray) -> Section:
    from layerlab.analyze.calibration import plot_reliability, reliability

    target_t = torch.from_numpy(targets)
    after = reliability(outputs.softmax(dim=1), target_t)
    temperature = getattr(ctx.model, "temperature", None)
    parts = []
    if temperature is not None:  # temperature-scaled: show the raw model next to it
        before = reliability((outputs * float(temperature)).softmax(dim=1), target_t)
        parts.append(html.paragraph(f"Temperature scaling (T = {float(temperature):.3f}, fitted on the validation "
                                    f"split): test ECE {before['ece']:.4f} before, {after['ece']:.4f} after."))
        parts.append(html.image(plot_reliability(before, ctx.png("reliability_raw"), title="Before scaling"),
                                caption="Reliability of the raw model."))
        parts.append(html.image(plot_reliability(after, ctx.png("reliability"), title="After scaling"),
                                caption="Reliability with the temperature the run uses."))
    else:
        parts.append(html.paragraph(f"Expected calibration error on the test split: {after['ece']:.4f} "
                                    f"(maximum calibration error {after['mce']:.4f}; 15 bins). "
                                    "task.calibrate: temperature would fit a temperature on the validation split."))
        parts.append(html.image(plot_reliability(after, ctx.png("reliability")),
                                caption="Reliability diagram: accuracy against confidence per bin."))
    return Section("Calibration", parts)


def _confidently_wrong(ctx: ReportContext, probs: np.ndarray, targets: np.ndarray) -> Section:
    names = ctx.info.class_names
    pred, confidence = probs.argmax(1), probs.max(1)
    wrong = np.flatnonzero(pred != targets)
    if not len(wrong):
        return Section("Most confidently wrong", [html.paragraph("Every test example is classified correctly.")])
    chosen = wrong[np.argsort(-confidence[wrong], kind="stable")[:WRONG_SHOWN]]
    ids = ctx.data.test.ids
    rows = [[str(ids[i]) if ids is not None else int(i), names[targets[i]], names[pred[i]], float(confidence[i])]
            for i in chosen]
    parts = [html.paragraph(f"{len(wrong):,} of {len(targets):,} test examples are wrong; the "
                            f"{len(chosen)} the model was surest of:")]
    x = ctx.data.test.x
    if ctx.info.modality == "image" and x.ndim == 4:
        from layerlab.analyze.image_grid import plot_image_grid

        captions = [f"{names[targets[i]]}→{names[pred[i]]} {confidence[i]:.2f}" for i in chosen]
        path = plot_image_grid(x[torch.from_numpy(chosen)].cpu(), captions, ctx.png("confidently_wrong"))
        parts.append(html.image(path, caption="true class → predicted class, and the predicted probability"))
    parts.append(html.table(["example", "true class", "predicted", "probability"], rows))
    return Section("Most confidently wrong", parts)
