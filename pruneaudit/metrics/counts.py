"""The one counting kernel every metric is computed from.

Every table here is a single ``np.bincount`` over a flattened index, as scikit-learn
and torchmetrics do for the confusion matrix: no Python loop over samples.
"""

from __future__ import annotations

import numpy as np

from pruneaudit.errors import DataError

SHAPE_MISMATCH = "y_true has shape {true} but y_pred has shape {pred}; expected equal 1-D shapes"
OUT_OF_RANGE = "labels must lie in [0, {n_classes}); received {bad}"


def _check(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise DataError(SHAPE_MISMATCH.format(true=y_true.shape, pred=y_pred.shape))
    if y_true.size:
        lo, hi = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
        if lo < 0 or hi >= n_classes:
            bad = np.union1d(y_true, y_pred)
            bad = bad[(bad < 0) | (bad >= n_classes)]
            raise DataError(OUT_OF_RANGE.format(n_classes=n_classes, bad=bad[:5].tolist()))
    return y_true.astype(np.int64), y_pred.astype(np.int64)


def grouped_counts(index: np.ndarray, *, shape: tuple[int, ...]) -> np.ndarray:
    """Count a flat int64 index into an array of ``shape``: the kernel itself."""
    size = int(np.prod(shape))
    return np.bincount(index, minlength=size).reshape(shape)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int) -> np.ndarray:
    """(C, C) int64 counts; row = true class, column = predicted class."""
    t, p = _check(y_true, y_pred, n_classes)
    return grouped_counts(t * n_classes + p, shape=(n_classes, n_classes))


def grouped_confusion_counts(
    y_true: np.ndarray, y_pred: np.ndarray, *, groups: np.ndarray, n_classes: int, n_groups: int
) -> np.ndarray:
    """(n_groups, C, C): every group's confusion matrix from one bincount."""
    t, p = _check(y_true, y_pred, n_classes)
    flat = np.asarray(groups, dtype=np.int64) * (n_classes * n_classes) + t * n_classes + p
    return grouped_counts(flat, shape=(n_groups, n_classes, n_classes))


def _paired_index(y_true: np.ndarray, dense_pred: np.ndarray, pruned_pred: np.ndarray, n_classes: int) -> np.ndarray:
    t, d = _check(y_true, dense_pred, n_classes)
    _, p = _check(y_true, pruned_pred, n_classes)
    return t * 4 + (d == t) * 2 + (p == t)


def paired_counts(y_true: np.ndarray, dense_pred: np.ndarray, pruned_pred: np.ndarray, *, n_classes: int) -> np.ndarray:
    """(C, 2, 2) counts of (dense correct, pruned correct) per true class.

    ``out[c, 1, 0]`` counts images of class c that the dense model got right and the
    pruned model got wrong: the discordant cells McNemar's test and Newcombe's interval use.
    """
    return grouped_counts(_paired_index(y_true, dense_pred, pruned_pred, n_classes), shape=(n_classes, 2, 2))


def grouped_paired_counts(
    y_true: np.ndarray,
    dense_pred: np.ndarray,
    pruned_pred: np.ndarray,
    *,
    groups: np.ndarray,
    n_classes: int,
    n_groups: int,
) -> np.ndarray:
    """(n_groups, C, 2, 2): `paired_counts` for every group from one bincount."""
    flat = np.asarray(groups, dtype=np.int64) * (n_classes * 4) + _paired_index(
        y_true, dense_pred, pruned_pred, n_classes
    )
    return grouped_counts(flat, shape=(n_groups, n_classes, 2, 2))


def changed_counts(dense_pred: np.ndarray, pruned_pred: np.ndarray, *, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups,) number of images per group whose predicted class differs between the two models."""
    changed = np.asarray(dense_pred) != np.asarray(pruned_pred)
    return grouped_counts(np.asarray(groups, dtype=np.int64)[changed], shape=(n_groups,))
