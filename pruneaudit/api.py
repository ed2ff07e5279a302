"""The library's entry points: audit to a results dict, select, gate, and write the report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pruneaudit.audit import run_audit
from pruneaudit.config import AuditConfig
from pruneaudit.data import load_dataset
from pruneaudit.gate import Check, compare_baseline, evaluate_rules, verdict
from pruneaudit.outputs import check_writable, write_outputs
from pruneaudit.policy import Policy, Selection
from pruneaudit.report import render_outputs
from pruneaudit.results import to_results
from pruneaudit.selection import select


def audit(config: AuditConfig, *, show_progress: bool = False) -> dict[str, Any]:
    """Run the audit and return results.json as a dict, operating-point selection included."""
    dataset = load_dataset(config.data)
    if show_progress:
        total = len(dataset) * (1 + len(config.pruned) + len(config.dense_seeds))
        with click.progressbar(length=total, label="Inference", file=sys.stderr) as bar:
            results = to_results(run_audit(config, dataset=dataset, progress=bar.update))
    else:
        results = to_results(run_audit(config, dataset=dataset))
    return with_selection(results, config.selection)


def with_selection(results: dict[str, Any], selection: Selection) -> dict[str, Any]:
    return {**results, "selection": select(results, selection)}


def gate(
    results: dict[str, Any], policy: Policy, *, baseline: dict[str, Any] | None = None, where: str = "policy"
) -> list[Check]:
    checks = evaluate_rules(results, policy.rules, where=where)
    if baseline is not None:
        checks += compare_baseline(results, baseline, policy.baseline, where=where)
    return checks


def audit_to_directory(
    config: AuditConfig,
    *,
    out_dir: Path,
    show_progress: bool = False,
    policy: Policy | None = None,
    policy_name: str = "policy",
    card: dict[str, Any] | None = None,
    timestamp: str | None = None,
) -> tuple[dict[str, Any], list[Check]]:
    """Audit (and gate, with a policy), then write every report file together.

    Nothing is written when the audit fails; a failed gate still writes the report, whose
    card shows the verdict rule by rule.
    """
    check_writable(out_dir)
    results = audit(config, show_progress=show_progress)
    checks: list[Check] = []
    if policy is not None:
        results = with_selection(results, policy.selection)
        checks = gate(results, policy, where=policy_name)
        results = {**results, "gate": verdict(checks)}
    if card is not None:
        results = {**results, "card": card}
    write_outputs(out_dir, render_outputs(results, timestamp=timestamp))
    return results, checks


def render_to_directory(
    results: dict[str, Any], *, out_dir: Path, card: dict[str, Any] | None = None, timestamp: str | None = None
) -> None:
    """Re-render every report file from saved results, without any model."""
    check_writable(out_dir)
    write_outputs(out_dir, render_outputs(results, card=card, timestamp=timestamp))
