"""The tool's overhead on top of bare inference, on the committed sample models, as whole processes.

Baseline, measured in the same run: a small Python program, run as its own process, that imports
torch, loads each TorchScript model of the config and runs it over the data the config names (the
same .npz arrays, split, scale, mean and std) in batches under torch.inference_mode(), keeping only
the argmax. Against it: ``python -m pruneaudit audit --quiet --config ... --out ... --cache FRESH``
(FRESH: a cache folder with no predictions, only the Vega bundle that a first run builds)
(inference + every metric + the card files), and, where the CLI has a prediction cache folder
option, the same audit run again on a warm cache. Both sides start fresh processes, so imports
count on both; peak memory is each process's ru_maxrss. Target: full audit <= 1.2 x baseline.
Run: .venv/bin/python benchmarks/bench_audit.py [--config sample_models/audit.yaml] [--device cpu]
     [--batch-size N] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import yaml
from common import (
    ROOT,
    audit_cmd,
    best,
    child_env,
    cold_cache,
    interleaved,
    line,
    shared_machine_note,
    timed,
    work_dir,
    write_script,
)

TARGET = 1.2
DEFAULT_BATCH_SIZE = 256  # pruneaudit's documented default; both sides are given the same value anyway
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts")

BARE = '''\
"""Bare inference: every TorchScript model over the data, in batches, argmax only."""
import json
import sys

import numpy as np
import torch

plan = json.loads(open(sys.argv[1]).read())
data = np.load(plan["data"], allow_pickle=False)
images, labels = data[plan["images_key"]], data[plan["labels_key"]]
if plan["split"] is not None:
    keep = data["split"] == plan["split"]
    images, labels = images[keep], labels[keep]
scale = plan["scale"]
if scale is None:
    scale = 1.0 / 255.0 if images.dtype.kind in "biu" else 1.0
channels = 1 if images.ndim == 3 else images.shape[1]
device, batch = torch.device(plan["device"]), plan["batch_size"]
mean = None if plan["mean"] is None else torch.tensor(plan["mean"], device=device).reshape(1, -1, 1, 1)
std = None if plan["std"] is None else torch.tensor(plan["std"], device=device).reshape(1, -1, 1, 1)
correct = []
with torch.inference_mode():
    for path in plan["models"]:
        model = torch.jit.load(path, map_location=device).eval()
        preds = []
        for start in range(0, len(images), batch):
            x = torch.from_numpy(images[start : start + batch]).to(device).float()
            if scale != 1.0:
                x.mul_(scale)
            if x.ndim == 3:
                x = x.unsqueeze(1)
            if mean is not None:
                x.sub_(mean)
            if std is not None:
                x.div_(std)
            if not plan["channels_first"]:
                x = x.permute(0, 2, 3, 1).contiguous()
            preds.append(model(x).argmax(1))
        correct.append(int((torch.cat(preds).cpu().numpy() == labels).sum()))
print(json.dumps({"images": int(len(labels)), "correct": correct}))
'''


def plan_from_config(config: Path, *, device: str, batch_size: int | None) -> dict:
    """What the bare script needs, read from the public config file (paths are relative to it)."""
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    base = config.resolve().parent
    data = raw.get("data") or {}
    data_path = base / data["path"]
    if data_path.suffix.lower() != ".npz" or data.get("labels"):
        sys.exit(f"{config}: the bare baseline reads .npz data only; received {data_path}")
    if data.get("resize") or data.get("center_crop"):
        sys.exit(f"{config}: the bare baseline does not resize or crop")
    entries = [raw["dense"], *(raw.get("pruned") or []), *(raw.get("dense_seeds") or [])]
    models = []
    for entry in entries:
        path = base / entry["path"]
        fmt = entry.get("format")
        if (fmt or "torchscript") != "torchscript" or (fmt is None and path.suffix.lower() not in TORCHSCRIPT_SUFFIXES):
            sys.exit(f"{config}: the bare baseline runs TorchScript models only; received {path}")
        models.append(str(path))

    def per_channel(value):
        return None if value is None else [float(v) for v in (value if isinstance(value, list) else [value])]

    scale = data.get("scale")
    return {
        "data": str(data_path),
        "images_key": data.get("images_key", "images"),
        "labels_key": data.get("labels_key", "labels"),
        "split": data.get("split"),
        "scale": None if scale is None else float(scale[0] if isinstance(scale, list) else scale),
        "mean": per_channel(data.get("mean")),
        "std": per_channel(data.get("std")),
        "channels_first": data.get("channels_first", True),
        "models": models,
        "device": device,
        "batch_size": batch_size or raw.get("batch_size") or DEFAULT_BATCH_SIZE,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", type=Path, default=ROOT / "sample_models" / "audit.yaml")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch-size", type=int, help="default: the config's batch_size, else 256")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per side; the best is reported")
    ap.add_argument("--quick", action="store_true", help="one run per side, no warm-up (to check the script)")
    args = ap.parse_args()
    repeat = 1 if args.quick else max(1, args.repeat)
    config = args.config.resolve()
    plan = plan_from_config(config, device=args.device, batch_size=args.batch_size)
    shared = ["--config", config, "--device", args.device, "--batch-size", plan["batch_size"]]

    with work_dir("pruneaudit-bench-audit-") as root:
        (root / "plan.json").write_text(json.dumps(plan))
        bare_cmd = [sys.executable, write_script(root, "bare.py", BARE), root / "plan.json"]
        runs = itertools.count()

        def cold_audit():
            """A fresh report folder and a cache folder with no predictions for every cold run."""
            i = next(runs)
            cache = cold_cache(root, f"cache-{i}")
            return timed(audit_cmd(*shared, "--cache", cache, "--out", root / f"out-{i}"), env=child_env(cache))

        bare, cold = interleaved(
            lambda: timed(bare_cmd, env=child_env(root / "cache-bare")),
            cold_audit,
            repeat=repeat,
            warm_up=not args.quick,
        )
        warm = []
        warm_env = child_env(root / "cache-warm")
        warm_flags = [*shared, "--cache", root / "cache-warm"]
        timed(audit_cmd(*warm_flags, "--out", root / "out-warm-prime"), env=warm_env)  # fills the cache
        for i in range(repeat):
            warm.append(timed(audit_cmd(*warm_flags, "--out", root / f"out-warm-{i}"), env=warm_env))

    baseline = best(bare)
    info = json.loads(baseline.stdout)
    n = len(plan["models"])
    print(
        f"{n} models (TorchScript) on {args.device}, {info['images']} images, batch size {plan['batch_size']}; "
        f"whole processes, best of {repeat}"
    )
    print(shared_machine_note())
    print(line("bare inference (baseline)", baseline))
    print(line("full audit", best(cold), baseline, target=TARGET))
    print(line("full audit, warm cache", best(warm), baseline))


if __name__ == "__main__":
    main()
