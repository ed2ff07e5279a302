"""`pruneaudit prune --backend ray`: the same models, manifest and audit config as the local backend."""

from __future__ import annotations

import pytest

from pruneaudit.sweep.config import build_sweep_config
from pruneaudit.sweep.run import run_sweep
from tests.sweep.test_run import model_hashes

ray = pytest.importorskip("ray")


def test_ray_makes_the_local_sweep_byte_for_byte(tiny_sweep, tmp_path):
    config_path, out, _ = tiny_sweep
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        made: set[str] = set()
        target = tmp_path / "sweep"
        run_sweep(
            build_sweep_config(config_path), out=target, backend="ray", jobs=2, progress=lambda p: made.add(p.name)
        )
    finally:
        ray.shutdown()
    assert len(made) == 14  # every model, each recorded by the driver as it came back
    assert model_hashes(target) == model_hashes(out)
    for name in ("manifest.json", "audit.yaml", "audit-onnx.yaml"):
        assert (target / name).read_bytes() == (out / name).read_bytes(), name
    assert made_again(config_path, target) == set()


def made_again(config_path, out) -> set[str]:
    names: set[str] = set()
    run_sweep(build_sweep_config(config_path), out=out, progress=lambda p: names.add(p.name))
    return names
