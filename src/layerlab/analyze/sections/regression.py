"""Report sections of a regression run: predicted against true values, residuals, largest errors."""

from __future__ import annotations

import numpy as np

from layerlab.analyze import html
from layerlab.analyze.plots import new_figure, save_png
from layerlab.analyze.report_context import SECTIONS, ReportContext, Section

LARGEST_SHOWN = 10  # test examples with the largest errors listed


@SECTIONS.register("regression", description="predicted against true values, residuals, largest errors")
def regression_sections(ctx: ReportContext) -> list[Section]:
    outputs = ctx.test_outputs()
    if outputs is None:
        return [Section("Predictions", [html.paragraph("There is no test split to analyse.", note=True)])]
    pred = outputs.float().numpy().reshape(len(outputs), -1)
    true = ctx.data.test.y.cpu().float().numpy().reshape(len(outputs), -1)
    residual = pred - true
    fig = new_figure(10.0, 4.2)
    left, right = fig.subplots(1, 2)
    left.scatter(true[:, 0], pred[:, 0], s=8, alpha=0.6)
    low, high = float(min(true[:, 0].min(), pred[:, 0].min())), float(max(true[:, 0].max(), pred[:, 0].max()))
    left.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1, label="perfect")
    left.set_xlabel("true value")
    left.set_ylabel("predicted value")
    left.set_title("Predicted against true (test)")
    left.legend(fontsize="small")
    right.hist(residual.ravel(), bins=40, color="tab:blue", alpha=0.8)
    right.axvline(0, color="0.3", linestyle="--", linewidth=1)
    right.set_xlabel("residual (predicted − true)")
    right.set_ylabel("examples")
    right.set_title("Residuals (test)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    path = save_png(fig, ctx.png("regression"))

    error = np.abs(residual).max(axis=1)
    worst = np.argsort(-error, kind="stable")[:LARGEST_SHOWN]
    ids = ctx.data.test.ids
    rows = [[str(ids[i]) if ids is not None else int(i), float(true[i, 0]), float(pred[i, 0]), float(residual[i, 0])]
            for i in worst]
    return [Section("Predictions", [
        html.image(path, caption="Left: each test example; points on the dashed line are predicted exactly. "
                                 "Right: the distribution of the errors."),
        html.paragraph(f"Mean absolute error {float(np.abs(residual).mean()):.4g}, root mean squared error "
                       f"{float(np.sqrt(np.square(residual).mean())):.4g} on {len(true):,} test examples. "
                       "The largest errors:"),
        html.table(["example", "true", "predicted", "residual"], rows),
    ])]
