"""Pruning-identified exemplars (PIEs), Hooker et al. 2019 (arXiv 1911.05248).

An image is a PIE of a pruning configuration when the modal prediction of that
configuration's population of pruned models differs from the modal prediction of the
dense population. With one model on each side this is simply "the prediction changed".
Ties in the mode go to the lowest class index.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def modal_prediction(preds: np.ndarray) -> np.ndarray:
    """Per-image mode over models: ``preds`` is (k_models, N); ties → lowest class index.

    Loops over models (k is small), never over images: O(k²·N) work, O(k·N) memory.
    """
    preds = np.atleast_2d(np.asarray(preds, dtype=np.int64))
    if preds.shape[0] == 1:
        return preds[0].copy()
    counts = np.stack([(preds == row).sum(axis=0) for row in preds])  # votes for each model's pick
    best = counts.max(axis=0)
    return np.where(counts == best, preds, np.iinfo(np.int64).max).min(axis=0)


def pie_mask(dense_preds: np.ndarray, pruned_preds: np.ndarray) -> np.ndarray:
    """Boolean (N,): images whose modal pruned prediction differs from the modal dense one."""
    return modal_prediction(dense_preds) != modal_prediction(pruned_preds)


def disagreement(dense_pred: np.ndarray, pruned_preds: Iterable[np.ndarray]) -> np.ndarray:
    """(N,) number of pruned models whose prediction differs from the dense one: how fragile an image is.

    Summed one model at a time, so that 100,000 models never stand in one (models, N) array."""
    dense = np.asarray(dense_pred)
    count = np.zeros(dense.shape, dtype=np.int64)
    for pred in pruned_preds:
        count += np.asarray(pred) != dense
    return count


def rank_pies(mask: np.ndarray, fragility: np.ndarray, *, limit: int) -> np.ndarray:
    """Indices of up to ``limit`` PIEs, most fragile first, then by index (deterministic)."""
    idx = np.flatnonzero(mask)
    order = np.lexsort((idx, -fragility[idx]))
    return idx[order][:limit]
