"""--backend ray against the local backend: the same results but for the environment block that names it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pruneaudit.cli import cli
from tests.conftest import REPORT_FILES, SAMPLES, audit_args

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance of two CPUs for the module; the audits find it running and leave it so."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield
    ray.shutdown()


def _audit(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--no-cache"])
    assert result.exit_code == 0, result.output


def _same_but_the_backend(local: Path, remote: Path) -> None:
    a, b = (json.loads((d / "results.json").read_text()) for d in (local, remote))
    env_a, env_b = a.pop("environment"), b.pop("environment")
    assert a == b
    assert "backend" not in env_a and env_b.pop("backend") == "ray" and env_b.pop("ray") == ray.__version__
    assert int(env_b.pop("ray_workers")) >= 1 and env_a == env_b
    for name in REPORT_FILES:
        if name.endswith(".parquet") or name == "per_class.csv":
            assert (local / name).read_bytes() == (remote / name).read_bytes(), name


def test_ray_gives_the_local_results_on_the_sample_models(ray_instance, tmp_path, test_npz):
    for fmt in ("torchscript", "onnx"):
        _audit(audit_args(fmt, test_npz, tmp_path / f"{fmt}-local"))
        _audit([*audit_args(fmt, test_npz, tmp_path / f"{fmt}-ray"), "--backend", "ray", "--workers", "2"])
        _same_but_the_backend(tmp_path / f"{fmt}-local", tmp_path / f"{fmt}-ray")


def test_ray_gives_the_local_results_on_200_models(ray_instance, tmp_path):
    """Saved predictions of 200 models (the dense one and 199 that degrade unevenly, in 5 techniques x seeds)."""
    rng = np.random.default_rng(20201009)
    rows, classes = 400, 10
    labels = rng.integers(0, classes, size=rows)
    np.savez(tmp_path / "data.npz", images=np.zeros((rows, 1, 1, 1), dtype=np.uint8), labels=labels)
    fragile = rng.random(classes)
    lines = ["data: {path: data.npz}", "dense: {path: dense.npz}", "pruned:"]
    for i in range(200):
        level = 0.0 if i == 0 else (i % 10 + 1) / 10
        wrong = rng.random(rows) < 0.05 + 0.5 * level * fragile[labels]
        name = "dense" if i == 0 else f"m{i:03d}"
        np.savez(tmp_path / f"{name}.npz", predictions=np.where(wrong, rng.integers(0, classes, size=rows), labels))
        if i:
            technique = ("l1", "global", "random", "structured", "iterative")[i % 5]
            lines.append(
                f"  - {{path: {name}.npz, technique: {technique}, amount: {min(0.95, level)}, seed: {i // 50}}}"
            )
    (tmp_path / "audit.yaml").write_text("\n".join(lines) + "\n")
    base = ["audit", "--config", str(tmp_path / "audit.yaml"), "--quiet", "--device", "cpu"]
    _audit([*base, "--out", str(tmp_path / "local")])
    _audit([*base, "--out", str(tmp_path / "ray"), "--backend", "ray"])
    _same_but_the_backend(tmp_path / "local", tmp_path / "ray")


def test_a_worker_that_dies_twice_is_reported_by_model_name(ray_instance, tmp_path):
    """A model whose loading kills its process: retried once on a restarted actor, then named; no report."""
    (tmp_path / "boom.py").write_text(
        textwrap.dedent("""
            import os

            def make():
                os._exit(3)
        """)
    )
    torch.save({"w": torch.zeros(1)}, tmp_path / "boom.pt")
    dense = SAMPLES / "torchscript" / "dense.pt"
    (tmp_path / "audit.yaml").write_text(
        f"data: {{path: {SAMPLES / 'data' / 'mnist10k.npz'}, split: 1}}\n"
        f"dense: {{path: {dense}}}\n"
        "pruned:\n  - {name: boom, path: boom.pt, factory: 'boom:make'}\n"
    )
    out = tmp_path / "report"
    args = ["audit", "--config", str(tmp_path / "audit.yaml"), "--out", str(out), "--quiet", "--backend", "ray"]
    result = CliRunner().invoke(cli, [*args, "--no-cache"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: boom: the Ray worker running it died twice (")
    assert errors[0].endswith("; nothing was written for it") and not out.exists()  # (Ray prints its own diagnosis too)


def test_ray_options_need_the_ray_backend(tmp_path, test_npz):
    result = CliRunner().invoke(cli, [*audit_args("onnx", test_npz, tmp_path / "r"), "--workers", "2"])
    assert result.exit_code == 2 and "--ray-address and --workers need --backend ray" in result.output


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: Ray's GCS, raylet and workers are children of the driver)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_shuts_down_the_local_ray_instance_and_writes_no_card(tmp_path):
    """SIGINT to the driver while an actor is inside a model: exit 130, no report, every Ray process gone."""
    (tmp_path / "slow.py").write_text(
        textwrap.dedent(f"""
            import pathlib, time
            import torch

            class Slow(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.w = torch.nn.Parameter(torch.zeros(1))

                def forward(self, x):
                    pathlib.Path({str(tmp_path / "running")!r}).touch()
                    time.sleep(300)
                    return torch.zeros(x.shape[0], 10)

            def make():
                return Slow()
        """)
    )
    torch.save({"w": torch.zeros(1)}, tmp_path / "slow.pt")
    (tmp_path / "audit.yaml").write_text(
        f"data: {{path: {SAMPLES / 'data' / 'mnist10k.npz'}, split: 1}}\n"
        f"dense: {{path: {SAMPLES / 'torchscript' / 'dense.pt'}}}\n"
        "pruned:\n  - {name: slow, path: slow.pt, factory: 'slow:make'}\n"
    )
    out = tmp_path / "report"
    args = ["audit", "--config", tmp_path / "audit.yaml", "--out", out, "--quiet", "--backend", "ray", "--no-cache"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pruneaudit", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group: the signal goes to the driver alone, the hardest case
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "running").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=30)
            time.sleep(0.2)
        ray_processes = _descendants(proc.pid)
        assert ray_processes, "the driver started a local Ray instance"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert stderr.decode().strip().splitlines()[-1] == "Error: interrupted"
    assert not out.exists()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in ray_processes) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [p for p in ray_processes if _alive(p)], "Ray processes outlived the interrupted audit"
