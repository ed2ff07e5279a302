"""Per-class and disparity metrics on one confusion-count kernel."""

from pruneaudit.metrics.classification import ClassMetrics, class_metrics
from pruneaudit.metrics.counts import confusion_counts
from pruneaudit.metrics.disparity import Disparity, WorstClass, compare, recall_change, spread, worst_class

__all__ = [
    "ClassMetrics",
    "Disparity",
    "WorstClass",
    "class_metrics",
    "compare",
    "confusion_counts",
    "recall_change",
    "spread",
    "worst_class",
]
