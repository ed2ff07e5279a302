"""Many audits pooled into one study: how often and how much each technique harmed the worst class, bias
intensification, harm against representation, and a ranking of the techniques with its uncertainty.

The seed study (Paganini 2020) reports its >100K models this way: per technique and sparsity, pooled over
datasets, architectures and seeds. Read from results files alone, like the card. The unit pooled is a pruned
model that declares a technique and an amount; a *configuration* is one audit's models of one technique and
amount (its seeds), summarised by their mean. Each audit keeps its own tolerance and alpha.

- **Configurations** (technique × amount): over the audits that hold it, the mean, lowest and highest of the
  audits' seed means (worst-class change, top-1 change, α), the mean measured sparsity, and the share of
  models whose worst class lost more than their audit's tolerance.
- **Representation** (technique × amount, audits with training counts): each class's recall change (seed
  mean) against its *relative* training share, share × number of classes (1: a balanced share), so that
  datasets with different numbers of classes sit on one axis; Spearman's ρ and its p-value over the pooled
  classes (analyses.rank_correlation), with the least-squares trend.
- **Ranking**: blocks are (audit, declared amount); a block holds the techniques whose mean measured sparsity
  is within SPARSITY_MISMATCH of the block's median (structured pruning at "50 %" zeroes fewer weights), and
  counts when it holds two or more. Within a block the techniques are ranked by their seed mean (best: 1,
  ties share the mean rank) and the rank is normalised to (rank − 1)/(k − 1) in [0, 1], so blocks of
  different sizes weigh alike (Demšar 2006's average ranks over data sets, normalised). A technique's score
  is its mean normalised rank; its 95% interval and the share of resamples in which it is best come from
  resampling the audits with replacement (a cluster bootstrap: classes and seeds of one audit are not
  independent), BOOTSTRAP_SAMPLES draws, a fixed seed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pruneaudit.analyses import (
    Correlation,
    Relation,
    Trend,
    average_ranks,
    rank_correlation,
    representation,
    sparsity,
    trend,
)
from pruneaudit.defaults import SPARSITY_MISMATCH
from pruneaudit.errors import DataError, OutputError
from pruneaudit.results import Results
from pruneaudit.scalars import SCALARS

STUDY_VERSION = "1.0"
MIN_AUDITS = 2
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20201009  # the same inputs give the same intervals, byte for byte
RANKED_BY = ("worst_class_change", "accuracy_change")

TOO_FEW = "a study pools at least {need} audits; received {got}"
OUT_HOLDS_INPUT = "{out}: holds the audit {file}; the study would replace its folder: give --out a folder of its own"
NOTHING_TO_POOL = (
    "{paths}: no pruned model declares both a technique and an amount (metadata technique:, amount:), "
    "so a study has nothing to pool"
)
SAME_AUDIT = "{path}: the same audit as {other} (identical results); give each audit once"
CLASS_SETS_DIFFER = (
    "{path}: dataset {dataset!r} has {got} classes{detail}, but {other} audits it with {expected}: "
    "a study pools one class set per dataset"
)


@dataclass(frozen=True)
class PooledModel:
    """What a study keeps of one pruned model that declares a technique and an amount."""

    technique: str
    amount: float
    sparsity: float | None  # measured (declared for saved predictions)
    worst_class_change: float | None
    accuracy_change: float | None
    intensification: float | None
    harmed_significant_holm: int
    worst_harmed: bool | None  # its worst class lost more than its audit's tolerance; None: change undefined


@dataclass(frozen=True)
class Audit:
    """One results file in the study under its label, summarised: a study of 100,000 models holds these, not the
    audits themselves (a 2,000-model audit's typed view is ~46 MB in memory, its summary a few hundred KB)."""

    label: str
    schema_version: str
    dataset: str | None  # data.hf_id, else data.name: what says two audits are of one dataset
    data_file: str
    class_names: tuple[str, ...]
    n_samples: int
    dense_model: str
    tolerance: float
    alpha: float
    pruned: int  # every pruned model, pooled or not
    models: tuple[PooledModel, ...]
    representation: tuple[Relation, ...] | None  # analyses.representation; None without training counts

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def summarise(label: str, results: Results) -> Audit:
    """The part of an audit a study pools."""
    tolerance = results.settings.tolerance
    models = []
    for m in results.pruned:
        if m.technique is None or not m.technique.strip() or m.amount is None:
            continue  # no technique (or a blank one) or no amount: counted, not pooled
        vs = m.vs_dense
        worst = vs.worst_class_change.value
        models.append(
            PooledModel(
                technique=m.technique,
                amount=m.amount,
                sparsity=sparsity(m),
                worst_class_change=worst,
                accuracy_change=vs.accuracy_change,
                intensification=vs.intensification,
                harmed_significant_holm=vs.harmed_significant_holm,
                worst_harmed=None if worst is None else worst < -tolerance,
            )
        )
    return Audit(
        label=label,
        schema_version=results.schema_version,
        dataset=results.data.hf_id or results.data.name,
        data_file=results.data.file,
        class_names=results.data.class_names,
        n_samples=results.data.n_samples,
        dense_model=results.dense.name,
        tolerance=tolerance,
        alpha=results.settings.alpha,
        pruned=len(results.pruned),
        models=tuple(models),
        representation=representation(results),
    )


@dataclass(frozen=True)
class Spread:
    """Mean, lowest and highest of the defined values; None when none is."""

    mean: float | None
    low: float | None
    high: float | None


def spread(values: Sequence[float | None]) -> Spread:
    v = [x for x in values if x is not None]
    return Spread(float(np.mean(v)), float(min(v)), float(max(v))) if v else Spread(None, None, None)


@dataclass(frozen=True)
class TechniqueSummary:
    """One technique over every audit: how often and how much the worst class was harmed."""

    technique: str
    audits: int
    models: int
    worst_harmed: float | None  # share of models (worst-class change defined) whose worst class lost more than
    # the audit's tolerance; None when no model's is defined
    any_significant: float  # share of models with at least one class significantly harmed (McNemar, Holm)
    audits_worst_harmed: int  # audits in which at least one model's worst class lost more than the tolerance
    worst_defined: int  # models whose worst-class change is defined (the share's denominator)
    worst_change: Spread  # over models
    median_worst_change: float | None
    accuracy_change: Spread
    median_intensification: float | None
    intensified: float | None  # share of models (α defined) with α > 1


@dataclass(frozen=True)
class ConfigurationPool:
    """One technique and amount over the audits that hold it; each audit contributes its seed mean."""

    technique: str
    amount: float
    audits: tuple[str, ...]
    models: int
    sparsity: float | None  # mean of the audits' mean measured sparsity
    worst_change: Spread
    accuracy_change: Spread
    intensification: Spread
    worst_harmed: float | None  # share of models (worst-class change defined) whose worst class lost more than
    # the audit's tolerance; None when no model's is defined


@dataclass(frozen=True)
class RepresentationPool:
    """Recall change against relative training share, pooled over the audits that give training counts."""

    technique: str
    amount: float
    audits: tuple[str, ...]
    points: tuple[tuple[str, str, float, float], ...]  # (audit, class, relative share, seed-mean change)
    correlation: Correlation
    trend: Trend


@dataclass(frozen=True)
class Rank:
    technique: str
    blocks: int
    wins: int  # blocks it alone ranks first in
    score: float  # mean normalised rank: 0 best in every block, 1 worst in every block
    low: float | None  # 95% interval over audit resamples; None when the technique is in one audit only
    high: float | None
    best_share: float  # share of resamples in which its score is the lowest (ties split)


@dataclass(frozen=True)
class Ranking:
    metric: str
    blocks: int
    audits: int
    ranks: tuple[Rank, ...]  # best score first


@dataclass(frozen=True)
class Study:
    audits: tuple[Audit, ...]
    techniques: tuple[TechniqueSummary, ...]
    configurations: tuple[ConfigurationPool, ...]
    representation: tuple[RepresentationPool, ...]
    without_counts: tuple[str, ...]  # audits that give no training counts
    rankings: tuple[Ranking, ...]
    undeclared: int  # pruned models without a technique or an amount: not pooled


def check_out(out: Path, files: Sequence[Path]) -> None:
    """Refuse an output folder that is, or holds, an input audit's folder: the study card would replace its files."""
    target = Path(os.path.realpath(out))
    for f in files:
        folder = Path(os.path.realpath(f)).parent
        if folder == target or target in folder.parents:
            raise OutputError(OUT_HOLDS_INPUT.format(out=out, file=f))


def check_audits(audits: Sequence[Audit], paths: Sequence[str], digests: Sequence[str]) -> None:
    """Refuse what cannot be pooled, in one line naming the file: too few audits, one audit twice (the same
    results.json bytes, ``digests``), one dataset (by its declared name or Hub id) audited with two class sets,
    and audits none of whose models declares a technique and an amount."""
    if len(audits) < MIN_AUDITS:
        raise DataError(TOO_FEW.format(need=MIN_AUDITS, got=len(audits)))
    seen: dict[str, str] = {}
    datasets: dict[str, tuple[str, tuple[str, ...]]] = {}
    for audit, path, key in zip(audits, paths, digests):
        if key in seen:
            raise DataError(SAME_AUDIT.format(path=path, other=seen[key]))
        seen[key] = path
        dataset, classes = audit.dataset, audit.class_names
        if dataset is None:
            continue
        other, names = datasets.setdefault(dataset, (path, classes))
        if names != classes:
            first = next((i for i, (a, b) in enumerate(zip(classes, names)) if a != b), None)
            detail = "" if first is None else f" (class {first} is {classes[first]!r}, not {names[first]!r})"
            raise DataError(
                CLASS_SETS_DIFFER.format(
                    path=path,
                    dataset=dataset,
                    got=len(classes),
                    detail=detail,
                    other=other,
                    expected=len(names),
                )
            )
    if not any(a.models for a in audits):
        raise DataError(NOTHING_TO_POOL.format(paths=", ".join(paths)))


def _share(flags: Sequence[bool | None]) -> float | None:
    """The share of True among the defined flags; None when none is defined."""
    v = [f for f in flags if f is not None]
    return float(np.mean(v)) if v else None


def _median(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.median(v)) if v else None


def _technique_summaries(audits: Sequence[Audit]) -> tuple[TechniqueSummary, ...]:
    rows: dict[str, list[tuple[int, PooledModel]]] = {}
    for i, a in enumerate(audits):
        for m in a.models:
            rows.setdefault(m.technique, []).append((i, m))
    out = []
    for technique in sorted(rows):
        members = rows[technique]
        worst = [m.worst_class_change for _, m in members]
        alpha = [x for x in (m.intensification for _, m in members) if x is not None]
        out.append(
            TechniqueSummary(
                technique=technique,
                audits=len({i for i, _ in members}),
                models=len(members),
                worst_harmed=_share([m.worst_harmed for _, m in members]),
                any_significant=float(np.mean([m.harmed_significant_holm > 0 for _, m in members])),
                audits_worst_harmed=len({i for i, m in members if m.worst_harmed}),
                worst_defined=sum(m.worst_harmed is not None for _, m in members),
                worst_change=spread(worst),
                median_worst_change=_median(worst),
                accuracy_change=spread([m.accuracy_change for _, m in members]),
                median_intensification=_median(alpha),
                intensified=float(np.mean([x > 1 for x in alpha])) if alpha else None,
            )
        )
    return tuple(out)


def _cells(audit: Audit) -> dict[tuple[str, float], list[PooledModel]]:
    """(technique, amount) → the audit's models of that configuration (its seeds)."""
    out: dict[tuple[str, float], list[PooledModel]] = {}
    for m in audit.models:
        out.setdefault((m.technique, m.amount), []).append(m)
    return out


def _seed_mean(models: Sequence[PooledModel], field: str) -> float | None:
    """The mean of one field (a metric's name: worst_class_change, accuracy_change, intensification, sparsity)."""
    v = [x for x in (getattr(m, field) for m in models) if x is not None]
    return float(np.mean(v)) if v else None


def _configuration_pools(audits: Sequence[Audit]) -> tuple[ConfigurationPool, ...]:
    by: dict[tuple[str, float], list[tuple[Audit, list[PooledModel]]]] = {}
    for a in audits:
        for key, models in _cells(a).items():
            by.setdefault(key, []).append((a, models))
    out = []
    for (technique, amount), held in sorted(by.items()):
        models = [m for _, ms in held for m in ms]
        sparsities = [_seed_mean(ms, "sparsity") for _, ms in held]
        out.append(
            ConfigurationPool(
                technique=technique,
                amount=amount,
                audits=tuple(a.label for a, _ in held),
                models=len(models),
                sparsity=spread(sparsities).mean,
                worst_change=spread([_seed_mean(ms, "worst_class_change") for _, ms in held]),
                accuracy_change=spread([_seed_mean(ms, "accuracy_change") for _, ms in held]),
                intensification=spread([_seed_mean(ms, "intensification") for _, ms in held]),
                worst_harmed=_share([m.worst_harmed for m in models]),
            )
        )
    return tuple(out)


def _representation_pools(audits: Sequence[Audit]) -> tuple[tuple[RepresentationPool, ...], tuple[str, ...]]:
    points: dict[tuple[str, float], list[tuple[str, str, float, float]]] = {}
    without = []
    for a in audits:
        relations = a.representation
        if relations is None:
            without.append(a.label)
            continue
        k = a.n_classes
        for r in relations:
            points.setdefault((r.technique, r.amount), []).extend(
                (a.label, c, k * x, y) for c, x, y in zip(r.classes, r.x, r.y)
            )
    out = []
    for (technique, amount), pts in sorted(points.items()):
        x = np.array([p[2] for p in pts])
        y = np.array([p[3] for p in pts])
        out.append(
            RepresentationPool(
                technique=technique,
                amount=amount,
                audits=tuple(dict.fromkeys(p[0] for p in pts)),
                points=tuple(pts),
                correlation=rank_correlation(x, y),
                trend=trend(x, y),
            )
        )
    return tuple(out), tuple(without)


def normalised_ranks(values: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    """(rank − 1)/(k − 1) of each value among k ≥ 2, best 0; ties share the mean of the ranks they span."""
    ranks = average_ranks(-values if higher_is_better else values)
    return (ranks - 1.0) / (len(values) - 1.0)


def ranking_blocks(audits: Sequence[Audit], metric: str) -> list[tuple[int, dict[str, float]]]:
    """(audit index, technique → seed mean) for every (audit, amount) holding two or more comparable techniques."""
    out = []
    for i, a in enumerate(audits):
        cells = _cells(a)
        for amount in sorted({x for _, x in cells}):
            here = {t: ms for (t, x), ms in cells.items() if x == amount}
            sp = {t: _seed_mean(ms, "sparsity") for t, ms in here.items()}
            known = [s for s in sp.values() if s is not None]
            if not known:
                continue
            middle = float(np.median(known))
            values = {
                t: v
                for t, ms in sorted(here.items())
                if sp[t] is not None
                and abs(sp[t] - middle) <= SPARSITY_MISMATCH
                and (v := _seed_mean(ms, metric)) is not None
            }
            if len(values) >= 2:
                out.append((i, values))
    return out


def rank_techniques(
    audits: Sequence[Audit], metric: str, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED
) -> Ranking:
    """Mean normalised rank per technique over the comparable blocks, with a cluster bootstrap over audits.

    The audits are resampled in label order, so the same audits in any order give the same intervals."""
    audits = sorted(audits, key=lambda a: a.label)
    blocks = ranking_blocks(audits, metric)
    techniques = sorted({t for _, b in blocks for t in b})
    col = {t: j for j, t in enumerate(techniques)}
    n = len(audits)
    total = np.zeros((n, len(techniques)))  # per audit: sum of normalised ranks
    count = np.zeros((n, len(techniques)))  # per audit: blocks
    wins = np.zeros(len(techniques), dtype=int)
    better = SCALARS[metric].higher_is_better
    for i, b in blocks:
        names = list(b)
        ranks = normalised_ranks(np.array([b[t] for t in names]), higher_is_better=better)
        for t, r in zip(names, ranks):
            total[i, col[t]] += r
            count[i, col[t]] += 1
        if np.sum(ranks == 0.0) == 1:
            wins[col[names[int(np.argmin(ranks))]]] += 1
    if not techniques:
        return Ranking(metric, 0, len({i for i, _ in blocks}), ())
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(samples, n))
    weight = np.zeros((samples, n))
    np.add.at(weight, (np.repeat(np.arange(samples), n), draws.ravel()), 1.0)
    held = weight @ count
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(held > 0, (weight @ total) / held, np.nan)
    best = np.nanmin(np.where(np.isnan(scores), np.inf, scores), axis=1, keepdims=True)
    is_best = np.isclose(scores, best) & ~np.isnan(scores)
    best_share = (is_best / np.maximum(is_best.sum(axis=1, keepdims=True), 1)).mean(axis=0)
    audits_in = {i for i, _ in blocks}
    ranks = []
    for t, j in col.items():
        column = scores[:, j][~np.isnan(scores[:, j])]
        spans = int(np.sum(count[:, j] > 0)) > 1  # an interval over audits needs the technique in two of them
        low, high = (float(v) for v in np.percentile(column, [2.5, 97.5])) if spans else (None, None)
        ranks.append(
            Rank(
                technique=t,
                blocks=int(count[:, j].sum()),
                wins=int(wins[j]),
                score=float(total[:, j].sum() / count[:, j].sum()),
                low=low,
                high=high,
                best_share=float(best_share[j]),
            )
        )
    ranks.sort(key=lambda r: (r.score, r.technique))
    return Ranking(metric, len(blocks), len(audits_in), tuple(ranks))


def pool(audits: Sequence[Audit]) -> Study:
    """Every pooled analysis of the audits, in a fixed order: audits by label, techniques and amounts sorted, so
    the same audits given in any order give the same study, float for float."""
    audits = sorted(audits, key=lambda a: a.label)
    pools, without = _representation_pools(audits)
    return Study(
        audits=tuple(audits),
        techniques=_technique_summaries(audits),
        configurations=_configuration_pools(audits),
        representation=pools,
        without_counts=without,
        rankings=tuple(rank_techniques(audits, metric) for metric in RANKED_BY),
        undeclared=sum(a.pruned - len(a.models) for a in audits),
    )


def audit_labels(paths: Sequence[Path | str]) -> list[str]:
    """Each audit's name in the study: the last folders of its path (the file, for one not called results.json),
    as few as tell every audit apart, so ``teams/a/report`` and ``teams/b/report`` are ``a/report`` and
    ``b/report`` wherever they lie; where folders cannot tell them apart, the files' own paths' last parts."""
    files = [Path(os.path.abspath(p)) for p in paths]
    folders = [f.parent if f.name == "results.json" else f.with_suffix("") for f in files]
    for keys in (folders, files):
        depth = max(len(k.parts) for k in keys)
        for n in range(1, depth + 1):
            labels = [Path(*k.parts[-n:]).as_posix() for k in keys]
            if len(set(labels)) == len(labels):
                return labels
    return [f.as_posix() for f in files]  # one path given twice: refused as the same audit


def _plain(value: Any) -> Any:
    """Dataclass trees as JSON-ready mappings: tuples as lists, NaN as null."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def study_mapping(s: Study, *, tool_version: str) -> dict[str, Any]:
    """study.json: every pooled number, the audits by label (no paths: the file is the same on every machine)."""
    return {
        "study_version": STUDY_VERSION,
        "tool": {"name": "pruneaudit", "version": tool_version},
        "audits": [
            {
                "label": a.label,
                "schema_version": a.schema_version,
                "dataset": a.dataset,
                "data_file": a.data_file,
                "n_classes": a.n_classes,
                "n_samples": a.n_samples,
                "dense_model": a.dense_model,
                "pruned_models": a.pruned,
                "pooled_models": len(a.models),
                "tolerance": a.tolerance,
                "alpha": a.alpha,
                "train_class_counts": a.representation is not None,
            }
            for a in s.audits
        ],
        "techniques": [_plain(asdict(t)) for t in s.techniques],
        "configurations": [_plain(asdict(c)) for c in s.configurations],
        "representation": {
            "without_counts": list(s.without_counts),
            "pools": [
                {
                    **_plain({k: v for k, v in asdict(r).items() if k != "points"}),
                    "points": [
                        {"audit": a, "class": c, "relative_share": x, "recall_change": y} for a, c, x, y in r.points
                    ],
                }
                for r in s.representation
            ],
        },
        "rankings": [_plain(asdict(r)) for r in s.rankings],
        "undeclared_models": s.undeclared,
    }
