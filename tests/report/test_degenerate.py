"""Cards of audits where pruning changed nothing, or where one model collapsed among unchanged ones, read right.

Both are built end to end through the CLI from saved predictions over 1,000 classes (3 images each), so the
bounded views are in force: no chart of zeros (a sentence instead), classes ranked by a stated tie-break, axes
that do not blow a 0.03 pp difference up to the whole chart, labels that do not pile up, and no "-0.0 pp".
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import altair as alt
import numpy as np
import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema

from pruneaudit.report.charts import _pick_labels, lost_classes, operating_points
from pruneaudit.report.context import build_context
from pruneaudit.report.population import histogram
from pruneaudit.report.scope import CLASS_ROWS, HEATMAP_CLASSES, worst_classes
from pruneaudit.report.text import pct, pp, unsigned_pp
from pruneaudit.results import load_results, parse_results
from tests.conftest import run_cli
from tests.results_factory import model, results

N_CLASSES, PER_CLASS = 1000, 3
WEAK = [c for c in range(N_CLASSES) if c % 10 == 3]  # the dense model misses one image of each: recall 2/3
COLLAPSED_TO = 7  # the collapsed model predicts this class for every image
NUDGED = 500  # the nudged model misses one more image of this class than the dense model
SIGNED_ZERO = re.compile(r"[+-]0\.0(?![0-9])")  # "-0.0", "+0.0 pp", "-0.0%": a zero with a sign


def _audit(root: Path, *, collapsed: bool) -> tuple[Path, str]:
    """Dense and three pruned models with the dense model's predictions; with ``collapsed``, also one that
    predicts a single class and one that differs from the dense model in one image (a 0.03 pp top-1 change)."""
    root.mkdir()
    labels = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    np.savez(root / "data.npz", images=np.zeros((labels.size, 1, 1, 1), dtype=np.uint8), labels=labels)
    dense = labels.copy()
    dense[np.array(WEAK) * PER_CLASS] = (np.array(WEAK) + 1) % N_CLASSES
    nudged = dense.copy()
    nudged[NUDGED * PER_CLASS] = NUDGED + 1
    models = {
        "l1-50-s0": ("l1", 0.5, 0, dense),
        "l1-50-s1": ("l1", 0.5, 1, dense),
        "global-90": ("global", 0.9, 0, dense),
    }
    if collapsed:
        models |= {
            "l1-70": ("l1", 0.7, 0, nudged),
            "random-95": ("random", 0.95, 0, np.full(labels.size, COLLAPSED_TO)),
        }
    np.savez(root / "dense.npz", predictions=dense)
    lines = ["data: {path: data.npz}", "dense: {path: dense.npz}", "pruned:"]
    for name, (technique, amount, seed, predictions) in models.items():
        np.savez(root / f"{name}.npz", predictions=predictions)
        lines.append(f"  - {{name: {name}, path: {name}.npz, technique: {technique}, amount: {amount}, seed: {seed}}}")
    (root / "audit.yaml").write_text("\n".join(lines) + "\n")
    out = root / "out"
    result = run_cli(
        ["audit", "--config", str(root / "audit.yaml"), "--out", str(out), "--no-cache", "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module")
def unchanged(tmp_path_factory) -> tuple[Path, str]:
    return _audit(tmp_path_factory.mktemp("degenerate") / "unchanged", collapsed=False)


@pytest.fixture(scope="module")
def collapsed(tmp_path_factory) -> tuple[Path, str]:
    return _audit(tmp_path_factory.mktemp("degenerate") / "collapsed", collapsed=True)


def _specs(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="spec-([a-z-]+)">(.*?)</script>', html, flags=re.S)
    return {name: json.loads(body) for name, body in found}


def _section(html: str, section: str) -> str:
    """One section of the card, its entities decoded."""
    return unescape(html.split(f'<section id="{section}"')[1].split("</section>")[0])


def _text(html: str) -> str:
    """The card's words: scripts (the Vega bundle, the specs) and the static SVGs left out."""
    return re.sub(r"<script.*?</script>|<svg.*?</svg>", "", html, flags=re.S)


def _no_signed_zero(out: Path, terminal: str) -> None:
    for name, text in (
        ("index.html", _text((out / "index.html").read_text())),
        ("card.md", (out / "card.md").read_text()),
        ("terminal", terminal),
    ):
        assert not SIGNED_ZERO.search(text), (name, SIGNED_ZERO.findall(text)[:5])


def test_changes_are_never_a_signed_zero():
    assert (pp(0.0), pp(-0.0), pp(1e-18), pp(-1e-7)) == ("0.0 pp",) * 4  # float noise of a mean is no change
    assert (pp(-1 / 3000), pp(4e-5), pp(-0.0004999)) == ("-0.03 pp", "+0.004 pp", "-0.05 pp")
    assert (pp(-0.123), pp(0.0005), pp(None)) == ("-12.3 pp", "+0.1 pp", "n/a")
    assert (unsigned_pp(0.02), unsigned_pp(0.0), unsigned_pp(-0.0001)) == ("2.0 pp", "0.0 pp", "-0.01 pp")
    assert (pct(0.809), pct(0.0003), pct(-0.0), pct(0.0)) == ("80.9%", "0.03%", "0.0%", "0.0%")


def _changed(m: dict, changes: list, holm: list | None = None) -> dict:
    """The model with these per-class recall changes (and Holm p-values; 0.5 where not given)."""
    half = [None if c is None else 0.5 for c in changes]
    ci = {
        "high": [None if c is None else c + 0.01 for c in changes],
        "low": [None if c is None else c - 0.01 for c in changes],
    }
    m["vs_dense"]["per_class"].update(
        recall_change=changes,
        recall_change_ci=ci,
        **dict.fromkeys(("excess_gap", "mcnemar_p", "mcnemar_p_bh", "normalised_change"), half),
        mcnemar_p_holm=holm or half,
    )
    return m


def test_classes_hit_hardest_break_ties_by_how_many_models_then_the_mean_loss_then_dense_recall():
    recall = [0.9, 0.9, 0.5, 0.9, 0.9, 0.3]
    dense = model("dense", acc=0.9, worst=0, sparsity=0, role="dense", technique=None, recall=recall)
    p = model("p", acc=0.9, worst=-0.1, sparsity=0.5, recall=recall)
    q = model("q", acc=0.9, worst=-0.05, sparsity=0.6, recall=recall)
    _changed(p, [-0.1, -0.1, -0.1, -0.1, 0.0, 0.05], holm=[0.5, 0.01, 0.2, 0.2, 1.0, 1.0])
    _changed(q, [0.0, -0.05, -0.05, -0.02, None, 0.0])
    view = parse_results(results(p, q, classes=tuple("abcdef"), dense=dense))
    # all of a-d lose 10 pp at worst; b, c, d in two models; b and c lose the same on average, c is weaker dense;
    # e and f lost nothing (f gained): last, the weaker dense recall first
    assert worst_classes(view) == [2, 1, 3, 0, 5, 4]
    # within one model, equal losses: the stronger evidence (smaller Holm p) first, then label order
    assert lost_classes(view.model("p")) == [1, 2, 3, 0]
    assert lost_classes(view.model("q")) == [1, 2, 3]


def test_a_card_where_pruning_changed_nothing_says_so(unchanged):
    out, terminal = unchanged
    view = load_results(out / "results.json")
    html = (out / "index.html").read_text()
    specs = _specs(html)
    # the charts of change would draw zeros: their sections hold a sentence and no chart
    for section, sentence in (
        ("recall-change", "No class lost recall in any pruned model"),
        ("change-distribution", "No class's recall changed in any pruned model"),
        ("seed-curves", "No configuration changed"),
        ("worst-classes", "No class lost recall in global-90, the accuracy-only pick."),
    ):
        assert sentence in _section(html, section) and 'class="vega"' not in _section(html, section), section
        assert section not in specs
    assert set(specs) == {"accuracy-sparsity", "operating-points", "accuracy-disparity"}
    context = build_context(view)
    assert [c.id for c in context["charts"] if c.spec is None] == [
        "seed-curves",
        "recall-change",
        "change-distribution",
        "worst-classes",
        "front-whole",  # every front model at one point
        "outcomes",  # no class harmed or helped
        "representation",  # no training counts
        "rich-get-richer",  # nothing changed: nothing to relate
        "intensification",  # α = 1 everywhere
    ]
    # the per-class table: no class lost, so the weakest dense classes, and it says why
    assert [r["name"] for r in context["classes"]["rows"]] == [str(c) for c in WEAK[:CLASS_ROWS]]
    assert "no pruned model lowered any class's recall, so those with the lowest dense recall" in unescape(html)
    # headlines and tables name no "worst class" for a change of zero
    headlines = " ".join(context["headlines"])
    assert "class '0'" not in headlines and "no class lost recall" in headlines
    assert "No pruned model within 1.0 pp of dense accuracy lowers any class's recall." in headlines
    assert "The accuracy-only pick global-90 lowers no class's recall." in headlines
    assert {(m["worst_change"], m["worst_class"]) for m in context["models"][1:]} == {("0.0 pp", "(none)")}
    assert all(r["accuracy_change"] == r["worst_change"] == "0.0 pp" for r in context["configuration_rows"])
    assert "(none)" in terminal and "0.0 pp" in terminal
    _no_signed_zero(out, terminal)


def test_equal_models_are_not_blown_up_across_the_operating_point_chart(unchanged):
    out, _ = unchanged
    view = load_results(out / "results.json")
    chart = operating_points(view, view.pruned)
    x, y = (chart["layer"][1]["encoding"][k]["scale"]["domain"] for k in ("x", "y"))
    accuracy, sparsity = view.pruned[0].metrics.accuracy, view.pruned[0].facts.sparsity
    assert y[1] - y[0] == pytest.approx(0.02) and y[0] < accuracy < y[1]
    assert x == [0.0, pytest.approx(0.1)] and x[0] <= sparsity < x[1]
    # every pick is at the same point: one label, a line per picked model, instead of labels drawn over each other
    labels = {k: v for k, v in chart["datasets"].items() if k.startswith("label-")}
    policies = [k for k, p in view.selection.picks.items() if p.model]
    picked = {view.selection.picks[k].model for k in policies}
    assert len(policies) > 1 and len(labels) == 1
    (row,) = labels["label-0"]
    if len(picked) == 1:  # one model picked by several policies: one line naming the policies
        assert len(row["label"].split(" + ")) == len(policies)
    else:
        assert {line.rsplit(": ", 1)[1] for line in row["label"].split("\n")} == picked


def test_pick_labels_stay_apart_and_inside_the_chart():
    picks = [
        {"policy": "accuracy only", "model": "a", "sparsity": 0.9, "accuracy": 0.80},
        {"policy": "fairness aware", "model": "a", "sparsity": 0.9, "accuracy": 0.80},
        {"policy": "knee", "model": "b", "sparsity": 0.9, "accuracy": 0.8001},  # on top of a
        {"policy": "value function", "model": "c", "sparsity": 0.85, "accuracy": 0.81},
    ]
    x_domain, y_domain = [0.5, 1.0], [0.78, 0.82]
    layers, datasets = _pick_labels(
        picks, alt.X("sparsity:Q"), alt.Y("accuracy:Q"), x_domain=x_domain, y_domain=y_domain
    )
    assert [r["label"] for (r,) in datasets.values()] == [  # in order of sparsity
        "value function",
        "accuracy only + fairness aware: a\nknee: b",
    ]
    marks = [layer.to_dict(validate=False)["mark"] for layer in layers]
    placed = [(r["sparsity"], r["accuracy"], m["dx"], m["dy"]) for (r,), m in zip(datasets.values(), marks)]
    assert len(set(placed)) == len(placed)
    # both points are right of the middle: labels run leftwards into the chart; c is in the top half: below it
    assert [m["align"] for m in marks] == ["right", "right"]
    assert [(m["baseline"], m["dy"]) for m in marks] == [("top", 10), ("bottom", -10)]


def test_a_collapsed_model_among_unchanged_ones(collapsed):
    out, terminal = collapsed
    view = load_results(out / "results.json")
    html = (out / "index.html").read_text()
    specs = _specs(html)
    # the heatmap: only classes that lost, the hardest hit first: the one two models lowered, then the classes
    # the collapsed model took from 100% to 0%, in label order (equal losses, counts, means and dense recall)
    full = [c for c in range(N_CLASSES) if c not in WEAK and c not in (COLLAPSED_TO, NUDGED)]
    expected = [str(c) for c in [NUDGED, *full[: HEATMAP_CLASSES - 1]]]
    heatmap = specs["recall-change"]
    assert heatmap["encoding"]["y"]["sort"] == expected
    assert {r["class"] for r in heatmap["datasets"]["cells"]} == set(expected)
    assert "Only the 40 classes hit hardest by any model are drawn, the hardest at the top." in html
    # the spotlight (the accuracy-only pick) lost nothing: a sentence, not 15 empty bars
    assert "worst-classes" not in specs
    assert "No class lost recall in global-90, the accuracy-only pick." in _section(html, "worst-classes")
    # a 0.03 pp change keeps its digit, everywhere it is written
    nudged = build_context(view)["models"][[m.name for m in view.models].index("l1-70")]
    assert nudged["accuracy_change"] == "-0.03 pp" and nudged["worst_change"] == "-33.3 pp"
    assert "-0.03 pp" in (out / "card.md").read_text()
    # the collapsed model: -100 pp in the tables and the configuration curves; nothing significant with 3 images
    rows = {(r["technique"], r["amount"]): r["worst_change"] for r in build_context(view)["configuration_rows"]}
    assert rows == {
        ("l1", "50.0%"): "0.0 pp",
        ("global", "90.0%"): "0.0 pp",
        ("l1", "70.0%"): "-33.3 pp",
        ("random", "95.0%"): "-100.0 pp",
    }
    curves = specs["seed-curves"]["datasets"]["curves"]
    assert min(r["low"] for r in curves) == pytest.approx(-100.0)
    headlines = " ".join(build_context(view)["headlines"])
    assert "No pruned model harms a class significantly" in headlines and "Largest top-1 drop — random-95" in headlines
    _no_signed_zero(out, terminal)


def test_histograms_of_equal_models_keep_a_readable_span(unchanged, collapsed):
    for out in (unchanged[0], collapsed[0]):
        view = load_results(out / "results.json")
        rows = histogram(view)
        for measure in ("Top-1 change", "Worst-class change"):
            mine = [r for r in rows if r["measure"] == measure]
            assert sum(r["models"] for r in mine) == len(view.pruned)
            width = mine[0]["end"] - mine[0]["start"]
            assert width * 24 >= 2.0 - 1e-9, measure  # the bins span at least 2 pp
    same = [r for r in histogram(load_results(unchanged[0] / "results.json")) if r["measure"] == "Top-1 change"]
    # all three models (two techniques) in the one bin that holds 0, in the middle of the span
    assert len({(r["start"], r["end"]) for r in same}) == 1 and sum(r["models"] for r in same) == 3
    assert -1.0 <= same[0]["start"] <= 0.0 < same[0]["end"] <= 1.0


def test_the_charts_drawn_match_the_vega_lite_schema(unchanged, collapsed):
    """Explicit domains, multi-line labels: shapes test_bounded's audits do not draw."""
    schema = load_schema()
    for out in (unchanged[0], collapsed[0]):
        for chart in build_context(load_results(out / "results.json"))["charts"]:
            if chart.spec is not None:
                validate_jsonschema(chart.spec, schema)
