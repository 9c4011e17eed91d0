"""The live table of a search: the latest trials, their state, score, epochs and values, and the best.

Refreshed after every epoch of an in-process trial and every second while worker processes run; it
reads the study's storage, so it shows the trials of every worker, on every machine.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from layerlab.tune.results import leaderboard, trial_row

if TYPE_CHECKING:
    import optuna
    from rich.console import Console

ROWS = 12  # latest trials shown; the best is always shown too
STYLES = {"complete": "green", "pruned": "yellow", "fail": "red", "running": "cyan", "waiting": "dim"}


class LiveTable:
    """A rich ``Live`` table of a study; does nothing without a console."""

    def __init__(self, console: Console | None, study: optuna.Study, *, metric: str, direction: str,
                 target: int | None):
        self.console, self.study = console, study
        self.metric, self.direction, self.target = metric, direction, target
        self._live: Any = None

    def __enter__(self) -> LiveTable:
        if self.console is not None:
            from rich.live import Live

            self._live = Live(self.render(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(*exc)
            self._live = None
            if not self.console.is_terminal:  # off a terminal the last table ends without a newline
                self.console.line()

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render())

    def render(self) -> Any:
        from rich.table import Table

        trials = self.study.get_trials(deepcopy=False)
        ranked = leaderboard(trials, self.direction)
        best = ranked[0] if ranked and ranked[0]["state"] == "complete" else None
        shown = sorted(trials, key=lambda t: t.number)[-ROWS:]
        if best is not None and all(t.number != best["trial"] for t in shown):
            shown = [t for t in trials if t.number == best["trial"]] + shown
        done = sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
        title = (f"study {self.study.study_name}: {done}{f'/{self.target}' if self.target else ''} trials"
                 + (f", best {self.metric} {best['score']:.4f} (trial {best['trial']})" if best else ""))
        table = Table(title=title, title_justify="left", box=None, header_style="bold")
        for column, justify in (("trial", "right"), ("state", "left"), (self.metric, "right"), ("epochs", "right"),
                                ("seconds", "right"), ("values", "left")):
            table.add_column(column, justify=justify, overflow="fold")
        for trial in shown:
            row = trial_row(trial)
            mark = " *" if best is not None and row["trial"] == best["trial"] else ""
            score = row["score"]
            table.add_row(
                f"{row['trial']}{mark}",
                f"[{STYLES.get(row['state'], '')}]{row['state']}[/]",
                f"{score:.4f}" if isinstance(score, (int, float)) and math.isfinite(score) else "",
                str(row["epochs"] or ""),
                f"{row['seconds']:.1f}" if row["seconds"] is not None else "",
                "  ".join(f"{k}={_short(v)}" for k, v in row["values"].items()) or row["error"],
            )
        return table


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
