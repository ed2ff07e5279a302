"""Trusting code is the decision of whoever runs the command, never of a file the command reads."""

from __future__ import annotations

import os

import torch

from tests.conftest import SAMPLES
from tests.hostile.conftest import assert_user_error, invoke, tree_digest


class _Marker:
    """Unpickling this runs os.system: the marker file proves code from the model file ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _hostile_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(_Marker(str(marker)), path)
    return path, marker


def test_config_cannot_grant_trust_pickle(tmp_path, test_npz):
    model, marker = _hostile_pickle(tmp_path)
    config = tmp_path / "audit.yaml"
    config.write_text(
        f"trust_pickle: true\ndata: {{path: {test_npz}}}\n"
        f"dense: {{path: {SAMPLES / 'torchscript' / 'dense.pt'}}}\npruned:\n  - {{path: {model}}}\n"
    )
    out = tmp_path / "report"
    outcome = invoke(["audit", "--quiet", "--config", config, "--out", out])
    assert_user_error(outcome, names=config, says="trust_pickle cannot be set in a config file")
    assert not marker.exists() and not out.exists()


def test_without_the_flag_a_pickle_is_refused_and_never_run(tmp_path, test_npz):
    model, marker = _hostile_pickle(tmp_path)
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("previous report")
    before = tree_digest(out)
    args = ["audit", "--quiet", "--dense", SAMPLES / "torchscript" / "dense.pt", "--pruned", model]
    outcome = invoke([*args, "--data", test_npz, "--out", out])
    assert_user_error(outcome, names=model, says="--trust-pickle")
    assert not marker.exists() and tree_digest(out) == before
