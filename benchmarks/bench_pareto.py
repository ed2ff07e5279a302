"""Time the exact Pareto front of 100,000 candidates x 3 objectives.

Baseline in the same run: a plain O(n^2) all-pairs dominance check on a 5,000-point sample,
extrapolated to n, so the ratio shows what the sorted culling saves.
Run: .venv/bin/python benchmarks/bench_pareto.py [--n 100000] [--k 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    from pruneaudit.pareto import pareto_mask

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--k", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    values = rng.random((args.n, args.k))
    t0 = time.perf_counter()
    mask = pareto_mask(values, maximize=[True] * args.k)
    ours = time.perf_counter() - t0

    m = min(5000, args.n)
    sample = values[:m]
    t0 = time.perf_counter()
    for row in sample:
        ge = np.all(sample >= row, axis=1) & np.any(sample > row, axis=1)
        ge.any()
    naive = (time.perf_counter() - t0) * (args.n / m) ** 2  # quadratic: scale by (n/m)^2
    print(f"{args.n:,} candidates x {args.k} objectives: front of {int(mask.sum())} points in {ours:.3f} s")
    print(f"all-pairs check (measured on {m:,}, scaled to n): {naive:.1f} s; ratio {naive / ours:.0f}x")


if __name__ == "__main__":
    main()
