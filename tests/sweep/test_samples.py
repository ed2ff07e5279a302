"""The committed sample models are what `make sample-models` (sample_models/sweep.yaml) makes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from pruneaudit.sweep.config import build_sweep_config
from pruneaudit.sweep.run import cpu_name, run_sweep
from tests.conftest import SAMPLES

KEPT = ("sweep.yaml", "cnn.py", "manifest.json", "audit.yaml", "audit-onnx.yaml")


@pytest.fixture
def samples_copy(tmp_path) -> Path:
    copy = tmp_path / "sample_models"
    copy.mkdir()
    for name in KEPT:
        shutil.copy(SAMPLES / name, copy / name)
    for folder in ("torchscript", "onnx", "data"):
        shutil.copytree(SAMPLES / folder, copy / folder)
    return copy


def test_the_sample_sweep_lists_the_committed_sample_models():
    config = build_sweep_config(SAMPLES / "sweep.yaml")
    audit = yaml.safe_load((SAMPLES / "audit.yaml").read_text())
    assert [v.name for v in config.variants] == [m["name"] for m in audit["pruned"]]
    assert [d.name for d in config.dense_seeds] == [m["name"] for m in audit["dense_seeds"]]
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    assert manifest["complete"] and len(manifest["models"]) == 29
    assert audit["train_class_counts"] == manifest["train_data"]["class_counts"]


def test_a_sample_model_made_again_is_the_committed_file(samples_copy):
    """One model without fine-tuning (exact on any CPU) and one fine-tuned (exact on the CPU type that made them)."""
    remade = ["oneshot-global-90"]
    same_cpu = json.loads((SAMPLES / "manifest.json").read_text())["cpu"] == cpu_name()
    if same_cpu:
        remade.append("structured-25")
    for name in remade:
        (samples_copy / "torchscript" / f"{name}.pt").unlink()
        (samples_copy / "onnx" / f"{name}.onnx").unlink()
    made: set[str] = set()
    run_sweep(build_sweep_config(samples_copy / "sweep.yaml"), out=samples_copy, progress=lambda p: made.add(p.name))
    assert made == set(remade)
    for name in remade:
        for fmt, ext in (("torchscript", "pt"), ("onnx", "onnx")):
            assert (samples_copy / fmt / f"{name}.{ext}").read_bytes() == (SAMPLES / fmt / f"{name}.{ext}").read_bytes()
    for name in KEPT[3:]:
        assert (samples_copy / name).read_bytes() == (SAMPLES / name).read_bytes(), name
    written, committed = (json.loads((folder / "manifest.json").read_text()) for folder in (samples_copy, SAMPLES))
    assert written.pop("cpu") == cpu_name()  # the manifest names the CPU of its last write
    committed.pop("cpu")
    assert written == committed
    if not same_cpu:
        pytest.skip(f"fine-tuned models compared only on the CPU type that made them ({cpu_name()} here)")
