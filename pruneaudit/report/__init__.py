"""The model card and report files, from the typed view of results.json: context, Altair charts, Jinja rendering."""

from pruneaudit.report.render import (
    make_env,
    render_html,
    render_markdown,
    render_outputs,
)
from pruneaudit.report.text import summary_table

__all__ = ["make_env", "render_html", "render_markdown", "render_outputs", "summary_table"]
