"""The tool's overhead on top of bare inference, on the committed sample models.

Baseline, measured in the same run: load each TorchScript model and run it over the test split
in batches under torch.inference_mode(), keeping only the argmax. Then the same models through
pruneaudit's pipeline: inference + every metric (run_audit), and the full audit with results.json
and the rendered card. Prints seconds and the ratios against the baseline.
Run: .venv/bin/python benchmarks/bench_audit.py [--config sample_models/audit.yaml] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def bare_inference(config, device: str) -> float:
    from pruneaudit.data import load_dataset

    dataset = load_dataset(config.data)
    t0 = time.perf_counter()
    for spec in (config.dense, *config.pruned, *config.dense_seeds):
        module = torch.jit.load(str(spec.path), map_location=device).eval()
        preds = []
        with torch.inference_mode():
            for batch in dataset.batches(config.batch_size):
                preds.append(module(torch.from_numpy(batch).to(device)).argmax(1).cpu().numpy())
        np.concatenate(preds)
    return time.perf_counter() - t0


def main() -> None:
    from pruneaudit.api import audit_to_directory
    from pruneaudit.config import build_config
    from pruneaudit.pipeline import run_audit

    ap = argparse.ArgumentParser()
    ap.add_argument("--config", type=Path, default=ROOT / "sample_models" / "audit.yaml")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()
    config = build_config(config_path=args.config, device=args.device)
    bare_inference(config, args.device)  # warm-up: file cache, torch kernels
    bare = min(bare_inference(config, args.device) for _ in range(3))
    t0 = time.perf_counter()
    run_audit(config)
    pipeline = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        audit_to_directory(config, out_dir=Path(out) / "report")
        full = time.perf_counter() - t0
    n = 1 + len(config.pruned) + len(config.dense_seeds)
    print(f"{n} models on {args.device}, batch size {config.batch_size}")
    print(f"bare inference (baseline):           {bare:.2f} s")
    print(f"pruneaudit inference + metrics:      {pipeline:.2f} s  ({pipeline / bare:.2f}x baseline)")
    print(f"full audit (+ selection, card files): {full:.2f} s  ({full / bare:.2f}x baseline)")


if __name__ == "__main__":
    main()
