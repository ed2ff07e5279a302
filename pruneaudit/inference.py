"""One batched pass of one model over the dataset, keeping only what the metrics need."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from pruneaudit.data import Dataset
from pruneaudit.errors import ConfigError, ModelError
from pruneaudit.models import ModelFacts, Predictor
from pruneaudit.specs import ModelSpec

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


def class_order(spec: ModelSpec, names: tuple[str, ...] | None) -> np.ndarray | None:
    """order[j] = the model output that holds data class j, from the model's declared class_order."""
    if spec.class_order is None:
        return None
    if names is None:
        raise ConfigError(f"{spec.path}: class_order needs class names for the data (class_names or class_names_file)")
    if sorted(spec.class_order) != sorted(names):
        extra = sorted(set(spec.class_order) - set(names))[:5]
        missing = sorted(set(names) - set(spec.class_order))[:5]
        raise ConfigError(
            f"{spec.path}: class_order must list the data's classes once each; unknown {extra or 'none'}, missing {missing or 'none'}"
        )
    position = {n: i for i, n in enumerate(spec.class_order)}
    return np.array([position[n] for n in names], dtype=np.int64)


@dataclass(frozen=True)
class _Outputs:
    predictions: np.ndarray
    top5_hits: np.ndarray | None
    n_classes: int
    output_kind: str


def _timed_outputs(
    predictor: Predictor, dataset: Dataset, batch_size: int, progress: Progress | None, times: list[float]
) -> Iterator[tuple[slice, np.ndarray]]:
    """(rows, model output) per batch; each predict call is timed into ``times``, progress told after each batch."""
    n = len(dataset)
    images = dataset.batches(batch_size) if predictor.needs_images else itertools.repeat(None)
    for start, batch in zip(range(0, n, batch_size), images):
        rows = slice(start, min(start + batch_size, n))
        t0 = time.perf_counter()
        out = predictor.predict(batch, rows)
        times.append(time.perf_counter() - t0)
        yield rows, out
        if progress:
            progress(rows.stop - rows.start)


def _from_scores(
    outputs: Iterator[tuple[slice, np.ndarray]], labels: np.ndarray, *, where: str, order: np.ndarray | None
) -> _Outputs:
    preds = np.empty(len(labels), dtype=np.int64)
    top5 = np.zeros(len(labels), dtype=bool)
    width: int | None = None
    probabilities = True
    for rows, scores in outputs:
        width = _check_scores(scores, rows=rows.stop - rows.start, width=width, where=where)
        if order is not None:
            if width != len(order):
                raise ModelError(f"{where}: class_order lists {len(order)} classes but the model outputs {width}")
            scores = scores[:, order]
        probabilities = probabilities and _looks_like_probabilities(scores)
        preds[rows] = scores.argmax(axis=1)
        if width > TOP_K:
            best = np.argpartition(scores, -TOP_K, axis=1)[:, -TOP_K:]
            top5[rows] = (best == labels[rows, None]).any(axis=1)
    width = width or 0
    return _Outputs(
        predictions=preds,
        top5_hits=top5 if width > TOP_K else None,
        n_classes=width,
        output_kind="probabilities" if probabilities else "logits",
    )


def _from_labels(
    outputs: Iterator[tuple[slice, np.ndarray]],
    labels: np.ndarray,
    *,
    where: str,
    order: np.ndarray | None,
    n_classes: int | None,
) -> _Outputs:
    preds = np.empty(len(labels), dtype=np.int64)
    for rows, out in outputs:
        preds[rows] = out
    width = n_classes or int(max(preds.max(initial=0), labels.max()) + 1)
    if order is not None:  # predicted model indices → data classes: invert order
        if preds.size and preds.max() >= len(order):
            raise ModelError(f"{where}: predicted index {int(preds.max())} but class_order lists {len(order)} classes")
        preds = np.argsort(order)[preds]
    elif n_classes is not None and preds.size and preds.max() >= n_classes:  # named here, where the file is known
        raise ModelError(
            f"{where}: predicted class {int(preds.max())} but there are {n_classes} classes (0 to {n_classes - 1})"
        )
    return _Outputs(predictions=preds, top5_hits=None, n_classes=int(width), output_kind="labels")


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
    predictor.check_rows(len(dataset))
    times: list[float] = []
    outputs = _timed_outputs(predictor, dataset, batch_size, progress, times)
    if predictor.has_scores:
        out = _from_scores(outputs, dataset.labels, where=where, order=order)
    else:
        out = _from_labels(outputs, dataset.labels, where=where, order=order, n_classes=n_classes)
    log.info("%s: %d images in %.2f s on %s", where, len(dataset), sum(times), predictor.device)
    return ModelRun(
        name=predictor.name,
        backend=predictor.backend,
        device=predictor.device,
        dtype=predictor.dtype,
        output_kind=out.output_kind,
        facts=predictor.facts(),
        predictions=out.predictions,
        top5_hits=out.top5_hits,
        n_classes=out.n_classes,
        median_batch_seconds=float(np.median(times)) if times else 0.0,
    )
