"""The tool's overhead on precomputed logits: 4 models x 100,000 rows x 1,000 classes, float32.

Generates the workload (fixed seed) in a temporary folder: data.npz (``images`` placeholders and
``labels``), one .npz with ``logits`` (N, C) per model (dense + pruned ones that degrade unevenly
across classes) and an audit.yaml listing them. Then, as whole processes, so imports count on both
sides: a "least work" numpy program (np.load each file, argmax, top-5 by np.argpartition,
np.bincount of the per-class correct counts) against ``python -m pruneaudit audit --quiet --config
... --out ... --cache FRESH`` (FRESH: a cache folder with no predictions, only the Vega bundle that a
first run builds). Peak memory is each process's ru_maxrss. Target: <= 1.3 x baseline.
Run: .venv/bin/python benchmarks/bench_logits.py [--rows 100000] [--classes 1000] [--models 4]
     [--repeat 3] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from common import (
    audit_cmd,
    best,
    child_env,
    cold_cache,
    generate_in_child,
    interleaved,
    line,
    shared_machine_note,
    timed,
    work_dir,
    write_script,
)

TARGET = 1.3
SEED = 20201009
QUICK = {"rows": 2000, "classes": 20, "models": 3}

BARE = '''\
"""Least work: per model, argmax, top-5 hits and per-class correct counts from the saved logits."""
import json
import sys

import numpy as np

labels = np.load(sys.argv[1], allow_pickle=False)["labels"]
summary = []
for path in sys.argv[2:]:
    logits = np.load(path, allow_pickle=False)["logits"]
    classes = logits.shape[1]
    pred = logits.argmax(axis=1)
    top5 = np.argpartition(logits, -5, axis=1)[:, -5:]
    hit5 = (top5 == labels[:, None]).any(axis=1)
    total = np.bincount(labels, minlength=classes)
    correct = np.bincount(labels[pred == labels], minlength=classes)
    correct5 = np.bincount(labels[hit5], minlength=classes)
    summary.append({"top1": int(correct.sum()), "top5": int(correct5.sum()), "classes": int((total > 0).sum())})
print(json.dumps(summary))
'''


def generate(root: Path, *, rows: int, classes: int, models: int, seed: int = SEED) -> tuple[Path, list[Path]]:
    """data.npz, one logits .npz per model and audit.yaml (dense + pruned); returns (config, model files).

    Run in a child process (``--generate-into``), so that the timing parent never holds the arrays.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=rows)
    np.savez(root / "data.npz", images=np.zeros((rows, 1, 1, 1), dtype=np.uint8), labels=labels)
    fragile = rng.random(classes, dtype=np.float32)  # how easily each class is forgotten
    shared = rng.standard_normal((rows, classes), dtype=np.float32)  # what every model of the family shares
    amounts = [0.0, *np.linspace(0.5, 0.9, models - 1).round(2).tolist()] if models > 1 else [0.0]
    lines = ["data: {path: data.npz}"]
    files = []
    for i, amount in enumerate(amounts):
        name = "dense" if i == 0 else f"global-{round(amount * 100)}"
        logits = rng.standard_normal((rows, classes), dtype=np.float32)
        logits *= np.float32(0.3 + 0.3 * amount)  # the further pruned, the further from the dense model
        logits += shared
        margin = np.float32(5.0) * (1 - np.float32(0.4 * amount) * fragile[labels])  # uneven forgetting
        logits[np.arange(rows), labels] += margin * (rng.random(rows, dtype=np.float32) < 0.85)
        np.savez(root / f"{name}.npz", logits=logits)
        del logits
        files.append(root / f"{name}.npz")
        if i == 0:
            lines.append(f"dense: {{name: {name}, path: {name}.npz}}")
            lines.append("pruned:")
        else:
            lines.append(f"  - {{name: {name}, path: {name}.npz, technique: global_l1, amount: {amount:.2f}}}")
    config = root / "audit.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config, files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--models", type=int, default=4, help="dense + pruned")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per side; the best is reported")
    ap.add_argument("--quick", action="store_true", help=f"tiny workload {QUICK}, one run per side, no warm-up")
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    ap.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)  # the child that writes the workload
    args = ap.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.models < 2 or args.classes < 6 or args.rows < 1:
        sys.exit("need --models >= 2 (dense + pruned), --classes >= 6 (top-5) and --rows >= 1")
    if args.generate_into is not None:
        config, files = generate(args.generate_into, rows=args.rows, classes=args.classes, models=args.models)
        print(json.dumps({"config": str(config), "files": [str(f) for f in files]}))
        return
    repeat = 1 if args.quick else max(1, args.repeat)

    with work_dir("pruneaudit-bench-logits-", args.keep) as root:
        sizes = ["--rows", args.rows, "--classes", args.classes, "--models", args.models]
        made = generate_in_child(__file__, "--generate-into", root, *sizes)
        config, files = Path(made["config"]), [Path(f) for f in made["files"]]
        bare_cmd = [sys.executable, write_script(root, "bare.py", BARE), root / "data.npz", *files]
        runs = itertools.count()

        def audit():
            i = next(runs)
            cache = cold_cache(root, f"cache-{i}")
            cmd = audit_cmd("--config", config, "--out", root / f"out-{i}", "--cache", cache)
            return timed(cmd, env=child_env(cache))

        bare, audits = interleaved(
            lambda: timed(bare_cmd, env=child_env(root / "cache-bare")), audit, repeat=repeat, warm_up=not args.quick
        )
        size = sum(f.stat().st_size for f in files)

    baseline = best(bare)
    summary = json.loads(baseline.stdout)
    print(
        f"{args.models} models x {args.rows} rows x {args.classes} classes of precomputed float32 logits "
        f"({size / 1e9:.2f} GB); whole processes, best of {repeat}"
    )
    print(shared_machine_note())
    print(f"dense top-1 {summary[0]['top1'] / args.rows:.3f}, top-5 {summary[0]['top5'] / args.rows:.3f}")
    print(line("bare numpy (baseline)", baseline))
    print(line("full audit", best(audits), baseline, target=TARGET))


if __name__ == "__main__":
    main()
