"""Plain-text views of an audit for the terminal, and the number formats every view shares."""

from __future__ import annotations

from pruneaudit.escape import plain_text
from pruneaudit.results import Results
from pruneaudit.results.view import Pick, Price

POLICY_TITLES = {
    "accuracy_only": "accuracy-only",
    "fairness_aware": "fairness-aware",
    "value_function": "value function",
    "knee": "knee",
}


def pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} pp"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def summary_table(results: Results) -> str:
    """Per model: sparsity, top-1, worst-class recall change vs dense and its class (names as plain text:
    a name from a results file cannot send escape sequences to the terminal)."""
    header = ("model", "sparsity", "top-1", "worst-class change", "class")
    rows = [header]
    for m in results.models:
        worst = m.vs_dense.worst_class_change if m.vs_dense else None
        rows.append(
            (
                plain_text(m.name),
                pct(m.facts.sparsity),
                pct(m.metrics.accuracy),
                pp(worst.value) if worst else "-",
                plain_text(worst.class_name) if worst else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def pick_line(pick: Pick) -> str:
    if pick.model:
        return f"{pick.model}: {pick.reason}"
    closest = f"; closest: {pick.closest}" if pick.closest else ""
    return f"none: {pick.reason}{closest}"


def price_sentence(price: Price | None) -> str:
    """What fairness costs: sparsity given up by the fairness-aware pick, and what the accuracy-only pick costs the worst class."""
    if price is None:
        return "No price of fairness: a pick is missing."
    acc, fair = price.accuracy_pick, price.fairness_pick
    approx = "" if price.exact else " (using the closest model for a policy no model satisfies)"
    worst = price.accuracy_pick_worst_class_drop
    harm = (
        f"The accuracy-only pick {acc} costs class '{price.accuracy_pick_worst_class}' "
        f"{'n/a' if worst is None else f'{100 * worst:.1f} pp'} of recall, with {int(price.accuracy_pick_harmed_significant_holm or 0)} significantly harmed classes."
    )
    if acc == fair:
        return f"Both policies pick {acc}: fairness costs nothing here{approx}. {harm}"
    return (
        f"Price of fairness{approx}: choosing {fair} over {acc} gives up {100 * price.sparsity_given_up:.1f} pp of sparsity "
        f"({int(price.nonzero_weights_added):+,} non-zero weights, {int(price.file_size_added):+,} bytes). {harm}"
    )


def selection_text(results: Results) -> str:
    """The operating-point picks, the price of fairness and the fronts, as `pruneaudit select` prints them."""
    sel = results.selection
    lines = ["Operating point picks:"]
    for key, pick in sel.picks.items():
        marker = " (primary)" if key == sel.primary else ""
        lines.append(f"  {POLICY_TITLES[key]}{marker}: {pick_line(pick)}")
    lines += [
        "",
        price_sentence(sel.price_of_fairness),
        "",
        "Pareto front ("
        + ", ".join(f"{o.name} {'max' if o.maximize else 'min'}" for o in sel.objectives)
        + "): "
        + (", ".join(sel.front) or "empty"),
    ]
    if sel.techniques:
        lines.append("Hypervolume per technique (objectives scaled to [0, 1]; reference = worst candidate value):")
        lines += [
            f"  {t.technique}: {t.hypervolume:.3f} ({len(t.front)} of {len(t.models)} models on its front)"
            for t in sel.techniques
        ]
    if sel.verdicts:
        lines += ["", "Technique comparison:"] + [f"  {v}" for v in sel.verdicts]
    return "\n".join(lines)
