"""The study card: every chart against the Vega-Lite schema, sentences written from the numbers, bounds."""

from __future__ import annotations

import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema

from pruneaudit.report.study import (
    MAX_POINTS,
    ranking_sentence,
    representation_chart,
    representation_sentence,
    study_charts,
    study_context,
    technique_sentences,
)
from pruneaudit.results import load_results, parse_results
from pruneaudit.studies import Audit, Rank, Ranking, audit_labels, pool, summarise
from tests import results_factory as rf
from tests.study_audits import study_inputs


@pytest.fixture(scope="module")
def pooled(tmp_path_factory, sample_audit):
    files = study_inputs(tmp_path_factory.mktemp("study-card"), sample_audit["torchscript"])
    files = [f if f.name == "results.json" else f / "results.json" for f in files]
    return pool([summarise(label, load_results(f)) for label, f in zip(audit_labels(files), files)])


def test_every_chart_matches_the_vega_lite_schema(pooled):
    schema = load_schema()
    charts = study_charts(pooled)
    assert [c.id for c in charts] == ["curves", "harmed", "intensification", "representation", "ranking"]
    for chart in charts:
        assert chart.spec is not None, chart.id
        validate_jsonschema(chart.spec, schema)


def test_the_curves_hold_one_row_per_configuration_and_measure(pooled):
    spec = study_charts(pooled)[0].spec
    rows = spec["datasets"]["curves"]
    assert len(rows) == 2 * len(pooled.configurations)
    worst = {(r["technique"], r["amount"]): r for r in rows if r["measure"] == "Worst-class change"}
    for c in pooled.configurations:
        r = worst[(c.technique, c.amount)]
        assert (r["mean"], r["low"], r["high"]) == pytest.approx(
            (100 * c.worst_change.mean, 100 * c.worst_change.low, 100 * c.worst_change.high)
        )
        assert r["audits"] == len(c.audits) and r["harmed"] == c.worst_harmed


def test_technique_sentences_say_how_often_and_how_much():
    audits = [
        summarise("a", rf.view(rf.model("x1", acc=0.9, worst=-0.20, sparsity=0.5, technique="x", amount=0.5))),
        summarise("b", rf.view(rf.model("x2", acc=0.9, worst=-0.005, sparsity=0.5, technique="x", amount=0.5))),
    ]
    [line] = technique_sentences(pool(audits))
    assert line.startswith(
        "x: in 1 of 2 models (50%) from 2 audits the worst class lost more than its audit's tolerance"
    )
    assert "worst-class change -10.2 pp on average (median -10.2 pp, largest drop -20.0 pp)" in line


def test_the_ranking_sentence_says_when_the_order_is_not_settled():
    settled = Ranking(
        "worst_class_change",
        6,
        3,
        (Rank("a", 6, 5, 0.1, 0.0, 0.2, 0.9), Rank("b", 6, 1, 0.9, 0.8, 1.0, 0.1)),
    )
    assert ranking_sentence(settled).endswith("ahead of b (0.90) beyond both intervals.")
    open_ = Ranking(
        "worst_class_change", 6, 3, (Rank("a", 6, 3, 0.4, 0.1, 0.7, 0.6), Rank("b", 6, 3, 0.6, 0.3, 0.9, 0.4))
    )
    assert ranking_sentence(open_).endswith("Its interval overlaps b's (0.30 to 0.90): their order is not settled.")
    single = Ranking("accuracy_change", 0, 0, ())
    assert ranking_sentence(single).startswith("No ranking by top-1 change vs dense")


def test_without_training_counts_the_representation_says_what_it_needs():
    audits = [
        summarise(label, rf.view(rf.model(label, acc=0.9, worst=-0.1, sparsity=0.5, technique="x", amount=0.5)))
        for label in ("a", "b")
    ]
    s = pool(audits)
    assert s.without_counts == ("a", "b") and not s.representation
    assert representation_sentence(s).startswith("This analysis needs the training set's class counts")
    assert representation_chart(s) is None


def test_the_representation_chart_is_bounded(pooled, monkeypatch):
    assert representation_chart(pooled) is not None
    monkeypatch.setattr("pruneaudit.report.study.MAX_POINTS", 5)
    assert representation_chart(pooled) is None and MAX_POINTS > 5


def test_differing_tolerances_are_said(pooled):
    assert study_context(pooled, title=None, timestamp=None)["tolerance_note"] is None
    tight = rf.results(rf.model("x1", acc=0.9, worst=-0.2, sparsity=0.5, technique="x", amount=0.5))
    tight["settings"]["tolerance"] = 0.02
    audits = [summarise("a", parse_results(tight)), *pooled.audits[1:]]
    note = study_context(pool(audits), title="T", timestamp=None)["tolerance_note"]
    assert note == "The audits' tolerances (1.0 pp, 2.0 pp) differ: each audit's own is used."


def _counted(label: str, counts: list[int], change: list[float]) -> Audit:
    """An audit of four classes with training counts and one pruned model whose per-class change is given."""
    classes = ("a", "b", "c", "d")
    dense = rf.model("dense", acc=0.9, worst=0, sparsity=0, role="dense", technique=None, recall=[0.9] * 4)
    pruned = rf.model("p", acc=0.8, worst=min(change), sparsity=0.5, technique="x", amount=0.5, recall=[0.8] * 4)
    per_class = pruned["vs_dense"]["per_class"]
    for key in ("recall_change", "excess_gap", "normalised_change"):
        per_class[key] = list(change)
    for key in ("mcnemar_p", "mcnemar_p_bh", "mcnemar_p_holm"):
        per_class[key] = [1.0] * 4
    per_class["recall_change_ci"] = {"high": list(change), "low": list(change)}
    raw = rf.results(pruned, classes=classes, dense=dense)
    raw["schema_version"] = "2.1"
    raw["data"]["train_class_counts"] = counts
    raw["configurations"] = [
        {
            "amount": 0.5,
            "models": ["p"],
            "pie_count": 0,
            "pie_fraction": None,
            "population_test": None,
            "technique": "x",
            "top_pies": [],
        }
    ]
    return summarise(label, parse_results(raw))


def test_the_representation_sentence_reads_the_sign_as_the_card_does():
    """x = share, y = change: the rarer a class, the larger its loss is ρ > 0 (docs/metrics.md)."""
    rare_lose = [
        _counted(f"a{i}", [10, 20, 40, 80], [-0.30 - i / 100, -0.20, -0.10, -0.01 + i / 1000]) for i in range(3)
    ]
    s = pool(rare_lose)
    [p] = s.representation
    assert p.correlation.rho > 0.9 and p.correlation.p < 0.05 and p.correlation.n == 12
    assert "lost more (Spearman ρ > 0, p < 0.05) in 1 of 1 configurations (x 50%: ρ = +0.99)." in (
        representation_sentence(s)
    )
    common_lose = [_counted(f"a{i}", [10, 20, 40, 80], [-0.01, -0.10, -0.20, -0.30 - i / 100]) for i in range(3)]
    assert "in 0 of 1 configurations; they lost less in 1." in representation_sentence(pool(common_lose))


def test_a_tie_for_first_is_said_as_a_tie():
    tie = Ranking(
        "worst_class_change", 2, 2, (Rank("a", 2, 0, 0.5, 0.0, 1.0, 0.5), Rank("b", 2, 0, 0.5, 0.0, 1.0, 0.5))
    )
    assert "a and b tie for first: mean normalised rank 0.50." in ranking_sentence(tie)


def test_beyond_eight_techniques_each_gets_a_colour_of_its_own():
    from pruneaudit.report.charts import technique_colour

    assert technique_colour([f"t{i}" for i in range(8)]).to_dict()["scale"]["range"][7] == "#F0E442"
    assert technique_colour([f"t{i}" for i in range(11)]).to_dict()["scale"]["scheme"] == "tableau20"


def test_differing_significance_levels_are_said(pooled):
    loose = rf.results(rf.model("x1", acc=0.9, worst=-0.2, sparsity=0.5, technique="x", amount=0.5))
    loose["settings"]["alpha"] = 0.01
    note = study_context(pool([summarise("a", parse_results(loose)), *pooled.audits[1:]]), title=None, timestamp=None)
    assert note["tolerance_note"] == "The audits' significance levels (0.01, 0.05) differ: each audit's own is used."
