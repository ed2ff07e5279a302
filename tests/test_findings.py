"""benchmarks/findings.py writes a deterministic document from hand-made results whose numbers are known."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from pruneaudit.policy import Selection
from pruneaudit.results import parse_results, with_blocks
from pruneaudit.selection import select
from tests import results_factory
from tests.conftest import ROOT

CLASSES = ("a", "b", "c")
DENSE = 0.95


def _findings() -> Any:
    spec = importlib.util.spec_from_file_location("findings", ROOT / "benchmarks" / "findings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _variant(technique: str, amount: float, seed: int, acc: float, worst: float, notes: str = "fine-tuned") -> dict:
    """A pruned model whose class b loses ``worst`` and whose other classes lose what the model lost overall."""
    name = f"{technique}-{amount}-s{seed}"
    recall = [acc, DENSE + worst, acc]
    m = results_factory.model(
        name, acc=acc, worst=worst, sparsity=amount, technique=technique, amount=amount, recall=recall
    )
    m["metadata"].update(seed=seed, notes=notes)
    change = [acc - DENSE, worst, acc - DENSE]
    pc = m["vs_dense"]["per_class"]
    pc.update({k: list(change) for k in ("excess_gap", "normalised_change", "recall_change")})
    pc.update({k: [1.0] * 3 for k in ("mcnemar_p", "mcnemar_p_bh", "mcnemar_p_holm")})
    pc["recall_change_ci"] = {"high": list(change), "low": list(change)}
    m["vs_dense"]["intensification"] = 1.0 + seed
    return m


def test_findings_document() -> None:
    findings = _findings()
    models = [
        _variant("t1", 0.5, 0, 0.94, -0.02),
        _variant("t1", 0.5, 1, 0.94, -0.03),
        _variant("t1", 0.9, 0, 0.90, -0.05),
        _variant("t1", 0.9, 1, 0.90, -0.07),
        _variant("t1+lr_rewinding", 0.9, 0, 0.85, -0.20, notes="learning-rate rewinding 2 epochs"),
        _variant("t2", 0.5, 0, 0.945, -0.01),
        _variant("t2", 0.9, 0, 0.93, -0.10),
    ]
    raw = results_factory.results(*models, classes=CLASSES)
    raw["data"]["train_class_counts"] = [10, 20, 30]
    view = parse_results(raw)
    view = with_blocks(view, selection=select(view, Selection()))

    doc = findings.render(view, timings={"dense": 1.0, "t1-0.5-s0": 2.0, "t2-0.5-s0": 4.0})
    assert doc == findings.render(view, timings={"dense": 1.0, "t1-0.5-s0": 2.0, "t2-0.5-s0": 4.0})
    headings = [line for line in doc.splitlines() if line.startswith("#")]
    assert headings == [
        "# Findings: what pruning did to the sample model, class by class",
        "## How this was made",
        "## Per-class harm against sparsity, per technique",
        "## Technique fronts",
        "## Intensification (α)",
        "## Representation",
        "## Cost",
    ]
    # The mean worst-class change of t1 at 90% over its two fine-tuned seeds, from the view: (-5 - 7) / 2 = -6.0 pp.
    plain = [m for m in view.pruned if m.technique == "t1" and m.amount == 0.9]
    mean = np.mean([m.vs_dense.worst_class_change.value for m in plain])
    assert f"{100 * mean:+.1f}" == "-6.0"
    assert "| t1 | 90% | 90.0% | -5.0 | -6.0 (-7.0..-5.0) | b (2/2) |" in doc
    assert "| t1+lr_rewinding | 90% | 90.0% | -10.0 | -20.0 | b (1/1) |" in doc  # its own technique
    # t2 keeps more top-1 at 90% but loses more on class b: the two rankings are computed to disagree.
    assert "The rankings disagree on t2 vs t1" in doc
    assert "- α > 1 in some seeds only: t1 at 50% (1 of 2), t1 at 90% (1 of 2)." in doc
    assert "needs them" not in doc and "| t1 | 1 | 2.0 | 2.0 |" in doc
