"""Caveats and recommendations that follow from the audit itself, whatever the owner wrote."""

from __future__ import annotations

from pruneaudit.report.text import POLICY_TITLES, price_sentence
from pruneaudit.results import Results

MAX_LISTED = 10  # classes named in the "no evaluation images" caveat


def automatic_caveats(results: Results) -> list[str]:
    """Noise in the smallest class, classes not audited, a single dense model, no subgroups."""
    dense = results.dense.per_class
    names = results.data.class_names
    out = []
    present = [(s, i) for i, s in enumerate(dense.support) if s > 0]
    if present:
        s, i = min(present)
        out.append(
            f"The smallest class ('{names[i]}') has {s} images: its 95% recall interval is about "
            f"±{100 * (dense.recall_ci.high[i] - dense.recall_ci.low[i]) / 2:.1f} pp, so smaller per-class changes are "
            "within noise."
        )
    missing = [names[i] for i, s in enumerate(dense.support) if s == 0]
    if missing:
        out.append(
            f"{len(missing)} class(es) have no evaluation images and are not audited: {', '.join(missing[:MAX_LISTED])}."
        )
    if any(c.population_test is not None and c.population_test.method == "one-sample" for c in results.configurations):
        out.append(
            "Only one dense model was audited: population tests over pruning seeds treat its recall as a fixed "
            "reference (one-sample t-test) instead of comparing two populations (Welch)."
        )
    if not results.data.attributes:
        out.append("No subgroup attributes were provided, so harm to groups that cut across classes is not measured.")
    return out


def automatic_recommendations(results: Results) -> list[str]:
    """The candidate operating point, and a warning when the accuracy-only pick differs from it."""
    sel = results.selection
    if not sel:
        return []
    primary, title = sel.primary_pick, POLICY_TITLES[sel.primary]
    if primary.model:
        out = [f"Candidate operating point ({title} policy): {primary.model}."]
    else:
        closest = f"; the closest is {primary.closest}." if primary.closest else "."
        out = [f"No model satisfies the {title} policy{closest}"]
    acc = sel.picks["accuracy_only"].model
    if acc and acc != primary.model:
        out.append(
            f"The accuracy-only choice, {acc}, is not recommended without review: {price_sentence(sel.price_of_fairness)}"
        )
    return out
