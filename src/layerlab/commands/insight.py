"""Commands that look into a trained run: ``report``, ``explain`` and ``audit``.

Only argparse and the standard library at the top; the handlers call ``layerlab.api``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write the run's self-contained HTML report (report.html) and its PNGs")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--beside", nargs="+", default=[], metavar="OTHER_RUN",
                   help="runs whose gradient flow (per layer, and through time) is drawn beside this run's")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print {report, figures} as JSON: the page and its PNGs")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("explain", help="saliency, integrated gradients, Grad-CAM or token attributions of predictions")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image, CSV or text files, or examples of the run's data as test:N, val:N, train:N")
    p.add_argument("--target", default=None, help="the class to explain (default: the predicted one)")
    p.add_argument("--no-report", action="store_true", help="do not rewrite the run's report")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser("audit", help="quality per group of examples, gaps, parity and equalised-odds differences")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--group", default=None, metavar="RULE",
                   help="column:NAME (tables), file:REGEX (first group, in file names) or meta:PATH (CSV of id,group); "
                        "default the recipe's data.groups")
    p.add_argument("--split", default="test", help="train, val, test or all (default test)")
    p.add_argument("--positive", type=int, default=None, help="class index counted as the positive decision")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_audit)


def cmd_report(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    path = api.report(args.run_dir, device=args.device, beside=args.beside)
    if args.json:
        figures = sorted(str(png) for png in (path.parent / "report").glob("*.png"))
        print(json.dumps({"report": str(path), "figures": figures}, indent=2))
        return 0
    console.print(f"report: {path}")
    return 0


def cmd_explain(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    results = api.explain(args.run_dir, args.inputs, target=args.target, device=args.device, report=not args.no_report)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for entry in results:
        predicted = entry.get("label", entry.get("value"))
        probability = f" ({entry['probability']:.3f})" if "probability" in entry else ""
        console.print(f"{entry['input']}: predicted {predicted}{probability}; explained '{entry['target_name']}' "
                      f"-> {', '.join(entry['files'])}")
    return 0


def cmd_audit(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from layerlab import api

    result = api.audit(args.run_dir, group=args.group, split=args.split, positive=args.positive, device=args.device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    metric = result["compared_on"]
    groups = result["groups"]
    columns = [c for c in ("n", "accuracy", "error_rate", "macro_f1", "ece", "true_positive_rate",
                           "false_positive_rate", "mae", "rmse", "gap_to_best") if any(c in r for r in groups.values())]
    table = Table(box=None)
    table.add_column("group")
    for column in columns:
        table.add_column(column.replace("_", " "), justify="right")
    for name, row in groups.items():
        table.add_row(name, *[_cell(row.get(c)) for c in columns])
    console.print(table)
    worst = result["worst_group"]
    console.print(f"worst group: {worst['name']} ({metric} {worst[metric]:.4f}; overall {result['overall'][metric]:.4f})")
    for key in ("demographic_parity_difference", "equalized_odds_difference"):
        if result.get(key) is not None:
            console.print(f"{key.replace('_', ' ')}: {result[key]:.4f}")
    console.print(f"written: {result['plot']}")
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4f}"
