"""``layerlab run --nproc N``: the same command again, as N processes started by torchrun.

    code = launch(["run", "digits-cnn", "train.epochs=3"], nproc=2)

It runs ``python -m torch.distributed.run --standalone --nproc-per-node N -m layerlab ARGS`` (PyTorch's own
launcher and its elastic agent: a free port on this machine, the workers watched, all of them stopped
when one fails, the failed rank named) and returns its exit status. Several machines go through torchrun
directly, with its ``--nnodes`` and ``--rdzv-endpoint`` (README). Imports no torch.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from layerlab.errors import RecipeError, UsageError
from layerlab.settings import torchrun_env

if TYPE_CHECKING:
    from layerlab.recipe import TrainConfig


def torchrun_command(argv: Sequence[str], nproc: int) -> list[str]:
    """The torchrun command line that starts ``layerlab ARGV`` as ``nproc`` processes on this machine."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "layerlab", *argv]


def launch(argv: Sequence[str], *, nproc: int, log: IO[str] | None = None) -> int:
    """Run ``layerlab ARGV`` as ``nproc`` ranks through torchrun and wait; returns torchrun's exit status (0
    when every rank finished; 1 when one failed: torchrun's report, naming it, is on stderr; 130 after
    Ctrl-C, which goes to torchrun, which passes it on to the ranks: they finish the step and checkpoint).
    ``log``: a file that takes the ranks' and torchrun's output (stdout and stderr) instead of ours."""
    if nproc < 1:
        raise UsageError(f"--nproc {nproc}: give 1 or more processes")
    if torchrun_env() is not None:
        raise UsageError("--nproc: this process was already started by torchrun; give --nproc to `layerlab run` "
                         "only, or the process count to torchrun only")
    output: dict[str, Any] = {} if log is None else {"stdout": log, "stderr": subprocess.STDOUT}
    child = subprocess.Popen(torchrun_command(argv, nproc), start_new_session=True, **output)  # signals: ours, once
    received: list[int] = []

    def forward(signum: int, frame: Any) -> None:  # torchrun passes it to the ranks, which checkpoint and stop
        received.append(signum)
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
        return 128 + received[0] if received and code else code  # 130 after Ctrl-C, as one process exits
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


SEMI_REFUSAL = ("train.semi: semi-supervised training runs in one process only (the ranks other than 0 would train "
                "without the unlabelled batches, so it would not be the one-process run); drop --nproc (or "
                "torchrun's --nproc-per-node) or train.semi")


def check_world(train: TrainConfig, world_size: int) -> None:
    """Refuse, naming the key, what does not train exactly on ``world_size`` > 1 processes and is not
    refused elsewhere: ``train.semi``. Called by ``run --nproc`` and ``tune --nproc`` before any process
    starts, and by every rank (``Distributed.check``) when torchrun was started directly."""
    if world_size > 1 and train.semi is not None:
        raise RecipeError([SEMI_REFUSAL])


def check_before_launch(recipe: str | None, overrides: Sequence[str], *, resume: str | None, nproc: int) -> None:
    """``layerlab run --nproc N``: the recipe (a resumed run's own) read once here, before torchrun starts N
    processes, so that a recipe they cannot train is refused in one line (exit 2) rather than by every rank."""
    from layerlab.recipe import load_recipe

    if resume is not None:
        from layerlab.rundir import RunDir

        cfg = load_recipe(RunDir.open(resume, need=("recipe",)).recipe, overrides)
    else:
        from layerlab.recipes import DEFAULT

        cfg = load_recipe(DEFAULT if recipe is None else recipe, overrides)
    check_world(cfg.train, nproc)
