import math

import numpy as np
import pytest
from sklearn.metrics import recall_score

from pruneaudit.metrics import class_metrics, compare, confusion_counts, spread, worst_class


def _compare(y, dense, pruned, n):
    d = class_metrics(confusion_counts(y, dense, n_classes=n))
    p = class_metrics(confusion_counts(y, pruned, n_classes=n))
    return compare(dense=d, pruned=p, dense_pred=dense, pruned_pred=pruned)


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
