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
    rich_get_richer_per_model,
    subgroup_disparity,
    trend,
)
from pruneaudit.results import load_results, parse_results
from tests import results_factory as rf


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


def test_rich_get_richer_per_model_is_scipys_on_each_models_own_change(sample_view):
    """No pooling: each pruned model's change against the dense recall, by scipy on the raw arrays."""
    relations = rich_get_richer_per_model(sample_view)
    assert [r.model for r in relations] == [m.name for m in sample_view.pruned]
    dense = np.array(sample_view.dense.per_class.recall, dtype=float)
    for r, m in zip(relations, sample_view.pruned):
        y = np.array(m.vs_dense.per_class.recall_change, dtype=float)
        rho, line = stats.spearmanr(dense, y), stats.linregress(dense, y)
        assert (r.technique, r.amount, r.correlation.n) == (m.technique, m.amount, len(y))
        assert r.correlation.rho == pytest.approx(rho.statistic, abs=1e-12)
        assert r.correlation.p == pytest.approx(rho.pvalue, rel=1e-9, abs=1e-15)
        assert (r.trend.slope, r.trend.intercept) == pytest.approx((line.slope, line.intercept), rel=1e-12)
    seeds = [r for r in relations if r.technique == "random_unstructured" and r.amount == 0.9]
    assert len(seeds) == 2 and seeds[0].correlation.rho != seeds[1].correlation.rho  # the seeds, told apart


def test_rich_get_richer_per_model_leaves_out_undefined_classes():
    """A class without a dense recall or a change is dropped before ρ and the line; under 3 classes left: no ρ."""
    classes = ("a", "b", "c", "d", "e")
    dense = [0.9, 0.8, None, 0.6, 0.5]
    raw = rf.results(
        rf.model("p1", acc=0.7, worst=-0.3, sparsity=0.5, amount=0.5, recall=[0.7] * 5),
        rf.model("p2", acc=0.7, worst=-0.3, sparsity=0.9, amount=0.9, recall=[0.7] * 5),
        classes=classes,
        dense=rf.model("dense", acc=0.7, worst=0, sparsity=0, role="dense", technique=None, recall=dense),
    )
    changes = {"p1": [0.01, -0.02, 0.0, -0.1, -0.3], "p2": [0.0, None, None, -0.2, None]}
    for m in raw["models"][1:]:
        per_class, change = m["vs_dense"]["per_class"], changes[m["name"]]
        for key in ("recall_change", "excess_gap", "normalised_change", "mcnemar_p", "mcnemar_p_bh", "mcnemar_p_holm"):
            per_class[key] = list(change)  # defined where the change is (the reader checks they agree)
        per_class["recall_change_ci"] = {"high": list(change), "low": list(change)}
    p1, p2 = rich_get_richer_per_model(rf.parse_results(raw))
    x, y = np.array([0.9, 0.8, 0.6, 0.5]), np.array([0.01, -0.02, -0.1, -0.3])
    assert p1.correlation.n == 4
    assert p1.correlation.rho == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert (p1.trend.slope, p1.trend.intercept) == pytest.approx(tuple(stats.linregress(x, y))[:2], rel=1e-12)
    assert (p2.correlation.n, p2.correlation.rho, p2.correlation.p) == (2, None, None)
    assert p2.trend.slope == pytest.approx(0.2 / 0.3)  # a line through two points still fits


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


def test_the_cards_per_model_table_is_bounded_and_its_sentence_counts_every_model():
    """More pruned models than scope.MODEL_COLUMNS: the table lists the scope's models, the sentence all of them."""
    from pruneaudit.report.scope import MODEL_COLUMNS, scope
    from pruneaudit.report.views import rich_model_view

    classes = ("a", "b", "c", "d")
    dense = rf.model("dense", acc=0.7, worst=0, sparsity=0, role="dense", technique=None, recall=[0.9, 0.8, 0.6, 0.5])
    models = [
        rf.model(f"m{i}", acc=0.7, worst=-0.1, sparsity=0.5, amount=0.5, recall=[0.7] * 4)
        for i in range(MODEL_COLUMNS + 20)
    ]
    raw = rf.results(*models, classes=classes, dense=dense)
    for i, m in enumerate(raw["models"][1:]):
        change = [0.01, 0.0, -0.05, -0.1] if i % 2 else [-0.1, -0.05, 0.0, 0.01]  # ρ = +1, then −1
        per_class = m["vs_dense"]["per_class"]
        for key in ("recall_change", "excess_gap", "normalised_change", "mcnemar_p", "mcnemar_p_bh", "mcnemar_p_holm"):
            per_class[key] = list(change)
        per_class["recall_change_ci"] = {"high": list(change), "low": list(change)}
    view = rf.parse_results(raw)
    shown = scope(view, None)
    table = rich_model_view(view, shown)
    assert [r["model"] for r in table["rows"]] == [m.name for m in shown.models] and len(table["rows"]) == MODEL_COLUMNS
    assert table["note"].startswith(f"Only {MODEL_COLUMNS} of the {MODEL_COLUMNS + 20:,} pruned models are shown")
    n = MODEL_COLUMNS + 20
    assert table["sentence"].startswith(
        f"Per model, without pooling the seeds: ρ > 0 (the rich get richer) in {n // 2} of {n} pruned models with a "
        f"defined ρ, significantly (p < 0.05) in {n // 2}; significantly negative in {n // 2}."
    )
    assert table["sentence"].endswith("In 0 of 1 configurations with several seeds, every seed's ρ has the same sign.")
