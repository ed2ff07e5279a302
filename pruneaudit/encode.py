"""Encode an audit as the results.json mapping: the pipeline's dataclasses to JSON-ready values.

The producer side of the results contract (`pruneaudit.results` is the reader): NaN
(undefined, e.g. zero support) and ±inf (a degenerate test statistic) become null,
integers stay integers, and keys are written sorted by `results.dumps`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pruneaudit._version import __version__
from pruneaudit.defaults import TOP_PIES
from pruneaudit.metrics import Disparity, Interval, WorstClass
from pruneaudit.pipeline import AuditResult, Configuration, GroupComparison, ModelResult
from pruneaudit.results import SCHEMA_VERSION


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _array(a: np.ndarray) -> list:
    """Python numbers (tolist is C speed at models × classes); NaN and ±inf become None."""
    if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
        return np.asarray(a, dtype=np.int64).tolist()
    values = np.asarray(a, dtype=np.float64)
    if np.isfinite(values).all():
        return values.tolist()
    return [v if math.isfinite(v) else None for v in values.tolist()]


def _interval(i: Interval) -> dict[str, list]:
    return {"high": _array(i.high), "low": _array(i.low)}


def _worst(w: WorstClass, class_names: tuple[str, ...]) -> dict[str, Any]:
    defined = w.index >= 0
    return {"class": class_names[w.index] if defined else None, "index": w.index, "value": _num(w.value)}


def _disparity_scalars(d: Disparity, class_names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "accuracy_change": _num(d.accuracy_change),
        "balanced_accuracy_change": _num(d.balanced_accuracy_change),
        "changed_fraction": _num(d.changed_fraction),
        "changed_predictions": d.changed_predictions,
        "excess_gap_spread": _num(d.excess_gap_spread),
        "harmed": d.harmed,
        "harmed_significant_bh": d.harmed_significant_bh,
        "harmed_significant_holm": d.harmed_significant_holm,
        "helped": d.helped,
        "intensification": _num(d.intensification),
        "macro_f1_change": _num(d.macro_f1_change),
        "max_excess_gap": _num(d.max_excess_gap),
        "recall_change_spread": _num(d.recall_change_spread),
        "recall_change_std": _num(d.recall_change_std),
        "worst_class_change": _worst(d.worst_class_change, class_names),
    }


def _disparity(d: Disparity, class_names: tuple[str, ...]) -> dict[str, Any]:
    return {
        **_disparity_scalars(d, class_names),
        "per_class": {
            "dense_only": _array(d.dense_only),
            "excess_gap": _array(d.excess_gap),
            "mcnemar_p": _array(d.mcnemar_p),
            "mcnemar_p_bh": _array(d.mcnemar_p_bh),
            "mcnemar_p_holm": _array(d.mcnemar_p_holm),
            "normalised_change": _array(d.normalised_change),
            "pruned_only": _array(d.pruned_only),
            "recall_change": _array(d.recall_change),
            "recall_change_ci": _interval(d.recall_change_interval),
        },
    }


def _confusion_cells(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Non-zero cells, row-major, as columns: exact and compact at 1,000 classes (stored in confusion.parquet)."""
    t, p = np.nonzero(cm)
    return {"count": cm[t, p].astype(np.int64), "predicted": p.astype(np.int64), "true": t.astype(np.int64)}


def _model(m: ModelResult, class_names: tuple[str, ...], *, timings: bool) -> dict[str, Any]:
    cm, f = m.metrics, m.run.facts
    return {
        "name": m.spec.name,
        "role": "pruned" if m.vs_dense else "dense",
        "file": m.spec.path.name,
        "sha256": m.sha256,
        "backend": m.run.backend,
        "device": m.run.device,
        "dtype": m.run.dtype,
        "output_kind": m.run.output_kind,
        "timing": {"median_batch_seconds": m.run.median_batch_seconds} if timings else None,
        "metadata": dict(sorted(m.spec.metadata.items())),
        "facts": {
            "declared_amount_mismatch": m.declared_amount_mismatch,
            "layers": [
                {"count": x.count, "name": x.name, "nonzero": x.nonzero, "sparsity": x.sparsity} for x in f.layers
            ],
            "file_size_bytes": f.file_size_bytes,
            "parameter_count": f.parameter_count,
            "sparsity": f.sparsity,
            "weight_count": f.weight_count,
            "weight_nonzero": f.weight_nonzero,
        },
        "metrics": {
            "accuracy": _num(cm.accuracy),
            "balanced_accuracy": _num(cm.balanced_accuracy),
            "macro_f1": _num(cm.macro_f1),
            "recall_spread": _num(m.recall_spread),
            "top5_accuracy": _num(m.top5_accuracy),
            "worst_class_recall": _worst(m.worst_recall, class_names),
        },
        "per_class": {
            "correct": _array(cm.correct),
            "f1": _array(cm.f1),
            "fnr": _array(cm.fnr),
            "fnr_ci": _interval(cm.fnr_interval),
            "fpr": _array(cm.fpr),
            "fpr_ci": _interval(cm.fpr_interval),
            "normalised_bias": _array(m.normalised_bias),
            "precision": _array(cm.precision),
            "precision_ci": _interval(cm.precision_interval),
            "predicted": _array(cm.predicted),
            "recall": _array(cm.recall),
            "recall_ci": _interval(cm.recall_interval),
            "support": _array(cm.support),
        },
        "confusion": _confusion_cells(m.confusion),
        "vs_dense": _disparity(m.vs_dense, class_names) if m.vs_dense else None,
    }


def _configuration(c: Configuration, n_samples: int) -> dict[str, Any]:
    population = None
    if c.population is not None:
        population = {
            "mean_recall_change": _array(c.population.mean_recall_change),
            "method": c.population.test.method,
            "pvalue": _array(c.population.test.pvalue),
            "significant": c.population.significant,
            "significant_holm": c.population.significant_holm,
            "statistic": _array(c.population.test.statistic),
        }
    return {
        "amount": c.amount,
        "models": list(c.models),
        "pie_count": c.pie_count,
        "pie_fraction": c.pie_count / n_samples if n_samples else None,
        "population_test": population,
        "technique": c.technique,
        "top_pies": [
            {
                "dense_pred": e.dense_pred,
                "fragility": e.fragility,
                "index": e.index,
                "label": e.label,
                "pruned_pred": e.pruned_pred,
                "thumbnail": e.thumbnail,
            }
            for e in c.top_pies
        ],
    }


def _group(g: GroupComparison, class_names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "dense_accuracy": _num(g.dense_accuracy),
        "group": g.group,
        "grouping": g.grouping,
        "model": g.model,
        "n_samples": g.n_samples,
        "pruned_accuracy": _num(g.pruned_accuracy),
        "per_class": {
            "mcnemar_p_holm": _array(g.disparity.mcnemar_p_holm),
            "recall_change": _array(g.disparity.recall_change),
            "recall_change_ci": _interval(g.disparity.recall_change_interval),
            "support": _array(g.support),
        },
        **_disparity_scalars(g.disparity, class_names),
    }


def encode_results(audit: AuditResult) -> dict[str, Any]:
    """The results.json mapping of an audit (selection, gate and card are added by the caller)."""
    spec, counts = audit.config.data, audit.config.train_class_counts
    n = len(audit.dataset)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pruneaudit", "version": __version__},
        "environment": audit.environment,
        "settings": {
            "alpha": audit.config.alpha,
            "batch_size": audit.config.batch_size,
            "precision": audit.config.precision,
            "tolerance": audit.config.tolerance,
            "top_pies": TOP_PIES,
        },
        "data": {
            "attributes": sorted(audit.dataset.attributes),
            "class_names": list(audit.class_names),
            "file": spec.path.name,
            "hf_id": spec.hf_id,  # null: not given in the config
            "n_classes": len(audit.class_names),
            "n_samples": n,
            "name": spec.name,
            "sha256": audit.data_sha256,
            "split": spec.split,
            "split_name": spec.split_name,
            "train_class_counts": None if counts is None else list(counts),  # null: not given in the config
        },
        "models": [_model(m, audit.class_names, timings=audit.config.timings) for m in audit.models],
        "configurations": [_configuration(c, n) for c in audit.configurations],
        "dense_seeds": [
            {"accuracy": _num(d.accuracy), "file": d.path.name, "name": d.name, "sha256": d.sha256}
            for d in audit.dense_seeds
        ],
        "subgroups": [_group(g, audit.class_names) for g in audit.subgroups],
    }
