"""Turn results.json into what the templates show: rows, headlines, chart specs."""

from __future__ import annotations

from typing import Any

from pruneaudit.report import charts
from pruneaudit.report.text import pct, pp

NEAR_DENSE = 0.01  # "accuracy near dense": within 1 percentage point


def _pruned(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in results["models"] if m["vs_dense"] is not None]


def _finding(m: dict[str, Any]) -> str:
    vs = m["vs_dense"]
    worst = vs["worst_class_change"]
    return (
        f"{m['name']} ({charts.technique(m)}, {pct(m['facts']['sparsity'])} sparse): top-1 accuracy "
        f"{pp(vs['accuracy_change'])}, while class '{worst['class']}' recall {pp(worst['value'])}."
    )


def headlines(results: dict[str, Any]) -> list[str]:
    """Sentences written from the numbers: where aggregate accuracy hides a class's loss."""
    pruned = [m for m in _pruned(results) if m["vs_dense"]["worst_class_change"]["value"] is not None]
    if not pruned:
        return ["No pruned model has a defined per-class comparison with the dense model."]
    out = []
    near = [m for m in pruned if m["vs_dense"]["accuracy_change"] >= -NEAR_DENSE]
    if near:
        m = min(near, key=lambda m: (m["vs_dense"]["worst_class_change"]["value"], m["name"]))
        out.append(
            f"Largest single-class drop among the {len(near)} pruned models within {pp(NEAR_DENSE)[1:]} "
            f"of dense accuracy — {_finding(m)}"
        )
    else:
        out.append(f"No pruned model stays within {pp(NEAR_DENSE)[1:]} of dense accuracy.")
    m = min(pruned, key=lambda m: (m["vs_dense"]["worst_class_change"]["value"], m["name"]))
    out.append(f"Largest single-class drop overall — {_finding(m)}")
    return out


def model_table(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for m in results["models"]:
        vs = m["vs_dense"]
        md = m["metadata"]
        rows.append(
            {
                "name": m["name"],
                "technique": charts.technique(m),
                "amount": "" if md.get("amount") is None else pct(float(md["amount"])),
                "seed": "" if md.get("seed") is None else str(md["seed"]),
                "finetune_epochs": "" if md.get("finetune_epochs") is None else str(md["finetune_epochs"]),
                "sparsity": pct(m["facts"]["sparsity"]),
                "nonzero": f"{m['facts']['weight_nonzero']:,} / {m['facts']['weight_count']:,}",
                "accuracy": pct(m["metrics"]["accuracy"]),
                "accuracy_change": pp(vs["accuracy_change"]) if vs else "",
                "balanced_accuracy": pct(m["metrics"]["balanced_accuracy"]),
                "worst_change": pp(vs["worst_class_change"]["value"]) if vs else "",
                "worst_class": (vs["worst_class_change"]["class"] or "") if vs else "",
                "spread": pp(vs["recall_change_spread"]).replace("+", "") if vs else "",
                "changed": f"{vs['changed_predictions']:,} ({pct(vs['changed_fraction'])})" if vs else "",
                "backend": f"{m['backend']} on {m['device']}",
            }
        )
    return rows


def class_table(results: dict[str, Any]) -> dict[str, Any]:
    """Dense recall per class, then each pruned model's change in pp."""
    names = results["data"]["class_names"]
    dense = next(m for m in results["models"] if m["role"] == "dense")
    pruned = _pruned(results)
    rows = []
    for i, name in enumerate(names):
        changes = [m["vs_dense"]["per_class"]["recall_change"][i] for m in pruned]
        rows.append(
            {
                "name": name,
                "support": dense["per_class"]["support"][i],
                "dense_recall": pct(dense["per_class"]["recall"][i]),
                "changes": [{"text": pp(c).replace(" pp", ""), "value": c} for c in changes],
            }
        )
    return {"models": [m["name"] for m in pruned], "rows": rows}


def build_context(results: dict[str, Any]) -> dict[str, Any]:
    return {
        "results": results,
        "headlines": headlines(results),
        "models": model_table(results),
        "classes": class_table(results),
        "charts": [
            {
                "id": "accuracy-sparsity",
                "title": "Accuracy and worst-class change against sparsity",
                "summary": "Each point is a model; lines join models of one technique (and seed). "
                "The table of models above holds the same numbers.",
                "spec": charts.accuracy_vs_sparsity(results),
            },
            {
                "id": "recall-change",
                "title": "Per-class recall change against the dense model",
                "summary": "Orange cells lost recall, blue cells gained; colours saturate at "
                f"±{charts.HEATMAP_CLAMP_PP:.0f} pp. The per-class table below holds the exact numbers.",
                "spec": charts.recall_change_heatmap(results),
            },
        ],
    }
