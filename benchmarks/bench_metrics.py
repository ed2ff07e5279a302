"""Time the metrics on 1M predictions x 1,000 classes against fairlearn's MetricFrame.

Run: .venv/bin/python benchmarks/bench_metrics.py [--n 1000000] [--classes 1000]
Prints seconds for each step and the ratio against the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    from pruneaudit.metrics import (
        class_metrics,
        compare,
        confusion_counts,
        paired_counts,
    )

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--classes", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    c = args.classes
    y = rng.integers(0, c, args.n)
    dense = np.where(rng.random(args.n) < 0.9, y, rng.integers(0, c, args.n))
    pruned = np.where(rng.random(args.n) < 0.95, dense, rng.integers(0, c, args.n))

    def ours() -> None:
        d = class_metrics(confusion_counts(y, dense, n_classes=c))
        p = class_metrics(confusion_counts(y, pruned, n_classes=c))
        compare(
            dense=d, pruned=p, paired=paired_counts(y, dense, pruned, n_classes=c), changed=int((dense != pruned).sum())
        )

    def baseline() -> None:
        # per-class recall of both models, the core of the comparison, via MetricFrame grouped by label
        for pred in (dense, pruned):
            _ = MetricFrame(metrics=accuracy_score, y_true=y, y_pred=pred, sensitive_features=y).by_group

    t_ours = timed(ours)
    t_base = timed(baseline, repeat=1)
    print(f"{args.n:,} predictions x {c:,} classes, one dense/pruned pair")
    print(f"pruneaudit (all per-class + disparity + McNemar/Holm/BH + intervals): {t_ours:.3f} s")
    print(f"fairlearn MetricFrame (per-class recall of both models only):         {t_base:.3f} s")
    print(f"ratio fairlearn / pruneaudit: {t_base / t_ours:.1f}x")


if __name__ == "__main__":
    main()
