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
