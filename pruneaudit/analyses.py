"""The seed study's questions asked of an audit's results: does harm fall on under-represented classes,
and do classes the dense model already got right gain while weak ones lose ("the rich get richer")?

Read from results.json alone (no predictions), so the card, `pruneaudit render` and a study that pools
many audits ask them the same way. Each relation is between a per-class property x (the class's share
of the training set; the dense model's recall of the class) and the class's recall change y, per
configuration (the models of one technique and amount: y is their mean change, Paganini 2020 §4 pools
seeds the same way), with:

- Spearman's rank correlation ρ (ties: average ranks) and its two-sided p-value from the t distribution
  with n − 2 degrees of freedom, t = ρ·√((n − 2)/(1 − ρ²)) (scipy.stats.spearmanr's method);
- the least-squares line y = a + b·x, for the chart's trend.

Classes whose change is undefined (no images) are left out; with fewer than 3 classes left, or a
constant x or y, ρ and p are None.

"The rich get richer" is also asked of each pruned model on its own (`rich_get_richer_per_model`: y is that
model's change, no pooling), with the same ρ, p and line, so that the seeds of a configuration can be told apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import numpy as np
from scipy import stats

from pruneaudit.results import Model, Results
from pruneaudit.results.view import Configuration

MIN_CLASSES = 3


def sparsity(m: Model) -> float | None:
    """The measured weight sparsity; the declared amount for saved predictions, which have no weights to measure."""
    return m.facts.sparsity if m.facts.weight_count else m.amount


@dataclass(frozen=True)
class Correlation:
    rho: float | None
    p: float | None
    n: int


@dataclass(frozen=True)
class Trend:
    slope: float | None
    intercept: float | None


@dataclass(frozen=True)
class Relation:
    """x against the mean recall change of one configuration's models, class by class."""

    technique: str
    amount: float | None
    sparsity: float | None  # the models' mean (measured; declared for saved predictions)
    models: tuple[str, ...]
    x: tuple[float, ...]  # per class, in label order (undefined classes dropped)
    y: tuple[float, ...]
    classes: tuple[str, ...]
    correlation: Correlation
    trend: Trend


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def rank_correlation(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Spearman's ρ and its two-sided p-value (t approximation, n − 2 degrees of freedom)."""
    n = len(x)
    if n < MIN_CLASSES or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(None, None, n)
    rx, ry = average_ranks(np.asarray(x, dtype=float)), average_ranks(np.asarray(y, dtype=float))
    rho = float(np.corrcoef(rx, ry)[0, 1])
    if abs(rho) >= 1.0:
        return Correlation(float(np.sign(rho)), 0.0, n)
    t = rho * np.sqrt((n - 2) / (1.0 - rho * rho))
    return Correlation(rho, float(2 * stats.t.sf(abs(t), n - 2)), n)


class _Correlated(Protocol):
    @property
    def correlation(self) -> Correlation: ...


C = TypeVar("C", bound=_Correlated)


@dataclass(frozen=True)
class Leaning(Generic[C]):
    """Relations sorted by the sign of their ρ: those with a defined ρ, those with ρ > 0, and those significantly
    positive or negative (p < alpha): what every sentence about a set of relations counts."""

    defined: tuple[C, ...]
    positive: tuple[C, ...]
    significant_positive: tuple[C, ...]
    significant_negative: tuple[C, ...]


def leaning(relations: Sequence[C], *, alpha: float) -> Leaning[C]:
    defined = tuple(r for r in relations if r.correlation.rho is not None)
    return Leaning(
        defined=defined,
        positive=tuple(r for r in defined if r.correlation.rho > 0),
        significant_positive=tuple(r for r in defined if r.correlation.rho > 0 and r.correlation.p < alpha),
        significant_negative=tuple(r for r in defined if r.correlation.rho < 0 and r.correlation.p < alpha),
    )


def trend(x: np.ndarray, y: np.ndarray) -> Trend:
    """Ordinary least squares y = a + b·x; None when x is constant or fewer than two points."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or np.ptp(x) == 0:
        return Trend(None, None)
    dx = x - x.mean()
    slope = float(dx @ (y - y.mean()) / (dx @ dx))
    return Trend(slope, float(y.mean() - slope * x.mean()))


def declared_configurations(results: Results) -> list[tuple[Configuration, list[Model]]]:
    """Each configuration that declares a technique and an amount, with its pruned models (in the results' order;
    a model a hand-edited results file lost is skipped, and a configuration left without models too)."""
    by_name = {m.name: m for m in results.pruned}
    out = []
    for c in results.configurations:
        members = [by_name[n] for n in c.models if n in by_name]
        if c.technique is not None and c.amount is not None and members:
            out.append((c, members))
    return out


def per_class_matrix(models: Sequence[Model], field: str) -> np.ndarray:
    """(models, classes) float array of one per-class comparison field; None (undefined) becomes NaN."""
    rows = [getattr(m.vs_dense.per_class, field) for m in models]
    return np.array([[np.nan if x is None else x for x in r] for r in rows], dtype=float).reshape(len(models), -1)


def defined_mean(matrix: np.ndarray) -> np.ndarray:
    """(classes,) mean over the rows of the defined (non-NaN) values; NaN where no row defines the class."""
    defined = ~np.isnan(matrix)
    count = defined.sum(axis=0)
    return np.where(count > 0, np.where(defined, matrix, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)


def _relations(results: Results, x_all: np.ndarray) -> tuple[Relation, ...]:
    """One relation per declared configuration, in the results' order."""
    names = results.data.class_names
    out = []
    for c, members in declared_configurations(results):
        y_all = defined_mean(per_class_matrix(members, "recall_change"))
        keep = ~np.isnan(y_all) & ~np.isnan(x_all)
        x, y = x_all[keep], y_all[keep]
        shown = [s for s in (sparsity(m) for m in members) if s is not None]
        out.append(
            Relation(
                technique=c.technique,
                amount=c.amount,
                sparsity=float(np.mean(shown)) if shown else None,
                models=tuple(m.name for m in members),
                x=tuple(x.tolist()),
                y=tuple(y.tolist()),
                classes=tuple(n for n, k in zip(names, keep) if k),
                correlation=rank_correlation(x, y),
                trend=trend(x, y),
            )
        )
    return tuple(out)


def representation(results: Results) -> tuple[Relation, ...] | None:
    """Recall change against each class's share of the training set; None without training counts."""
    counts = results.data.train_class_counts
    if counts is None or sum(counts) == 0:
        return None
    share = np.asarray(counts, dtype=float) / float(sum(counts))
    return _relations(results, share)


def _dense_recall(results: Results) -> np.ndarray:
    """(classes,) the dense model's recall; NaN where undefined (no images)."""
    return np.array([np.nan if v is None else v for v in results.dense.per_class.recall], dtype=float)


def rich_get_richer(results: Results) -> tuple[Relation, ...]:
    """Recall change against the dense model's recall of each class (undefined recall: left out)."""
    return _relations(results, _dense_recall(results))


@dataclass(frozen=True)
class ModelRelation:
    """x against one pruned model's own recall change, class by class (no pooling over seeds): the per-model view
    beside a configuration's `Relation`, with the same ρ, p and trend (`rank_correlation`, `trend`)."""

    model: str
    technique: str | None  # as declared (None: undeclared)
    amount: float | None
    sparsity: float | None  # measured; declared for saved predictions
    correlation: Correlation  # n: the classes related (a defined x and change)
    trend: Trend


def _model_relations(results: Results, x_all: np.ndarray) -> tuple[ModelRelation, ...]:
    """One relation per pruned model (declared or not), in the results' order."""
    if not results.pruned:
        return ()
    out = []
    for m, y_all in zip(results.pruned, per_class_matrix(results.pruned, "recall_change")):
        keep = ~np.isnan(y_all) & ~np.isnan(x_all)
        x, y = x_all[keep], y_all[keep]
        out.append(
            ModelRelation(
                model=m.name,
                technique=m.technique,
                amount=m.amount,
                sparsity=sparsity(m),
                correlation=rank_correlation(x, y),
                trend=trend(x, y),
            )
        )
    return tuple(out)


def rich_get_richer_per_model(results: Results) -> tuple[ModelRelation, ...]:
    """Each pruned model's own recall change against the dense model's recall of each class (undefined: left out)."""
    return _model_relations(results, _dense_recall(results))


@dataclass(frozen=True)
class Disparity:
    """Fairlearn's between-groups convention: ``difference`` = max − min and ``ratio`` = min / max of a metric
    over groups (MetricFrame.difference() / .ratio()); None with no defined group, ratio None when max is 0."""

    difference: float | None
    ratio: float | None


def disparity(values: tuple[float | None, ...]) -> Disparity:
    v = [x for x in values if x is not None]
    if not v:
        return Disparity(None, None)
    low, high = min(v), max(v)
    return Disparity(high - low, low / high if high > 0 else None)


def recall_disparity(model: Model) -> Disparity:
    """Over the classes (the true class as the sensitive feature): per-class recall's difference and ratio."""
    return disparity(model.per_class.recall)


def subgroup_disparity(results: Results) -> dict[tuple[str, str], Disparity]:
    """(grouping, model) → the difference and ratio of top-1 accuracy over the grouping's groups; "dense" for the
    dense model (its accuracy per group, which every comparison row carries)."""
    groups: dict[tuple[str, str], dict[str, float | None]] = {}
    for g in results.subgroups:
        groups.setdefault((g.grouping, g.model), {})[g.group] = g.pruned_accuracy
        groups.setdefault((g.grouping, results.dense.name), {})[g.group] = g.dense_accuracy
    return {key: disparity(tuple(v.values())) for key, v in groups.items()}
