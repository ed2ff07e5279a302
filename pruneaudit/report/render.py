"""Render the HTML model card from results.json, self-contained and deterministic."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from pruneaudit.report.context import build_context

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
        autoescape=select_autoescape(["html", "xml", "j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return env


@lru_cache(maxsize=1)
def vega_javascript() -> Markup:
    """vega + vega-lite + vega-embed, bundled offline by vl-convert (about 0.9 MB)."""
    import vl_convert

    js = vl_convert.javascript_bundle()
    if "</script" in js.lower():
        raise RuntimeError("the vega bundle contains '</script' and cannot be inlined")
    return Markup(js)


def render_html(results: dict[str, Any], *, env: Environment | None = None) -> str:
    env = env or make_env()
    return env.get_template("card.html.j2").render(**build_context(results), vega_js=vega_javascript())
