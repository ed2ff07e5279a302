"""Plain-text views of an audit for the terminal, and the number formats every view shares.

Numbers: changes in pp and shares in % have one decimal, or the fewest more (up to 3) that show a value that
is not zero ("-0.03 pp" for one image of 3,000); a value even 3 decimals round to zero is "0.0", unsigned. So
the HTML card, the Markdown card and the terminal never print "-0.0 pp" or "+0.0 pp"."""

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


def _digits(v: float, sign: str) -> str:
    """``v`` with one decimal, or with the fewest more (up to 3) that show it is not zero; "0.0" when even
    3 decimals round to zero (a zero, or float noise in a mean): never "-0.0" or "+0.0"."""
    for decimals in (1, 2, 3):
        text = f"{v:{sign}.{decimals}f}"
        if float(text) != 0:
            return text
    return "0.0"


def pp(x: float | None) -> str:
    """A change in percentage points, signed: "+1.2 pp", "-0.03 pp" (a change too small for one decimal keeps
    its first digit), "0.0 pp" (no change, unsigned)."""
    return "n/a" if x is None else f"{_digits(100 * x, '+')} pp"


def unsigned_pp(x: float | None) -> str:
    """A size in percentage points (a tolerance, a spread, a gap): as `pp`, without the plus sign."""
    return "n/a" if x is None else f"{_digits(100 * x, '')} pp"


def pct(x: float | None) -> str:
    """A share (accuracy, sparsity) in percent, under `pp`'s rule for decimals: "80.9%", "0.03%", "0.0%"."""
    return "n/a" if x is None else f"{_digits(100 * x, '')}%"


def signed(x: float | None) -> str:
    """A signed number with two decimals (a correlation, a slope): "+0.41", "-0.07", "0.00" (no signed zero)."""
    return "n/a" if x is None else f"{x:+.2f}".replace("+0.00", "0.00").replace("-0.00", "0.00")


def p_value(p: float | None) -> str:
    """A p-value for a table cell: "0.016", "< 0.001" below a thousandth."""
    return "n/a" if p is None else "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_phrase(p: float) -> str:
    """A p-value in a sentence: "p = 0.016", "p < 0.001"."""
    return f"p {p_value(p)}" if p < 0.001 else f"p = {p_value(p)}"


def class_or_none(value: float | None, name: str | None) -> str:
    """The worst class's name, or "(none)" where its change is zero: no class lost recall, and which of the
    unchanged classes came first in label order says nothing."""
    return "(none)" if value == 0 else name or ""


TERMINAL_MODELS = 50  # the summary lists every model up to this many, else the dense model and the worst ones


def summary_table(results: Results) -> str:
    """Per model: sparsity, top-1, worst-class recall change vs dense and its class (names as plain text:
    a name from a results file cannot send escape sequences to the terminal). Beyond TERMINAL_MODELS, the
    dense model and the pruned ones whose worst class lost most, with a line saying how many are left out."""
    from pruneaudit.report.population import worst_models  # numpy, which the plain listing does not need

    header = ("model", "sparsity", "top-1", "worst-class change", "class")
    rows = [header]
    listed = results.models
    if len(listed) > TERMINAL_MODELS:
        worst = {m.name for m in worst_models(results, k=TERMINAL_MODELS - 1)}
        listed = tuple(m for m in results.models if not m.is_pruned or m.name in worst)
    for m in listed:
        worst = m.vs_dense.worst_class_change if m.vs_dense else None
        rows.append(
            (
                plain_text(m.name),
                pct(m.facts.sparsity),
                pct(m.metrics.accuracy),
                pp(worst.value) if worst else "-",
                plain_text(class_or_none(worst.value, worst.class_name)) if worst else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if len(listed) < len(results.models):
        lines.append(
            f"({len(listed) - 1} of {len(results.pruned):,} pruned models: those whose worst class lost most; "
            "results.json and the card cover all)"
        )
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
    if worst is not None and worst <= 0:  # a drop of zero names the first unchanged class: say what it means
        harm = f"The accuracy-only pick {acc} lowers no class's recall."
    else:
        harm = (
            f"The accuracy-only pick {acc} costs class '{price.accuracy_pick_worst_class}' {unsigned_pp(worst)} "
            f"of recall, with {int(price.accuracy_pick_harmed_significant_holm or 0)} significantly harmed classes."
        )
    if acc == fair:
        return f"Both policies pick {acc}: fairness costs nothing here{approx}. {harm}"
    return (
        f"Price of fairness{approx}: choosing {fair} over {acc} gives up {unsigned_pp(price.sparsity_given_up)} of sparsity "
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
