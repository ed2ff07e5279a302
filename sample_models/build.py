"""Build the sample models that `make demo` audits.

Trains a small CNN on the train split of ``data/mnist10k.npz`` (CPU, seeded), then
prunes copies of it with ``torch.nn.utils.prune`` at several sparsities and
fine-tunes each with the masks held fixed, as practitioners do. One series of
one-shot global pruning without fine-tuning is kept only as a contrast.

Every model is saved as TorchScript (``torchscript/NAME.pt``) and ONNX
(``onnx/NAME.onnx``, opset 17, dynamic batch axis). ``manifest.json`` records what
was done and what was measured; ``audit.yaml`` and ``audit-onnx.yaml`` are the
pruneaudit configs for the two formats.

Run with ``make sample-models`` (about a minute on two CPU cores; the outputs repeat byte for byte).
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "mnist10k.npz"
SEED = 20201009
THREADS = 2  # fixed so that float reductions, hence the weights, repeat across machines
BATCH = 64
DENSE_EPOCHS = 20
FINETUNE_EPOCHS = 3
UNSTRUCTURED = (0.5, 0.7, 0.8, 0.9, 0.95)
STRUCTURED = (0.25, 0.5, 0.75, 0.9)
ONE_SHOT = (0.5, 0.7, 0.9)
RANDOM_SEEDS = (0, 1)
DENSE_SEEDS = (1,)  # more dense models of other seeds: the dense population for Welch's t-tests


class SmallCNN(nn.Module):
    """~32K-parameter CNN; input is [0, 1] grey levels, normalisation is built in."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 16, 5, padding=2)
        self.fc1 = nn.Linear(16 * 7 * 7, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.1307) / 0.3081
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


@dataclass(frozen=True)
class Entry:
    name: str
    technique: str
    amount: float
    seed: int | None
    finetune_epochs: int
    sparsity: float
    test_accuracy: float


def load_split(split: int) -> tuple[torch.Tensor, torch.Tensor]:
    d = np.load(DATA)
    keep = d["split"] == split
    x = torch.from_numpy(d["images"][keep].astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(d["labels"][keep])


def shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Translate the batch by up to 2 pixels (zero fill): the usual cheap MNIST augmentation."""
    dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=gen))
    padded = F.pad(x, (2, 2, 2, 2))
    return padded[:, :, 2 + dy : 30 + dy, 2 + dx : 30 + dx]


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(x) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad()
            F.cross_entropy(model(shift(x[idx], gen)), y[idx]).backward()
            opt.step()
            sched.step()
    model.eval()


@torch.inference_mode()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return int((model(x).argmax(1) == y).sum()) / len(y)


def weight_sparsity(model: nn.Module) -> float:
    """Zeros among weight tensors of 2+ dims: the definition pruneaudit measures."""
    ws = [p for p in model.parameters() if p.dim() >= 2]
    return float(sum(int((w == 0).sum()) for w in ws) / sum(w.numel() for w in ws))


def prunable(model: SmallCNN, *, include_last: bool = True) -> list[tuple[nn.Module, str]]:
    layers = [model.conv1, model.conv2, model.fc1] + ([model.fc2] if include_last else [])
    return [(m, "weight") for m in layers]


def apply_pruning(model: SmallCNN, technique: str, amount: float, seed: int | None) -> None:
    if technique == "l1_unstructured":
        for m, n in prunable(model):
            prune.l1_unstructured(m, n, amount=amount)
    elif technique in ("global_l1", "global_l1_oneshot"):
        prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=amount)
    elif technique == "random_unstructured":
        torch.manual_seed(seed)
        for m, n in prunable(model):
            prune.random_unstructured(m, n, amount=amount)
    elif technique == "ln_structured":
        # Whole output channels / neurons (L2 norm); the class layer is left intact.
        for m, n in prunable(model, include_last=False):
            prune.ln_structured(m, n, amount=amount, n=2, dim=0)
    else:
        raise ValueError(f"unknown technique {technique!r}")


def make_permanent(model: SmallCNN) -> None:
    for m in (model.conv1, model.conv2, model.fc1, model.fc2):
        if prune.is_pruned(m):
            prune.remove(m, "weight")


def save(model: SmallCNN, name: str) -> None:
    example = torch.zeros(1, 1, 28, 28)
    (HERE / "torchscript").mkdir(exist_ok=True)
    (HERE / "onnx").mkdir(exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(model, example), str(HERE / "torchscript" / f"{name}.pt"))
        torch.onnx.export(
            model,
            (example,),
            str(HERE / "onnx" / f"{name}.onnx"),
            dynamo=False,
            opset_version=17,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )


def variants() -> list[tuple[str, str, float, int | None, int]]:
    out = []
    for a in UNSTRUCTURED:
        out.append((f"l1-{round(a * 100)}", "l1_unstructured", a, None, FINETUNE_EPOCHS))
        out.append((f"global-{round(a * 100)}", "global_l1", a, None, FINETUNE_EPOCHS))
        for s in RANDOM_SEEDS:
            out.append((f"random-{round(a * 100)}-s{s}", "random_unstructured", a, s, FINETUNE_EPOCHS))
    for a in STRUCTURED:
        out.append((f"structured-{round(a * 100)}", "ln_structured", a, None, FINETUNE_EPOCHS))
    for a in ONE_SHOT:
        out.append((f"oneshot-global-{round(a * 100)}", "global_l1_oneshot", a, None, 0))
    return out


def write_configs(entries: list[Entry], seeds: list[Entry]) -> None:
    """The demo's audit configs: plain YAML written by hand so the build needs no yaml package."""
    for fmt, ext, filename in (("torchscript", "pt", "audit.yaml"), ("onnx", "onnx", "audit-onnx.yaml")):
        lines = [
            f"# pruneaudit config for the sample models ({fmt}); written by sample_models/build.py",
            "data:",
            "  path: data/mnist10k.npz",
            "  split: 1",
            "dense:",
            "  name: dense",
            f"  path: {fmt}/dense.{ext}",
            "pruned:",
        ]
        for e in entries[1:]:
            lines += [
                f"  - name: {e.name}",
                f"    path: {fmt}/{e.name}.{ext}",
                f"    technique: {e.technique}",
                f"    amount: {e.amount}",
            ]
            if e.seed is not None:
                lines.append(f"    seed: {e.seed}")
            lines.append(f"    finetune_epochs: {e.finetune_epochs}")
        lines.append("dense_seeds:")
        for e in seeds:
            lines += [f"  - name: {e.name}", f"    path: {fmt}/{e.name}.{ext}", f"    seed: {e.seed}"]
        (HERE / filename).write_text("\n".join(lines) + "\n")


def main() -> None:
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    x_train, y_train = load_split(0)
    x_test, y_test = load_split(1)

    dense = SmallCNN()
    train(dense, x_train, y_train, epochs=DENSE_EPOCHS, lr=3e-3, seed=SEED)
    entries = [Entry("dense", "none", 0.0, None, 0, weight_sparsity(dense), accuracy(dense, x_test, y_test))]
    save(dense, "dense")
    print(f"dense: test accuracy {entries[0].test_accuracy:.4f} ({time.perf_counter() - t0:.0f} s)")

    for name, technique, amount, seed, epochs in variants():
        model = copy.deepcopy(dense)
        apply_pruning(model, technique, amount, seed)
        if epochs:
            train(model, x_train, y_train, epochs=epochs, lr=1e-3, seed=SEED + 1)
        make_permanent(model)
        e = Entry(name, technique, amount, seed, epochs, weight_sparsity(model), accuracy(model, x_test, y_test))
        entries.append(e)
        save(model, name)
        print(f"{name}: sparsity {e.sparsity:.3f} test accuracy {e.test_accuracy:.4f}")

    seeds = []
    for s in DENSE_SEEDS:  # trained last, so the models above do not depend on how many there are
        torch.manual_seed(SEED + s)
        extra = SmallCNN()
        train(extra, x_train, y_train, epochs=DENSE_EPOCHS, lr=3e-3, seed=SEED + s)
        e = Entry(f"dense-s{s}", "none", 0.0, s, 0, weight_sparsity(extra), accuracy(extra, x_test, y_test))
        seeds.append(e)
        save(extra, e.name)
        print(f"{e.name}: test accuracy {e.test_accuracy:.4f}")

    manifest = {"models": [asdict(e) for e in [*entries, *seeds]], "seed": SEED, "torch": torch.__version__}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    write_configs(entries, seeds)
    print(f"built {len(entries) + len(seeds)} models in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
