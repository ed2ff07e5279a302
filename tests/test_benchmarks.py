"""The benchmark scripts run (tiny sizes); their timings are read by people, not asserted."""

import subprocess
import sys

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
        [sys.executable, str(ROOT / "benchmarks" / "bench_audit.py"), "--config", str(cfg)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "x baseline" in out
