"""The rows the templates show, formatted from the typed view: one function per table or section."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from pruneaudit.analyses import Disparity, leaning, recall_disparity, rich_get_richer_per_model, subgroup_disparity
from pruneaudit.report.caveats import automatic_caveats, automatic_recommendations
from pruneaudit.report.population import Spread, configuration_summaries, harmed_classes, worst_models
from pruneaudit.report.scope import Scope, models_note
from pruneaudit.report.text import (
    POLICY_TITLES,
    class_or_none,
    pct,
    pick_line,
    pp,
    price_sentence,
    signed,
    unsigned_pp,
)
from pruneaudit.results import Model, Results
from pruneaudit.results.view import Card, CheckResult, Comparison, Configuration, Data, Exemplar

CHANGE_BAD = -0.05  # a change cell at or below this (−5 pp) is shaded as a loss
CHANGE_WARN = -0.02  # at or below this (−2 pp), lightly shaded
TOP_CONFUSIONS = 10
OPEN_GALLERIES = 1  # exemplar galleries open when the card loads
MAX_GALLERIES = 8  # thumbnail galleries in the card; keeps 50-model cards within their size budget
GATE_ROWS = 100  # a gate with more checks than this lists its failed checks only (at most this many)


def _optional(value: Any, fmt: Callable[[Any], str]) -> str:
    return "" if value is None else fmt(value)


def _comparison_cells(vs: Comparison) -> dict[str, str]:
    """The models table's columns that compare a pruned model with the dense one."""
    worst = vs.worst_class_change
    return {
        "accuracy_change": _optional(vs.accuracy_change, pp),
        "worst_change": _optional(worst.value, pp),
        "worst_class": class_or_none(worst.value, worst.class_name),
        "max_excess_gap": _optional(vs.max_excess_gap, unsigned_pp),
        "spread": _optional(vs.recall_change_spread, unsigned_pp),
        "intensification": _optional(vs.intensification, lambda v: f"{v:.2f}"),
        "harmed": str(vs.harmed),
        "significant": str(vs.harmed_significant_holm),
        "significant_bh": str(vs.harmed_significant_bh),
        "changed": f"{vs.changed_predictions:,} ({pct(vs.changed_fraction)})",
    }


# The dense model's row: blank in every column of _comparison_cells.
_NO_COMPARISON = dict.fromkeys(
    (
        "accuracy_change",
        "worst_change",
        "worst_class",
        "max_excess_gap",
        "spread",
        "intensification",
        "harmed",
        "significant",
        "significant_bh",
        "changed",
    ),
    "",
)


def _disparity_cells(d: Disparity) -> dict[str, str]:
    """Fairlearn's difference (max − min, pp) and ratio (min / max) of a metric over groups."""
    return {"difference": _optional(d.difference, unsigned_pp), "ratio": _optional(d.ratio, lambda v: f"{v:.3f}")}


def _model_row(m: Model) -> dict[str, Any]:
    """One row of the models table; the comparison columns are empty for the dense model."""
    return {
        "name": m.name,
        "technique": m.technique_label,
        "amount": _optional(m.amount, pct),
        "seed": _optional(m.metadata.get("seed"), str),
        "finetune_epochs": _optional(m.metadata.get("finetune_epochs"), str),
        "sparsity": pct(m.facts.sparsity),
        "nonzero": f"{m.facts.weight_nonzero:,} / {m.facts.weight_count:,}",
        "accuracy": pct(m.metrics.accuracy),
        "top5": _optional(m.metrics.top5_accuracy, pct),
        "balanced_accuracy": pct(m.metrics.balanced_accuracy),
        **_disparity_cells(recall_disparity(m)),
        **(_comparison_cells(m.vs_dense) if m.vs_dense else _NO_COMPARISON),
        "backend": f"{m.backend} on {m.device}" + (f" ({m.dtype})" if m.dtype != "n/a" else ""),
        "output_kind": m.output_kind,
        "latency": "" if not m.timing else f"{1000 * m.timing.median_batch_seconds:.1f} ms",
        "mismatch": bool(m.facts.declared_amount_mismatch),
    }


def model_table(results: Results, scope: Scope) -> list[dict[str, Any]]:
    """Every model up to scope.MODEL_ROWS pruned ones; beyond, the dense model and the scope's models (the
    configurations table and the worst-k tables summarise the rest, results.json lists all)."""
    return [_model_row(m) for m in (results.models if scope.listed else (results.dense, *scope.models))]


def _spread_text(v: Spread, fmt: Callable[[float], str]) -> str:
    """ "mean (low to high)"; the mean alone when the models agree (one seed, or equal values)."""
    if v.mean is None:
        return "n/a"
    if v.low == v.high:
        return fmt(v.mean)
    return f"{fmt(v.mean)} ({fmt(v.low)} to {fmt(v.high)})"


def configuration_table(results: Results) -> list[dict[str, str]]:
    """One row per declared configuration (technique × amount): the mean over its models and their range."""
    return [
        {
            "technique": s.technique,
            "amount": _optional(s.amount, pct),
            "models": f"{len(s.models):,}",
            "sparsity": _spread_text(s.sparsity, pct),
            "accuracy_change": _spread_text(s.accuracy_change, pp),
            "worst_change": _spread_text(s.worst_change, pp),
            "significant": _spread_text(s.harmed_holm, lambda v: f"{v:.1f}".removesuffix(".0")),
        }
        for s in configuration_summaries(results)
    ]


def worst_model_table(results: Results) -> list[dict[str, Any]]:
    """The models whose worst class lost most: the first rows a reader of a large audit needs."""
    return [_model_row(m) for m in worst_models(results)]


def harmed_class_table(results: Results) -> list[dict[str, str]]:
    """The classes harmed in the most pruned models, with how often and how badly."""
    n = len(results.pruned)
    return [
        {
            "name": c.name,
            "significant": f"{c.significant:,} ({pct(c.significant / n)})",
            "beyond": f"{c.beyond_tolerance:,} ({pct(c.beyond_tolerance / n)})",
            "mean_change": _optional(c.mean_change, pp),
            "worst_change": _optional(c.worst_change, pp),
            "worst_model": c.worst_model or "",
        }
        for c in harmed_classes(results)
    ]


def layer_table(results: Results, scope: Scope) -> list[dict[str, str]]:
    """Per-layer sparsity of the dense model and the scope's pruned models (rows grow with models × layers)."""
    return [
        {"model": m.name, "name": x.name, "count": f"{x.count:,}", "sparsity": pct(x.sparsity)}
        for m in (results.dense, *scope.models)
        for x in m.facts.layers
    ]


def _change_cell(m: Model, i: int, alpha: float) -> dict[str, Any]:
    """Class i's recall change in one pruned model; * marks a Holm-significant loss."""
    pc = m.vs_dense.per_class
    change, p_holm = pc.recall_change[i], pc.mcnemar_p_holm[i]
    significant = p_holm is not None and p_holm < alpha and pc.dense_only[i] > pc.pruned_only[i]
    low, high = pc.recall_change_ci.low[i], pc.recall_change_ci.high[i]
    return {
        "text": pp(change).replace(" pp", "") + ("*" if significant else ""),
        "value": change,
        "significant": significant,
        "title": ""
        if low is None
        else f"95% CI {pp(low)} to {pp(high)}; Holm p = {p_holm:.3g}"
        + _optional(pc.normalised_change[i], lambda v: f"; normalised change {v:+.3f}"),
    }


def class_table(results: Results, scope: Scope) -> dict[str, Any]:
    """Dense recall per class, then each pruned model's change in pp: the scope's classes and models."""
    dense, alpha, names = results.dense.per_class, results.settings.alpha, results.data.class_names
    rows = [
        {
            "name": names[i],
            "support": dense.support[i],
            "dense_recall": pct(dense.recall[i]),
            "changes": [_change_cell(m, i, alpha) for m in scope.models],
        }
        for i in scope.classes
    ]
    return {"models": [m.name for m in scope.models], "rows": rows}


def top_confusions(results: Results, model: Model) -> list[dict[str, Any]]:
    """The largest off-diagonal confusion cells (ties: true class, then predicted class).

    One pass over the model's cells, keeping the top few: at 1,000 classes a model has tens of thousands."""
    names = results.data.class_names
    support = model.per_class.support
    off_diagonal = ((-n, t, p) for t, p, n in model.confusion if t != p)
    return [
        {"true": names[t], "predicted": names[p], "count": -n, "share": pct(-n / support[t]) if support[t] else "n/a"}
        for n, t, p in heapq.nsmallest(TOP_CONFUSIONS, off_diagonal)
    ]


def _exemplar(names: tuple[str, ...], p: Exemplar) -> dict[str, Any]:
    return {
        "src": p.thumbnail,
        "index": p.index,
        "label": names[p.label],
        "dense": names[p.dense_pred],
        "pruned": names[p.pruned_pred],
        "fragility": p.fragility,
    }


def _configuration(names: tuple[str, ...], c: Configuration, *, open_: bool) -> dict[str, Any]:
    pop = c.population_test
    return {
        "label": ", ".join(c.models),
        "technique": c.technique or "",
        "amount": "" if c.amount is None else pct(c.amount),
        "n_models": len(c.models),
        "pie_count": f"{c.pie_count:,}",
        "pie_fraction": pct(c.pie_fraction),
        "population": None
        if pop is None
        else f"{pop.significant} (Holm: {pop.significant_holm}) — {pop.method} t-test",
        "open": open_,
        "pies": [_exemplar(names, p) for p in c.top_pies],
    }


def configurations(results: Results) -> list[dict[str, Any]]:
    """Configurations with the most exemplars first (ties: the models' names)."""
    ordered = sorted(results.configurations, key=lambda c: (-c.pie_count, ",".join(c.models)))
    names = results.data.class_names
    return [_configuration(names, c, open_=i < OPEN_GALLERIES) for i, c in enumerate(ordered)]


def subgroup_tables(results: Results, scope: Scope) -> list[dict[str, Any]]:
    """Per grouping: rows = groups, columns = the scope's pruned models, cells = accuracy change."""
    models = [m.name for m in scope.models]
    shown = set(models)
    tables: dict[str, dict[str, Any]] = {}
    for g in results.subgroups:
        if g.model not in shown:
            continue
        t = tables.setdefault(g.grouping, {"name": g.grouping, "rows": {}})
        row = t["rows"].setdefault(
            g.group, {"group": g.group, "n": g.n_samples, "dense": pct(g.dense_accuracy), "cells": {}}
        )
        row["cells"][g.model] = {
            "text": _optional(g.accuracy_change, lambda v: pp(v).replace(" pp", "")),
            "value": g.accuracy_change,
            "title": f"worst class {class_or_none(g.worst_class_change.value, g.worst_class_change.class_name)}: "
            f"{_optional(g.worst_class_change.value, pp)}; "
            f"{g.harmed_significant_holm} classes significantly harmed",
        }
    spread = subgroup_disparity(results)
    return [
        {
            "name": t["name"],
            "models": models,
            "rows": [{**r, "cells": [r["cells"][m] for m in models]} for r in t["rows"].values()],
            # over the grouping's groups, Fairlearn's convention: the dense model's, then each model's
            "disparity": [
                _disparity_cells(spread.get((t["name"], m), Disparity(None, None)))
                for m in (results.dense.name, *models)
            ],
        }
        for t in tables.values()
    ]


def gate_checks(results: Results) -> list[CheckResult]:
    """The gate's checks the card lists: all of them up to GATE_ROWS, failures first, then warnings;
    beyond GATE_ROWS, the failed and then the warned ones (at most GATE_ROWS)."""
    checks = results.gate.checks if results.gate else ()
    ranked = sorted(checks, key=lambda c: (c.passed, not c.warned))  # stable: the gate's order within each
    if len(checks) <= GATE_ROWS:
        return ranked
    return [c for c in ranked if not c.passed or c.warned][:GATE_ROWS]


def selection_view(results: Results) -> dict[str, Any] | None:
    """Picks, price of fairness, fronts and technique comparisons; None without a selection."""
    sel = results.selection
    if not sel:
        return None
    return {
        "picks": [
            {"policy": POLICY_TITLES[k], "primary": k == sel.primary, "text": pick_line(p), "feasible": p.feasible}
            for k, p in sel.picks.items()
        ],
        "price": price_sentence(sel.price_of_fairness),
        "objectives": ", ".join(f"{o.name} ({'max' if o.maximize else 'min'})" for o in sel.objectives),
        "front": ", ".join(sel.front),
        "techniques": [
            {
                "name": t.technique,
                "hypervolume": f"{t.hypervolume:.3f}",
                "front": ", ".join(t.front),
                "n": len(t.models),
            }
            for t in sorted(sel.techniques, key=lambda t: -t.hypervolume)
        ],
        "dominance": [d for d in sel.dominance if d.pairs],
        "verdicts": sel.verdicts,
    }


def training_set(data: Data) -> dict[str, str] | None:
    """The training set's size and its least and most represented classes (ties: the first); None: no counts given."""
    counts = data.train_class_counts
    if counts is None:
        return None
    smallest = min(range(len(counts)), key=counts.__getitem__)
    largest = max(range(len(counts)), key=counts.__getitem__)
    return {
        "images": f"{sum(counts):,}",
        "smallest": data.class_names[smallest],
        "smallest_count": f"{counts[smallest]:,}",
        "largest": data.class_names[largest],
        "largest_count": f"{counts[largest]:,}",
    }


def rich_model_view(results: Results, scope: Scope) -> dict[str, Any] | None:
    """Whether "the rich get richer" in each pruned model, no pooling (analyses.rich_get_richer_per_model): rows for the
    scope's models (every model up to scope.MODEL_COLUMNS) and a sentence over all of them, with how often the
    seeds of one configuration lean the same way. None without pruned models."""
    relations = rich_get_richer_per_model(results)
    if not relations:
        return None
    alpha = results.settings.alpha
    shown = {m.name for m in scope.models}
    rows = [
        {
            "model": r.model,
            "technique": r.technique or "unspecified",
            "amount": _optional(r.amount, pct),
            "rho": signed(r.correlation.rho),
            "p": "n/a" if r.correlation.p is None else f"{r.correlation.p:.2g}",
            "slope": signed(r.trend.slope),
            "significant": r.correlation.p is not None and r.correlation.p < alpha,
        }
        for r in relations
        if r.model in shown
    ]
    lean = leaning(relations, alpha=alpha)
    defined = lean.defined
    parts = [
        f"Per model, without pooling the seeds: ρ > 0 (the rich get richer) in {len(lean.positive)} of "
        f"{len(defined)} pruned models with a defined ρ, significantly (p < {alpha}) in "
        f"{len(lean.significant_positive)}; significantly negative in {len(lean.significant_negative)}."
    ]
    if len(defined) < len(relations):
        parts.append(f"{len(relations) - len(defined)} model(s) changed too evenly for a rank correlation.")
    seeds: dict[tuple, list[float]] = {}
    for r in defined:
        if r.technique is not None and r.amount is not None:
            seeds.setdefault((r.technique, r.amount), []).append(r.correlation.rho)
    several = [v for v in seeds.values() if len(v) > 1]
    if several:
        agree = sum(1 for v in several if all(x > 0 for x in v) or all(x < 0 for x in v))
        parts.append(
            f"In {agree} of {len(several)} configurations with several seeds, every seed's ρ has the same sign."
        )
    return {
        "rows": rows,
        "sentence": " ".join(parts),
        "note": "" if scope.all_models else models_note(scope),
    }


def card_view(results: Results) -> dict[str, Any]:
    """Owner-written parts (None = not provided, shown as such) and facts the audit knows."""
    card = results.card or Card()
    owner = {f.name: getattr(card, f.name) for f in fields(Card)}
    support = results.dense.per_class.support
    data = results.data
    return {
        "owner": owner,
        "title": card.name or f"Pruning audit — {data.file}",
        "classes": len(data.class_names),
        "attributes": data.attributes,
        "support_range": f"{min(support):,}–{max(support):,}" if support else "n/a",
        "training_set": training_set(data),
        "caveats": automatic_caveats(results),
        "recommendations": automatic_recommendations(results),
    }
