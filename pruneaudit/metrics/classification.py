"""Per-class and overall metrics of one model, all derived from its confusion counts.

Conventions (docs/metrics.md):
- a class with zero support has recall and FNR NaN (undefined, not 0);
- a class never predicted has precision NaN; FPR is NaN only when every image is of that class;
- F1 = 2·TP / (2·TP + FP + FN), NaN only when the class is neither present nor predicted;
- balanced accuracy is the mean recall over classes with support (scikit-learn's definition);
- macro-F1 is the mean F1 over classes with a defined F1;
- intervals are 95% Wilson score intervals of the underlying proportion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pruneaudit.metrics.intervals import Interval, wilson_interval


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den is 0 (undefined, not 0)."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True)
class ClassMetrics:
    """Per-class arrays of length C plus the overall numbers of one model."""

    support: np.ndarray
    predicted: np.ndarray
    correct: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    fpr: np.ndarray
    fnr: np.ndarray
    recall_interval: Interval
    precision_interval: Interval
    fpr_interval: Interval
    fnr_interval: Interval
    accuracy: float
    balanced_accuracy: float
    macro_f1: float

    @property
    def n_samples(self) -> int:
        return int(self.support.sum())


def _nanmean(a: np.ndarray) -> float:
    return float(np.nanmean(a)) if np.any(~np.isnan(a)) else float("nan")


def class_metrics(cm: np.ndarray) -> ClassMetrics:
    """Metrics of one (C, C) confusion matrix."""
    tp = np.diag(cm).astype(np.int64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    n = int(support.sum())
    fp, fn = predicted - tp, support - tp
    negatives = n - support
    recall = ratio(tp, support)
    f1 = ratio(2 * tp, support + predicted)
    return ClassMetrics(
        support=support,
        predicted=predicted,
        correct=tp,
        recall=recall,
        precision=ratio(tp, predicted),
        f1=f1,
        fpr=ratio(fp, negatives),
        fnr=ratio(fn, support),
        recall_interval=wilson_interval(tp, support),
        precision_interval=wilson_interval(tp, predicted),
        fpr_interval=wilson_interval(fp, negatives),
        fnr_interval=wilson_interval(fn, support),
        accuracy=float(tp.sum() / n) if n else float("nan"),
        balanced_accuracy=_nanmean(recall),
        macro_f1=_nanmean(f1),
    )
