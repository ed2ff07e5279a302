"""Plain-text views of results.json for the terminal."""

from __future__ import annotations

from typing import Any


def pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} pp"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def summary_table(results: dict[str, Any]) -> str:
    """Per model: sparsity, top-1, worst-class recall change vs dense and its class."""
    header = ("model", "sparsity", "top-1", "worst-class change", "class")
    rows = [header]
    for m in results["models"]:
        vs = m["vs_dense"]
        worst = vs["worst_class_change"] if vs else None
        rows.append(
            (
                m["name"],
                pct(m["facts"]["sparsity"]),
                pct(m["metrics"]["accuracy"]),
                pp(worst["value"]) if worst else "-",
                str(worst["class"]) if worst else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)
