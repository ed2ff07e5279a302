import math

import numpy as np
import pytest
from sklearn.metrics import recall_score

from pruneaudit.metrics import (
    class_metrics,
    compare,
    confusion_counts,
    spread,
    worst_class,
)


def _compare(y, dense, pruned, n):
    return _pair(y, dense, pruned, n)[2]


def test_hand_computed_pair():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    dense = np.array([0, 0, 0, 1, 1, 1, 2, 2])  # recall 3/4, 1, 1
    pruned = np.array([0, 1, 1, 1, 1, 1, 2, 0])  # recall 1/4, 1, 1/2
    d = _compare(y, dense, pruned, 3)
    np.testing.assert_allclose(d.recall_change, [-0.5, 0.0, -0.5])
    assert d.worst_class_change.index == 0  # tie between classes 0 and 2: lowest index wins
    assert d.worst_class_change.value == pytest.approx(-0.5)
    assert d.recall_change_spread == pytest.approx(0.5)
    assert d.changed_predictions == 3 and d.changed_fraction == pytest.approx(3 / 8)
    assert d.accuracy_change == pytest.approx(4 / 8 - 7 / 8)


@pytest.mark.parametrize("n_classes", [10, 1000])
def test_recall_change_matches_sklearn(rng, n_classes):
    y = rng.integers(0, n_classes, 30000)
    dense = np.where(rng.random(y.size) < 0.9, y, rng.integers(0, n_classes, y.size))
    pruned = np.where(rng.random(y.size) < 0.8, dense, rng.integers(0, n_classes, y.size))
    d = _compare(y, dense, pruned, n_classes)
    labels = list(range(n_classes))
    want = recall_score(y, pruned, labels=labels, average=None, zero_division=np.nan) - recall_score(
        y, dense, labels=labels, average=None, zero_division=np.nan
    )
    np.testing.assert_allclose(d.recall_change, want, equal_nan=True)
    assert d.worst_class_change.value == pytest.approx(np.nanmin(want))
    assert d.worst_class_change.index == int(np.nanargmin(want))
    assert d.recall_change_spread == pytest.approx(np.nanmax(want) - np.nanmin(want))
    assert d.changed_predictions == int((dense != pruned).sum())


def test_zero_support_class_is_skipped():
    y = np.array([0, 0, 1, 1])  # class 2 has no images
    d = _compare(y, np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1]), 3)
    assert math.isnan(d.recall_change[2])
    assert d.worst_class_change.index == 0 and d.worst_class_change.value == -0.5


def test_all_undefined():
    values = np.array([np.nan, np.nan])
    assert worst_class(values).index == -1 and math.isnan(worst_class(values).value)
    assert math.isnan(spread(values))


def _pair(y, dense, pruned, n, **kw):
    from pruneaudit.metrics import paired_counts

    d = class_metrics(confusion_counts(y, dense, n_classes=n))
    p = class_metrics(confusion_counts(y, pruned, n_classes=n))
    paired = paired_counts(y, dense, pruned, n_classes=n)
    return d, p, compare(dense=d, pruned=p, paired=paired, changed=int((dense != pruned).sum()), **kw)


def test_published_definitions_by_hand():
    # 10 images: class 0 (4), class 1 (4), class 2 (2)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    dense = np.array([0, 0, 0, 0, 1, 1, 1, 0, 2, 0])  # recall 1, 3/4, 1/2; acc 8/10
    pruned = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, 0])  # recall 3/4, 1, 0; acc 7/10
    d, p, dis = _pair(y, dense, pruned, 3, tolerance=0.1)
    np.testing.assert_allclose(dis.recall_change, [-0.25, 0.25, -0.5])
    # Hooker: (R_p - A_p) - (R_d - A_d)
    np.testing.assert_allclose(
        dis.normalised_change, [(0.75 - 0.7) - (1 - 0.8), (1 - 0.7) - (0.75 - 0.8), (0 - 0.7) - (0.5 - 0.8)]
    )
    # Hashemizadeh: psi = (R_d - R_p) - (A_d - A_p), positive = hurt more than overall
    np.testing.assert_allclose(dis.excess_gap, [0.25 - 0.1, -0.25 - 0.1, 0.5 - 0.1])
    assert dis.max_excess_gap == pytest.approx(0.4)
    assert dis.excess_gap_spread == pytest.approx(0.75)
    assert dis.recall_change_std == pytest.approx(np.std([-0.25, 0.25, -0.5]))
    # Good et al.: B = (R - A)/A, alpha = sum(Bd*Bp)/sum(Bd^2)
    bd = (np.array([1, 0.75, 0.5]) - 0.8) / 0.8
    bp = (np.array([0.75, 1, 0.0]) - 0.7) / 0.7
    assert dis.intensification == pytest.approx(np.sum(bd * bp) / np.sum(bd**2))
    assert (dis.harmed, dis.helped) == (2, 1)
    # discordant cells: class 0 one dense-only; class 1 one pruned-only; class 2 one dense-only
    assert dis.dense_only.tolist() == [1, 0, 1] and dis.pruned_only.tolist() == [0, 1, 0]
    np.testing.assert_allclose(dis.mcnemar_p, [1.0, 1.0, 1.0])
    assert dis.harmed_significant_holm == 0


def test_significant_harm_is_counted(rng):
    n = 3000
    y = rng.integers(0, 3, n)
    dense = y.copy()
    pruned = y.copy()
    hit = np.flatnonzero(y == 2)[:200]  # class 2 loses 200 images: clearly significant
    pruned[hit] = 0
    _, _, dis = _pair(y, dense, pruned, 3)
    assert dis.harmed_significant_holm == 1 and dis.harmed_significant_bh == 1
    assert dis.mcnemar_p_holm[2] < 1e-10
    assert dis.recall_change_interval.high[2] < 0 < dis.recall_change_interval.high[0] + 1e-12


def test_zero_accuracy_bias_is_undefined():
    y = np.array([0, 1])
    _, _, dis = _pair(y, np.array([1, 0]), np.array([1, 0]), 2)
    assert math.isnan(dis.intensification)
