"""The benchmark scripts run (tiny sizes); their timings are read by people, not asserted."""

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_metrics_benchmark_runs():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_metrics.py"), "--n", "2000", "--classes", "10"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "ratio fairlearn / pruneaudit" in out


def test_pareto_benchmark_runs():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_pareto.py"), "--n", "3000"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "candidates x 3 objectives" in out


def test_audit_overhead_benchmark_runs(tmp_path, test_npz):
    from tests.conftest import SAMPLES

    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        f"data: {{path: {test_npz}}}\n"
        f"dense: {{path: {SAMPLES / 'torchscript' / 'dense.pt'}}}\n"
        f"pruned:\n  - {{path: {SAMPLES / 'torchscript' / 'global-90.pt'}}}\n"
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_audit.py"), "--config", str(cfg), "--quick"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "x baseline" in out
    assert re.search(r"^full audit: +[0-9.]+ s \([0-9.]+ x baseline", out, re.M), out
    assert re.search(r"^full audit, warm cache:", out, re.M), out  # timed, or skipped without --cache


def run_benchmark(script: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args], check=True, capture_output=True, text=True
    ).stdout


def test_logits_benchmark_runs():
    out = run_benchmark("bench_logits.py", "--quick")
    assert "3 models x 2000 rows x 20 classes" in out
    assert re.search(r"^bare numpy \(baseline\): +[0-9.]+ s, peak \d+ MiB", out, re.M), out
    assert re.search(r"^full audit: +[0-9.]+ s \([0-9.]+ x baseline, target <= 1.3 x\)", out, re.M), out


def test_gpu_benchmark_runs_on_cpu():
    out = run_benchmark("gpu.py", "--device", "cpu", "--quick")
    assert "ResNet-18 x 4" in out
    assert re.search(r"^full audit: +[0-9.]+ s \([0-9.]+ x baseline, target <= 1.15 x\)", out, re.M), out
    assert re.search(r"^inference part: +[0-9.]+ s for 4 models vs [0-9.]+ s bare \([0-9.]+ x baseline", out, re.M), out


def test_gpu_benchmark_skips_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the benchmark would run in full")
    assert run_benchmark("gpu.py").strip() == "skipped: no CUDA device"


def test_scale_benchmark_runs():
    out = run_benchmark("bench_scale.py", "--models", "5", "--classes", "20", "--rows", "500")
    assert "5 models x 20 classes, 500 rows" in out
    assert re.search(r"^render: +[0-9.]+ s \(target < 5 s\)", out, re.M), out
    assert re.search(r"^  whole output: [0-9.]+ MB \(target <= 40 MB\)", out, re.M), out


def test_ray_benchmark_runs():
    pytest.importorskip("ray")
    out = run_benchmark("bench_ray.py", "--models", "6")
    assert re.search(r"^ray: 6 models, 1 worker [0-9]+ s, 2 workers [0-9]+ s: speed-up [0-9.]+x", out, re.M), out


def test_population_benchmark_runs():
    out = run_benchmark("bench_population.py", "--sizes", "8", "16")
    assert "Projected to 100,000 models (from 8 and 16" in out
    assert re.search(r"^  peak MiB +[0-9,]+ MiB   exponent -?[0-9.]+$", out, re.M), out
    assert re.search(r"^index.html at 16 models: [0-9.]+ MB \(budget 15 MB\)$", out, re.M), out
