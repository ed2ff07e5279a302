"""The layering in docs/architecture.md, enforced: who may import whom, and what the light commands load."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "pruneaudit"
PIPELINE = ("pruneaudit.models", "pruneaudit.data", "pruneaudit.inference", "pruneaudit.pipeline", "pruneaudit.encode")
HEAVY = ("torch", "onnx", "onnxruntime")

# layer (module prefix) → pruneaudit modules it must never import, at any depth of the file
FORBIDDEN = {
    "pruneaudit.results": ("pruneaudit.", "!pruneaudit.results", "!pruneaudit.errors"),  # a leaf
    "pruneaudit.specs": ("pruneaudit.", "!pruneaudit.defaults"),
    "pruneaudit.defaults": ("pruneaudit.",),
    "pruneaudit.errors": ("pruneaudit.",),
    "pruneaudit.escape": ("pruneaudit.",),  # text escaping shared by gate.py and report/: a leaf
    "pruneaudit.models.factories": (*HEAVY, "pruneaudit.config", "pruneaudit.report"),  # vets code it never imports
    "pruneaudit.metrics": (*PIPELINE, "pruneaudit.report", "pruneaudit.cli", "pruneaudit.config", "pruneaudit.api"),
    "pruneaudit.report": (*PIPELINE, "pruneaudit.config", "pruneaudit.cli", "pruneaudit.api", "pruneaudit.card"),
    "pruneaudit.selection": (*PIPELINE, "pruneaudit.report", "pruneaudit.config", "pruneaudit.cli"),
    "pruneaudit.analyses": (*PIPELINE, "pruneaudit.report", "pruneaudit.config", "pruneaudit.cli"),
    "pruneaudit.gate": (*PIPELINE, "pruneaudit.report", "pruneaudit.config", "pruneaudit.cli"),
    # a study pools saved audits: it reads results, never a model, and leaves the card to report/
    "pruneaudit.studies": (*PIPELINE, "pruneaudit.report", "pruneaudit.config", "pruneaudit.cli", "pruneaudit.api"),
    "pruneaudit.scalars": (*PIPELINE, "pruneaudit.report", "pruneaudit.config", "pruneaudit.cli"),
    "pruneaudit.policy": (*PIPELINE, "pruneaudit.report", "pruneaudit.cli", "pruneaudit.selection"),
    "pruneaudit.models": ("pruneaudit.config", "pruneaudit.policy", "pruneaudit.report", "pruneaudit.results"),
    "pruneaudit.data": ("pruneaudit.config", "pruneaudit.policy", "pruneaudit.report", "pruneaudit.results"),
    "pruneaudit.inference": ("pruneaudit.config", "pruneaudit.policy", "pruneaudit.report", "pruneaudit.results"),
    # the sweep makes models; it never reads an audit's results nor renders a card
    "pruneaudit.sweep": (
        *PIPELINE[2:],
        "pruneaudit.results",
        "pruneaudit.report",
        "pruneaudit.selection",
        "pruneaudit.gate",
        "pruneaudit.api",
        "pruneaudit.cli",
    ),
    "pruneaudit.sweep.config": HEAVY,  # a bad sweep file is refused before torch is imported
    # mitigation reads an audit's results and fine-tunes with the sweep's code; it renders and decides nothing
    "pruneaudit.mitigation": (
        *PIPELINE[2:],
        "pruneaudit.report",
        "pruneaudit.selection",
        "pruneaudit.gate",
        "pruneaudit.api",
        "pruneaudit.cli",
    ),
    "pruneaudit.mitigation.settings": HEAVY,  # the CLI imports the options: no torch before a bad input is refused
    "pruneaudit.mitigation.harm": HEAVY,
    # the Ray backends only move work: what they run is the local backends' own code
    "pruneaudit.raycommon": ("pruneaudit.", "!pruneaudit.errors", *HEAVY),
    "pruneaudit.raybackend": ("pruneaudit.report", "pruneaudit.results", "pruneaudit.selection", "pruneaudit.cli"),
}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


MODULES = _modules()


def _walk(nodes: list[ast.stmt]):
    """Every node, except the bodies of `if TYPE_CHECKING:` blocks (annotations only, never run)."""
    for node in nodes:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        yield node
        yield from _walk(list(ast.iter_child_nodes(node)))


def _imports(tree: ast.Module, *, top_level_only: bool = False) -> set[str]:
    nodes = tree.body if top_level_only else _walk(tree.body)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pruneaudit import x`
    return found


def _breaks(imported: str, rules: tuple[str, ...]) -> bool:
    allowed = [r[1:] for r in rules if r.startswith("!")]
    banned = [r for r in rules if not r.startswith("!")]
    hit = any(imported == b.rstrip(".") or imported.startswith(b if b.endswith(".") else b + ".") for b in banned)
    ok = any(imported == a or imported.startswith(a + ".") for a in allowed)
    return hit and not ok


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_follow_the_rules(layer):
    bad = [
        f"{name} imports {imported}"
        for name, tree in MODULES.items()
        if name == layer or name.startswith(layer + ".")
        for imported in sorted(_imports(tree))
        if imported != "pruneaudit._version" and _breaks(imported, FORBIDDEN[layer])
    ]
    assert not bad, "\n".join(bad)


def test_nothing_below_the_cli_imports_click():
    bad = [
        n
        for n, tree in MODULES.items()
        if n != "pruneaudit.cli" and "click" in {i.split(".")[0] for i in _imports(tree)}
    ]
    assert not bad


def test_the_api_loads_the_pipeline_only_inside_audit():
    top = _imports(MODULES["pruneaudit.api"], top_level_only=True)
    assert not [i for i in top if i.startswith(PIPELINE) or i.split(".")[0] in HEAVY]


def test_results_layer_is_a_leaf_at_run_time():
    code = "import sys, pruneaudit.results; print(json.dumps(sorted(m for m in sys.modules if m.startswith('pruneaudit'))))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], check=True, capture_output=True, text=True)
    loaded = json.loads(out.stdout)
    assert set(loaded) <= {
        "pruneaudit",
        "pruneaudit._version",
        "pruneaudit.errors",
        "pruneaudit.results",
        "pruneaudit.results.io",
        "pruneaudit.results.tables",
        "pruneaudit.results.view",
    }, loaded


LIGHT_COMMANDS = """
import json, sys, tempfile
from click.testing import CliRunner
from pruneaudit.cli import cli
results, other, policy, command = sys.argv[1:]
args = {
    "render": ["render", results, "--out", tempfile.mkdtemp()],
    "select": ["select", results],
    "check": ["check", results, "--policy", policy],
    "study": ["study", results, other, "--out", tempfile.mkdtemp()],
}[command]
code = CliRunner().invoke(cli, args).exit_code
prefixes = ("pruneaudit.models", "pruneaudit.data", "pruneaudit.inference", "pruneaudit.pipeline", "pruneaudit.encode")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "onnxruntime") or m.startswith(prefixes))
print(json.dumps({"exit": code, "heavy": heavy}))
"""


@pytest.mark.parametrize("command", ["render", "select", "check", "study"])
def test_commands_on_saved_results_load_no_model_code(sample_audit, command):
    results = sample_audit["torchscript"] / "results.json"
    other = sample_audit["onnx"] / "results.json"
    policy = ROOT / "examples" / "policy.yaml"
    out = subprocess.run(
        [sys.executable, "-c", LIGHT_COMMANDS, str(results), str(other), str(policy), command],
        check=True,
        capture_output=True,
        text=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["exit"] in (0, 1) and got["heavy"] == [], got
