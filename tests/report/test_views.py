"""The report's parts read what the results and the defaults say, instead of recomputing or restating them."""

import copy
from dataclasses import replace

from pruneaudit.defaults import SPARSITY_MISMATCH
from pruneaudit.metrics.intervals import wilson_interval
from pruneaudit.report import render_html
from pruneaudit.report.caveats import automatic_caveats
from pruneaudit.report.charts import OPERATING_WINDOW, operating_points
from pruneaudit.report.context import build_context
from pruneaudit.report.views import CHANGE_BAD, CHANGE_WARN
from pruneaudit.results import parse_results


def _front_rows(spec: dict) -> list[str]:
    """Models the dashed front line of the operating-point chart passes through, in drawing order."""
    (line,) = [layer for layer in spec["layer"] if layer["mark"]["type"] == "line"]
    return [row["model"] for row in spec["datasets"][line["data"]["name"]]]


def test_operating_points_draw_the_selections_front(sample_view):
    front = sample_view.selection.accuracy_sparsity_front
    assert front, "the audit's selection names the accuracy-sparsity front"
    best = max(m.metrics.accuracy for m in sample_view.pruned)
    shown = [m for m in sample_view.pruned if m.name in front and m.metrics.accuracy >= best - OPERATING_WINDOW]
    expected = [m.name for m in sorted(shown, key=lambda m: (m.facts.sparsity, m.metrics.accuracy))]
    assert _front_rows(operating_points(sample_view, sample_view.pruned)) == expected
    # the chart draws whatever front the selection gives; it does not compute its own
    other = next(m.name for m in sample_view.pruned if m.name not in front and m.metrics.accuracy >= best - 0.01)
    moved = replace(sample_view, selection=replace(sample_view.selection, accuracy_sparsity_front=(other,)))
    assert _front_rows(operating_points(moved, moved.pruned)) == [other]


def test_sparsity_mismatch_note_states_the_default_threshold(sample_results):
    results = copy.deepcopy(sample_results)
    results["models"][2]["facts"]["declared_amount_mismatch"] = True
    view = parse_results(results)
    assert build_context(view)["sparsity_mismatch"] == f"{100 * SPARSITY_MISMATCH:g} pp" == "2 pp"
    assert [m["name"] for m in build_context(view)["models"] if m["mismatch"]] == [view.models[2].name]
    html = render_html(view)
    assert f"more than 2 pp for: {view.models[2].name}. Check what was pruned." in html


def test_change_colours_follow_the_named_cut_offs(sample_view):
    assert (CHANGE_BAD, CHANGE_WARN) == (-0.05, -0.02)
    table = render_html(sample_view).split('id="class-table"')[1].split("</table>")[0]
    rows = build_context(sample_view)["classes"]["rows"]
    values = [c["value"] for row in rows for c in row["changes"] if c["value"] is not None]
    bad = sum(v <= CHANGE_BAD for v in values)
    warn = sum(CHANGE_BAD < v <= CHANGE_WARN for v in values)
    assert bad and warn, "the sample audit has cells of both shades"
    assert (table.count(' bad"'), table.count(' warn"')) == (bad, warn)


def test_smallest_class_caveat_uses_the_wilson_interval(sample_view):
    support, correct = sample_view.dense.per_class.support, sample_view.dense.per_class.correct
    s, i = min((s, i) for i, s in enumerate(support) if s > 0)
    interval = wilson_interval(correct[i], s)
    half = float(interval.high - interval.low) / 2
    (caveat,) = [c for c in automatic_caveats(sample_view) if c.startswith("The smallest class")]
    assert f"has {s} images: its 95% recall interval is about ±{100 * half:.1f} pp" in caveat


def test_a_pruned_model_without_a_technique_is_unspecified(sample_results):
    results = copy.deepcopy(sample_results)
    results["models"][1]["metadata"].pop("technique", None)
    rows = build_context(parse_results(results))["models"]
    assert rows[0]["technique"] == "dense" and rows[1]["technique"] == "unspecified"


def test_change_distribution_without_any_defined_change():
    """A results file whose pruned models have no defined per-class change still draws (an empty chart)."""
    from pruneaudit.report.charts import change_distribution
    from tests.results_factory import model, view

    spec = change_distribution(view(model("p", acc=0.9, worst=None, sparsity=0.5)).pruned)
    assert spec["layer"]
