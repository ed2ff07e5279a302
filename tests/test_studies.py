"""The pooled study against independent implementations: pandas groupbys, scipy.stats, plain loops, hand cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pruneaudit.results import Results, load_results
from pruneaudit.studies import (
    Audit,
    audit_labels,
    normalised_ranks,
    pool,
    rank_techniques,
    ranking_blocks,
    summarise,
)
from tests import results_factory as rf
from tests.study_audits import study_inputs


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, sample_audit) -> list[tuple[str, Results]]:
    """The three audits as labels and typed views: the oracles read the views, the study their summaries."""
    files = study_inputs(tmp_path_factory.mktemp("study"), sample_audit["torchscript"])
    files = [f if f.name == "results.json" else f / "results.json" for f in files]
    return [(label, load_results(f)) for label, f in zip(audit_labels(files), files)]


@pytest.fixture(scope="module")
def audits(loaded) -> list[Audit]:
    return [summarise(label, results) for label, results in loaded]


@pytest.fixture(scope="module")
def pooled(audits):
    return pool(audits)


def _frame(loaded: list[tuple[str, Results]]) -> pd.DataFrame:
    """Every pooled model (declares a technique and an amount), one row each."""
    rows = []
    for label, results in loaded:
        for m in results.pruned:
            if m.technique is None or m.amount is None:
                continue
            rows.append(
                {
                    "audit": label,
                    "technique": m.technique,
                    "amount": m.amount,
                    "sparsity": m.facts.sparsity if m.facts.weight_count else m.amount,
                    "worst": m.vs_dense.worst_class_change.value,
                    "accuracy": m.vs_dense.accuracy_change,
                    "alpha": m.vs_dense.intensification,
                    "holm": m.vs_dense.harmed_significant_holm,
                    "harmed": m.vs_dense.worst_class_change.value < -results.settings.tolerance,
                }
            )
    return pd.DataFrame(rows)


def test_labels_are_the_fewest_last_folders_that_tell_the_audits_apart(tmp_path):
    files = [tmp_path / "teams/a/report/results.json", tmp_path / "teams/b/report", tmp_path / "teams/c.json"]
    assert audit_labels(files) == ["a/report", "b/report", "teams/c"]


def test_the_study_holds_three_audits_of_three_datasets(pooled):
    labels = [a.label for a in pooled.audits]
    assert len(set(labels)) == 3 and labels == sorted(labels) and {"ten/report", "six/report"} < set(labels)
    assert sorted(a.n_classes for a in pooled.audits) == [6, 10, 10]
    assert len({a.dataset for a in pooled.audits}) == 3
    assert pooled.without_counts == ("six/report",)


def test_technique_summaries_match_a_pandas_groupby(loaded, pooled):
    frame = _frame(loaded)
    grouped = frame.groupby("technique")
    assert [t.technique for t in pooled.techniques] == sorted(grouped.groups)
    for t in pooled.techniques:
        g = grouped.get_group(t.technique)
        assert (t.models, t.audits) == (len(g), g["audit"].nunique())
        assert t.worst_harmed == pytest.approx(g["harmed"].mean())
        assert t.any_significant == pytest.approx((g["holm"] > 0).mean())
        assert t.audits_worst_harmed == g.loc[g["harmed"], "audit"].nunique()
        assert (t.worst_change.mean, t.worst_change.low, t.worst_change.high) == pytest.approx(
            (g["worst"].mean(), g["worst"].min(), g["worst"].max())
        )
        assert t.median_worst_change == pytest.approx(g["worst"].median())
        assert t.accuracy_change.mean == pytest.approx(g["accuracy"].mean())
        alpha = g["alpha"].dropna()
        assert t.median_intensification == pytest.approx(alpha.median())
        assert t.intensified == pytest.approx((alpha > 1).mean())


def test_configuration_pools_are_means_of_each_audits_seed_mean(loaded, pooled):
    frame = _frame(loaded)
    per_audit = frame.groupby(["technique", "amount", "audit"])[["worst", "accuracy", "alpha", "sparsity"]].mean()
    across = per_audit.groupby(["technique", "amount"]).agg(["mean", "min", "max"])
    models = frame.groupby(["technique", "amount"]).agg(models=("worst", "size"), harmed=("harmed", "mean"))
    assert [(c.technique, c.amount) for c in pooled.configurations] == sorted(across.index)
    for c in pooled.configurations:
        row = across.loc[(c.technique, c.amount)]
        for got, column in ((c.worst_change, "worst"), (c.accuracy_change, "accuracy"), (c.intensification, "alpha")):
            want = (row[(column, "mean")], row[(column, "min")], row[(column, "max")])
            assert (got.mean, got.low, got.high) == pytest.approx(want), (c.technique, c.amount, column)
        assert c.sparsity == pytest.approx(row[("sparsity", "mean")])
        assert c.models == models.loc[(c.technique, c.amount), "models"]
        assert c.worst_harmed == pytest.approx(models.loc[(c.technique, c.amount), "harmed"])
    shared = [c for c in pooled.configurations if len(c.audits) == 3]
    assert shared, "the sample and both synthetic audits share l1_unstructured and random_unstructured at 50% and 90%"


def test_representation_pools_classes_by_relative_share_against_scipy(loaded, pooled):
    """x = share × classes, y = each class's mean recall change over the configuration's seeds, pooled over the
    audits with counts; ρ and p from scipy.stats.spearmanr, the trend from scipy.stats.linregress."""
    with_counts = [r for _, r in loaded if r.data.train_class_counts is not None]
    assert len(with_counts) == 2
    for p in pooled.representation:
        xs, ys = [], []
        for r in with_counts:
            counts = np.array(r.data.train_class_counts, dtype=float)
            members = [m for m in r.pruned if (m.technique, m.amount) == (p.technique, p.amount)]
            if not members:
                continue
            change = np.array(
                [[np.nan if v is None else v for v in m.vs_dense.per_class.recall_change] for m in members]
            )
            mean = np.nanmean(change, axis=0)
            keep = ~np.isnan(mean)
            xs += list((counts / counts.sum() * len(counts))[keep])
            ys += list(mean[keep])
        assert [pt[2] for pt in p.points] == pytest.approx(xs)
        assert [pt[3] for pt in p.points] == pytest.approx(ys)
        rho, pvalue = stats.spearmanr(xs, ys)
        fit = stats.linregress(xs, ys)
        assert (p.correlation.rho, p.correlation.p, p.correlation.n) == pytest.approx((rho, pvalue, len(xs)))
        assert (p.trend.slope, p.trend.intercept) == pytest.approx((fit.slope, fit.intercept))


def _oracle_ranking(audits: list[Audit], metric: str, draws: np.ndarray):
    """Plain loops: scipy's rankdata within each block, then each resample's blocks with multiplicity."""
    blocks = ranking_blocks(audits, metric)
    scored = []
    for i, b in blocks:
        names = sorted(b)
        ranks = stats.rankdata([-b[t] for t in names])  # both ranked metrics are changes: higher is better
        scored.append((i, {t: (r - 1) / (len(names) - 1) for t, r in zip(names, ranks)}))
    techniques = sorted({t for _, s in scored for t in s})
    score = {t: np.mean([s[t] for _, s in scored if t in s]) for t in techniques}
    resampled = []
    for draw in draws:
        picked = [s for a in draw for i, s in scored if i == a]
        resampled.append(
            {t: np.mean([s[t] for s in picked if t in s]) for t in techniques if any(t in s for s in picked)}
        )
    return score, resampled


@pytest.mark.parametrize("metric", ["worst_class_change", "accuracy_change"])
def test_ranking_matches_rankdata_and_a_resampling_loop(audits, metric):
    samples, seed = 300, 7
    ranking = rank_techniques(audits, metric, samples=samples, seed=seed)
    audits = sorted(audits, key=lambda a: a.label)  # resampled in label order, whatever order they were given in
    draws = np.random.default_rng(seed).integers(0, len(audits), size=(samples, len(audits)))
    score, resampled = _oracle_ranking(audits, metric, draws)
    spans = {t: len({i for i, b in ranking_blocks(audits, metric) if t in b}) for t in score}
    assert {r.technique: r.score for r in ranking.ranks} == pytest.approx(score)
    assert [r.score for r in ranking.ranks] == sorted(r.score for r in ranking.ranks)
    for r in ranking.ranks:
        column = [d[r.technique] for d in resampled if r.technique in d]
        if spans[r.technique] < 2:  # in one audit only: no interval over audits
            assert (r.low, r.high) == (None, None)
        else:
            assert (r.low, r.high) == pytest.approx(tuple(np.percentile(column, [2.5, 97.5])))
        best = [
            (d[r.technique] == min(d.values())) / sum(v == min(d.values()) for v in d.values())
            if r.technique in d
            else 0
            for d in resampled
        ]
        assert r.best_share == pytest.approx(np.mean(best))
    assert ranking.blocks == len(ranking_blocks(audits, metric)) >= 6


def test_normalised_ranks_share_ties_and_put_the_best_at_zero():
    assert normalised_ranks(np.array([0.1, 0.3, 0.2]), higher_is_better=True).tolist() == [1.0, 0.0, 0.5]
    assert normalised_ranks(np.array([0.1, 0.1, 0.2]), higher_is_better=True).tolist() == [0.75, 0.75, 0.0]
    assert normalised_ranks(np.array([0.1, 0.3]), higher_is_better=False).tolist() == [0.0, 1.0]


def _hand_audit(label: str, worst: dict[str, float], *, sparsity: dict[str, float] | None = None) -> Audit:
    """One audit, one model per technique at amount 0.5, worst-class change as given."""
    models = [
        rf.model(t, acc=0.9, worst=w, sparsity=(sparsity or {}).get(t, 0.5), technique=t, amount=0.5)
        for t, w in worst.items()
    ]
    return summarise(label, rf.view(*models))


def test_a_technique_that_wins_every_block_has_a_degenerate_interval():
    audits = [_hand_audit(f"a{i}", {"good": -0.01, "bad": -0.10 - i / 100}) for i in range(3)]
    ranking = rank_techniques(audits, "worst_class_change")
    good, bad = ranking.ranks
    assert (good.technique, good.score, good.low, good.high, good.best_share, good.wins) == ("good", 0, 0, 0, 1, 3)
    assert (bad.technique, bad.score, bad.low, bad.high, bad.best_share, bad.wins) == ("bad", 1, 1, 1, 0, 0)


def test_one_audit_gives_no_interval_and_mismatched_sparsity_leaves_the_block():
    one = rank_techniques([_hand_audit("a", {"x": -0.01, "y": -0.02})], "worst_class_change")
    assert [(r.technique, r.low, r.high) for r in one.ranks] == [("x", None, None), ("y", None, None)]
    # structured pruning at a declared 50% zeroing 30% of the weights is no rival of the unstructured ones there
    audits = [_hand_audit(f"a{i}", {"l1": -0.05, "random": -0.08, "ln": 0.0}, sparsity={"ln": 0.3}) for i in range(2)]
    blocks = ranking_blocks(audits, "worst_class_change")
    assert [sorted(b) for _, b in blocks] == [["l1", "random"], ["l1", "random"]]
    assert "ln" not in {r.technique for r in rank_techniques(audits, "worst_class_change").ranks}


def test_models_without_a_technique_or_amount_are_counted_not_pooled():
    a = summarise("a", rf.view(rf.model("p", acc=0.9, worst=-0.1, sparsity=0.5, technique=None)))
    b = _hand_audit("b", {"x": -0.01})
    s = pool([a, b])
    assert s.undeclared == 1 and [t.technique for t in s.techniques] == ["x"]
    assert all(not r.ranks for r in s.rankings)


def test_labels_are_unique_and_do_not_depend_on_where_the_audits_lie(tmp_path):
    assert audit_labels([Path("/a/x/report/results.json"), Path("/var/tmp/rtB")]) == ["report", "rtB"]
    assert audit_labels([Path("/n/report"), Path("/n/report/report")]) == ["n/report", "report/report"]
    assert audit_labels([Path("/l/x/report/results.json"), Path("/l/x/report.json")]) == ["results.json", "report.json"]
    assert audit_labels([Path("/m/teams/a/report"), Path("/elsewhere/teams/b/report")]) == ["a/report", "b/report"]


def test_undefined_worst_class_changes_are_not_counted_as_unharmed():
    undefined = summarise("a", rf.view(rf.model("p", acc=0.9, worst=None, sparsity=0.5, technique="x", amount=0.5)))
    harmed = summarise("b", rf.view(rf.model("q", acc=0.9, worst=-0.2, sparsity=0.5, technique="x", amount=0.5)))
    [t] = pool([undefined, harmed]).techniques
    assert (t.models, t.worst_defined, t.worst_harmed) == (2, 1, 1.0)
    [alone] = pool([undefined, _hand_audit("c", {"y": -0.01})]).techniques[:1]
    assert alone.technique == "x" and alone.worst_harmed is None and alone.worst_defined == 0


def test_a_blank_technique_is_not_pooled():
    blank = summarise("a", rf.view(rf.model("p", acc=0.9, worst=-0.1, sparsity=0.5, technique=" ", amount=0.5)))
    assert blank.models == () and pool([blank, _hand_audit("b", {"x": -0.01})]).undeclared == 1
