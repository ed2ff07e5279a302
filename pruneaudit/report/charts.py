"""Altair chart specs built from results.json, embedded as JSON (never as HTML).

Colours: Okabe–Ito for techniques and a blue–orange diverging scheme for changes,
both readable with the common colour-vision deficiencies. No interactive
selections: Altair numbers them from a process-wide counter, which would make the
HTML differ between runs.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

HEATMAP_CLAMP_PP = 20.0
HEATMAP_CLASSES = 40  # beyond this many classes the heatmap shows the worst-hit ones
WORST_K = 15
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442"]


def change_scale(values_pp: pd.Series) -> alt.Scale:
    """Diverging blue–orange scale for changes in pp, symmetric around 0.

    The range is clamped (at most ±HEATMAP_CLAMP_PP, at least ±5 pp) so that a few collapsed
    models do not wash out the small changes that matter at moderate sparsity; tooltips and
    tables keep the exact values."""
    largest = float(values_pp.abs().max()) if values_pp.notna().any() else 0.0
    limit = min(max(largest, 5.0), HEATMAP_CLAMP_PP)
    return alt.Scale(scheme="blueorange", domain=[-limit, limit], reverse=True, clamp=True)


def technique(model: dict[str, Any]) -> str:
    if model["role"] == "dense":
        return "dense"
    return str(model["metadata"].get("technique", "unspecified"))


def model_rows(results: dict[str, Any]) -> pd.DataFrame:
    """One row per model with the scalars the overview charts plot."""
    rows = []
    for m in results["models"]:
        vs = m["vs_dense"] or {}
        worst = vs.get("worst_class_change") or {}
        seed = m["metadata"].get("seed")
        rows.append(
            {
                "model": m["name"],
                "technique": technique(m),
                "series": technique(m) + ("" if seed is None else f" (seed {seed})"),
                "sparsity": m["facts"]["sparsity"],
                "accuracy": m["metrics"]["accuracy"],
                "accuracy_change_pp": 100 * (vs.get("accuracy_change") or 0.0),
                "worst_change_pp": 100 * (worst.get("value") or 0.0),
                "worst_class": worst.get("class") or "",
            }
        )
    return pd.DataFrame(rows)


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


def accuracy_vs_sparsity(results: dict[str, Any]) -> dict[str, Any]:
    """Left: top-1 accuracy; right: worst-class and overall recall change, both against sparsity."""
    df = model_rows(results)
    domain = list(dict.fromkeys(df["technique"]))
    base = alt.Chart(df).encode(
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
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(color="#888").encode(y="y:Q")
    change = (zero + overall + worst).properties(
        title="Worst-class change (solid) vs overall change (dashed)", width=320, height=260
    )
    return alt.hconcat(acc, change).to_dict()


def worst_classes(results: dict[str, Any], k: int) -> list[int]:
    """Indices of the k classes with the most negative recall change in any pruned model, worst first.

    Views that cannot show every class at 1,000 classes show these (ties: class index)."""
    n = results["data"]["n_classes"]
    worst = [0.0] * n
    for m in results["models"]:
        if m["vs_dense"] is not None:
            for i, d in enumerate(m["vs_dense"]["per_class"]["recall_change"]):
                if d is not None and d < worst[i]:
                    worst[i] = d
    return sorted(range(n), key=lambda i: (worst[i], i))[:k]


def recall_change_heatmap(results: dict[str, Any]) -> dict[str, Any]:
    """Classes × pruned models, coloured by per-class recall change (top-k classes beyond HEATMAP_CLASSES)."""
    all_names = results["data"]["class_names"]
    shown = (
        sorted(worst_classes(results, HEATMAP_CLASSES)) if len(all_names) > HEATMAP_CLASSES else range(len(all_names))
    )
    names = [all_names[i] for i in shown]
    dense = next(m for m in results["models"] if m["role"] == "dense")
    rows = []
    for m in results["models"]:
        if m["vs_dense"] is None:
            continue
        changes = m["vs_dense"]["per_class"]["recall_change"]
        for i in shown:
            delta = changes[i]
            rows.append(
                {
                    "model": m["name"],
                    "class": all_names[i],
                    "change_pp": None if delta is None else 100 * delta,
                    "dense_recall": dense["per_class"]["recall"][i],
                    "pruned_recall": m["per_class"]["recall"][i],
                }
            )
    df = pd.DataFrame(rows)
    order = [m["name"] for m in results["models"] if m["vs_dense"] is not None]
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("model:N", sort=order, title="Pruned model"),
            y=alt.Y("class:N", sort=list(names), title="Class"),
            color=alt.Color(
                "change_pp:Q",
                title="Recall change (pp)",
                scale=change_scale(df["change_pp"]),
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
        )
        .to_dict()
    )


def change_distribution(results: dict[str, Any]) -> dict[str, Any]:
    """Per pruned model, the spread of per-class recall change: box (quartiles), whiskers (min–max), median tick.

    Quantiles are computed here so that the chart stays small at 1,000 classes."""
    import numpy as np

    rows = []
    for m in results["models"]:
        if m["vs_dense"] is None:
            continue
        d = np.array([v for v in m["vs_dense"]["per_class"]["recall_change"] if v is not None], dtype=float) * 100
        if d.size:
            q = np.percentile(d, [0, 25, 50, 75, 100])
            rows.append({"model": m["name"], "min": q[0], "q1": q[1], "median": q[2], "q3": q[3], "max": q[4]})
    df = pd.DataFrame(rows)
    order = list(df["model"])
    y = alt.Y("model:N", sort=order, title="Pruned model")
    tooltip = [alt.Tooltip("model:N", title="Model")] + [
        alt.Tooltip(f"{c}:Q", format="+.2f", title=t)
        for c, t in (("min", "Worst class"), ("q1", "25%"), ("median", "Median"), ("q3", "75%"), ("max", "Best class"))
    ]
    base = alt.Chart(df).encode(y=y, tooltip=tooltip)
    whisker = base.mark_rule(color="#888").encode(x=alt.X("min:Q", title="Per-class recall change (pp)"), x2="max:Q")
    box = base.mark_bar(size=10, color="#56B4E9").encode(x="q1:Q", x2="q3:Q")
    median = base.mark_tick(color="#000", thickness=2, size=12).encode(x="median:Q")
    zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(color="#D55E00", strokeDash=[3, 3]).encode(x="x:Q")
    return (
        (whisker + box + median + zero)
        .properties(
            title="Distribution of per-class recall change per model", width=520, height=max(160, 16 * len(order))
        )
        .to_dict()
    )


def worst_k(results: dict[str, Any], model: dict[str, Any], k: int = WORST_K) -> dict[str, Any]:
    """The k classes that lost most recall in one pruned model, with 95% Newcombe intervals."""
    names = results["data"]["class_names"]
    pc = model["vs_dense"]["per_class"]
    idx = [i for i in range(len(names)) if pc["recall_change"][i] is not None]
    idx = sorted(idx, key=lambda i: (pc["recall_change"][i], i))[:k]
    df = pd.DataFrame(
        [
            {
                "class": names[i],
                "change": 100 * pc["recall_change"][i],
                "low": 100 * pc["recall_change_ci"]["low"][i],
                "high": 100 * pc["recall_change_ci"]["high"][i],
                "holm_p": pc["mcnemar_p_holm"][i],
            }
            for i in idx
        ]
    )
    y = alt.Y("class:N", sort=[names[i] for i in idx], title="Class")
    tooltip = [
        alt.Tooltip("class:N", title="Class"),
        alt.Tooltip("change:Q", format="+.2f", title="Change (pp)"),
        alt.Tooltip("low:Q", format="+.2f", title="95% CI low"),
        alt.Tooltip("high:Q", format="+.2f", title="95% CI high"),
        alt.Tooltip("holm_p:Q", format=".3g", title="McNemar p (Holm)"),
    ]
    bars = (
        alt.Chart(df)
        .mark_bar(color="#D55E00")
        .encode(y=y, x=alt.X("change:Q", title="Recall change (pp)"), tooltip=tooltip)
    )
    err = alt.Chart(df).mark_rule(color="#000").encode(y=y, x="low:Q", x2="high:Q")
    return (
        (bars + err)
        .properties(
            title=f"The {len(idx)} classes that lost most in {model['name']} (bars: change; lines: 95% interval)",
            width=520,
            height=max(120, 18 * len(idx)),
        )
        .to_dict()
    )


def subgroup_changes(results: dict[str, Any], model: str) -> dict[str, Any]:
    """Top-1 change of one pruned model within each subgroup, one panel row per grouping."""
    rows = [
        {
            "grouping": g["grouping"],
            "group": g["group"],
            "change": None if g["accuracy_change"] is None else 100 * g["accuracy_change"],
            "n": g["n_samples"],
            "worst": None if g["worst_class_change"]["value"] is None else 100 * g["worst_class_change"]["value"],
        }
        for g in results["subgroups"]
        if g["model"] == model
    ]
    df = pd.DataFrame(rows)
    tooltip = [
        alt.Tooltip("grouping:N", title="Attribute"),
        alt.Tooltip("group:N", title="Group"),
        alt.Tooltip("n:Q", title="Images"),
        alt.Tooltip("change:Q", format="+.2f", title="Top-1 change (pp)"),
        alt.Tooltip("worst:Q", format="+.2f", title="Worst-class change (pp)"),
    ]
    return (
        alt.Chart(df)
        .mark_bar(color="#0072B2")
        .encode(
            y=alt.Y("group:N", title=None), x=alt.X("change:Q", title=f"Top-1 change of {model} (pp)"), tooltip=tooltip
        )
        .properties(width=480)
        .facet(row=alt.Row("grouping:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(y="independent")
        .to_dict()
    )


def confusion_pair(results: dict[str, Any], dense: dict[str, Any], pruned: dict[str, Any]) -> dict[str, Any]:
    """Row-normalised confusion matrices of two models side by side (≤ 50 classes)."""
    names = results["data"]["class_names"]
    rows = []
    for m in (dense, pruned):
        support = m["per_class"]["support"]
        for t, p, n in m["confusion"]:
            rows.append(
                {"model": m["name"], "true": names[t], "predicted": names[p], "count": n, "share": n / support[t]}
            )
    df = pd.DataFrame(rows)
    panel = (
        alt.Chart(df)
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
    return panel.facet(column=alt.Column("model:N", sort=[dense["name"], pruned["name"]], title=None)).to_dict()


def _front_line(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows of ``df`` on the 2-D front (both axes maximised), sorted by x."""
    from pruneaudit.pareto import pareto_mask

    part = df.dropna(subset=[x, y])
    if not len(part):
        return part
    return part[pareto_mask(part[[x, y]].to_numpy(), maximize=[True, True])].sort_values([x, y])


OPERATING_WINDOW = 0.15  # the operating-point chart shows models within 15 pp of the best top-1


def operating_points(results: dict[str, Any]) -> dict[str, Any]:
    """Accuracy vs sparsity coloured by worst-class change, the accuracy–sparsity front drawn, picks marked."""
    df = model_rows(results)
    df = df[df["technique"] != "dense"]
    picks = []
    for policy, pick in results["selection"]["picks"].items():
        if pick["model"]:
            row = df[df["model"] == pick["model"]].iloc[0]
            picks.append(
                {
                    "policy": policy.replace("_", " "),
                    "model": pick["model"],
                    "sparsity": row["sparsity"],
                    "accuracy": row["accuracy"],
                }
            )
    pick_df = pd.DataFrame(picks, columns=["policy", "model", "sparsity", "accuracy"])
    label_df = pick_df.groupby(["model", "sparsity", "accuracy"], as_index=False).agg(
        {"policy": lambda s: " + ".join(s)}
    )
    scale = change_scale(df["worst_change_pp"])
    best = float(df["accuracy"].max())
    df = df[df["accuracy"] >= best - OPERATING_WINDOW]  # collapsed models stay in the tables, not here
    x = alt.X("sparsity:Q", title="Weight sparsity (measured)", axis=alt.Axis(format="%"))
    y = alt.Y("accuracy:Q", title="Top-1 accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False))
    points = (
        alt.Chart(df)
        .mark_circle(size=80, opacity=0.9, stroke="#333", strokeWidth=0.5)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "worst_change_pp:Q",
                title="Worst-class change (pp)",
                scale=scale,
            ),
            tooltip=MODEL_TOOLTIP,
        )
    )
    front = (
        alt.Chart(_front_line(df, "sparsity", "accuracy")).mark_line(color="#555", strokeDash=[5, 3]).encode(x=x, y=y)
    )
    marks = (
        alt.Chart(pick_df)
        .mark_point(shape="square", size=260, filled=False, color="#000", strokeWidth=1.5)
        .encode(x=x, y=y, tooltip=[alt.Tooltip("policy:N", title="Policy"), alt.Tooltip("model:N", title="Model")])
    )
    # One text layer per picked model, stacked upwards so neighbouring labels do not overlap.
    label_df = label_df.sort_values(["sparsity", "model"]).reset_index(drop=True)
    labels = [
        alt.Chart(label_df.iloc[[i]])
        .mark_text(align="left", dx=10, dy=-14 - 14 * i, fontSize=11)
        .encode(x=x, y=y, text="policy:N")
        for i in range(len(label_df))
    ]
    return (
        alt.layer(front, points, marks, *labels)
        .properties(
            title="Operating points: accuracy-sparsity front (dashed) and policy picks (squares)", width=560, height=320
        )
        .to_dict()
    )


def accuracy_vs_disparity(results: dict[str, Any]) -> dict[str, Any]:
    """Accuracy against worst-class change; each technique's path as sparsity grows, front members filled."""
    rows = model_rows(results)
    domain = list(dict.fromkeys(rows["technique"]))[1:]  # the dense model comes first
    df = rows[rows["technique"] != "dense"].sort_values(["series", "sparsity"])
    front = set(results["selection"]["front"])
    df = df.assign(on_front=df["model"].map(lambda m: "on the Pareto front" if m in front else "dominated"))
    colour = _technique_colour(domain)
    x = alt.X("worst_change_pp:Q", title="Worst-class recall change (pp)")
    y = alt.Y("accuracy:Q", title="Top-1 accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False))
    tooltip = [*MODEL_TOOLTIP, alt.Tooltip("on_front:N", title="Pareto")]
    paths = alt.Chart(df).mark_line(opacity=0.6).encode(x=x, y=y, color=colour, detail="series:N", order="sparsity:Q")
    on = df["on_front"] == "on the Pareto front"
    filled = (
        alt.Chart(df[on]).mark_point(size=70, filled=True, opacity=1).encode(x=x, y=y, color=colour, tooltip=tooltip)
    )
    hollow = (
        alt.Chart(df[~on])
        .mark_point(size=70, strokeWidth=1.5, opacity=1)
        .encode(x=x, y=y, color=colour, tooltip=tooltip)
    )
    return (
        (paths + hollow + filled)
        .properties(
            title="Accuracy against worst-class change: each technique's path as sparsity grows (filled: on the front)",
            width=560,
            height=320,
        )
        .to_dict()
    )
