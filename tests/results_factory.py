"""Hand-made results whose answers are known: complete, schema-valid mappings from a few numbers.

Selection and gate tests state only what they test (accuracy, worst-class change, sparsity,
harmed classes, per-class recall); everything else gets a neutral value.
"""

from __future__ import annotations

from typing import Any

from pruneaudit.results import Results, parse_results

CLASSES = ("a", "b")


def _per_class(values: list[float | None]) -> dict[str, Any]:
    n = len(values)
    ci = {"high": list(values), "low": list(values)}
    return {
        "correct": [0] * n,
        "f1": list(values),
        "fnr": [None] * n,
        "fnr_ci": {"high": [None] * n, "low": [None] * n},
        "fpr": [None] * n,
        "fpr_ci": {"high": [None] * n, "low": [None] * n},
        "normalised_bias": [None] * n,
        "precision": list(values),
        "precision_ci": ci,
        "predicted": [0] * n,
        "recall": list(values),
        "recall_ci": ci,
        "support": [1] * n,
    }


def _vs_dense(*, acc_change: float, worst: float | None, harmed: int, n: int) -> dict[str, Any]:
    nones = [None] * n
    return {
        "accuracy_change": acc_change,
        "balanced_accuracy_change": acc_change,
        "changed_fraction": 0.0,
        "changed_predictions": 0,
        "excess_gap_spread": None,
        "harmed": harmed,
        "harmed_significant_bh": harmed,
        "harmed_significant_holm": harmed,
        "helped": 0,
        "intensification": None,
        "macro_f1_change": acc_change,
        "max_excess_gap": None,
        "recall_change_spread": None,
        "recall_change_std": None,
        "worst_class_change": {"class": "b", "index": 1, "value": worst},
        "per_class": {
            "dense_only": [0] * n,
            "excess_gap": nones,
            "mcnemar_p": nones,
            "mcnemar_p_bh": nones,
            "mcnemar_p_holm": nones,
            "normalised_change": nones,
            "pruned_only": [0] * n,
            "recall_change": nones,
            "recall_change_ci": {"high": nones, "low": nones},
        },
    }


def model(
    name: str,
    *,
    acc: float | None,
    worst: float | None,
    sparsity: float,
    harmed: int = 0,
    technique: str | None = "t",
    amount: float | None = None,
    role: str = "pruned",
    dense_acc: float = 0.95,
    recall: list[float | None] | None = None,
) -> dict[str, Any]:
    """One model entry of results.json; ``worst`` is the worst-class recall change vs dense."""
    metadata: dict[str, Any] = {"technique": technique} if technique else {}
    if amount is not None:
        metadata["amount"] = amount
    recall = recall if recall is not None else [acc] * len(CLASSES)
    worst_recall = None if acc is None or worst is None else acc + worst
    return {
        "name": name,
        "role": role,
        "file": f"{name}.pt",
        "sha256": "0" * 64,
        "backend": "torchscript",
        "device": "cpu",
        "dtype": "float32",
        "output_kind": "logits",
        "timing": None,
        "metadata": metadata,
        "facts": {
            "declared_amount_mismatch": None,
            "file_size_bytes": 4000,
            "layers": [],
            "parameter_count": 1000,
            "sparsity": sparsity,
            "weight_count": 1000,
            "weight_nonzero": round(1000 * (1 - sparsity)),
        },
        "metrics": {
            "accuracy": acc,
            "balanced_accuracy": acc,
            "macro_f1": acc,
            "recall_spread": 0.1,
            "top5_accuracy": None,
            "worst_class_recall": {"class": "b", "index": 1, "value": worst_recall},
        },
        "per_class": _per_class(recall),
        "confusion": [],
        "vs_dense": None
        if role == "dense"
        else _vs_dense(acc_change=None if acc is None else acc - dense_acc, worst=worst, harmed=harmed, n=len(recall)),
    }


def results(*models: dict[str, Any], classes: tuple[str, ...] = CLASSES, dense: dict | None = None) -> dict[str, Any]:
    """A results.json mapping: a dense model (unless given) and then ``models``."""
    dense = dense or model(
        "dense", acc=0.95, worst=0, sparsity=0, role="dense", technique=None, recall=[0.95] * len(classes)
    )
    return {
        "schema_version": "1.1",
        "tool": {"name": "pruneaudit", "version": "0"},
        "environment": {},
        "settings": {"alpha": 0.05, "batch_size": 256, "tolerance": 0.01, "top_pies": 24},
        "data": {
            "attributes": [],
            "class_names": list(classes),
            "file": "data.npz",
            "n_classes": len(classes),
            "n_samples": 100,
            "sha256": "0" * 64,
            "split": None,
        },
        "models": [dense, *models],
        "configurations": [],
        "subgroups": [],
        "dense_seeds": [],
    }


def view(*models: dict[str, Any], **kwargs: Any) -> Results:
    return parse_results(results(*models, **kwargs))
