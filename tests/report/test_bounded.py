"""The card at scale: views that grow with classes × models show the hardest-hit classes and a bounded set
of models, say so, and link the files that hold everything; the rest of the card stays whole."""

import re

import numpy as np
import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema

from pruneaudit.report import render_html
from pruneaudit.report.charts import chart_list
from pruneaudit.report.context import build_context
from pruneaudit.report.headlines import spotlight
from pruneaudit.report.scope import CLASS_ROWS, HEATMAP_CLASSES, MODEL_COLUMNS, scope, worst_classes
from pruneaudit.report.tables import CSV_NAME, PARQUET_NAME
from pruneaudit.report.views import GATE_ROWS, gate_checks, top_confusions
from pruneaudit.results import parse_results
from tests.results_factory import model, results

N_CLASSES, N_PRUNED = CLASS_ROWS + 10, MODEL_COLUMNS + 5


def _changed(m: dict, changes: list) -> dict:
    """The model with these per-class recall changes (intervals ±1 pp, p-values 0.5; null where a change is)."""
    bound = [None if c is None else c + 0.01 for c in changes], [None if c is None else c - 0.01 for c in changes]
    half = [None if c is None else 0.5 for c in changes]
    m["vs_dense"]["per_class"].update(
        recall_change=changes,
        recall_change_ci={"high": bound[0], "low": bound[1]},
        **dict.fromkeys(("excess_gap", "mcnemar_p", "mcnemar_p_bh", "mcnemar_p_holm", "normalised_change"), half),
    )
    return m


def _wide_mapping(n_classes: int = N_CLASSES, n_pruned: int = N_PRUNED) -> dict:
    """A results mapping with defined per-class changes: class c loses about c/10 pp times the model's level."""
    rng = np.random.default_rng(7)
    classes = tuple(f"c{i:03d}" for i in range(n_classes))
    dense = model("dense", acc=0.9, worst=0, sparsity=0, role="dense", technique=None, recall=[0.9] * n_classes)
    pruned = []
    for k in range(n_pruned):
        level = (k % 10 + 1) / 10
        change = -level * np.arange(n_classes) / 1000 + rng.normal(0, 1e-4, n_classes)
        acc, worst = 0.9 + float(change.mean()), float(change.min())
        recall = (0.9 + change).tolist()
        m = model(f"m{k:03d}", acc=acc, worst=worst, sparsity=level, harmed=k % 7, recall=recall)
        _changed(m, change.tolist())
        pruned.append(m)
    return results(*pruned, classes=classes, dense=dense)


@pytest.fixture(scope="module")
def wide():
    return parse_results(_wide_mapping())


def test_worst_classes_rank_by_the_largest_loss_in_any_model():
    four = dict(recall=[0.9] * 4)
    dense = model("dense", acc=0.9, worst=0, sparsity=0, role="dense", technique=None, **four)
    p = _changed(model("p", acc=0.9, worst=-0.02, sparsity=0.5, **four), [-0.02, 0.05, None, -0.01])
    q = _changed(model("q", acc=0.9, worst=-0.03, sparsity=0.6, **four), [0.0, -0.03, None, -0.02])
    view = parse_results(results(p, q, classes=("a", "b", "c", "d"), dense=dense))
    # b: -3 pp (in q); d and a: -2 pp, d first (lowered by both models, a by one); c: never defined, no loss
    assert worst_classes(view) == [1, 3, 0, 2]


def test_a_wide_audit_is_bounded_and_says_so(wide):
    focus = spotlight(wide)
    shown = scope(wide, focus)
    assert len(shown.classes) == CLASS_ROWS and len(shown.heatmap_classes) == HEATMAP_CLASSES
    assert shown.classes == tuple(range(CLASS_ROWS + 10))[-CLASS_ROWS:]  # higher classes lose more
    assert len(shown.models) == MODEL_COLUMNS and focus.model in shown.models
    names = {m.name for m in shown.models}
    assert {m.vs_dense.harmed_significant_holm for m in wide.pruned if m.name not in names} == {0}
    context = build_context(wide)
    assert [row["name"] for row in context["classes"]["rows"]] == [wide.data.class_names[i] for i in shown.classes]
    assert len(context["classes"]["models"]) == MODEL_COLUMNS
    charts = {c.id: c for c in context["charts"]}
    heatmap = charts["recall-change"]
    (rows,) = heatmap.spec["datasets"].values()
    assert len(rows) == HEATMAP_CLASSES * MODEL_COLUMNS and heatmap.partial
    assert f"Only {MODEL_COLUMNS} of the {N_PRUNED} pruned models are shown" in heatmap.summary
    html = render_html(wide)
    assert re.search(rf"Showing\s+{CLASS_ROWS} of {N_CLASSES} classes: those whose\s+recall fell most", html)
    assert f'<a href="{CSV_NAME}">' in html and f'<a href="{PARQUET_NAME}">' in html
    table = html.split('id="class-table"')[1].split("</table>")[0]
    assert table.count('<tr><th scope="row">') == CLASS_ROWS
    models = html.split('<section id="models">')[1].split("</table>")[0]
    assert models.count('<th scope="row">') == 1 + N_PRUNED  # the models table stays whole


def test_a_small_audit_lists_everything(sample_view):
    shown = scope(sample_view, spotlight(sample_view))
    assert shown.all_classes and shown.all_models
    html = render_html(sample_view)
    assert "Showing" not in html and CSV_NAME not in html
    assert not any(c.partial for c in build_context(sample_view)["charts"])


def test_every_chart_matches_the_vega_lite_schema(sample_view, wide):
    """Rendering skips Altair's schema check (the specs' shape is fixed by the code): this test makes it."""
    schema = load_schema()
    for view in (sample_view, wide):
        focus = spotlight(view)
        for chart in chart_list(view, focus, scope(view, focus)):
            if chart.spec is not None:  # None: a sentence stands for a chart with nothing to draw
                validate_jsonschema(chart.spec, schema)


def test_top_confusions_keep_the_largest_cells_in_order(sample_view):
    m = sample_view.model("global-95")
    expected = sorted((c for c in m.confusion if c[0] != c[1]), key=lambda c: (-c[2], c[0], c[1]))[:10]
    got = top_confusions(sample_view, m)
    names = sample_view.data.class_names
    assert [(r["true"], r["predicted"], r["count"]) for r in got] == [(names[t], names[p], n) for t, p, n in expected]


def test_a_large_gate_lists_its_failures():
    mapping = _wide_mapping(n_classes=3, n_pruned=GATE_ROWS + 20)
    checks = [
        {"detail": "d", "model": m["name"], "passed": i % 3 != 0, "rule": "r", "value": 0.0}
        for i, m in enumerate(mapping["models"][1:])
    ]
    failed = sum(not c["passed"] for c in checks)
    view = parse_results(
        {**mapping, "gate": {"checks": checks, "failed": failed, "passed": False, "total": len(checks)}}
    )
    listed = gate_checks(view)
    assert listed and all(not c.passed for c in listed) and len(listed) == failed
    html = render_html(view)
    assert re.search(rf"Listed: {failed} failed or warned check\(s\) of\s+{len(checks)}", html)
