"""The GPU workload: ResNet-18 x 4 over 100,000 images, pruneaudit against a bare script, whole processes.

Generates (fixed seeds) in a temporary folder: a ResNet-18 (defined here; torchvision is not a
dependency) for 1,000 classes with random weights, and global-L1 pruned copies at 50/70/90 %
(torch.nn.utils.prune.global_unstructured over every conv and linear weight, then prune.remove),
all saved as TorchScript; 100,000 uint8 images 3x64x64 with random labels in data.npz; an
audit.yaml listing them. Then, each side a fresh process so imports and CUDA start-up count on both:

* baseline: a bare script that loads the data, and per model moves each uint8 batch to the GPU,
  divides by 255 there, runs the forward pass, takes argmax and top-5 on the GPU and the per-class
  correct counts with torch.bincount;
* ``python -m pruneaudit -v audit --quiet --config ... --cache FRESH --device cuda --batch-size 1024``.

Printed: the whole-process ratio (target <= 1.15 x) and the inference part, pruneaudit's own
"<model>: N images in X s on <device>" log lines summed over the models against the bare script's
per-model inference loops summed (target <= 1.05 x). pruneaudit's figure covers its predict calls
(host-to-device copy, forward, copy back); preparing the float32 batches on the CPU falls outside it,
and shows in the whole-process ratio. Peak memory is each process's ru_maxrss (host memory).
Without a CUDA device, ``--device cuda`` (the default) prints "skipped: no CUDA device" and exits 0;
``--device cpu --quick`` runs a tiny version on the CPU (to check that the script works).
Run: .venv/bin/python benchmarks/gpu.py [--device cuda] [--images 100000] [--size 64] [--classes 1000]
     [--batch-size 1024] [--repeat 3] [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
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
    ratio,
    shared_machine_note,
    timed,
    work_dir,
    write_script,
)

TARGET_WHOLE, TARGET_INFERENCE = 1.15, 1.05
AMOUNTS = (0.5, 0.7, 0.9)
SEED = 20201009
QUICK = {"images": 64, "size": 32, "classes": 10, "batch_size": 16}
# pruneaudit -v: "INFO pruneaudit.inference: <model file>: 100000 images in 12.34 s on cuda"; units tolerated
LOG_TIME = re.compile(r"\b(\d[\d,_]*) images in (\d+(?:\.\d+)?)\s*(ms|s)\b")

BARE = '''\
"""Bare inference on the device: uint8 batches to the GPU, /255 there, forward, argmax, top-5, bincount."""
import json
import sys
import time

import numpy as np
import torch

data_path, device, batch, *models = sys.argv[1:]
device, batch = torch.device(device), int(batch)
data = np.load(data_path, allow_pickle=False)
images = data["images"]
labels = torch.from_numpy(data["labels"]).to(device)


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize(device)


runs = []
with torch.inference_mode():
    for path in models:
        model = torch.jit.load(path, map_location=device).eval()
        sync()
        t0 = time.perf_counter()
        preds, hits = [], []
        for start in range(0, len(images), batch):
            x = torch.from_numpy(images[start : start + batch]).to(device).float().div_(255)
            scores = model(x)
            preds.append(scores.argmax(1))
            hits.append((scores.topk(5, dim=1).indices == labels[start : start + batch, None]).any(1))
        pred, hit5 = torch.cat(preds), torch.cat(hits)
        classes = scores.shape[1]
        correct = torch.bincount(labels[pred == labels], minlength=classes).cpu()  # .cpu() waits for the GPU
        correct5 = torch.bincount(labels[hit5], minlength=classes).cpu()
        runs.append({"seconds": time.perf_counter() - t0, "top1": int(correct.sum()), "top5": int(correct5.sum())})
print(json.dumps({"images": len(images), "classes": int(classes), "models": runs}))
'''


def resnet18(num_classes: int):
    """ResNet-18 (He et al. 2016; torchvision's layout and initialisation), random weights."""
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            widths, cin, layers = (64, 128, 256, 512), 64, []
            for i, width in enumerate(widths):
                stride = 1 if i == 0 else 2
                layers.append(nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width, 1)))
                cin = width
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet18()


def generate(root: Path, *, images: int, size: int, classes: int, batch_size: int, device: str) -> tuple[Path, list]:
    """The models (TorchScript), data.npz and audit.yaml; returns (config, model files). Runs on the CPU."""
    import copy

    import numpy as np
    import torch
    from torch import nn
    from torch.nn.utils import prune

    torch.manual_seed(SEED)
    dense = resnet18(classes).eval()
    example = torch.zeros(1, 3, size, size)
    files, lines = [], ["data: {path: data.npz}"]
    for amount in (0.0, *AMOUNTS):
        name = "dense" if amount == 0 else f"global-{round(amount * 100)}"
        model = copy.deepcopy(dense)
        if amount:
            weights = [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
            prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=amount)
            for module, param in weights:
                prune.remove(module, param)
        with torch.no_grad():
            torch.jit.trace(model, example).save(str(root / f"{name}.pt"))
        files.append(root / f"{name}.pt")
        if amount == 0:
            lines += [f"dense: {{name: {name}, path: {name}.pt}}", "pruned:"]
        else:
            lines.append(f"  - {{name: {name}, path: {name}.pt, technique: global_l1, amount: {amount:.2f}}}")
    rng = np.random.default_rng(SEED)
    pixels = rng.integers(0, 256, size=(images, 3, size, size), dtype=np.uint8)
    np.savez(root / "data.npz", images=pixels, labels=rng.integers(0, classes, size=images))
    del pixels
    lines += [f"batch_size: {batch_size}", f"device: {device}"]
    config = root / "audit.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config, files


def logged_seconds(stderr: str) -> tuple[float, int]:
    """(seconds summed, lines found) from pruneaudit's per-model "N images in X s" log lines."""
    total, found = 0.0, 0
    for match in LOG_TIME.finditer(stderr):
        total += float(match[2]) / (1000 if match[3] == "ms" else 1)
        found += 1
    return total, found


def cuda_usable() -> bool:
    """Asked through NVML (no CUDA context); only ever called in the generating child."""
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    import torch

    return torch.cuda.is_available()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=64, help="image height and width")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per side; the best is reported")
    ap.add_argument("--quick", action="store_true", help=f"tiny workload {QUICK}, one run per side, no warm-up")
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    ap.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)  # the child that checks CUDA, writes
    args = ap.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if args.classes < 5 or args.size < 32 or args.images < 1:
        sys.exit("need --classes >= 5 (top-5), --size >= 32 and --images >= 1")
    sizes = {"images": args.images, "size": args.size, "classes": args.classes, "batch_size": args.batch_size}
    if args.generate_into is not None:
        if args.device == "cuda" and not cuda_usable():
            print(json.dumps({"cuda": False}))
            return
        config, files = generate(args.generate_into, **sizes, device=args.device)
        print(json.dumps({"cuda": True, "config": str(config), "files": [str(f) for f in files]}))
        return
    repeat = 1 if args.quick else max(1, args.repeat)

    with work_dir("pruneaudit-bench-gpu-", args.keep) as root:
        options = [f"--{key.replace('_', '-')}={value}" for key, value in sizes.items()]
        made = generate_in_child(__file__, "--generate-into", root, "--device", args.device, *options)
        if not made["cuda"]:
            print("skipped: no CUDA device")
            return
        config, files = Path(made["config"]), [Path(f) for f in made["files"]]
        bare_cmd = [sys.executable, write_script(root, "bare.py", BARE), root / "data.npz", args.device]
        bare_cmd += [str(args.batch_size), *files]
        flags = ["--config", config, "--device", args.device, "--batch-size", args.batch_size]
        runs = itertools.count()

        def audit():
            i = next(runs)
            cache = cold_cache(root, f"cache-{i}")  # no predictions: every model runs
            cmd = audit_cmd(*flags, "--cache", cache, "--out", root / f"out-{i}", verbose=True)
            return timed(cmd, env=child_env(cache))

        bare, audits = interleaved(  # the warm-up also brings the GPU's clocks up
            lambda: timed(bare_cmd, env=child_env(root / "cache-bare")), audit, repeat=repeat, warm_up=not args.quick
        )

    baseline, whole = best(bare), best(audits)
    info = json.loads(baseline.stdout)
    bare_inference = min(sum(m["seconds"] for m in json.loads(r.stdout)["models"]) for r in bare)
    parsed = [logged_seconds(r.stderr) for r in audits]
    print(
        f"ResNet-18 x {len(files)} (dense + global L1 {'/'.join(str(round(a * 100)) for a in AMOUNTS)} %), "
        f"{info['classes']} classes, {info['images']} uint8 images 3x{args.size}x{args.size}, "
        f"batch {args.batch_size}, on {args.device}; whole processes, best of {repeat}"
    )
    if args.device == "cpu":
        print(shared_machine_note())
    dense = info["models"][0]
    print(
        f"dense top-1 {dense['top1'] / info['images']:.3f}, top-5 {dense['top5'] / info['images']:.3f} (random labels)"
    )
    print(line("bare script (baseline)", baseline))
    print(line("full audit", whole, baseline, target=TARGET_WHOLE))
    if all(found == len(files) for _, found in parsed):
        audit_inference = min(seconds for seconds, _ in parsed)
        print(
            f"{'inference part:':<28} {audit_inference:7.2f} s for {len(files)} models vs {bare_inference:.2f} s bare "
            f"({ratio(audit_inference, bare_inference):.2f} x baseline, target <= {TARGET_INFERENCE:g} x)"
        )
    else:
        found = max(found for _, found in parsed)
        print(
            f"{'inference part:':<28} not measured: found {found} of {len(files)} "
            "'N images in X s' lines in the `pruneaudit -v` log (has the log format changed?)"
        )


if __name__ == "__main__":
    main()
