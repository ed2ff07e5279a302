"""The driver's share of an audit as the population grows, measured at 500 to 4,000 models and projected to 100,000.

Inference is spread over workers (local or Ray) and grows linearly with the models; what the driver
does with the runs (metrics, selection, the card, the files) does not have to. This benchmark
measures that share alone: saved predictions (no inference) of N models over 10,000 images of 10
classes (MNIST's test size), 4 techniques x 10 amounts x N/40 seeds, fixed seed, in whole
``pruneaudit audit --no-cache`` processes. For each N it prints the wall time, the peak memory and
the size of each output file; then, from the two largest N, the growth exponent of each (log-log
slope: 1.0 is linear) and the projection to 100,000 models: the larger measurement where the quantity
did not grow (bounded), linear up to an exponent of 1.15, and by the exponent beyond. A peak that a
fixed cost dominates (the card's SVG rendering) projects low: see docs/scale.md. The wall time at 100,000 adds inference: models x seconds per
model / workers, with ``--seconds-per-model`` from `bench_ray.py` (0.38 s per model per worker for
the sample CNN on 2,000 images, on this machine).
Run: .venv/bin/python benchmarks/bench_population.py [--sizes 500 1000 2000 4000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path

from common import PRUNEAUDIT, child_env, generate_in_child, timed

TARGET_MODELS = 100_000
TECHNIQUES = ("l1_unstructured", "global_l1", "random_unstructured", "ln_structured")
HARM = (1.0, 0.6, 1.6, 2.2)  # how fast each technique forgets, relative to l1_unstructured
AMOUNTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
CARD_BUDGET = 15e6


def generate(root: Path, models: int, *, rows: int = 10_000, classes: int = 10, seed: int = 20201009) -> dict:
    """Labels, a dense model that is 98% right, and pruned models that forget fragile classes faster
    (run in a child: the parent stays small, see common.timed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=rows)
    np.savez(root / "data.npz", images=np.zeros((rows, 1, 1, 1), dtype=np.uint8), labels=labels)
    fragile = rng.random(classes)
    dense_wrong = rng.random(rows) < 0.02
    np.savez(root / "dense.npz", predictions=np.where(dense_wrong, (labels + 1) % classes, labels))
    lines = ["data: {path: data.npz}", "dense: {path: dense.npz}", "pruned:"]
    made = 0
    for s in range(math.ceil(models / (len(TECHNIQUES) * len(AMOUNTS)))):
        for technique, harm in zip(TECHNIQUES, HARM):
            for amount in AMOUNTS:
                if made == models:
                    break
                per_class = fragile * (1 + rng.normal(0, 0.3, classes))
                wrong = dense_wrong | (rng.random(rows) < np.clip(0.3 * harm * amount**3 * per_class[labels], 0, 1))
                name = f"{technique}-{round(100 * amount)}-s{s}"
                np.savez(root / f"{name}.npz", predictions=np.where(wrong, rng.integers(0, classes, rows), labels))
                lines.append(
                    f"  - {{name: {name}, path: {name}.npz, technique: {technique}, amount: {amount}, seed: {s}}}"
                )
                made += 1
    config = root / "audit.yaml"
    config.write_text("\n".join(lines) + "\n")
    return {"config": str(config)}


def measure(root: Path, models: int) -> dict[str, float]:
    folder = root / f"n{models}"
    folder.mkdir()
    config = generate_in_child(__file__, "--generate", folder, models)["config"]
    out = folder / "out"
    run = timed(
        [*PRUNEAUDIT, "audit", "--config", config, "--out", out, "--quiet", "--no-cache"], env=child_env(root / "cache")
    )
    sizes = {p.name: float(p.stat().st_size) for p in sorted(out.iterdir())}
    return {"seconds": run.seconds, "peak MiB": run.peak_bytes / 2**20, **sizes, "whole output": sum(sizes.values())}


def project(small: tuple[int, float], large: tuple[int, float]) -> tuple[float, float]:
    """(growth exponent, value at TARGET_MODELS) from two measurements."""
    (n0, v0), (n1, v1) = small, large
    exponent = math.log(v1 / v0) / math.log(n1 / n0) if v0 > 0 and v1 > 0 else 0.0
    if v1 <= v0:  # bounded (the card's views): it does not grow with the models
        return exponent, max(v0, v1)
    if exponent <= 1.15:  # linear: extrapolate the slope per model
        slope = (v1 - v0) / (n1 - n0)
        return exponent, v1 + slope * (TARGET_MODELS - n1)
    return exponent, v1 * (TARGET_MODELS / n1) ** exponent


def fmt(key: str, value: float) -> str:
    if key == "seconds":
        return f"{value:,.1f} s"
    if key == "peak MiB":
        return f"{value:,.0f} MiB"
    return f"{value / 1e6:,.2f} MB"


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--generate":
        import json

        print(json.dumps(generate(Path(sys.argv[2]), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    parser.add_argument("--seconds-per-model", type=float, default=0.38, help="inference, per model per worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the workloads and outputs here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pruneaudit-population-"))
    try:
        results = {n: measure(root, n) for n in sorted(args.sizes)}
        keys = list(dict.fromkeys(k for r in results.values() for k in r))
        print(
            f"Driver share of an audit of saved predictions (10,000 images, 10 classes): {', '.join(map(str, results))} models"
        )
        print(f"{'':22}" + "".join(f"{n:>14,}" for n in results))
        for key in keys:
            print(f"{key:22}" + "".join(f"{fmt(key, r.get(key, 0.0)):>14}" for r in results.values()))
        (n0, r0), (n1, r1) = list(results.items())[-2:]
        print(f"\nProjected to {TARGET_MODELS:,} models (from {n0:,} and {n1:,}; exponent 1.0 = linear):")
        for key in keys:
            exponent, value = project((n0, r0.get(key, 0.0)), (n1, r1.get(key, 0.0)))
            print(f"  {key:22} {fmt(key, value):>14}   exponent {exponent:.2f}")
            if key == "seconds":
                inference = TARGET_MODELS * args.seconds_per_model / args.workers
                print(
                    f"  {'+ inference':22} {fmt(key, inference):>14}   ({args.seconds_per_model} s per model, {args.workers} workers)"
                )
        card = r1.get("index.html", 0.0)
        print(f"\nindex.html at {n1:,} models: {card / 1e6:.2f} MB (budget {CARD_BUDGET / 1e6:.0f} MB)")
        if card > CARD_BUDGET:
            sys.exit("the card is over its budget")
    finally:
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
