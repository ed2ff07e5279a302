"""Training and fine-tuning loops: seeded, masks held fixed, the audit's own preprocessing.

The images are preprocessed by `Dataset.prepare`, the arithmetic the audit applies, so a model
is trained on exactly the input it is audited on. Everything random (batch order, augmentation)
draws from one generator seeded per run, so a run does not depend on which runs came before it
or ran beside it; on the CPU with a fixed thread count its weights repeat bit for bit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pruneaudit.data import load_dataset
from pruneaudit.data.dataset import Dataset
from pruneaudit.errors import DataError, ModelError
from pruneaudit.models.base import first_line
from pruneaudit.models.torch_common import select_output
from pruneaudit.specs import DataSpec
from pruneaudit.sweep.config import Training
from pruneaudit.sweep.masks import MaskedWeights, Masks

Progress = Callable[[int, int], None]  # (steps done in this call, steps in the whole run)
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (scores, labels) → the batch's loss


@dataclass(frozen=True)
class Images:
    """Labelled images held in memory as stored (uint8 stays uint8), prepared batch by batch."""

    dataset: Dataset
    raw: np.ndarray
    labels: np.ndarray  # int64 class index

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def prepared(self, raw: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.dataset.prepare(raw))

    def subset(self, rows: np.ndarray) -> Images:
        """The images at ``rows`` (e.g. a split held out of training), in that order."""
        return Images(dataset=self.dataset, raw=self.raw[rows], labels=self.labels[rows])


def load_images(spec: DataSpec) -> Images:
    """Read the whole split once (bounded by ``max_bytes``): training revisits every image each epoch."""
    ds = load_dataset(spec)
    first = ds.raw_batch(0, 1)
    size = first.nbytes * len(ds)
    if size > spec.max_bytes:
        raise DataError(
            f"{spec.path}: {len(ds)} images take {size} bytes in memory, over max_bytes {spec.max_bytes}; "
            "raise data.max_bytes or train on a smaller split"
        )
    return Images(dataset=ds, raw=ds.raw_batch(0, len(ds)), labels=ds.labels)


def translate(raw: np.ndarray, dy: int, dx: int, *, channels_first: bool) -> np.ndarray:
    """The batch shifted by (dy, dx) pixels, zero (black) where it moved in from outside."""
    h_axis = 1 if raw.ndim == 3 or not channels_first else 2
    out = np.zeros_like(raw)
    src = [slice(None)] * raw.ndim
    dst = [slice(None)] * raw.ndim
    for axis, d in ((h_axis, dy), (h_axis + 1, dx)):
        n = raw.shape[axis]
        src[axis] = slice(max(d, 0), n + min(d, 0))
        dst[axis] = slice(max(-d, 0), n - max(d, 0))
    out[tuple(dst)] = raw[tuple(src)]
    return out


def _optimizer(params: list[torch.Tensor], t: Training) -> torch.optim.Optimizer:
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay, nesterov=t.nesterov)
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, t: Training, total: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    if t.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if t.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=t.lr, total_steps=total)
    return None


def schedule(
    opt: torch.optim.Optimizer, t: Training, *, per_epoch: int, rewind_from: Training | None
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The run's learning-rate schedule, ready for its first step.

    Rewinding (Renda et al. 2020) takes the dense training's schedule over all its steps and
    enters it where its last ``t.epochs`` epochs begin: the pruned model is retrained with the
    learning rates the dense model ended its training with, not with a small constant one.
    """
    if rewind_from is None:
        return _scheduler(opt, t, t.epochs * per_epoch)
    sched = _scheduler(opt, rewind_from, rewind_from.epochs * per_epoch)
    if sched is not None:
        with warnings.catch_warnings():  # stepping the schedule before any optimiser step is the point here
            warnings.simplefilter("ignore")
            for _ in range((rewind_from.epochs - t.epochs) * per_epoch):
                sched.step()
    return sched


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def fit(
    module: torch.nn.Module,
    images: Images,
    t: Training,
    *,
    seed: int,
    device: str,
    output: str | int | None,
    masks: Masks | None = None,
    rewind_from: Training | None = None,
    loss: Loss | None = None,
    progress: Progress | None = None,
) -> None:
    """Train ``module`` in place for ``t.epochs`` epochs; ``masks`` stay zero throughout.

    ``rewind_from``: learning-rate rewinding; the schedule is that of the dense training
    ``rewind_from``, entered where its last ``t.epochs`` epochs begin. ``loss``: what each step
    minimises (default: cross-entropy); `pruneaudit.mitigation` passes its reweighted and constrained losses.
    """
    objective = loss or F.cross_entropy
    per_epoch = steps_per_epoch(len(images), t.batch_size)
    total = t.epochs * per_epoch
    gen = torch.Generator().manual_seed(seed)
    opt = _optimizer([p for p in module.parameters() if p.requires_grad], t)
    sched = schedule(opt, t, per_epoch=per_epoch, rewind_from=rewind_from)
    held = MaskedWeights(module, masks) if masks else None
    labels = torch.from_numpy(images.labels)
    channels_first = images.dataset.spec.channels_first
    module.train()
    try:
        for _ in range(t.epochs):
            order = torch.randperm(len(images), generator=gen).numpy()
            for start in range(0, len(images), t.batch_size):
                idx = order[start : start + t.batch_size]
                raw = images.raw[idx]
                if t.translate:
                    dy, dx = (int(v) for v in torch.randint(-t.translate, t.translate + 1, (2,), generator=gen))
                    raw = translate(raw, dy, dx, channels_first=channels_first)
                x = images.prepared(raw).to(device)
                opt.zero_grad(set_to_none=True)
                try:
                    scores = select_output(module(x), output, images.dataset.source)
                    objective(scores, labels[idx].to(device)).backward()
                except (RuntimeError, ValueError, TypeError, IndexError) as exc:
                    raise ModelError(f"{images.dataset.source}: training step failed ({first_line(exc)})") from None
                opt.step()
                if sched is not None:
                    sched.step()
                if held is not None:
                    held.apply()
                if progress is not None:
                    progress(1, total)
    finally:
        if held is not None:
            held.remove()
        module.eval()


@torch.inference_mode()
def predict(
    module: torch.nn.Module, images: Images, *, device: str, output: str | int | None, batch_size: int
) -> np.ndarray:
    """Top-1 predicted class per image, in the images' order."""
    out = []
    for start in range(0, len(images), batch_size):
        x = images.prepared(images.raw[start : start + batch_size]).to(device)
        out.append(select_output(module(x), output, images.dataset.source).argmax(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy(
    module: torch.nn.Module, images: Images, *, device: str, output: str | int | None, batch_size: int
) -> float:
    """Top-1 accuracy, for the manifest; the audit measures everything else."""
    predicted = predict(module, images, device=device, output=output, batch_size=batch_size)
    return float(np.mean(predicted == images.labels))
