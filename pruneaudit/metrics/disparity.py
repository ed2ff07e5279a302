"""How a pruned model differs from the dense one, class by class, on the same images.

Definitions (docs/metrics.md), with Δ_c = recall_c(pruned) − recall_c(dense) and
A = top-1 accuracy:
- normalised change (Hooker et al. 2019): (R_c,p − A_p) − (R_c,d − A_d);
- excess accuracy gap (Hashemizadeh et al. 2023): ψ_c = (R_c,d − R_c,p) − (A_d − A_p),
  positive when class c lost more than the model did overall;
- normalised bias (Good et al. 2022): B̄_c = (R_c − A)/A per model, and the
  intensification α = Σ B̄_c,d·B̄_c,p / Σ B̄_c,d² (α > 1: pruning amplifies the imbalance);
- exact McNemar test per class on the discordant images, Holm and Benjamini–Hochberg
  corrected over the classes with images.
Classes without images are undefined (NaN) and skipped by every min, max, sum and count;
ties for the worst class go to the lowest class index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pruneaudit.defaults import DEFAULT_ALPHA, DEFAULT_TOLERANCE
from pruneaudit.metrics.classification import ClassMetrics, ratio
from pruneaudit.metrics.intervals import Interval, newcombe_paired_interval
from pruneaudit.metrics.significance import benjamini_hochberg, holm, mcnemar_exact


@dataclass(frozen=True)
class WorstClass:
    index: int
    value: float


@dataclass(frozen=True)
class Disparity:
    accuracy_change: float
    balanced_accuracy_change: float
    macro_f1_change: float
    recall_change: np.ndarray  # Δ_c
    recall_change_interval: Interval  # Newcombe paired 95%
    worst_class_change: WorstClass  # most negative Δ_c
    recall_change_spread: float  # max Δ_c − min Δ_c
    recall_change_std: float  # population std of Δ_c over classes with images
    normalised_change: np.ndarray
    excess_gap: np.ndarray  # ψ_c
    max_excess_gap: float
    excess_gap_spread: float  # max ψ − min ψ
    bias_dense: np.ndarray
    bias_pruned: np.ndarray
    intensification: float  # α
    harmed: int  # Δ_c < −tolerance
    helped: int  # Δ_c > +tolerance
    dense_only: np.ndarray  # per class: dense right, pruned wrong
    pruned_only: np.ndarray  # per class: pruned right, dense wrong
    mcnemar_p: np.ndarray
    mcnemar_p_holm: np.ndarray
    mcnemar_p_bh: np.ndarray
    harmed_significant_holm: int  # Holm-adjusted p < alpha and dense_only > pruned_only
    harmed_significant_bh: int
    changed_predictions: int  # images whose predicted class differs from dense
    changed_fraction: float
    tolerance: float
    alpha: float


def recall_change(*, dense: ClassMetrics, pruned: ClassMetrics) -> np.ndarray:
    return pruned.recall - dense.recall


def worst_class(values: np.ndarray) -> WorstClass:
    """Smallest defined value and its class (first on ties); index −1 and NaN when none is defined."""
    if np.all(np.isnan(values)):
        return WorstClass(index=-1, value=float("nan"))
    i = int(np.nanargmin(values))
    return WorstClass(index=i, value=float(values[i]))


def spread(values: np.ndarray) -> float:
    """max − min over defined values."""
    if np.all(np.isnan(values)):
        return float("nan")
    return float(np.nanmax(values) - np.nanmin(values))


def normalised_bias(m: ClassMetrics) -> np.ndarray:
    """B̄_c = (R_c − A)/A (Good et al. 2022)."""
    return ratio(m.recall - m.accuracy, np.full_like(m.recall, m.accuracy))


def intensification(bias_dense: np.ndarray, bias_pruned: np.ndarray) -> float:
    """α = Σ B̄_d·B̄_p / Σ B̄_d² over classes where both are defined; NaN if Σ B̄_d² = 0."""
    ok = ~np.isnan(bias_dense) & ~np.isnan(bias_pruned)
    den = float(np.sum(bias_dense[ok] ** 2))
    return float(np.sum(bias_dense[ok] * bias_pruned[ok]) / den) if den > 0 else float("nan")


def _max(values: np.ndarray) -> float:
    return float(np.nanmax(values)) if np.any(~np.isnan(values)) else float("nan")


def compare(
    *,
    dense: ClassMetrics,
    pruned: ClassMetrics,
    paired: np.ndarray,
    changed: int,
    tolerance: float = DEFAULT_TOLERANCE,
    alpha: float = DEFAULT_ALPHA,
) -> Disparity:
    """All pruned-vs-dense numbers from the two models' metrics and their (C, 2, 2) paired counts."""
    delta = recall_change(dense=dense, pruned=pruned)
    has_images = dense.support > 0
    psi = (dense.recall - pruned.recall) - (dense.accuracy - pruned.accuracy)
    b_dense, b_pruned = normalised_bias(dense), normalised_bias(pruned)
    dense_only, pruned_only = paired[:, 1, 0], paired[:, 0, 1]
    p = np.where(has_images, mcnemar_exact(dense_only, pruned_only), np.nan)
    p_holm, p_bh = holm(p), benjamini_hochberg(p)
    worse = dense_only > pruned_only
    n = dense.n_samples
    return Disparity(
        accuracy_change=pruned.accuracy - dense.accuracy,
        balanced_accuracy_change=pruned.balanced_accuracy - dense.balanced_accuracy,
        macro_f1_change=pruned.macro_f1 - dense.macro_f1,
        recall_change=delta,
        recall_change_interval=newcombe_paired_interval(paired),
        worst_class_change=worst_class(delta),
        recall_change_spread=spread(delta),
        recall_change_std=float(np.nanstd(delta)) if np.any(has_images) else float("nan"),
        normalised_change=(pruned.recall - pruned.accuracy) - (dense.recall - dense.accuracy),
        excess_gap=psi,
        max_excess_gap=_max(psi),
        excess_gap_spread=spread(psi),
        bias_dense=b_dense,
        bias_pruned=b_pruned,
        intensification=intensification(b_dense, b_pruned),
        harmed=int(np.sum(delta[has_images] < -tolerance)),
        helped=int(np.sum(delta[has_images] > tolerance)),
        dense_only=dense_only,
        pruned_only=pruned_only,
        mcnemar_p=p,
        mcnemar_p_holm=p_holm,
        mcnemar_p_bh=p_bh,
        harmed_significant_holm=int(np.sum((p_holm < alpha) & worse)),
        harmed_significant_bh=int(np.sum((p_bh < alpha) & worse)),
        changed_predictions=changed,
        changed_fraction=changed / n if n else float("nan"),
        tolerance=tolerance,
        alpha=alpha,
    )
