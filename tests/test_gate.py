"""pruneaudit check: rules, scopes, baseline, exit codes and every output format."""

import json
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from importlib.resources import files

import jsonschema
import pytest
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.errors import ConfigError
from pruneaudit.gate import Check, annotations, compare_baseline, evaluate_rules, junit_xml, markdown, verdict
from pruneaudit.policy import Baseline, Rule, load_policy, parse_policy
from pruneaudit.results import parse_results, with_blocks
from tests.conftest import ROOT
from tests.results_factory import model, results, view
from tests.test_selection import R

POLICY = ROOT / "examples" / "policy.yaml"


def invoke(args, env=None):
    return CliRunner().invoke(cli, args, env=env)


@pytest.fixture
def saved(tmp_path, sample_audit):
    return sample_audit["torchscript"] / "results.json"


# -- rule kinds and scopes -----------------------------------------------------------------


def test_max_and_min_rules_with_tolerance():
    checks = evaluate_rules(
        R,
        (
            Rule("accuracy_drop", "max", 0.006),
            Rule("accuracy", "min", 0.944, tolerance=0.0015),
        ),
    )
    got = {(c.rule, c.model): c.passed for c in checks}
    assert got[("accuracy_drop <= 0.006", "a50")] and got[("accuracy_drop <= 0.006", "a70")]
    assert not got[("accuracy_drop <= 0.006", "a90")] and not got[("accuracy_drop <= 0.006", "a95")]
    assert got[("accuracy >= 0.944", "a90")]  # 0.943 passes within the 0.0015 tolerance
    assert not got[("accuracy >= 0.944", "a95")]


def test_scope_named_models_and_unknown_names():
    checks = evaluate_rules(R, (Rule("worst_class_drop", "max", 0.05, scope=("a50", "a90")),))
    assert [(c.model, c.passed) for c in checks] == [("a50", True), ("a90", False)]
    with pytest.raises(ConfigError, match="names unknown model\\(s\\) zz; expected some of dense, a50"):
        evaluate_rules(R, (Rule("accuracy", "min", 0.9, scope=("zz",)),))


def test_scope_selected_uses_the_primary_pick():
    from pruneaudit.policy import Bound, Selection
    from pruneaudit.selection import select

    r = with_blocks(R, selection=select(R, Selection()))
    (c,) = evaluate_rules(r, (Rule("worst_class_drop", "max", 0.02, scope="selected"),))
    assert c.model == "a70" and c.passed
    none = with_blocks(R, selection=select(R, Selection(fairness=(Bound("worst_class_drop", "max", 0.0),))))
    (c,) = evaluate_rules(none, (Rule("worst_class_drop", "max", 0.02, scope="selected"),))
    assert not c.passed and "no model satisfies" in c.detail
    (c,) = evaluate_rules(none, (Rule("worst_class_drop", "max", warn=0.02, scope="selected"),))
    assert c.level == "warn" and c.model == "(selected)"  # a rule that only warns warns about it


def test_undefined_values_fail():
    r = results(model("x", acc=0.9, worst=0, sparsity=0.5))
    r["models"][1]["vs_dense"]["worst_class_change"]["value"] = None
    (c,) = evaluate_rules(parse_results(r), (Rule("worst_class_drop", "max", 1.0),))
    assert not c.passed and c.value is None and "undefined" in c.detail


# -- warning levels ------------------------------------------------------------------------


def _levels(checks):
    return {c.model: c.level for c in checks}


def test_a_warning_limit_gives_pass_warn_fail():
    checks = evaluate_rules(R, (Rule("worst_class_drop", "max", 0.05, warn=0.012),))
    assert _levels(checks) == {"a50": "pass", "a70": "warn", "a90": "fail", "a95": "fail"}
    warned = checks[1]
    assert warned.passed and warned.warned  # a warning does not fail the gate
    assert warned.rule == "worst_class_drop <= 0.05"  # the label of a rule without a warning: history keeps it
    assert warned.detail == "worst_class_drop = 0.015, required <= 0.05, warning above 0.012"
    lower = evaluate_rules(R, (Rule("accuracy", "min", 0.92, warn=0.944),))
    assert _levels(lower) == {"a50": "pass", "a70": "pass", "a90": "warn", "a95": "fail"}
    assert lower[2].detail == "accuracy = 0.943, required >= 0.92, warning below 0.944"


def test_a_rule_with_only_a_warning_limit_never_fails():
    checks = evaluate_rules(R, (Rule("worst_class_drop", "max", warn=0.05),))
    assert _levels(checks) == {"a50": "pass", "a70": "pass", "a90": "warn", "a95": "warn"}
    assert checks[0].rule == "worst_class_drop <= 0.05 (warning only)"
    r = results(model("x", acc=0.9, worst=0, sparsity=0.5))
    r["models"][1]["vs_dense"]["worst_class_change"]["value"] = None
    (c,) = evaluate_rules(parse_results(r), (Rule("worst_class_drop", "max", warn=1.0),))
    assert c.level == "warn" and c.value is None  # undefined: the most severe level the rule has
    gate = verdict([*checks, c])
    assert gate["passed"] is True and gate["failed"] == 0 and gate["warned"] == 3


def test_policy_warning_keys():
    policy = parse_policy(
        {
            "rules": [
                {"metric": "worst_class_drop", "max": 0.02, "warn_max": 0.01},
                {"metric": "accuracy", "min": 0.9, "warn_min": 0.95, "tolerance": 0.001},
                {"metric": "harmed_classes", "warn_max": 1, "scope": "selected"},
            ]
        },
        where="p",
    )
    assert policy.rules == (
        Rule("worst_class_drop", "max", 0.02, warn=0.01),
        Rule("accuracy", "min", 0.9, warn=0.95, tolerance=0.001),
        Rule("harmed_classes", "max", warn=1.0, scope="selected"),
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"max": 0.02, "warn_min": 0.01}, "'warn_min' and 'max' point different ways; use max and warn_max"),
        ({"max": 0.02, "warn_max": 0.03}, "warn_max (0.03) must be below max (0.02): the warning comes before"),
        ({"min": 0.9, "warn_min": 0.9}, "warn_min (0.9) must be above min (0.9)"),
        ({"warn_max": 0.1, "warn_min": 0.0}, "received ['warn_max', 'warn_min']"),
        ({"tolerance": 0.1}, "give exactly one of 'max' or 'min', and optionally the warning limit"),
        ({"warn_max": "high"}, "rules[0].warn_max: expected a finite number, received 'high'"),
    ],
)
def test_policy_warning_key_errors(rule, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_policy({"rules": [{"metric": "worst_class_drop", **rule}]}, where="p")


def test_old_policy_files_keep_their_rules():
    policy = load_policy(POLICY)
    assert all(r.fail is not None and r.warn is None for r in policy.rules)
    assert policy.rules[3] == Rule(
        "worst_class_drop",
        "max",
        0.02,
        name="the 90%-sparse global model keeps every class within 2 pp",
        scope=("global-90",),
    )


# -- baseline ----------------------------------------------------------------------------


def test_baseline_regressions():
    base = view(
        model("m", acc=0.90, worst=0, sparsity=0.5, recall=[0.9, 0.9]),
        model("gone", acc=0.90, worst=0, sparsity=0.5, recall=[0.9, 0.9]),
    )
    new = view(model("m", acc=0.897, worst=0, sparsity=0.5, recall=[0.95, 0.85]))
    checks = compare_baseline(new, base, Baseline(0.005, 0.02), where="b")
    got = {(c.rule, c.model): c for c in checks}
    assert got[("baseline: accuracy regression", "m")].passed  # 0.3 pp < 0.5 pp
    cls = got[("baseline: class recall regression", "m")]
    assert not cls.passed and cls.value == pytest.approx(0.05) and "classes over the limit: b" in cls.detail
    assert not got[("baseline: model present", "gone")].passed


def test_baseline_with_other_classes_is_an_input_error():
    with pytest.raises(ConfigError, match="class names differ"):
        compare_baseline(
            view(classes=("a", "b")),
            view(classes=("a", "c")),
            Baseline(),
            where="b",
        )


# -- CLI: exit codes and outputs ----------------------------------------------------------


def test_example_policy_gives_the_readme_verdict(saved):
    result = invoke(["check", str(saved), "--policy", str(POLICY)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 1 and "the 90%-sparse global model keeps every class within 2 pp" in fails[0]
    assert "global-90" in fails[0]
    assert sum(line.startswith("PASS") for line in lines) == 4
    assert "selected model within 1 pp of dense top-1" in result.output and "global-80" in result.output
    assert lines[-1] == "Error: 1 of 5 gate check(s) failed"
    readme = (ROOT / "README.md").read_text()
    assert "5 checks: 4 passed, 1 failed" in readme and "exit code 1" in readme


def test_passing_flags_exit_0(saved):
    result = invoke(["check", str(saved), "--max-accuracy-drop", "0.8", "--max-worst-class-drop", "1"])
    assert result.exit_code == 0, result.output
    assert "54 checks: 54 passed, 0 failed" in result.output


def test_max_harmed_significant_holm_flag_fails(saved):
    result = invoke(["check", str(saved), "--max-harmed-significant-holm", "0", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert {c["rule"] for c in data["checks"]} == {"--max-harmed-significant-holm 0"}
    assert all(c["detail"].startswith("harmed_significant_holm = ") for c in data["checks"])
    assert 0 < data["failed"] < 27 and result.stderr == f"Error: {data['failed']} of 27 gate check(s) failed\n"


def test_the_old_flag_name_still_works_for_one_release(saved):
    new = invoke(["check", str(saved), "--max-harmed-significant-holm", "0", "--json"])
    old = invoke(["check", str(saved), "--max-harmed-classes", "0", "--json"])
    assert old.exit_code == 1 and old.stdout == new.stdout  # the same checks, under the new name
    warning, error = old.stderr.splitlines()
    assert warning == (
        "Warning: --max-harmed-classes is deprecated and will be removed in the next release; "
        "use --max-harmed-significant-holm"
    )
    assert error == f"Error: {json.loads(new.stdout)['failed']} of 27 gate check(s) failed"
    both = invoke(["check", str(saved), "--max-harmed-classes", "0", "--max-harmed-significant-holm", "0"])
    assert (
        both.exit_code == 2 and "--max-harmed-classes is the old name of --max-harmed-significant-holm" in both.output
    )
    helptext = invoke(["check", "--help"]).output
    assert "--max-harmed-significant-holm N" in helptext and "--max-harmed-classes" not in helptext


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to check"),
        (["--policy", "missing.yaml"], "missing.yaml: file not found"),
    ],
)
def test_usage_errors_exit_2(saved, args, message):
    result = invoke(["check", str(saved), *args])
    assert result.exit_code == 2 and message in result.output


def test_unknown_metric_in_policy_lists_the_valid_ones(saved, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - {metric: worst_drop, max: 0.1}\n")
    result = invoke(["check", str(saved), "--policy", str(policy)])
    assert result.exit_code == 2
    assert "unknown metric 'worst_drop'; expected one of accuracy, balanced_accuracy" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_results_file_exits_2(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{not json")
    result = invoke(["check", str(bad), "--max-accuracy-drop", "0.1"])
    assert result.exit_code == 2 and "not a pruneaudit results file" in result.output
    bad.write_text('{"schema_version": "9.0", "data": {}, "models": []}')
    result = invoke(["check", str(bad), "--max-accuracy-drop", "0.1"])
    assert result.exit_code == 2 and "schema 9.0 is not supported" in result.output


# Jenkins' JUnit schema (jenkinsci/xunit-plugin, junit-10.xsd), element by element: the attributes it
# allows, those it requires, and the child elements it allows.
_REPORTED = ({"type", "message"}, set(), set())
JUNIT_10 = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}),
    "testsuite": (
        {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id", "package"}
        | {"file", "log", "url"},
        {"name", "tests", "failures", "errors"},
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
    ),
    "testcase": (
        {"name", "time", "classname", "group"},
        {"name"},
        {"skipped", "error", "failure", "rerunFailure", "rerunError", "flakyFailure", "flakyError"}
        | {"system-out", "system-err"},
    ),
    "failure": _REPORTED,
    "error": _REPORTED,
    "skipped": _REPORTED,
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")  # the XSD's type of suite times
ISO8601_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")  # JUnit.xsd: no zone


def assert_junit_10(root: ET.Element) -> None:
    """``root`` is valid under junit-10.xsd, and its counts are those of its test cases."""
    assert root.tag == "testsuites"
    for el in root.iter():
        allowed, required, children = JUNIT_10[el.tag]
        assert set(el.attrib) <= allowed, (el.tag, set(el.attrib) - allowed)
        assert required <= set(el.attrib), (el.tag, required - set(el.attrib))
        assert {child.tag for child in el} <= children, (el.tag, {child.tag for child in el} - children)
        if el.tag in ("testsuites", "testsuite"):
            assert SUREFIRE_TIME.fullmatch(el.get("time", "")), el.get("time")
            cases = el.findall(".//testcase")
            assert el.get("tests") == str(len(cases))
            assert el.get("failures") == str(sum(c.find("failure") is not None for c in cases))
        if "timestamp" in el.attrib:
            assert ISO8601_DATETIME.fullmatch(el.get("timestamp")), el.get("timestamp")


def test_junit_xml_parses_back(saved, tmp_path):
    junit = tmp_path / "out" / "gate.xml"
    result = invoke(["check", str(saved), "--policy", str(POLICY), "--junit", str(junit)])
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    assert_junit_10(root)
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "1"
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 5
    assert all(c.get("time") == "0" for c in cases) and "timestamp" not in suite.attrib
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 1 and failed[0].get("name") == "global-90"
    assert "worst_class_drop" in failed[0].find("failure").get("message")
    again = tmp_path / "again.xml"
    invoke(["check", str(saved), "--policy", str(POLICY), "--junit", str(again)])
    assert again.read_bytes() == junit.read_bytes()  # no time in it: the same checks give the same bytes


def test_junit_classnames_have_no_dots_for_jenkins(saved, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "rules:\n  - {name: top-1 within 0.5 pp, metric: accuracy_drop, max: 0.005, scope: [global-90]}\n"
    )
    junit = tmp_path / "gate.xml"
    invoke(["check", str(saved), "--policy", str(policy), "--max-accuracy-drop", "0.8", "--junit", str(junit)])
    root = ET.parse(junit).getroot()
    assert_junit_10(root)
    classnames = [c.get("classname") for c in root.iter("testcase")]
    assert classnames[0] == "top-1 within 0\u20245 pp" and not any("." in name for name in classnames)
    package, _, cls = classnames[0].rpartition(".")  # Jenkins: package before the last dot, class after it
    assert package == "" and cls == classnames[0]


def test_junit_timestamp_only_when_asked(saved, tmp_path):
    junit = tmp_path / "gate.xml"
    before = datetime.now(timezone.utc).replace(microsecond=0)
    result = invoke(["check", str(saved), "--policy", str(POLICY), "--junit", str(junit), "--timestamp"])
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    assert_junit_10(root)
    stamp = datetime.fromisoformat(root.find("testsuite").get("timestamp")).replace(tzinfo=timezone.utc)
    assert before <= stamp <= datetime.now(timezone.utc) + timedelta(seconds=1)  # UTC, written without an offset
    alone = invoke(["check", str(saved), "--policy", str(POLICY), "--timestamp"])
    assert alone.exit_code == 2 and "--timestamp stamps the JUnit report: it needs --junit" in alone.output


def test_junit_shows_a_warning_as_a_passing_case_with_its_note():
    checks = [
        Check("r", "a", 0.1, True, "x = 0.1, required <= 0.2, warning above 0.05", warned=True),
        Check("r", "b", 0.3, False, "x = 0.3, required <= 0.2"),
        Check("r", "c", 0.0, True, "x = 0, required <= 0.2"),
    ]
    xml = junit_xml(checks, timestamp=datetime(2026, 5, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2))))
    root = ET.fromstring(xml.split("\n", 1)[1])
    assert_junit_10(root)
    assert root.find("testsuite").get("timestamp") == "2026-05-01T12:30:05"
    warned, failed, passed = root.iter("testcase")
    assert [child.tag for child in warned] == ["system-out"] and warned.find("failure") is None
    assert warned.find("system-out").text == "WARNING: x = 0.1, required <= 0.2, warning above 0.05"
    assert failed.find("failure") is not None and passed.find("system-out").text == "x = 0, required <= 0.2"
    assert root.get("failures") == "1" and root.find("testsuite").get("skipped") == "0"


def test_junit_escapes_names():
    xml = junit_xml([Check('<rule "x">', "m&n", 1.0, False, "a < b")])
    case = ET.fromstring(xml.split("\n", 1)[1]).find("testsuite/testcase")
    assert case.get("classname") == '<rule "x">' and case.get("name") == "m&n"


def test_json_output(saved):
    result = invoke(["check", str(saved), "--policy", str(POLICY), "--json"])
    assert result.exit_code == 1
    body = result.output[: result.output.rindex("}") + 1]
    data = json.loads(body)
    assert data["passed"] is False and data["total"] == 5 and data["failed"] == 1
    assert {c["model"] for c in data["checks"]} == {"global-80", "global-90"}


def test_github_step_summary(saved, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    invoke(["check", str(saved), "--policy", str(POLICY)], env={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert text.startswith("earlier step\n### pruneaudit gate: 1 of 5 checks failed")
    assert "| ❌ | the 90%-sparse global model keeps every class within 2 pp | global-90 |" in text


def test_step_summary_lists_failures_then_warnings_first(saved, tmp_path):
    summary = tmp_path / "summary.md"
    args = ["check", str(saved), "--policy", str(_warning_policy(tmp_path)), "--max-accuracy-drop", "0.8"]
    result = invoke(args, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 1
    rows = [line for line in summary.read_text().splitlines() if line.startswith("| ")][1:]  # past the header
    assert len(rows) == 27 + 27 + 1
    icons = [row.split(" | ")[0] for row in rows]
    n_fail, n_warn = icons.count("| ❌"), icons.count("| ⚠️")
    assert n_fail == 1 and n_warn > 0
    assert icons == ["| ❌"] * n_fail + ["| ⚠️"] * n_warn + ["| ✅"] * (len(rows) - n_fail - n_warn)
    assert summary.read_text().startswith(f"### pruneaudit gate: 1 of 55 checks failed, {n_warn} warned\n")


def test_step_summary_of_a_gate_that_passes_with_warnings():
    checks = [Check("r", "a", 0.0, True, "d"), Check("r", "b", 0.1, True, "d", warned=True)]
    text = markdown(checks)
    assert text.splitlines()[0] == "### pruneaudit gate: passed with 1 warning(s)"
    assert text.splitlines()[4].startswith("| ⚠️ | r | b |")


def _warning_policy(tmp_path):
    """Warn above 1 pp of worst-class loss (fail above 100 pp: never); and one failing rule on global-90."""
    policy = tmp_path / "warn.yaml"
    policy.write_text(
        "rules:\n"
        "  - {name: worst class, metric: worst_class_drop, max: 1, warn_max: 0.01}\n"
        "  - {name: global-90 top-1 within 0.1 pp, metric: accuracy_drop, max: 0.001, scope: [global-90]}\n"
    )
    return policy


def test_warnings_do_not_fail_the_gate(saved, tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - {metric: worst_class_drop, max: 1, warn_max: 0.01}\n")
    result = invoke(["check", str(saved), "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    warned = sum(line.startswith("WARN ") for line in lines)
    passed = sum(line.startswith("PASS ") for line in lines)
    assert warned and passed and lines[-1] == f"27 checks: {passed} passed, {warned} warned, 0 failed"
    data = json.loads(invoke(["check", str(saved), "--policy", str(policy), "--json"]).stdout)
    assert data["passed"] is True and data["failed"] == 0 and data["warned"] == warned
    assert sum(c["warned"] for c in data["checks"]) == warned and all(c["passed"] for c in data["checks"])


def _annotation(line):
    """A workflow command as the GitHub runner reads it: ::kind key=value,...::message, %XX decoded."""
    match = re.fullmatch(r"::(\w+) (.*?)::(.*)", line)
    assert match, line
    kind, props, message = match.groups()
    decode = {"%25": "%", "%0D": "\r", "%0A": "\n", "%3A": ":", "%2C": ","}

    def unescape(text):
        return re.sub("%25|%0D|%0A|%3A|%2C", lambda m: decode[m.group(0)], text)

    assert ":" not in props and all(prop.count("=") == 1 for prop in props.split(","))
    return kind, {k: unescape(v) for k, v in (prop.split("=") for prop in props.split(","))}, unescape(message)


def test_github_annotations_on_stderr(saved, tmp_path):
    args = ["check", str(saved), "--policy", str(_warning_policy(tmp_path)), "--json"]
    result = invoke(args, env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # stdout stays the JSON verdict
    *commands, error = result.stderr.splitlines()
    assert error == "Error: 1 of 28 gate check(s) failed"
    parsed = [_annotation(line) for line in commands]
    kinds = [kind for kind, _, _ in parsed]
    assert kinds == ["error"] + ["warning"] * (len(kinds) - 1) and len(kinds) <= 1 + 10
    kind, props, message = parsed[0]
    assert props == {"title": "pruneaudit gate: global-90 top-1 within 0.1 pp"}
    assert message == "global-90: accuracy_drop = 0.009, required <= 0.001"
    warned = [c for c in data["checks"] if c["warned"]]
    assert len(warned) > 10  # beyond GitHub's ten per step: nine shown, then how many more
    assert [m for _, _, m in parsed[1:10]] == [f"{c['model']}: {c['detail']}" for c in warned[:9]]
    assert parsed[10][2].startswith(f"{len(warned) - 9} more warnings; the step summary")
    quiet = invoke(args)
    assert quiet.stderr == "Error: 1 of 28 gate check(s) failed\n"  # outside GitHub Actions: no annotations


def test_annotations_stay_one_command_whatever_the_names():
    checks = [Check("a: b, 100%\r\n::warning::forged", "m\n::error::x", None, False, "50% of it\nnext")]
    (line,) = annotations(checks).splitlines()
    kind, props, message = _annotation(line)
    assert kind == "error" and props == {"title": "pruneaudit gate: a: b, 100%  ::warning::forged"}
    assert message == "m ::error::x: 50% of it next"
    assert annotations([Check("r", "m", 0.0, True, "d")]) == ""
    # a literal "%0A" in a name stays literal: it is written %250A, which the runner decodes back to "%0A"
    (line,) = annotations([Check("r%0Ax", "m%0A::error::y", None, False, "d")]).splitlines()
    assert "%250A" in line and "%0A::" not in line
    kind, props, message = _annotation(line)
    assert props["title"] == "pruneaudit gate: r%0Ax" and message.startswith("m%0A::error::y")


def test_baseline_from_the_cli(saved, tmp_path):
    old = json.loads(saved.read_text())
    for m in old["models"]:
        if m["name"] == "global-80":
            m["metrics"]["accuracy"] += 0.02
    base = tmp_path / "results.json"
    base.write_text(json.dumps(old))
    for table in ("per_class.parquet", "confusion.parquet", "subgroups.parquet"):  # a release's files, together
        shutil.copy(saved.parent / table, tmp_path / table)
    result = invoke(["check", str(saved), "--baseline", str(base)])
    assert result.exit_code == 1
    fail = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert any("baseline: accuracy regression" in line and "global-80" in line for line in fail)
    same = invoke(["check", str(saved), "--baseline", str(saved)])
    assert same.exit_code == 0, same.output


def test_select_command(saved):
    result = invoke(["select", str(saved), "--policy", str(POLICY)])
    assert result.exit_code == 0, result.output
    assert "fairness-aware (primary): global-80" in result.output
    assert "Price of fairness: choosing global-80 over global-90 gives up 9.9 pp of sparsity" in result.output
    data = json.loads(invoke(["select", str(saved), "--json"]).output)
    assert data["picks"]["accuracy_only"]["model"] == "global-90"


def test_audit_with_policy_gates_and_shows_the_verdict(tmp_path, test_npz):
    from tests.conftest import audit_args

    out = tmp_path / "r"
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "rules:\n  - {name: top-1 within 50 pp, metric: accuracy_drop, max: 0.5}\n"
        "  - {name: no class loses 20 pp, metric: worst_class_drop, max: 0.2}\n"
    )
    result = invoke([*audit_args("torchscript", test_npz, out), "--policy", str(policy)])
    assert result.exit_code == 1  # random-90-s0 loses more than 20 pp on some class
    data = json.loads((out / "results.json").read_text())
    assert data["gate"]["passed"] is False and data["gate"]["total"] == 8 and data["gate"]["warned"] == 0
    html = (out / "index.html").read_text()
    assert "Release gate: failed" in html and "no class loses 20 pp" in html


def test_audit_with_warnings_stores_and_shows_them(tmp_path, test_npz):
    from pruneaudit.results import load_results
    from tests.conftest import audit_args

    out = tmp_path / "r"
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  - {name: no class loses 20 pp, metric: worst_class_drop, warn_max: 0.2}\n")
    result = invoke([*audit_args("torchscript", test_npz, out), "--policy", str(policy)])
    assert result.exit_code == 0, result.output  # a rule that only warns never fails
    (warned,) = [line.split() for line in result.output.splitlines() if line.startswith("WARN ")]
    assert warned[:6] == ["WARN", "no", "class", "loses", "20", "pp"] and warned[6] == "random-90-s0"
    data = json.loads((out / "results.json").read_text())
    assert data["schema_version"] == "2.2" and data["gate"]["passed"] is True and data["gate"]["warned"] >= 1
    schema = json.loads(files("pruneaudit").joinpath("schema/results.schema.json").read_text())
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    data["gate"]["checks"][0]["warned"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    gate = load_results(out / "results.json").gate
    assert gate.warned == data["gate"]["warned"] == sum(c.warned for c in gate.checks)
    html = (out / "index.html").read_text()
    assert f"Release gate: passed with {gate.warned} warning(s)" in html and '<td class="warn">WARN</td>' in html


def test_a_gate_stored_before_warnings_reads_as_none(saved, tmp_path):
    from pruneaudit.api import check
    from pruneaudit.results import load_raw, parse_results

    raw = load_raw(saved)
    gate = verdict(check(parse_results(raw), policy=load_policy(POLICY)))
    del gate["warned"]
    for c in gate["checks"]:
        del c["warned"]
    old = parse_results({**raw, "schema_version": "2.1", "gate": gate})
    assert old.gate.warned == 0 and not any(c.warned for c in old.gate.checks) and old.gate.failed == gate["failed"]


def test_docs_list_every_metric():
    from pruneaudit.scalars import SCALARS

    text = (ROOT / "docs" / "policy.md").read_text()
    for name in SCALARS:
        assert f"| `{name}` |" in text, name
