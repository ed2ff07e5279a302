"""`pruneaudit study` end to end on three real audits: the files it writes, their determinism, and what it refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.results import SCHEMA_VERSION
from tests.study_audits import make_audit, study_inputs


def _run(*args: str):
    return CliRunner().invoke(cli, ["study", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, sample_audit) -> list[Path]:
    return study_inputs(tmp_path_factory.mktemp("study-cli"), sample_audit["torchscript"])


@pytest.fixture(scope="module")
def study_out(tmp_path_factory, inputs) -> Path:
    out = tmp_path_factory.mktemp("study-out") / "study"
    result = _run(*map(str, inputs), "--out", str(out), "--no-cache")
    assert result.exit_code == 0, result.output
    numbers = json.loads((out / "study.json").read_text())
    models = sum(a["pooled_models"] for a in numbers["audits"])
    assert (
        result.output.splitlines()[0] == f"Pooled 3 audits, {models} models of {len(numbers['techniques'])} techniques"
    )
    return out


def test_the_study_writes_the_card_its_markdown_and_its_numbers(study_out):
    assert sorted(p.name for p in study_out.iterdir()) == ["index.html", "study.json", "study.md"]
    numbers = json.loads((study_out / "study.json").read_text())
    assert numbers["study_version"] == "1.0"
    audits = {a["label"].split("/")[0]: a for a in numbers["audits"]}  # in label order: the sample's tmp folder first
    assert [a["label"] for a in numbers["audits"]] == sorted(a["label"] for a in numbers["audits"])
    assert {k: (a["n_classes"], a["train_class_counts"]) for k, a in audits.items() if k in ("six", "ten")} == {
        "six": (6, False),
        "ten": (10, True),
    }
    assert {t["technique"] for t in numbers["techniques"]} >= {"l1_unstructured", "random_unstructured", "global_l1"}
    assert [r["metric"] for r in numbers["rankings"]] == ["worst_class_change", "accuracy_change"]
    assert all("/" not in a["data_file"] or not a["data_file"].startswith("/") for a in numbers["audits"])
    html = (study_out / "index.html").read_text()
    for section in ("summary", "audits", "techniques", "configurations", "representation", "ranking", "method"):
        assert f'<section id="{section}"' in html
    for chart in ("curves", "harmed", "intensification", "representation", "ranking"):
        assert f'id="spec-{chart}"' in html, chart
    assert "<script src" not in html and "<link" not in html  # self-contained (tests/report/test_browser.py opens it)
    md = (study_out / "study.md").read_text()
    assert md.startswith("# Pruning study: 3 audits\n") and "| Technique | Score |" in md


def test_the_same_audits_give_the_same_bytes(study_out, inputs, tmp_path):
    again = tmp_path / "again"
    assert _run(*map(str, inputs), "--out", str(again), "--no-cache").exit_code == 0
    for name in ("index.html", "study.json", "study.md"):
        assert (again / name).read_bytes() == (study_out / name).read_bytes(), name


def test_an_older_schema_is_read_and_its_missing_counts_are_said(inputs, tmp_path):
    """A schema-2.0 file (before data.train_class_counts) pools; the representation leaves it out by name."""
    old = tmp_path / "old"
    shutil.copytree(inputs[1], old)
    raw = json.loads((old / "results.json").read_text())
    raw["schema_version"] = "2.0"
    del raw["data"]["train_class_counts"]
    (old / "results.json").write_text(json.dumps(raw))
    out = tmp_path / "study"
    result = _run(str(inputs[0]), str(old), "--out", str(out), "--no-cache")
    assert result.exit_code == 0, result.output
    numbers = json.loads((out / "study.json").read_text())
    assert [a["schema_version"] for a in numbers["audits"]] == [SCHEMA_VERSION, "2.0"]
    assert numbers["representation"]["without_counts"] == ["old"]


def _refused(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_refusals_are_one_line_and_write_nothing(inputs, tmp_path):
    out = tmp_path / "never"
    _refused(_run(str(inputs[1]), "--out", str(out)), "at least 2 audits; received 1")
    twin = tmp_path / "twin"
    shutil.copytree(inputs[1], twin)
    _refused(_run(str(inputs[1]), str(twin), "--out", str(out)), str(twin / "results.json"), "same audit as")
    newer = tmp_path / "newer"
    shutil.copytree(inputs[2], newer)
    raw = json.loads((newer / "results.json").read_text())
    raw["schema_version"] = "9.0"
    (newer / "results.json").write_text(json.dumps(raw))
    _refused(_run(str(inputs[1]), str(newer), "--out", str(out)), str(newer / "results.json"), "schema 9.0")
    _refused(_run(str(inputs[1]), str(tmp_path / "missing"), "--out", str(out)), "file not found")
    assert not out.exists()


def test_one_dataset_with_two_class_sets_is_refused(inputs, tmp_path):
    """The same declared dataset name with other classes: the second file is named, and the first class that differs."""
    other = make_audit(tmp_path / "other", classes=6, seed=5, name="synthetic-10", counts=False)
    _refused(
        _run(str(inputs[1]), str(other), "--out", str(tmp_path / "s")),
        str(other / "results.json"),
        "dataset 'synthetic-10' has 6 classes",
        "one class set per dataset",
    )


def test_an_out_that_holds_an_input_or_the_current_folder_is_refused(inputs, tmp_path, monkeypatch):
    card = (inputs[1] / "index.html").read_bytes()
    _refused(_run(str(inputs[1]), str(inputs[2]), "--out", str(inputs[1])), "holds the audit", "a folder of its own")
    _refused(_run(str(inputs[1]), str(inputs[2]), "--out", str(inputs[1].parent)), "holds the audit")
    assert (inputs[1] / "index.html").read_bytes() == card
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    _refused(_run(str(inputs[1]), str(inputs[2]), "--out", ""), "is the current folder or holds it")
    _refused(_run(str(inputs[1]), str(inputs[2]), "--out", str(tmp_path)), "is the current folder or holds it")


def test_a_path_with_a_newline_is_still_a_one_line_error(inputs, tmp_path):
    _refused(_run(str(inputs[1]), str(tmp_path / "two\nlines"), "--out", str(tmp_path / "s")), "two lines")


def test_nothing_to_pool_is_refused(tmp_path):
    """Audits whose models declare no technique: a study of them would be an empty card."""
    bare = []
    for name in ("x", "y"):
        out = make_audit(tmp_path / name, classes=4, seed=len(bare), name=name, counts=False, techniques=("t",))
        raw = json.loads((out / "results.json").read_text())
        for m in raw["models"][1:]:
            m["metadata"].pop("technique")
        raw["configurations"] = []
        (out / "results.json").write_text(json.dumps(raw))
        bare.append(out)
    _refused(_run(*map(str, bare), "--out", str(tmp_path / "s")), "no pruned model declares both a technique")


def test_the_python_api_pools_twice_and_takes_text_paths(inputs, tmp_path):
    import pruneaudit
    import pruneaudit.studies  # noqa: F401  the module is not the function

    first = pruneaudit.study([str(p) for p in inputs], out_dir=str(tmp_path / "a"), cache_dir=None)
    second = pruneaudit.study(inputs, out_dir=tmp_path / "b", cache_dir=None)
    assert first == second
    assert (tmp_path / "a" / "study.json").read_bytes() == (tmp_path / "b" / "study.json").read_bytes()


def test_the_order_of_the_audits_changes_no_number(inputs, study_out, tmp_path):
    out = tmp_path / "reversed"
    assert _run(*map(str, reversed(inputs)), "--out", str(out), "--no-cache").exit_code == 0
    forward, backward = (json.loads((d / "study.json").read_text()) for d in (study_out, out))
    assert forward["rankings"] == backward["rankings"] and forward["techniques"] == backward["techniques"]
    assert forward["configurations"] == backward["configurations"]
