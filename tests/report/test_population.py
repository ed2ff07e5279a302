"""Population summaries against independent implementations: pandas groupby, plain loops, and the card at 2,100 models."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from pruneaudit.report.context import build_context
from pruneaudit.report.population import configuration_summaries, harmed_classes, histogram, worst_models
from pruneaudit.report.scope import MODEL_COLUMNS, POINT_MODELS
from tests.conftest import run_cli


def _frame(view) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "technique": m.technique,
                "amount": m.amount,
                "sparsity": m.facts.sparsity,
                "accuracy_change": m.vs_dense.accuracy_change,
                "worst_change": m.vs_dense.worst_class_change.value,
                "harmed": m.vs_dense.harmed_significant_holm,
                "alpha": m.vs_dense.intensification,
            }
            for m in view.pruned
        ]
    )


def test_configuration_summaries_match_a_pandas_groupby(sample_view):
    summaries = configuration_summaries(sample_view)
    expected = _frame(sample_view).groupby(["technique", "amount"], sort=False).agg(["mean", "min", "max", "size"])
    assert len(summaries) == len(expected) == len(sample_view.configurations)
    assert any(len(s.models) == 2 for s in summaries), "the sample has two seeds of the random configurations"
    for s in summaries:
        row = expected.loc[(s.technique, s.amount)]
        assert len(s.models) == row[("sparsity", "size")]
        for field, column in (
            ("sparsity", "sparsity"),
            ("accuracy_change", "accuracy_change"),
            ("worst_change", "worst_change"),
            ("harmed_holm", "harmed"),
            ("intensification", "alpha"),
        ):
            got = getattr(s, field)
            want = (row[(column, "mean")], row[(column, "min")], row[(column, "max")])
            assert (got.mean, got.low, got.high) == pytest.approx(want, abs=1e-12), (s.technique, s.amount, field)


def test_harmed_classes_match_a_loop_over_models_and_classes(sample_view):
    alpha, tolerance = sample_view.settings.alpha, sample_view.settings.tolerance
    n = sample_view.data.n_classes
    rows = []
    for c in range(n):
        sig = beyond = 0
        changes = []
        for m in sample_view.pruned:
            pc = m.vs_dense.per_class
            p, change = pc.mcnemar_p_holm[c], pc.recall_change[c]
            sig += p is not None and p < alpha and pc.dense_only[c] > pc.pruned_only[c]
            if change is not None:
                beyond += change < -tolerance
                changes.append((change, m.name))
        if sig or beyond:
            mean = sum(x for x, _ in changes) / len(changes)
            rows.append((-sig, -beyond, mean, c, min(changes)[0]))
    rows.sort()
    got = harmed_classes(sample_view, k=n)
    assert [h.index for h in got] == [r[3] for r in rows]
    for h, r in zip(got, rows):
        assert (h.significant, h.beyond_tolerance) == (-r[0], -r[1])
        assert h.mean_change == pytest.approx(r[2]) and h.worst_change == pytest.approx(r[4])


def test_worst_models_are_the_largest_worst_class_drops(sample_view):
    got = worst_models(sample_view, k=5)
    drops = sorted(m.vs_dense.worst_class_change.value for m in sample_view.pruned)
    assert [m.vs_dense.worst_class_change.value for m in got] == drops[:5]


def test_histogram_counts_every_model_once_in_the_bin_that_holds_it(sample_view):
    rows = histogram(sample_view)
    for measure, field in (("Top-1 change", "accuracy_change"), ("Worst-class change", "worst_change")):
        mine = [r for r in rows if r["measure"] == measure]
        per_technique = _frame(sample_view).groupby("technique")[field].size()
        for technique, count in per_technique.items():
            assert sum(r["models"] for r in mine if r["technique"] == technique) == count
        values = 100 * _frame(sample_view)[field].to_numpy()
        for r in mine:  # each bin's count equals the values inside it (the last bin is closed)
            last = r["end"] == max(x["end"] for x in mine)
            inside = (values >= r["start"] - 1e-9) & ((values <= r["end"] + 1e-9) if last else (values < r["end"]))
            technique = (_frame(sample_view)["technique"] == r["technique"]).to_numpy()
            assert r["models"] == int((inside & technique).sum())


@pytest.fixture(scope="module")
def population_card(tmp_path_factory):
    """2,100 saved-prediction models (4 techniques x 5 amounts x 105 seeds) over 1,000 images of 10 classes:
    beyond POINT_MODELS, so every bound of the card is in force."""
    root = tmp_path_factory.mktemp("population")
    rng = np.random.default_rng(2020)
    rows, classes = 1000, 10
    labels = rng.integers(0, classes, size=rows)
    np.savez(root / "data.npz", images=np.zeros((rows, 1, 1, 1), dtype=np.uint8), labels=labels)
    fragile = rng.random(classes)
    np.savez(root / "dense.npz", predictions=labels)
    lines = ["data: {path: data.npz}", "dense: {path: dense.npz}", "pruned:"]
    for seed in range(105):
        for t, technique in enumerate(("l1", "global", "random", "structured")):
            for amount in (0.5, 0.7, 0.8, 0.9, 0.95):
                wrong = rng.random(rows) < (0.5 + t / 2) * amount**3 * fragile[labels]
                name = f"{technique}-{int(100 * amount)}-s{seed}"
                np.savez(root / f"{name}.npz", predictions=np.where(wrong, rng.integers(0, classes, rows), labels))
                lines.append(
                    f"  - {{name: {name}, path: {name}.npz, technique: {technique}, amount: {amount}, seed: {seed}}}"
                )
    (root / "audit.yaml").write_text("\n".join(lines) + "\n")
    out = root / "out"
    run_cli(["audit", "--config", str(root / "audit.yaml"), "--out", str(out), "--quiet", "--no-cache"])
    return out


def _datasets(html: str) -> dict[str, dict]:
    specs = re.findall(r'<script type="application/json" id="spec-([a-z-]+)">(.*?)</script>', html, flags=re.S)
    return {name: json.loads(body) for name, body in specs}


def test_a_card_of_2100_models_summarises_them_within_budget(population_card):
    html = (population_card / "index.html").read_text()
    assert len(html.encode()) < 15 * 1024 * 1024
    specs = _datasets(html)
    # the per-model path chart is replaced by the per-technique curves; the population histogram is added
    assert "accuracy-sparsity" not in specs and {"seed-curves", "population"} <= specs.keys()
    curves = specs["seed-curves"]["datasets"]["curves"]
    assert {r["models"] for r in curves} == {105} and len(curves) == 2 * 4 * 5
    bins = specs["population"]["datasets"]["bins"]
    assert sum(r["models"] for r in bins) == 2 * 2100
    drawn = {r["model"] for r in specs["accuracy-disparity"]["datasets"]["models"]}
    assert MODEL_COLUMNS <= len(drawn) < POINT_MODELS
    front = json.loads((population_card / "results.json").read_text())["selection"]["front"]
    assert set(front) <= drawn, "the Pareto front is drawn whole"
    models_table = html.split('<section id="models">')[1].split("</table>")[0]
    assert models_table.count("<tr>") == 1 + 1 + MODEL_COLUMNS  # header, dense, the scope's models
    assert "of the 2,100\n  pruned models" in html
    assert html.count('<section id="configurations">') == html.count('<section id="worst-k">') == 1


def test_the_population_views_follow_the_results(population_card):
    from pruneaudit.results import load_results

    view = load_results(population_card / "results.json")
    context = build_context(view)
    assert len(context["configuration_rows"]) == 20
    assert len(context["worst_models"]) == 10 and len(context["harmed_classes"]) <= 10
    worst = min(m.vs_dense.worst_class_change.value for m in view.pruned)
    assert context["worst_models"][0]["worst_change"] == f"{100 * worst:+.1f} pp"


def test_the_terminal_summary_lists_the_worst_models_of_a_large_audit(population_card):
    from pruneaudit.report import summary_table
    from pruneaudit.report.text import TERMINAL_MODELS
    from pruneaudit.results import load_results

    view = load_results(population_card / "results.json")
    lines = summary_table(view).splitlines()
    assert len(lines) == 2 + TERMINAL_MODELS + 1 and lines[-1].startswith(f"({TERMINAL_MODELS - 1} of 2,100 pruned")
    listed = {line.split()[0] for line in lines[3:-1]}
    assert listed == {m.name for m in worst_models(view, k=TERMINAL_MODELS - 1)}


def test_outcome_shares_match_a_loop_over_models_and_classes(sample_view):
    from pruneaudit.report.population import outcome_shares

    alpha, tolerance = sample_view.settings.alpha, sample_view.settings.tolerance
    rows = []
    for m in sample_view.pruned:
        pc = m.vs_dense.per_class
        defined = [i for i, c in enumerate(pc.recall_change) if c is not None]
        sig = [pc.mcnemar_p_holm[i] is not None and pc.mcnemar_p_holm[i] < alpha for i in defined]
        counts = {
            "beyond the tolerance": (
                sum(pc.recall_change[i] < -tolerance for i in defined),
                sum(pc.recall_change[i] > tolerance for i in defined),
            ),
            "significant (Holm)": (
                sum(s and pc.dense_only[i] > pc.pruned_only[i] for s, i in zip(sig, defined)),
                sum(s and pc.pruned_only[i] > pc.dense_only[i] for s, i in zip(sig, defined)),
            ),
        }
        for criterion, (harmed, helped) in counts.items():
            n = len(defined)
            for outcome, share in (
                ("harmed", harmed / n),
                ("helped", helped / n),
                ("unchanged", 1 - (harmed + helped) / n),
            ):
                rows.append((m.technique, m.amount, criterion, outcome, share))
    expected = (
        pd.DataFrame(rows, columns=["t", "a", "criterion", "outcome", "share"])
        .groupby(["t", "a", "criterion", "outcome"])["share"]
        .mean()
    )
    got = outcome_shares(sample_view)
    assert len(got) == len(expected) == 6 * len(sample_view.configurations)
    for r in got:
        assert r["share"] == pytest.approx(expected[(r["technique"], r["amount"], r["criterion"], r["outcome"])])
    assert any(r["outcome"] == "helped" and r["share"] > 0 for r in got), "the sample has classes that gained"


def test_the_sample_card_shows_the_seed_study_sections(sample_audit):
    html = (sample_audit["torchscript"] / "index.html").read_text()
    for section in (
        "configurations",
        "seed-curves",
        "outcomes",
        "representation",
        "rich-get-richer",
        "intensification",
    ):
        assert f'<section id="{section}"' in html, section
    assert "Spearman ρ &gt; 0" in html or "Spearman ρ > 0" in html


def test_the_whole_front_names_the_models_no_2d_view_shows_on_a_front(sample_view):
    """A model on the 3-objective front but on no pair's 2-D front: the card's sentence names it."""
    from dataclasses import replace

    from pruneaudit.report.charts import _front_chart
    from pruneaudit.selection import pairwise_fronts

    on_pairs = set().union(*pairwise_fronts(sample_view).values())
    outsider = next(m.name for m in sample_view.pruned if m.name not in on_pairs)
    front = (*sample_view.selection.front, outsider)  # as if it were on the whole front
    view = replace(sample_view, selection=replace(sample_view.selection, front=front))
    (chart,) = _front_chart(view)
    assert f"1 of the {len(front)} front models are on no 2-D front" in chart.summary and outsider in chart.summary
    lines = {r["model"] for r in chart.spec["datasets"]["front"]}
    assert lines == set(front)
