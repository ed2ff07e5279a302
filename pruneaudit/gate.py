"""The release gate: evaluate policy rules (and a baseline comparison) on results.json.

Each rule is checked once per model in its scope; an undefined value fails its check
(a gate must not pass on a number it could not compute). A check beyond a rule's warning
limit but within its failing one passes with a warning: shown everywhere, never exit 1.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from pruneaudit.errors import ConfigError
from pruneaudit.escape import markdown_escape, plain_text, xml_text
from pruneaudit.policy import Baseline, Rule
from pruneaudit.results import Results
from pruneaudit.scalars import model_value
from pruneaudit.selection import selected_model

ANNOTATIONS_PER_KIND = 10  # GitHub shows at most 10 error and 10 warning annotations of a step
JUNIT_DOT = "\u2024"  # ONE DOT LEADER: Jenkins splits a classname at its last "." into package and class


@dataclass(frozen=True)
class Check:
    rule: str
    model: str
    value: float | None
    passed: bool  # not failed: a check with a warning passes
    detail: str
    warned: bool = False  # passed, but beyond the rule's warning limit

    @property
    def level(self) -> str:
        return "fail" if not self.passed else "warn" if self.warned else "pass"


VERDICTS = {"fail": "FAIL", "warn": "WARN", "pass": "PASS"}


def _fmt(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.4g}"


def _scope(results: Results, rule: Rule, where: str) -> list[str | None]:
    if rule.scope == "all":
        return [m.name for m in results.pruned]
    if rule.scope == "selected":
        return [selected_model(results)]
    known = [m.name for m in results.models]
    unknown = [n for n in rule.scope if n not in known]
    if unknown:
        raise ConfigError(
            f"{where}: rule {rule.label!r} names unknown model(s) {', '.join(unknown)}; expected some of {', '.join(known)}"
        )
    return list(rule.scope)


def _requirement(rule: Rule) -> str:
    parts = [f"required {'<=' if rule.op == 'max' else '>='} {rule.fail:g}"] if rule.fail is not None else []
    if rule.warn is not None:
        parts.append(f"warning {'above' if rule.op == 'max' else 'below'} {rule.warn:g}")
    tol = f" (tolerance {rule.tolerance:g})" if rule.tolerance else ""
    return ", ".join(parts) + tol


def evaluate_rules(results: Results, rules: tuple[Rule, ...], *, where: str = "policy") -> list[Check]:
    checks = []
    for rule in rules:
        for name in _scope(results, rule, where):  # None: scope "selected" and nothing was picked
            value = None if name is None else model_value(results.model(name), rule.metric)
            level = rule.level(value)
            if name is None:
                detail = "no model satisfies the primary selection policy"
            else:
                detail = f"{rule.metric} = {_fmt(value)}, {_requirement(rule)}"
            checks.append(
                Check(rule.label, name or "(selected)", value, level != "fail", detail, warned=level == "warn")
            )
    return checks


def compare_baseline(candidate: Results, baseline: Results, thresholds: Baseline, *, where: str) -> list[Check]:
    """Per model present in the baseline: overall accuracy and per-class recall must not regress beyond the thresholds."""
    if candidate.data.class_names != baseline.data.class_names:
        raise ConfigError(f"{where}: the baseline's class names differ from the candidate's; cannot compare per class")
    new = {m.name: m for m in candidate.models}
    names = candidate.data.class_names
    checks = []
    for old in baseline.models:
        name = old.name
        if name not in new:
            checks.append(
                Check("baseline: model present", name, None, False, "in the baseline but not in the candidate results")
            )
            continue
        a_old, a_new = old.metrics.accuracy, new[name].metrics.accuracy
        drop = None if a_old is None or a_new is None else a_old - a_new
        ok = drop is not None and drop <= thresholds.max_accuracy_regression
        checks.append(
            Check(
                "baseline: accuracy regression",
                name,
                drop,
                ok,
                f"accuracy {_fmt(a_old)} -> {_fmt(a_new)}, allowed regression {thresholds.max_accuracy_regression:g}",
            )
        )
        r_old = np.array([np.nan if v is None else v for v in old.per_class.recall], dtype=float)
        r_new = np.array([np.nan if v is None else v for v in new[name].per_class.recall], dtype=float)
        regress = r_old - r_new
        worst = float(np.nanmax(regress)) if np.any(~np.isnan(regress)) else None
        bad = [names[i] for i in np.flatnonzero(regress > thresholds.max_class_recall_regression)]
        ok = worst is not None and not bad
        detail = (
            f"largest per-class recall regression {_fmt(worst)}, allowed {thresholds.max_class_recall_regression:g}"
        )
        if bad:
            detail += f"; classes over the limit: {', '.join(bad[:10])}" + (" …" if len(bad) > 10 else "")
        checks.append(Check("baseline: class recall regression", name, worst, ok, detail))
    return checks


def verdict(checks: list[Check]) -> dict[str, Any]:
    """The gate block stored in results.json and printed with --json; warnings do not fail it."""
    return {
        "checks": [asdict(c) for c in checks],
        "failed": sum(not c.passed for c in checks),
        "passed": all(c.passed for c in checks),
        "total": len(checks),
        "warned": sum(c.warned for c in checks),
    }


def _counts(checks: list[Check]) -> str:
    """The closing count line; warnings are named only when there are some, so the usual line keeps its shape."""
    levels = [c.level for c in checks]
    warned = f", {levels.count('warn')} warned" if "warn" in levels else ""
    return f"{len(checks)} checks: {levels.count('pass')} passed{warned}, {levels.count('fail')} failed"


def table(checks: list[Check]) -> str:
    rows = [("verdict", "rule", "model", "value", "detail")]
    rows += [
        (VERDICTS[c.level], plain_text(c.rule), plain_text(c.model), _fmt(c.value), plain_text(c.detail))
        for c in checks
    ]  # names from results.json: no escape sequence or carriage return may rewrite the verdict on a terminal
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]).rstrip() for r in rows]
    lines.append(f"\n{_counts(checks)}")
    return "\n".join(lines)


def markdown(checks: list[Check]) -> str:
    """The GitHub step summary: failures first, then warnings; every name escaped, so one check is one table row."""
    failed, warned = sum(not c.passed for c in checks), sum(c.warned for c in checks)
    if failed:
        title = f"{failed} of {len(checks)} checks failed" + (f", {warned} warned" if warned else "")
    else:
        title = "passed" + (f" with {warned} warning(s)" if warned else "")
    order = {"fail": 0, "warn": 1, "pass": 2}
    lines = [f"### pruneaudit gate: {title}", "", "| | rule | model | value | detail |", "|---|---|---|---|---|"]
    icons = {"fail": "❌", "warn": "⚠️", "pass": "✅"}
    lines += [
        f"| {icons[c.level]} | {markdown_escape(c.rule)} | {markdown_escape(c.model)} | {_fmt(c.value)} "
        f"| {markdown_escape(c.detail)} |"
        for c in sorted(checks, key=lambda c: order[c.level])  # stable: rule order within a level
    ]
    return "\n".join(lines) + "\n"


def _command_data(text: str) -> str:
    """Text a GitHub workflow command shows literally: one line (control characters become spaces), "%" escaped."""
    return plain_text(text).replace("%", "%25")


def _command_property(text: str) -> str:
    return _command_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(checks: list[Check]) -> str:
    """GitHub Actions `::error` / `::warning` lines, one per failed or warned check, within GitHub's per-step limit.

    Beyond the limit, the last line of a kind says how many more there are (GitHub would drop them unseen).
    """
    lines = []
    for kind, level, what in (("error", "fail", "failed checks"), ("warning", "warn", "warnings")):
        chosen = [c for c in checks if c.level == level]
        shown = chosen if len(chosen) <= ANNOTATIONS_PER_KIND else chosen[: ANNOTATIONS_PER_KIND - 1]
        lines += [
            f"::{kind} title={_command_property(f'pruneaudit gate: {c.rule}')}::{_command_data(f'{c.model}: {c.detail}')}"
            for c in shown
        ]
        if len(shown) < len(chosen):
            more = f"{len(chosen) - len(shown)} more {what}; the step summary, --junit and --json list every check"
            lines.append(f"::{kind} title=pruneaudit gate::{more}")
    return "\n".join(lines)


def junit_class(rule: str) -> str:
    """The rule as a JUnit classname: dots become one-dot leaders, so Jenkins shows the rule whole as the class."""
    return xml_text(rule).replace(".", JUNIT_DOT)


def junit_timestamp(when: datetime) -> str:
    """UTC without an offset: the JUnit schema's ISO 8601 pattern allows no time zone."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def junit_xml(checks: list[Check], *, timestamp: datetime | None = None) -> str:
    """JUnit XML (Jenkins' junit-10.xsd): one test case per rule × model, failures carry the detail.

    Always well-formed XML 1.0, and the same bytes for the same checks: every ``time`` is "0" (a
    check reads a stored number) and the suite has a ``timestamp`` only when one is given. A check
    with a warning is a passing test case whose system-out starts with "WARNING:" (skipped would
    read as not evaluated; a failure would fail the build).
    """
    failed = sum(not c.passed for c in checks)
    counts = {"tests": str(len(checks)), "failures": str(failed), "errors": "0"}
    suites = ET.Element("testsuites", name="pruneaudit", **counts, time="0")
    stamp = {"timestamp": junit_timestamp(timestamp)} if timestamp else {}
    suite = ET.SubElement(suites, "testsuite", name="pruneaudit.check", **counts, skipped="0", time="0", **stamp)
    for c in checks:
        rule, model, detail = xml_text(c.rule), xml_text(c.model), xml_text(c.detail)
        case = ET.SubElement(suite, "testcase", classname=junit_class(c.rule), name=model, time="0")
        if not c.passed:
            failure = ET.SubElement(case, "failure", message=detail, type="ThresholdExceeded")
            failure.text = f"{rule} failed for {model}: {detail}"
        else:
            ET.SubElement(case, "system-out").text = f"WARNING: {detail}" if c.warned else detail
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def dumps(checks: list[Check]) -> str:
    return json.dumps(verdict(checks), indent=2, sort_keys=True, allow_nan=False) + "\n"
