"""The seed study's relations against scipy (spearmanr, linregress) and a pandas recomputation of the pooled changes."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pruneaudit.analyses import average_ranks, rank_correlation, representation, rich_get_richer, trend
from pruneaudit.results import parse_results


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
