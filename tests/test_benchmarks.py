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
