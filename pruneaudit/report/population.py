"""Summaries over the population of pruned models: what the card shows when it cannot list every model.

At the scale of the seed study (thousands of models, many seeds per configuration) a reader needs the
configurations rather than the models: per technique and amount, the mean over seeds and the range the
seeds span; the models and classes that fared worst; and the distribution of harm over all models.
Everything here is computed from the results alone (no predictions), so `pruneaudit render` gives it too.

Conventions: a configuration is the results' own (the models that share a declared technique and
amount; pipeline._configuration_key); an undefined value (None) is left out of a mean and a range,
and a configuration with no defined value has None for all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pruneaudit.analyses import declared_configurations, defined_mean, per_class_matrix, sparsity
from pruneaudit.results import Model, Results

WORST_MODELS = 10  # rows of the "models with the largest worst-class drop" table
HARMED_CLASSES = 10  # rows of the "classes harmed most often" table
HISTOGRAM_BINS = 24
HISTOGRAM_MIN_SPAN_PP = 2.0  # the bins span at least 2 pp, centred on the values: equal models fill one bin, not all


@dataclass(frozen=True)
class Spread:
    """The mean over a configuration's models and the range (min, max) they span."""

    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ConfigurationSummary:
    technique: str
    amount: float | None
    models: tuple[str, ...]
    sparsity: Spread
    accuracy_change: Spread
    worst_change: Spread
    harmed_holm: Spread
    intensification: Spread  # bias intensification α (Good et al. 2022): > 1, pruning amplified the dense imbalance


@dataclass(frozen=True)
class HarmedClass:
    """One class over every pruned model: how often it lost recall significantly or beyond the tolerance."""

    index: int
    name: str
    significant: int  # models where its loss is significant (exact McNemar, Holm)
    beyond_tolerance: int  # models where it lost more than the tolerance
    mean_change: float | None
    worst_change: float | None
    worst_model: str | None


def spread(values: list[float | None]) -> Spread:
    v = np.array([x for x in values if x is not None], dtype=float)
    if not v.size:
        return Spread(None, None, None)
    return Spread(float(v.mean()), float(v.min()), float(v.max()))


def configuration_summaries(results: Results) -> tuple[ConfigurationSummary, ...]:
    """One summary per configuration that declares a technique and an amount, in the results' order."""
    out = []
    for c, members in declared_configurations(results):
        out.append(
            ConfigurationSummary(
                technique=c.technique,
                amount=c.amount,
                models=c.models,
                sparsity=spread([sparsity(m) for m in members]),
                accuracy_change=spread([m.vs_dense.accuracy_change for m in members]),
                worst_change=spread([m.vs_dense.worst_class_change.value for m in members]),
                harmed_holm=spread([float(m.vs_dense.harmed_significant_holm) for m in members]),
                intensification=spread([m.vs_dense.intensification for m in members]),
            )
        )
    return tuple(out)


def has_seeds(summaries: tuple[ConfigurationSummary, ...]) -> bool:
    """Whether any configuration pools more than one model (seeds): only then is there a spread to show."""
    return any(len(s.models) > 1 for s in summaries)


def worst_models(results: Results, k: int = WORST_MODELS) -> list[Model]:
    """The k pruned models whose worst class lost most (ties: the larger top-1 drop, then the name)."""

    def key(m: Model) -> tuple:
        worst = m.vs_dense.worst_class_change.value
        return (worst is None, worst or 0.0, m.vs_dense.accuracy_change or 0.0, m.name)

    return sorted(results.pruned, key=key)[:k]


def harmed_classes(results: Results, k: int = HARMED_CLASSES) -> list[HarmedClass]:
    """The k classes that lost recall in the most pruned models: by the number of significant losses, then
    the number beyond the tolerance, then the worse mean change, then the class index.

    A loss is significant when its Holm-adjusted exact McNemar p is below alpha and more images moved from
    right to wrong than back (the per-class table's star); beyond the tolerance when the change is below −tolerance.
    Classes that no model harmed either way are not listed."""
    pruned = results.pruned
    if not pruned:
        return []
    alpha, tolerance = results.settings.alpha, results.settings.tolerance
    change = per_class_matrix(pruned, "recall_change")
    p_holm = per_class_matrix(pruned, "mcnemar_p_holm")
    lost = per_class_matrix(pruned, "dense_only") > per_class_matrix(pruned, "pruned_only")
    significant = ((p_holm < alpha) & lost).sum(axis=0)  # NaN compares False: undefined is never significant
    beyond = (change < -tolerance).sum(axis=0)
    defined = ~np.isnan(change)
    counts = defined.sum(axis=0)
    mean = defined_mean(change)
    worst_row = np.argmin(np.where(defined, change, np.inf), axis=0)
    order = np.lexsort((np.arange(change.shape[1]), np.nan_to_num(mean, nan=0.0), -beyond, -significant))
    names = results.data.class_names
    out = []
    for i in order:
        if significant[i] == 0 and beyond[i] == 0:
            continue
        has = counts[i] > 0
        out.append(
            HarmedClass(
                index=int(i),
                name=names[i],
                significant=int(significant[i]),
                beyond_tolerance=int(beyond[i]),
                mean_change=float(mean[i]) if has else None,
                worst_change=float(change[worst_row[i], i]) if has else None,
                worst_model=pruned[worst_row[i]].name if has else None,
            )
        )
        if len(out) == k:
            break
    return out


def histogram(results: Results, *, bins: int = HISTOGRAM_BINS) -> list[dict]:
    """Counts of models per technique over shared bins of top-1 change and of worst-class change (pp).

    Binned here, not in the browser, so the chart inlines a few hundred counts whatever the number of models.
    Edges: ``bins`` equal widths over each measure's range across all models, widened about its middle to
    HISTOGRAM_MIN_SPAN_PP when narrower (numpy's histogram convention: the last bin includes its right edge)."""
    pruned = results.pruned
    measures = {
        "Top-1 change": [m.vs_dense.accuracy_change for m in pruned],
        "Worst-class change": [m.vs_dense.worst_class_change.value for m in pruned],
    }
    techniques = list(dict.fromkeys(m.technique_label for m in pruned))
    rows = []
    for measure, values in measures.items():
        v = np.array([np.nan if x is None else 100 * x for x in values], dtype=float)
        ok = ~np.isnan(v)
        if not ok.any():
            continue
        lo, hi = float(v[ok].min()), float(v[ok].max())
        if hi - lo < HISTOGRAM_MIN_SPAN_PP:
            middle = (lo + hi) / 2
            lo, hi = middle - HISTOGRAM_MIN_SPAN_PP / 2, middle + HISTOGRAM_MIN_SPAN_PP / 2
        edges = np.linspace(lo, hi, bins + 1)
        labels = np.array([m.technique_label for m in pruned])
        for t in techniques:
            counts, _ = np.histogram(v[ok & (labels == t)], bins=edges)
            rows += [
                {"measure": measure, "technique": t, "start": float(a), "end": float(b), "models": int(n)}
                for a, b, n in zip(edges[:-1], edges[1:], counts)
                if n
            ]
    return rows


OUTCOMES = ("harmed", "unchanged", "helped")
CRITERIA = ("beyond the tolerance", "significant (Holm)")


def _outcomes(m: Model, alpha: float) -> dict[tuple[str, str], float] | None:
    """One model's share of classes harmed, unchanged and helped, by each criterion; None without a defined class.

    Beyond the tolerance: the model's own harmed/helped counts (|change| > tolerance). Significant: the Holm-adjusted
    exact McNemar p below alpha, harmed when more images moved right→wrong than back, helped when fewer."""
    pc, vs = m.vs_dense.per_class, m.vs_dense
    n = sum(c is not None for c in pc.recall_change)
    if n == 0:
        return None
    significant = [p is not None and p < alpha for p in pc.mcnemar_p_holm]
    helped_sig = sum(s and b > a for s, a, b in zip(significant, pc.dense_only, pc.pruned_only))
    counts = {
        CRITERIA[0]: (vs.harmed, vs.helped),
        CRITERIA[1]: (vs.harmed_significant_holm, helped_sig),
    }
    out = {}
    for criterion, (harmed, helped) in counts.items():
        out[(criterion, "harmed")] = harmed / n
        out[(criterion, "helped")] = helped / n
        out[(criterion, "unchanged")] = (n - harmed - helped) / n
    return out


def outcome_shares(results: Results) -> list[dict]:
    """Per configuration, criterion and outcome: the mean share of classes over the configuration's models,
    at the models' mean sparsity (the chart of classes harmed, unchanged and helped as sparsity grows)."""
    alpha = results.settings.alpha
    rows = []
    for c, members in declared_configurations(results):
        shares = [s for s in (_outcomes(m, alpha) for m in members) if s is not None]
        at = [x for x in (sparsity(m) for m in members) if x is not None]
        if not shares or not at:
            continue
        for criterion in CRITERIA:
            for outcome in OUTCOMES:
                rows.append(
                    {
                        "technique": c.technique,
                        "amount": c.amount,
                        "sparsity": float(np.mean(at)),
                        "criterion": criterion,
                        "outcome": outcome,
                        "share": float(np.mean([s[(criterion, outcome)] for s in shares])),
                        "models": len(shares),
                    }
                )
    return sorted(rows, key=lambda r: (r["criterion"], r["outcome"], r["technique"], r["sparsity"]))
