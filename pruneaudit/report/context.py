"""The template context: what card.html.j2 and card.md.j2 read, assembled from the other report modules."""

from __future__ import annotations

from typing import Any

from pruneaudit.defaults import SPARSITY_MISMATCH
from pruneaudit.report import views
from pruneaudit.report.charts import chart_list
from pruneaudit.report.headlines import Spotlight, headlines, spotlight
from pruneaudit.report.mitigation import mitigation_view
from pruneaudit.report.scope import scope
from pruneaudit.report.tables import CSV_NAME, PARQUET_NAME
from pruneaudit.report.text import unsigned_pp
from pruneaudit.results import Results


def _spotlight_view(results: Results, focus: Spotlight | None) -> dict[str, Any] | None:
    """The top-confusions section: the dense model's and the spotlight model's largest confusions."""
    if focus is None:
        return None
    return {
        "name": focus.model.name,
        "why": focus.why,
        "dense_confusions": views.top_confusions(results, results.dense),
        "confusions": views.top_confusions(results, focus.model),
    }


def build_context(results: Results, *, timestamp: str | None = None) -> dict[str, Any]:
    """Everything both cards show; computed once so that the HTML and Markdown cards agree."""
    focus = spotlight(results)
    shown = scope(results, focus)  # the classes and models every bounded view shows
    return {
        "results": results,
        "headlines": headlines(results),
        "models": views.model_table(results, shown),
        "configuration_rows": views.configuration_table(results),
        "worst_models": views.worst_model_table(results) if not shown.listed else [],
        "harmed_classes": views.harmed_class_table(results),
        "layers": views.layer_table(results, shown),
        "timed": any(m.timing for m in results.models),
        "scope": shown,
        "files": {"csv": CSV_NAME, "parquet": PARQUET_NAME},
        "classes": views.class_table(results, shown),
        "charts": chart_list(results, focus, shown),
        "rich_models": views.rich_model_view(results, shown),
        "spotlight": _spotlight_view(results, focus),
        "mitigation": mitigation_view(results),
        "configurations": views.configurations(results),
        "max_galleries": views.MAX_GALLERIES,
        "subgroups": views.subgroup_tables(results, shown),
        "selection": views.selection_view(results),
        "card": views.card_view(results),
        "timestamp": timestamp,
        "gate": results.gate,
        "gate_checks": views.gate_checks(results),
        "alpha": results.settings.alpha,
        "tolerance": unsigned_pp(results.settings.tolerance),
        "sparsity_mismatch": f"{100 * SPARSITY_MISMATCH:g} pp",
        "change_bad": views.CHANGE_BAD,
        "change_warn": views.CHANGE_WARN,
    }
