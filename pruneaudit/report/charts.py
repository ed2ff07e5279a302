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

from pruneaudit.analyses import Relation, leaning, representation, rich_get_richer
from pruneaudit.report.headlines import Spotlight
from pruneaudit.report.population import (
    CRITERIA,
    OUTCOMES,
    ConfigurationSummary,
    configuration_summaries,
    has_seeds,
    histogram,
    outcome_shares,
)
from pruneaudit.report.scope import Scope, models_note, points_note
from pruneaudit.report.text import class_or_none, signed
from pruneaudit.results import Model, Results
from pruneaudit.results.view import SelectionResult
from pruneaudit.scalars import model_value
from pruneaudit.selection import pairwise_fronts

HEATMAP_CLAMP_PP = 20.0
WORST_K = 15
MAX_MATRIX_CLASSES = 50  # confusion matrices drawn up to this many classes; top confusions beyond
OPERATING_WINDOW = 0.15  # the operating-point chart shows models within 15 pp of the best top-1
MIN_ACCURACY_SPAN = 0.02  # an accuracy axis spans at least 2 pp around its points: equal models are not blown up
MIN_SPARSITY_SPAN = 0.10  # a sparsity axis, at least 10 pp
MIN_CHANGE_SPAN_PP = 2.0  # an axis of changes in pp, at least 2 pp
LABEL_NEAR = 0.06  # picks closer than this share of both axes' spans share one label
POINTS_WIDTH, POINTS_HEIGHT = (
    560,
    320,
)  # the operating-point and accuracy-vs-disparity charts (arrows are drawn in pixels)
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


def _axis_domain(
    values: list[float | None], *, min_span: float, low: float = -np.inf, high: float = np.inf
) -> list[float]:
    """An axis domain around the values, padded by 5% of their range and at least ``min_span`` wide, kept within
    [low, high]: models that differ by 0.03 pp are drawn as the near-equals they are, not across the whole axis."""
    v = [x for x in values if x is not None]
    lo, hi = (min(v), max(v)) if v else (0.0, 0.0)
    pad = max(0.05 * (hi - lo), (min_span - (hi - lo)) / 2)
    a, b = lo - pad, hi + pad
    if a < low:
        a, b = low, min(high, b + (low - a))
    if b > high:
        a, b = max(low, a - (b - high)), high
    return [a, b]


def _spanning(values: list[float | None], *, min_span: float, low: float = -np.inf, high: float = np.inf) -> alt.Scale:
    """A linear scale over `_axis_domain`: not niced, so the span stays what was chosen."""
    return _fixed(_axis_domain(values, min_span=min_span, low=low, high=high))


def _fixed(domain: list[float]) -> alt.Scale:
    """A linear scale over exactly ``domain``: not niced, no zero added."""
    return alt.Scale(domain=domain, nice=False, zero=False)


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
        "worst_class": class_or_none(worst.value, worst.class_name) if worst else "",
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


def technique_colour(domain: list[str]) -> alt.Color:
    """Okabe–Ito up to its 8 colours; beyond, Tableau's 20, so that no two of up to 20 techniques share one."""
    scale = (
        alt.Scale(domain=domain, range=OKABE_ITO[: len(domain)])
        if len(domain) <= len(OKABE_ITO)
        else alt.Scale(domain=domain, scheme="tableau20")
    )
    return alt.Color("technique:N", title="Technique", scale=scale)


def accuracy_vs_sparsity(results: Results) -> dict[str, Any]:
    """Left: top-1 accuracy; right: worst-class and overall recall change, both against sparsity."""
    rows = model_rows(results.models)
    domain = list(dict.fromkeys(r["technique"] for r in rows))
    sparsity = _spanning([r["sparsity"] for r in rows], min_span=MIN_SPARSITY_SPAN, low=0.0, high=1.0)
    accuracy = _spanning([r["accuracy"] for r in rows], min_span=MIN_ACCURACY_SPAN, low=0.0, high=1.0)
    changes = [0.0] + [r[k] for r in rows for k in ("worst_change_pp", "accuracy_change_pp")]
    base = alt.Chart(data("models")).encode(
        x=alt.X("sparsity:Q", title="Weight sparsity (measured)", axis=alt.Axis(format="%"), scale=sparsity),
        color=technique_colour(domain),
        detail="series:N",
        tooltip=MODEL_TOOLTIP,
    )
    acc = (
        (base.mark_line(point=True, opacity=0.8))
        .encode(y=alt.Y("accuracy:Q", title="Top-1 accuracy", axis=alt.Axis(format="%"), scale=accuracy))
        .properties(title="Top-1 accuracy", width=320, height=260)
    )
    worst = (base.mark_line(point=True, opacity=0.8)).encode(
        y=alt.Y(
            "worst_change_pp:Q",
            title="Worst-class recall change (pp)",
            scale=_spanning(changes, min_span=MIN_CHANGE_SPAN_PP),
        )
    )
    overall = base.mark_line(strokeDash=[4, 3], opacity=0.5).encode(y="accuracy_change_pp:Q")
    zero = alt.Chart(data("zero")).mark_rule(color="#888").encode(y="y:Q")
    change = (zero + overall + worst).properties(
        title="Worst-class change (solid) vs overall change (dashed)", width=320, height=260
    )
    return spec(alt.hconcat(acc, change), models=rows, zero=[{"y": 0}])


def _spread_rows(summaries: tuple[ConfigurationSummary, ...]) -> Rows:
    """Per configuration and measure: the mean over its models and their range, in pp, at its mean sparsity."""
    rows = []
    for s in summaries:
        for measure, v in (("Top-1 change", s.accuracy_change), ("Worst-class change", s.worst_change)):
            if v.mean is None or s.sparsity.mean is None:
                continue
            rows.append(
                {
                    "technique": s.technique,
                    "amount": s.amount,
                    "sparsity": s.sparsity.mean,
                    "measure": measure,
                    "mean": 100 * v.mean,
                    "low": 100 * v.low,
                    "high": 100 * v.high,
                    "models": len(s.models),
                }
            )
    return sorted(rows, key=lambda r: (r["measure"], r["technique"], r["sparsity"]))


def change_bands(rows: Rows, *, domain: list[str], x_title: str, tooltip: list, title: str) -> dict[str, Any]:
    """Per technique, a mean line and a low–high band against sparsity, one panel per measure (top-1 and
    worst-class change, pp): the card's seeds and the study's audits are drawn alike."""
    x = alt.X("sparsity:Q", title=x_title, axis=alt.Axis(format="%"))
    colour = technique_colour(domain)
    base = alt.Chart().encode(x=x, color=colour)
    band = base.mark_area(opacity=0.18).encode(y=alt.Y("low:Q", title="Change (pp)"), y2="high:Q")
    line = base.mark_line(point=True).encode(y="mean:Q", tooltip=tooltip)
    zero = alt.Chart().mark_rule(color="#888", strokeDash=[2, 2]).encode(y=alt.datum(0))
    layered = alt.layer(band, line, zero, data=data("curves")).properties(width=320, height=260)
    return spec(
        layered.facet(column=alt.Column("measure:N", title=None, sort=["Top-1 change", "Worst-class change"]))
        .resolve_scale(y="independent")
        .properties(title=title),
        curves=rows,
    )


def seed_curves(summaries: tuple[ConfigurationSummary, ...]) -> dict[str, Any]:
    """Per technique: the mean over seeds of top-1 and worst-class change against measured sparsity, with the
    band the seeds span; the sparsity is the configuration's mean measured one, not the declared amount."""
    tooltip = [
        alt.Tooltip("technique:N", title="Technique"),
        alt.Tooltip("amount:Q", format=".0%", title="Declared amount"),
        alt.Tooltip("sparsity:Q", format=".1%", title="Mean sparsity"),
        alt.Tooltip("models:Q", title="Models (seeds)"),
        alt.Tooltip("mean:Q", format="+.2f", title="Mean change (pp)"),
        alt.Tooltip("low:Q", format="+.2f", title="Lowest (pp)"),
        alt.Tooltip("high:Q", format="+.2f", title="Highest (pp)"),
    ]
    return change_bands(
        _spread_rows(summaries),
        domain=list(dict.fromkeys(s.technique for s in summaries)),
        x_title="Weight sparsity (mean over seeds; measured)",
        tooltip=tooltip,
        title="Per-technique curves: mean over seeds (line) and the range the seeds span (band)",
    )


def alpha_bands(rows: Rows, *, domain: list[str], x_title: str, tooltip: list, title: str) -> dict[str, Any]:
    """Per technique, α's mean line and low–high band against sparsity on a symmetric log scale; dashed: α = 1."""
    x = alt.X("sparsity:Q", title=x_title, axis=alt.Axis(format="%"))
    base = alt.Chart(data("alpha")).encode(x=x, color=technique_colour(domain))
    chart = (
        base.mark_area(opacity=0.18).encode(
            # symmetric log: a collapsed configuration's α of 40 leaves the others' 0.9-2 readable
            y=alt.Y("low:Q", title="Bias intensification α (symmetric log scale)", scale=alt.Scale(type="symlog")),
            y2="high:Q",
        )
        + base.mark_line(point=True).encode(y="mean:Q", tooltip=tooltip)
        + alt.Chart(data("alpha")).mark_rule(color="#888", strokeDash=[2, 2]).encode(y=alt.datum(1))
    )
    return spec(chart.properties(title=title, width=480, height=260), alpha=rows)


def alpha_curves(summaries: tuple[ConfigurationSummary, ...]) -> dict[str, Any]:
    """Bias intensification α per technique against sparsity: the mean over seeds and the seeds' range; 1 is no change."""
    rows = sorted(
        (
            {
                "technique": s.technique,
                "amount": s.amount,
                "sparsity": s.sparsity.mean,
                "mean": s.intensification.mean,
                "low": s.intensification.low,
                "high": s.intensification.high,
                "models": len(s.models),
            }
            for s in summaries
            if s.intensification.mean is not None and s.sparsity.mean is not None
        ),
        key=lambda r: (r["technique"], r["sparsity"]),
    )
    tooltip = [
        alt.Tooltip("technique:N", title="Technique"),
        alt.Tooltip("amount:Q", format=".0%", title="Declared amount"),
        alt.Tooltip("mean:Q", format=".3f", title="Mean α"),
        alt.Tooltip("low:Q", format=".3f", title="Lowest"),
        alt.Tooltip("high:Q", format=".3f", title="Highest"),
        alt.Tooltip("models:Q", title="Models (seeds)"),
    ]
    return alpha_bands(
        rows,
        domain=list(dict.fromkeys(s.technique for s in summaries)),
        x_title="Weight sparsity (mean over seeds)",
        tooltip=tooltip,
        title="α per technique: mean over seeds (line), their range (band); dashed: α = 1",
    )


def population_histogram(rows: Rows) -> dict[str, Any]:
    """How many models of each technique fall in each band of top-1 change and of worst-class change."""
    domain = list(dict.fromkeys(r["technique"] for r in rows))
    chart = (
        alt.Chart(data("bins"))
        .mark_bar(opacity=0.85)
        .encode(
            x=alt.X("start:Q", title="Change (pp)", bin="binned"),
            x2="end:Q",
            y=alt.Y("models:Q", title="Models", stack=True),
            color=technique_colour(domain),
            tooltip=[
                alt.Tooltip("technique:N", title="Technique"),
                alt.Tooltip("start:Q", format="+.2f", title="From (pp)"),
                alt.Tooltip("end:Q", format="+.2f", title="To (pp)"),
                alt.Tooltip("models:Q", title="Models"),
            ],
        )
        .properties(width=320, height=220)
    )
    return spec(
        chart.facet(column=alt.Column("measure:N", title=None, sort=["Top-1 change", "Worst-class change"]))
        .resolve_scale(x="independent", y="independent")
        .properties(title="Distribution over all pruned models, stacked by technique"),
        bins=rows,
    )


def recall_change_heatmap(results: Results, scope: Scope) -> dict[str, Any]:
    """The scope's classes (top to bottom in its order: the hardest hit first when not all are drawn) × pruned
    models, coloured by per-class recall change."""
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


def lost_classes(model: Model) -> list[int]:
    """The classes that lost recall in one pruned model, most first (ties: the smaller Holm-adjusted McNemar p,
    the stronger evidence of a loss; then label order). Unchanged classes are not "lost": none is padding."""
    pc = model.vs_dense.per_class
    lost = (i for i, c in enumerate(pc.recall_change) if c is not None and c < 0)  # p is defined where c is
    return sorted(lost, key=lambda i: (pc.recall_change[i], pc.mcnemar_p_holm[i], i))


def worst_k(results: Results, model: Model, *, classes: list[int]) -> dict[str, Any]:
    """Bars of these classes' recall change in one pruned model (in the order given), with 95% Newcombe intervals."""
    names = results.data.class_names
    pc = model.vs_dense.per_class
    rows = [
        {
            "class": names[i],
            "change": 100 * pc.recall_change[i],
            "low": 100 * pc.recall_change_ci.low[i],
            "high": 100 * pc.recall_change_ci.high[i],
            "holm_p": pc.mcnemar_p_holm[i],
        }
        for i in classes
    ]
    y = alt.Y("class:N", sort=[names[i] for i in classes], title="Class")
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
    which = "class that lost recall" if len(classes) == 1 else f"{len(classes)} classes that lost most"
    return spec(
        (bars + err).properties(
            title=f"The {which} in {model.name} (bars: change; lines: 95% interval)",
            width=520,
            height=max(120, 18 * len(classes)),
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


def _near(a: dict[str, Any], b: dict[str, Any], x_domain: list[float], y_domain: list[float]) -> bool:
    """Whether two points are within LABEL_NEAR of each axis' span: one label would cover the other's."""
    (x0, x1), (y0, y1) = x_domain, y_domain
    return abs(a["sparsity"] - b["sparsity"]) <= LABEL_NEAR * (x1 - x0) and abs(
        a["accuracy"] - b["accuracy"]
    ) <= LABEL_NEAR * (y1 - y0)


def _pick_labels(
    picks: Rows, x: alt.X, y: alt.Y, *, x_domain: list[float], y_domain: list[float]
) -> tuple[list[alt.Chart], dict[str, Rows]]:
    """One text layer per group of picks drawn at (nearly) the same place, and their datasets.

    Picks of one model share a line ("accuracy only + knee"); picked models within LABEL_NEAR of each other share
    one label, a line per model naming it, instead of labels drawn over each other. A label sits on the side of
    its point that faces the middle of the chart, so that it stays inside the plot, not piled in a corner; labels
    on the same side of the chart are moved a line further each, in order of sparsity."""
    by_model: dict[str, dict[str, Any]] = {}
    for p in picks:
        by_model.setdefault(p["model"], {**p, "policy": []})["policy"].append(p["policy"])
    groups: list[list[dict[str, Any]]] = []
    for r in sorted(by_model.values(), key=lambda r: (r["sparsity"], r["accuracy"], r["model"])):
        group = next((g for g in groups if _near(g[0], r, x_domain, y_domain)), None)
        if group is None:
            groups.append([r])
        else:
            group.append(r)
    (x0, x1), (y0, y1) = x_domain, y_domain
    layers, datasets, sides = [], {}, []
    for i, group in enumerate(groups):
        at = group[0]
        right, top = at["sparsity"] > (x0 + x1) / 2, at["accuracy"] > (y0 + y1) / 2
        lines = [" + ".join(r["policy"]) + (f": {r['model']}" if len(group) > 1 else "") for r in group]
        step = 14 * sides.count((right, top))  # below (top) or above the labels already on this side
        sides += [(right, top)] * len(lines)
        layers.append(
            alt.Chart(data(f"label-{i}"))
            .mark_text(
                align="right" if right else "left",
                baseline="top" if top else "bottom",
                dx=-10 if right else 10,
                dy=(10 + step) if top else -(10 + step),
                lineBreak="\n",
                fontSize=11,
            )
            .encode(x=x, y=y, text="label:N")
        )
        datasets[f"label-{i}"] = [{"sparsity": at["sparsity"], "accuracy": at["accuracy"], "label": "\n".join(lines)}]
    return layers, datasets


@dataclass(frozen=True)
class _Axis:
    """One axis of a chart that draws mitigation moves: the rows' field, its domain and length in pixels, and how
    the tooltips name and format it."""

    key: str
    domain: list[float]
    pixels: int
    title: str
    format: str


def move_rows(results: Results, rows: Rows, x: _Axis, y: _Axis) -> Rows:
    """Each mitigation's move (`pruneaudit.report.mitigation.pairs`, in audit order) between two models of ``rows``:
    from the source's (x, y) to the recovered model's, and the angle (degrees clockwise from up) that points its
    arrowhead along the move on a plot of these axes. Empty when the audit holds no pair, or none drawn here."""
    from pruneaudit.report.mitigation import pairs  # it draws its own chart with this module's helpers

    at = {r["model"]: r for r in rows}
    moves = []
    for p in pairs(results):
        a, b = at.get(p.source.name), at.get(p.recovered.name)
        if a is None or b is None or any(r[k] is None for r in (a, b) for k in (x.key, y.key)):
            continue
        dx = (b[x.key] - a[x.key]) / (x.domain[1] - x.domain[0]) * x.pixels
        dy = (b[y.key] - a[y.key]) / (y.domain[1] - y.domain[0]) * y.pixels
        moves.append(
            {
                "move": f"{p.source.name} → {p.recovered.name} ({p.method})",
                "method": p.method,
                "source": p.source.name,
                "model": p.recovered.name,
                **{f"{axis.key}_{end}": r[axis.key] for axis in (x, y) for end, r in (("from", a), ("to", b))},
                "angle": round(float(np.degrees(np.arctan2(dx, dy))) % 360, 3),
            }
        )
    return moves


def _move_layers(moves: Rows, x: alt.X, y: alt.Y, xa: _Axis, ya: _Axis, *, avoid: list[str]) -> list[alt.Chart]:
    """A line from the source's point to the recovered model's, and a hollow arrowhead around it (drawn under the
    models' points, so that the recovered model's own mark and tooltip stay on top), coloured (stroke) by method in
    colours the chart's other marks do not use; line and head carry the tooltip "source → recovered (method)"."""
    methods = list(dict.fromkeys(m["method"] for m in moves))
    palette = [c for c in OKABE_ITO if c not in avoid] or OKABE_ITO
    stroke = alt.Stroke(
        "method:N",
        title="Mitigation (method)",
        scale=alt.Scale(domain=methods, range=[palette[i % len(palette)] for i in range(len(methods))]),
    )
    tooltip = [alt.Tooltip("move:N", title="Mitigation (source → recovered)")] + [
        alt.Tooltip(f"{a.key}_{end}:Q", format=a.format, title=f"{a.title} {when}")
        for a in (ya, xa)
        for end, when in (("from", "before"), ("to", "after"))
    ]

    def at(channel: alt.X | alt.Y, field: str) -> alt.X | alt.Y:  # the chart's axis (title, scale), on this field
        moved = channel.copy()
        moved.shorthand = f"{field}:Q"
        return moved

    base = alt.Chart(data("moves"))
    line = base.mark_rule(strokeWidth=2).encode(
        x=at(x, f"{xa.key}_from"), y=at(y, f"{ya.key}_from"), x2=f"{xa.key}_to:Q", y2=f"{ya.key}_to:Q"
    )
    head = base.mark_point(shape="triangle", size=240, filled=False, strokeWidth=2, opacity=1).encode(
        x=at(x, f"{xa.key}_to"), y=at(y, f"{ya.key}_to"), angle=alt.Angle("angle:Q", scale=None)
    )
    return [layer.encode(stroke=stroke, tooltip=tooltip) for layer in (line, head)]


def operating_points(results: Results, points: tuple[Model, ...]) -> dict[str, Any]:
    """Accuracy vs sparsity coloured by worst-class change, the accuracy–sparsity front drawn, picks marked.

    The front is the selection's (over all pruned models); drawn through the windowed points it is the
    front of the window too, since a point outside the window can never dominate one inside it. The axes span
    at least MIN_ACCURACY_SPAN and MIN_SPARSITY_SPAN, so that near-equal models are drawn near each other."""
    selection = results.selection
    rows = model_rows(points)  # the picks are among the points (scope._point_models)
    picks = _pick_points(rows, selection)
    scale = change_scale([r["worst_change_pp"] for r in rows])
    best = max((r["accuracy"] for r in rows if r["accuracy"] is not None), default=0.0)
    # collapsed models stay in the tables, not here
    rows = [r for r in rows if r["accuracy"] is not None and r["accuracy"] >= best - OPERATING_WINDOW]
    on_front = set(selection.accuracy_sparsity_front)
    front_rows = sorted((r for r in rows if r["model"] in on_front), key=lambda r: (r["sparsity"], r["accuracy"]))
    drawn = rows + picks
    x_domain = _axis_domain([r["sparsity"] for r in drawn], min_span=MIN_SPARSITY_SPAN, low=0.0, high=1.0)
    y_domain = _axis_domain([r["accuracy"] for r in drawn], min_span=MIN_ACCURACY_SPAN, low=0.0, high=1.0)
    x = alt.X(
        "sparsity:Q",
        title="Weight sparsity (measured)",
        axis=alt.Axis(format="%"),
        scale=_fixed(x_domain),
    )
    y = alt.Y(
        "accuracy:Q",
        title="Top-1 accuracy",
        axis=alt.Axis(format="%"),
        scale=_fixed(y_domain),
    )
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
    labels, label_rows = _pick_labels(picks, x, y, x_domain=x_domain, y_domain=y_domain)
    xa = _Axis("sparsity", x_domain, POINTS_WIDTH, "Sparsity", ".1%")
    ya = _Axis("accuracy", y_domain, POINTS_HEIGHT, "Top-1", ".2%")
    moves = move_rows(results, rows, xa, ya)  # the blues and oranges are the worst-class change's
    arrows = _move_layers(moves, x, y, xa, ya, avoid=["#E69F00", "#56B4E9", "#0072B2", "#D55E00"]) if moves else []
    return spec(
        alt.layer(front, *arrows, points, marks, *labels).properties(
            title="Operating points: accuracy-sparsity front (dashed) and policy picks (squares)"
            + ("; arrows: mitigation moves" if moves else ""),
            width=POINTS_WIDTH,
            height=POINTS_HEIGHT,
        ),
        models=rows,
        front=front_rows,
        picks=picks,
        **label_rows,
        **({"moves": moves} if moves else {}),
    )


def accuracy_vs_disparity(results: Results, points: tuple[Model, ...]) -> dict[str, Any]:
    """Accuracy against worst-class change; each technique's path as sparsity grows, front members filled.

    One dataset for the three layers (the points filter it), so that 1,000 models are inlined once."""
    domain = list(dict.fromkeys(m.technique_label for m in results.pruned))
    front, on_front = set(results.selection.front), "on the Pareto front"
    rows = sorted(model_rows(points), key=lambda r: (r["series"], r["sparsity"]))
    rows = [{**r, "on_front": on_front if r["model"] in front else "dominated"} for r in rows]
    x_domain = _axis_domain([r["worst_change_pp"] for r in rows], min_span=MIN_CHANGE_SPAN_PP)
    y_domain = _axis_domain([r["accuracy"] for r in rows], min_span=MIN_ACCURACY_SPAN, low=0.0, high=1.0)
    x = alt.X("worst_change_pp:Q", title="Worst-class recall change (pp)", scale=_fixed(x_domain))
    y = alt.Y("accuracy:Q", title="Top-1 accuracy", axis=alt.Axis(format="%"), scale=_fixed(y_domain))
    xa = _Axis("worst_change_pp", x_domain, POINTS_WIDTH, "Worst-class change", "+.2f")
    ya = _Axis("accuracy", y_domain, POINTS_HEIGHT, "Top-1", ".2%")
    moves = move_rows(results, rows, xa, ya)
    base = alt.Chart(data("models")).encode(x=x, y=y, color=technique_colour(domain))
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
    arrows = _move_layers(moves, x, y, xa, ya, avoid=OKABE_ITO[: len(domain)]) if moves else []
    return spec(
        alt.layer(paths, *arrows, hollow, filled).properties(
            title="Accuracy against worst-class change: each technique's path as sparsity grows (filled: on the front)"
            + ("; arrows: mitigation moves" if moves else ""),
            width=POINTS_WIDTH,
            height=POINTS_HEIGHT,
        ),
        models=rows,
        **({"moves": moves} if moves else {}),
    )


def _highest(relations: tuple[Relation, ...]) -> list[Relation]:
    """Each technique's configuration at its highest amount (ties: the higher mean sparsity)."""
    best: dict[str, Relation] = {}
    for r in relations:
        key = (r.amount or 0.0, r.sparsity or 0.0)
        if r.technique not in best or key > ((best[r.technique].amount or 0.0), (best[r.technique].sparsity or 0.0)):
            best[r.technique] = r
    return list(best.values())


def relation_chart(relations: tuple[Relation, ...], *, x_title: str, alpha: float) -> dict[str, Any]:
    """Left: Spearman's ρ of x against the recall change, per configuration, against sparsity (filled: p < alpha).
    Right: at each technique's highest amount, every class's x against its mean change, with the fitted line."""
    domain = list(dict.fromkeys(r.technique for r in relations))
    colour = technique_colour(domain)
    rho_rows = [
        {
            "technique": r.technique,
            "amount": r.amount,
            "sparsity": r.sparsity,
            "rho": r.correlation.rho,
            "p": r.correlation.p,
            "significant": "p < alpha"
            if r.correlation.p is not None and r.correlation.p < alpha
            else "not significant",
            "models": len(r.models),
        }
        for r in relations
        if r.correlation.rho is not None and r.sparsity is not None
    ]
    rho_rows.sort(key=lambda row: (row["technique"], row["sparsity"]))
    points, lines = [], []
    for r in _highest(relations):
        points += [
            {"technique": r.technique, "class": c, "x": x, "change_pp": 100 * y} for c, x, y in zip(r.classes, r.x, r.y)
        ]
        if r.trend.slope is not None:
            lines += [
                {"technique": r.technique, "x": x, "change_pp": 100 * (r.trend.intercept + r.trend.slope * x)}
                for x in (min(r.x), max(r.x))
            ]
    x_sparsity = alt.X("sparsity:Q", title="Weight sparsity (mean over seeds)", axis=alt.Axis(format="%"))
    rho_base = alt.Chart(data("rho")).encode(
        x=x_sparsity, y=alt.Y("rho:Q", title="Spearman ρ", scale=alt.Scale(domain=[-1, 1])), color=colour
    )
    rho_tooltip = [
        alt.Tooltip("technique:N", title="Technique"),
        alt.Tooltip("amount:Q", format=".0%", title="Declared amount"),
        alt.Tooltip("rho:Q", format="+.2f", title="ρ"),
        alt.Tooltip("p:Q", format=".3g", title="p"),
        alt.Tooltip("models:Q", title="Models (seeds)"),
    ]
    rho_panel = (
        rho_base.mark_line(opacity=0.7)
        + rho_base.mark_point(size=60).encode(
            fill=alt.condition(alt.datum.significant == "p < alpha", colour, alt.value("white")), tooltip=rho_tooltip
        )
        + alt.Chart(data("rho")).mark_rule(color="#888", strokeDash=[2, 2]).encode(y=alt.datum(0))
    ).properties(title="Rank correlation per configuration (filled: p < alpha)", width=300, height=240)
    x_class = alt.X("x:Q", title=x_title, axis=alt.Axis(format="%"), scale=alt.Scale(zero=False))
    y_change = alt.Y("change_pp:Q", title="Mean recall change (pp)")
    scatter = (
        alt.Chart(data("classes"))
        .mark_point(size=50, filled=True, opacity=0.8)
        .encode(
            x=x_class,
            y=y_change,
            color=colour,
            tooltip=[
                alt.Tooltip("technique:N", title="Technique"),
                alt.Tooltip("class:N", title="Class"),
                alt.Tooltip("x:Q", format=".2%", title=x_title),
                alt.Tooltip("change_pp:Q", format="+.2f", title="Mean change (pp)"),
            ],
        )
        + alt.Chart(data("trend"))
        .mark_line(strokeDash=[5, 3])
        .encode(x=x_class, y=y_change, color=colour, detail="technique:N")
    ).properties(title="Classes at each technique's highest amount (dashed: fitted line)", width=300, height=240)
    return spec(alt.hconcat(rho_panel, scatter), rho=rho_rows, classes=points, trend=lines)


def relation_sentence(relations: tuple[Relation, ...], *, alpha: float, worse: str, better: str) -> str:
    """The relation in words, from the numbers: how many configurations lean each way and how many
    significantly, then each technique at its highest amount."""
    lean = leaning(relations, alpha=alpha)
    defined = lean.defined
    if not defined:
        return "No configuration has enough classes with a defined change to measure the relation."
    parts = [
        f"In {len(lean.positive)} of {len(defined)} configurations {worse} (Spearman ρ > 0), significantly "
        f"(p < {alpha}) in {len(lean.significant_positive)}; the opposite is significant in "
        f"{len(lean.significant_negative)}."
    ]
    highest = [
        f"{r.technique} at {r.amount:.0%}: ρ = {signed(r.correlation.rho)} (p = {r.correlation.p:.2g})"
        for r in _highest(tuple(defined))
        if r.amount is not None
    ]
    if highest:
        parts.append("At each technique's highest amount: " + "; ".join(highest) + f". {better}")
    return " ".join(parts)


def outcome_chart(rows: Rows) -> dict[str, Any]:
    """Share of classes harmed, unchanged and helped against sparsity, a line per technique; columns: the two
    criteria (beyond the tolerance; significant by Holm-corrected McNemar)."""
    domain = list(dict.fromkeys(r["technique"] for r in sorted(rows, key=lambda r: r["technique"])))
    base = (
        alt.Chart()
        .mark_line(point=True)
        .encode(
            x=alt.X("sparsity:Q", title="Weight sparsity (mean over seeds)", axis=alt.Axis(format="%")),
            y=alt.Y("share:Q", title="Share of classes", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=technique_colour(domain),
            tooltip=[
                alt.Tooltip("technique:N", title="Technique"),
                alt.Tooltip("amount:Q", format=".0%", title="Declared amount"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("criterion:N", title="Criterion"),
                alt.Tooltip("share:Q", format=".1%", title="Share of classes (mean over seeds)"),
                alt.Tooltip("models:Q", title="Models (seeds)"),
            ],
        )
        .properties(width=260, height=150)
    )
    return spec(
        base.facet(
            data=data("outcomes"),
            row=alt.Row("outcome:N", title=None, sort=list(OUTCOMES)),
            column=alt.Column("criterion:N", title=None, sort=list(CRITERIA)),
        ).properties(title="Classes harmed, unchanged and helped as sparsity grows"),
        outcomes=rows,
    )


def front_coordinates(results: Results) -> dict[str, Any]:
    """The whole Pareto front over every selection objective at once: one line per front model across parallel axes,
    each objective min–max scaled over the front with up as better (axis labels give the real range)."""
    sel = results.selection
    names = [o.name for o in sel.objectives]
    members = [results.model(n) for n in sel.front]
    values = np.array([[model_value(m, n) for n in names] for m in members], dtype=float).reshape(len(members), -1)
    lo, hi = values.min(axis=0), values.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    up = np.array([1.0 if o.maximize else -1.0 for o in sel.objectives])
    scaled = np.where(up > 0, (values - lo) / span, (hi - values) / span)
    rows = []
    for m, raw, pos in zip(members, values, scaled):
        for k, name in enumerate(names):
            rows.append(
                {
                    "model": m.name,
                    "technique": m.technique_label,
                    "objective": name + (" ↑" if up[k] > 0 else " ↓"),
                    "range": f"{lo[k]:.4g} to {hi[k]:.4g} on the front; {'higher' if up[k] > 0 else 'lower'} is better",
                    "position": float(pos[k]),
                    "value": float(raw[k]),
                }
            )
    domain = list(dict.fromkeys(m.technique_label for m in members))
    order = list(dict.fromkeys(r["objective"] for r in rows))
    chart = (
        alt.Chart(data("front"))
        .mark_line(point=True, opacity=0.8)
        .encode(
            x=alt.X("objective:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=220)),
            y=alt.Y("position:Q", title="Position on the front (up is better)", scale=alt.Scale(domain=[0, 1])),
            color=technique_colour(domain),
            detail="model:N",
            tooltip=[
                alt.Tooltip("model:N", title="Model"),
                alt.Tooltip("technique:N", title="Technique"),
                alt.Tooltip("objective:N", title="Objective"),
                alt.Tooltip("value:Q", format=".4g", title="Value"),
                alt.Tooltip("range:N", title="Axis"),
            ],
        )
        .properties(
            title="The Pareto front over all objectives, one line per model (↑ / ↓: higher / lower is better)",
            width=560,
            height=260,
        )
    )
    return spec(chart, front=rows)


def _front_chart(results: Results) -> list[Chart]:
    """The 3-objective (or k-objective) front whole, and the models on it that no 2-D view shows on a front."""
    sel = results.selection
    if sel is None or len(sel.objectives) < 3 or not sel.front:
        return []
    values = {tuple(model_value(results.model(n), o.name) for o in sel.objectives) for n in sel.front}
    if len(values) == 1:  # every front model at one point (nothing changed): no lines to tell apart
        sentence = f"All {len(sel.front)} front models have the same value on every objective: the front is one point."
        return [Chart("front-whole", "The Pareto front over all objectives", sentence, None)]
    on_pairs = set().union(*pairwise_fronts(results).values())
    hidden = [n for n in sel.front if n not in on_pairs]
    names = ", ".join(o.name for o in sel.objectives)
    said = (
        f"{len(hidden)} of the {len(sel.front)} front models are on no 2-D front of two objectives, so the 2-D charts "
        "show them as dominated: " + ", ".join(hidden) + "."
        if hidden
        else f"Every one of the {len(sel.front)} front models is also on the 2-D front of some pair of objectives."
    )
    return [
        Chart(
            "front-whole",
            "The Pareto front over all objectives",
            f"The models no other pruned model beats on every objective at once ({names}), each a line across one axis "
            "per objective, scaled over the front so that up is better. " + said,
            front_coordinates(results),
        )
    ]


@dataclass(frozen=True)
class Chart:
    """One chart of the card: its section id, heading, a summary in words (what a reader without the chart needs)
    and the Vega-Lite spec; ``partial``: it draws part of the data, and the card links the files that hold all.
    ``spec`` None: there is nothing to draw (no class lost recall, nothing changed), and the summary says so
    instead of a chart of zeros."""

    id: str
    title: str
    summary: str
    spec: dict[str, Any] | None
    partial: bool = False


def _classes(n: int) -> str:
    return f"{n:,} class" + ("" if n == 1 else "es")


def _unchanged(models: tuple[Model, ...]) -> bool:
    """Whether no class's recall changed in any of these models (undefined changes aside)."""
    return all(not c for m in models for c in m.vs_dense.per_class.recall_change if c is not None)


def _heatmap_chart(results: Results, scope: Scope) -> Chart:
    """The heatmap, or a sentence where it would draw no loss: beyond HEATMAP_CLASSES classes it draws only the
    classes that lost recall (hardest hit first, worst_classes), and when no class lost there is no row to draw."""
    title = "Per-class recall change against the dense model"
    bounded = len(scope.heatmap_classes) < scope.n_classes
    if bounded and not scope.heatmap_classes:
        return Chart(
            "recall-change",
            title,
            "No class lost recall in any pruned model: there is no class to draw. "
            "The per-class table below gives each class's change.",
            None,
        )
    if not bounded and _unchanged(scope.models):
        return Chart("recall-change", title, "No class's recall changed in any pruned model.", None)
    n = len(scope.heatmap_classes)
    if not bounded:
        clipped = ""
    elif scope.n_lost > n:
        clipped = f" Only the {_classes(n)} hit hardest by any model are drawn, the hardest at the top."
    else:
        clipped = (
            f" Only the {_classes(n)} that lost recall in some model {'are' if n > 1 else 'is'} drawn (no other "
            "class lost), the hardest hit at the top."
        )
    return Chart(
        "recall-change",
        title,
        "Orange cells lost recall, blue cells gained; colours saturate at "
        f"±{HEATMAP_CLAMP_PP:.0f} pp. The per-class table below holds the exact numbers."
        + clipped
        + ("" if scope.all_models else " " + models_note(scope)),
        recall_change_heatmap(results, scope),
        partial=bounded or not scope.all_models,
    )


def _distribution_chart(scope: Scope) -> Chart:
    title = "Distribution of per-class change"
    if _unchanged(scope.models):
        return Chart("change-distribution", title, "No class's recall changed in any pruned model shown.", None)
    return Chart(
        "change-distribution",
        title,
        "For each pruned model: the box spans the middle half of the classes' recall changes, the line "
        "runs from the worst to the best class, the tick is the median; the dashed line is no change."
        + ("" if scope.all_models else " " + models_note(scope)),
        change_distribution(scope.models),
        partial=not scope.all_models,
    )


def _seed_chart(summaries: tuple[ConfigurationSummary, ...]) -> Chart:
    title = "Per-technique curves over seeds"
    spreads = [v for s in summaries for v in (s.accuracy_change, s.worst_change)]
    if all(not x for v in spreads for x in (v.mean, v.low, v.high)):  # every one 0 or undefined
        return Chart(
            "seed-curves",
            title,
            "No configuration changed: every model of every configuration keeps the dense model's top-1, and no "
            "class lost recall in any of them. The configurations table above lists them.",
            None,
        )
    return Chart(
        "seed-curves",
        title,
        "For each technique and amount: the mean change over the configuration's models (seeds), and the "
        "band from the lowest to the highest of them"
        + ("" if has_seeds(summaries) else " (every configuration here has one model, so there is no band)")
        + ", at the configurations' mean measured sparsity. The configurations table above gives the numbers.",
        seed_curves(summaries),
    )


def _population_chart(results: Results, scope: Scope) -> Chart:
    title = "Distribution over all models"
    values = [v for m in results.pruned for v in (m.vs_dense.accuracy_change, m.vs_dense.worst_class_change.value)]
    if all(not v for v in values):
        return Chart(
            "population",
            title,
            f"All {scope.n_pruned:,} pruned models keep the dense model's top-1, and no class lost recall in any of them.",
            None,
        )
    return Chart(
        "population",
        title,
        f"How many of the {scope.n_pruned:,} pruned models (stacked by technique) fall in each band of top-1 "
        "change and of worst-class change: the whole population, where the views above show some of it.",
        population_histogram(histogram(results)),
    )


def _overview_charts(results: Results, scope: Scope) -> list[Chart]:
    charts = []
    if scope.all_points:  # lines through some of a technique's models would draw a path no seed took
        charts.append(
            Chart(
                "accuracy-sparsity",
                "Accuracy and worst-class change against sparsity",
                "Each point is a model; lines join models of one technique (and seed). "
                "The table of models above holds the same numbers.",
                accuracy_vs_sparsity(results),
            )
        )
    summaries = configuration_summaries(results)
    if summaries:
        charts.append(_seed_chart(summaries))
    charts += [_heatmap_chart(results, scope), _distribution_chart(scope)]
    if not scope.all_models:
        charts.append(_population_chart(results, scope))
    return charts


def _worst_chart(results: Results, focus: Spotlight, scope: Scope) -> Chart:
    """The spotlight model's classes that lost most, up to WORST_K; only classes that lost, and a sentence
    instead of the chart when none did."""
    name = focus.model.name
    title = f"Worst-hit classes in {name}"
    lost = lost_classes(focus.model)
    if not lost:
        return Chart("worst-classes", title, f"No class lost recall in {name}, {focus.why}.", None)
    shown = lost[:WORST_K]
    which = (
        f"The classes whose recall fell most (up to {WORST_K}) in {name}, {focus.why}"
        if len(lost) > WORST_K
        else f"The {_classes(len(lost))} whose recall fell in {name}, {focus.why} (no other class lost)"
    )
    return Chart(
        "worst-classes",
        title,
        f"{which}, with 95% Newcombe intervals; equal losses are ordered by the smaller Holm-adjusted McNemar p"
        + ("; the per-class table has all classes." if scope.all_classes else "."),
        worst_k(results, focus.model, classes=shown),
        partial=not scope.all_classes,
    )


def _spotlight_charts(results: Results, focus: Spotlight, scope: Scope) -> list[Chart]:
    name = focus.model.name
    charts = [_worst_chart(results, focus, scope)]
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


def _selection_charts(results: Results, scope: Scope) -> list[Chart]:
    drawn = "" if scope.all_points else " " + points_note(scope)
    return [
        Chart(
            "operating-points",
            "Operating points",
            "Pruned models by sparsity and accuracy, coloured by worst-class change; the dashed line is the "
            "accuracy–sparsity front and squares mark each policy's pick. Models more than "
            f"{100 * OPERATING_WINDOW:.0f} pp below the best top-1 are left off (they are in the tables). "
            "The selection section below states the same picks in words." + drawn,
            operating_points(results, scope.points),
        ),
        Chart(
            "accuracy-disparity",
            "Accuracy against disparity, per technique",
            "Lines follow each technique (and seed) from low to high sparsity; filled points are on the "
            "Pareto front over the selection objectives. Up and to the right is better on both axes. Hypervolumes "
            "in the selection section summarise each technique's front." + drawn,
            accuracy_vs_disparity(results, scope.points),
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
        charts += _selection_charts(results, scope) + _front_chart(results)
    if focus is not None and results.data.n_classes <= MAX_MATRIX_CLASSES:
        charts.append(_confusion_chart(results, focus))
    return charts + _outcome_charts(results) + _relation_charts(results)


def _outcome_charts(results: Results) -> list[Chart]:
    rows = outcome_shares(results)
    if not rows:
        return []
    moved = [r for r in rows if r["outcome"] != "unchanged" and r["share"] > 0]
    if not moved:
        return [Chart("outcomes", "Classes harmed and helped", "No configuration harmed or helped any class.", None)]
    worst = max((r for r in rows if r["outcome"] == "harmed"), key=lambda r: (r["share"], r["criterion"]))
    helped = max((r for r in rows if r["outcome"] == "helped"), key=lambda r: (r["share"], r["criterion"]))
    return [
        Chart(
            "outcomes",
            "Classes harmed and helped",
            "For each technique, the share of classes whose recall fell (harmed), rose (helped) or neither, by "
            "more than the tolerance (left) and significantly by Holm-corrected exact McNemar tests (right), "
            f"mean over seeds. Most harmed: {worst['technique']} at {worst['amount']:.0%}, "
            f"{worst['share']:.0%} of classes ({worst['criterion']}); most helped: {helped['technique']} at "
            f"{helped['amount']:.0%}, {helped['share']:.0%} ({helped['criterion']}).",
            outcome_chart(rows),
        )
    ]


_NOTHING_TO_RELATE = (
    "No configuration has three or more classes whose recall changed unevenly, so there is no relation to measure "
    "(a constant change has no rank correlation)."
)


def _measurable(relations: tuple[Relation, ...]) -> bool:
    return any(r.correlation.rho is not None for r in relations)


def _relation_charts(results: Results) -> list[Chart]:
    """The seed study's two questions (pruneaudit.analyses): harm against representation, and "the rich get richer"."""
    alpha = results.settings.alpha
    charts = []
    represented = representation(results)
    if represented is None:
        charts.append(
            Chart(
                "representation",
                "Harm against representation",
                "This analysis needs the training set's class counts (`train_class_counts:` in the audit config, "
                "written by `pruneaudit prune`, or a `train_labels:` file to count), which this audit was not given.",
                None,
            )
        )
    elif not _measurable(represented):
        charts.append(Chart("representation", "Harm against representation", _NOTHING_TO_RELATE, None))
    else:
        charts.append(
            Chart(
                "representation",
                "Harm against representation",
                "Does pruning take more from classes with fewer training images? Per configuration, each class's share "
                "of the training set against its recall change (mean over seeds). "
                + relation_sentence(
                    represented,
                    alpha=alpha,
                    worse="classes with fewer training images lost more",
                    better="A positive ρ: the less a class was seen in training, the more it lost.",
                ),
                relation_chart(represented, x_title="Share of the training set", alpha=alpha),
            )
        )
    richer = rich_get_richer(results)
    if richer and not _measurable(richer):
        charts.append(Chart("rich-get-richer", "Do the rich get richer?", _NOTHING_TO_RELATE, None))
    elif richer:
        charts.append(
            Chart(
                "rich-get-richer",
                "Do the rich get richer?",
                "Does pruning take more from the classes the dense model already found hard? Per configuration, the "
                "dense model's recall of each class against the class's recall change (mean over seeds). "
                + relation_sentence(
                    richer,
                    alpha=alpha,
                    worse="classes the dense model recalled worse lost more",
                    better="A positive ρ: weak classes lose, strong ones keep (bias intensification α > 1 in the "
                    "models table says the same of each model).",
                ),
                relation_chart(richer, x_title="Dense model's recall of the class", alpha=alpha),
            )
        )
    charts += _alpha_chart(results)
    return charts


def _alpha_chart(results: Results) -> list[Chart]:
    """Bias intensification (Good et al. 2022) against sparsity, per technique (the models table gives each model's α)."""
    summaries = [c for c in configuration_summaries(results) if c.intensification.mean is not None]
    if not summaries:
        return []
    if all(c.intensification.low == c.intensification.high == 1.0 for c in summaries):
        sentence = "α = 1 in every model: pruning left each class's normalised bias as it was."
        return [Chart("intensification", "Bias intensification against sparsity", sentence, None)]
    above = [c for c in summaries if c.intensification.mean > 1]
    top = max(summaries, key=lambda c: (c.intensification.mean, c.technique))
    return [
        Chart(
            "intensification",
            "Bias intensification against sparsity",
            "α (Good et al. 2022) projects each class's normalised bias (R_c − A)/A after pruning onto the dense "
            "model's: α > 1 means pruning amplified the imbalance the dense model already had. "
            f"In {len(above)} of {len(summaries)} configurations the mean α over seeds is above 1; the highest is "
            f"{top.technique} at {top.amount:.0%} (α = {top.intensification.mean:.2f}).",
            alpha_curves(tuple(summaries)),
        )
    ]
