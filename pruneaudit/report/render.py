"""Render the model cards and report files from the typed view, self-contained and deterministic."""

from __future__ import annotations

import json
from functools import lru_cache
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
from markupsafe import Markup

from pruneaudit.escape import markdown_escape  # shared with the gate's step summary
from pruneaudit.report.context import build_context
from pruneaudit.report.tables import front_matter, per_class_csv, per_class_parquet
from pruneaudit.results import Results, dumps, parse_results

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


@lru_cache(maxsize=1)
def vega_javascript() -> Markup:
    """vega + vega-lite + vega-embed, bundled offline by vl-convert (about 0.9 MB)."""
    import vl_convert

    js = vl_convert.javascript_bundle()
    if "</script" in js.lower():
        raise RuntimeError("the vega bundle contains '</script' and cannot be inlined")
    return Markup(js)


def _html(env: Environment, context: dict[str, Any]) -> str:
    return env.get_template("card.html.j2").render(**context, vega_js=vega_javascript())


def _markdown(env: Environment, results: Results, context: dict[str, Any]) -> str:
    return front_matter(results) + env.get_template("card.md.j2").render(**context)


def render_html(results: Results, *, timestamp: str | None = None) -> str:
    return _html(make_env(), build_context(results, timestamp=timestamp))


def render_markdown(results: Results, *, timestamp: str | None = None) -> str:
    return _markdown(make_env(), results, build_context(results, timestamp=timestamp))


def render_outputs(results: Results, *, timestamp: str | None = None) -> dict[str, str | bytes]:
    """Every report file, rendered in memory so that they can be written together.

    Rendered from the canonical JSON form (sorted keys, NaN as null) so that rendering fresh
    results and re-rendering the saved results.json give byte-identical files."""
    text = dumps(results.raw)
    view = parse_results(json.loads(text))
    env = make_env()
    context = build_context(view, timestamp=timestamp)  # charts and tables, computed once for both cards
    return {
        "results.json": text,
        "index.html": _html(env, context),
        "card.md": _markdown(env, view, context),
        "per_class.csv": per_class_csv(view),
        "per_class.parquet": per_class_parquet(view),
    }
