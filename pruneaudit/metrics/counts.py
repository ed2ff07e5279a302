"""The one counting kernel every metric is computed from."""

from __future__ import annotations

import numpy as np

from pruneaudit.errors import DataError

SHAPE_MISMATCH = "y_true has shape {true} but y_pred has shape {pred}; expected equal 1-D shapes"
OUT_OF_RANGE = "labels must lie in [0, {n_classes}); received {bad}"


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; row = true class, column = predicted class.

    One ``np.bincount`` over ``true * C + pred``, as scikit-learn and torchmetrics do.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise DataError(SHAPE_MISMATCH.format(true=y_true.shape, pred=y_pred.shape))
    if y_true.size:
        lo, hi = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
        if lo < 0 or hi >= n_classes:
            bad = np.union1d(y_true, y_pred)
            bad = bad[(bad < 0) | (bad >= n_classes)]
            raise DataError(OUT_OF_RANGE.format(n_classes=n_classes, bad=bad[:5].tolist()))
    flat = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)

