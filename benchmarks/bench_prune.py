"""`pruneaudit prune` at the size issue 13 sets: 4 techniques x 4 amounts x 3 seeds on the sample model.

Times the whole sweep as one process (``pruneaudit prune --jobs 2`` on benchmarks/prune.yaml: 48
variants fine-tuned 2 epochs each, plus the dense model's export) against the 15-minute target on
two CPU cores, and prints the mean seconds per variant from the sweep's timings.json. A second run
on the same folder measures resuming: it must make nothing.
Run: .venv/bin/python benchmarks/bench_prune.py [--jobs 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from common import PRUNEAUDIT, ROOT, timed

CONFIG = ROOT / "benchmarks" / "prune.yaml"
TARGET_SECONDS = 15 * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--keep", type=Path, help="Make the sweep here and keep it (e.g. for benchmarks/findings.yaml)."
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pruneaudit-bench-prune-"))
    out = args.keep or work / "sweep"
    try:
        cmd = [*PRUNEAUDIT, "prune", "--config", CONFIG, "--out", out, "--jobs", args.jobs, "--quiet"]
        sweep = timed(cmd)
        again = timed(cmd)
        manifest = json.loads((out / "manifest.json").read_text())
        timings = json.loads((out / "timings.json").read_text())
        variants = [m["name"] for m in manifest["models"] if m["role"] == "variant"]
        per_variant = sum(timings[n] for n in variants) / len(variants)
        verdict = "ok" if sweep.seconds <= TARGET_SECONDS else "OVER TARGET"
        print(
            f"prune: {len(variants)} variants, --jobs {args.jobs}: {sweep.seconds:.0f} s "
            f"(target {TARGET_SECONDS} s, ratio {sweep.seconds / TARGET_SECONDS:.2f}: {verdict}); "
            f"{per_variant:.1f} s per variant in its worker; peak {sweep.peak_bytes / 2**20:.0f} MiB"
        )
        print(f"resume of the finished sweep: {again.seconds:.1f} s (nothing made again)")
        if sweep.seconds > TARGET_SECONDS:
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
