"""The model card: context from results.json, Altair charts, Jinja rendering."""

from pruneaudit.report.render import make_env, render_html
from pruneaudit.report.text import summary_table

__all__ = ["make_env", "render_html", "summary_table"]
