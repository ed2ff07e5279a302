"""Audits for the study tests: saved-prediction sweeps over synthetic data, audited by the real CLI.

Two synthetic datasets of 10 and 6 classes (one with training counts, one without) beside the committed sample
audit: different datasets, class sets and techniques, as a study pools them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import run_cli

TECHNIQUES = ("l1_unstructured", "random_unstructured", "global_l1")


def make_audit(
    root: Path,
    *,
    classes: int,
    seed: int,
    name: str,
    counts: bool,
    techniques: tuple[str, ...] = TECHNIQUES,
    amounts: tuple[float, ...] = (0.5, 0.9),
    seeds: int = 3,
    rows: int = 800,
) -> Path:
    """Write the data, a dense model wrong on ~10% of images and pruned models whose errors grow with the amount
    and differ by technique and class; audit them and return the report folder."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=rows)
    np.savez(root / "data.npz", images=np.zeros((rows, 1, 1, 1), dtype=np.uint8), labels=labels)
    fragile = rng.random(classes)
    dense_wrong = rng.random(rows) < 0.1
    dense = np.where(dense_wrong, rng.integers(0, classes, rows), labels)
    np.savez(root / "dense.npz", predictions=dense)
    lines = [f"data: {{path: data.npz, name: {name}}}", "dense: {path: dense.npz}"]
    if counts:
        lines.append(f"train_class_counts: [{', '.join(str(int(c)) for c in rng.integers(50, 900, classes))}]")
    lines.append("pruned:")
    for s in range(seeds):
        for t, technique in enumerate(techniques):
            for amount in amounts:
                wrong = rng.random(rows) < (0.2 + t / 4) * amount**3 * fragile[labels]
                model = f"{technique}-{int(100 * amount)}-s{s}"
                np.savez(root / f"{model}.npz", predictions=np.where(wrong, rng.integers(0, classes, rows), dense))
                lines.append(
                    f"  - {{name: {model}, path: {model}.npz, technique: {technique}, amount: {amount}, seed: {s}}}"
                )
    (root / "audit.yaml").write_text("\n".join(lines) + "\n")
    out = root / "report"
    result = run_cli(["audit", "--quiet", "--no-cache", "--config", str(root / "audit.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def study_inputs(root: Path, sample_report: Path) -> list[Path]:
    """Three audits: the sample models on MNIST, a 10-class audit with training counts, a 6-class one without."""
    return [
        sample_report / "results.json",
        make_audit(root / "teams" / "ten", classes=10, seed=1, name="synthetic-10", counts=True),
        make_audit(
            root / "teams" / "six", classes=6, seed=2, name="synthetic-6", counts=False, techniques=TECHNIQUES[:2]
        ),
    ]
