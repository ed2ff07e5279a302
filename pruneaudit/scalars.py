"""The scalar metrics of a model in results.json, by one flat name each.

Gate rules (`pruneaudit check`) and operating-point objectives (`pruneaudit select`) both
name metrics from this table, so a name means the same thing everywhere. ``higher`` says
which direction is better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scalar:
    name: str
    higher_is_better: bool
    description: str
    read: Callable[[dict[str, Any]], float | None]
    pruned_only: bool = False  # defined only relative to the dense model


def _get(*keys: str) -> Callable[[dict[str, Any]], float | None]:
    def read(model: dict[str, Any]) -> float | None:
        value: Any = model
        for k in keys:
            if value is None:
                return None
            value = value.get(k)
        return None if value is None else float(value)

    return read


def _neg(read: Callable[[dict[str, Any]], float | None]) -> Callable[[dict[str, Any]], float | None]:
    def negated(model: dict[str, Any]) -> float | None:
        v = read(model)
        return None if v is None else -v

    return negated


_TABLE = [
    Scalar("accuracy", True, "top-1 accuracy", _get("metrics", "accuracy")),
    Scalar("balanced_accuracy", True, "mean per-class recall", _get("metrics", "balanced_accuracy")),
    Scalar("macro_f1", True, "mean per-class F1", _get("metrics", "macro_f1")),
    Scalar("top5_accuracy", True, "top-5 accuracy", _get("metrics", "top5_accuracy")),
    Scalar("worst_class_recall", True, "lowest per-class recall", _get("metrics", "worst_class_recall", "value")),
    Scalar("recall_spread", False, "max − min per-class recall", _get("metrics", "recall_spread")),
    Scalar("sparsity", True, "measured weight sparsity", _get("facts", "sparsity")),
    Scalar("parameter_count", False, "parameters (all floating tensors)", _get("facts", "parameter_count")),
    Scalar("weight_nonzero", False, "non-zero weights", _get("facts", "weight_nonzero")),
    Scalar("file_size_bytes", False, "model file size", _get("facts", "file_size_bytes")),
    Scalar(
        "median_batch_seconds", False, "median batch latency (audit --timings)", _get("timing", "median_batch_seconds")
    ),
    Scalar("accuracy_change", True, "top-1 change vs dense", _get("vs_dense", "accuracy_change"), True),
    Scalar("accuracy_drop", False, "top-1 loss vs dense (−change)", _neg(_get("vs_dense", "accuracy_change")), True),
    Scalar(
        "balanced_accuracy_change", True, "balanced accuracy change", _get("vs_dense", "balanced_accuracy_change"), True
    ),
    Scalar("macro_f1_change", True, "macro-F1 change", _get("vs_dense", "macro_f1_change"), True),
    Scalar(
        "worst_class_change", True, "worst-class recall change", _get("vs_dense", "worst_class_change", "value"), True
    ),
    Scalar(
        "worst_class_drop",
        False,
        "worst-class recall loss (−worst-class change)",
        _neg(_get("vs_dense", "worst_class_change", "value")),
        True,
    ),
    Scalar(
        "recall_change_spread",
        False,
        "max − min per-class recall change",
        _get("vs_dense", "recall_change_spread"),
        True,
    ),
    Scalar("recall_change_std", False, "std of per-class recall change", _get("vs_dense", "recall_change_std"), True),
    Scalar("max_excess_gap", False, "largest excess accuracy gap ψ", _get("vs_dense", "max_excess_gap"), True),
    Scalar("excess_gap_spread", False, "max ψ − min ψ", _get("vs_dense", "excess_gap_spread"), True),
    Scalar("intensification", False, "bias intensification α", _get("vs_dense", "intensification"), True),
    Scalar("harmed_classes", False, "classes losing more than the tolerance", _get("vs_dense", "harmed"), True),
    Scalar(
        "harmed_significant_holm",
        False,
        "significantly harmed classes (McNemar, Holm)",
        _get("vs_dense", "harmed_significant_holm"),
        True,
    ),
    Scalar(
        "harmed_significant_bh",
        False,
        "significantly harmed classes (McNemar, BH)",
        _get("vs_dense", "harmed_significant_bh"),
        True,
    ),
    Scalar(
        "changed_fraction",
        False,
        "share of images whose prediction changed",
        _get("vs_dense", "changed_fraction"),
        True,
    ),
]
SCALARS: dict[str, Scalar] = {s.name: s for s in _TABLE}


def model_value(model: dict[str, Any], name: str) -> float | None:
    """The named scalar of one model entry of results.json (None when undefined)."""
    return SCALARS[name].read(model)
