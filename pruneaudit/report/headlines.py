"""Sentences written from the numbers, and the choice of the model the detail views focus on."""

from __future__ import annotations

from dataclasses import dataclass

from pruneaudit.report.text import POLICY_TITLES, pct, pick_line, pp, price_sentence, unsigned_pp
from pruneaudit.results import Model, Results

NEAR_DENSE = 0.01  # "accuracy near dense": within 1 percentage point


@dataclass(frozen=True)
class Spotlight:
    """The pruned model the worst-classes chart, confusions and subgroup chart show, and why that one."""

    model: Model
    why: str


def comparable(results: Results) -> list[Model]:
    """Pruned models whose worst-class change is defined: the ones a headline can speak about."""
    return [m for m in results.pruned if m.vs_dense.worst_class_change.value is not None]


def most_harmed(pruned: list[Model]) -> Model:
    """Most significantly harmed classes; ties: the larger accuracy drop, then the name."""
    return max(pruned, key=lambda m: (m.vs_dense.harmed_significant_holm, -m.vs_dense.accuracy_change, m.name))


def spotlight(results: Results) -> Spotlight | None:
    """The accuracy-only pick (what a team would usually ship), else the model with the most
    significantly harmed classes; None when no pruned model has a defined comparison."""
    pruned = comparable(results)
    if not pruned:
        return None
    pick = results.selection.picks["accuracy_only"].model if results.selection else None
    chosen = next((m for m in pruned if m.name == pick), None)  # None also when the pick has no defined comparison
    if chosen is not None:
        return Spotlight(chosen, "the accuracy-only pick")
    return Spotlight(most_harmed(pruned), "the pruned model with the most significantly harmed classes")


def _finding(m: Model, alpha: float) -> str:
    """One model's top-1 change and its worst class; a model whose worst change is not a loss names no class
    (the first of the unchanged classes would say nothing)."""
    vs = m.vs_dense
    worst = vs.worst_class_change
    n_sig = vs.harmed_significant_holm
    head = f"{m.name} ({m.technique_label}, {pct(m.facts.sparsity)} sparse): top-1 accuracy {pp(vs.accuracy_change)}"
    if worst.value >= 0:
        return f"{head}; no class lost recall."
    return (
        f"{head} while class '{worst.class_name}' recall {pp(worst.value)}; "
        f"{n_sig} class{'es are' if n_sig != 1 else ' is'} significantly harmed (McNemar, Holm p < {alpha:g})."
    )


def _near_dense(pruned: list[Model], alpha: float) -> list[str]:
    """The sparsest model and the largest single-class drop among models that keep dense accuracy."""
    within = unsigned_pp(NEAR_DENSE)
    near = [m for m in pruned if m.vs_dense.accuracy_change >= -NEAR_DENSE]
    if not near:
        return [f"No pruned model stays within {within} of dense accuracy."]
    sparsest = max(near, key=lambda m: (m.facts.sparsity, m.vs_dense.accuracy_change, m.name))
    drop = min(near, key=lambda m: (m.vs_dense.worst_class_change.value, m.name))
    return [
        f"Sparsest model within {within} of dense accuracy — {_finding(sparsest, alpha)}",
        f"Largest single-class drop within {within} of dense accuracy — {_finding(drop, alpha)}"
        if drop.vs_dense.worst_class_change.value < 0
        else f"No pruned model within {within} of dense accuracy lowers any class's recall.",
    ]


def _most_harmed(pruned: list[Model], alpha: float) -> str:
    """The model with the most significantly harmed classes; when no model has one, that said, then the model
    with the largest top-1 drop (if any model dropped)."""
    m = most_harmed(pruned)
    if m.vs_dense.harmed_significant_holm:
        return f"Most classes significantly harmed — {_finding(m, alpha)}"
    none = f"No pruned model harms a class significantly (McNemar, Holm p < {alpha:g})."
    return f"{none} Largest top-1 drop — {_finding(m, alpha)}" if m.vs_dense.accuracy_change < 0 else none


def headlines(results: Results) -> list[str]:
    """Where aggregate accuracy hides a class's loss, then the operating point and the gate's verdict."""
    alpha = results.settings.alpha
    pruned = comparable(results)
    if not pruned:
        return ["No pruned model has a defined per-class comparison with the dense model."]
    out = _near_dense(pruned, alpha)
    out.append(_most_harmed(pruned, alpha))
    sel = results.selection
    if sel:
        out.append(
            f"Operating point ({POLICY_TITLES[sel.primary]} policy) — {pick_line(sel.primary_pick)}. {price_sentence(sel.price_of_fairness)}"
        )
    gate = results.gate
    if gate:
        out.append(
            f"Release gate — {'passed' if gate.passed else 'FAILED'}: {gate.total - gate.failed} of {gate.total} checks pass."
        )
    return out
