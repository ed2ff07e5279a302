"""Confidence intervals for proportions and for paired differences of proportions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri  # scipy.stats' norm.ppf, without importing scipy.stats (1+ s)


@dataclass(frozen=True)
class Interval:
    low: np.ndarray
    high: np.ndarray


def _z(confidence: float) -> float:
    return float(ndtri(0.5 + confidence / 2))


def wilson_interval(k: np.ndarray, n: np.ndarray, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval for k successes in n trials (Wilson 1927); NaN where n = 0."""
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return Interval(low=low, high=high)


def newcombe_paired_interval(table: np.ndarray, *, confidence: float = 0.95) -> Interval:
    """Interval for p_pruned − p_dense from paired 2×2 tables (..., 2, 2).

    ``table[..., i, j]``: i = dense correct, j = pruned correct. Newcombe (1998), method 10:
    square-and-add of the two Wilson intervals with the corrected phi coefficient
    (phi* = (AD − BC − N/2)/√… when AD − BC > N/2, 0 when 0 ≤ AD − BC ≤ N/2).
    NaN where the class has no images.
    """
    t = np.asarray(table, dtype=np.float64)
    both_wrong, pruned_only = t[..., 0, 0], t[..., 0, 1]
    dense_only, both_right = t[..., 1, 0], t[..., 1, 1]
    n = both_wrong + pruned_only + dense_only + both_right
    k1 = both_right + dense_only  # dense correct
    k2 = both_right + pruned_only  # pruned correct
    w1, w2 = wilson_interval(k1, n, confidence=confidence), wilson_interval(k2, n, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n, k2 / n
        marginals = k1 * (n - k1) * k2 * (n - k2)
        a = both_right * both_wrong - dense_only * pruned_only
        num = np.where(a > n / 2, a - n / 2, np.where(a < 0, a, 0.0))
        phi = np.where(marginals > 0, num / np.sqrt(marginals), 0.0)
        # Interval for theta = p1 - p2, then negated for p2 - p1.
        d_low = np.sqrt((p1 - w1.low) ** 2 - 2 * phi * (p1 - w1.low) * (w2.high - p2) + (w2.high - p2) ** 2)
        d_high = np.sqrt((p2 - w2.low) ** 2 - 2 * phi * (p2 - w2.low) * (w1.high - p1) + (w1.high - p1) ** 2)
    theta = p1 - p2
    return Interval(low=-(theta + d_high), high=-(theta - d_low))
