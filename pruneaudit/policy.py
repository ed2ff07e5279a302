"""policy.yaml: operating-point selection, gate rules and baseline thresholds in one file.

    selection:   how to pick an operating point (pruneaudit select; the audit card)
    rules:       thresholds a release must meet, or only warn about (pruneaudit check; audit --policy)
    baseline:    allowed regressions against a previous release's results (check --baseline)

Every metric is named from `pruneaudit.scalars.SCALARS`. Defaults are documented in
docs/policy.md and applied when a section or key is absent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pruneaudit.errors import ConfigError
from pruneaudit.results.view import POLICIES
from pruneaudit.scalars import SCALARS
from pruneaudit.yamlfile import check_keys, read_yaml, shown

SCOPES = ("all", "selected")
BASELINE_KEYS = ("max_accuracy_regression", "max_class_recall_regression")
RULE_KEYS = ("metric", "max", "min", "tolerance", "name", "scope", "warn_max", "warn_min")
UNKNOWN_METRIC = "{where}: unknown metric {name}; expected one of {allowed}"


def _within(value: float | None, op: str, limit: float, tolerance: float) -> bool:
    """Undefined values are never within a limit: a gate must not pass on a number it could not compute."""
    if value is None:
        return False
    return value <= limit + tolerance if op == "max" else value >= limit - tolerance


@dataclass(frozen=True)
class Bound:
    """A selection constraint: ``metric`` ≤ ``limit`` (op "max") or ≥ ``limit`` (op "min"), give or take ``tolerance``."""

    metric: str
    op: str
    limit: float
    tolerance: float = 0.0
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or f"{self.metric} {'<=' if self.op == 'max' else '>='} {self.limit:g}"

    def passes(self, value: float | None) -> bool:
        return _within(value, self.op, self.limit, self.tolerance)


@dataclass(frozen=True)
class Rule:
    """A gate rule: beyond ``fail`` a check fails (exit 1); beyond ``warn`` only, it passes with a warning.

    Both limits point one way (``op`` "max": values must stay at or below them); either may be
    absent, not both. A rule with ``warn`` alone never fails the gate: Evidently's non-critical test.
    """

    metric: str
    op: str
    fail: float | None = None
    warn: float | None = None
    tolerance: float = 0.0
    name: str = ""
    scope: str | tuple[str, ...] = "all"  # "all" pruned models, "selected", or model names

    def __post_init__(self) -> None:
        # API callers build rules by hand; a policy file is checked with a message naming it (parse_rule)
        if self.fail is None and self.warn is None:
            raise ValueError(f"Rule({self.metric!r}): expected a fail limit, a warn limit or both; received neither")
        if self.op not in ("max", "min"):
            raise ValueError(f"Rule({self.metric!r}): expected op 'max' or 'min'; received {self.op!r}")

    @property
    def label(self) -> str:
        """The check's name in every output; unchanged by adding a warning limit, so CI history keeps tracking it."""
        sign = "<=" if self.op == "max" else ">="
        if self.fail is not None:
            return self.name or f"{self.metric} {sign} {self.fail:g}"
        return self.name or f"{self.metric} {sign} {self.warn:g} (warning only)"

    def level(self, value: float | None) -> str:
        """The check's level: fail, warn or pass; an undefined value gets the most severe level the rule has."""
        if self.fail is not None and not _within(value, self.op, self.fail, self.tolerance):
            return "fail"
        if self.warn is not None and not _within(value, self.op, self.warn, self.tolerance):
            return "warn"
        return "pass"


@dataclass(frozen=True)
class Selection:
    objectives: tuple[tuple[str, bool], ...] = (("accuracy", True), ("worst_class_change", True), ("sparsity", True))
    primary: str = "fairness_aware"
    max_accuracy_drop: float = 0.01
    prefer: str = "sparsity"
    fairness: tuple[Bound, ...] = (
        Bound("worst_class_drop", "max", 0.02),
        Bound("harmed_significant_holm", "max", 0.0),
    )
    weights: tuple[tuple[str, float], ...] = (("accuracy", 1.0), ("worst_class_change", 1.0), ("sparsity", 1.0))
    knee: tuple[str, str] = ("sparsity", "accuracy")  # x, y


@dataclass(frozen=True)
class Baseline:
    max_accuracy_regression: float = 0.005
    max_class_recall_regression: float = 0.02


@dataclass(frozen=True)
class Policy:
    selection: Selection | None = None  # None: the file has no selection section (the defaults apply)
    rules: tuple[Rule, ...] = ()
    baseline: Baseline = field(default_factory=Baseline)


def metric_name(where: str, name: Any) -> str:
    if not isinstance(name, str) or name not in SCALARS:
        raise ConfigError(UNKNOWN_METRIC.format(where=where, name=shown(name), allowed=", ".join(SCALARS)))
    return name


def _number(where: str, value: Any) -> float:
    """A finite number: a NaN limit would fail every check, an infinite one pass every check."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, received {shown(value)}")
    return float(value)


def _mapping(raw: Any) -> Any:
    """An absent (null) section is empty; any other value must be a mapping (`check_keys` says so)."""
    return {} if raw is None else raw


def _metric_tolerance_name(where: str, raw: dict[str, Any]) -> tuple[str, float, str]:
    """What a selection constraint and a gate rule share."""
    if "metric" not in raw:
        raise ConfigError(f"{where}: missing required key 'metric'")
    tolerance = _number(f"{where}.tolerance", raw.get("tolerance", 0.0))
    if tolerance < 0:
        raise ConfigError(f"{where}: tolerance must be >= 0; received {tolerance}")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name: expected text, received {shown(name)}")
    return metric_name(f"{where}.metric", raw["metric"]), tolerance, name


def parse_bound(where: str, raw: Any) -> Bound:
    raw = check_keys(where, raw, ("metric", "max", "min", "tolerance", "name"))
    metric, tolerance, name = _metric_tolerance_name(where, raw)
    ops = [op for op in ("max", "min") if op in raw]
    if len(ops) != 1:
        raise ConfigError(f"{where}: give exactly one of 'max' or 'min'; received {ops or 'neither'}")
    return Bound(metric, ops[0], _number(f"{where}.{ops[0]}", raw[ops[0]]), tolerance=tolerance, name=name)


def parse_rule(where: str, raw: Any) -> Rule:
    """A rule with a failing limit (max/min), a warning limit (warn_max/warn_min), or both, pointing the same way."""
    raw = check_keys(where, raw, RULE_KEYS)
    metric, tolerance, name = _metric_tolerance_name(where, raw)
    fails = [key for key in ("max", "min") if key in raw]
    warns = [key for key in ("warn_max", "warn_min") if key in raw]
    if len(fails) > 1 or len(warns) > 1 or not fails + warns:
        raise ConfigError(
            f"{where}: give exactly one of 'max' or 'min', and optionally the warning limit 'warn_max' or 'warn_min' "
            f"(alone: a rule that only warns); received {fails + warns or 'none of them'}"
        )
    ops = {key.removeprefix("warn_") for key in fails + warns}
    if len(ops) > 1:
        raise ConfigError(
            f"{where}: '{warns[0]}' and '{fails[0]}' point different ways; use {fails[0]} and warn_{fails[0]}"
        )
    (op,) = ops
    fail = _number(f"{where}.{fails[0]}", raw[fails[0]]) if fails else None
    warn = _number(f"{where}.{warns[0]}", raw[warns[0]]) if warns else None
    if fail is not None and warn is not None and not (warn < fail if op == "max" else warn > fail):
        raise ConfigError(
            f"{where}: {warns[0]} ({warn:g}) must be {'below' if op == 'max' else 'above'} {op} ({fail:g}): "
            "the warning comes before the failure"
        )
    scope = raw.get("scope", "all")
    if isinstance(scope, list) and scope and all(isinstance(s, str) for s in scope):
        scope = tuple(scope)
    elif not isinstance(scope, str) or scope not in SCOPES:
        raise ConfigError(
            f"{where}: scope must be one of {', '.join(SCOPES)} or a non-empty list of model names; "
            f"received {shown(scope)}"
        )
    return Rule(metric, op, fail=fail, warn=warn, tolerance=tolerance, name=name, scope=scope)


def parse_selection(where: str, raw: Any) -> Selection:
    raw = check_keys(
        where, _mapping(raw), ("objectives", "primary", "max_accuracy_drop", "prefer", "fairness", "weights", "knee")
    )
    d = Selection()
    objectives = d.objectives
    if "objectives" in raw:
        obj = check_keys(f"{where}.objectives", raw["objectives"], tuple(SCALARS))
        if len(obj) < 2:
            raise ConfigError(f"{where}.objectives: expected at least 2 objectives, received {len(obj)}")
        for name, direction in obj.items():
            if direction not in ("max", "min"):
                raise ConfigError(f"{where}.objectives.{name}: expected 'max' or 'min', received {shown(direction)}")
        objectives = tuple((name, direction == "max") for name, direction in obj.items())
    primary = raw.get("primary", d.primary)
    if primary not in POLICIES:
        raise ConfigError(f"{where}.primary: expected one of {', '.join(POLICIES)}; received {shown(primary)}")
    weights = d.weights
    if "weights" in raw:
        w = check_keys(f"{where}.weights", raw["weights"], tuple(SCALARS))
        weights = tuple((name, _number(f"{where}.weights.{name}", v)) for name, v in w.items())
        if not any(v > 0 for _, v in weights):
            raise ConfigError(f"{where}.weights: at least one weight must be positive")
    knee = d.knee
    if "knee" in raw:
        k = check_keys(f"{where}.knee", raw["knee"], ("x", "y"))
        knee = (
            metric_name(f"{where}.knee.x", k.get("x", d.knee[0])),
            metric_name(f"{where}.knee.y", k.get("y", d.knee[1])),
        )
    fairness = d.fairness
    if "fairness" in raw:
        if not isinstance(raw["fairness"], list):
            raise ConfigError(f"{where}.fairness: expected a list of constraints, received {shown(raw['fairness'])}")
        fairness = tuple(parse_bound(f"{where}.fairness[{i}]", b) for i, b in enumerate(raw["fairness"]))
    return Selection(
        objectives=objectives,
        primary=primary,
        max_accuracy_drop=_number(f"{where}.max_accuracy_drop", raw.get("max_accuracy_drop", d.max_accuracy_drop)),
        prefer=metric_name(f"{where}.prefer", raw.get("prefer", d.prefer)),
        fairness=fairness,
        weights=weights,
        knee=knee,
    )


def parse_policy(raw: Any, *, where: str) -> Policy:
    raw = check_keys(where, _mapping(raw), ("selection", "rules", "baseline"))
    rules_raw = [] if raw.get("rules") is None else raw["rules"]
    if not isinstance(rules_raw, list):
        raise ConfigError(f"{where}: 'rules' must be a list; received {shown(rules_raw)}")
    base = check_keys(f"{where}: baseline", _mapping(raw.get("baseline")), BASELINE_KEYS)
    d = Baseline()
    return Policy(
        selection=parse_selection(f"{where}: selection", raw["selection"]) if "selection" in raw else None,
        rules=tuple(parse_rule(f"{where}: rules[{i}]", r) for i, r in enumerate(rules_raw)),
        baseline=Baseline(
            **{key: _number(f"{where}: baseline.{key}", base.get(key, getattr(d, key))) for key in BASELINE_KEYS}
        ),
    )


def load_policy(path: Path) -> Policy:
    return parse_policy(read_yaml(path), where=str(path))
