"""pruneaudit check: rules, scopes, baseline, exit codes and every output format."""

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.gate import Check, compare_baseline, evaluate_rules, junit_xml
from pruneaudit.policy import Baseline, Bound
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
            Bound("accuracy_drop", "max", 0.006),
            Bound("accuracy", "min", 0.944, tolerance=0.0015),
        ),
    )
    got = {(c.rule, c.model): c.passed for c in checks}
    assert got[("accuracy_drop <= 0.006", "a50")] and got[("accuracy_drop <= 0.006", "a70")]
    assert not got[("accuracy_drop <= 0.006", "a90")] and not got[("accuracy_drop <= 0.006", "a95")]
    assert got[("accuracy >= 0.944", "a90")]  # 0.943 passes within the 0.0015 tolerance
    assert not got[("accuracy >= 0.944", "a95")]


def test_scope_named_models_and_unknown_names():
    checks = evaluate_rules(R, (Bound("worst_class_drop", "max", 0.05, scope=("a50", "a90")),))
    assert [(c.model, c.passed) for c in checks] == [("a50", True), ("a90", False)]
    from pruneaudit.errors import ConfigError

    with pytest.raises(ConfigError, match="names unknown model\\(s\\) zz; expected some of dense, a50"):
        evaluate_rules(R, (Bound("accuracy", "min", 0.9, scope=("zz",)),))


def test_scope_selected_uses_the_primary_pick():
    from pruneaudit.policy import Selection
    from pruneaudit.selection import select

    r = with_blocks(R, selection=select(R, Selection()))
    (c,) = evaluate_rules(r, (Bound("worst_class_drop", "max", 0.02, scope="selected"),))
    assert c.model == "a70" and c.passed
    none = with_blocks(R, selection=select(R, Selection(fairness=(Bound("worst_class_drop", "max", 0.0),))))
    (c,) = evaluate_rules(none, (Bound("worst_class_drop", "max", 0.02, scope="selected"),))
    assert not c.passed and "no model satisfies" in c.detail


def test_undefined_values_fail():
    r = results(model("x", acc=0.9, worst=0, sparsity=0.5))
    r["models"][1]["vs_dense"]["worst_class_change"]["value"] = None
    (c,) = evaluate_rules(parse_results(r), (Bound("worst_class_drop", "max", 1.0),))
    assert not c.passed and c.value is None and "undefined" in c.detail


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
    from pruneaudit.errors import ConfigError

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


def test_max_harmed_classes_flag_fails(saved):
    result = invoke(["check", str(saved), "--max-harmed-classes", "0"])
    assert result.exit_code == 1
    assert "--max-harmed-classes 0" in result.output


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


def test_junit_xml_parses_back(saved, tmp_path):
    junit = tmp_path / "out" / "gate.xml"
    result = invoke(["check", str(saved), "--policy", str(POLICY), "--junit", str(junit)])
    assert result.exit_code == 1
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "1"
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 5
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 1 and failed[0].get("name") == "global-90"
    assert "worst_class_drop" in failed[0].find("failure").get("message")


def test_junit_escapes_names():
    xml = junit_xml([Check('<rule "x">', "m&n", 1.0, False, "a < b")])
    case = ET.fromstring(xml.split("\n", 1)[1]).find("testsuite/testcase")
    assert case.get("classname") == 'pruneaudit.<rule "x">' and case.get("name") == "m&n"


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
    assert data["gate"]["passed"] is False and data["gate"]["total"] == 8
    html = (out / "index.html").read_text()
    assert "Release gate: failed" in html and "no class loses 20 pp" in html


def test_docs_list_every_metric():
    from pruneaudit.scalars import SCALARS

    text = (ROOT / "docs" / "policy.md").read_text()
    for name in SCALARS:
        assert f"| `{name}` |" in text, name
