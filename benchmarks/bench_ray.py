"""`pruneaudit audit --backend ray` at 1,000 models that really run: 1 vs 2 local Ray workers.

Generates (in a child process, fixed seed) 1,000 pruned copies of the sample CNN (global L1 masks at
sparsities from 10 % to 95 %, no fine-tuning) as TorchScript files, and an audit config over the
sample test split (2,000 digits). Times whole processes: the audit with ``--backend ray --workers 1``
and with ``--workers 2`` (a local Ray instance each), and prints the speed-up (target >= 1.6x on two
cores), each driver's peak memory, and the output's size (results.json and the whole folder).
Skipped with a message when Ray is not installed.
Run: .venv/bin/python benchmarks/bench_ray.py [--models 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

from common import PRUNEAUDIT, ROOT, generate_in_child, timed

TARGET_SPEEDUP = 1.6


def generate(root: Path, models: int) -> dict:
    """The models and audit.yaml (run in a child: torch is imported there, not in the timing parent)."""
    import torch
    from torch.nn.utils import prune

    dense = torch.jit.load(str(ROOT / "sample_models" / "torchscript" / "dense.pt"))
    lines = [
        f"data: {{path: {ROOT / 'sample_models' / 'data' / 'mnist10k.npz'}, split: 1}}",
        f"dense: {{path: {ROOT / 'sample_models' / 'torchscript' / 'dense.pt'}}}",
        "pruned:",
    ]
    state = {k: v.clone() for k, v in dense.state_dict().items()}
    params = dict(dense.named_parameters())
    weights = [k for k, v in state.items() if v.dim() >= 2 and not k.startswith("fc2")]
    for i in range(1, models):
        amount = round(0.1 + 0.85 * (i % 18) / 17, 2)
        scores = torch.cat([state[k].abs().flatten() for k in weights])
        mask = prune.L1Unstructured(amount).compute_mask(scores, torch.ones_like(scores))
        start = 0
        for k in weights:
            n = state[k].numel()
            params[k].data.copy_(state[k] * mask[start : start + n].view_as(state[k]))
            start += n
        path = root / f"m{i:04d}.pt"
        torch.jit.save(dense, str(path))
        lines.append(f"  - {{path: {path.name}, technique: global_l1, amount: {amount}, seed: {i // 18}}}")
    (root / "audit.yaml").write_text("\n".join(lines) + "\n")
    return {"config": str(root / "audit.yaml")}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--generate":
        import json

        print(json.dumps(generate(Path(sys.argv[2]), int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    if importlib.util.find_spec("ray") is None:
        print("ray benchmark skipped: Ray is not installed (pip install 'pruneaudit[ray]')")
        return
    work = Path(tempfile.mkdtemp(prefix="pruneaudit-bench-ray-"))
    try:
        config = generate_in_child(__file__, "--generate", work, args.models)["config"]
        base = [
            *PRUNEAUDIT,
            "audit",
            "--config",
            config,
            "--quiet",
            "--no-cache",
            "--device",
            "cpu",
            "--backend",
            "ray",
        ]
        runs = {}
        for workers in (1, 2):
            out = (args.keep or work) / f"report-{workers}"
            runs[workers] = (timed([*base, "--workers", workers, "--out", out]), out)
        one, two = runs[1][0], runs[2][0]
        speedup = one.seconds / two.seconds
        verdict = "ok" if speedup >= TARGET_SPEEDUP else "BELOW TARGET"
        out = runs[2][1]
        print(
            f"ray: {args.models} models, 1 worker {one.seconds:.0f} s, 2 workers {two.seconds:.0f} s: "
            f"speed-up {speedup:.2f}x (target {TARGET_SPEEDUP}x: {verdict}); driver peak "
            f"{one.peak_bytes / 2**20:.0f} / {two.peak_bytes / 2**20:.0f} MiB; results.json "
            f"{(out / 'results.json').stat().st_size / 1e6:.1f} MB, index.html {(out / 'index.html').stat().st_size / 1e6:.1f} MB, "
            f"whole output {folder_bytes(out) / 1e6:.1f} MB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
