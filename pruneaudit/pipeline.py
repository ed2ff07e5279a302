"""The audit pipeline: data → models → predictions → metrics, as plain data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pruneaudit.data import Dataset, load_dataset
from pruneaudit.data.arrays import npz_keys, read_npy, read_npz
from pruneaudit.defaults import GROUP_MODELS, GROUP_PARAMETER_BYTES, SPARSITY_MISMATCH, TOP_PIES
from pruneaudit.environment import environment
from pruneaudit.errors import (
    BOTH_TRAIN_COUNTS,
    CLASS_COUNT_MISMATCH,
    LABEL_OUT_OF_RANGE,
    TRAIN_COUNTS_MISMATCH,
    ConfigError,
    DataError,
    ModelError,
)
from pruneaudit.fingerprint import sha256
from pruneaudit.inference import ModelRun, Progress, Silent, Task, class_order, run_group
from pruneaudit.metrics import (
    ClassMetrics,
    Disparity,
    Grouping,
    TTest,
    WorstClass,
    changed_counts,
    class_metrics,
    compare,
    confusion_counts,
    disagreement,
    grouped_confusion_counts,
    grouped_paired_counts,
    groupings,
    holm,
    modal_prediction,
    normalised_bias,
    normalised_population_ttest,
    paired_counts,
    pie_mask,
    rank_pies,
    spread,
    worst_class,
)
from pruneaudit.models import load_predictor, model_sha256, resolve_device
from pruneaudit.models.formats import FORMATS
from pruneaudit.predcache import PredictionCache
from pruneaudit.specs import AuditConfig, DataSpec, ModelSpec
from pruneaudit.thumbnails import png_data_uri


@dataclass(frozen=True)
class ModelResult:
    spec: ModelSpec
    run: ModelRun
    metrics: ClassMetrics
    confusion: np.ndarray
    top5_accuracy: float | None
    worst_recall: WorstClass
    recall_spread: float
    normalised_bias: np.ndarray
    declared_amount_mismatch: bool | None  # None: no amount declared, or no weights to measure
    sha256: str
    vs_dense: Disparity | None  # None for the dense model itself


@dataclass(frozen=True)
class Exemplar:
    index: int  # row in the audited data
    label: int
    dense_pred: int
    pruned_pred: int  # modal prediction of the configuration
    fragility: int  # how many of all pruned models change this image's prediction
    thumbnail: str  # PNG data URI


@dataclass(frozen=True)
class Population:
    """A configuration's seeds against the dense population (Welch with dense seeds, else one-sample)."""

    test: TTest
    mean_recall_change: np.ndarray  # mean over seeds of Δ_c
    significant: int  # classes with p < alpha
    significant_holm: int  # the same after Holm correction


@dataclass(frozen=True)
class Configuration:
    """Pruned models that share technique and amount: seeds of one configuration."""

    technique: str | None
    amount: float | None
    models: tuple[str, ...]
    pie_count: int
    top_pies: tuple[Exemplar, ...]
    population: Population | None  # per-class test when the configuration has ≥ 2 models


@dataclass(frozen=True)
class GroupComparison:
    grouping: str
    group: str
    model: str
    n_samples: int
    support: np.ndarray  # images per class within the group
    dense_accuracy: float
    pruned_accuracy: float
    disparity: Disparity


@dataclass(frozen=True)
class DenseSeed:
    """A dense model of another training seed: part of the dense population, not compared on its own."""

    name: str
    path: Path
    accuracy: float
    sha256: str


@dataclass(frozen=True)
class AuditResult:
    config: AuditConfig
    dataset: Dataset
    data_sha256: str
    class_names: tuple[str, ...]
    models: tuple[ModelResult, ...]  # dense first
    configurations: tuple[Configuration, ...]
    subgroups: tuple[GroupComparison, ...]
    dense_seeds: tuple[DenseSeed, ...]
    environment: dict[str, str]


def _infer_all(
    config: AuditConfig, dataset: Dataset, progress: Progress, *, hashes: list[str]
) -> tuple[list[ModelRun], dict]:
    """Runs of the dense model, then the pruned models, then the extra dense seeds; and the environment.

    ``hashes``: each model's sha256, in that order (part of its cache key).

    A model found in the prediction cache is not opened; the others go over the data a group at a
    time, one pass per group. Torch is imported only for a torch model or to look for a GPU.
    """
    from pruneaudit.models.factories import check_factory  # every factory is vetted before any model loads

    specs = (config.dense, *config.pruned, *config.dense_seeds)
    progress.stage("Inference", models=len(specs), images=len(dataset))
    for spec in specs:
        if spec.factory:
            check_factory(spec, search=config.base_dir, trusted=config.trusted_factories)
    runtimes = {FORMATS[spec.format].runtime for spec in specs} - {None}
    device = resolve_device(config.device) if runtimes else "cpu"  # saved outputs run nowhere: numpy, on the CPU
    cache = None
    if config.cache_dir is not None:
        cache = PredictionCache(
            config.cache_dir,
            dataset=dataset,
            device=device,
            strict=config.device == "cuda",
            precision=config.precision,
            batch_size=config.batch_size,
            search=config.base_dir,
        )
    runs: dict[int, ModelRun] = {}
    keys: dict[int, str] = {}
    for i, spec in enumerate(specs):
        key = cache.key(spec, model_sha256=hashes[i]) if cache else None
        run = cache.load(spec, key) if cache and key else None
        if run is not None:
            runs[i] = run.compact()
            progress.finished(spec.name, cached=True)
        elif key is not None:
            keys[i] = key
    names = dataset.class_names
    pending = [i for i in range(len(specs)) if i not in runs]
    known = len(names) if names else (runs[0].n_classes if 0 in runs else None)  # the dense model's

    def keep(i: int, run: ModelRun) -> None:
        """Each run as it comes: cached at once, so an audit that fails later keeps what it finished."""
        if cache is not None and i in keys:
            cache.store(keys[i], run)
        runs[i] = run.compact()
        progress.finished(specs[i].name)

    backend: dict[str, str] = {}
    if config.backend == "ray" and pending:
        from pruneaudit.raybackend import run_models  # Ray is imported only for --backend ray

        backend = run_models(
            config, specs, pending, dataset, device=device, n_classes=known, keep=keep, progress=progress
        )
    else:
        run_local(config, specs, pending, dataset, device=device, n_classes=known, keep=keep, progress=progress)
    ordered = [runs[i] for i in range(len(specs))]
    _check_class_counts(specs, ordered, dataset)
    torch_used = "torch" in runtimes or (bool(runtimes) and config.device != "cpu")
    return ordered, {**environment(device, torch_used=torch_used), **backend}


def run_local(
    config: AuditConfig,
    specs: tuple[ModelSpec, ...],
    pending: list[int],
    dataset: Dataset,
    *,
    device: str,
    n_classes: int | None,
    keep: Callable[[int, ModelRun], None],
    progress: Progress | None = None,
) -> None:
    """The pending models, a group at a time, each group in one pass over the data, in this process
    (the local backend, and each actor of the Ray backend)."""
    for group in open_groups(config, specs, pending, device=device, names=dataset.class_names):
        done = run_group(
            [t for _, t in group], dataset, batch_size=config.batch_size, n_classes=n_classes, progress=progress
        )
        for (i, _), run in zip(group, done):
            keep(i, run)
        n_classes = n_classes or done[0].n_classes  # the first group holds the dense model when it runs


def open_groups(
    config: AuditConfig,
    specs: tuple[ModelSpec, ...],
    pending: list[int],
    *,
    device: str,
    names: tuple[str, ...] | None,
) -> Iterator[list[tuple[int, Task]]]:
    """The models ``pending`` (indices into ``specs``), opened in order, a group at a time: a group's
    parameters stay within GROUP_PARAMETER_BYTES (a larger model forms a group of its own) and it holds
    at most GROUP_MODELS models."""
    group: list[tuple[int, Task]] = []
    size = 0
    for i in pending:
        spec = specs[i]
        predictor = load_predictor(
            spec,
            device=device,
            precision=config.precision,
            strict=config.device == "cuda",
            trust_pickle=config.trust_pickle,
            trusted_factories=config.trusted_factories,
            search=config.base_dir,
        )
        if group and (size + predictor.parameter_bytes > GROUP_PARAMETER_BYTES or len(group) == GROUP_MODELS):
            yield group
            group, size = [], 0
        group.append((i, Task(predictor, where=str(spec.path), order=class_order(spec, names))))
        size += predictor.parameter_bytes
    if group:
        yield group


def _check_class_counts(specs: tuple[ModelSpec, ...], runs: list[ModelRun], dataset: Dataset) -> None:
    """The dense model fixes the class count: the data's labels and class names, and every other model, must fit it."""
    names, dense = dataset.class_names, runs[0]
    if names is not None and dense.n_classes != len(names):
        raise ModelError(
            f"{specs[0].path}: the model outputs {dense.n_classes} classes but the data has {len(names)} class names"
        )
    top = int(dataset.labels.max())
    if top >= dense.n_classes:
        raise DataError(
            LABEL_OUT_OF_RANGE.format(path=dataset.source, n_classes=dense.n_classes, model=specs[0].name, label=top)
        )
    for spec, run in zip(specs[1:], runs[1:]):
        if run.n_classes != dense.n_classes:
            raise ModelError(
                CLASS_COUNT_MISMATCH.format(
                    path=spec.path, model=spec.name, got=run.n_classes, expected=dense.n_classes
                )
            )


TRAIN_LABELS_HINT = "raise max_bytes (in bytes) in the data config if the machine has the memory"
TRAIN_LABELS_NOT_INTEGER = "{path}: training labels must be integers (class indices); received dtype {dtype}"
TRAIN_LABELS_RANGE = "{path}: training labels must lie in [0, {n_classes}) (the data's classes); received label {label}"


def _read_train_labels(config: AuditConfig, dataset: Dataset) -> np.ndarray | None:
    """The config's training-labels file as class indices, read before any model runs so that a bad file fails
    fast; None without one. With the data layer's readers: an .npy, an .npz's labels array (the data's
    ``labels_key``), or a .csv/.parquet manifest's label column (class names map to the data's classes)."""
    path = config.train_labels
    if path is None:
        return None
    if config.train_class_counts is not None:  # build_config refuses both; a config made by hand is checked here
        raise ConfigError(BOTH_TRAIN_COUNTS.format(where=config.config_path or "config"))
    names = dataset.class_names
    spec = DataSpec(path=path, labels_key=config.data.labels_key, class_names=names, max_bytes=config.data.max_bytes)
    if spec.kind == "npy":
        raw = read_npy(path, limit=spec.max_bytes, hint=TRAIN_LABELS_HINT, error=DataError)
    elif spec.kind == "npz":
        key, found = spec.labels_key, npz_keys(path, error=DataError)
        if key not in found:
            raise DataError(f"{path}: no training-labels array {key!r}; found {', '.join(found) or 'none'}")
        raw = read_npz(path, (key,), limit=spec.max_bytes, hint=TRAIN_LABELS_HINT, error=DataError)[key]
    elif spec.kind == "manifest":
        manifest = load_dataset(spec)  # text labels map to the data's class names; images are not read
        if names is None and manifest.class_names is not None:
            raise DataError(
                f"{path}: training labels given as class names need the data's class names (class_names or "
                "class_names_file in the data config); give class indices or name the classes"
            )
        raw = manifest.labels
    else:
        raise DataError(
            f"{path}: unsupported training labels; expected an .npy, an .npz or a .csv/.parquet manifest "
            "with a label column"
        )
    if raw.ndim != 1:
        raise DataError(f"{path}: training labels must be 1-D, one per training image; received shape {raw.shape}")
    if not np.issubdtype(raw.dtype, np.integer):
        raise DataError(TRAIN_LABELS_NOT_INTEGER.format(path=path, dtype=raw.dtype))
    if raw.size == 0:
        raise DataError(f"{path}: the training labels are empty")
    labels = raw.astype(np.int64)
    _check_train_label_range(path, labels, len(names) if names else None)
    return labels


def _check_train_label_range(path: Path, labels: np.ndarray, n_classes: int | None) -> None:
    """Every label a class index; below ``n_classes`` once that is known (None: only >= 0)."""
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise DataError(f"{path}: training labels must be >= 0 (class indices); received label {low}")
    if n_classes is not None and high >= n_classes:
        raise DataError(TRAIN_LABELS_RANGE.format(path=path, n_classes=n_classes, label=high))


def _with_train_counts(config: AuditConfig, labels: np.ndarray | None, n_classes: int) -> AuditConfig:
    """The config with its training counts per class, which pair with the classes by index: those given (one per
    class, checked here) or ``labels`` (the train_labels file's, from `_read_train_labels`) counted with np.bincount."""
    counts = config.train_class_counts
    if labels is not None:
        _check_train_label_range(config.train_labels, labels, n_classes)
        counts = tuple(int(n) for n in np.bincount(labels, minlength=n_classes))
    if counts is not None and len(counts) != n_classes:
        raise ConfigError(
            TRAIN_COUNTS_MISMATCH.format(where=config.config_path or "config", got=len(counts), expected=n_classes)
        )
    return config if counts == config.train_class_counts else replace(config, train_class_counts=counts)


def _configuration_key(spec: ModelSpec) -> tuple:
    md = spec.metadata
    if md.get("technique") is None or md.get("amount") is None:
        return ("model", spec.name)  # undeclared: a configuration of its own
    return ("declared", str(md["technique"]), float(md["amount"]))


def _population(dense: list[ClassMetrics], pruned: list[ClassMetrics], alpha: float) -> Population:
    """Per-class test of a configuration's seeds against the dense population, on normalised recall."""
    dense_recall, pruned_recall = np.stack([m.recall for m in dense]), np.stack([m.recall for m in pruned])
    test = normalised_population_ttest(
        dense_recall=dense_recall,
        dense_accuracy=np.array([m.accuracy for m in dense]),
        pruned_recall=pruned_recall,
        pruned_accuracy=np.array([m.accuracy for m in pruned]),
    )
    return Population(
        test=test,
        mean_recall_change=pruned_recall.mean(axis=0) - dense_recall.mean(axis=0),
        significant=int(np.sum(test.pvalue < alpha)),
        significant_holm=int(np.sum(holm(test.pvalue) < alpha)),
    )


def _exemplars(
    dataset: Dataset, top: np.ndarray, dense_modal: np.ndarray, modal: np.ndarray, fragility: np.ndarray
) -> tuple[Exemplar, ...]:
    return tuple(
        Exemplar(
            index=int(j),
            label=int(dataset.labels[j]),
            dense_pred=int(dense_modal[j]),
            pruned_pred=int(modal[j]),
            fragility=int(fragility[j]),
            thumbnail=png_data_uri(dataset.raw_image(int(j))),
        )
        for j in top
    )


def _configurations(
    config: AuditConfig,
    dataset: Dataset,
    runs: list[ModelRun],
    metrics: list[ClassMetrics],
    seed_runs: list[ModelRun],
    seed_metrics: list[ClassMetrics],
) -> tuple[Configuration, ...]:
    dense_pred = runs[0].predictions
    dense_population = np.stack([dense_pred, *(r.predictions for r in seed_runs)])
    dense_modal = modal_prediction(dense_population)
    dense_models = [metrics[0], *seed_metrics]  # the dense population's metrics: the model and its seeds
    fragility = disagreement(dense_pred, (r.predictions for r in runs[1:]))
    members: dict[tuple, list[int]] = {}
    for i, spec in enumerate(config.pruned, start=1):
        members.setdefault(_configuration_key(spec), []).append(i)
    out = []
    for key, idx in members.items():
        preds = np.stack([runs[i].predictions for i in idx])
        mask = pie_mask(dense_population, preds)
        top = rank_pies(mask, fragility, limit=TOP_PIES)
        declared = key[0] == "declared"
        out.append(
            Configuration(
                technique=key[1] if declared else None,
                amount=key[2] if declared else None,
                models=tuple(config.pruned[i - 1].name for i in idx),
                pie_count=int(mask.sum()),
                top_pies=_exemplars(dataset, top, dense_modal, modal_prediction(preds), fragility),
                population=None if len(idx) < 2 else _population(dense_models, [metrics[i] for i in idx], config.alpha),
            )
        )
    return tuple(out)


def _subgroups(
    config: AuditConfig, dataset: Dataset, runs: list[ModelRun], n_classes: int
) -> tuple[GroupComparison, ...]:
    out = []
    for g in groupings(dataset.attributes):
        out.extend(_compare_groups(config, dataset, runs, n_classes, g))
    return tuple(out)


def _compare_groups(
    config: AuditConfig, dataset: Dataset, runs: list[ModelRun], n_classes: int, g: Grouping
) -> list[GroupComparison]:
    n_groups = len(g.labels)
    y, dense = dataset.labels, runs[0].predictions
    dense_cms = grouped_confusion_counts(y, dense, groups=g.ids, n_classes=n_classes, n_groups=n_groups)
    dense_metrics = [class_metrics(cm) for cm in dense_cms]
    out = []
    for spec, run in zip(config.pruned, runs[1:]):
        cms = grouped_confusion_counts(y, run.predictions, groups=g.ids, n_classes=n_classes, n_groups=n_groups)
        paired = grouped_paired_counts(y, dense, run.predictions, groups=g.ids, n_classes=n_classes, n_groups=n_groups)
        changed = changed_counts(dense, run.predictions, groups=g.ids, n_groups=n_groups)
        for k, label in enumerate(g.labels):
            pm = class_metrics(cms[k])
            d = compare(
                dense=dense_metrics[k],
                pruned=pm,
                paired=paired[k],
                changed=int(changed[k]),
                tolerance=config.tolerance,
                alpha=config.alpha,
            )
            out.append(
                GroupComparison(
                    grouping=g.name,
                    group=label,
                    model=spec.name,
                    n_samples=dense_metrics[k].n_samples,
                    support=dense_metrics[k].support,
                    dense_accuracy=dense_metrics[k].accuracy,
                    pruned_accuracy=pm.accuracy,
                    disparity=d,
                )
            )
    return out


def _declared_mismatch(spec: ModelSpec, run: ModelRun) -> bool | None:
    """Whether the declared pruning amount disagrees with the measured weight sparsity (None: not declared)."""
    amount = spec.metadata.get("amount")
    if amount is None or run.facts.weight_count == 0:
        return None
    return abs(float(amount) - run.facts.sparsity) > SPARSITY_MISMATCH


def _model_result(
    config: AuditConfig,
    spec: ModelSpec,
    run: ModelRun,
    cm: np.ndarray,
    y: np.ndarray,
    dense: tuple | None,
    *,
    sha256: str,
) -> ModelResult:
    """Metrics of one model; ``dense`` is (its ClassMetrics, its run) for a pruned model, None for the dense one."""
    m = class_metrics(cm)
    vs = None
    if dense is not None:
        dense_metrics, dense_run = dense
        vs = compare(
            dense=dense_metrics,
            pruned=m,
            paired=paired_counts(y, dense_run.predictions, run.predictions, n_classes=run.n_classes),
            changed=int(np.count_nonzero(dense_run.predictions != run.predictions)),
            tolerance=config.tolerance,
            alpha=config.alpha,
        )
    return ModelResult(
        spec=spec,
        run=run,
        metrics=m,
        confusion=cm,
        top5_accuracy=None if run.top5_hits is None else float(run.top5_hits.mean()),
        worst_recall=worst_class(m.recall),
        recall_spread=spread(m.recall),
        normalised_bias=normalised_bias(m),
        declared_amount_mismatch=_declared_mismatch(spec, run),
        sha256=sha256,
        vs_dense=vs,
    )


def run_audit(config: AuditConfig, *, dataset: Dataset | None = None, progress: Progress | None = None) -> AuditResult:
    """``dataset``: the already loaded ``config.data``, if the caller has it."""
    progress = progress or Silent()
    dataset = dataset or load_dataset(config.data)
    train_labels = _read_train_labels(config, dataset)
    progress.stage("Hashing models")
    # each model file (with an ONNX model's external data) is hashed once: for the cache key and the results
    hashes = [
        model_sha256(spec, cache_dir=config.cache_dir) for spec in (config.dense, *config.pruned, *config.dense_seeds)
    ]
    all_runs, env = _infer_all(config, dataset, progress, hashes=hashes)
    progress.stage("Metrics")
    pruned_end = 1 + len(config.pruned)
    runs, seed_runs = all_runs[:pruned_end], all_runs[pruned_end:]
    n_classes = runs[0].n_classes  # the dense model's, which the data and every other model fit (_check_class_counts)
    config = _with_train_counts(config, train_labels, n_classes)
    y = dataset.labels
    dense = _model_result(
        config,
        config.dense,
        runs[0],
        confusion_counts(y, runs[0].predictions, n_classes=n_classes),
        y,
        None,
        sha256=hashes[0],
    )
    results = [dense] + [
        _model_result(
            config,
            spec,
            run,
            confusion_counts(y, run.predictions, n_classes=n_classes),
            y,
            (dense.metrics, runs[0]),
            sha256=digest,
        )
        for spec, run, digest in zip(config.pruned, runs[1:], hashes[1:pruned_end])
    ]
    metrics = [r.metrics for r in results]
    seed_metrics = [class_metrics(confusion_counts(y, r.predictions, n_classes=n_classes)) for r in seed_runs]
    return AuditResult(
        config=config,
        dataset=dataset,
        data_sha256=sha256(config.data.path, cache_dir=config.cache_dir),
        class_names=dataset.class_names or tuple(str(i) for i in range(n_classes)),
        models=tuple(results),
        configurations=_configurations(config, dataset, runs, metrics, seed_runs, seed_metrics),
        dense_seeds=tuple(
            DenseSeed(
                name=spec.name,
                path=spec.path,
                accuracy=m.accuracy,
                sha256=digest,
            )
            for spec, m, digest in zip(config.dense_seeds, seed_metrics, hashes[pruned_end:])
        ),
        subgroups=_subgroups(config, dataset, runs, n_classes),
        environment=env,
    )
