"""Per-class and overall metrics of one model, all derived from its confusion counts.

Conventions (documented in docs/metrics.md):
- a class with zero support has recall NaN (undefined, not 0);
- a class never predicted has precision NaN;
- F1 = 2·TP / (2·TP + FP + FN), NaN only when the class is neither present nor predicted;
- balanced accuracy is the mean recall over classes with support (scikit-learn's definition);
- macro-F1 is the mean F1 over classes with a defined F1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


@dataclass(frozen=True)
class ClassMetrics:
    """Per-class arrays of length n_classes plus the overall numbers of one model."""

    support: np.ndarray
    predicted: np.ndarray
    correct: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    accuracy: float
    balanced_accuracy: float
    macro_f1: float

    @property
    def n_samples(self) -> int:
        return int(self.support.sum())


def class_metrics(cm: np.ndarray) -> ClassMetrics:
    tp = np.diag(cm).astype(np.int64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    n = int(support.sum())
    return ClassMetrics(
        support=support,
        predicted=predicted,
        correct=tp,
        recall=recall,
        precision=_ratio(tp, predicted),
        f1=f1,
        accuracy=float(tp.sum() / n) if n else float("nan"),
        balanced_accuracy=float(np.nanmean(recall)) if np.any(support > 0) else float("nan"),
        macro_f1=float(np.nanmean(f1)) if np.any(~np.isnan(f1)) else float("nan"),
    )
