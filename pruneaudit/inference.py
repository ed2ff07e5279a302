"""One batched pass of one model over the dataset, keeping only the predictions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pruneaudit.data import Dataset
from pruneaudit.errors import ModelError
from pruneaudit.models import ModelFacts, Predictor

log = logging.getLogger(__name__)
TOP_K = 5
Progress = Callable[[int], None]  # called with the number of images just processed


@dataclass(frozen=True)
class ModelRun:
    name: str
    backend: str
    device: str
    facts: ModelFacts
    predictions: np.ndarray  # (N,) int64 argmax of the model's scores
    top5_hits: np.ndarray | None  # (N,) bool: label among the 5 highest scores; None when ≤ 5 classes
    n_classes: int


def _check_scores(scores: np.ndarray, *, rows: int, width: int | None, where: str) -> int:
    if scores.ndim != 2 or scores.shape[0] != rows:
        raise ModelError(f"{where}: expected scores of shape ({rows}, n_classes), received {scores.shape}")
    if width is not None and scores.shape[1] != width:
        raise ModelError(f"{where}: output width changed between batches ({width} then {scores.shape[1]})")
    if not np.isfinite(scores).all():
        raise ModelError(f"{where}: the model produced NaN or infinite outputs")
    return int(scores.shape[1])


def run_model(
    predictor: Predictor, dataset: Dataset, *, batch_size: int, where: str, progress: Progress | None = None
) -> ModelRun:
    """Predict every image once, in batches; ``where`` (the model file) prefixes errors."""
    preds = np.empty(len(dataset), dtype=np.int64)
    top5 = np.zeros(len(dataset), dtype=bool)
    width: int | None = None
    start = 0
    t0 = time.perf_counter()
    for batch in dataset.batches(batch_size):
        scores = predictor.predict(batch)
        width = _check_scores(scores, rows=len(batch), width=width, where=where)
        stop = start + len(batch)
        preds[start:stop] = scores.argmax(axis=1)
        if width > TOP_K:
            best = np.argpartition(scores, -TOP_K, axis=1)[:, -TOP_K:]
            top5[start:stop] = (best == dataset.labels[start:stop, None]).any(axis=1)
        start += len(batch)
        if progress:
            progress(len(batch))
    # Timings stay in the log: results must be byte-identical across runs.
    log.info("%s: %d images in %.2f s on %s", where, len(dataset), time.perf_counter() - t0, predictor.device)
    return ModelRun(
        name=predictor.name,
        backend=predictor.backend,
        device=predictor.device,
        facts=predictor.facts(),
        predictions=preds,
        top5_hits=top5 if (width or 0) > TOP_K else None,
        n_classes=int(width or 0),
    )
