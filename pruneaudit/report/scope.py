"""What the card lists when an audit is too large to list whole: the hardest-hit classes and a bounded set of models.

Bounded, the card stays within its size budget whatever the number of models: the per-configuration
summaries (report/population.py) stand for the models it leaves out.

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
MODEL_ROWS = 200  # the models table lists every model up to this many pruned ones, else the scope's models
POINT_MODELS = 2000  # charts with a mark per model draw every pruned model up to this many, else `_point_models`


@dataclass(frozen=True)
class Scope:
    """Class indices (in label order) and pruned models (in the results' order) that the bounded views show."""

    classes: tuple[int, ...]
    heatmap_classes: tuple[int, ...]  # label order when all are drawn; else the hardest hit first (worst_classes)
    models: tuple[Model, ...]
    points: tuple[Model, ...]
    n_classes: int
    n_pruned: int
    n_lost: int  # classes that lost recall in at least one pruned model

    @property
    def all_classes(self) -> bool:
        return len(self.classes) == self.n_classes

    @property
    def all_models(self) -> bool:
        return len(self.models) == self.n_pruned

    @property
    def all_points(self) -> bool:
        return len(self.points) == self.n_pruned

    @property
    def classes_why(self) -> str:
        """Which classes the per-class table shows when it cannot show all (the phrase after "N of M classes:")."""
        if self.n_lost >= len(self.classes):
            return "those whose recall fell most in any pruned model"
        if not self.n_lost:
            return "no pruned model lowered any class's recall, so those with the lowest dense recall"
        return (
            f"the {self.n_lost} whose recall fell in some pruned model, then, of the classes no model lowered, "
            "those with the lowest dense recall"
        )

    @property
    def listed(self) -> bool:
        """Whether the models table lists every model (else the dense model and the scope's models)."""
        return self.n_pruned <= MODEL_ROWS


def _losses(results: Results) -> np.ndarray:
    """(pruned models, classes): each class's loss of recall in each model, min(change, 0); 0 where undefined."""
    n = results.data.n_classes
    changes = np.array([m.vs_dense.per_class.recall_change for m in results.pruned], dtype=float).reshape(-1, n)
    return np.fmin(changes, 0.0)  # fmin skips NaN (None): an undefined change is no loss


def worst_classes(results: Results) -> list[int]:
    """Every class index, those hit hardest first: by the largest loss of recall in any pruned model, then the
    number of models that lowered it, then the mean loss over the models, then the lower dense recall, then
    label order. A class no model lowered has no loss (gains and undefined changes count as none), so those
    come last, the weakest dense recall first."""
    losses = _losses(results)
    n = losses.shape[1]
    dense = np.array([np.inf if r is None else r for r in results.dense.per_class.recall], dtype=float)
    mean = losses.mean(axis=0) if len(losses) else np.zeros(n)
    keys = (np.arange(n), dense, mean, -(losses < 0).sum(axis=0), losses.min(axis=0, initial=0.0))
    return np.lexsort(keys).tolist()  # the last key sorts first


def n_lost_classes(results: Results) -> int:
    """How many classes lost recall in at least one pruned model."""
    return int((_losses(results) < 0).any(axis=0).sum())


def _picked(results: Results) -> set[str]:
    return {p.model for p in results.selection.picks.values() if p.model} if results.selection else set()


def _shown_models(results: Results, focus: Spotlight | None) -> tuple[Model, ...]:
    """All pruned models up to MODEL_COLUMNS; beyond, the spotlight model, the policies' picks and those with
    the most significantly harmed classes (ties: the larger top-1 drop, then the name), in the results' order."""
    pruned = results.pruned
    if len(pruned) <= MODEL_COLUMNS:
        return pruned
    spot, picked = (focus.model.name if focus else None), _picked(results)

    def priority(m: Model) -> tuple:
        return (
            m.name != spot,
            m.name not in picked,
            -m.vs_dense.harmed_significant_holm,
            m.vs_dense.accuracy_change or 0.0,
            m.name,
        )

    keep = {m.name for m in sorted(pruned, key=priority)[:MODEL_COLUMNS]}
    return tuple(m for m in pruned if m.name in keep)


def _point_models(results: Results, shown: tuple[Model, ...]) -> tuple[Model, ...]:
    """Every pruned model up to POINT_MODELS; beyond, the shown models, the policies' picks and the members
    of the Pareto and accuracy–sparsity fronts, in the results' order (the fronts stay whole)."""
    if len(results.pruned) <= POINT_MODELS:
        return results.pruned
    keep = {m.name for m in shown} | _picked(results)
    if results.selection:
        keep |= set(results.selection.front) | set(results.selection.accuracy_sparsity_front)
    return tuple(m for m in results.pruned if m.name in keep)


def points_note(scope: Scope) -> str:
    """The sentence a chart with a mark per model adds when it draws only some of them."""
    return (
        f"Only {len(scope.points):,} of the {scope.n_pruned:,} pruned models are drawn: the fronts' members, "
        "the picks and the models of the per-class table; the per-technique curves summarise all of them."
    )


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
    lost = n_lost_classes(results)
    shown = _shown_models(results, focus)
    return Scope(
        classes=tuple(sorted(order[:CLASS_ROWS])),
        # beyond HEATMAP_CLASSES the heatmap draws the classes that lost most, and only classes that lost
        heatmap_classes=tuple(range(n)) if n <= HEATMAP_CLASSES else tuple(order[: min(HEATMAP_CLASSES, lost)]),
        models=shown,
        points=_point_models(results, shown),
        n_classes=n,
        n_pruned=len(results.pruned),
        n_lost=lost,
    )
