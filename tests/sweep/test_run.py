"""End to end: a sweep makes every model, resumes, feeds `audit` unchanged, and repeats byte for byte."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.sweep.config import build_sweep_config
from pruneaudit.sweep.run import run_sweep
from tests.conftest import ROOT
from tests.sweep.conftest import write_config

MODEL_DIRS = ("torchscript", "onnx", "state_dict")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def model_hashes(out: Path) -> dict[str, str]:
    files = sorted(p for d in MODEL_DIRS for p in (out / d).glob("*"))
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "gone"


def made(config_path: Path, out: Path, **kwargs) -> set[str]:
    """Run the sweep; the names of the models it made (not skipped)."""
    names: set[str] = set()
    run_sweep(build_sweep_config(config_path), out=out, progress=lambda p: names.add(p.name), **kwargs)
    return names


def test_every_model_is_made_with_the_requested_sparsity(tiny_sweep):
    _, out, manifest = tiny_sweep
    models = {m["name"]: m for m in manifest["models"]}
    assert manifest["complete"] and len(models) == 2 + 3 * 2 * 2
    assert [m["role"] for m in manifest["models"][:2]] == ["dense", "dense_seed"]
    assert list(models)[:3] == ["dense", "dense-s1", "l1_unstructured-0.5-s0"]
    for m in manifest["models"][2:]:
        s = m["sparsity"]
        assert abs(s["pruned_layers"] - m["amount"]) <= 0.01, m["name"]  # unstructured: within 1 pp
        assert s["excluded"] == ["fc2"] and s["layers"] == ["conv", "fc1"]  # the output layer stays dense
        for fmt in MODEL_DIRS:
            assert (out / m["files"][fmt]["path"]).is_file()
    for name in models:  # each model's files load and its saved sparsity is what the manifest says
        ts = torch.jit.load(str(out / "torchscript" / f"{name}.pt"))
        sd = torch.load(str(out / "state_dict" / f"{name}.pt"), weights_only=True)
        for key, value in ts.state_dict().items():
            assert torch.equal(value, sd[key])
        weights = [v for k, v in sd.items() if v.dim() >= 2]
        zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
        assert zeros == pytest.approx(models[name]["sparsity"]["measured"], abs=1e-12)
    iterative = models["global_l1_iterative-0.8-s0"]
    assert iterative["schedule"] == pytest.approx([1 - 0.2**0.5, 0.8])
    assert iterative["finetune"]["cycles"] == 2
    assert sum(manifest["train_data"]["class_counts"]) == 400 and len(manifest["train_data"]["class_counts"]) == 10


def test_the_audit_config_runs_through_audit_unchanged(tiny_sweep, tmp_path, runner):
    _, out, manifest = tiny_sweep
    report = tmp_path / "report"
    result = runner.invoke(cli, ["audit", "--config", str(out / "audit.yaml"), "--out", str(report), "--quiet"])
    assert result.exit_code == 0, result.output
    results = json.loads((report / "results.json").read_text())
    assert results["data"]["train_class_counts"] == manifest["train_data"]["class_counts"]
    pruned = {m["name"]: m for m in results["models"] if m["name"] != "dense"}
    assert pruned["global_l1_iterative-0.8-s1"]["metadata"]["technique"] == "global_l1_iterative"
    # seeds form populations: each configuration of two seeds gets Welch's test against the two dense seeds
    # and population PIEs
    configs = [c for c in results["configurations"] if len(c["models"]) == 2]
    assert len(configs) == 6
    assert [m["name"] for m in results["dense_seeds"]] == ["dense-s1"]
    for c in configs:
        assert c["population_test"]["method"] == "welch"  # a dense population of two: Welch, not one-sample
        assert 0 <= c["pie_count"] <= results["data"]["n_samples"]


def test_a_finished_sweep_is_never_made_again(tiny_sweep, tmp_path):
    config_path, out, _ = tiny_sweep
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    before = model_hashes(copy)
    assert made(config_path, copy) == set()
    assert model_hashes(copy) == before
    (copy / "onnx" / "l1_unstructured-0.8-s1.onnx").unlink()  # a lost file: only its model is made again
    assert made(config_path, copy) == {"l1_unstructured-0.8-s1"}
    assert model_hashes(copy) == before


def test_a_killed_sweep_resumes_where_it_stopped_with_the_same_bytes(tiny_sweep, tmp_path):
    """Killed mid-sweep (two workers), resumed with one: the finished models are kept, the result is identical."""
    config_path, out, _ = tiny_sweep
    fresh = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "pruneaudit", "prune", "--config", str(config_path), "--out", str(fresh)]
    proc = subprocess.Popen([*cmd, "--jobs", "2", "--quiet"], cwd=ROOT, start_new_session=True)
    manifest = fresh / "manifest.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if manifest.exists() and len(json.loads(manifest.read_text())["models"]) >= 5:
            break
        time.sleep(0.05)
    workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    assert len(workers) >= 2  # the spawned worker processes (and the resource tracker)
    os.kill(proc.pid, signal.SIGKILL)  # the sweep process only: its workers must notice and leave
    proc.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.2)
    alive = [w for w in workers if Path(f"/proc/{w}").exists() and "zombie" not in _state(w)]
    with contextlib.suppress(ProcessLookupError):  # nothing is left to kill, unless the assertion below fails
        os.killpg(proc.pid, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived the killed sweep"
    kept = {m["name"] for m in json.loads(manifest.read_text())["models"]}
    assert 5 <= len(kept) < 14
    remade = made(config_path, fresh)
    assert remade and not remade & kept
    assert model_hashes(fresh) == model_hashes(out)
    assert (fresh / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()
    assert (fresh / "audit.yaml").read_bytes() == (out / "audit.yaml").read_bytes()


def test_changed_settings_for_a_made_model_are_refused(tiny_sweep, sweep_dir, tmp_path, runner):
    config_path, out, _ = tiny_sweep
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    changed = write_config(sweep_dir, "changed.yaml", finetune={"epochs": 1, "lr": 0.05})
    result = runner.invoke(cli, ["prune", "--config", str(changed), "--out", str(copy), "--quiet"])
    assert result.exit_code == 2
    assert "l1_unstructured-0.5-s0 was made with other settings" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_torchscript_dense_model_is_pruned_in_place(tiny_sweep, sweep_dir, tmp_path):
    """No factory: the TorchScript module's parameters are masked and fine-tuned directly."""
    _, out, manifest = tiny_sweep
    shutil.copy(out / "torchscript" / "dense.pt", sweep_dir / "dense-ts.pt")
    config_path = write_config(
        sweep_dir,
        "script.yaml",
        model={"path": "dense-ts.pt"},
        train=None,
        dense_seeds=None,
        techniques=["global_l1", "ln_structured"],
        amounts=[0.7],
        seeds=[0],
        formats=["torchscript", "onnx"],
    )
    target = tmp_path / "sweep"
    run_sweep(build_sweep_config(config_path), out=target)
    result = json.loads((target / "manifest.json").read_text())
    models = {m["name"]: m for m in result["models"]}
    assert models["dense"]["eval_accuracy"] == manifest["models"][0]["eval_accuracy"]
    assert abs(models["global_l1-0.7-s0"]["sparsity"]["pruned_layers"] - 0.7) <= 0.01
    structured = torch.jit.load(str(target / "torchscript" / "ln_structured-0.7-s0.pt")).state_dict()
    rows = structured["fc1.weight"].abs().sum(1)
    assert int((rows == 0).sum()) == round(0.7 * 16)  # whole neurons, per layer
    assert int((structured["fc2.weight"] == 0).sum()) == 0  # never the output layer


def test_the_progress_bar_is_drawn_on_stderr_and_quiet_silences_it(tiny_sweep, tmp_path):
    config_path, out, _ = tiny_sweep
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    (copy / "torchscript" / "dense-s1.pt").unlink()
    cmd = [sys.executable, "-m", "pruneaudit", "prune", "--config", str(config_path), "--out", str(copy)]
    shown = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    assert shown.stderr == "[14/14] dense-s1\n"  # not a terminal: a line per model made
    assert "audit --config" in shown.stdout
    (copy / "torchscript" / "dense-s1.pt").unlink()
    quiet = subprocess.run([*cmd, "--quiet"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert quiet.stderr == ""


def test_a_manifest_pointing_outside_the_sweep_is_refused(tiny_sweep, tmp_path, runner):
    config_path, out, _ = tiny_sweep
    copy = tmp_path / "sweep"
    shutil.copytree(out, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["models"][3]["files"]["onnx"]["path"] = "../../secret.onnx"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(cli, ["prune", "--config", str(config_path), "--out", str(copy), "--quiet"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "not a sweep manifest written by pruneaudit prune" in result.output and "secret.onnx" in result.output


FACTORIES = '''
import torch
from torch import nn
from tiny import Tiny


class Drop(Tiny):
    """Tiny with dropout: its training draws from torch's global generator."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc2(self.drop(torch.relu(self.fc1(torch.flatten(x, 1)))))


class Dict(Tiny):
    def forward(self, x):
        return {"features": x.mean(), "logits": super().forward(x)}
'''


@pytest.fixture
def factories(sweep_dir, tmp_path):
    """A copy of the tiny sweep's folder with more factories; its modules are forgotten before and after,
    since a module imported from another folder is not "beside the config"."""
    folder = tmp_path / "src"
    shutil.copytree(sweep_dir, folder, ignore=shutil.ignore_patterns("*.yaml"))
    (folder / "more.py").write_text(FACTORIES)
    for name in ("tiny", "more"):
        sys.modules.pop(name, None)
    yield folder
    for name in ("tiny", "more"):
        sys.modules.pop(name, None)


SMALL = {
    "techniques": ["global_l1"],
    "amounts": [0.5],
    "seeds": [0],
    "dense_seeds": None,
    "train": {"epochs": 1, "seed": 3},
}


def test_a_model_does_not_depend_on_the_models_made_before_it(factories, tmp_path):
    """Dropout draws from torch's global generator: each model seeds it itself."""
    alone = write_config(factories, "alone.yaml", **{**SMALL, "model": {"factory": "more:Drop"}})
    after = write_config(
        factories,
        "after.yaml",
        **{**SMALL, "model": {"factory": "more:Drop"}, "techniques": ["l1_unstructured", "global_l1"]},
    )
    run_sweep(build_sweep_config(alone), out=tmp_path / "a")
    run_sweep(build_sweep_config(after), out=tmp_path / "b")
    for fmt, ext in (("torchscript", "pt"), ("onnx", "onnx"), ("state_dict", "pt")):
        name = f"{fmt}/global_l1-0.5-s0.{ext}"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_a_dict_output_model_is_saved_as_its_scores(factories, tmp_path, runner):
    config = write_config(factories, "dict.yaml", **{**SMALL, "model": {"factory": "more:Dict", "output": "logits"}})
    out = tmp_path / "sweep"
    run_sweep(build_sweep_config(config), out=out)
    for audit_yaml in ("audit.yaml", "audit-onnx.yaml"):  # no `output:` needed: the files give the scores alone
        result = runner.invoke(
            cli, ["audit", "--config", str(out / audit_yaml), "--out", str(tmp_path / audit_yaml), "--quiet"]
        )
        assert result.exit_code == 0, result.output


def test_changed_factory_code_is_refused(factories, tmp_path, runner):
    config = write_config(factories, "code.yaml", **SMALL)
    out = tmp_path / "sweep"
    run_sweep(build_sweep_config(config), out=out)
    (factories / "tiny.py").write_text((factories / "tiny.py").read_text().replace("16)", "24)"))
    result = runner.invoke(cli, ["prune", "--config", str(config), "--out", str(out), "--quiet"])
    assert (
        result.exit_code == 2 and "the factory's code (tiny:Tiny) changed since these models were made" in result.output
    )


def test_the_dense_model_file_is_never_overwritten(tiny_sweep, factories, runner):
    _, out, _ = tiny_sweep
    (factories / "torchscript").mkdir()
    shutil.copy(out / "torchscript" / "dense.pt", factories / "torchscript" / "dense.pt")
    config = write_config(
        factories,
        "self.yaml",
        **{**SMALL, "train": None, "model": {"path": "torchscript/dense.pt"}, "formats": ["torchscript", "onnx"]},
    )
    before = (factories / "torchscript" / "dense.pt").read_bytes()
    result = runner.invoke(cli, ["prune", "--config", str(config), "--out", str(factories), "--quiet"])
    assert result.exit_code == 2 and "is where the sweep writes the dense model's torchscript file" in result.output
    assert (factories / "torchscript" / "dense.pt").read_bytes() == before


@pytest.mark.parametrize(
    "manifest",
    [
        '{"manifest_version": "9.0", "models": []}',
        '{"manifest_version": ["1"], "models": []}',
        '{"manifest_version": "1.0", "models": [{"name": "dense", "key": "k", "files": [], "sparsity": {}}]}',
        '{"manifest_version": "1.0", "models": [{"name": "dense", "key": "k", "files": {"onnx": 3}, "sparsity": {}}]}',
        "[" * 100_000,
    ],
)
def test_a_malformed_manifest_is_one_line(tiny_sweep, tmp_path, runner, manifest):
    config_path, _, _ = tiny_sweep
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "manifest.json").write_text(manifest)
    result = runner.invoke(cli, ["prune", "--config", str(config_path), "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "not a sweep manifest written by pruneaudit prune" in result.output
