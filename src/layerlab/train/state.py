"""``TrainState``: the trainer's counters and history, the part of a checkpoint that says where training is.

Its fields are written into every checkpoint under ``"trainer"`` (``dataclasses.asdict``) and read back
by name on a resume, so a field renamed or removed here is a checkpoint that no longer loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches done in the current epoch
    global_step: int = 0  # optimiser steps done
    seconds: float = 0.0  # training time, summed over resumes
    compile_seconds: float = 0.0  # train.compile: the part of ``seconds`` spent in steps that compiled a graph
    lr_scale: float = 1.0  # reduce-on-plateau's factor (``layerlab.train.plateau``)
    plateau_best: float | None = None  # reduce-on-plateau: the best value of the monitored metric so far
    plateau_bad: int = 0  # reduce-on-plateau: epochs since it last improved (or since the last cut)
    history: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""  # why training ended early ("" when it ran all epochs)
    status: str = "running"  # running, finished, stopped, interrupted, nan
