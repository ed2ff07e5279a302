"""Render the model cards and report files from the typed view, self-contained and deterministic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)

from pruneaudit.escape import markdown_escape  # shared with the gate's step summary
from pruneaudit.report.bundle import vega_javascript
from pruneaudit.report.context import build_context
from pruneaudit.report.svg import chart_svg
from pruneaudit.report.tables import front_matter, hub_view, per_class_csv
from pruneaudit.results import Results, stored_files

_SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def bundled_template_loaders() -> list:
    """Templates inside the installed wheel first, then the source tree's top-level templates/."""
    loaders: list = []
    try:
        loaders.append(PackageLoader("pruneaudit", "templates"))
    except ValueError:  # editable install: the wheel mapping does not exist
        pass
    if _SOURCE_TEMPLATES.is_dir():
        loaders.append(FileSystemLoader(_SOURCE_TEMPLATES))
    return loaders


def make_env() -> Environment:
    env = Environment(
        loader=ChoiceLoader(bundled_template_loaders()),
        autoescape=select_autoescape(["html", "html.j2", "xml"]),  # card.md.j2 is Markdown: escaped by the md filter
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_escape
    return env


def _html(env: Environment, context: dict[str, Any], *, cache_dir: Path | None = None) -> str:
    """The HTML card: each chart as its spec (drawn by the inlined Vega) and as a static SVG (shown without scripts)."""
    svgs = {
        c.id: chart_svg(c.spec, prefix=f"svg-{c.id}", cache_dir=cache_dir)
        for c in context["charts"]
        if c.spec is not None  # a chart with nothing to draw is a sentence
    }
    if context["mitigation"] and context["mitigation"]["spec"] is not None:
        svgs["mitigation"] = chart_svg(context["mitigation"]["spec"], prefix="svg-mitigation", cache_dir=cache_dir)
    return env.get_template("card.html.j2").render(**context, vega_js=vega_javascript(cache_dir), chart_svgs=svgs)


def _markdown(env: Environment, results: Results, context: dict[str, Any]) -> str:
    """The front matter (one model-index entry) and the body, which says which model that entry describes."""
    return front_matter(results) + env.get_template("card.md.j2").render(**context, hub=hub_view(results))


def render_html(results: Results, *, timestamp: str | None = None) -> str:
    return _html(make_env(), build_context(results, timestamp=timestamp))


def render_markdown(results: Results, *, timestamp: str | None = None) -> str:
    return _markdown(make_env(), results, build_context(results, timestamp=timestamp))


def render_outputs(
    results: Results, *, timestamp: str | None = None, cache_dir: Path | None = None
) -> dict[str, str | bytes]:
    """Every report file, rendered in memory so that they can be written together.

    Rendered from the view as given, not from the stored files read back: a view holds only what
    results.json and its tables hold (NaN as None, plain numbers, mappings in key order), so
    rendering fresh results and re-rendering the saved results.json give byte-identical files
    (tests/report/test_outputs.py checks it) without parsing 100,000 per-class values twice."""
    stored = stored_files(results.raw)
    view = results
    env = make_env()
    context = build_context(view, timestamp=timestamp)  # charts and tables, computed once for both cards
    return {
        **stored,
        "index.html": _html(env, context, cache_dir=cache_dir),
        "card.md": _markdown(env, view, context),
        "per_class.csv": per_class_csv(view),
    }
