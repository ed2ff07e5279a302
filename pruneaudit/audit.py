"""The audit pipeline: data → models → predictions → metrics, as plain data."""

from __future__ import annotations

import platform
from dataclasses import dataclass

import numpy as np

from pruneaudit.config import AuditConfig, ModelSpec
from pruneaudit.data import Dataset, load_dataset
from pruneaudit.errors import CLASS_COUNT_MISMATCH, LABEL_OUT_OF_RANGE, ConfigError, DataError, ModelError
from pruneaudit.inference import ModelRun, Progress, run_model
from pruneaudit.metrics import ClassMetrics, Disparity, class_metrics, compare, confusion_counts
from pruneaudit.models import load_predictor, resolve_device


@dataclass(frozen=True)
class ModelResult:
    spec: ModelSpec
    run: ModelRun
    metrics: ClassMetrics
    confusion: np.ndarray
    vs_dense: Disparity | None  # None for the dense model itself


@dataclass(frozen=True)
class AuditResult:
    config: AuditConfig
    dataset: Dataset
    class_names: tuple[str, ...]
    models: tuple[ModelResult, ...]  # dense first
    environment: dict[str, str]


def environment(device: str) -> dict[str, str]:
    import onnxruntime
    import torch

    return {
        "device": device,
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def _class_names(config: AuditConfig, n_classes: int) -> tuple[str, ...]:
    names = config.data.class_names
    if names is None:
        return tuple(str(i) for i in range(n_classes))
    if len(names) != n_classes:
        raise ConfigError(f"{config.data.path}: {len(names)} class names given but the models output {n_classes} classes")
    return names


def run_audit(config: AuditConfig, *, dataset: Dataset | None = None, progress: Progress | None = None) -> AuditResult:
    """``dataset``: the already loaded ``config.data``, if the caller has it."""
    dataset = dataset or load_dataset(config.data)
    device = resolve_device(config.device)
    strict = config.device == "cuda"
    runs: list[ModelRun] = []
    for spec in (config.dense, *config.pruned):
        predictor = load_predictor(spec, device=device, strict=strict)
        run = run_model(predictor, dataset, batch_size=config.batch_size, where=str(spec.path), progress=progress)
        if not runs:  # the dense model fixes the class count
            top = int(dataset.labels.max())
            if top >= run.n_classes:
                raise DataError(
                    LABEL_OUT_OF_RANGE.format(path=dataset.source, n_classes=run.n_classes, model=spec.name, label=top)
                )
        elif run.n_classes != runs[0].n_classes:
            raise ModelError(
                CLASS_COUNT_MISMATCH.format(path=spec.path, model=spec.name, got=run.n_classes, expected=runs[0].n_classes)
            )
        runs.append(run)

    n_classes = runs[0].n_classes
    specs = (config.dense, *config.pruned)
    confusions = [confusion_counts(dataset.labels, r.predictions, n_classes=n_classes) for r in runs]
    metrics = [class_metrics(cm) for cm in confusions]
    results = []
    for i, (spec, run, m, cm) in enumerate(zip(specs, runs, metrics, confusions)):
        vs = None
        if i:
            vs = compare(dense=metrics[0], pruned=m, dense_pred=runs[0].predictions, pruned_pred=run.predictions)
        results.append(ModelResult(spec=spec, run=run, metrics=m, confusion=cm, vs_dense=vs))
    return AuditResult(
        config=config,
        dataset=dataset,
        class_names=_class_names(config, n_classes),
        models=tuple(results),
        environment=environment(device),
    )
