"""One pass over the data for a group of models, keeping only what the metrics need.

Each batch is read and preprocessed once (`pruneaudit.data.Batch`) and given to every model of the
group in turn. Top-1 and top-5 are computed where the scores are, on the torch device or in numpy
(onnxruntime, saved outputs), so only (N,) predictions and (N,) top-5 hits come back per model.

Top-1 is the first maximum (argmax). Top-5 counts the label's rank with scikit-learn's tie rule
(`top_k_accuracy_score`): rank = #{j : s_j > s_y} + #{j > y : s_j = s_y}, a hit when rank < 5; among
equal scores a higher class index ranks first, so the result never depends on a sort's tie order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from pruneaudit.data import Batch, Dataset
from pruneaudit.errors import ConfigError, ModelError
from pruneaudit.models import ModelFacts, Predictor
from pruneaudit.specs import ModelSpec

log = logging.getLogger(__name__)
TOP_K = 5
SUM_TOLERANCE = 1e-3 + 1e-5  # rows summing to 1 within this are probabilities: np.allclose(sum, 1, atol=1e-3)


class Progress(Protocol):
    """What an audit tells as it runs, for whoever shows it.

    The library only calls these methods and never prints: `pruneaudit.cli` draws them on stderr
    (its class has these methods, so the CLI need not import this module), and a Python caller may
    pass its own. `Silent` tells no one.
    """

    def stage(self, name: str, *, models: int = 0, images: int = 0) -> None:
        """Phase ``name`` begins and the one before ends; a counted phase runs ``models`` models over ``images`` each."""

    def advance(self, images: int, *, model: str, warm_up: bool = False) -> None:
        """``model`` went over ``images`` more images. ``warm_up``: its first batch, whose time holds one-off
        costs (loading, compilation, allocation) that later batches do not pay, so a rate leaves it out."""

    def finished(self, model: str, *, cached: bool = False) -> None:
        """``model`` has its predictions: run, or ``cached`` (read from the prediction cache, all its images at once)."""


class Silent(Progress):
    """Progress told to no one: what the library's functions use when given none."""


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

    def compact(self) -> ModelRun:
        """The run with its predictions in the smallest unsigned dtype that holds its classes.

        How the audit keeps runs in memory: at 10 classes a run holds 1 byte per image, not 8, so that
        a driver with 100,000 runs stays within a machine. Every metric casts back through the count kernel."""
        dtype = np.min_scalar_type(max(self.n_classes - 1, 0))
        return replace(self, predictions=self.predictions.astype(dtype, copy=False))


@dataclass(frozen=True)
class Task:
    """One model of a group: its predictor, the file its errors and log lines name, its class order."""

    predictor: Predictor
    where: str
    order: np.ndarray | None = None  # order[j]: the model output that holds data class j (see class_order)


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
class _Summary:
    """One batch of one model's scores, reduced where they were computed."""

    predictions: np.ndarray  # (B,) int64 first maximum
    hits: np.ndarray  # (B,) bool label rank < TOP_K (all False with ≤ TOP_K outputs: not reported)
    finite: bool
    probabilities: bool  # every row in [0, 1] and summing to 1


def _summary_numpy(scores: np.ndarray, labels: np.ndarray, order: np.ndarray | None) -> _Summary:
    finite = bool(np.isfinite(scores).all())
    if order is not None:
        scores = scores[:, order]
    width = scores.shape[1]
    hits = np.zeros(len(labels), dtype=bool)
    if width > TOP_K:
        known = labels < width  # a label beyond the outputs is no hit (the class-count check then refuses the model)
        y = np.where(known, labels, 0)[:, None]
        s_y = np.take_along_axis(scores, y, axis=1)
        rank = (scores > s_y).sum(axis=1) + ((scores == s_y) & (np.arange(width) > y)).sum(axis=1)
        hits = known & (rank < TOP_K)
    probabilities = bool(
        scores.min() >= 0 and scores.max() <= 1 and (np.abs(scores.sum(axis=1) - 1) <= SUM_TOLERANCE).all()
    )
    return _Summary(scores.argmax(axis=1).astype(np.int64), hits, finite, probabilities)


def _summary_torch(scores: Any, batch: Batch, order: Any) -> _Summary:
    """The same reduction as `_summary_numpy`, on the scores' device, with one copy back to the host."""
    import torch

    s = scores.float()
    if order is not None:
        s = s[:, order]
    width = s.shape[1]
    labels = batch.shared(("labels", s.device), lambda: torch.from_numpy(batch.labels).to(s.device))
    hits = torch.zeros_like(labels, dtype=torch.bool)
    if width > TOP_K:
        known = labels < width
        y = torch.where(known, labels, 0)[:, None]
        s_y = s.gather(1, y)
        columns = torch.arange(width, device=s.device)
        rank = (s > s_y).sum(dim=1) + ((s == s_y) & (columns > y)).sum(dim=1)
        hits = known & (rank < TOP_K)
    finite = torch.isfinite(s).all()
    probabilities = (s.min() >= 0) & (s.max() <= 1) & ((s.sum(dim=1) - 1).abs() <= SUM_TOLERANCE).all()
    flags = torch.stack([finite, probabilities])
    packed = torch.cat([s.argmax(dim=1), hits.long(), flags.long()]).cpu().numpy()
    n = len(labels)
    return _Summary(packed[:n], packed[n : 2 * n].astype(bool), bool(packed[-2]), bool(packed[-1]))


class _Tally:
    """One model's outputs, batch by batch: predictions, top-5 hits, the checks, the batch times."""

    def __init__(self, task: Task, n: int) -> None:
        self.task = task
        self.predictions = np.empty(n, dtype=np.int64)
        self.hits = np.zeros(n, dtype=bool)
        self.width: int | None = None
        self.probabilities = True
        self.times: list[float] = []
        self._device_order: Any = None

    def add(self, batch: Batch) -> None:
        predictor, where = self.task.predictor, self.task.where
        t0 = time.perf_counter()
        out = predictor.predict(batch)
        if predictor.has_scores:
            summary = self._summarise(out, batch)
            self.hits[batch.rows] = summary.hits
            self.probabilities = self.probabilities and summary.probabilities
            out = summary.predictions
            if not summary.finite:
                raise ModelError(f"{where}: the model produced NaN or infinite outputs")
        self.predictions[batch.rows] = out
        self.times.append(time.perf_counter() - t0)

    def _summarise(self, scores: Any, batch: Batch) -> _Summary:
        where, order = self.task.where, self.task.order
        if scores.ndim != 2 or scores.shape[0] != len(batch):
            raise ModelError(
                f"{where}: expected scores of shape ({len(batch)}, n_classes), received {tuple(scores.shape)}"
            )
        width = int(scores.shape[1])
        if self.width is not None and width != self.width:
            raise ModelError(f"{where}: output width changed between batches ({self.width} then {width})")
        self.width = width
        if order is not None and width != len(order):
            raise ModelError(f"{where}: class_order lists {len(order)} classes but the model outputs {width}")
        if isinstance(scores, np.ndarray):
            return _summary_numpy(scores, batch.labels, order)
        if order is not None and self._device_order is None:
            self._device_order = _to_device(order, scores.device)
        return _summary_torch(scores, batch, self._device_order)

    def finish(self, labels: np.ndarray, n_classes: int | None) -> ModelRun:
        predictor = self.task.predictor
        if predictor.has_scores:
            width = self.width or 0
            predictions, hits = self.predictions, self.hits if width > TOP_K else None
            kind = "probabilities" if self.probabilities else "logits"
        else:
            width, predictions = self._labels_only(labels, n_classes)
            hits, kind = None, "labels"
        return ModelRun(
            name=predictor.name,
            backend=predictor.backend,
            device=predictor.device,
            dtype=predictor.dtype,
            output_kind=kind,
            facts=predictor.facts(),
            predictions=predictions,
            top5_hits=hits,
            n_classes=width,
            median_batch_seconds=float(np.median(self.times)) if self.times else 0.0,
        )

    def _labels_only(self, labels: np.ndarray, n_classes: int | None) -> tuple[int, np.ndarray]:
        where, order, preds = self.task.where, self.task.order, self.predictions
        width = n_classes or int(max(preds.max(initial=0), labels.max()) + 1)
        if order is not None:  # predicted model indices → data classes: invert order
            if preds.size and preds.max() >= len(order):
                raise ModelError(
                    f"{where}: predicted index {int(preds.max())} but class_order lists {len(order)} classes"
                )
            preds = np.argsort(order)[preds]
        elif n_classes is not None and preds.size and preds.max() >= n_classes:  # named here, where the file is known
            raise ModelError(
                f"{where}: predicted class {int(preds.max())} but there are {n_classes} classes (0 to {n_classes - 1})"
            )
        return int(width), preds


def _to_device(order: np.ndarray, device: Any) -> Any:
    import torch

    return torch.from_numpy(order).to(device)


def run_group(
    tasks: Sequence[Task],
    dataset: Dataset,
    *,
    batch_size: int,
    n_classes: int | None = None,
    progress: Progress | None = None,
) -> list[ModelRun]:
    """Every model of the group over the data in one pass; the runs come back in the order of ``tasks``.

    ``n_classes``, when known (the data's class names, or the dense model's outputs), is the class
    count that label-only predictions are checked against; unknown, the group's first run fixes it.
    ``progress`` is told of every batch × model, in the order they run.
    """
    n = len(dataset)
    for task in tasks:
        task.predictor.check_rows(n)
    tallies = [_Tally(task, n) for task in tasks]
    for start in range(0, n, batch_size):
        batch = Batch(dataset, start, min(start + batch_size, n))
        for tally in tallies:
            tally.add(batch)
            if progress is not None:
                progress.advance(len(batch), model=tally.task.predictor.name, warm_up=start == 0)
    runs = []
    for tally in tallies:
        run = tally.finish(dataset.labels, n_classes)
        n_classes = n_classes or run.n_classes
        log.info("%s: %d images in %.2f s on %s", tally.task.where, n, sum(tally.times), run.device)
        runs.append(run)
    return runs
