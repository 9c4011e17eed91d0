"""Layer groups: a model cut into the blocks that fine-tuning freezes, unfreezes and gives rates to.

    groups = layer_groups(model)      # from the input to the head, e.g. for a ResNet-18:
    [g.name for g in groups]          # ['conv1', 'layer1.0', 'layer1.1', ..., 'layer4.1', 'fc']

The cut is found from the module tree, so it works for any model: containers (``Sequential``,
``ModuleList``) and modules holding a stack of repeated blocks (a transformer's encoder, a ResNet's
stages) are opened, everything else is one group; a group of normalisation layers alone (the batch
norm after a stem convolution, a final layer norm) joins the group before it, and modules without
parameters (activations, pooling, an input transform) are no group at all. The **head** is the last
group: the layer that makes the outputs, replaced for new classes.

``freeze`` sets what trains: the head, the head and the last N groups below it, or everything. A
frozen group's parameters get ``requires_grad = False`` (no gradients are computed or kept for them)
and the group runs as in evaluation, whatever ``model.train()`` says: its batch-norm layers keep their
running statistics and its dropout is off, as is any dropout in a subtree whose every parameter is
frozen (a transformer's embedding dropout), so a frozen backbone gives the same features in training as
at test time (Keras's advice for feature extraction: call the base model with ``training=False``);
with ``freeze_bn`` every batch-norm layer of the model keeps its statistics, in trainable groups too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.hooks import RemovableHandle

from layerlab.errors import LayerLabError

_NORMS = (_BatchNorm, nn.LayerNorm, nn.GroupNorm)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)

Trainable = str | int  # "head", "all", or N: the head and the last N groups below it


@dataclass
class LayerGroup:
    name: str  # a dotted module path (or "(model)" for parameters of the root itself)
    params: list[nn.Parameter] = field(default_factory=list)
    modules: list[nn.Module] = field(default_factory=list)  # whole subtrees in the group (for batch norms)

    def numel(self) -> int:
        return sum(p.numel() for p in self.params)


def layer_groups(model: nn.Module) -> list[LayerGroup]:
    """The model's layer groups, from the input to the head; every parameter is in exactly one."""
    groups: list[LayerGroup] = []
    _open(model, "", groups, sum(p.numel() for p in model.parameters()))
    merged: list[LayerGroup] = []
    for group in groups:
        if merged and group.modules and all(isinstance(m, _NORMS) for m in group.modules):
            merged[-1].params += group.params
            merged[-1].modules += group.modules
        else:
            merged.append(group)
    if not merged:
        raise LayerLabError(f"{type(model).__name__} has no parameters to fine-tune")
    return merged


def _open(module: nn.Module, prefix: str, out: list[LayerGroup], total: int) -> None:
    own = list(module.parameters(recurse=False))
    if own:
        out.append(LayerGroup(prefix or "(model)", own))
    for name, child in module.named_children():
        path = f"{prefix}.{name}" if prefix else name
        size = sum(p.numel() for p in child.parameters())
        if size == 0:
            continue
        # Open containers, stacks of repeated blocks, and wrappers of most of the network (torchvision's
        # VGG inside our input transform); anything else is one block. A flat module of plain layers stays
        # one block however large (a transformer's embeddings: the word, position and type tables and
        # their norm are one layer of the network, one step of a layer-wise rate decay).
        if isinstance(child, _CONTAINERS) or _holds_repeated_blocks(child) or (size > total / 2 and _nested(child)):
            _open(child, path, out, total)
        else:
            out.append(LayerGroup(path, list(child.parameters()), [child]))


def _nested(module: nn.Module) -> bool:
    """Whether a child of ``module`` is itself made of modules (rather than all being plain layers)."""
    return any(next(child.children(), None) is not None for child in module.children())


def _holds_repeated_blocks(module: nn.Module) -> bool:
    """Whether a stack of two or more blocks of one class (a ModuleList of transformer layers, a ResNet
    stage) is inside; stacks of plain Sequentials (conv-norm-activation units) do not count."""
    for m in module.modules():
        if isinstance(m, (nn.Sequential, nn.ModuleList)) and len(m) >= 2:
            kinds = {type(c) for c in m}
            kind = next(iter(kinds))
            if len(kinds) == 1 and not issubclass(kind, nn.Sequential) and any(True for _ in m.parameters()):
                return True
    return False


def trainable_groups(groups: list[LayerGroup], trainable: Trainable) -> list[LayerGroup]:
    """The groups that train under ``trainable`` (from the input side to the head)."""
    if trainable == "all":
        return list(groups)
    if trainable == "head":
        return groups[-1:]
    if isinstance(trainable, int) and trainable >= 0:
        return groups[max(0, len(groups) - 1 - trainable):]
    raise LayerLabError(f"trainable: '{trainable}' is not head, all or a number of groups below the head")


def freeze(model: nn.Module, groups: list[LayerGroup], trainable: Trainable, *, freeze_bn: bool = False) -> list[RemovableHandle]:
    """Make only the ``trainable`` groups train; returns the hooks that keep the frozen groups (and with
    ``freeze_bn`` every batch norm) in evaluation mode (remove them before freezing differently)."""
    training = trainable_groups(groups, trainable)
    train_ids = {id(p) for g in training for p in g.params}
    for p in model.parameters():
        p.requires_grad_(id(p) in train_ids)
    kept = {id(g) for g in training}
    frozen = [sub for g in groups if id(g) not in kept for sub in g.modules] + _wholly_frozen(model, train_ids)
    hooks = [m.register_forward_pre_hook(_evaluation_mode) for m in frozen]
    if freeze_bn:
        hooks += [m.register_forward_pre_hook(_evaluation_mode) for g in training for sub in g.modules
                  for m in sub.modules() if isinstance(m, _BatchNorm)]
    return hooks


def _wholly_frozen(model: nn.Module, train_ids: set[int]) -> list[nn.Module]:
    """The largest subtrees whose every parameter is frozen: what lies in them without parameters (a
    dropout between two frozen groups, a frozen block's activation) is frozen too."""
    found: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        params = list(module.parameters())
        if params and not any(id(p) in train_ids for p in params):
            found.append(module)
            return
        for child in module.children():
            visit(child)

    visit(model)
    return found


def _evaluation_mode(module: nn.Module, args: object) -> None:
    # Run as in evaluation (batch norms on their stored statistics, which stay as they are; no dropout),
    # whatever model.train() said.
    module.eval()


def describe(groups: list[LayerGroup], trainable: Trainable) -> list[tuple[str, int, bool]]:
    """(name, parameters, trains?) per group, for printing."""
    training = {id(g) for g in trainable_groups(groups, trainable)}
    return [(g.name, g.numel(), id(g) in training) for g in groups]


