"""The seed study's relations against scipy (spearmanr, linregress) and a pandas recomputation of the pooled changes."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pruneaudit.analyses import (
    average_ranks,
    rank_correlation,
    recall_disparity,
    representation,
    rich_get_richer,
    subgroup_disparity,
    trend,
)
from pruneaudit.results import load_results, parse_results


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(-4, 4)), min_size=3, max_size=30))
def test_rank_correlation_is_scipys_spearmanr(pairs):
    """Integer values: many ties, which scipy ranks by their average too."""
    x, y = (np.array(v, dtype=float) for v in zip(*pairs))
    got = rank_correlation(x, y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert got.rho is None and got.p is None
        return
    want = stats.spearmanr(x, y)
    assert got.rho == pytest.approx(want.statistic, abs=1e-12)
    assert got.p == pytest.approx(want.pvalue, rel=1e-9, abs=1e-15)


def test_average_ranks_are_scipys_rankdata():
    v = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    assert average_ranks(v).tolist() == stats.rankdata(v).tolist()


def test_trend_is_scipys_linregress():
    rng = np.random.default_rng(0)
    x = rng.random(40)
    y = 0.3 - 2.0 * x + rng.normal(0, 0.1, 40)
    got, want = trend(x, y), stats.linregress(x, y)
    assert (got.slope, got.intercept) == pytest.approx((want.slope, want.intercept), rel=1e-12)
    assert trend(np.ones(4), y[:4]).slope is None


def _pooled(view) -> pd.DataFrame:
    """Per configuration and class: the mean recall change over its models (pandas, from the raw arrays)."""
    rows = []
    for m in view.pruned:
        for c, change in enumerate(m.vs_dense.per_class.recall_change):
            rows.append({"technique": m.technique, "amount": m.amount, "class": c, "change": change})
    return pd.DataFrame(rows).groupby(["technique", "amount", "class"])["change"].mean()


def test_representation_relates_the_pooled_change_to_the_training_share(sample_view):
    relations = representation(sample_view)
    counts = np.array(sample_view.data.train_class_counts, dtype=float)
    pooled = _pooled(sample_view)
    assert len(relations) == len(sample_view.configurations)
    for r in relations:
        y = pooled.loc[(r.technique, r.amount)].to_numpy()
        assert r.x == pytest.approx(tuple(counts / counts.sum()))
        assert r.y == pytest.approx(tuple(y))
        want = stats.spearmanr(counts, y)
        assert r.correlation.rho == pytest.approx(want.statistic) and r.correlation.p == pytest.approx(want.pvalue)
    random = [r for r in relations if len(r.models) == 2]
    assert random, "the random configurations pool two seeds"


def test_representation_needs_training_counts(sample_results):
    results = copy.deepcopy(sample_results)
    results["data"]["train_class_counts"] = None
    assert representation(parse_results(results)) is None


def test_rich_get_richer_relates_the_change_to_the_dense_recall(sample_view):
    relations = rich_get_richer(sample_view)
    dense = np.array(sample_view.dense.per_class.recall, dtype=float)
    pooled = _pooled(sample_view)
    for r in relations:
        y = pooled.loc[(r.technique, r.amount)].to_numpy()
        want = stats.linregress(dense, y)
        assert (r.trend.slope, r.trend.intercept) == pytest.approx((want.slope, want.intercept))
        assert r.correlation.rho == pytest.approx(stats.spearmanr(dense, y).statistic)


def test_disparities_are_fairlearns_difference_and_ratio(tmp_path):
    """Saved predictions with a subgroup attribute, audited through the CLI; Fairlearn's MetricFrame on the same
    predictions: per-class recall (the true class as the group) and top-1 per site, between groups."""
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    from tests.conftest import run_cli

    rng = np.random.default_rng(7)
    rows, classes = 600, 5
    labels = rng.integers(0, classes, rows)
    site = rng.choice(np.array(["a", "b", "c"]), rows)
    np.savez(tmp_path / "data.npz", images=np.zeros((rows, 1, 1, 1), np.uint8), labels=labels, site=site)
    preds = {}
    for name, p in (("dense", 0.05), ("p1", 0.2), ("p2", 0.4)):
        wrong = rng.random(rows) < p * (1 + (labels == 2)) * (1 + (site == "c"))
        preds[name] = np.where(wrong, rng.integers(0, classes, rows), labels)
        np.savez(tmp_path / f"{name}.npz", predictions=preds[name])
    (tmp_path / "audit.yaml").write_text(
        "data: {path: data.npz, attributes: [site]}\ndense: {path: dense.npz}\n"
        "pruned:\n  - {path: p1.npz, technique: t, amount: 0.5}\n  - {path: p2.npz, technique: t, amount: 0.9}\n"
    )
    result = run_cli(["audit", "--config", str(tmp_path / "audit.yaml"), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 0, result.output
    view = load_results(tmp_path / "out" / "results.json")
    spread = subgroup_disparity(view)
    for m in view.models:
        by_class = MetricFrame(metrics=accuracy_score, y_true=labels, y_pred=preds[m.name], sensitive_features=labels)
        got = recall_disparity(m)
        assert got.difference == pytest.approx(by_class.difference()) and got.ratio == pytest.approx(by_class.ratio())
        by_site = MetricFrame(metrics=accuracy_score, y_true=labels, y_pred=preds[m.name], sensitive_features=site)
        d = spread[("site", m.name)]
        assert d.difference == pytest.approx(by_site.difference()) and d.ratio == pytest.approx(by_site.ratio())
