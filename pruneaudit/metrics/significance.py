"""Paired and population significance tests, and multiple-comparison corrections.

All functions are vectorised over classes; NaN marks a class that could not be tested
(no images) and is excluded from the correction's family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special  # not scipy.stats: importing it costs a second of every audit


def mcnemar_exact(dense_only: np.ndarray, pruned_only: np.ndarray) -> np.ndarray:
    """Two-sided exact McNemar p-values from the discordant counts.

    Under H0 the b = dense-only-correct images are Binomial(b + c, 1/2); with p = 1/2 the
    two-sided exact p-value is min(1, 2·P(X ≤ min(b, c))), and 1 when b + c = 0.
    P(X ≤ k) for X ~ Binomial(n, 1/2) is the complemented regularised incomplete beta
    function 1 - I_{1/2}(k + 1, n - k) (Boost's ibetac; k < n here, as k ≤ n/2 and n ≥ 1),
    equal to scipy.stats.binom.cdf to within 1e-14.
    """
    b, c = np.asarray(dense_only, dtype=np.float64), np.asarray(pruned_only, dtype=np.float64)
    n, k = b + c, np.minimum(b, c)
    with np.errstate(invalid="ignore"):
        p = np.minimum(1.0, 2.0 * special.betaincc(k + 1.0, n - k, 0.5))
    return np.where(n > 0, p, 1.0)


def _adjust(p: np.ndarray, step: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """Apply a step-wise correction to the defined p-values, sorted ascending; NaN stays NaN.

    ``step(sorted_p, m)`` returns the adjusted values in sorted order; they are capped at 1 and
    put back in the original order. Ties keep their input order (stable sort).
    """
    p = np.asarray(p, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    if q.size:
        order = np.argsort(q, kind="stable")
        res = np.empty(q.size)
        res[order] = np.minimum(step(q[order], q.size), 1.0)
        out[ok] = res
    return out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; NaN entries stay NaN and are not counted."""
    return _adjust(p, lambda q, m: np.maximum.accumulate((m - np.arange(m)) * q))


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg (1995) adjusted p-values (q-values); NaN entries stay NaN."""
    return _adjust(p, lambda q, m: np.minimum.accumulate((q * m / np.arange(1, m + 1))[::-1])[::-1])


@dataclass(frozen=True)
class TTest:
    statistic: np.ndarray
    pvalue: np.ndarray
    method: str  # "welch" or "one-sample"


def population_ttest(dense: np.ndarray, pruned: np.ndarray) -> TTest:
    """Per-class test of mean recall, dense population vs pruned population (Hooker et al.).

    ``dense`` is (k_dense, C), ``pruned`` (k_pruned, C), one row per trained model. With two or
    more dense models: Welch's unequal-variance t-test. With one dense model its recall is a
    fixed reference and the pruned seeds get a one-sample t-test against it. NaN where a test
    is undefined (fewer than two pruned models, zero variance, or a class without images).
    The statistic is signed pruned − dense: negative means pruning lowered the class's recall.
    """
    dense, pruned = np.atleast_2d(dense), np.atleast_2d(pruned)
    with np.errstate(divide="ignore", invalid="ignore"):
        if dense.shape[0] >= 2:
            m1, m2 = dense.mean(0), pruned.mean(0)
            v1, v2 = dense.var(0, ddof=1) / dense.shape[0], pruned.var(0, ddof=1) / pruned.shape[0]
            t = (m2 - m1) / np.sqrt(v1 + v2)
            df = (v1 + v2) ** 2 / (v1**2 / (dense.shape[0] - 1) + v2**2 / (pruned.shape[0] - 1))
            method = "welch"
        else:
            k = pruned.shape[0]
            se = pruned.std(0, ddof=1) / np.sqrt(k) if k >= 2 else np.full(pruned.shape[1], np.nan)
            t = (pruned.mean(0) - dense[0]) / se
            df = np.full(pruned.shape[1], k - 1.0)
            method = "one-sample"
        p = 2 * special.stdtr(df, -np.abs(t))  # Student's t survival function, as scipy.stats.t.sf
    return TTest(statistic=t, pvalue=np.where(np.isfinite(t), p, np.nan), method=method)


def normalised_population_ttest(
    *, dense_recall: np.ndarray, dense_accuracy: np.ndarray, pruned_recall: np.ndarray, pruned_accuracy: np.ndarray
) -> TTest:
    """Hooker et al.'s per-class population test: did the class change more than the models did overall?

    Each population's class recalls are normalised by subtracting that population's mean top-1
    accuracy (``recall - mean_accuracy`` per sparsity level, as in their released
    ``gen_tstatistic.py``), then compared as in `population_ttest`. A class whose recall fell
    exactly as much as the models' accuracy is not flagged; raw recall would flag every class of a
    model that lost accuracy evenly. ``*_recall`` is (k, C), ``*_accuracy`` (k,).
    """
    return population_ttest(
        np.atleast_2d(dense_recall) - np.mean(dense_accuracy),
        np.atleast_2d(pruned_recall) - np.mean(pruned_accuracy),
    )
