"""The scalar metrics of a model in results.json, by one flat name each.

Gate rules (`pruneaudit check`) and operating-point objectives (`pruneaudit select`) both
name metrics from this table, so a name means the same thing everywhere. ``higher`` says
which direction is better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pruneaudit.results import Model
from pruneaudit.results.view import Comparison

Reader = Callable[[Model], "float | int | None"]


@dataclass(frozen=True)
class Scalar:
    name: str
    higher_is_better: bool
    description: str
    read: Reader
    pruned_only: bool = False  # defined only relative to the dense model


def _vs(read: Callable[[Comparison], float | int | None]) -> Reader:
    """A value of the comparison with the dense model; None for the dense model itself."""
    return lambda m: None if m.vs_dense is None else read(m.vs_dense)


def _neg(read: Reader) -> Reader:
    def negated(model: Model) -> float | None:
        v = read(model)
        return None if v is None else -v

    return negated


_TABLE = [
    Scalar("accuracy", True, "top-1 accuracy", lambda m: m.metrics.accuracy),
    Scalar("balanced_accuracy", True, "mean per-class recall", lambda m: m.metrics.balanced_accuracy),
    Scalar("macro_f1", True, "mean per-class F1", lambda m: m.metrics.macro_f1),
    Scalar("top5_accuracy", True, "top-5 accuracy", lambda m: m.metrics.top5_accuracy),
    Scalar("worst_class_recall", True, "lowest per-class recall", lambda m: m.metrics.worst_class_recall.value),
    Scalar("recall_spread", False, "max − min per-class recall", lambda m: m.metrics.recall_spread),
    Scalar("sparsity", True, "measured weight sparsity", lambda m: m.facts.sparsity),
    Scalar("parameter_count", False, "parameters (all floating tensors)", lambda m: m.facts.parameter_count),
    Scalar("weight_nonzero", False, "non-zero weights", lambda m: m.facts.weight_nonzero),
    Scalar("file_size_bytes", False, "model file size", lambda m: m.facts.file_size_bytes),
    Scalar(
        "median_batch_seconds",
        False,
        "median batch latency (audit --timings)",
        lambda m: None if m.timing is None else m.timing.median_batch_seconds,
    ),
    Scalar("accuracy_change", True, "top-1 change vs dense", _vs(lambda c: c.accuracy_change), True),
    Scalar("accuracy_drop", False, "top-1 loss vs dense (−change)", _neg(_vs(lambda c: c.accuracy_change)), True),
    Scalar(
        "balanced_accuracy_change", True, "balanced accuracy change", _vs(lambda c: c.balanced_accuracy_change), True
    ),
    Scalar("macro_f1_change", True, "macro-F1 change", _vs(lambda c: c.macro_f1_change), True),
    Scalar("worst_class_change", True, "worst-class recall change", _vs(lambda c: c.worst_class_change.value), True),
    Scalar(
        "worst_class_drop",
        False,
        "worst-class recall loss (−worst-class change)",
        _neg(_vs(lambda c: c.worst_class_change.value)),
        True,
    ),
    Scalar(
        "recall_change_spread",
        False,
        "max − min per-class recall change",
        _vs(lambda c: c.recall_change_spread),
        True,
    ),
    Scalar("recall_change_std", False, "std of per-class recall change", _vs(lambda c: c.recall_change_std), True),
    Scalar("max_excess_gap", False, "largest excess accuracy gap ψ", _vs(lambda c: c.max_excess_gap), True),
    Scalar("excess_gap_spread", False, "max ψ − min ψ", _vs(lambda c: c.excess_gap_spread), True),
    Scalar("intensification", False, "bias intensification α", _vs(lambda c: c.intensification), True),
    Scalar("harmed_classes", False, "classes losing more than the tolerance", _vs(lambda c: c.harmed), True),
    Scalar(
        "harmed_significant_holm",
        False,
        "significantly harmed classes (McNemar, Holm)",
        _vs(lambda c: c.harmed_significant_holm),
        True,
    ),
    Scalar(
        "harmed_significant_bh",
        False,
        "significantly harmed classes (McNemar, BH)",
        _vs(lambda c: c.harmed_significant_bh),
        True,
    ),
    Scalar(
        "changed_fraction",
        False,
        "share of images whose prediction changed",
        _vs(lambda c: c.changed_fraction),
        True,
    ),
]
SCALARS: dict[str, Scalar] = {s.name: s for s in _TABLE}


def model_value(model: Model, name: str) -> float | None:
    """The named scalar of one model (None when undefined), as a float whatever its JSON type."""
    value = SCALARS[name].read(model)
    return None if value is None else float(value)
