"""Per-class metrics against scikit-learn on the same predictions, plus hand-computed cases."""

import math

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_recall_fscore_support,
)

from pruneaudit.metrics import class_metrics, confusion_counts


def _sk(y, p, n):
    labels = list(range(n))
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=labels, zero_division=np.nan)
    return prec, rec, f1, sup


@pytest.mark.parametrize("n_classes", [2, 5, 10, 1000])
def test_per_class_matches_sklearn(rng, n_classes):
    y = rng.integers(0, n_classes, 20000)
    # a skilled but imperfect classifier: right 70% of the time
    p = np.where(rng.random(y.size) < 0.7, y, rng.integers(0, n_classes, y.size))
    m = class_metrics(confusion_counts(y, p, n_classes=n_classes))
    prec, rec, f1, sup = _sk(y, p, n_classes)
    np.testing.assert_array_equal(m.support, sup)
    np.testing.assert_allclose(m.recall, rec, equal_nan=True)
    np.testing.assert_allclose(m.precision, prec, equal_nan=True)
    np.testing.assert_allclose(m.f1, f1, equal_nan=True)
    assert m.accuracy == pytest.approx(accuracy_score(y, p))
    assert m.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, p))
    assert m.macro_f1 == pytest.approx(f1_score(y, p, labels=list(range(n_classes)), average="macro"))


def test_zero_support_and_never_predicted_are_undefined_not_zero():
    # class 2 has no images but is predicted once; class 3 neither appears nor is predicted
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 2, 1, 1])
    m = class_metrics(confusion_counts(y, p, n_classes=4))
    assert m.support.tolist() == [2, 2, 0, 0]
    assert m.recall[0] == 0.5 and m.recall[1] == 1.0
    assert math.isnan(m.recall[2]) and math.isnan(m.recall[3])
    assert m.precision[2] == 0.0 and math.isnan(m.precision[3])
    assert m.f1[2] == 0.0 and math.isnan(m.f1[3])
    # balanced accuracy averages only classes with support, like scikit-learn
    assert m.balanced_accuracy == pytest.approx(0.75)
    with pytest.warns(UserWarning):
        assert m.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, p))
    # macro-F1 over classes with a defined F1: (2/3 + 1 + 0) / 3
    assert m.macro_f1 == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_class_absent_from_predictions():
    y = np.array([0, 1, 2, 2])
    p = np.array([0, 0, 0, 0])
    m = class_metrics(confusion_counts(y, p, n_classes=3))
    assert m.recall.tolist() == [1.0, 0.0, 0.0]
    assert m.precision[0] == 0.25 and np.isnan(m.precision[1:]).all()
    prec, rec, f1, _ = _sk(y, p, 3)
    np.testing.assert_allclose(m.precision, prec, equal_nan=True)
    np.testing.assert_allclose(m.f1, f1, equal_nan=True)


def test_empty_data_is_undefined():
    m = class_metrics(np.zeros((3, 3), dtype=np.int64))
    assert math.isnan(m.accuracy) and math.isnan(m.balanced_accuracy) and math.isnan(m.macro_f1)


@pytest.mark.parametrize("n_classes", [3, 10, 100])
def test_fpr_fnr_and_intervals(rng, n_classes):
    from sklearn.metrics import multilabel_confusion_matrix
    from statsmodels.stats.proportion import proportion_confint

    y = rng.integers(0, n_classes, 5000)
    p = np.where(rng.random(y.size) < 0.6, y, rng.integers(0, n_classes, y.size))
    m = class_metrics(confusion_counts(y, p, n_classes=n_classes))
    mcm = multilabel_confusion_matrix(y, p, labels=list(range(n_classes)))
    tn, fp, fn, tp = mcm[:, 0, 0], mcm[:, 0, 1], mcm[:, 1, 0], mcm[:, 1, 1]
    np.testing.assert_allclose(m.fpr, fp / (fp + tn))
    np.testing.assert_allclose(m.fnr, fn / (fn + tp))
    lo, hi = proportion_confint(tp, tp + fn, method="wilson")
    np.testing.assert_allclose(m.recall_interval.low, lo, atol=1e-12)
    np.testing.assert_allclose(m.recall_interval.high, hi, atol=1e-12)
    lo, hi = proportion_confint(fp, fp + tn, method="wilson")
    np.testing.assert_allclose(m.fpr_interval.low, lo, atol=1e-12)
    lo, hi = proportion_confint(tp, tp + fp, method="wilson")
    np.testing.assert_allclose(m.precision_interval.high, hi, atol=1e-12)
