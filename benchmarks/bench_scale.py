"""An audit at scale: 100 models x 1,000 classes, 50,000 rows of precomputed predictions.

Generates the workload (fixed seed) in a temporary folder, then times whole processes:
``pruneaudit audit`` and ``pruneaudit render`` of its results.json, each with its peak memory,
and the sizes of what they wrote, against the targets of issue 17 (results.json <= 5 MB, the
whole output <= 40 MB, index.html <= 15 MB, render < 5 s and < 1 GB).
Run: .venv/bin/python benchmarks/bench_scale.py [--models 100] [--classes 1000] [--rows 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import child_env, cold_cache

TARGETS = {"results.json": 5e6, "index.html": 15e6}
TOTAL_TARGET = 40e6
RENDER_SECONDS, RENDER_BYTES = 5.0, 1 << 30


def generate(root: Path, *, models: int, classes: int, rows: int, seed: int = 20201009) -> Path:
    """Labels, a dense model's predictions and pruned ones that degrade unevenly; returns audit.yaml."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=rows)
    np.savez(root / "data.npz", images=np.zeros((rows, 1, 1, 1), dtype=np.uint8), labels=labels)
    fragile = rng.random(classes)  # how easily each class is forgotten
    lines = ["data: {path: data.npz}", "dense: {path: dense.npz}", "pruned:"]
    techniques = ("l1_unstructured", "global_l1", "random_unstructured", "ln_structured")
    for i in range(models):
        name = "dense" if i == 0 else f"m{i:03d}"
        level = 0.0 if i == 0 else (i % 10 + 1) / 10
        wrong = rng.random(rows) < 0.2 + 0.5 * level * fragile[labels]
        preds = np.where(wrong, rng.integers(0, classes, size=rows), labels)
        np.savez(root / f"{name}.npz", predictions=preds)
        if i:
            technique = techniques[i % len(techniques)]
            lines.append(
                f"  - {{path: {name}.npz, technique: {technique}, amount: {min(0.95, level):.2f}, seed: {i // 40}}}"
            )
    config = root / "audit.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def timed(cmd: list[str], *, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak resident bytes of one child process (Linux ru_maxrss is in KiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if status:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr.read().decode()}")
    return seconds, usage.ru_maxrss * 1024


def sizes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="pruneaudit-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        config = generate(root, models=args.models, classes=args.classes, rows=args.rows)
        exe = [sys.executable, "-m", "pruneaudit"]
        cache = cold_cache(root, "cache")  # no predictions yet; the Vega bundle a first run builds
        env = child_env(cache)
        audit_s, audit_rss = timed(
            [*exe, "audit", "--quiet", "--config", str(config), "--out", str(root / "report")], env=env
        )
        render_s, render_rss = timed(
            [*exe, "render", str(root / "report" / "results.json"), "--out", str(root / "rendered")], env=env
        )
        written = sizes(root / "report")
        total = sum(written.values())
        print(f"{args.models} models x {args.classes} classes, {args.rows} rows of precomputed predictions")
        print(f"audit:  {audit_s:.1f} s, peak {audit_rss / 2**20:.0f} MiB")
        print(
            f"render: {render_s:.1f} s (target < {RENDER_SECONDS:.0f} s), "
            f"peak {render_rss / 2**20:.0f} MiB (target < {RENDER_BYTES / 2**20:.0f} MiB)"
        )
        for name, size in written.items():
            target = TARGETS.get(name)
            note = f" (target <= {target / 1e6:.0f} MB)" if target else ""
            print(f"  {name}: {size / 1e6:.1f} MB{note}")
        print(f"  whole output: {total / 1e6:.1f} MB (target <= {TOTAL_TARGET / 1e6:.0f} MB)")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
