"""End to end through the CLI on the committed sample models, plus every bad-input path."""

import json
import os
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.results import SCHEMA_VERSION, load_results
from tests.conftest import DATA, REPORT_FILES, SAMPLES, TinyNet, audit_args, run_cli, save_torchscript


def test_sample_audit_writes_both_outputs(sample_audit, sample_results):
    out = sample_audit["torchscript"]
    assert sorted(p.name for p in out.iterdir()) == list(REPORT_FILES)
    assert sample_results["schema_version"] == SCHEMA_VERSION == "2.2"
    assert len(sample_results["models"]) == 28
    assert sample_results["data"]["n_samples"] == 2000


def test_torchscript_and_onnx_give_the_same_per_class_numbers(sample_audit):
    ts = load_results(sample_audit["torchscript"] / "results.json")
    ox = load_results(sample_audit["onnx"] / "results.json")
    for a, b in zip(ts.models, ox.models):
        assert a.name == b.name
        assert a.per_class == b.per_class
        assert a.confusion == b.confusion
        assert a.vs_dense == b.vs_dense
        assert a.facts.sparsity == b.facts.sparsity


def test_results_match_the_manifest(sample_results):
    manifest = {m["name"]: m for m in json.loads((SAMPLES / "manifest.json").read_text())["models"]}
    for m in sample_results["models"]:
        assert m["metrics"]["accuracy"] == pytest.approx(manifest[m["name"]]["eval_accuracy"], abs=1e-9)


def test_summary_table_on_stdout(tmp_path, test_npz):
    result = run_cli(audit_args("onnx", test_npz, tmp_path / "r"))
    lines = result.output.splitlines()
    assert lines[0].split() == ["model", "sparsity", "top-1", "worst-class", "change", "class"]
    assert lines[2].startswith("dense") and lines[3].startswith("l1-50")
    assert lines[-1] == f"Model card: {tmp_path / 'r' / 'index.html'}"


def test_identical_inputs_give_byte_identical_outputs(tmp_path, test_npz):
    for name in ("a", "b"):
        assert run_cli(audit_args("torchscript", test_npz, tmp_path / name)).exit_code == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "confusion.parquet" in files and files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_html_is_self_contained(sample_audit):
    html = (sample_audit["onnx"] / "index.html").read_text()
    assert not re.search(r"<script[^>]+src=", html, re.I)
    assert not re.search(r"<link[^>]+href=", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html, re.I)
    drawn = html.count('class="vega"')
    assert drawn >= 9 and html.count('<script type="application/json" id="spec-') == drawn and "vegaEmbed" in html
    assert "actions: false" in html  # no link to the online editor


class DictOut(torch.nn.Module):
    """A model with two outputs, only one of them class scores."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": torch.flatten(x, 1), "logits": self.net(x)}


def test_score_output_names_the_scores_and_the_old_flag_still_works(tmp_path, test_npz):
    torch.manual_seed(0)
    paths = [tmp_path / "dense.pt", tmp_path / "pruned.pt"]
    for path in paths:
        torch.jit.save(torch.jit.trace(DictOut(TinyNet(10)).eval(), torch.zeros(1, 1, 28, 28), strict=False), str(path))
    args = ["audit", "--quiet", "--device", "cpu", "--dense", str(paths[0]), "--pruned", str(paths[1])]
    args += ["--data", str(test_npz)]
    new = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "new"), "--score-output", "logits"])
    assert new.exit_code == 0, new.output
    assert new.stderr == ""
    old = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "old"), "--output", "logits"])
    assert old.exit_code == 0, old.output
    assert old.stderr == (
        "Warning: --output is deprecated and will be removed in the next release; use --score-output\n"
    )
    assert (tmp_path / "old" / "results.json").read_bytes() == (tmp_path / "new" / "results.json").read_bytes()
    both = CliRunner().invoke(
        cli, [*args, "--out", str(tmp_path / "both"), "--output", "logits", "--score-output", "0"]
    )
    assert both.exit_code == 2 and "--output is the old name of --score-output; give --score-output only" in both.output
    assert not (tmp_path / "both").exists()
    helptext = CliRunner().invoke(cli, ["audit", "--help"]).output
    assert "--score-output" in helptext and "--output" not in helptext


# -- bad input: one line, exit 2, no traceback, no report ------------------------------------


def _fails(args, out, *needles):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not (out / "index.html").exists() and not (out / "results.json").exists()
    return lines[0]


def test_missing_model_file(tmp_path, test_npz):
    args = audit_args("torchscript", test_npz, tmp_path / "r")
    args[args.index("--dense") + 1] = str(tmp_path / "nope.pt")
    _fails(args, tmp_path / "r", "nope.pt: file not found")


def test_missing_data_file(tmp_path):
    _fails(audit_args("onnx", tmp_path / "absent.npz", tmp_path / "r"), tmp_path / "r", "absent.npz: file not found")


def test_unreadable_model(tmp_path, test_npz):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 this is not a protobuf")
    args = audit_args("onnx", test_npz, tmp_path / "r", names=())
    _fails([*args, "--pruned", str(broken)], tmp_path / "r", "broken.onnx: cannot load as an ONNX model")


def test_labels_beyond_the_model_class_count(tmp_path):
    data = tmp_path / "twelve.npz"
    d = np.load(DATA)
    np.savez(data, images=d["images"][:40], labels=np.arange(40) % 12)
    line = _fails(
        audit_args("torchscript", data, tmp_path / "r"), tmp_path / "r", "twelve.npz: labels must lie in [0, 10)"
    )
    assert "received label 11" in line


def test_models_that_disagree_on_class_count(tmp_path, test_npz):
    five = save_torchscript(TinyNet(5), tmp_path / "five.pt")
    args = audit_args("torchscript", test_npz, tmp_path / "r", names=())
    _fails(
        [*args, "--pruned", str(five)],
        tmp_path / "r",
        "five.pt: model 'five' outputs 5 classes but the dense model outputs 10",
    )


def test_unwritable_output_directory(tmp_path, test_npz):
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("x")
        out = blocker / "report"  # a file in the way: cannot be created even by root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = locked / "report"
    _fails(audit_args("onnx", test_npz, out), out, str(out), "cannot write")


def test_output_path_is_a_file(tmp_path, test_npz):
    out = tmp_path / "report.html"
    out.write_text("keep me")
    _fails(audit_args("onnx", test_npz, out), tmp_path / "nothing", "exists and is not a directory")
    assert out.read_text() == "keep me"


def test_unknown_config_key(tmp_path):
    cfg = tmp_path / "audit.yaml"
    cfg.write_text("dense: {path: x.pt}\nmodels: []\n")
    _fails(["audit", "--config", str(cfg), "--out", str(tmp_path / "r")], tmp_path / "r", "unknown key 'models'")


def test_failed_audit_keeps_a_previous_report(tmp_path, test_npz):
    out = tmp_path / "r"
    assert run_cli(audit_args("onnx", test_npz, out)).exit_code == 0
    before = (out / "results.json").read_bytes()
    data = tmp_path / "twelve.npz"
    np.savez(data, images=np.zeros((4, 28, 28), np.uint8), labels=np.array([0, 1, 2, 11]))
    CliRunner().invoke(cli, audit_args("onnx", data, out))
    assert (out / "results.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pruneaudit-")]


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and "pruneaudit" in result.output
