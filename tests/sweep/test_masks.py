"""Masks against torch.nn.utils.prune itself (the oracle), on nn.Modules where prune's hooks apply."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from pruneaudit.errors import ConfigError
from pruneaudit.sweep.config import Variant
from pruneaudit.sweep.masks import MaskedWeights, compute_masks, select_layers, sparsity, weight_names


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc1 = nn.Linear(8 * 6 * 6, 24)
        self.fc2 = nn.Linear(24, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(torch.flatten(torch.relu(self.conv(x)), 1))))


@pytest.fixture
def net() -> Net:
    torch.manual_seed(0)
    return Net()


def masks_of(module: nn.Module, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {n: module.get_submodule(n.rsplit(".", 1)[0]).weight_mask for n in names}


@pytest.mark.parametrize("amount", [0.3, 0.5, 0.9])
def test_each_technique_matches_torch_prune(net, amount):
    layers = select_layers(net, exclude=None, structured=False, n_classes=5, where="test")
    assert layers.pruned == ("conv.weight", "fc1.weight") and layers.excluded == ("fc2",)
    ref = copy.deepcopy(net)
    mods = [(ref.conv, "weight"), (ref.fc1, "weight")]

    prune.global_unstructured(mods, pruning_method=prune.L1Unstructured, amount=amount)
    ours = compute_masks(net, technique="global_l1", sparsity=amount, layers=layers, current=None, seed=0)
    for n, m in masks_of(ref, layers.pruned).items():
        assert torch.equal(ours[n], m)

    ref = copy.deepcopy(net)
    for m, name in [(ref.conv, "weight"), (ref.fc1, "weight")]:
        prune.l1_unstructured(m, name, amount=amount)
    ours = compute_masks(net, technique="l1_unstructured", sparsity=amount, layers=layers, current=None, seed=0)
    for n, m in masks_of(ref, layers.pruned).items():
        assert torch.equal(ours[n], m)
        assert abs(float((m == 0).float().mean()) - amount) <= 0.01  # the requested sparsity, per layer

    ref = copy.deepcopy(net)
    torch.manual_seed(7)
    for m, name in [(ref.conv, "weight"), (ref.fc1, "weight")]:
        prune.random_unstructured(m, name, amount=amount)
    ours = compute_masks(net, technique="random_unstructured", sparsity=amount, layers=layers, current=None, seed=7)
    for n, m in masks_of(ref, layers.pruned).items():
        assert torch.equal(ours[n], m)

    structured = select_layers(net, exclude=(), structured=True, n_classes=5, where="test")
    assert structured.excluded == ("fc2",)  # never the output layer, even when exclude is empty
    ref = copy.deepcopy(net)
    for m, name in [(ref.conv, "weight"), (ref.fc1, "weight")]:
        prune.ln_structured(m, name, amount=amount, n=2, dim=0)
    ours = compute_masks(net, technique="ln_structured", sparsity=amount, layers=structured, current=None, seed=0)
    for n, m in masks_of(ref, structured.pruned).items():
        assert torch.equal(ours[n], m)


def test_iterative_cycles_only_remove_weights_and_end_at_the_amount(net):
    v = Variant(name="v", technique="global_l1_iterative", amount=0.9, seed=0, finetune=None, exclude=None, steps=3)
    schedule = v.schedule()
    assert schedule == pytest.approx([1 - 0.1 ** (1 / 3), 1 - 0.1 ** (2 / 3), 0.9])
    layers = select_layers(net, exclude=None, structured=False, n_classes=5, where="test")
    masks = None
    for target in schedule:
        new = compute_masks(net, technique="global_l1", sparsity=target, layers=layers, current=masks, seed=0)
        if masks is not None:
            assert all(bool((new[n] <= masks[n]).all()) for n in new)  # a mask never gives an entry back
        MaskedWeights(net, new).remove()
        with torch.no_grad():  # what fine-tuning does between cycles: the surviving weights move
            for n in layers.pruned:
                net.get_parameter(n).add_(0.01 * torch.randn_like(net.get_parameter(n)) * new[n])
        masks = new
        assert sparsity(net, layers.pruned) == pytest.approx(target, abs=1e-3)


def test_excluding_an_unknown_layer_names_the_layers_there_are(net):
    with pytest.raises(
        ConfigError,
        match=r"sweep.yaml: layers.exclude names fc3, which the model does not have; its layers with weights are conv, fc1, fc2",
    ):
        select_layers(net, exclude=("fc3",), structured=False, n_classes=5, where="sweep.yaml")
    with pytest.raises(ConfigError, match="leaves no layer to prune"):
        select_layers(net, exclude=("conv", "fc1", "fc2"), structured=False, n_classes=5, where="sweep.yaml")


def test_masked_weights_stay_zero_through_training(net):
    """Momentum, weight decay and Adam's moments never bring a pruned weight back."""
    layers = select_layers(net, exclude=None, structured=False, n_classes=5, where="test")
    masks = compute_masks(net, technique="l1_unstructured", sparsity=0.7, layers=layers, current=None, seed=0)
    x, y = torch.randn(32, 3, 8, 8), torch.randint(0, 5, (32,))
    for opt in (
        torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
        torch.optim.AdamW(net.parameters(), lr=0.01, weight_decay=0.1),
    ):
        held = MaskedWeights(net, masks)
        before = {n: net.get_parameter(n).detach().clone() for n in weight_names(net)}
        for _ in range(5):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
            held.apply()
        held.remove()
        for n in layers.pruned:
            w = net.get_parameter(n)
            assert torch.equal(w == 0, masks[n] == 0)  # exactly the pruned entries are zero
        assert not torch.equal(net.fc2.weight, before["fc2.weight"])  # the rest trained


def test_the_output_layer_is_the_one_with_a_row_per_class_wherever_it_is_registered():
    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Linear(32, 5)  # registered first
            self.body = nn.Linear(12, 32)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)))

    layers = select_layers(Head(), exclude=(), structured=True, n_classes=5, where="test")
    assert layers.output == "head" and layers.pruned == ("body.weight",)
    assert select_layers(Head(), exclude=None, structured=False, n_classes=5, where="test").excluded == ("head",)
