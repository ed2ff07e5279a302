"""Choose an operating point from an audit's results, with and without fairness.

The decision framework of Paganini (2020), "Prune Responsibly": the usual pick is the
sparsest model whose accuracy drop stays under ε; pruneaudit sets a fairness-aware pick,
a value-function pick and the knee of the accuracy–sparsity front beside it, and states
what fairness costs. Candidates are the pruned models; the dense model is the reference.
"""

from __future__ import annotations

from itertools import combinations, permutations
from typing import Any

import numpy as np

from pruneaudit.analyses import sparsity
from pruneaudit.defaults import SPARSITY_MISMATCH
from pruneaudit.pareto import dominance_count, hypervolume, pareto_mask
from pruneaudit.policy import Bound, Selection
from pruneaudit.results import Model, Results
from pruneaudit.scalars import SCALARS, model_value


def _matrix(models: list[Model], names: list[str]) -> tuple[list[Model], np.ndarray]:
    """Models with every named scalar defined, and their (n, k) values."""
    rows, kept = [], []
    for m in models:
        values = [model_value(m, n) for n in names]
        if all(v is not None for v in values):
            rows.append(values)
            kept.append(m)
    return kept, np.array(rows, dtype=np.float64).reshape(len(kept), len(names))


def _normalise(values: np.ndarray, maximize: list[bool]) -> np.ndarray:
    """Orient every objective to 'larger is better' and min–max scale it to [0, 1] over the candidates."""
    v = np.where(np.asarray(maximize), values, -values)
    lo, hi = v.min(axis=0), v.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (v - lo) / span


def _best(models: list[Model], metric: str) -> Model | None:
    """The candidate best on ``metric`` (ties: better accuracy, then name)."""
    sign = 1.0 if SCALARS[metric].higher_is_better else -1.0
    scored = [
        (sign * model_value(m, metric), model_value(m, "accuracy") or 0.0, m.name, m)
        for m in models
        if model_value(m, metric) is not None
    ]
    if not scored:
        return None
    scored.sort(key=lambda t: (-t[0], -t[1], t[2]))
    return scored[0][3]


def _violation(model: Model, bounds: tuple[Bound, ...], spans: dict[str, float]) -> float:
    total = 0.0
    for b in bounds:
        v = model_value(model, b.metric)
        if v is None:
            total += 1.0
        else:
            excess = v - b.limit if b.op == "max" else b.limit - v
            total += max(0.0, excess) / spans.get(b.metric, 1.0)
    return total


def _constrained_pick(models: list[Model], bounds: tuple[Bound, ...], prefer: str, policy: str) -> dict[str, Any]:
    feasible = [m for m in models if all(b.passes(model_value(m, b.metric)) for b in bounds)]
    rule = "; ".join(b.label for b in bounds)
    if feasible:
        m = _best(feasible, prefer)
        return {
            "policy": policy,
            "model": m.name,
            "feasible": True,
            "closest": None,
            "reason": f"best {prefer} among {len(feasible)} models with {rule}",
        }
    spans = {}
    for b in bounds:
        vals = [v for v in (model_value(m, b.metric) for m in models) if v is not None]
        spans[b.metric] = (max(vals) - min(vals)) if len(vals) > 1 and max(vals) > min(vals) else 1.0
    closest = min(models, key=lambda m: (_violation(m, bounds, spans), m.name)) if models else None
    return {
        "policy": policy,
        "model": None,
        "feasible": False,
        "closest": closest.name if closest else None,
        "reason": f"no model satisfies {rule}",
    }


def _value_pick(models: list[Model], selection: Selection) -> dict[str, Any]:
    names = [n for n, w in selection.weights if w > 0]
    weights = np.array([w for _, w in selection.weights if w > 0])
    maximize = [SCALARS[n].higher_is_better for n in names]
    kept, values = _matrix(models, names)
    if not kept:
        return {
            "policy": "value_function",
            "model": None,
            "feasible": False,
            "closest": None,
            "reason": "no model defines every weighted metric",
        }
    front = pareto_mask(values, maximize=maximize)
    scores = _normalise(values, maximize) @ weights
    order = sorted(np.flatnonzero(front), key=lambda i: (-scores[i], kept[i].name))
    i = order[0]
    terms = " + ".join(f"{w:g}·{n}" for n, w in zip(names, weights))
    return {
        "policy": "value_function",
        "model": kept[i].name,
        "feasible": True,
        "closest": None,
        "reason": f"highest {terms} (each scaled to [0, 1] over the candidates) on the front; score {scores[i]:.3f}",
    }


def _knee_pick(models: list[Model], selection: Selection) -> dict[str, Any]:
    x, y = selection.knee
    maximize = [SCALARS[x].higher_is_better, SCALARS[y].higher_is_better]
    kept, values = _matrix(models, [x, y])
    idx = np.flatnonzero(pareto_mask(values, maximize=maximize)) if kept else np.array([], dtype=int)
    if len(idx) < 3:
        return {
            "policy": "knee",
            "model": None,
            "feasible": False,
            "closest": None,
            "reason": f"the {x}–{y} front has {len(idx)} point(s); a knee needs 3",
        }
    pts = _normalise(values, maximize)[idx]
    a, b = pts[np.argmax(pts[:, 0])], pts[np.argmax(pts[:, 1])]  # the two ends of the front
    length = np.linalg.norm(b - a)
    if length == 0:  # tied points only (an audit where pruning changed nothing): no line, no knee
        return {
            "policy": "knee",
            "model": None,
            "feasible": False,
            "closest": None,
            "reason": f"the {x}–{y} front's {len(idx)} points coincide; a knee needs two ends",
        }
    direction = (b - a) / length
    rel = pts - a
    dist = np.abs(rel[:, 0] * direction[1] - rel[:, 1] * direction[0])
    order = sorted(range(len(idx)), key=lambda j: (-dist[j], kept[idx[j]].name))
    m = kept[idx[order[0]]]
    return {
        "policy": "knee",
        "model": m.name,
        "feasible": True,
        "closest": None,
        "reason": f"front point farthest from the line joining the ends of the {x}–{y} front",
    }


def _fronts(models: list[Model], selection: Selection) -> dict[str, Any]:
    names = [n for n, _ in selection.objectives]
    maximize = [mx for _, mx in selection.objectives]
    kept, values = _matrix(models, names)
    if not kept:
        return {"front": [], "techniques": [], "dominance": []}
    norm = _normalise(values, maximize)  # reference point: the worst candidate value of each objective (0)
    front = pareto_mask(values, maximize=maximize)
    techniques = sorted({m.technique for m in kept if m.technique is not None})
    per = []
    for t in techniques:
        sel = np.array([m.technique == t for m in kept])
        tf = pareto_mask(values[sel], maximize=maximize)
        members = [m.name for m, keep in zip([m for m, s in zip(kept, sel) if s], tf) if keep]
        per.append(
            {
                "technique": t,
                "models": [m.name for m, s in zip(kept, sel) if s],
                "front": members,
                "hypervolume": hypervolume(norm[sel], maximize=[True] * len(names), reference=[0.0] * len(names)),
            }
        )
    dominance = []
    for a, b in permutations(techniques, 2):
        sa = np.array([m.technique == a for m in kept])
        sb = np.array([m.technique == b for m in kept])
        dominance.append(
            {
                "technique": a,
                "over": b,
                "pairs": dominance_count(values[sa], values[sb], maximize=maximize),
                "of": int(sa.sum() * sb.sum()),
            }
        )
    return {"front": [m.name for m, f in zip(kept, front) if f], "techniques": per, "dominance": dominance}


def _seed_mean(models: list[Model], metric: str) -> float | None:
    vals = [v for v in (model_value(m, metric) for m in models) if v is not None]
    return float(np.mean(vals)) if vals else None


BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20201009  # fixed: the same results give the same interval, byte for byte


def _comparable(a: list[Model], b: list[Model]) -> bool:
    """Two configurations at one declared amount are compared only when their measured sparsities agree
    (within SPARSITY_MISMATCH): structured pruning at "50 %" may zero far fewer weights than unstructured."""
    sa = [x for x in map(sparsity, a) if x is not None]
    sb = [x for x in map(sparsity, b) if x is not None]
    return bool(sa and sb) and abs(float(np.mean(sa)) - float(np.mean(sb))) <= SPARSITY_MISMATCH


def difference_interval(
    cells: list[tuple[list[float], list[float]]], *, samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float | None, float | None]:
    """Mean over amounts of (mean of a's seeds − mean of b's seeds), and its 95% percentile bootstrap interval,
    resampling each technique's seeds within each amount (paired by amount); no interval without two seeds on a side."""
    estimate = float(np.mean([np.mean(va) - np.mean(vb) for va, vb in cells]))
    if all(len(va) < 2 and len(vb) < 2 for va, vb in cells):
        return estimate, None, None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = np.zeros(samples)
    for va, vb in cells:
        xa, xb = np.asarray(va), np.asarray(vb)
        ra = xa[rng.integers(0, len(xa), size=(samples, len(xa)))].mean(axis=1)
        rb = xb[rng.integers(0, len(xb), size=(samples, len(xb)))].mean(axis=1)
        draws += ra - rb
    draws /= len(cells)
    low, high = np.percentile(draws, [2.5, 97.5])
    return estimate, float(low), float(high)


def _interval_text(cells: list[tuple[list[float], list[float]]], sign: float) -> str:
    estimate, low, high = difference_interval(cells)
    if low is None:
        return f" (mean difference {100 * sign * estimate:+.1f} pp; one seed per amount: no interval)"
    lo, hi = sorted((100 * sign * low, 100 * sign * high))
    sure = "" if lo > 0 else "; the interval includes no difference"
    return f" (mean difference {100 * sign * estimate:+.1f} pp, 95% bootstrap interval over seeds {lo:+.1f} to {hi:+.1f}{sure})"


def verdicts(models: list[Model], metrics: tuple[str, ...] = ("worst_class_change", "accuracy")) -> list[str]:
    """Plain-words technique comparisons at matched declared amounts (seed means) whose measured sparsities agree,
    each with the mean difference and a seed bootstrap interval over the amounts it covers."""
    table: dict[tuple[str, float], list[Model]] = {}
    for m in models:
        if m.technique is not None and m.amount is not None:
            table.setdefault((m.technique, m.amount), []).append(m)
    techniques = sorted({t for t, _ in table})
    out = []
    for metric in metrics:
        sign = 1.0 if SCALARS[metric].higher_is_better else -1.0
        label = SCALARS[metric].description
        for a, b in permutations(techniques, 2):
            shared = sorted(
                x for t, x in table if t == a and (b, x) in table and _comparable(table[(a, x)], table[(b, x)])
            )
            if len(shared) < 2:
                continue

            better = []
            for x in shared:
                ma, mb = _seed_mean(table[(a, x)], metric), _seed_mean(table[(b, x)], metric)
                better.append(ma is not None and mb is not None and sign * ma > sign * mb)
            k = len(shared)
            while k > 0 and better[k - 1]:
                k -= 1
            suffix = shared[k:]
            if len(suffix) < 2 and len(suffix) != len(shared):
                continue
            cells = [
                (
                    [v for v in (model_value(m, metric) for m in table[(a, x)]) if v is not None],
                    [v for v in (model_value(m, metric) for m in table[(b, x)]) if v is not None],
                )
                for x in suffix
            ]
            where = (
                f"at every shared amount ({', '.join(f'{x:.0%}' for x in shared)})"
                if len(suffix) == len(shared)
                else f"at every amount ≥ {suffix[0]:.0%} ({', '.join(f'{x:.0%}' for x in suffix)})"
            )
            out.append(f"{a} beats {b} on {label} {where}{_interval_text(cells, sign)}.")
    return out


def _accuracy_sparsity_front(models: list[Model]) -> list[str]:
    """Pruned models on the (sparsity, accuracy) front, both maximised: the line the operating-point chart draws."""
    kept, values = _matrix(models, ["sparsity", "accuracy"])
    return [m.name for m, on in zip(kept, pareto_mask(values, maximize=[True, True])) if on] if kept else []


def select(results: Results, selection: Selection) -> dict[str, Any]:
    """The selection block of results.json: fronts, picks, price of fairness, verdicts."""
    models = list(results.pruned)
    eps = Bound("accuracy_drop", "max", selection.max_accuracy_drop)
    picks = {
        "accuracy_only": _constrained_pick(models, (eps,), selection.prefer, "accuracy_only"),
        "fairness_aware": _constrained_pick(models, (eps, *selection.fairness), selection.prefer, "fairness_aware"),
        "value_function": _value_pick(models, selection),
        "knee": _knee_pick(models, selection),
    }
    by_name = {m.name: m for m in models}

    def chosen(p: dict[str, Any]) -> Model | None:
        name = p["model"] or p["closest"]
        return by_name.get(name) if name else None

    acc, fair = chosen(picks["accuracy_only"]), chosen(picks["fairness_aware"])
    price = None
    if acc is not None and fair is not None:
        price = {
            "accuracy_pick": acc.name,
            "fairness_pick": fair.name,
            "exact": picks["accuracy_only"]["feasible"] and picks["fairness_aware"]["feasible"],
            "sparsity_given_up": model_value(acc, "sparsity") - model_value(fair, "sparsity"),
            "nonzero_weights_added": model_value(fair, "weight_nonzero") - model_value(acc, "weight_nonzero"),
            "file_size_added": model_value(fair, "file_size_bytes") - model_value(acc, "file_size_bytes"),
            "accuracy_pick_worst_class_drop": model_value(acc, "worst_class_drop"),
            "accuracy_pick_worst_class": acc.vs_dense.worst_class_change.class_name,
            "accuracy_pick_harmed_significant_holm": model_value(acc, "harmed_significant_holm"),
            "fairness_pick_worst_class_drop": model_value(fair, "worst_class_drop"),
        }
    return {
        "objectives": [{"maximize": mx, "name": n} for n, mx in selection.objectives],
        "primary": selection.primary,
        "picks": picks,
        "price_of_fairness": price,
        "verdicts": verdicts(models),
        "accuracy_sparsity_front": _accuracy_sparsity_front(models),
        **_fronts(models, selection),
    }


def selected_model(results: Results) -> str | None:
    """The operating point a gate rule with scope "selected" checks: the primary policy's pick."""
    return None if results.selection is None else results.selection.primary_pick.model


def pairwise_fronts(results: Results) -> dict[tuple[str, str], tuple[str, ...]]:
    """For each pair of the saved selection's objectives, the pruned models on that pair's 2-D Pareto front, over
    the same candidates as the whole front (every objective defined): what the card's 2-D charts can show."""
    if results.selection is None:
        return {}
    objectives = [(o.name, o.maximize) for o in results.selection.objectives]
    kept, values = _matrix(list(results.pruned), [n for n, _ in objectives])
    out = {}
    for (i, (a, ma)), (j, (b, mb)) in combinations(enumerate(objectives), 2):
        mask = pareto_mask(values[:, [i, j]], maximize=[ma, mb]) if kept else np.array([], dtype=bool)
        out[(a, b)] = tuple(m.name for m, on in zip(kept, mask) if on)
    return out
