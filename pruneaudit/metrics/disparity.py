"""How a pruned model differs from the dense one, class by class, on the same images.

Conventions: Δ_c = recall_c(pruned) − recall_c(dense); classes with zero support
are undefined (NaN) and skipped by min/max; ties for the worst class go to the
lowest class index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pruneaudit.metrics.classification import ClassMetrics


@dataclass(frozen=True)
class WorstClass:
    index: int
    value: float


@dataclass(frozen=True)
class Disparity:
    accuracy_change: float
    balanced_accuracy_change: float
    recall_change: np.ndarray  # Δ_c per class
    worst_class_change: WorstClass  # most negative Δ_c
    recall_change_spread: float  # max Δ_c − min Δ_c
    changed_predictions: int  # images whose predicted class differs from dense
    changed_fraction: float


def recall_change(*, dense: ClassMetrics, pruned: ClassMetrics) -> np.ndarray:
    return pruned.recall - dense.recall


def worst_class(values: np.ndarray) -> WorstClass:
    """Smallest defined value and its class (first on ties); NaN/-1 when none is defined."""
    if np.all(np.isnan(values)):
        return WorstClass(index=-1, value=float("nan"))
    i = int(np.nanargmin(values))
    return WorstClass(index=i, value=float(values[i]))


def spread(values: np.ndarray) -> float:
    """max − min over defined values."""
    if np.all(np.isnan(values)):
        return float("nan")
    return float(np.nanmax(values) - np.nanmin(values))


def compare(
    *, dense: ClassMetrics, pruned: ClassMetrics, dense_pred: np.ndarray, pruned_pred: np.ndarray
) -> Disparity:
    delta = recall_change(dense=dense, pruned=pruned)
    changed = int(np.count_nonzero(dense_pred != pruned_pred))
    n = int(dense_pred.shape[0])
    return Disparity(
        accuracy_change=pruned.accuracy - dense.accuracy,
        balanced_accuracy_change=pruned.balanced_accuracy - dense.balanced_accuracy,
        recall_change=delta,
        worst_class_change=worst_class(delta),
        recall_change_spread=spread(delta),
        changed_predictions=changed,
        changed_fraction=changed / n if n else float("nan"),
    )
