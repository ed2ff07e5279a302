"""The two mitigation losses, each a ``(scores, labels) -> loss`` callable that `sweep.train.fit` minimises.

Class-reweighted cross-entropy puts more weight on the harmed classes. The constrained loss is the
formulation of Hashemizadeh et al. 2023, *Balancing Act: Constraining Disparate Impact in Sparse
Models* (ICLR 2024, arXiv 2310.20673), with the classes as the groups and only the harmed classes
constrained::

    min_θ  L(θ)   s.t.   ψ_c(θ) = (A_c,dense − A_c(θ)) − (A_dense − A(θ)) ≤ ε   for each harmed class c

A, A_c: top-1 accuracy overall and on class c (recall); the dense model's are measured once, on the
fine-tuning images. Accuracy has no gradient, so, as in the paper (proxy constraints, Cotter et al.
2019), the model's step uses a surrogate where cross-entropy stands in for accuracy, while each
multiplier's step uses the constraint itself, measured on the batch:

    θ ← optimiser step on  L̂(θ) + Σ_c λ_c [(L̂_c(θ) − L_c,dense) − (L̂(θ) − L_dense)]
    λ_c ← max(0, λ_c + η · (ψ̂_c − ε))        (projected gradient ascent; classes absent from the batch keep λ_c)

L̂, L̂_c, ψ̂_c are the batch's mean cross-entropy, its mean over class c's images, and ψ_c with the batch's
accuracies. Both steps use the same batch and the multipliers before their update (simultaneous
descent–ascent). The paper's optional replay buffer of recent per-sample accuracies is not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from pruneaudit.models.torch_common import select_output
from pruneaudit.sweep.train import Images, Loss


def reweighted(weights: torch.Tensor) -> Loss:
    """Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i} (torch's weighted mean): the loss keeps plain cross-entropy's scale."""

    def loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(scores, labels, weight=weights.to(scores.device, scores.dtype))

    return loss


def class_weights(n_classes: int, classes: tuple[int, ...], weight: float) -> torch.Tensor:
    """``weight`` for each harmed class, 1 for every other."""
    w = torch.ones(n_classes, dtype=torch.float32)
    w[list(classes)] = weight
    return w


@dataclass(frozen=True)
class Reference:
    """The dense model on the fine-tuning images: the accuracies and losses the constraints compare against."""

    accuracy: float
    loss: float
    class_accuracy: np.ndarray  # (C,) float64; NaN for a class without images
    class_loss: np.ndarray


@torch.inference_mode()
def reference(
    module: torch.nn.Module,
    images: Images,
    *,
    n_classes: int,
    device: str,
    output: str | int | None,
    batch_size: int,
) -> Reference:
    """Measured once, without augmentation (the paper computes its baseline over the whole training set)."""
    n = n_classes
    correct, losses = np.zeros(len(images)), np.zeros(len(images))
    for start in range(0, len(images), batch_size):
        x = images.prepared(images.raw[start : start + batch_size]).to(device)
        y = torch.from_numpy(images.labels[start : start + batch_size]).to(device)
        scores = select_output(module(x), output, images.dataset.source).float()
        correct[start : start + len(y)] = (scores.argmax(1) == y).cpu().numpy()
        losses[start : start + len(y)] = F.cross_entropy(scores, y, reduction="none").cpu().numpy()
    counts = np.bincount(images.labels, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_accuracy = np.bincount(images.labels, weights=correct, minlength=n) / counts
        class_loss = np.bincount(images.labels, weights=losses, minlength=n) / counts
    return Reference(
        accuracy=float(correct.mean()), loss=float(losses.mean()), class_accuracy=class_accuracy, class_loss=class_loss
    )


class ConstrainedLoss:
    """The Lagrangian of the constrained problem above, with its multipliers' ascent step taken at each call."""

    def __init__(self, *, classes: tuple[int, ...], reference: Reference, epsilon: float, dual_lr: float) -> None:
        self.classes = torch.tensor(classes, dtype=torch.int64)
        self.epsilon = epsilon
        self.dual_lr = dual_lr
        self.reference = reference
        self.multipliers = torch.zeros(len(classes), dtype=torch.float64)  # λ_c ≥ 0, one per constrained class
        self._dense_accuracy = torch.from_numpy(reference.class_accuracy[list(classes)])
        self._dense_loss = torch.from_numpy(reference.class_loss[list(classes)])

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        per_image = F.cross_entropy(scores, labels, reduction="none")
        loss = per_image.mean()
        member = (labels[:, None] == self.classes.to(labels.device)[None, :]).to(per_image.dtype)  # (B, K)
        counts = member.sum(0)
        present = counts > 0
        class_loss = (member * per_image[:, None]).sum(0) / counts.clamp(min=1)
        lam = self.multipliers.to(per_image.device, per_image.dtype)
        surrogate = (class_loss - self._dense_loss.to(lam)) - (loss - self.reference.loss)
        lagrangian = loss + (lam * surrogate * present).sum()
        with torch.no_grad():
            correct = (scores.argmax(1) == labels).to(torch.float64)
            m64 = member.to(torch.float64)
            class_acc = (m64 * correct[:, None]).sum(0) / counts.to(torch.float64).clamp(min=1)
            gap = (self._dense_accuracy.to(class_acc) - class_acc) - (self.reference.accuracy - correct.mean())
            step = (self.dual_lr * (gap - self.epsilon)).cpu() * present.cpu()
            self.multipliers = (self.multipliers + step).clamp(min=0.0)
        return lagrangian
