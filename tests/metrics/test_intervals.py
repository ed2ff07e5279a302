import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from pruneaudit.metrics import newcombe_paired_interval, wilson_interval


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (3, 7), (196, 200), (1, 1), (500, 1000)])
def test_wilson_matches_statsmodels(k, n):
    i = wilson_interval(np.array([k]), np.array([n]))
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert i.low[0] == pytest.approx(lo, abs=1e-12) and i.high[0] == pytest.approx(hi, abs=1e-12)


def test_wilson_zero_trials_is_undefined():
    i = wilson_interval(np.array([0]), np.array([0]))
    assert math.isnan(i.low[0]) and math.isnan(i.high[0])


def _newcombe_scalar(a, b, c, d, z=1.959963984540054):
    """Newcombe (1998) method 10, written out step by step from the paper.

    a: both correct, b: dense only, c: pruned only, d: both wrong. Returns the interval
    for p_pruned - p_dense.
    """
    n = a + b + c + d

    def wilson(x):
        p = x / n
        centre = (2 * x + z * z) / (2 * (n + z * z))
        half = z * math.sqrt(z * z + 4 * x * (1 - p)) / (2 * (n + z * z))
        return centre - half, centre + half

    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b)
    l2, u2 = wilson(a + c)
    prod = (a + b) * (c + d) * (a + c) * (b + d)
    ad_bc = a * d - b * c
    if prod == 0:
        phi = 0.0
    elif ad_bc > n / 2:
        phi = (ad_bc - n / 2) / math.sqrt(prod)
    elif ad_bc >= 0:
        phi = 0.0
    else:
        phi = ad_bc / math.sqrt(prod)
    theta = p1 - p2
    lower = theta - math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    upper = theta + math.sqrt((p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2)
    return -upper, -lower


@pytest.mark.parametrize(
    "cells",
    [(12, 2, 1, 6), (59, 6, 16, 80), (1, 1, 7, 12), (190, 8, 1, 1), (0, 5, 0, 0), (50, 0, 0, 0), (3, 3, 3, 3)],
)
def test_newcombe_matches_the_paper_formula(cells):
    a, b, c, d = cells
    table = np.array([[[d, c], [b, a]]])  # [dense correct][pruned correct]
    i = newcombe_paired_interval(table)
    lo, hi = _newcombe_scalar(a, b, c, d)
    assert i.low[0] == pytest.approx(lo, abs=1e-12) and i.high[0] == pytest.approx(hi, abs=1e-12)
    diff = (c - b) / (a + b + c + d)
    assert i.low[0] - 1e-12 <= diff <= i.high[0] + 1e-12
    assert -1 - 1e-12 <= i.low[0] and i.high[0] <= 1 + 1e-12


def test_newcombe_published_value():
    # Fagerland, Lydersen & Laake (2017), ch. 8, Cavo et al. (2012) data [[59, 6], [16, 80]]
    # (rows before, columns after): estimate -0.0621, square-and-add 95% CI -0.1186 to -0.0046,
    # as asserted by the contingencytables R package's tests. "Dense" = before, "pruned" = after;
    # we report pruned - dense, so the signs flip.
    table = np.array([[[80, 16], [6, 59]]])
    i = newcombe_paired_interval(table)
    assert round(float(i.low[0]), 4) == 0.0046 and round(float(i.high[0]), 4) == 0.1186


def test_newcombe_no_images_is_undefined():
    i = newcombe_paired_interval(np.zeros((1, 2, 2)))
    assert math.isnan(i.low[0]) and math.isnan(i.high[0])
