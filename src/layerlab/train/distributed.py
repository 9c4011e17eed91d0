"""Data-parallel training on PyTorch's own engine: torch.distributed, processes started by torchrun.

    dist = Distributed.from_env()            # RANK, WORLD_SIZE, LOCAL_RANK as torchrun sets them; else one process
    dist = dist.start(cfg.train.distributed, device)   # the process group: gloo on the CPU, nccl on CUDA
    net = dist.wrap(model, cfg.train.distributed)      # DistributedDataParallel (SyncBatchNorm when asked)
    x, y, weight = dist.shard(x, y)          # this rank's slice of one global batch, and its loss weight
    dist.stop(clean=True)                    # barrier, then destroy the process group

``train.batch_size`` stays the global batch: every rank draws the same seeded permutation and cuts the
same global batches as one process would (augmenting the whole batch with the same generator), then
trains on its own contiguous slice. Each rank's mean loss is weighted by ``world * slice / batch``, so
that DistributedDataParallel's mean of the ranks' gradients is the gradient of the whole batch's mean
loss, the last, smaller batch included (a rank whose slice would be empty takes one example with weight
0). Every rank holds the whole data set (as one process does) and validates on the whole validation
split, so the metrics are the single-process ones and no rank waits on another to decide when to stop.
Rank 0 alone writes the run directory. Without torchrun's variables all of this is a no-op.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import nn

from layerlab.errors import LayerLabError
from layerlab.settings import torchrun_env
from layerlab.train.launch import check_world

if TYPE_CHECKING:
    from layerlab.recipe import DistributedConfig, TrainConfig
    from layerlab.train.stopping import Stopping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False  # started by torchrun: a process group is made, even for a world of one
    backend: str = ""  # gloo or nccl once started
    device: torch.device = torch.device("cpu")  # where the collectives' small tensors live

    @classmethod
    def from_env(cls) -> Distributed:
        """This process's place in a torchrun job, or a lone process when torchrun did not start it."""
        try:
            found = torchrun_env()
        except ValueError as exc:
            raise LayerLabError(str(exc)) from None
        if found is None:
            return cls()
        rank, world, local = found
        if not 0 <= rank < world:
            raise LayerLabError(f"RANK={rank} is outside WORLD_SIZE={world}")
        return cls(rank, world, local, launched=True)

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run directory, checkpoints, history and report."""
        return self.rank == 0

    def summary(self) -> dict[str, Any]:
        """What the run directory records (summary.json's ``distributed``)."""
        return {"world_size": self.world_size, "backend": self.backend or None, "rank_writing": 0}

    # --------------------------------------------------------------------------- the process group
    def place(self, device: torch.device) -> torch.device:
        """The device this rank trains on: one GPU per process (cuda:LOCAL_RANK), else ``device``."""
        if not self.launched or device.type != "cuda":
            if self.launched and device.type == "mps":
                raise LayerLabError("train.device: mps cannot train data-parallel (torch.distributed has no mps "
                                    "backend); use cpu (gloo) or cuda (nccl)")
            return device
        if self.local_rank >= torch.cuda.device_count():
            raise LayerLabError(f"LOCAL_RANK={self.local_rank}: this machine has {torch.cuda.device_count()} GPU(s); "
                                "start at most one process per GPU (--nproc)")
        torch.cuda.set_device(self.local_rank)
        return torch.device("cuda", self.local_rank)

    def start(self, cfg: DistributedConfig, device: torch.device) -> Distributed:
        """Join the process group (torchrun's rendezvous, from its environment); returns the started state."""
        if not self.launched:
            return self
        backend = cfg.backend if cfg.backend != "auto" else ("nccl" if device.type == "cuda" else "gloo")
        if backend == "nccl" and device.type != "cuda":
            raise LayerLabError(f"train.distributed.backend: nccl needs CUDA devices, and this run is on {device.type}; use gloo")
        if not dist.is_initialized():
            options: dict[str, Any] = {"device_id": device} if backend == "nccl" else {}
            dist.init_process_group(backend, timeout=timedelta(seconds=cfg.timeout), **options)
        return replace(self, backend=backend, device=device if backend == "nccl" else torch.device("cpu"))

    def stop(self, *, clean: bool) -> None:
        """Leave the process group. ``clean`` (every rank got here): a barrier first, so that no rank tears
        down its connections while another still uses them; after a failure, no barrier (a peer may be gone)."""
        if not self.launched or not dist.is_initialized():
            return
        if clean:
            dist.barrier()
        dist.destroy_process_group()

    def share(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a run directory's path)."""
        if not self.launched:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    # ------------------------------------------------------------------------------- training
    def check(self, cfg: TrainConfig, *, own_step: bool) -> None:
        """Refuse what cannot train data-parallel yet, naming the key."""
        if not self.launched:
            return
        check_world(cfg, self.world_size)  # train.semi
        if own_step:
            raise LayerLabError("train.distributed: this task trains by a step of its own (a GAN's alternating "
                                "updates), which does not run data-parallel; train it in one process")
        if cfg.stages or cfg.fine_tune:
            raise LayerLabError("train.stages / train.fine_tune: fine-tuning stages change which weights train, which "
                                "DistributedDataParallel fixes at the start; train them in one process")
        if cfg.distributed.sync_batchnorm and self.backend != "nccl":
            raise LayerLabError("train.distributed.sync_batchnorm: SyncBatchNorm runs on CUDA only (nccl); "
                                "on the CPU each rank normalises its own slice")

    def wrap(self, model: nn.Module, cfg: DistributedConfig) -> nn.Module:
        """The module to train through: DistributedDataParallel over ``model`` (whose weights it shares), or
        ``model`` itself in a lone process."""
        if not self.launched:
            return model
        if cfg.sync_batchnorm:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # the same parameters, in place below the top
        ids = [self.device.index] if self.backend == "nccl" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def shard(self, x: torch.Tensor, y: Any) -> tuple[torch.Tensor, Any, float]:
        """This rank's contiguous slice of a global batch, and the weight of its mean loss (1.0 for equal
        slices). Ranks 0..r-1 take one more example when the batch does not divide evenly."""
        if self.world_size == 1:
            return x, y, 1.0
        n = len(x)
        base, extra = divmod(n, self.world_size)
        lo = self.rank * base + min(self.rank, extra)
        hi = lo + base + (self.rank < extra)
        if hi == lo:  # fewer examples than ranks: a stand-in example whose gradient counts zero times
            return x[:1], y[:1], 0.0
        return x[lo:hi], y[lo:hi], self.world_size * (hi - lo) / n

    def batch_loss(self, loss: torch.Tensor, weight: float) -> torch.Tensor:
        """The whole global batch's mean loss (detached): the ranks' weighted losses summed over the group.
        Non-finite on every rank when it is on one, so that all ranks stop at the same batch."""
        if not self.launched:
            return loss.detach()
        total = (loss.detach().float() * (weight / self.world_size)).to(self.device)
        dist.all_reduce(total)
        return total.to(loss.device)

    def agree_to_stop(self, stopping: Stopping, seconds: float) -> bool:
        """At a step boundary: whether to end the epoch here (Ctrl-C on any rank, or any rank's clock past
        the time budget), agreed by all ranks so that none waits for a step the others will not take."""
        local = stopping.now(seconds)
        if not self.launched:
            return local
        flags = torch.tensor([stopping.interrupted, local and not stopping.interrupted], dtype=torch.int32,
                             device=self.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        interrupted, over_budget = (bool(v) for v in flags.tolist())
        stopping.interrupted = stopping.interrupted or interrupted
        if over_budget:
            stopping.now(math.inf)  # asks for the stop with the budget's reason, as the rank past it did
        return interrupted or over_budget


LONE = Distributed()  # a process on its own: every method above a no-op
