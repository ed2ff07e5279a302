"""Per-class and disparity metrics on one count kernel (`np.bincount`)."""

from pruneaudit.metrics.classification import ClassMetrics, class_metrics
from pruneaudit.metrics.counts import (
    changed_counts,
    confusion_counts,
    grouped_confusion_counts,
    grouped_paired_counts,
    paired_counts,
)
from pruneaudit.metrics.disparity import (
    DEFAULT_ALPHA,
    DEFAULT_TOLERANCE,
    Disparity,
    WorstClass,
    compare,
    intensification,
    normalised_bias,
    recall_change,
    spread,
    worst_class,
)
from pruneaudit.metrics.exemplars import (
    disagreement,
    modal_prediction,
    pie_mask,
    rank_pies,
)
from pruneaudit.metrics.intervals import (
    Interval,
    newcombe_paired_interval,
    wilson_interval,
)
from pruneaudit.metrics.significance import (
    TTest,
    benjamini_hochberg,
    holm,
    mcnemar_exact,
    normalised_population_ttest,
    population_ttest,
)
from pruneaudit.metrics.subgroups import Grouping, groupings

__all__ = [
    # counts
    "changed_counts",
    "confusion_counts",
    "grouped_confusion_counts",
    "grouped_paired_counts",
    "paired_counts",
    # one model
    "ClassMetrics",
    "class_metrics",
    # pruned vs dense
    "DEFAULT_ALPHA",
    "DEFAULT_TOLERANCE",
    "Disparity",
    "WorstClass",
    "compare",
    "intensification",
    "normalised_bias",
    "recall_change",
    "spread",
    "worst_class",
    # intervals and tests
    "Interval",
    "TTest",
    "benjamini_hochberg",
    "holm",
    "mcnemar_exact",
    "newcombe_paired_interval",
    "normalised_population_ttest",
    "population_ttest",
    "wilson_interval",
    # exemplars and subgroups
    "Grouping",
    "disagreement",
    "groupings",
    "modal_prediction",
    "pie_mask",
    "rank_pies",
]
