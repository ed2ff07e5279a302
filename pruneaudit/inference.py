"""One batched pass of one model over the dataset, keeping only what the metrics need."""

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
    dtype: str
    output_kind: str  # "logits", "probabilities" or "labels" (precomputed predictions only)
    facts: ModelFacts
    predictions: np.ndarray  # (N,) int64 argmax of the model's scores, in the data's class order
    top5_hits: np.ndarray | None  # (N,) bool: label among the 5 highest scores; None without scores or ≤ 5 classes
    n_classes: int
    median_batch_seconds: float


def _check_scores(scores: np.ndarray, *, rows: int, width: int | None, where: str) -> int:
    if scores.ndim != 2 or scores.shape[0] != rows:
        raise ModelError(f"{where}: expected scores of shape ({rows}, n_classes), received {scores.shape}")
    if width is not None and scores.shape[1] != width:
        raise ModelError(f"{where}: output width changed between batches ({width} then {scores.shape[1]})")
    if not np.isfinite(scores).all():
        raise ModelError(f"{where}: the model produced NaN or infinite outputs")
    return int(scores.shape[1])


def _looks_like_probabilities(scores: np.ndarray) -> bool:
    return bool(
        scores.size and scores.min() >= 0 and scores.max() <= 1 and np.allclose(scores.sum(axis=1), 1, atol=1e-3)
    )


def run_model(
    predictor: Predictor,
    dataset: Dataset,
    *,
    batch_size: int,
    where: str,
    order: np.ndarray | None = None,
    n_classes: int | None = None,
    progress: Progress | None = None,
) -> ModelRun:
    """Predict every image once, in batches; ``where`` (the model file) prefixes errors.

    ``order[j]`` is the model output that holds data class j (a model trained with another class
    order); ``n_classes`` is needed only for label-only precomputed predictions.
    """
    n = len(dataset)
    preds = np.empty(n, dtype=np.int64)
    top5 = np.zeros(n, dtype=bool)
    width: int | None = None
    probabilities = True
    times = []
    labels_only = not predictor.has_scores
    if hasattr(predictor, "check_rows"):
        predictor.check_rows(n)
    batches = (
        (None for _ in range(0, n, batch_size)) if predictor.backend == "predictions" else dataset.batches(batch_size)
    )
    for start, batch in zip(range(0, n, batch_size), batches):
        stop = min(start + batch_size, n)
        t0 = time.perf_counter()
        scores = predictor.predict(batch, slice(start, stop))
        times.append(time.perf_counter() - t0)
        if labels_only:
            preds[start:stop] = scores
        else:
            width = _check_scores(scores, rows=stop - start, width=width, where=where)
            if order is not None:
                if width != len(order):
                    raise ModelError(f"{where}: class_order lists {len(order)} classes but the model outputs {width}")
                scores = scores[:, order]
            probabilities = probabilities and _looks_like_probabilities(scores)
            preds[start:stop] = scores.argmax(axis=1)
            if width > TOP_K:
                best = np.argpartition(scores, -TOP_K, axis=1)[:, -TOP_K:]
                top5[start:stop] = (best == dataset.labels[start:stop, None]).any(axis=1)
        if progress:
            progress(stop - start)
    if labels_only:
        width = n_classes or int(max(preds.max(initial=0), dataset.labels.max()) + 1)
        if order is not None:  # predicted model indices → data classes: invert order
            if preds.size and preds.max() >= len(order):
                raise ModelError(
                    f"{where}: predicted index {int(preds.max())} but class_order lists {len(order)} classes"
                )
            preds = np.argsort(order)[preds]
    log.info("%s: %d images in %.2f s on %s", where, n, sum(times), predictor.device)
    return ModelRun(
        name=predictor.name,
        backend=predictor.backend,
        device=predictor.device,
        dtype=predictor.dtype,
        output_kind="labels" if labels_only else ("probabilities" if probabilities else "logits"),
        facts=predictor.facts(),
        predictions=preds,
        top5_hits=top5 if not labels_only and (width or 0) > TOP_K else None,
        n_classes=int(width or 0),
        median_batch_seconds=float(np.median(times)) if times else 0.0,
    )
