"""The release gate: evaluate policy rules (and a baseline comparison) on results.json.

Each rule is checked once per model in its scope; an undefined value fails its check
(a gate must not pass on a number it could not compute).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from pruneaudit.errors import ConfigError
from pruneaudit.escape import markdown_escape, plain_text, xml_text
from pruneaudit.policy import Baseline, Bound
from pruneaudit.results import Results
from pruneaudit.scalars import model_value
from pruneaudit.selection import selected_model


@dataclass(frozen=True)
class Check:
    rule: str
    model: str
    value: float | None
    passed: bool
    detail: str


def _fmt(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.4g}"


def _scope(results: Results, bound: Bound, where: str) -> list[str | None]:
    if bound.scope == "all":
        return [m.name for m in results.pruned]
    if bound.scope == "selected":
        return [selected_model(results)]
    known = [m.name for m in results.models]
    unknown = [n for n in bound.scope if n not in known]
    if unknown:
        raise ConfigError(
            f"{where}: rule {bound.label!r} names unknown model(s) {', '.join(unknown)}; expected some of {', '.join(known)}"
        )
    return list(bound.scope)


def evaluate_rules(results: Results, rules: tuple[Bound, ...], *, where: str = "policy") -> list[Check]:
    checks = []
    for bound in rules:
        for name in _scope(results, bound, where):
            if name is None:
                checks.append(
                    Check(bound.label, "(selected)", None, False, "no model satisfies the primary selection policy")
                )
                continue
            value = model_value(results.model(name), bound.metric)
            ok = bound.passes(value)
            sign = "<=" if bound.op == "max" else ">="
            tol = f" (tolerance {bound.tolerance:g})" if bound.tolerance else ""
            checks.append(
                Check(
                    bound.label,
                    name,
                    value,
                    ok,
                    f"{bound.metric} = {_fmt(value)}, required {sign} {bound.limit:g}{tol}",
                )
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
    """The gate block stored in results.json and printed with --json."""
    return {
        "checks": [asdict(c) for c in checks],
        "failed": sum(not c.passed for c in checks),
        "passed": all(c.passed for c in checks),
        "total": len(checks),
    }


def table(checks: list[Check]) -> str:
    rows = [("verdict", "rule", "model", "value", "detail")]
    rows += [
        ("PASS" if c.passed else "FAIL", plain_text(c.rule), plain_text(c.model), _fmt(c.value), plain_text(c.detail))
        for c in checks
    ]  # names from results.json: no escape sequence or carriage return may rewrite the verdict on a terminal
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]).rstrip() for r in rows]
    failed = sum(not c.passed for c in checks)
    lines.append(f"\n{len(checks)} checks: {len(checks) - failed} passed, {failed} failed")
    return "\n".join(lines)


def markdown(checks: list[Check]) -> str:
    """The GitHub step summary: every name escaped, so one check is one table row of literal text."""
    failed = sum(not c.passed for c in checks)
    lines = [
        f"### pruneaudit gate: {'passed' if not failed else f'{failed} of {len(checks)} checks failed'}",
        "",
        "| | rule | model | value | detail |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {'✅' if c.passed else '❌'} | {markdown_escape(c.rule)} | {markdown_escape(c.model)} | {_fmt(c.value)} "
        f"| {markdown_escape(c.detail)} |"
        for c in checks
    ]
    return "\n".join(lines) + "\n"


def junit_xml(checks: list[Check]) -> str:
    """JUnit XML: one test case per rule × model, failures carry the detail; always well-formed XML 1.0."""
    failed = sum(not c.passed for c in checks)
    suites = ET.Element("testsuites", name="pruneaudit", tests=str(len(checks)), failures=str(failed), errors="0")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="pruneaudit.check",
        tests=str(len(checks)),
        failures=str(failed),
        errors="0",
        skipped="0",
    )
    for c in checks:
        rule, model, detail = xml_text(c.rule), xml_text(c.model), xml_text(c.detail)
        case = ET.SubElement(suite, "testcase", classname=f"pruneaudit.{rule}", name=model)
        if not c.passed:
            failure = ET.SubElement(case, "failure", message=detail, type="ThresholdExceeded")
            failure.text = f"{rule} failed for {model}: {detail}"
        else:
            ET.SubElement(case, "system-out").text = detail
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def dumps(checks: list[Check]) -> str:
    return json.dumps(verdict(checks), indent=2, sort_keys=True, allow_nan=False) + "\n"
