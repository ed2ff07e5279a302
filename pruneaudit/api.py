"""The library's entry points: audit to a results dict, and write the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pruneaudit.audit import run_audit
from pruneaudit.config import AuditConfig
from pruneaudit.data import load_dataset
from pruneaudit.outputs import check_writable, write_outputs
from pruneaudit.report import render_html
from pruneaudit.results import dumps, to_results


def audit(config: AuditConfig, *, show_progress: bool = False) -> dict[str, Any]:
    """Run the audit and return results.json as a dict."""
    dataset = load_dataset(config.data)
    if not show_progress:
        return to_results(run_audit(config, dataset=dataset))
    total = len(dataset) * (1 + len(config.pruned))
    with click.progressbar(length=total, label="Inference", file=sys.stderr) as bar:
        return to_results(run_audit(config, dataset=dataset, progress=bar.update))


def audit_to_directory(config: AuditConfig, *, out_dir: Path, show_progress: bool = False) -> dict[str, Any]:
    """Audit, then write results.json and index.html together (nothing is written on failure)."""
    check_writable(out_dir)
    results = audit(config, show_progress=show_progress)
    write_outputs(out_dir, {"results.json": dumps(results), "index.html": render_html(results)})
    return results
