"""A tiny sweep: a 10-class CNN of ~10K weights on 400 training and 200 evaluation digits of the sample data."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import DATA

TINY = """
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, width, 5, stride=2)
        self.fc1 = nn.Linear(width * 12 * 12, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x))
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))
"""

BASE = {
    "model": {"factory": "tiny:Tiny"},
    "train_data": {"path": "digits.npz", "split": 0},
    "eval_data": {"path": "digits.npz", "split": 1},
    "train": {"epochs": 2, "optimizer": "adam", "lr": 0.01, "batch_size": 50, "seed": 3},
    "dense_seeds": [1],
    "techniques": ["l1_unstructured", "random_unstructured", "global_l1_iterative"],
    "amounts": [0.5, 0.8],
    "seeds": [0, 1],
    "finetune": {
        "epochs": 1,
        "optimizer": "sgd",
        "lr": 0.02,
        "momentum": 0.9,
        "weight_decay": 0.0005,
        "batch_size": 50,
    },
    "iterative": {"steps": 2},
    "formats": ["torchscript", "onnx", "state_dict"],
    "device": "cpu",
}


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory) -> Path:
    """A folder with the tiny factory and data; tests write their sweep.yaml into a copy or beside it."""
    folder = tmp_path_factory.mktemp("sweep-src")
    (folder / "tiny.py").write_text(textwrap.dedent(TINY))
    d = np.load(DATA)
    keep = np.concatenate([np.flatnonzero(d["split"] == 0)[:400], np.flatnonzero(d["split"] == 1)[:200]])
    np.savez(folder / "digits.npz", images=d["images"][keep], labels=d["labels"][keep], split=d["split"][keep])
    return folder


def write_config(folder: Path, filename: str = "sweep.yaml", **changes) -> Path:
    """BASE with top-level keys replaced (a value None removes the key)."""
    raw = {**BASE, **changes}
    path = folder / filename
    path.write_text(yaml.safe_dump({k: v for k, v in raw.items() if v is not None}, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def tiny_sweep(sweep_dir, tmp_path_factory):
    """The BASE sweep made once, in this process, one job: (config path, out folder, manifest)."""
    from pruneaudit.sweep.config import build_sweep_config
    from pruneaudit.sweep.run import run_sweep

    config_path = write_config(sweep_dir)
    out = tmp_path_factory.mktemp("sweep-out") / "sweep"
    manifest = run_sweep(build_sweep_config(config_path), out=out)
    return config_path, out, manifest
