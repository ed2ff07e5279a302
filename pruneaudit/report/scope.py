"""What the card lists when an audit is too large to list whole: the hardest-hit classes and a bounded set of models.

Views whose size grows with classes × models (the per-class, subgroup and per-layer tables, the
heatmap, the distribution of change) show these and say so; per_class.csv and per_class.parquet
beside the card keep every model × class. Chosen once per card so that every view shows the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pruneaudit.report.headlines import Spotlight
from pruneaudit.results import Model, Results

CLASS_ROWS = 50  # the per-class table lists every class up to this many, else the CLASS_ROWS hit hardest
HEATMAP_CLASSES = 40  # the heatmap draws every class up to this many, else the HEATMAP_CLASSES hit hardest
MODEL_COLUMNS = 100  # views with one column (or row) per pruned model show at most this many pruned models


@dataclass(frozen=True)
class Scope:
    """Class indices (in label order) and pruned models (in the results' order) that the bounded views show."""

    classes: tuple[int, ...]
    heatmap_classes: tuple[int, ...]
    models: tuple[Model, ...]
    n_classes: int
    n_pruned: int

    @property
    def all_classes(self) -> bool:
        return len(self.classes) == self.n_classes

    @property
    def all_models(self) -> bool:
        return len(self.models) == self.n_pruned


def worst_classes(results: Results) -> list[int]:
    """Every class index, the most negative recall change in any pruned model first (ties: class index).

    A class no model made worse counts as 0; undefined changes are ignored."""
    n = results.data.n_classes
    changes = np.array([m.vs_dense.per_class.recall_change for m in results.pruned], dtype=float).reshape(-1, n)
    worst = np.fmin.reduce(changes, axis=0, initial=0.0)  # fmin skips NaN (None): undefined changes
    return np.argsort(worst, kind="stable").tolist()


def _shown_models(results: Results, focus: Spotlight | None) -> tuple[Model, ...]:
    """All pruned models up to MODEL_COLUMNS; beyond, the spotlight model and those with the most
    significantly harmed classes (ties: the larger top-1 drop, then the name), in the results' order."""
    pruned = results.pruned
    if len(pruned) <= MODEL_COLUMNS:
        return pruned
    spot = focus.model.name if focus else None

    def priority(m: Model) -> tuple:
        return (m.name != spot, -m.vs_dense.harmed_significant_holm, m.vs_dense.accuracy_change or 0.0, m.name)

    keep = {m.name for m in sorted(pruned, key=priority)[:MODEL_COLUMNS]}
    return tuple(m for m in pruned if m.name in keep)


def models_note(scope: Scope) -> str:
    """The sentence a bounded view adds when it leaves pruned models out."""
    return (
        f"Only {len(scope.models)} of the {scope.n_pruned:,} pruned models are shown: the one the detail views "
        "focus on and those with the most significantly harmed classes."
    )


def scope(results: Results, focus: Spotlight | None) -> Scope:
    """The classes and models the bounded views show."""
    n = results.data.n_classes
    order = worst_classes(results) if n > min(CLASS_ROWS, HEATMAP_CLASSES) else list(range(n))
    return Scope(
        classes=tuple(sorted(order[:CLASS_ROWS])),
        heatmap_classes=tuple(sorted(order[:HEATMAP_CLASSES])),
        models=_shown_models(results, focus),
        n_classes=n,
        n_pruned=len(results.pruned),
    )
