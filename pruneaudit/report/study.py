"""The study card: many audits pooled (pruneaudit.study), as charts, tables and sentences written from the numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt

from pruneaudit.analyses import leaning
from pruneaudit.defaults import DEFAULT_ALPHA
from pruneaudit.report.bundle import vega_javascript
from pruneaudit.report.charts import Chart, Rows, alpha_bands, change_bands, data, spec, technique_colour
from pruneaudit.report.render import make_env
from pruneaudit.report.svg import chart_svg
from pruneaudit.report.text import p_value, pct, pp, unsigned_pp
from pruneaudit.results import dumps
from pruneaudit.scalars import SCALARS
from pruneaudit.studies import ConfigurationPool, Ranking, RepresentationPool, Study, TechniqueSummary, study_mapping

MAX_POINTS = 20_000  # the representation chart draws each pooled class up to this many points; the table has all


_X_TITLE = "Weight sparsity (mean over audits; measured)"


def _techniques(s: Study) -> list[str]:
    return [t.technique for t in s.techniques]


def _curve_rows(pools: tuple[ConfigurationPool, ...]) -> Rows:
    rows = []
    for c in pools:
        for measure, v in (("Top-1 change", c.accuracy_change), ("Worst-class change", c.worst_change)):
            if v.mean is not None and c.sparsity is not None:
                rows.append(
                    {
                        "technique": c.technique,
                        "amount": c.amount,
                        "sparsity": c.sparsity,
                        "measure": measure,
                        "mean": 100 * v.mean,
                        "low": 100 * v.low,
                        "high": 100 * v.high,
                        "audits": len(c.audits),
                        "models": c.models,
                        "harmed": c.worst_harmed,
                    }
                )
    return sorted(rows, key=lambda r: (r["measure"], r["technique"], r["sparsity"]))


_CURVE_TOOLTIP = [
    alt.Tooltip("technique:N", title="Technique"),
    alt.Tooltip("amount:Q", format=".0%", title="Declared amount"),
    alt.Tooltip("sparsity:Q", format=".1%", title="Mean sparsity"),
    alt.Tooltip("audits:Q", title="Audits"),
    alt.Tooltip("models:Q", title="Models"),
]


def change_curves(s: Study) -> dict[str, Any]:
    """Per technique: the mean over audits of each audit's seed mean, with the band the audits span."""
    tooltip = [
        *_CURVE_TOOLTIP,
        alt.Tooltip("mean:Q", format="+.2f", title="Mean change (pp)"),
        alt.Tooltip("low:Q", format="+.2f", title="Lowest audit (pp)"),
        alt.Tooltip("high:Q", format="+.2f", title="Highest audit (pp)"),
    ]
    return change_bands(
        _curve_rows(s.configurations),
        domain=_techniques(s),
        x_title=_X_TITLE,
        tooltip=tooltip,
        title="Mean over audits (line) and the range the audits span (band)",
    )


def harmed_curves(s: Study) -> dict[str, Any]:
    """Per technique: the share of models whose worst class lost more than their audit's tolerance."""
    rows = [r for r in _curve_rows(s.configurations) if r["measure"] == "Worst-class change"]
    chart = (
        alt.Chart(data("harmed"))
        .mark_line(point=True)
        .encode(
            x=alt.X("sparsity:Q", title=_X_TITLE, axis=alt.Axis(format="%")),
            y=alt.Y(
                "harmed:Q",
                title="Models whose worst class lost more than the tolerance",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=technique_colour(_techniques(s)),
            tooltip=[*_CURVE_TOOLTIP, alt.Tooltip("harmed:Q", format=".0%", title="Worst class harmed")],
        )
        .properties(title="How often pruning harmed the worst class", width=480, height=260)
    )
    return spec(chart, harmed=rows)


def alpha_curves(s: Study) -> dict[str, Any]:
    """Bias intensification α per technique: mean over audits (line) and their range (band); 1 is no change."""
    rows = sorted(
        (
            {
                "technique": c.technique,
                "amount": c.amount,
                "sparsity": c.sparsity,
                "mean": c.intensification.mean,
                "low": c.intensification.low,
                "high": c.intensification.high,
                "audits": len(c.audits),
                "models": c.models,
            }
            for c in s.configurations
            if c.intensification.mean is not None and c.sparsity is not None
        ),
        key=lambda r: (r["technique"], r["sparsity"]),
    )
    tooltip = [
        *_CURVE_TOOLTIP,
        alt.Tooltip("mean:Q", format=".3f", title="Mean α"),
        alt.Tooltip("low:Q", format=".3f", title="Lowest audit"),
        alt.Tooltip("high:Q", format=".3f", title="Highest audit"),
    ]
    return alpha_bands(
        rows, domain=_techniques(s), x_title=_X_TITLE, tooltip=tooltip, title="α per technique; dashed: α = 1"
    )


def _highest(pools: tuple[RepresentationPool, ...]) -> list[RepresentationPool]:
    """Each technique's pool at its highest amount: where pruning harms most."""
    top: dict[str, RepresentationPool] = {}
    for p in pools:
        if p.technique not in top or p.amount > top[p.technique].amount:
            top[p.technique] = p
    return [top[t] for t in sorted(top)]


def representation_chart(s: Study) -> dict[str, Any] | None:
    """Pooled classes at each technique's highest amount: change against relative training share, with the trend."""
    shown = _highest(s.representation)
    points = [
        {"technique": p.technique, "amount": p.amount, "audit": a, "class": c, "share": x, "change": 100 * y}
        for p in shown
        for a, c, x, y in p.points
    ]
    if not points or len(points) > MAX_POINTS:
        return None
    lines = []
    for p in shown:
        if p.trend.slope is None:
            continue
        xs = [pt[2] for pt in p.points]
        for x in (min(xs), max(xs)):
            lines.append(
                {"technique": p.technique, "share": x, "change": 100 * (p.trend.intercept + p.trend.slope * x)}
            )
    colour = technique_colour(_techniques(s))
    x = alt.X("share:Q", title="Relative training share (share × classes; 1 = balanced)", scale=alt.Scale(zero=False))
    y = alt.Y("change:Q", title="Recall change, mean over seeds (pp)")
    dots = (
        alt.Chart(data("points"))
        .mark_circle(size=36, opacity=0.6)
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                alt.Tooltip("audit:N", title="Audit"),
                alt.Tooltip("class:N", title="Class"),
                alt.Tooltip("technique:N", title="Technique"),
                alt.Tooltip("amount:Q", format=".0%", title="Amount"),
                alt.Tooltip("share:Q", format=".2f", title="Relative share"),
                alt.Tooltip("change:Q", format="+.2f", title="Change (pp)"),
            ],
        )
    )
    trend = (
        alt.Chart(data("trends"))
        .mark_line(strokeDash=[5, 3], clip=True)
        .encode(x=x, y=y, color=colour, detail="technique:N")
    )
    zero = alt.Chart(data("points")).mark_rule(color="#888", strokeDash=[2, 2]).encode(y=alt.datum(0))
    title = "Harm against representation, each technique at its highest amount (dashed: least-squares trend)"
    return spec((dots + trend + zero).properties(title=title, width=480, height=300), points=points, trends=lines)


def ranking_chart(s: Study) -> dict[str, Any] | None:
    rows = [
        {
            "metric": SCALARS[r.metric].description,
            "technique": k.technique,
            "score": k.score,
            "low": k.score if k.low is None else k.low,
            "high": k.score if k.high is None else k.high,
            "blocks": k.blocks,
            "best": k.best_share,
        }
        for r in s.rankings
        for k in r.ranks
    ]
    if not rows:
        return None
    colour = technique_colour(_techniques(s))
    y = alt.Y("technique:N", title=None, sort=_techniques(s))
    x_title = "Mean normalised rank (0: best in every block)"
    x = alt.X("score:Q", title=x_title, scale=alt.Scale(domain=[0, 1]))
    tooltip = [
        alt.Tooltip("technique:N", title="Technique"),
        alt.Tooltip("score:Q", format=".2f", title="Mean normalised rank"),
        alt.Tooltip("low:Q", format=".2f", title="95% interval from"),
        alt.Tooltip("high:Q", format=".2f", title="to"),
        alt.Tooltip("blocks:Q", title="Blocks"),
        alt.Tooltip("best:Q", format=".0%", title="Best in resamples"),
    ]
    bars = (
        alt.Chart()
        .mark_rule(strokeWidth=2)
        .encode(y=y, x=alt.X("low:Q", title=x_title, scale=alt.Scale(domain=[0, 1])), x2="high:Q", color=colour)
    )
    dots = alt.Chart().mark_point(filled=True, size=70).encode(y=y, x=x, color=colour, tooltip=tooltip)
    layered = alt.layer(bars, dots, data=data("ranks")).properties(width=300, height=28 * len(s.techniques) + 20)
    return spec(
        layered.facet(column=alt.Column("metric:N", title=None)).properties(
            title="Technique ranking: mean normalised rank and its 95% interval over audit resamples"
        ),
        ranks=rows,
    )


def _share(x: float) -> str:
    return f"{100 * x:.0f}%"


def technique_sentences(s: Study) -> list[str]:
    """How often and how much, per technique, most often harmed first."""
    out = []
    for t in sorted(s.techniques, key=lambda t: (t.worst_harmed is None, -(t.worst_harmed or 0), t.technique)):
        where = f"from {t.audits} audit{'s' if t.audits != 1 else ''}"
        if t.worst_harmed is None:
            text = f"{t.technique}: the worst-class change is undefined in all {t.models} models {where}"
        else:
            text = (
                f"{t.technique}: in {round(t.worst_harmed * t.worst_defined)} of {t.worst_defined} models "
                f"({_share(t.worst_harmed)}) {where} the worst class lost more than its audit's tolerance"
            )
            if t.worst_defined < t.models:
                text += f" ({t.models - t.worst_defined} more with the change undefined)"
            text += (
                f"; worst-class change {pp(t.worst_change.mean)} on average (median {pp(t.median_worst_change)}, "
                f"largest drop {pp(t.worst_change.low)})"
            )
        text += f"; {_share(t.any_significant)} had a class significantly harmed"
        if t.intensified is not None:
            text += f"; α > 1 (the dense model's imbalance deepened) in {_share(t.intensified)} (median α {t.median_intensification:.2f})"
        out.append(text + ".")
    return out


def _technique_row(t: TechniqueSummary) -> dict[str, Any]:
    return {
        "technique": t.technique,
        "audits": t.audits,
        "models": t.models,
        "worst_harmed": pct(t.worst_harmed),
        "audits_worst_harmed": f"{t.audits_worst_harmed} of {t.audits}",
        "any_significant": pct(t.any_significant),
        "worst_mean": pp(t.worst_change.mean),
        "worst_median": pp(t.median_worst_change),
        "worst_low": pp(t.worst_change.low),
        "accuracy_mean": pp(t.accuracy_change.mean),
        "alpha": "n/a" if t.median_intensification is None else f"{t.median_intensification:.2f}",
        "intensified": "n/a" if t.intensified is None else pct(t.intensified),
    }


def _configuration_row(c: ConfigurationPool) -> dict[str, Any]:
    def band(v) -> str:
        return "n/a" if v.mean is None else f"{pp(v.mean)} ({pp(v.low)} to {pp(v.high)})"

    return {
        "technique": c.technique,
        "amount": f"{c.amount:.0%}",
        "sparsity": "n/a" if c.sparsity is None else pct(c.sparsity),
        "audits": len(c.audits),
        "models": c.models,
        "worst": band(c.worst_change),
        "accuracy": band(c.accuracy_change),
        "alpha": "n/a"
        if c.intensification.mean is None
        else f"{c.intensification.mean:.2f} ({c.intensification.low:.2f} to {c.intensification.high:.2f})",
        "harmed": pct(c.worst_harmed),
    }


def representation_sentence(s: Study) -> str:
    if not s.representation:
        return (
            "This analysis needs the training set's class counts (train_class_counts or train_labels in an "
            "audit config; pruneaudit prune writes them): no audit in this study gives them."
        )
    lean = leaning(s.representation, alpha=DEFAULT_ALPHA)
    # x is the share, y the change (a loss is negative): ρ > 0 when the less a class was seen, the more it lost
    tested, under, over = lean.defined, lean.significant_positive, lean.significant_negative
    audits = sorted({a for p in s.representation for a in p.audits})
    text = (
        f"Pooled over {len(audits)} audit{'s' if len(audits) != 1 else ''} with training counts, classes with a "
        f"smaller training share lost more (Spearman ρ > 0, p < {DEFAULT_ALPHA:g}) in {len(under)} of {len(tested)} "
        f"configurations"
    )
    if under:
        text += " (" + ", ".join(f"{p.technique} {p.amount:.0%}: ρ = {p.correlation.rho:+.2f}" for p in under) + ")"
    if over:
        text += f"; they lost less in {len(over)}"
    text += "."
    if s.without_counts:
        text += (
            f" Left out, without training counts: {', '.join(s.without_counts)} (train_class_counts or "
            "train_labels in their audit config)."
        )
    return text


def _representation_row(p: RepresentationPool) -> dict[str, Any]:
    return {
        "technique": p.technique,
        "amount": f"{p.amount:.0%}",
        "audits": len(p.audits),
        "classes": p.correlation.n,
        "rho": "n/a" if p.correlation.rho is None else f"{p.correlation.rho:+.3f}",
        "p": p_value(p.correlation.p),
        "slope": "n/a" if p.trend.slope is None else f"{100 * p.trend.slope:+.2f}",
    }


def ranking_sentence(r: Ranking) -> str:
    label = SCALARS[r.metric].description
    if len(r.ranks) < 2:
        return (
            f"No ranking by {label}: no audit holds two techniques at one amount with matching measured sparsity "
            f"(within 2 pp) and a defined {label}."
        )
    first, second = r.ranks[0], r.ranks[1]
    where = f"over {r.blocks} comparable blocks (audit × amount) from {r.audits} audit{'s' if r.audits != 1 else ''}"
    tied = [k.technique for k in r.ranks if k.score == first.score]
    if len(tied) > 1:
        return f"By {label}, {where}, {' and '.join(tied)} tie for first: mean normalised rank {first.score:.2f}."
    text = f"By {label}, {where}, {first.technique} ranks first: mean normalised rank {first.score:.2f}"
    if first.low is None:
        return text + "; it is in one audit only, so there is no interval over audits."
    text += f" (95% interval over audit resamples {first.low:.2f} to {first.high:.2f}), best in {_share(first.best_share)} of resamples"
    if second.low is None:
        return text + f", ahead of {second.technique} ({second.score:.2f}, in one audit only: no interval)."
    if second.low <= first.high:
        return (
            text
            + f". Its interval overlaps {second.technique}'s ({second.low:.2f} to {second.high:.2f}): their order is not settled."
        )
    return text + f", ahead of {second.technique} ({second.score:.2f}) beyond both intervals."


def _rank_rows(r: Ranking) -> list[dict[str, Any]]:
    return [
        {
            "technique": k.technique,
            "score": f"{k.score:.2f}",
            "interval": "n/a" if k.low is None else f"{k.low:.2f} to {k.high:.2f}",
            "best": pct(k.best_share),
            "blocks": k.blocks,
            "wins": k.wins,
        }
        for k in r.ranks
    ]


def _representation_note(s: Study) -> str:
    """What stands where the representation chart is not drawn."""
    points = sum(len(p.points) for p in _highest(s.representation))
    if points > MAX_POINTS:
        return (
            f"Not drawn: {points:,} pooled classes at the techniques' highest amounts, more than {MAX_POINTS:,}; "
            "the table below and study.json hold every pool."
        )
    return "No training counts: nothing to draw."


def study_charts(s: Study) -> list[Chart]:
    curves = change_curves(s) if s.configurations else None
    return [
        Chart(
            "curves",
            "Change against sparsity",
            "Per technique and sparsity: the mean over audits of each audit's seed mean, and the band the audits span.",
            curves,
        ),
        Chart("harmed", "How often the worst class was harmed", "", harmed_curves(s) if s.configurations else None),
        Chart("intensification", "Bias intensification", "", alpha_curves(s) if s.configurations else None),
        Chart("representation", "Harm against representation", _representation_note(s), representation_chart(s)),
        Chart("ranking", "Technique ranking", "", ranking_chart(s)),
    ]


def study_context(s: Study, *, title: str | None, timestamp: str | None) -> dict[str, Any]:
    """Everything the study templates show, computed once for both the HTML and the Markdown card."""
    datasets = sorted({a.dataset or a.data_file for a in s.audits})
    tolerances = sorted({a.tolerance for a in s.audits})
    alphas = sorted({a.alpha for a in s.audits})
    differ = [
        f"tolerances ({', '.join(unsigned_pp(t) for t in tolerances)})" if len(tolerances) > 1 else "",
        f"significance levels ({', '.join(f'{x:g}' for x in alphas)})" if len(alphas) > 1 else "",
    ]
    differ = [d for d in differ if d]
    return {
        "title": title or f"Pruning study: {len(s.audits)} audits",
        "timestamp": timestamp,
        "audits": [
            {
                "label": a.label,
                "dataset": a.dataset or a.data_file,
                "classes": a.n_classes,
                "images": a.n_samples,
                "models": a.pruned,
                "techniques": ", ".join(sorted({m.technique for m in a.models})) or "none",
                "counts": a.representation is not None,
                "schema": a.schema_version,
                "tolerance": unsigned_pp(a.tolerance),
                "alpha": f"{a.alpha:g}",
            }
            for a in s.audits
        ],
        "datasets": datasets,
        "tolerance_note": f"The audits' {' and '.join(differ)} differ: each audit's own is used." if differ else None,
        "undeclared": s.undeclared,
        "technique_sentences": technique_sentences(s),
        "techniques": [_technique_row(t) for t in s.techniques],
        "configurations": [_configuration_row(c) for c in s.configurations],
        "representation_sentence": representation_sentence(s),
        "representation": [_representation_row(p) for p in s.representation],
        "rankings": [
            {"metric": SCALARS[r.metric].description, "sentence": ranking_sentence(r), "rows": _rank_rows(r)}
            for r in s.rankings
        ],
        "charts": {c.id: c for c in study_charts(s)},
    }


def render_study(
    s: Study, *, title: str | None, timestamp: str | None, cache_dir: Path | None, version: str
) -> dict[str, str]:
    """index.html, study.md and study.json, rendered in memory so that they are written together."""
    env = make_env()  # the card's environment: PackageLoader, autoescape, the md filter
    context = study_context(s, title=title, timestamp=timestamp)
    svgs = {
        c.id: chart_svg(c.spec, prefix=f"svg-{c.id}", cache_dir=cache_dir)
        for c in context["charts"].values()
        if c.spec is not None
    }
    html = env.get_template("study.html.j2").render(
        **context, version=version, vega_js=vega_javascript(cache_dir), chart_svgs=svgs
    )
    return {
        "index.html": html,
        "study.md": env.get_template("study.md.j2").render(**context),
        "study.json": dumps(study_mapping(s, tool_version=version)),
    }
