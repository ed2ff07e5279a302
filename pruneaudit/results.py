"""results.json: the versioned, deterministic, machine-readable form of an audit.

Everything the report shows is read from this dict, so a saved results.json can be
re-rendered without the models. NaN (undefined, e.g. zero support) becomes null.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pruneaudit import __version__
from pruneaudit.audit import AuditResult, ModelResult
from pruneaudit.metrics import WorstClass, spread, worst_class

SCHEMA_VERSION = "1.0"


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _array(a: np.ndarray) -> list:
    if np.issubdtype(a.dtype, np.integer):
        return [int(v) for v in a]
    return [_num(float(v)) for v in a]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _worst(w: WorstClass, class_names: tuple[str, ...]) -> dict[str, Any]:
    defined = w.index >= 0
    return {"class": class_names[w.index] if defined else None, "index": w.index, "value": _num(w.value)}


def _model(m: ModelResult, class_names: tuple[str, ...]) -> dict[str, Any]:
    cm, f = m.metrics, m.run.facts
    out: dict[str, Any] = {
        "name": m.spec.name,
        "role": "pruned" if m.vs_dense else "dense",
        "file": m.spec.path.name,
        "sha256": _sha256(m.spec.path),
        "backend": m.run.backend,
        "device": m.run.device,
        "metadata": dict(sorted(m.spec.metadata.items())),
        "facts": {
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
            "worst_class_recall": _worst(worst_class(cm.recall), class_names),
        },
        "per_class": {
            "correct": _array(cm.correct),
            "f1": _array(cm.f1),
            "precision": _array(cm.precision),
            "predicted": _array(cm.predicted),
            "recall": _array(cm.recall),
            "support": _array(cm.support),
        },
        "confusion_matrix": [[int(v) for v in row] for row in m.confusion],
        "vs_dense": None,
    }
    if m.vs_dense:
        d = m.vs_dense
        out["vs_dense"] = {
            "accuracy_change": _num(d.accuracy_change),
            "balanced_accuracy_change": _num(d.balanced_accuracy_change),
            "changed_fraction": _num(d.changed_fraction),
            "changed_predictions": d.changed_predictions,
            "recall_change": _array(d.recall_change),
            "recall_change_spread": _num(d.recall_change_spread),
            "worst_class_change": _worst(d.worst_class_change, class_names),
        }
    return out


def to_results(audit: AuditResult) -> dict[str, Any]:
    spec = audit.config.data
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pruneaudit", "version": __version__},
        "environment": audit.environment,
        "data": {
            "class_names": list(audit.class_names),
            "file": spec.path.name,
            "n_classes": len(audit.class_names),
            "n_samples": len(audit.dataset),
            "sha256": _sha256(spec.path),
            "split": spec.split,
        },
        "models": [_model(m, audit.class_names) for m in audit.models],
    }


def dumps(results: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, fixed indentation, no NaN tokens."""
    return json.dumps(results, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
