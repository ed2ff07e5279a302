"""Shared fixtures: the committed sample models and data, and small models built on the fly."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.results import Results, load_raw, parse_results

# The suite's own cache folder, set before any test runs (subprocesses inherit it): tests never write
# to the user's ~/.cache. Shared by the whole session; a test that counts inferences passes --cache tmp_path.
os.environ["PRUNEAUDIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="pruneaudit-test-cache-")
atexit.register(shutil.rmtree, os.environ["PRUNEAUDIT_CACHE_DIR"], ignore_errors=True)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
DATA = SAMPLES / "data" / "mnist10k.npz"
# Every file a report folder holds, sorted: the card, results.json with its tables, the CSV.
REPORT_FILES = (
    "card.md",
    "confusion.parquet",
    "index.html",
    "per_class.csv",
    "per_class.parquet",
    "results.json",
    "subgroups.parquet",
)
# A handful of the sample models: enough for every code path, quick to run.
SUBSET = ("l1-50", "global-90", "random-90-s0", "structured-75")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20201009)


@pytest.fixture(scope="session")
def test_npz(tmp_path_factory) -> Path:
    """The first 512 test-split digits, as a small standalone .npz."""
    d = np.load(DATA)
    keep = np.flatnonzero(d["split"] == 1)[:512]
    path = tmp_path_factory.mktemp("data") / "mnist-test-512.npz"
    np.savez(path, images=d["images"][keep], labels=d["labels"][keep])
    return path


def audit_args(fmt: str, data: Path, out: Path, names=SUBSET) -> list[str]:
    ext = {"torchscript": "pt", "onnx": "onnx"}[fmt]
    args = ["audit", "--quiet", "--device", "cpu", "--dense", str(SAMPLES / fmt / f"dense.{ext}")]
    args += ["--data", str(data), "--out", str(out)]
    for name in names:
        args += ["--pruned", str(SAMPLES / fmt / f"{name}.{ext}")]
    return args


def run_cli(args: list[str]):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


@pytest.fixture(scope="session")
def sample_audit(tmp_path_factory) -> dict[str, Path]:
    """Full sample audit from the committed config, once per format.

    On the CPU even where a GPU is present: tests compare these numbers with CPU-made references
    (the manifest, the golden card, TorchScript against ONNX), and GPU float ties differ.
    """
    outs = {}
    for fmt, config in (("torchscript", "audit.yaml"), ("onnx", "audit-onnx.yaml")):
        out = tmp_path_factory.mktemp(f"audit-{fmt}")
        result = run_cli(["audit", "--quiet", "--device", "cpu", "--config", str(SAMPLES / config), "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs[fmt] = out
    return outs


@pytest.fixture(scope="session")
def sample_stored(sample_audit) -> dict:
    """results.json of the TorchScript sample audit as written (schema 2: the bulk arrays are in its tables)."""
    return json.loads((sample_audit["torchscript"] / "results.json").read_text())


@pytest.fixture(scope="session")
def sample_results(sample_audit) -> dict:
    """The same audit as the mapping readers see, every array in place (for tests that edit it and parse it)."""
    return load_raw(sample_audit["torchscript"] / "results.json")


@pytest.fixture(scope="session")
def sample_view(sample_results) -> Results:
    """The same results through the typed read view, as the report, selection and gate read them."""
    return parse_results(sample_results)


class TinyNet(torch.nn.Module):
    """A 28x28 → n_classes linear model, for tests that need a model of a given shape."""

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(28 * 28, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(x, 1))


def save_torchscript(model: torch.nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.trace(model.eval(), torch.zeros(1, 1, 28, 28)), str(path))
    return path
