import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from pruneaudit.errors import DataError
from pruneaudit.metrics import confusion_counts


@pytest.mark.parametrize("n_classes", [2, 3, 10, 1000])
def test_counts_match_sklearn(rng, n_classes):
    y, p = rng.integers(0, n_classes, size=(2, 5000))
    want = confusion_matrix(y, p, labels=list(range(n_classes)))
    np.testing.assert_array_equal(confusion_counts(y, p, n_classes=n_classes), want)


def test_hand_computed():
    y = np.array([0, 0, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 2, 0, 2])
    want = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    np.testing.assert_array_equal(confusion_counts(y, p, n_classes=3), want)


def test_empty_input_gives_zero_counts():
    cm = confusion_counts(np.array([], dtype=int), np.array([], dtype=int), n_classes=3)
    assert cm.shape == (3, 3) and cm.sum() == 0


def test_out_of_range_label_names_the_value():
    with pytest.raises(DataError, match=r"labels must lie in \[0, 3\); received \[5\]"):
        confusion_counts(np.array([0, 5]), np.array([0, 1]), n_classes=3)


def test_shape_mismatch():
    with pytest.raises(DataError, match="shapes"):
        confusion_counts(np.array([0, 1]), np.array([0]), n_classes=3)


def test_grouped_counts_equal_per_group_counts(rng):
    from pruneaudit.metrics import (
        grouped_confusion_counts,
        grouped_paired_counts,
        paired_counts,
    )

    y, d, p = rng.integers(0, 7, size=(3, 4000))
    g = rng.integers(0, 5, 4000)
    grouped = grouped_confusion_counts(y, p, groups=g, n_classes=7, n_groups=5)
    paired = grouped_paired_counts(y, d, p, groups=g, n_classes=7, n_groups=5)
    for k in range(5):
        sel = g == k
        np.testing.assert_array_equal(grouped[k], confusion_matrix(y[sel], p[sel], labels=list(range(7))))
        np.testing.assert_array_equal(paired[k], paired_counts(y[sel], d[sel], p[sel], n_classes=7))


def test_paired_counts_by_hand():
    from pruneaudit.metrics import paired_counts

    y = np.array([0, 0, 0, 1])
    d = np.array([0, 0, 1, 1])
    p = np.array([0, 1, 0, 0])
    t = paired_counts(y, d, p, n_classes=2)
    assert t[0].tolist() == [[0, 1], [1, 1]]  # [dense wrong: (both wrong, pruned only)], [dense right: ...]
    assert t[1].tolist() == [[0, 0], [1, 0]]
