"""Pruning masks from `torch.nn.utils.prune`'s own methods, applied to any torch module.

The masks are computed with torch's method classes (``L1Unstructured``, ``RandomUnstructured``,
``LnStructured``; global L1 as ``prune.global_unstructured`` does it, one L1 mask over the
concatenated layers) but applied by multiplying the weights, not through prune's forward
pre-hooks, so that a TorchScript module (which has no hooks) is pruned the same way as an
nn.Module. Masks are computed on the CPU in float32, so a sweep on a GPU prunes the same weights.

Iterative cycles prune among what is left: the already-pruned weights are zero, so a magnitude
criterion picks them first, and each new mask is multiplied by the previous one, so a mask only
ever loses entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.utils import prune

from pruneaudit.errors import ConfigError

Masks = dict[str, torch.Tensor]  # parameter name ("conv1.weight") → 0/1 float32 mask on the CPU


@dataclass(frozen=True)
class Layers:
    """The layers a variant prunes: every weight of 2+ dimensions but the excluded ones."""

    pruned: tuple[str, ...]  # parameter names
    excluded: tuple[str, ...]  # layer (module) names left dense
    output: str  # the output layer (see output_layer)


def weight_names(module: torch.nn.Module) -> tuple[str, ...]:
    """Parameters that pruning and the audit's sparsity count: weights with 2+ dimensions, in registration order."""
    return tuple(n for n, p in module.named_parameters() if p.dim() >= 2 and n.rsplit(".", 1)[-1] == "weight")


def output_layer(module: torch.nn.Module, n_classes: int) -> str:
    """The parameter taken as the output layer's weight: the last registered weight with one row per class
    (the layer whose rows are the classes), else the last registered weight."""
    params = dict(module.named_parameters())
    names = weight_names(module)
    rows = [n for n in names if params[n].shape[0] == n_classes]
    return (rows or names)[-1]


def select_layers(
    module: torch.nn.Module, *, exclude: tuple[str, ...] | None, structured: bool, n_classes: int, where: str
) -> Layers:
    """The pruned layers; ``exclude`` None leaves the output layer dense; structured pruning never prunes it."""
    names = weight_names(module)
    if not names:
        raise ConfigError(f"{where}: the model has no weight of 2+ dimensions to prune")
    layer = {n: n.removesuffix(".weight").removesuffix("weight").rstrip(".") for n in names}
    output = layer[output_layer(module, n_classes)]
    excluded = (output,) if exclude is None else exclude
    unknown = sorted(set(excluded) - set(layer.values()))
    if unknown:
        raise ConfigError(
            f"{where}: layers.exclude names {', '.join(unknown)}, which the model does not have; "
            f"its layers with weights are {', '.join(layer.values())}"
        )
    if structured and output not in excluded:
        excluded = (*excluded, output)  # removing output neurons would remove classes
    pruned = tuple(n for n in names if layer[n] not in excluded)
    if not pruned:
        raise ConfigError(f"{where}: layers.exclude leaves no layer to prune")
    return Layers(pruned=pruned, excluded=tuple(excluded), output=output)


def _weights(module: torch.nn.Module, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    params = dict(module.named_parameters())
    return {n: params[n].detach().to("cpu", torch.float32) for n in names}


def compute_masks(
    module: torch.nn.Module, *, technique: str, sparsity: float, layers: Layers, current: Masks | None, seed: int
) -> Masks:
    """Masks removing ``sparsity`` of the pruned layers' weights (ln_structured: of each layer's output channels).

    ``current``: the masks of the previous cycle (iterative pruning), never given back an entry.
    """
    weights = _weights(module, layers.pruned)
    ones = {n: torch.ones_like(w) for n, w in weights.items()}
    current = current or ones
    scores = {n: w * current[n] for n, w in weights.items()}
    if technique == "global_l1":
        flat = torch.cat([scores[n].flatten() for n in layers.pruned])
        default = torch.cat([current[n].flatten() for n in layers.pruned])
        mask = prune.L1Unstructured(amount=sparsity).compute_mask(flat, default_mask=default)
        out, start = {}, 0
        for n in layers.pruned:
            size = weights[n].numel()
            out[n] = mask[start : start + size].view_as(weights[n])
            start += size
        return out
    if technique == "random_unstructured":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return {
                n: prune.RandomUnstructured(amount=sparsity).compute_mask(scores[n], default_mask=current[n])
                for n in layers.pruned
            }
    if technique == "l1_unstructured":
        method = prune.L1Unstructured(amount=sparsity)
    elif technique == "ln_structured":
        method = prune.LnStructured(amount=sparsity, n=2, dim=0)
    else:
        raise ValueError(f"no masks for technique {technique!r}")  # config validation lists the techniques
    return {n: method.compute_mask(scores[n], default_mask=current[n]) * current[n] for n in layers.pruned}


class MaskedWeights:
    """Holds masks on a module's weights: zeroes them now, masks their gradients, re-zeroes after each step.

    Masking the gradient keeps optimiser state (momentum, Adam moments) at zero for pruned entries;
    re-zeroing after the step guards against any optimiser term that is not a gradient (weight decay).
    """

    def __init__(self, module: torch.nn.Module, masks: Masks) -> None:
        params = dict(module.named_parameters())
        self._pairs = [(params[n], m.to(params[n].device, params[n].dtype)) for n, m in masks.items()]
        self._hooks = [p.register_hook(lambda g, m=m: g * m) for p, m in self._pairs]
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        for p, m in self._pairs:
            p.mul_(m)

    def remove(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []


def sparsity(module: torch.nn.Module, names: tuple[str, ...]) -> float:
    """Share of zeros among the named weights: the audit's definition when ``names`` are all 2+-D weights."""
    params = dict(module.named_parameters())
    zeros = sum(int((params[n] == 0).sum()) for n in names)
    return zeros / sum(params[n].numel() for n in names)


def zero_masks(module: torch.nn.Module) -> Masks:
    """The masks a pruned model's own zeros imply, for the weights (2+ dimensions) that hold any zero.

    Fine-tuning a model whose pruning is not at hand (a file made elsewhere, or made earlier by a
    sweep) holds exactly what it has pruned: every weight that is zero stays zero, and only those.
    """
    params = dict(module.named_parameters())
    masks = {n: (params[n].detach() != 0).to("cpu", torch.float32) for n in weight_names(module)}
    return {n: m for n, m in masks.items() if not bool(m.all())}
