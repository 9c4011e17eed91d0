"""One rank of test_data_parallel's 20 consecutive runs: join the group, one DDP step, the clean shutdown."""

from types import SimpleNamespace

import torch

from layerlab.train.distributed import Distributed

CFG = SimpleNamespace(backend="auto", timeout=60.0, sync_batchnorm=False)  # train.distributed's fields (no recipe import)

ranks = Distributed.from_env()
ranks = ranks.start(CFG, torch.device("cpu"))
net = ranks.wrap(torch.nn.Linear(3, 1), CFG)
x, y, weight = ranks.shard(torch.ones(4, 3), torch.zeros(4))
loss = torch.nn.functional.mse_loss(net(x).squeeze(1), y) * weight
loss.backward()
assert torch.isfinite(ranks.batch_loss(loss, 1.0))
ranks.stop(clean=True)
