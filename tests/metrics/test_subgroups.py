"""Grouped metrics against fairlearn's MetricFrame on the same predictions."""

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from pruneaudit.metrics import class_metrics, grouped_confusion_counts, groupings


@pytest.fixture
def data(rng):
    n = 6000
    y = rng.integers(0, 6, n)
    dense = np.where(rng.random(n) < 0.9, y, rng.integers(0, 6, n))
    pruned = np.where(rng.random(n) < 0.8, dense, rng.integers(0, 6, n))
    attrs = {"site": rng.choice(np.array(["a", "b", "c"]), n), "age": rng.integers(0, 4, n)}
    return y, dense, pruned, attrs


def test_groupings_and_intersections(data):
    *_, attrs = data
    gs = groupings(attrs)
    assert [g.name for g in gs] == ["age", "site", "age × site"]
    assert gs[1].labels == ("a", "b", "c")
    inter = gs[2]
    assert len(inter.labels) == 12 and inter.labels[0] == "0 × a"
    for k, label in enumerate(inter.labels):
        age, site = label.split(" × ")
        sel = (attrs["age"].astype(str) == age) & (attrs["site"] == site)
        assert np.array_equal(inter.ids == k, sel)


def test_group_metrics_match_fairlearn(data):
    y, dense, pruned, attrs = data
    for g in groupings(attrs):
        features = pd.Series(np.array(g.labels)[g.ids], name="group")
        frames = {
            name: MetricFrame(
                metrics={"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score},
                y_true=y,
                y_pred=pred,
                sensitive_features=features,
            ).by_group
            for name, pred in (("dense", dense), ("pruned", pruned))
        }
        for name, pred in (("dense", dense), ("pruned", pruned)):
            cms = grouped_confusion_counts(y, pred, groups=g.ids, n_classes=6, n_groups=len(g.labels))
            for k, label in enumerate(g.labels):
                m = class_metrics(cms[k])
                assert m.accuracy == pytest.approx(frames[name].loc[label, "accuracy"])
                assert m.balanced_accuracy == pytest.approx(frames[name].loc[label, "balanced_accuracy"])
        change = frames["pruned"]["accuracy"] - frames["dense"]["accuracy"]
        for k, label in enumerate(g.labels):
            d = class_metrics(grouped_confusion_counts(y, dense, groups=g.ids, n_classes=6, n_groups=len(g.labels))[k])
            p = class_metrics(grouped_confusion_counts(y, pruned, groups=g.ids, n_classes=6, n_groups=len(g.labels))[k])
            assert p.accuracy - d.accuracy == pytest.approx(change[label])
