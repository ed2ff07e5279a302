"""The group runner on real torch, onnxruntime and saved outputs: one pass over the data, top-1 and
top-5 computed where the scores are, the model input made on the device with the numpy arithmetic."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field, replace

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from sklearn.metrics import top_k_accuracy_score

from pruneaudit.config import model_spec
from pruneaudit.data import Batch, load_dataset
from pruneaudit.data.dataset import ArraySource
from pruneaudit.inference import Silent, Task, run_group
from pruneaudit.models import load_predictor
from pruneaudit.results import load_raw, load_results
from pruneaudit.specs import DataSpec
from tests.conftest import ROOT, SAMPLES, run_cli


class Flatten(torch.nn.Module):
    """Its input, flattened: the scores are whatever the images hold."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)


def _task(path, **spec) -> Task:
    return Task(load_predictor(model_spec(path, **spec), device="cpu"), where=str(path))


def _flatten_onnx(path, width: int):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 1, width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", width])
    graph = helper.make_graph([helper.make_node("Flatten", ["x"], ["y"])], "flatten", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)
    return path


@pytest.fixture(scope="module")
def tied(tmp_path_factory):
    """Scores with many ties (integers 0-2 over 12 classes) as images, and the same scores as saved logits."""
    rng = np.random.default_rng(17)
    scores = rng.integers(0, 3, size=(300, 12)).astype(np.float32)
    scores[:12] = 1.0  # rows where every class ties
    labels = np.concatenate([np.arange(12), rng.integers(0, 12, size=288)])
    root = tmp_path_factory.mktemp("tied")
    np.savez(root / "data.npz", images=scores[:, None, None, :], labels=labels)
    np.savez(root / "logits.npz", logits=scores)
    torch.jit.save(torch.jit.script(Flatten()), str(root / "flatten.pt"))
    tasks = [_task(root / "flatten.pt"), _task(_flatten_onnx(root / "flatten.onnx", 12)), _task(root / "logits.npz")]
    runs = run_group(tasks, load_dataset(DataSpec(path=root / "data.npz")), batch_size=64)
    return scores, labels, runs


def test_top5_follows_sklearns_tie_rule_on_every_backend(tied):
    """torch (on its device), onnxruntime and saved logits (numpy): sklearn's top_k_accuracy_score, image by image."""
    scores, labels, runs = tied
    want = np.array([top_k_accuracy_score([y], s[None], k=5, labels=range(12)) == 1 for y, s in zip(labels, scores)])
    assert 0 < want.sum() < len(want)
    assert [r.backend for r in runs] == ["torchscript", "onnx", "predictions"]
    for run in runs:
        np.testing.assert_array_equal(run.top5_hits, want)
        assert run.top5_hits.mean() == pytest.approx(top_k_accuracy_score(labels, scores, k=5, labels=range(12)))
        np.testing.assert_array_equal(run.predictions, scores.argmax(axis=1))  # top-1: the first maximum
        assert run.n_classes == 12 and run.output_kind == "logits"


@pytest.mark.parametrize(
    ("images", "spec"),
    [
        (
            np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5) % 256,
            {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
        ),
        (np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5) % 256, {"scale": 0.003, "mean": (0.5,), "channels_first": False}),
        (np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256, {"mean": (0.1307,), "std": (0.3081,)}),
        (np.linspace(-2, 2, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4), {"std": (0.3, 0.2, 0.1), "channels_first": False}),
    ],
    ids=["uint8-rgb", "uint8-channels-last", "uint8-grey", "float64"],
)
def test_input_made_on_the_device_has_numpys_bits(tmp_path, images, spec):
    """uint8 images are normalised by torch, other dtypes cast on the host first: both give Dataset.prepare's bits."""
    images = images.astype(np.uint8 if images.dtype.kind == "i" else np.float64)
    np.savez(tmp_path / "d.npz", images=images, labels=np.zeros(len(images), dtype=np.int64))
    dataset = load_dataset(DataSpec(path=tmp_path / "d.npz", **spec))
    torch.jit.save(torch.jit.script(Flatten()), str(tmp_path / "flatten.pt"))
    predictor = load_predictor(model_spec(tmp_path / "flatten.pt"), device="cpu")
    batch = Batch(dataset, 0, len(images))
    got = predictor.predict(batch).numpy()
    want = batch.prepared.reshape(len(images), -1)
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))


@dataclass(frozen=True)
class CountingSource(ArraySource):
    """The arrays of a dataset, recording every read."""

    reads: list = field(default_factory=list)

    def raw(self, start: int, stop: int) -> np.ndarray:
        self.reads.append((start, stop))
        return super().raw(start, stop)


class Steps(Silent):
    """Every batch × model that run_group reports: (images, model, warm_up)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, bool]] = []

    def advance(self, images: int, *, model: str, warm_up: bool = False) -> None:
        self.seen.append((images, model, warm_up))


def test_each_batch_is_read_once_for_the_whole_group(test_npz, tmp_path):
    dataset = load_dataset(DataSpec(path=test_npz))
    counted = replace(dataset, images=CountingSource(dataset.images.images))
    np.savez(tmp_path / "preds.npz", predictions=np.zeros(len(dataset), dtype=np.int64))
    tasks = [
        _task(SAMPLES / "torchscript" / "dense.pt"),
        _task(SAMPLES / "onnx" / "l1-50.onnx"),
        _task(SAMPLES / "torchscript" / "global-90.pt"),
        _task(tmp_path / "preds.npz"),
    ]
    steps = Steps()
    runs = run_group(tasks, counted, batch_size=200, progress=steps)
    assert counted.images.reads == [(0, 200), (200, 400), (400, 512)]
    names = [t.predictor.name for t in tasks]
    want = [(n, m, first) for n, first in ((200, True), (200, False), (112, False)) for m in names]
    assert steps.seen == want  # per batch × model, each model's first batch marked as its warm-up
    alone = run_group(tasks[:1], dataset, batch_size=200)[0]
    np.testing.assert_array_equal(runs[0].predictions, alone.predictions)
    counted.images.reads.clear()
    run_group(tasks[3:], counted, batch_size=200)
    assert counted.images.reads == []  # saved outputs need no image


class ZeroesItsInput(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(28 * 28, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc(torch.flatten(x, 1))
        x.zero_()
        return out


def test_a_model_that_writes_into_its_input_does_not_change_the_next_models(test_npz, tmp_path):
    path = tmp_path / "zeroes.pt"
    torch.jit.save(torch.jit.script(ZeroesItsInput().eval()), str(path))
    dataset = load_dataset(DataSpec(path=test_npz))
    dense = _task(SAMPLES / "torchscript" / "dense.pt")
    runs = run_group([_task(path), dense], dataset, batch_size=128)
    alone = run_group([dense], dataset, batch_size=128)[0]
    np.testing.assert_array_equal(runs[1].predictions, alone.predictions)
    assert (runs[1].predictions == dataset.labels).mean() > 0.9


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", "bfloat16"), ("fp16", "float16")])
def test_reduced_precision_on_the_cpu(test_npz, precision, dtype):
    """The cast model and input run (slowly) on the CPU; the facts are measured before the cast."""
    path = SAMPLES / "torchscript" / "global-90.pt"
    dataset = load_dataset(DataSpec(path=test_npz))
    full = run_group([_task(path)], dataset, batch_size=256)[0]
    cast = load_predictor(model_spec(path), device="cpu", precision=precision)
    (run,) = run_group([Task(cast, where=str(path))], dataset, batch_size=256)
    assert run.dtype == dtype and full.dtype == "float32"
    assert run.facts == full.facts
    assert (run.predictions == full.predictions).mean() > 0.97


LIGHT_AUDIT = """
import json, sys
from click.testing import CliRunner
from pruneaudit.cli import cli
result = CliRunner().invoke(cli, ["audit", "--quiet", *sys.argv[1:]])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx"))
print(json.dumps({"exit": result.exit_code, "output": result.output, "heavy": heavy}))
"""


def _light_audit(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LIGHT_AUDIT, *map(str, args)], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_audit_of_saved_outputs_imports_no_torch(test_npz, tmp_path):
    """The default device ('auto') is not even asked about: saved outputs run nowhere."""
    labels = np.load(test_npz)["labels"]
    logits = np.eye(10, dtype=np.float32)[labels] + np.float32(0.1)
    np.savez(tmp_path / "dense.npz", logits=logits)
    np.savez(tmp_path / "pruned.npz", predictions=np.where(np.arange(len(labels)) % 7, labels, 0))
    args = ["--dense", tmp_path / "dense.npz", "--pruned", tmp_path / "pruned.npz", "--data", test_npz]
    got = _light_audit([*args, "--out", tmp_path / "r"])
    assert got["exit"] == 0, got["output"]
    assert got["heavy"] == []
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert "torch" not in results["environment"] and results["environment"]["device"] == "cpu"


def test_a_cached_cpu_audit_of_torch_models_imports_no_torch(test_npz, tmp_path):
    """On a cache hit no model is opened; torch's version for the key comes from its package metadata."""
    args = ["--device", "cpu", "--dense", SAMPLES / "torchscript" / "dense.pt", "--data", test_npz]
    args += ["--pruned", SAMPLES / "torchscript" / "l1-50.pt", "--cache", tmp_path / "cache"]
    first = _light_audit([*args, "--out", tmp_path / "a"])
    second = _light_audit([*args, "--out", tmp_path / "b"])
    assert first["exit"] == second["exit"] == 0, first["output"] + second["output"]
    assert "torch" in first["heavy"] and second["heavy"] == []
    assert (tmp_path / "a" / "results.json").read_bytes() == (tmp_path / "b" / "results.json").read_bytes()


def test_precision_is_recorded_and_applies_to_torch_models_only(test_npz, tmp_path):
    cfg = tmp_path / "audit.yaml"
    lines = [f"data: {{path: {test_npz}}}", f"dense: {{path: {SAMPLES / 'torchscript' / 'dense.pt'}}}"]
    lines += [f"pruned: [{{path: {SAMPLES / 'onnx' / 'l1-50.onnx'}}}]", "precision: bf16"]
    cfg.write_text("\n".join(lines) + "\n")
    result = run_cli(["audit", "--quiet", "--device", "cpu", "--config", str(cfg), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    results = load_raw(tmp_path / "r" / "results.json")
    assert results["settings"]["precision"] == "bf16"
    assert [m["dtype"] for m in results["models"]] == ["bfloat16", "float32"]
    cfg.write_text("\n".join([*lines[:-1], "precision: fp8"]) + "\n")
    bad = run_cli(["audit", "--quiet", "--config", str(cfg), "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "precision must be one of fp32, bf16, fp16; received 'fp8'" in bad.output


class _WritesIntoItsInput(torch.nn.Module):
    """Old-style code that normalises in place through .data, which no version counter sees."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(28 * 28, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.data.mul_(0.0)
        return self.fc(torch.flatten(x, 1))


def test_a_model_that_writes_into_its_input_leaves_the_next_models_input_alone(tmp_path, test_npz):
    from tests.conftest import TinyNet, save_torchscript

    torch.manual_seed(0)
    dense = save_torchscript(TinyNet(10), tmp_path / "dense.pt")
    writer = save_torchscript(_WritesIntoItsInput(), tmp_path / "writer.pt")
    other = save_torchscript(TinyNet(10), tmp_path / "other.pt")
    base = ["audit", "--quiet", "--device", "cpu", "--no-cache", "--data", str(test_npz), "--dense", str(dense)]
    run_cli([*base, "--pruned", str(writer), "--pruned", str(other), "--out", str(tmp_path / "with")])
    run_cli([*base, "--pruned", str(other), "--out", str(tmp_path / "alone")])
    with_writer = load_results(tmp_path / "with" / "results.json").model("other")
    alone = load_results(tmp_path / "alone" / "results.json").model("other")
    assert with_writer.per_class == alone.per_class and with_writer.confusion == alone.confusion
