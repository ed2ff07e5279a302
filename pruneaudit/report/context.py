"""Turn results.json into what the templates show: rows, headlines, chart specs."""

from __future__ import annotations

from typing import Any

from pruneaudit.report import charts
from pruneaudit.report.text import POLICY_TITLES, pct, pick_line, pp, price_sentence

NEAR_DENSE = 0.01  # "accuracy near dense": within 1 percentage point
MAX_MATRIX_CLASSES = 50  # confusion matrices drawn up to this many classes; top confusions beyond
TOP_CONFUSIONS = 10
OPEN_GALLERIES = 1
MAX_GALLERIES = 8  # thumbnail galleries in the card; keeps 50-model cards within their size budget


def _pruned(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in results["models"] if m["vs_dense"] is not None]


def _dense(results: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in results["models"] if m["role"] == "dense")


def _finding(m: dict[str, Any], alpha: float) -> str:
    vs = m["vs_dense"]
    worst = vs["worst_class_change"]
    n_sig = vs["harmed_significant_holm"]
    return (
        f"{m['name']} ({charts.technique(m)}, {pct(m['facts']['sparsity'])} sparse): top-1 accuracy "
        f"{pp(vs['accuracy_change'])} while class '{worst['class']}' recall {pp(worst['value'])}; "
        f"{n_sig} class{'es are' if n_sig != 1 else ' is'} significantly harmed (McNemar, Holm p < {alpha:g})."
    )


def _defined(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in _pruned(results) if m["vs_dense"]["worst_class_change"]["value"] is not None]


def _most_harmed(pruned: list[dict[str, Any]]) -> dict[str, Any]:
    """Most significantly harmed classes; ties: the larger accuracy drop, then the name."""
    return max(
        pruned, key=lambda m: (m["vs_dense"]["harmed_significant_holm"], -m["vs_dense"]["accuracy_change"], m["name"])
    )


def headlines(results: dict[str, Any]) -> list[str]:
    """Sentences written from the numbers: where aggregate accuracy hides a class's loss."""
    alpha = results["settings"]["alpha"]
    pruned = _defined(results)
    if not pruned:
        return ["No pruned model has a defined per-class comparison with the dense model."]
    out = []
    near = [m for m in pruned if m["vs_dense"]["accuracy_change"] >= -NEAR_DENSE]
    if near:
        m = max(near, key=lambda m: (m["facts"]["sparsity"], m["vs_dense"]["accuracy_change"], m["name"]))
        out.append(f"Sparsest model within {pp(NEAR_DENSE)[1:]} of dense accuracy — {_finding(m, alpha)}")
        m = min(near, key=lambda m: (m["vs_dense"]["worst_class_change"]["value"], m["name"]))
        out.append(f"Largest single-class drop within {pp(NEAR_DENSE)[1:]} of dense accuracy — {_finding(m, alpha)}")
    else:
        out.append(f"No pruned model stays within {pp(NEAR_DENSE)[1:]} of dense accuracy.")
    out.append(f"Most classes significantly harmed — {_finding(_most_harmed(pruned), alpha)}")
    sel = results.get("selection")
    if sel:
        primary = sel["picks"][sel["primary"]]
        out.append(
            f"Operating point ({POLICY_TITLES[sel['primary']]} policy) — {pick_line(primary)}. {price_sentence(sel['price_of_fairness'])}"
        )
    gate = results.get("gate")
    if gate:
        out.append(
            f"Release gate — {'passed' if gate['passed'] else 'FAILED'}: {gate['total'] - gate['failed']} of {gate['total']} checks pass."
        )
    return out


def _optional(value: Any, fmt) -> str:
    return "" if value is None else fmt(value)


def model_table(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for m in results["models"]:
        vs = m["vs_dense"] or {}
        md = m["metadata"]
        worst = vs.get("worst_class_change") or {}
        rows.append(
            {
                "name": m["name"],
                "technique": charts.technique(m),
                "amount": _optional(md.get("amount"), lambda v: pct(float(v))),
                "seed": _optional(md.get("seed"), str),
                "finetune_epochs": _optional(md.get("finetune_epochs"), str),
                "sparsity": pct(m["facts"]["sparsity"]),
                "nonzero": f"{m['facts']['weight_nonzero']:,} / {m['facts']['weight_count']:,}",
                "accuracy": pct(m["metrics"]["accuracy"]),
                "top5": _optional(m["metrics"]["top5_accuracy"], pct),
                "accuracy_change": _optional(vs.get("accuracy_change"), pp),
                "balanced_accuracy": pct(m["metrics"]["balanced_accuracy"]),
                "worst_change": _optional(worst.get("value"), pp),
                "worst_class": worst.get("class") or "",
                "max_excess_gap": _optional(vs.get("max_excess_gap"), lambda v: pp(v).replace("+", "")),
                "spread": _optional(vs.get("recall_change_spread"), lambda v: pp(v).replace("+", "")),
                "intensification": _optional(vs.get("intensification"), lambda v: f"{v:.2f}"),
                "harmed": _optional(vs.get("harmed"), str),
                "significant": _optional(vs.get("harmed_significant_holm"), str),
                "significant_bh": _optional(vs.get("harmed_significant_bh"), str),
                "changed": f"{vs['changed_predictions']:,} ({pct(vs['changed_fraction'])})" if vs else "",
                "backend": f"{m['backend']} on {m['device']}" + (f" ({m['dtype']})" if m["dtype"] != "n/a" else ""),
                "output_kind": m["output_kind"],
                "latency": "" if not m["timing"] else f"{1000 * m['timing']['median_batch_seconds']:.1f} ms",
                "mismatch": bool(m["facts"]["declared_amount_mismatch"]),
                "layers": [
                    {"name": x["name"], "count": f"{x['count']:,}", "sparsity": pct(x["sparsity"])}
                    for x in m["facts"]["layers"]
                ],
            }
        )
    return rows


def class_table(results: dict[str, Any]) -> dict[str, Any]:
    """Dense recall per class, then each pruned model's change in pp (* = Holm-significant harm)."""
    names = results["data"]["class_names"]
    alpha = results["settings"]["alpha"]
    dense = _dense(results)
    pruned = _pruned(results)
    rows = []
    for i, name in enumerate(names):
        cells = []
        for m in pruned:
            pc = m["vs_dense"]["per_class"]
            change = pc["recall_change"][i]
            p_holm = pc["mcnemar_p_holm"][i]
            significant = p_holm is not None and p_holm < alpha and pc["dense_only"][i] > pc["pruned_only"][i]
            low, high = pc["recall_change_ci"]["low"][i], pc["recall_change_ci"]["high"][i]
            cells.append(
                {
                    "text": pp(change).replace(" pp", "") + ("*" if significant else ""),
                    "value": change,
                    "significant": significant,
                    "title": "" if low is None else f"95% CI {pp(low)} to {pp(high)}; Holm p = {p_holm:.3g}",
                }
            )
        rows.append(
            {
                "name": name,
                "support": dense["per_class"]["support"][i],
                "dense_recall": pct(dense["per_class"]["recall"][i]),
                "changes": cells,
            }
        )
    return {"models": [m["name"] for m in pruned], "rows": rows}


def top_confusions(results: dict[str, Any], model: dict[str, Any]) -> list[dict[str, Any]]:
    names = results["data"]["class_names"]
    support = model["per_class"]["support"]
    cells = [c for c in model["confusion"] if c[0] != c[1]]
    cells.sort(key=lambda c: (-c[2], c[0], c[1]))
    return [
        {"true": names[t], "predicted": names[p], "count": n, "share": pct(n / support[t]) if support[t] else "n/a"}
        for t, p, n in cells[:TOP_CONFUSIONS]
    ]


def _spotlight(results: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The pruned model the detail views focus on, and why: the accuracy-only pick (what a team
    would usually ship), else the model with the most significantly harmed classes."""
    pruned = _defined(results)
    if not pruned:
        return None
    sel = results.get("selection")
    pick = sel["picks"]["accuracy_only"]["model"] if sel else None
    if pick is not None:
        return next(m for m in pruned if m["name"] == pick), "the accuracy-only pick"
    return _most_harmed(pruned), "the pruned model with the most significantly harmed classes"


def configurations(results: dict[str, Any]) -> list[dict[str, Any]]:
    names = results["data"]["class_names"]
    out = []
    ordered = sorted(results["configurations"], key=lambda c: (-c["pie_count"], ",".join(c["models"])))
    for i, c in enumerate(ordered):
        pop = c["population_test"]
        out.append(
            {
                "label": ", ".join(c["models"]),
                "technique": c["technique"] or "",
                "amount": "" if c["amount"] is None else pct(c["amount"]),
                "n_models": len(c["models"]),
                "pie_count": f"{c['pie_count']:,}",
                "pie_fraction": pct(c["pie_fraction"]),
                "population": None
                if pop is None
                else f"{pop['significant']} (Holm: {pop['significant_holm']}) — {pop['method']} t-test",
                "open": i < OPEN_GALLERIES,
                "pies": [
                    {
                        "src": p["thumbnail"],
                        "index": p["index"],
                        "label": names[p["label"]],
                        "dense": names[p["dense_pred"]],
                        "pruned": names[p["pruned_pred"]],
                        "fragility": p["fragility"],
                    }
                    for p in c["top_pies"]
                ],
            }
        )
    return out


def subgroup_tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per grouping: rows = groups, columns = pruned models, cells = accuracy change."""
    models = [m["name"] for m in _pruned(results)]
    tables: dict[str, dict[str, Any]] = {}
    for g in results["subgroups"]:
        t = tables.setdefault(g["grouping"], {"name": g["grouping"], "rows": {}})
        row = t["rows"].setdefault(
            g["group"], {"group": g["group"], "n": g["n_samples"], "dense": pct(g["dense_accuracy"]), "cells": {}}
        )
        row["cells"][g["model"]] = {
            "text": _optional(g["accuracy_change"], lambda v: pp(v).replace(" pp", "")),
            "value": g["accuracy_change"],
            "title": f"worst class {g['worst_class_change']['class']}: {_optional(g['worst_class_change']['value'], pp)}; "
            f"{g['harmed_significant_holm']} classes significantly harmed",
        }
    return [
        {
            "name": t["name"],
            "models": models,
            "rows": [{**r, "cells": [r["cells"][m] for m in models]} for r in t["rows"].values()],
        }
        for t in tables.values()
    ]


def selection_view(results: dict[str, Any]) -> dict[str, Any] | None:
    sel = results.get("selection")
    if not sel:
        return None
    return {
        "picks": [
            {
                "policy": POLICY_TITLES[k],
                "primary": k == sel["primary"],
                "text": pick_line(p),
                "feasible": p["feasible"],
            }
            for k, p in sel["picks"].items()
        ],
        "price": price_sentence(sel["price_of_fairness"]),
        "objectives": ", ".join(f"{o['name']} ({'max' if o['maximize'] else 'min'})" for o in sel["objectives"]),
        "front": ", ".join(sel["front"]),
        "techniques": [
            {
                "name": t["technique"],
                "hypervolume": f"{t['hypervolume']:.3f}",
                "front": ", ".join(t["front"]),
                "n": len(t["models"]),
            }
            for t in sorted(sel["techniques"], key=lambda t: -t["hypervolume"])
        ],
        "dominance": [d for d in sel["dominance"] if d["pairs"]],
        "verdicts": sel["verdicts"],
    }


def build_context(
    results: dict[str, Any], *, card: dict[str, Any] | None = None, timestamp: str | None = None
) -> dict[str, Any]:
    focus = _spotlight(results)
    spotlight, why = focus if focus else (None, "")
    n_classes = results["data"]["n_classes"]
    chart_list = [
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
            f"±{charts.HEATMAP_CLAMP_PP:.0f} pp. The per-class table below holds the exact numbers."
            + (
                f" Only the {charts.HEATMAP_CLASSES} classes hit hardest by any model are drawn."
                if n_classes > charts.HEATMAP_CLASSES
                else ""
            ),
            "spec": charts.recall_change_heatmap(results),
        },
    ]
    chart_list.append(
        {
            "id": "change-distribution",
            "title": "Distribution of per-class change",
            "summary": "For each pruned model: the box spans the middle half of the classes' recall changes, the line "
            "runs from the worst to the best class, the tick is the median; the dashed line is no change.",
            "spec": charts.change_distribution(results),
        }
    )
    if spotlight is not None:
        chart_list.append(
            {
                "id": "worst-classes",
                "title": f"Worst-hit classes in {spotlight['name']}",
                "summary": f"The classes whose recall fell most (up to {charts.WORST_K}) in {spotlight['name']}, {why}, "
                "with 95% Newcombe intervals; the per-class table has all classes.",
                "spec": charts.worst_k(results, spotlight),
            }
        )
    if results["subgroups"] and spotlight is not None:
        chart_list.append(
            {
                "id": "subgroup-chart",
                "title": f"Subgroups: top-1 change of {spotlight['name']}",
                "summary": "Top-1 accuracy change within each attribute value and each intersection; the subgroup tables "
                "below give every model.",
                "spec": charts.subgroup_changes(results, spotlight["name"]),
            }
        )
    if results.get("selection"):
        chart_list += [
            {
                "id": "operating-points",
                "title": "Operating points",
                "summary": "Pruned models by sparsity and accuracy, coloured by worst-class change; the dashed line is the "
                "accuracy–sparsity front and squares mark each policy's pick. Models more than "
                f"{100 * charts.OPERATING_WINDOW:.0f} pp below the best top-1 are left off (they are in the tables). "
                "The selection section below states the same picks in words.",
                "spec": charts.operating_points(results),
            },
            {
                "id": "accuracy-disparity",
                "title": "Accuracy against disparity, per technique",
                "summary": "Lines follow each technique (and seed) from low to high sparsity; filled points are on the "
                "Pareto front over the selection objectives. Up and to the right is better on both axes. Hypervolumes "
                "in the selection section summarise each technique's front.",
                "spec": charts.accuracy_vs_disparity(results),
            },
        ]
    if spotlight is not None and n_classes <= MAX_MATRIX_CLASSES:
        chart_list.append(
            {
                "id": "confusion",
                "title": f"Confusion matrices: dense and {spotlight['name']}",
                "summary": "Rows are true classes, columns predicted classes; cells show the share of each true class "
                "(square-root colour scale). The top-confusions tables below list the largest off-diagonal cells.",
                "spec": charts.confusion_pair(results, _dense(results), spotlight),
            }
        )
    return {
        "results": results,
        "headlines": headlines(results),
        "models": model_table(results),
        "timed": any(m["timing"] for m in results["models"]),
        "classes": class_table(results),
        "charts": chart_list,
        "spotlight": None
        if spotlight is None
        else {
            "name": spotlight["name"],
            "why": why,
            "dense_confusions": top_confusions(results, _dense(results)),
            "confusions": top_confusions(results, spotlight),
        },
        "configurations": configurations(results),
        "max_galleries": MAX_GALLERIES,
        "subgroups": subgroup_tables(results),
        "selection": selection_view(results),
        "card": card_view(results, card if card is not None else results.get("card")),
        "timestamp": timestamp,
        "gate": results.get("gate"),
        "alpha": results["settings"]["alpha"],
        "tolerance": pp(results["settings"]["tolerance"])[1:],
    }


def _wilson_half_width(k: int, n: int, z: float = 1.959964) -> float:
    p = k / n
    return z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)


def automatic_caveats(results: dict[str, Any]) -> list[str]:
    """Caveats that follow from the audit itself, whatever the owner wrote."""
    dense = _dense(results)
    support = dense["per_class"]["support"]
    names = results["data"]["class_names"]
    out = []
    present = [(s, i) for i, s in enumerate(support) if s > 0]
    if present:
        s, i = min(present)
        k = dense["per_class"]["correct"][i]
        out.append(
            f"The smallest class ('{names[i]}') has {s} images: its 95% recall interval is about "
            f"±{100 * _wilson_half_width(k, s):.1f} pp, so smaller per-class changes are within noise."
        )
    missing = [names[i] for i, s in enumerate(support) if s == 0]
    if missing:
        out.append(
            f"{len(missing)} class(es) have no evaluation images and are not audited: {', '.join(missing[:10])}."
        )
    if any((c["population_test"] or {}).get("method") == "one-sample" for c in results["configurations"]):
        out.append(
            "Only one dense model was audited: population tests over pruning seeds treat its recall as a fixed "
            "reference (one-sample t-test) instead of comparing two populations (Welch)."
        )
    if not results["data"]["attributes"]:
        out.append("No subgroup attributes were provided, so harm to groups that cut across classes is not measured.")
    return out


def automatic_recommendations(results: dict[str, Any]) -> list[str]:
    sel = results.get("selection")
    if not sel:
        return []
    out = []
    primary = sel["picks"][sel["primary"]]
    if primary["model"]:
        out.append(f"Candidate operating point ({POLICY_TITLES[sel['primary']]} policy): {primary['model']}.")
    else:
        out.append(
            f"No model satisfies the {POLICY_TITLES[sel['primary']]} policy"
            + (f"; the closest is {primary['closest']}." if primary["closest"] else ".")
        )
    acc = sel["picks"]["accuracy_only"]["model"]
    if acc and acc != primary["model"]:
        out.append(
            f"The accuracy-only choice, {acc}, is not recommended without review: {price_sentence(sel['price_of_fairness'])}"
        )
    return out


def card_view(results: dict[str, Any], card: dict[str, Any] | None) -> dict[str, Any]:
    """Owner-written parts (None = not provided, shown as such) and facts the audit knows."""
    from pruneaudit.card import CARD_KEYS

    owner = {key: (card or {}).get(key) for key in CARD_KEYS}
    support = [s for s in _dense(results)["per_class"]["support"]]
    data = results["data"]
    return {
        "owner": owner,
        "title": owner["name"] or f"Pruning audit — {data['file']}",
        "classes": len(data["class_names"]),
        "attributes": data["attributes"],
        "support_range": f"{min(support):,}–{max(support):,}" if support else "n/a",
        "caveats": automatic_caveats(results),
        "recommendations": automatic_recommendations(results),
    }
