"""results.json: the versioned, deterministic, machine-readable form of an audit.

Everything the report shows is read from this dict, so a saved results.json can be
re-rendered without the models. NaN (undefined, e.g. zero support) and ±inf (a degenerate test statistic) become null.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pruneaudit import __version__
from pruneaudit.audit import (
    TOP_PIES,
    AuditResult,
    Configuration,
    GroupComparison,
    ModelResult,
)
from pruneaudit.metrics import (
    Disparity,
    Interval,
    WorstClass,
    normalised_bias,
    spread,
    worst_class,
)

SCHEMA_VERSION = "1.0"


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _array(a: np.ndarray) -> list:
    if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
        return [int(v) for v in a]
    return [_num(float(v)) for v in a]


def _interval(i: Interval) -> dict[str, list]:
    return {"high": _array(i.high), "low": _array(i.low)}


def _sha256(path: Path) -> str:
    """Hash of a file, or of a folder tree (every file's relative path and hash, in sorted order)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + bytes.fromhex(_sha256(f)))
        return h.hexdigest()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def _confusion_cells(cm: np.ndarray) -> list[list[int]]:
    """Non-zero cells as [true, predicted, count], row-major: exact and compact at 1,000 classes."""
    t, p = np.nonzero(cm)
    return [[int(a), int(b), int(cm[a, b])] for a, b in zip(t, p)]


SPARSITY_MISMATCH = 0.02  # |declared amount − measured sparsity| beyond this is flagged


def _declared_mismatch(m: ModelResult) -> bool | None:
    """Whether the declared pruning amount disagrees with the measured weight sparsity (None: not declared)."""
    amount = m.spec.metadata.get("amount")
    if amount is None or m.run.facts.weight_count == 0:
        return None
    return abs(float(amount) - m.run.facts.sparsity) > SPARSITY_MISMATCH


def _model(m: ModelResult, class_names: tuple[str, ...], *, timings: bool) -> dict[str, Any]:
    cm, f = m.metrics, m.run.facts
    return {
        "name": m.spec.name,
        "role": "pruned" if m.vs_dense else "dense",
        "file": m.spec.path.name,
        "sha256": _sha256(m.spec.path),
        "backend": m.run.backend,
        "device": m.run.device,
        "dtype": m.run.dtype,
        "output_kind": m.run.output_kind,
        "timing": {"median_batch_seconds": m.run.median_batch_seconds} if timings else None,
        "metadata": dict(sorted(m.spec.metadata.items())),
        "facts": {
            "declared_amount_mismatch": _declared_mismatch(m),
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
            "recall_spread": _num(spread(cm.recall)),
            "top5_accuracy": _num(m.top5_accuracy),
            "worst_class_recall": _worst(worst_class(cm.recall), class_names),
        },
        "per_class": {
            "correct": _array(cm.correct),
            "f1": _array(cm.f1),
            "fnr": _array(cm.fnr),
            "fnr_ci": _interval(cm.fnr_interval),
            "fpr": _array(cm.fpr),
            "fpr_ci": _interval(cm.fpr_interval),
            "normalised_bias": _array(normalised_bias(cm)),
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
            "mean_recall_change": _array(c.population_recall_change),
            "method": c.population.method,
            "pvalue": _array(c.population.pvalue),
            "significant": c.population_significant,
            "significant_holm": c.population_significant_holm,
            "statistic": _array(c.population.statistic),
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


def to_results(audit: AuditResult) -> dict[str, Any]:
    spec = audit.config.data
    n = len(audit.dataset)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pruneaudit", "version": __version__},
        "environment": audit.environment,
        "settings": {
            "alpha": audit.config.alpha,
            "batch_size": audit.config.batch_size,
            "tolerance": audit.config.tolerance,
            "top_pies": TOP_PIES,
        },
        "data": {
            "attributes": sorted(audit.dataset.attributes),
            "class_names": list(audit.class_names),
            "file": spec.path.name,
            "n_classes": len(audit.class_names),
            "n_samples": n,
            "sha256": _sha256(spec.path),
            "split": spec.split,
        },
        "models": [_model(m, audit.class_names, timings=audit.config.timings) for m in audit.models],
        "configurations": [_configuration(c, n) for c in audit.configurations],
        "dense_seeds": [
            {"accuracy": _num(d.accuracy), "file": d.path.name, "name": d.name, "sha256": _sha256(d.path)}
            for d in audit.dense_seeds
        ],
        "subgroups": [_group(g, audit.class_names) for g in audit.subgroups],
    }


REQUIRED_KEYS = ("schema_version", "data", "models")


def load_results(path: Path) -> dict[str, Any]:
    """Read a saved results.json, checking it is one this version can use."""
    from pruneaudit.errors import MISSING_FILE, DataError

    if not path.exists():
        raise DataError(MISSING_FILE.format(path=path))
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a pruneaudit results file: invalid JSON ({exc})") from None
    if not isinstance(results, dict) or any(k not in results for k in REQUIRED_KEYS):
        raise DataError(f"{path}: not a pruneaudit results file: expected keys {', '.join(REQUIRED_KEYS)}")
    major = str(results["schema_version"]).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise DataError(
            f"{path}: results schema {results['schema_version']} is not supported; expected {SCHEMA_VERSION}"
        )
    return results


def dumps(results: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, fixed indentation, no NaN tokens."""
    return json.dumps(results, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
