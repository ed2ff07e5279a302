"""Altair chart specs built from the typed view, embedded as JSON (never as HTML), and the card's chart list.

Colours: Okabe–Ito for techniques and a blue–orange diverging scheme for changes,
both readable with the common colour-vision deficiencies. No interactive
selections: Altair numbers them from a process-wide counter, which would make the
HTML differ between runs. Charts refer to their data by name and the rows go into the spec's
datasets as they are: Altair would check and copy inline rows one by one (seconds for 4,000
heatmap cells), and a DataFrame would only be turned back into the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np

from pruneaudit.report.headlines import Spotlight
from pruneaudit.report.scope import HEATMAP_CLASSES, Scope, models_note
from pruneaudit.results import Model, Results
from pruneaudit.results.view import SelectionResult

HEATMAP_CLAMP_PP = 20.0
WORST_K = 15
MAX_MATRIX_CLASSES = 50  # confusion matrices drawn up to this many classes; top confusions beyond
OPERATING_WINDOW = 0.15  # the operating-point chart shows models within 15 pp of the best top-1
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442"]


Rows = list[dict[str, Any]]


def data(name: str) -> alt.NamedData:
    """A dataset of the spec, by name (see `spec`)."""
    return alt.NamedData(name=name)


def spec(chart: alt.TopLevelMixin, **datasets: Rows) -> dict[str, Any]:
    """The chart's Vega-Lite spec with its named datasets. Not checked against the schema on every render:
    the specs' shape is fixed by this module (tests check every chart against the schema), only the rows vary."""
    return {**chart.to_dict(validate=False), "datasets": datasets}


def change_scale(values_pp: list[float | None]) -> alt.Scale:
    """Diverging blue–orange scale for changes in pp, symmetric around 0.

    The range is clamped (at most ±HEATMAP_CLAMP_PP, at least ±5 pp) so that a few collapsed
    models do not wash out the small changes that matter at moderate sparsity; tooltips and
    tables keep the exact values."""
    largest = max((abs(v) for v in values_pp if v is not None), default=0.0)
    limit = min(max(largest, 5.0), HEATMAP_CLAMP_PP)
    return alt.Scale(scheme="blueorange", domain=[-limit, limit], reverse=True, clamp=True)


def _model_row(m: Model) -> dict[str, Any]:
    """The scalars the overview charts plot; changes are 0 for the dense model (and where undefined)."""
    vs = m.vs_dense
    worst = vs.worst_class_change if vs else None
    seed = m.metadata.get("seed")
    return {
        "model": m.name,
        "technique": m.technique_label,
        "series": m.technique_label + ("" if seed is None else f" (seed {seed})"),
        "sparsity": m.facts.sparsity,
        "accuracy": m.metrics.accuracy,
        "accuracy_change_pp": 100 * ((vs.accuracy_change if vs else None) or 0.0),
        "worst_change_pp": 100 * ((worst.value if worst else None) or 0.0),
        "worst_class": (worst.class_name if worst else None) or "",
    }


def model_rows(models: tuple[Model, ...]) -> Rows:
    """One row per model, in the order given."""
    return [_model_row(m) for m in models]


# One tooltip for every chart whose marks are models (rows of model_rows).
MODEL_TOOLTIP = [
    alt.Tooltip("model:N", title="Model"),
    alt.Tooltip("technique:N", title="Technique"),
    alt.Tooltip("sparsity:Q", format=".1%", title="Sparsity"),
    alt.Tooltip("accuracy:Q", format=".2%", title="Top-1"),
    alt.Tooltip("accuracy_change_pp:Q", format="+.2f", title="Top-1 change (pp)"),
    alt.Tooltip("worst_change_pp:Q", format="+.2f", title="Worst-class change (pp)"),
    alt.Tooltip("worst_class:N", title="Worst class"),
]


def _technique_colour(domain: list[str]) -> alt.Color:
    return alt.Color("technique:N", title="Technique", scale=alt.Scale(domain=domain, range=OKABE_ITO[: len(domain)]))


def accuracy_vs_sparsity(results: Results) -> dict[str, Any]:
    """Left: top-1 accuracy; right: worst-class and overall recall change, both against sparsity."""
    rows = model_rows(results.models)
    domain = list(dict.fromkeys(r["technique"] for r in rows))
    base = alt.Chart(data("models")).encode(
        x=alt.X("sparsity:Q", title="Weight sparsity (measured)", axis=alt.Axis(format="%")),
        color=_technique_colour(domain),
        detail="series:N",
        tooltip=MODEL_TOOLTIP,
    )
    acc = (
        (base.mark_line(point=True, opacity=0.8))
        .encode(y=alt.Y("accuracy:Q", title="Top-1 accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)))
        .properties(title="Top-1 accuracy", width=320, height=260)
    )
    worst = (base.mark_line(point=True, opacity=0.8)).encode(
        y=alt.Y("worst_change_pp:Q", title="Worst-class recall change (pp)")
    )
    overall = base.mark_line(strokeDash=[4, 3], opacity=0.5).encode(y="accuracy_change_pp:Q")
    zero = alt.Chart(data("zero")).mark_rule(color="#888").encode(y="y:Q")
    change = (zero + overall + worst).properties(
        title="Worst-class change (solid) vs overall change (dashed)", width=320, height=260
    )
    return spec(alt.hconcat(acc, change), models=rows, zero=[{"y": 0}])


def recall_change_heatmap(results: Results, scope: Scope) -> dict[str, Any]:
    """The scope's classes × pruned models, coloured by per-class recall change."""
    all_names = results.data.class_names
    shown = scope.heatmap_classes
    names = [all_names[i] for i in shown]
    dense_recall = results.dense.per_class.recall
    rows = []
    for m in scope.models:
        changes = m.vs_dense.per_class.recall_change
        for i in shown:
            delta = changes[i]
            rows.append(
                {
                    "model": m.name,
                    "class": all_names[i],
                    "change_pp": None if delta is None else 100 * delta,
                    "dense_recall": dense_recall[i],
                    "pruned_recall": m.per_class.recall[i],
                }
            )
    order = [m.name for m in scope.models]
    return spec(
        alt.Chart(data("cells"))
        .mark_rect()
        .encode(
            x=alt.X("model:N", sort=order, title="Pruned model"),
            y=alt.Y("class:N", sort=list(names), title="Class"),
            color=alt.Color(
                "change_pp:Q",
                title="Recall change (pp)",
                scale=change_scale([r["change_pp"] for r in rows]),
            ),
            tooltip=[
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("class:N", title="Class"),
                alt.Tooltip("change_pp:Q", format="+.2f", title="Change (pp)"),
                alt.Tooltip("dense_recall:Q", format=".2%", title="Dense recall"),
                alt.Tooltip("pruned_recall:Q", format=".2%", title="Pruned recall"),
            ],
        )
        .properties(
            title="Per-class recall change vs dense", width=max(300, 22 * len(order)), height=max(200, 22 * len(names))
        ),
        cells=rows,
    )


def change_distribution(models: tuple[Model, ...]) -> dict[str, Any]:
    """Per pruned model, the spread of per-class recall change: box (quartiles), whiskers (min–max), median tick.

    Quantiles are computed here so that the chart stays small at 1,000 classes."""
    rows = []
    for m in models:
        d = np.array([v for v in m.vs_dense.per_class.recall_change if v is not None], dtype=float) * 100
        if d.size:
            q = np.percentile(d, [0, 25, 50, 75, 100]).tolist()
            rows.append({"model": m.name, "min": q[0], "q1": q[1], "median": q[2], "q3": q[3], "max": q[4]})
    order = [r["model"] for r in rows]  # empty when no class is defined: the chart is drawn empty
    y = alt.Y("model:N", sort=order, title="Pruned model")
    tooltip = [alt.Tooltip("model:N", title="Model")] + [
        alt.Tooltip(f"{c}:Q", format="+.2f", title=t)
        for c, t in (("min", "Worst class"), ("q1", "25%"), ("median", "Median"), ("q3", "75%"), ("max", "Best class"))
    ]
    base = alt.Chart(data("models")).encode(y=y, tooltip=tooltip)
    whisker = base.mark_rule(color="#888").encode(x=alt.X("min:Q", title="Per-class recall change (pp)"), x2="max:Q")
    box = base.mark_bar(size=10, color="#56B4E9").encode(x="q1:Q", x2="q3:Q")
    median = base.mark_tick(color="#000", thickness=2, size=12).encode(x="median:Q")
    zero = alt.Chart(data("zero")).mark_rule(color="#D55E00", strokeDash=[3, 3]).encode(x="x:Q")
    return spec(
        (whisker + box + median + zero).properties(
            title="Distribution of per-class recall change per model", width=520, height=max(160, 16 * len(order))
        ),
        models=rows,
        zero=[{"x": 0}],
    )


def worst_k(results: Results, model: Model, k: int = WORST_K) -> dict[str, Any]:
    """The k classes that lost most recall in one pruned model, with 95% Newcombe intervals."""
    names = results.data.class_names
    pc = model.vs_dense.per_class
    idx = [i for i in range(len(names)) if pc.recall_change[i] is not None]
    idx = sorted(idx, key=lambda i: (pc.recall_change[i], i))[:k]
    rows = [
        {
            "class": names[i],
            "change": 100 * pc.recall_change[i],
            "low": 100 * pc.recall_change_ci.low[i],
            "high": 100 * pc.recall_change_ci.high[i],
            "holm_p": pc.mcnemar_p_holm[i],
        }
        for i in idx
    ]
    y = alt.Y("class:N", sort=[names[i] for i in idx], title="Class")
    tooltip = [
        alt.Tooltip("class:N", title="Class"),
        alt.Tooltip("change:Q", format="+.2f", title="Change (pp)"),
        alt.Tooltip("low:Q", format="+.2f", title="95% CI low"),
        alt.Tooltip("high:Q", format="+.2f", title="95% CI high"),
        alt.Tooltip("holm_p:Q", format=".3g", title="McNemar p (Holm)"),
    ]
    base = alt.Chart(data("classes"))
    bars = base.mark_bar(color="#D55E00").encode(y=y, x=alt.X("change:Q", title="Recall change (pp)"), tooltip=tooltip)
    err = base.mark_rule(color="#000").encode(y=y, x="low:Q", x2="high:Q")
    return spec(
        (bars + err).properties(
            title=f"The {len(idx)} classes that lost most in {model.name} (bars: change; lines: 95% interval)",
            width=520,
            height=max(120, 18 * len(idx)),
        ),
        classes=rows,
    )


def subgroup_changes(results: Results, model: str) -> dict[str, Any]:
    """Top-1 change of one pruned model within each subgroup, one panel row per grouping."""
    rows = [
        {
            "grouping": g.grouping,
            "group": g.group,
            "change": None if g.accuracy_change is None else 100 * g.accuracy_change,
            "n": g.n_samples,
            "worst": None if g.worst_class_change.value is None else 100 * g.worst_class_change.value,
        }
        for g in results.subgroups
        if g.model == model
    ]
    tooltip = [
        alt.Tooltip("grouping:N", title="Attribute"),
        alt.Tooltip("group:N", title="Group"),
        alt.Tooltip("n:Q", title="Images"),
        alt.Tooltip("change:Q", format="+.2f", title="Top-1 change (pp)"),
        alt.Tooltip("worst:Q", format="+.2f", title="Worst-class change (pp)"),
    ]
    return spec(
        alt.Chart(data("groups"))
        .mark_bar(color="#0072B2")
        .encode(
            y=alt.Y("group:N", title=None), x=alt.X("change:Q", title=f"Top-1 change of {model} (pp)"), tooltip=tooltip
        )
        .properties(width=480)
        .facet(row=alt.Row("grouping:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(y="independent"),
        groups=rows,
    )


def confusion_pair(results: Results, dense: Model, pruned: Model) -> dict[str, Any]:
    """Row-normalised confusion matrices of two models side by side (≤ MAX_MATRIX_CLASSES classes)."""
    names = results.data.class_names
    rows = []
    for m in (dense, pruned):
        support = m.per_class.support
        for t, p, n in m.confusion:
            rows.append({"model": m.name, "true": names[t], "predicted": names[p], "count": n, "share": n / support[t]})
    panel = (
        alt.Chart(data("cells"))
        .mark_rect()
        .encode(
            x=alt.X("predicted:N", sort=list(names), title="Predicted class"),
            y=alt.Y("true:N", sort=list(names), title="True class"),
            color=alt.Color(
                "share:Q", title="Share of true class", scale=alt.Scale(scheme="greys", type="sqrt", domain=[0, 1])
            ),
            tooltip=[
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("true:N", title="True"),
                alt.Tooltip("predicted:N", title="Predicted"),
                alt.Tooltip("count:Q", title="Images"),
                alt.Tooltip("share:Q", format=".1%", title="Share"),
            ],
        )
        .properties(width=260, height=260)
    )
    return spec(panel.facet(column=alt.Column("model:N", sort=[dense.name, pruned.name], title=None)), cells=rows)


def _pick_points(rows: Rows, selection: SelectionResult) -> Rows:
    """One row per policy that picked a model, at that model's point."""
    by_name = {r["model"]: r for r in rows}
    return [
        {
            "policy": policy.replace("_", " "),
            "model": pick.model,
            "sparsity": by_name[pick.model]["sparsity"],
            "accuracy": by_name[pick.model]["accuracy"],
        }
        for policy, pick in selection.picks.items()
        if pick.model
    ]


def _pick_labels(picks: Rows, x: alt.X, y: alt.Y) -> tuple[list[alt.Chart], dict[str, Rows]]:
    """One text layer per picked model naming its policies, stacked upwards so neighbouring labels do not overlap;
    and their datasets."""
    labels: dict[str, dict[str, Any]] = {}
    for p in picks:
        label = labels.setdefault(p["model"], {**p, "policy": []})
        label["policy"].append(p["policy"])
    ordered = sorted(labels.values(), key=lambda r: (r["sparsity"], r["model"]))
    layers = [
        alt.Chart(data(f"label-{i}"))
        .mark_text(align="left", dx=10, dy=-14 - 14 * i, fontSize=11)
        .encode(x=x, y=y, text="policy:N")
        for i in range(len(ordered))
    ]
    return layers, {f"label-{i}": [{**r, "policy": " + ".join(r["policy"])}] for i, r in enumerate(ordered)}


def operating_points(results: Results) -> dict[str, Any]:
    """Accuracy vs sparsity coloured by worst-class change, the accuracy–sparsity front drawn, picks marked.

    The front is the selection's (over all pruned models); drawn through the windowed points it is the
    front of the window too, since a point outside the window can never dominate one inside it."""
    selection = results.selection
    rows = model_rows(results.pruned)
    picks = _pick_points(rows, selection)
    scale = change_scale([r["worst_change_pp"] for r in rows])
    best = max((r["accuracy"] for r in rows if r["accuracy"] is not None), default=0.0)
    # collapsed models stay in the tables, not here
    rows = [r for r in rows if r["accuracy"] is not None and r["accuracy"] >= best - OPERATING_WINDOW]
    on_front = set(selection.accuracy_sparsity_front)
    front_rows = sorted((r for r in rows if r["model"] in on_front), key=lambda r: (r["sparsity"], r["accuracy"]))
    x = alt.X("sparsity:Q", title="Weight sparsity (measured)", axis=alt.Axis(format="%"))
    y = alt.Y("accuracy:Q", title="Top-1 accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False))
    points = (
        alt.Chart(data("models"))
        .mark_circle(size=80, opacity=0.9, stroke="#333", strokeWidth=0.5)
        .encode(
            x=x,
            y=y,
            color=alt.Color("worst_change_pp:Q", title="Worst-class change (pp)", scale=scale),
            tooltip=MODEL_TOOLTIP,
        )
    )
    front = alt.Chart(data("front")).mark_line(color="#555", strokeDash=[5, 3]).encode(x=x, y=y)
    marks = (
        alt.Chart(data("picks"))
        .mark_point(shape="square", size=260, filled=False, color="#000", strokeWidth=1.5)
        .encode(x=x, y=y, tooltip=[alt.Tooltip("policy:N", title="Policy"), alt.Tooltip("model:N", title="Model")])
    )
    labels, label_rows = _pick_labels(picks, x, y)
    return spec(
        alt.layer(front, points, marks, *labels).properties(
            title="Operating points: accuracy-sparsity front (dashed) and policy picks (squares)", width=560, height=320
        ),
        models=rows,
        front=front_rows,
        picks=picks,
        **label_rows,
    )


def accuracy_vs_disparity(results: Results) -> dict[str, Any]:
    """Accuracy against worst-class change; each technique's path as sparsity grows, front members filled.

    One dataset for the three layers (the points filter it), so that 1,000 models are inlined once."""
    domain = list(dict.fromkeys(m.technique_label for m in results.pruned))
    front, on_front = set(results.selection.front), "on the Pareto front"
    rows = sorted(model_rows(results.pruned), key=lambda r: (r["series"], r["sparsity"]))
    rows = [{**r, "on_front": on_front if r["model"] in front else "dominated"} for r in rows]
    x = alt.X("worst_change_pp:Q", title="Worst-class recall change (pp)")
    y = alt.Y("accuracy:Q", title="Top-1 accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False))
    base = alt.Chart(data("models")).encode(x=x, y=y, color=_technique_colour(domain))
    tooltip = [*MODEL_TOOLTIP, alt.Tooltip("on_front:N", title="Pareto")]
    paths = base.mark_line(opacity=0.6).encode(detail="series:N", order="sparsity:Q")
    filled = (
        base.transform_filter(alt.datum.on_front == on_front)
        .mark_point(size=70, filled=True, opacity=1)
        .encode(tooltip=tooltip)
    )
    hollow = (
        base.transform_filter(alt.datum.on_front != on_front)
        .mark_point(size=70, strokeWidth=1.5, opacity=1)
        .encode(tooltip=tooltip)
    )
    return spec(
        (paths + hollow + filled).properties(
            title="Accuracy against worst-class change: each technique's path as sparsity grows (filled: on the front)",
            width=560,
            height=320,
        ),
        models=rows,
    )


@dataclass(frozen=True)
class Chart:
    """One chart of the card: its section id, heading, a summary in words (what a reader without the chart needs)
    and the Vega-Lite spec; ``partial``: it draws part of the data, and the card links the files that hold all."""

    id: str
    title: str
    summary: str
    spec: dict[str, Any]
    partial: bool = False


def _overview_charts(results: Results, scope: Scope) -> list[Chart]:
    some_classes = len(scope.heatmap_classes) < scope.n_classes
    clipped = (f" Only the {HEATMAP_CLASSES} classes hit hardest by any model are drawn." if some_classes else "") + (
        "" if scope.all_models else " " + models_note(scope)
    )
    return [
        Chart(
            "accuracy-sparsity",
            "Accuracy and worst-class change against sparsity",
            "Each point is a model; lines join models of one technique (and seed). "
            "The table of models above holds the same numbers.",
            accuracy_vs_sparsity(results),
        ),
        Chart(
            "recall-change",
            "Per-class recall change against the dense model",
            "Orange cells lost recall, blue cells gained; colours saturate at "
            f"±{HEATMAP_CLAMP_PP:.0f} pp. The per-class table below holds the exact numbers." + clipped,
            recall_change_heatmap(results, scope),
            partial=some_classes or not scope.all_models,
        ),
        Chart(
            "change-distribution",
            "Distribution of per-class change",
            "For each pruned model: the box spans the middle half of the classes' recall changes, the line "
            "runs from the worst to the best class, the tick is the median; the dashed line is no change."
            + ("" if scope.all_models else " " + models_note(scope)),
            change_distribution(scope.models),
            partial=not scope.all_models,
        ),
    ]


def _spotlight_charts(results: Results, focus: Spotlight, scope: Scope) -> list[Chart]:
    name = focus.model.name
    charts = [
        Chart(
            "worst-classes",
            f"Worst-hit classes in {name}",
            f"The classes whose recall fell most (up to {WORST_K}) in {name}, {focus.why}, "
            "with 95% Newcombe intervals" + ("; the per-class table has all classes." if scope.all_classes else "."),
            worst_k(results, focus.model),
            partial=not scope.all_classes,
        )
    ]
    if results.subgroups:
        charts.append(
            Chart(
                "subgroup-chart",
                f"Subgroups: top-1 change of {name}",
                "Top-1 accuracy change within each attribute value and each intersection; the subgroup tables "
                "below give " + ("every model." if scope.all_models else "the models of the per-class table."),
                subgroup_changes(results, name),
            )
        )
    return charts


def _selection_charts(results: Results) -> list[Chart]:
    return [
        Chart(
            "operating-points",
            "Operating points",
            "Pruned models by sparsity and accuracy, coloured by worst-class change; the dashed line is the "
            "accuracy–sparsity front and squares mark each policy's pick. Models more than "
            f"{100 * OPERATING_WINDOW:.0f} pp below the best top-1 are left off (they are in the tables). "
            "The selection section below states the same picks in words.",
            operating_points(results),
        ),
        Chart(
            "accuracy-disparity",
            "Accuracy against disparity, per technique",
            "Lines follow each technique (and seed) from low to high sparsity; filled points are on the "
            "Pareto front over the selection objectives. Up and to the right is better on both axes. Hypervolumes "
            "in the selection section summarise each technique's front.",
            accuracy_vs_disparity(results),
        ),
    ]


def _confusion_chart(results: Results, focus: Spotlight) -> Chart:
    return Chart(
        "confusion",
        f"Confusion matrices: dense and {focus.model.name}",
        "Rows are true classes, columns predicted classes; cells show the share of each true class "
        "(square-root colour scale). The top-confusions tables below list the largest off-diagonal cells.",
        confusion_pair(results, results.dense, focus.model),
    )


def chart_list(results: Results, focus: Spotlight | None, scope: Scope) -> list[Chart]:
    """The card's charts in reading order; a chart whose inputs are missing (no spotlight model, no
    selection, no subgroups, too many classes for a matrix) is left out rather than drawn empty."""
    charts = _overview_charts(results, scope)
    if focus is not None:
        charts += _spotlight_charts(results, focus, scope)
    if results.selection:
        charts += _selection_charts(results)
    if focus is not None and results.data.n_classes <= MAX_MATRIX_CLASSES:
        charts.append(_confusion_chart(results, focus))
    return charts
