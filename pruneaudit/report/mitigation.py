"""The card's Mitigation section, from the re-audit's results alone (so `pruneaudit render` rebuilds it).

`pruneaudit mitigate` writes a re-audit config whose recovered models declare ``mitigates`` (the pruned
model they start from, audited beside them), ``method``, ``mitigation_seconds`` and ``harmed_classes``.
Every number here is one the re-audit measured against the dense model on its own split (the split held
out of fine-tuning): "before" is the source model's, "after" the recovered model's. Plain fine-tuning
(``finetune``) is the control: since more fine-tuning alone also recovers accuracy, a method helps only where it
beats the control on the same held-out images of the harmed classes (``vs_control``, an exact McNemar test that
mitigate measures); a re-audit without it falls back to the intervals' typical half-width.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

import altair as alt

from pruneaudit.mitigation.settings import CONTROL  # light: no torch
from pruneaudit.report.charts import MIN_CHANGE_SPAN_PP, OKABE_ITO, Rows, data, spec
from pruneaudit.report.text import class_or_none, p_phrase, pct, pp, unsigned_pp
from pruneaudit.results import Model, Results


@dataclass(frozen=True)
class Pair:
    """A recovered model and the pruned model it was recovered from, with the classes the audit found harmed."""

    source: Model
    recovered: Model
    method: str
    classes: tuple[int, ...]  # indices of the harmed classes named in the metadata, in class order


def pairs(results: Results) -> tuple[Pair, ...]:
    """Recovered models (metadata ``mitigates``) whose source is a pruned model of the same audit, in audit order.

    A name the audit does not hold (no such model, no such class) pairs with nothing: the section shows only
    what the audit measured."""
    pruned = {m.name: m for m in results.pruned}
    index = {name: i for i, name in enumerate(results.data.class_names)}
    found = []
    for m in results.pruned:
        source = pruned.get(m.metadata.get("mitigates"))
        if source is None or source is m:
            continue
        named = m.metadata.get("harmed_classes") or []
        classes = tuple(sorted(index[c] for c in set(named) if c in index))
        found.append(Pair(source=source, recovered=m, method=str(m.metadata.get("method") or m.name), classes=classes))
    return tuple(found)


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def _harmed_mean(model: Model, classes: tuple[int, ...]) -> float | None:
    return _mean([model.vs_dense.per_class.recall_change[c] for c in classes])


def _extra_epochs(p: Pair) -> int | None:
    """Epochs the mitigation added: the recovered model's total fine-tuning less the source's."""
    after, before = p.recovered.metadata.get("finetune_epochs"), p.source.metadata.get("finetune_epochs")
    return None if after is None else after - (before or 0)


def _worst(model: Model) -> tuple[float | None, str]:
    w = model.vs_dense.worst_class_change
    return w.value, class_or_none(w.value, w.class_name)


def _same_sparsity(p: Pair) -> bool:
    a, b = p.source.facts, p.recovered.facts
    return (a.weight_count, a.weight_nonzero) == (b.weight_count, b.weight_nonzero)


def row(p: Pair) -> dict[str, Any]:
    """One method: top-1, worst-class change and the harmed classes' mean change before and after; sparsity; cost."""
    worst_before, worst_before_class = _worst(p.source)
    worst_after, worst_after_class = _worst(p.recovered)
    return {
        "model": p.recovered.name,
        "source": p.source.name,
        "method": p.method,
        "control": p.method == CONTROL,
        "top1_before": p.source.metrics.accuracy,
        "top1_after": p.recovered.metrics.accuracy,
        "worst_before": worst_before,
        "worst_before_class": worst_before_class,
        "worst_after": worst_after,
        "worst_after_class": worst_after_class,
        "harmed_before": _harmed_mean(p.source, p.classes),
        "harmed_after": _harmed_mean(p.recovered, p.classes),
        "sparsity_before": p.source.facts.sparsity,
        "sparsity_after": p.recovered.facts.sparsity,
        "sparsity_same": _same_sparsity(p),
        "epochs": _extra_epochs(p),
        "seconds": p.recovered.metadata.get("mitigation_seconds"),
        "vs_control": p.recovered.metadata.get("vs_control"),
        "harmed_images": sum(p.recovered.per_class.support[c] for c in p.classes),
        "harmed_correct": sum(p.recovered.per_class.correct[c] for c in p.classes),
    }


def _interval(model: Model, c: int) -> tuple[float | None, float | None, float | None]:
    pc = model.vs_dense.per_class
    return pc.recall_change[c], pc.recall_change_ci.low[c], pc.recall_change_ci.high[c]


def class_rows(results: Results, found: tuple[Pair, ...]) -> Rows:
    """Per harmed class and method: the change before and after against the dense model, with 95% Newcombe intervals."""
    names = results.data.class_names
    rows = []
    for p in found:
        for c in p.classes:
            before, before_low, before_high = _interval(p.source, c)
            after, after_low, after_high = _interval(p.recovered, c)
            rows.append(
                {
                    "source": p.source.name,
                    "method": p.method,
                    "class": names[c],
                    "before": before,
                    "before_low": before_low,
                    "before_high": before_high,
                    "after": after,
                    "after_low": after_low,
                    "after_high": after_high,
                }
            )
    return rows


def _half_width(classes: Rows) -> float | None:
    """The median half-width of the after-intervals: how far apart two methods must be to be told apart at all."""
    widths = [(r["after_high"] - r["after_low"]) / 2 for r in classes if r["after_low"] is not None]
    return median(widths) if widths else None


def _agrees(r: dict[str, Any], control: dict[str, Any]) -> bool:
    """Whether a method's recorded paired counts fit this audit: as many images of the harmed classes, and the
    difference of the two counts equal to the difference of the two models' correct images there."""
    v = r["vs_control"]
    return v["images"] == r["harmed_images"] and (
        v["method_only"] - v["control_only"] == r["harmed_correct"] - control["harmed_correct"]
    )


def paired_sentence(others: list[dict[str, Any]], *, alpha: float) -> str:
    """Each method against the control on the same held-out images of the harmed classes (metadata vs_control,
    measured by mitigate): beyond it only where the exact McNemar p is below alpha and it got more of them right."""
    better, worse, same = [], [], []
    for r in others:
        v = r["vs_control"]
        said = (
            f"{r['method']} ({pp(r['harmed_after'])}: of {v['images']:,} images, {v['method_only']} right only with it "
            f"and {v['control_only']} only with the control, {p_phrase(v['p'])})"
        )
        if v["p"] < alpha and v["method_only"] > v["control_only"]:
            better.append(said)
        elif v["p"] < alpha:
            worse.append(said)
        else:
            same.append(said)
    text = " Paired with the control on the same held-out images of these classes (exact McNemar)."
    if better:
        text += f" Beyond the control: {'; '.join(better)}."
    if worse:
        text += f" Worse than the control: {'; '.join(worse)}."
    if same:
        lead = " Mitigation did not help beyond the control:" if not better and not worse else " Not told apart:"
        text += f"{lead} {'; '.join(same)}, p not below {alpha:g}."
    elif not better:
        text += " Mitigation did not help beyond the control."
    return text


def _source_sentence(rows: list[dict[str, Any]], classes: Rows, *, alpha: float) -> str:
    """What mitigating one source model did to its harmed classes, judged against the control."""
    first = rows[0]
    names = list(dict.fromkeys(r["class"] for r in classes if r["source"] == first["source"]))
    if not names:
        return f"The models recovered from {first['source']} name no class of this audit as harmed."
    half = _half_width([r for r in classes if r["source"] == first["source"]])
    text = (
        f"On the {len(names)} class{'es' if len(names) != 1 else ''} the audit found harmed in {first['source']} "
        f"({', '.join(names)}), its mean recall change against the dense model was {pp(first['harmed_before'])}."
    )
    control = next((r for r in rows if r["control"]), None)
    others = [r for r in rows if not r["control"]]
    if control is None:
        parts = ", ".join(f"{r['method']} {pp(r['harmed_after'])}" for r in others)
        return (
            f"{text} After mitigation: {parts}. No control (plain fine-tuning, {CONTROL}) was audited, so what "
            "more fine-tuning alone would have recovered is not separated from what the methods did."
        )
    text += f" After the control ({CONTROL}, plain fine-tuning) it was {pp(control['harmed_after'])}"
    if not others:
        return text + "; no other method was audited."
    if all(r["vs_control"] is not None for r in others):
        if all(_agrees(r, control) for r in others):
            return text + "." + paired_sentence(others, alpha=alpha)
        text += (
            "; the paired counts mitigate recorded do not fit this audit's images of these classes (another split?), "
            "so they are not used"
        )
    if half is None or control["harmed_after"] is None:
        return text + "; without intervals the methods cannot be told apart from the control."
    text += f"; the median 95% interval half-width is {unsigned_pp(half)}."
    better, worse, same = [], [], []
    for r in others:
        diff = None if r["harmed_after"] is None else r["harmed_after"] - control["harmed_after"]
        said = f"{r['method']} {pp(r['harmed_after'])} ({pp(diff)} against the control)"
        if diff is not None and diff > half:
            better.append(said)
        elif diff is not None and diff < -half:
            worse.append(said)
        else:
            same.append(said)
    if better:
        text += f" Beyond the control: {'; '.join(better)}."
    if worse:
        text += f" Worse than the control: {'; '.join(worse)}."
    if same:
        if not better and not worse:
            text += " Mitigation did not help beyond the control:"
        else:
            text += " Not told apart from the control:"
        text += f" {'; '.join(same)}, within the interval half-width."
    elif not better:
        text += " Mitigation did not help beyond the control."
    return text


def sentence(rows: list[dict[str, Any]], classes: Rows, *, alpha: float) -> str:
    """Plain sentences from the numbers, one paragraph per source model; a sparsity that moved is said first."""
    moved = [r["model"] for r in rows if not r["sparsity_same"]]
    lead = (
        f"Sparsity changed in {', '.join(moved)}: the pruning mask did not hold, so the comparison is not of the "
        "same pruned model. "
        if moved
        else ""
    )
    sources = list(dict.fromkeys(r["source"] for r in rows))
    return lead + " ".join(
        _source_sentence([r for r in rows if r["source"] == s], classes, alpha=alpha) for s in sources
    )


def _rises(rows: list[dict[str, Any]], key: str, label: str, what: str, verb: str) -> str:
    """How many moves raised ``key`` (after less before), and the largest rise, in words."""
    rises = [
        (r[f"{key}_after"] - r[f"{key}_before"], r[label])
        for r in rows
        if r[f"{key}_after"] is not None and r[f"{key}_before"] is not None
    ]
    up, n = [(d, name) for d, name in rises if d > 0], len(rows)
    if not up:
        return f"{what} {verb} in {'no move' if n == 1 else f'none of the {n} moves'}"
    d, name = max(up, key=lambda u: u[0])  # ties: the first in audit order
    if n == 1:
        return f"{what} {verb} by {pp(d)}"
    share = ("both" if n == 2 else f"all {n}") if len(up) == n else f"{len(up)} of the {n}"
    return f"{what} {verb} in {share} moves (most: {name}, {pp(d)})"


def moves_sentence(results: Results, rows: list[dict[str, Any]]) -> str | None:
    """What the arrows on the operating-points and accuracy-against-disparity charts show, from the numbers they
    are drawn from (`pruneaudit.report.charts.move_rows`); None when the card has no such charts (no selection)."""
    if results.selection is None:
        return None
    label = "method" if len({r["source"] for r in rows}) == 1 else "model"
    return (
        f"An arrow points up where top-1 rose, and on the second chart right where the worst-class change improved. "
        f"{_rises(rows, 'top1', label, 'Top-1', 'rose')}; {_rises(rows, 'worst', label, 'the worst-class change', 'improved')}."
    )


def chart(classes: Rows, sources: list[str]) -> dict[str, Any]:
    """Per harmed class: the change before (the source model) and after each method, with 95% interval bars."""

    def point(r: dict[str, Any], stage: str, series: str) -> dict[str, Any]:
        def scaled(key: str) -> float | None:
            return None if r[key] is None else 100 * r[key]

        return {
            "source": r["source"],
            "class": r["class"],
            "series": series,
            "change": scaled(stage),
            "low": scaled(f"{stage}_low"),
            "high": scaled(f"{stage}_high"),
        }

    points, drawn = [], set()
    for r in classes:
        if (r["source"], r["class"]) not in drawn:  # the source's numbers, once per class
            drawn.add((r["source"], r["class"]))
            points.append(point(r, "before", f"before ({r['source']})" if len(sources) > 1 else "before"))
        points.append(point(r, "after", r["method"]))
    domain = list(dict.fromkeys(p["series"] for p in points))
    colour = alt.Color("series:N", title="Model", scale=alt.Scale(domain=domain, range=(OKABE_ITO * 2)[: len(domain)]))
    values = [0.0] + [v for p in points for v in (p["low"], p["high"]) if v is not None]
    lo, hi = min(values), max(values)
    pad = max(0.05 * (hi - lo), (MIN_CHANGE_SPAN_PP - (hi - lo)) / 2)
    x = alt.X(
        "change:Q", title="Recall change against the dense model (pp)", scale=alt.Scale(domain=[lo - pad, hi + pad])
    )
    y = alt.Y("class:N", title="Harmed class", sort=list(dict.fromkeys(p["class"] for p in points)))
    offset = alt.YOffset("series:N", sort=domain)
    tooltip = [
        alt.Tooltip("class:N", title="Class"),
        alt.Tooltip("series:N", title="Model"),
        alt.Tooltip("change:Q", format="+.2f", title="Change (pp)"),
        alt.Tooltip("low:Q", format="+.2f", title="95% CI low"),
        alt.Tooltip("high:Q", format="+.2f", title="95% CI high"),
    ]
    base = alt.Chart(data("classes"))
    bars = base.mark_rule(strokeWidth=2).encode(y=y, yOffset=offset, x=alt.X("low:Q"), x2="high:Q", color=colour)
    dots = base.mark_point(filled=True, size=50).encode(y=y, yOffset=offset, x=x, color=colour, tooltip=tooltip)
    zero = alt.Chart(data("zero")).mark_rule(color="#000", strokeDash=[3, 3]).encode(x="x:Q")
    n = len(dict.fromkeys(p["class"] for p in points))
    return spec(
        (zero + bars + dots).properties(
            title="Harmed classes before and after mitigation (dots: change; lines: 95% interval)",
            width=520,
            height=max(120, 14 * len(domain) * n),
        ),
        classes=points,
        zero=[{"x": 0.0}],
    )


def _shown(r: dict[str, Any]) -> dict[str, Any]:
    """A row as both cards print it."""
    return r | {
        "top1": f"{pct(r['top1_before'])} → {pct(r['top1_after'])}",
        "worst": f"{pp(r['worst_before'])} ({r['worst_before_class']}) → {pp(r['worst_after'])} ({r['worst_after_class']})",
        "harmed": f"{pp(r['harmed_before'])} → {pp(r['harmed_after'])}",
        "sparsity": f"{pct(r['sparsity_before'])} → {pct(r['sparsity_after'])}"
        + ("" if r["sparsity_same"] else " (changed)"),
        "cost": ", ".join(
            part
            for part in (
                None if r["epochs"] is None else f"{r['epochs']} epoch{'s' if r['epochs'] != 1 else ''}",
                None if r["seconds"] is None else f"{r['seconds']:g} s",
            )
            if part
        )
        or "n/a",
    }


def _shown_class(r: dict[str, Any]) -> dict[str, Any]:
    def change(stage: str) -> str:
        low, high = r[f"{stage}_low"], r[f"{stage}_high"]
        interval = "" if low is None else f" [{pp(low)}, {pp(high)}]"
        return pp(r[stage]) + interval

    return r | {"before_text": change("before"), "after_text": change("after")}


def mitigation_view(results: Results) -> dict[str, Any] | None:
    """The section's rows, per-class changes, sentence and chart spec; None when the audit holds no recovered model."""
    found = pairs(results)
    if not found:
        return None
    rows = [row(p) for p in found]
    classes = class_rows(results, found)
    sources = list(dict.fromkeys(p.source.name for p in found))
    return {
        "rows": [_shown(r) for r in rows],
        "classes": [_shown_class(r) for r in classes],
        "sentence": sentence(rows, classes, alpha=results.settings.alpha),
        "moves": moves_sentence(results, rows),
        "spec": chart(classes, sources) if classes else None,
        "split": results.data.file
        if results.data.split is None
        else f"{results.data.file}, split {results.data.split}",
        "has_control": any(r["control"] for r in rows),
    }
