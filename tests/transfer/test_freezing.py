"""Layer groups and freezing: frozen parameters do not move and keep no gradients, frozen batch norms
keep their statistics, and discriminative rates land in the optimiser's parameter groups."""

from __future__ import annotations

import pytest
import torch

from layerlab.errors import LayerLabError
from layerlab.models import create_model
from layerlab.recipe import TrainConfig
from layerlab.transfer import Stages, freeze, layer_groups, trainable_groups


def resnet():
    torch.manual_seed(0)
    return create_model({"name": "resnet18", "width": 8}, input_shape=(3, 16, 16), num_outputs=4)


def test_groups_cover_every_parameter_once_and_end_with_the_head():
    model = resnet()
    groups = layer_groups(model)
    assert [g.name for g in groups] == ["conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1",
                                        "layer3.0", "layer3.1", "layer4.0", "layer4.1", "fc"]
    ids = [id(p) for g in groups for p in g.params]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert any(p is model.bn1.weight for p in groups[0].params)  # the stem's batch norm joins the stem


def test_frozen_parameters_do_not_move_and_keep_no_gradients():
    model = resnet()
    groups = layer_groups(model)
    freeze(model, groups, 2)  # the head and layer4's two blocks
    training = trainable_groups(groups, 2)
    assert [g.name for g in training] == ["layer4.0", "layer4.1", "fc"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 4
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    after = model.state_dict()
    trained = {n for n, p in model.named_parameters() if p.requires_grad}
    for name, p in model.named_parameters():
        if name in trained:
            assert p.grad is not None
        else:
            assert p.grad is None, f"{name} is frozen but kept a gradient"
            assert torch.equal(after[name], before[name]), f"{name} is frozen but moved"
    assert any(not torch.equal(after[n], before[n]) for n in trained)
    # frozen groups' batch norms kept their running statistics; the training blocks' did not
    assert torch.equal(after["layer1.0.bn1.running_mean"], before["layer1.0.bn1.running_mean"])
    assert not torch.equal(after["layer4.0.bn1.running_mean"], before["layer4.0.bn1.running_mean"])


def test_freeze_bn_keeps_every_batch_norm_and_hooks_come_off():
    model = resnet()
    before = model.state_dict()["layer4.1.bn1.running_mean"].clone()
    hooks = freeze(model, layer_groups(model), "all", freeze_bn=True)
    model.train()
    model(torch.randn(4, 3, 16, 16))
    assert torch.equal(model.state_dict()["layer4.1.bn1.running_mean"], before)
    for hook in hooks:
        hook.remove()
    model.train()
    model(torch.randn(4, 3, 16, 16))
    assert not torch.equal(model.state_dict()["layer4.1.bn1.running_mean"], before)


def test_discriminative_rates_land_in_the_parameter_groups():
    model = resnet()
    cfg = TrainConfig(lr=0.01, weight_decay=0.1,
                      stages=[{"epochs": 1, "trainable": "head"},
                              {"epochs": 1, "trainable": 3, "lr": 0.001, "lr_decay": 0.5}])
    stages = Stages(model, cfg)
    head_only = stages.enter(0)
    assert {id(p) for g in head_only.param_groups for p in g["params"]} == {id(model.fc.weight), id(model.fc.bias)}
    optimizer = stages.enter(1)
    scale = {id(p): g["lr_scale"] for g in optimizer.param_groups for p in g["params"]}
    expected = {"fc": 0.1, "layer4.1": 0.05, "layer4.0": 0.025, "layer3.1": 0.0125}
    for name, p in model.named_parameters():
        group = next((k for k in expected if name.startswith(k + ".")), None)
        if group is None:
            assert id(p) not in scale and not p.requires_grad
        else:
            assert scale[id(p)] == pytest.approx(expected[group]), name
    decay = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decay[id(model.fc.weight)] == 0.1 and decay[id(model.fc.bias)] == 0.0


def test_first_group_lr_spreads_rates_geometrically():
    model = resnet()
    cfg = TrainConfig(lr=0.01, epochs=3, fine_tune=1)  # fastai-like: head, then all at lr/2 down to 1/100
    stages = Stages(model, cfg)
    assert [s.trainable for s in stages.plan] == ["head", "all"] and [s.epochs for s in stages.plan] == [1, 2]
    rates = [scale for _, scale in stages.rates(1)]
    assert rates[0] == pytest.approx(0.5) and rates[-1] == pytest.approx(0.5 * 0.01)
    assert all(b < a for a, b in zip(rates, rates[1:]))


def test_unknown_trainable_is_refused():
    with pytest.raises(LayerLabError, match="not head, all"):
        trainable_groups(layer_groups(resnet()), "top")


def test_frozen_groups_run_without_dropout_and_trainable_ones_keep_it():
    class Block(torch.nn.Module):  # one layer group: a linear layer with dropout after it
        def __init__(self, width_in: int, width_out: int):
            super().__init__()
            self.linear, self.dropout = torch.nn.Linear(width_in, width_out), torch.nn.Dropout(0.5)

        def forward(self, x):
            return self.dropout(self.linear(x))

    torch.manual_seed(0)
    model = torch.nn.Sequential(Block(16, 32), Block(32, 16), torch.nn.Linear(16, 3))  # no block is half the model
    groups = layer_groups(model)
    assert [g.name for g in groups] == ["0", "1", "2"]
    x = torch.randn(8, 16)
    hooks = freeze(model, groups, "head")
    model.train()
    first = model[0](x)
    assert torch.equal(first, model[0](x))  # frozen: the same features every time, as at test time
    model(x)
    assert model[1].training is False
    for hook in hooks:
        hook.remove()
    freeze(model, groups, 1)  # the head and group "1" train: its dropout is on again
    model.train()
    model(x)
    assert not torch.equal(model[1](first), model[1](first))
    assert torch.equal(model[0](x), first)


def test_a_dropout_between_frozen_groups_is_off_and_the_head_s_own_stays_on():
    class Embeddings(torch.nn.Module):  # opened into groups (most of the model, nested): a dropout among them
        def __init__(self):
            super().__init__()
            self.tables = torch.nn.ModuleDict({"words": torch.nn.Embedding(400, 8), "positions": torch.nn.Embedding(16, 8)})
            self.dropout = torch.nn.Dropout(0.5)

        def forward(self, ids):
            return self.dropout(self.tables["words"](ids) + self.tables["positions"](torch.arange(ids.shape[1])))

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings, self.dropout, self.head = Embeddings(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2)

        def forward(self, ids):
            return self.head(self.dropout(self.embeddings(ids).mean(1)))

    model = Model()
    groups = layer_groups(model)
    assert [g.name for g in groups] == ["embeddings.tables.words", "embeddings.tables.positions", "head"]
    freeze(model, groups, "head")
    model.train()
    ids = torch.randint(0, 400, (4, 16))
    assert torch.equal(model.embeddings(ids), model.embeddings(ids))  # frozen: no dropout
    model(ids)
    assert model.embeddings.dropout.training is False
    assert model.dropout.training  # the dropout before the head trains with the head
    assert not torch.equal(model(ids), model(ids))
