"""`pruneaudit mitigate --audit-config`: a pruned model an ordinary audit config declares, no sweep.

Real torch models end to end: the committed sample models (TorchScript, and the same weights as state_dicts
with the sample factory), one epoch each, the harm read on the test split, the held-out split carved from
the training split.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.mitigation.heldout import ROWS_KEY, heldout_rows
from pruneaudit.mitigation.run import given
from pruneaudit.mitigation.settings import Settings
from pruneaudit.results import load_raw, load_results
from pruneaudit.sweep.config import Training
from pruneaudit.sweep.masks import weight_names
from tests.conftest import DATA, SAMPLES, run_cli

MODEL = "l1-90"
METHODS = ("finetune", "constrained")  # the control, and the method that also runs the dense model
FACTORY_MODULE = "plain_spec_cnn"  # a module name of its own: other tests import the sample factory as `cnn`


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


def _audit(config: Path, out: Path) -> Path:
    result = run_cli(["audit", "--quiet", "--device", "cpu", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "results.json"


def _write_config(path: Path, body: dict) -> Path:
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def _mitigate_args(config: Path, results: Path, out: Path, *, model: str = MODEL) -> list[str]:
    return ["mitigate", "--audit-config", str(config), "--results", str(results), "--model", model, "--out", str(out)]


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    """A plain audit config, as a user writes one: the sample dense model and l1-90 (TorchScript, and l1-90 as
    ONNX too) on the test split. Its paths are absolute; the re-audit's are relative to its own folder."""
    folder = tmp_path_factory.mktemp("plain")
    return _write_config(
        folder / "audit.yaml",
        {
            "data": {"path": str(DATA), "split": 1, "name": "MNIST", "hf_id": "ylecun/mnist", "split_name": "test"},
            "dense": {"name": "dense", "path": str(SAMPLES / "torchscript" / "dense.pt")},
            "pruned": [
                {
                    "name": MODEL,
                    "path": str(SAMPLES / "torchscript" / f"{MODEL}.pt"),
                    "technique": "l1_unstructured",
                    "amount": 0.9,
                    "seed": 0,
                    "finetune_epochs": 3,
                },
                {"name": f"{MODEL}-onnx", "path": str(SAMPLES / "onnx" / f"{MODEL}.onnx"), "technique": "onnx"},
            ],
        },
    )


@pytest.fixture(scope="module")
def harm(spec) -> Path:
    """The audit that finds the harm: the config as it is, on its own data (the test split)."""
    return _audit(spec, spec.parent / "report")


@pytest.fixture(scope="module")
def train_npz(spec) -> Path:
    """Training data of its own, small to keep the test quick: 1,500 digits of the training split (split 0) and,
    as a split 1 that --train-split leaves out, 500 of the test split."""
    d = np.load(DATA)
    keep = np.concatenate([np.flatnonzero(d["split"] == 0)[:1500], np.flatnonzero(d["split"] == 1)[:500]])
    path = spec.parent / "train.npz"
    np.savez(path, images=d["images"][keep], labels=d["labels"][keep], split=d["split"][keep])
    return path


@pytest.fixture(scope="module")
def mitigated(spec, harm, train_npz) -> Path:
    out = spec.parent / "out"
    args = [*_mitigate_args(spec, harm, out), "--train-data", str(train_npz), "--train-split", "0", "--epochs", "1"]
    result = run_cli([*args, *(a for m in METHODS for a in ("--method", m)), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"pruneaudit audit --config {out / 'audit.yaml'}" in result.output
    return out


@pytest.fixture(scope="module")
def reaudit(mitigated) -> Path:
    return _audit(mitigated / "audit.yaml", mitigated / "report")


def _manifest(out: Path) -> dict:
    return json.loads((out / "mitigation.json").read_text())


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    params = dict(module.named_parameters())
    return {n: params[n].detach() for n in weight_names(module)}


def test_the_zeros_stay_exactly_where_they_were(mitigated, reaudit):
    before = _weights(torch.jit.load(str(SAMPLES / "torchscript" / f"{MODEL}.pt"), map_location="cpu"))
    manifest = _manifest(mitigated)
    assert manifest["source"]["format"] == "torchscript"
    assert manifest["training"] == asdict(Training(epochs=1))  # Training's defaults, --epochs 1
    results = load_results(reaudit)
    source = results.model(MODEL)
    for m in manifest["models"]:
        path = mitigated / m["files"]["torchscript"]["path"]
        assert list(m["files"]) == ["torchscript"]  # the source's format, and only it
        after = _weights(torch.jit.load(str(path), map_location="cpu"))
        assert after.keys() == before.keys()
        for name, w in before.items():
            assert torch.equal(after[name] == 0, w == 0), (m["name"], name)  # the same zeros, no more, no fewer
        assert any(not torch.equal(after[n], before[n]) for n in before), m["name"]  # it did train
        recovered = results.model(m["name"])
        assert recovered.facts.sparsity == source.facts.sparsity  # measured by the audit, bit for bit
        assert recovered.facts.weight_nonzero == source.facts.weight_nonzero
        assert m["sparsity"] == manifest["source"]["sparsity"]


def test_the_classes_are_the_audits_harmed_classes(mitigated, harm):
    raw = load_raw(harm)
    psi = next(m for m in raw["models"] if m["name"] == MODEL)["vs_dense"]["per_class"]["excess_gap"]
    expected = [c for c, v in enumerate(psi) if v is not None and v > raw["settings"]["tolerance"]]
    assert expected
    manifest = _manifest(mitigated)
    assert manifest["harmed"]["classes"] == expected and manifest["harmed"]["rule"] == "excess"
    names = [raw["data"]["class_names"][c] for c in expected]
    config = yaml.safe_load((mitigated / "audit.yaml").read_text())
    recovered = config["pruned"][1:]
    assert [m["name"] for m in recovered] == [f"{MODEL}+{m}" for m in METHODS]
    for item in recovered:
        assert item["harmed_classes"] == names and item["mitigates"] == MODEL
        assert item["technique"] == f"l1_unstructured+{item['method']}"  # never pooled with l1-90
        assert (item["amount"], item["seed"], item["finetune_epochs"]) == (0.9, 0, 4)  # 3 declared + 1
    constrained = next(m for m in manifest["models"] if m["method"] == "constrained")
    assert constrained["classes"] == expected and len(constrained["multipliers"]) == len(expected)


def test_the_held_out_split_is_carved_from_the_training_data_not_the_audited_split(mitigated, harm, train_npz):
    splits = _manifest(mitigated)["splits"]
    audited = load_results(harm).data
    assert (splits["harm"]["file"], splits["harm"]["split"], splits["harm"]["sha256"]) == (
        "mnist10k.npz",
        1,
        audited.sha256,
    )
    assert splits["heldout"]["carved_from"] == {"file": "train.npz", "split": 0}
    assert splits["heldout"]["sha256"] != audited.sha256
    d = np.load(train_npz)
    train = np.flatnonzero(d["split"] == 0)
    stored = np.load(mitigated / "heldout.npz")
    rows = stored[ROWS_KEY]
    np.testing.assert_array_equal(rows, heldout_rows(d["labels"][train]))
    np.testing.assert_array_equal(stored["images"], d["images"][train[rows]])  # rows of the training split only
    assert splits["finetune"]["images"] + len(rows) == len(train)
    config = yaml.safe_load((mitigated / "audit.yaml").read_text())
    assert config["data"] == {"path": "heldout.npz", "name": "MNIST", "hf_id": "ylecun/mnist"}


def test_the_re_audit_runs_as_written_and_its_card_has_the_mitigation(mitigated, reaudit):
    results = load_results(reaudit)
    assert results.data.file == "heldout.npz"
    assert results.data.sha256 == _manifest(mitigated)["splits"]["heldout"]["sha256"]
    assert [m.name for m in results.pruned] == [MODEL, *(f"{MODEL}+{m}" for m in METHODS)]
    assert results.model(f"{MODEL}+constrained").metadata["method"] == "constrained"
    card = (reaudit.parent / "card.md").read_text()
    assert "### Mitigation" in card and f"| {MODEL}+finetune | finetune (control) |" in card


@pytest.fixture
def state_dict_spec(tmp_path) -> Path:
    """The same sample weights as state_dicts with the sample factory beside the config; 1,500 training digits."""
    shutil.copy(SAMPLES / "cnn.py", tmp_path / f"{FACTORY_MODULE}.py")
    for name in ("dense", MODEL):
        module = torch.jit.load(str(SAMPLES / "torchscript" / f"{name}.pt"), map_location="cpu")
        torch.save(module.state_dict(), tmp_path / f"{name}.pt")
    d = np.load(DATA)
    keep = np.flatnonzero(d["split"] == 0)[:1500]
    np.savez(tmp_path / "train.npz", images=d["images"][keep], labels=d["labels"][keep])
    factory = f"{FACTORY_MODULE}:SmallCNN"
    yield _write_config(
        tmp_path / "audit.yaml",
        {
            "data": {"path": str(DATA), "split": 1},
            "dense": {"name": "dense", "path": "dense.pt", "factory": factory},
            "pruned": [{"name": MODEL, "path": f"{MODEL}.pt", "factory": factory, "technique": "l1_unstructured"}],
        },
    )
    sys.modules.pop(FACTORY_MODULE, None)


def test_a_state_dict_is_fine_tuned_through_its_factory_and_written_as_a_state_dict(state_dict_spec):
    folder = state_dict_spec.parent
    results = _audit(state_dict_spec, folder / "report")
    out = folder / "out"
    args = [*_mitigate_args(state_dict_spec, results, out), "--train-data", str(folder / "train.npz")]
    result = run_cli([*args, "--method", "reweight", "--epochs", "1", "--lr", "0.005", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    manifest = _manifest(out)
    assert manifest["training"]["lr"] == 0.005 and manifest["source"]["format"] == "state_dict"
    assert manifest["factory_files"][0]["path"] == f"{FACTORY_MODULE}.py"
    assert (out / f"{FACTORY_MODULE}.py").read_bytes() == (SAMPLES / "cnn.py").read_bytes()
    before = torch.load(folder / f"{MODEL}.pt", weights_only=True)
    after = torch.load(out / "state_dict" / f"{MODEL}+reweight.pt", weights_only=True)  # no pickled code
    assert after.keys() == before.keys()
    for name in ("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"):
        assert torch.equal(after[name] == 0, before[name] == 0), name
    item = yaml.safe_load((out / "audit.yaml").read_text())["pruned"][-1]
    assert (item["format"], item["factory"], item["path"]) == (
        "state_dict",
        f"{FACTORY_MODULE}:SmallCNN",
        f"state_dict/{MODEL}+reweight.pt",
    )
    sys.modules.pop(FACTORY_MODULE)  # imported from the config's folder; the re-audit finds its copy beside its own
    reaudit = load_results(_audit(out / "audit.yaml", out / "report"))
    assert reaudit.model(f"{MODEL}+reweight").facts.sparsity == reaudit.model(MODEL).facts.sparsity


def test_the_fine_tuning_settings_are_trainings_defaults_with_the_flags_given():
    assert given(Training(epochs=3), Settings()) == Training(epochs=3)
    assert given(Training(epochs=3), Settings(epochs=1, lr=0.1)) == Training(epochs=1, lr=0.1)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("onnx", f"pruned model {MODEL}-onnx: an ONNX model cannot be fine-tuned (onnxruntime computes no gradients)"),
        ("torch.export", "a torch.export program cannot be fine-tuned: torch cannot switch it to training mode"),
        ("pickle", "a pickled module is code, not weights"),
        ("class order", f"{MODEL} declares class_order; mitigate fine-tunes on the data's labels"),
        ("onnx dense", "dense model dense: mitigate runs the dense model in torch"),
        ("unknown", "declares no pruned model 'nope'; its pruned models are l1-90, l1-90-onnx"),
        ("other data", "not the data"),
        ("no train data", "--audit-config needs --train-data"),
        ("missing train data", "nope.npz: file not found (--train-data)"),
        ("train on the audited rows", "the audit read the harm on the training split (mnist10k.npz, every row)"),
        ("both configs", "give --config SWEEP.yaml (a model `pruneaudit prune` made) or --audit-config"),
        ("no config", "give --config SWEEP.yaml"),
        ("sweep folder", "--sweep goes with --config"),
        ("out is the config's folder", "is the audit config's folder; give mitigate an --out of its own"),
    ],
)
def test_bad_inputs_are_one_line_errors(spec, harm, tmp_path, case, message):
    out, config, results = tmp_path / "out", spec, harm
    train = ["--train-data", str(DATA), "--train-split", "0"]
    model = MODEL
    if case == "onnx":
        model = f"{MODEL}-onnx"
    elif case in ("torch.export", "pickle"):  # refused by format, before the file is opened
        (tmp_path / "model.pt2").write_bytes(b"not read")
        (tmp_path / "model.pt").write_bytes(b"not read")
        raw = yaml.safe_load(spec.read_text())
        raw["pruned"] = [
            {"name": "exported", "path": str(tmp_path / "model.pt2")},
            {"name": "pickled", "path": str(tmp_path / "model.pt"), "format": "pickle"},
        ]
        config = _write_config(tmp_path / "audit.yaml", raw)
        model = "exported" if case == "torch.export" else "pickled"
    elif case in ("class order", "onnx dense"):
        raw = yaml.safe_load(spec.read_text())
        if case == "class order":
            raw["pruned"][0]["class_order"] = [str(c) for c in reversed(range(10))]
        else:
            raw["dense"] = {"name": "dense", "path": str(SAMPLES / "onnx" / "dense.onnx")}
        config = _write_config(tmp_path / "audit.yaml", raw)
    elif case == "unknown":
        model = "nope"
    elif case == "other data":  # an audit of the held-out split of an earlier mitigation, say
        shutil.copytree(harm.parent, tmp_path / "r")
        raw = json.loads((tmp_path / "r" / "results.json").read_text())
        raw["data"]["sha256"] = "0" * 64
        (tmp_path / "r" / "results.json").write_text(json.dumps(raw))
        results = tmp_path / "r" / "results.json"
    elif case == "no train data":
        train = []
    elif case == "missing train data":
        train = ["--train-data", str(tmp_path / "nope.npz")]
    elif case == "train on the audited rows":
        train = ["--train-data", str(DATA)]
    elif case == "out is the config's folder":
        out = spec.parent
    args = [*_mitigate_args(config, results, out, model=model), *train, "--epochs", "1", "--quiet"]
    if case == "both configs":
        args += ["--config", str(SAMPLES / "sweep.yaml")]
    elif case == "no config":
        args = ["mitigate", *args[3:]]
    elif case == "sweep folder":
        args += ["--sweep", str(SAMPLES)]
    before = sorted(p.name for p in spec.parent.iterdir())
    result = _invoke(args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() or sorted(p.name for p in spec.parent.iterdir()) == before  # nothing written


def test_a_harmed_class_with_one_training_image_is_refused(spec, harm, tmp_path):
    """Its one image would be fine-tuned on and none held out: the re-audit could not grade the class."""
    d = np.load(DATA)
    rows = np.flatnonzero(d["split"] == 0)[:1500]
    fives = rows[d["labels"][rows] == 5]
    keep = np.setdiff1d(rows, fives[1:])
    path = tmp_path / "one-five.npz"
    np.savez(path, images=d["images"][keep], labels=d["labels"][keep])
    result = _invoke(
        [*_mitigate_args(spec, harm, tmp_path / "out"), "--train-data", str(path), "--epochs", "1", "--quiet"]
    )
    assert result.exit_code == 2, result.output
    assert "harmed class(es) 5 have fewer than two images, so none is held out" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_the_audited_images_in_a_file_of_their_own_are_refused(spec, harm, train_npz, tmp_path):
    """The file and split checks see names and hashes; a copy of the audited rows under another name, or a
    training file that holds them without a split to leave them out, is caught by comparing the rows."""
    d = np.load(DATA)
    test = np.flatnonzero(d["split"] == 1)
    copy = tmp_path / "copy.npz"
    np.savez(copy, images=d["images"][test], labels=d["labels"][test])
    for path, shared in ((copy, 2000), (train_npz, 500)):  # train.npz without --train-split 0: 500 audited rows
        result = _invoke([*_mitigate_args(spec, harm, tmp_path / "out"), "--train-data", str(path), "--quiet"])
        assert result.exit_code == 2, result.output
        assert (
            f"{shared:,} of its images are images the audit read the harm on (mnist10k.npz, split 1: 2,000 images)"
            in (result.output)
        )
        assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
