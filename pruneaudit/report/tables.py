"""Flat per-class table (CSV) and the Markdown card's front matter, from results.json."""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml

COLUMNS = (
    "model",
    "class_index",
    "class",
    "support",
    "recall",
    "recall_low",
    "recall_high",
    "precision",
    "f1",
    "fpr",
    "fnr",
    "recall_change",
    "recall_change_low",
    "recall_change_high",
    "normalised_change",
    "excess_gap",
    "dense_only",
    "pruned_only",
    "mcnemar_p",
    "mcnemar_p_holm",
    "mcnemar_p_bh",
)


def _cell(v: Any) -> str:
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def per_class_csv(results: dict[str, Any]) -> str:
    """One row per model × class; empty cells are undefined values (null in results.json)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    names = results["data"]["class_names"]
    for m in results["models"]:
        pc = m["per_class"]
        vs = (m["vs_dense"] or {}).get("per_class")
        for i, name in enumerate(names):
            row = [
                m["name"],
                i,
                name,
                pc["support"][i],
                pc["recall"][i],
                pc["recall_ci"]["low"][i],
                pc["recall_ci"]["high"][i],
                pc["precision"][i],
                pc["f1"][i],
                pc["fpr"][i],
                pc["fnr"][i],
            ]
            if vs:
                row += [
                    vs["recall_change"][i],
                    vs["recall_change_ci"]["low"][i],
                    vs["recall_change_ci"]["high"][i],
                    vs["normalised_change"][i],
                    vs["excess_gap"][i],
                    vs["dense_only"][i],
                    vs["pruned_only"][i],
                    vs["mcnemar_p"][i],
                    vs["mcnemar_p_holm"][i],
                    vs["mcnemar_p_bh"][i],
                ]
            else:
                row += [None] * 10
            w.writerow([_cell(v) for v in row])
    return out.getvalue()


def per_class_parquet(results: dict[str, Any]) -> bytes:
    """The same table as per_class.csv, typed, as Parquet (deterministic for a given pyarrow)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.read_csv(
        io.StringIO(per_class_csv(results)), dtype={"model": str, "class": str}, keep_default_na=False, na_values=[""]
    )
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)  # no pandas JSON blob
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def front_matter(results: dict[str, Any], card: dict[str, Any]) -> str:
    """YAML front matter for a GitHub release or a Hugging Face model repository (model-index)."""
    data = results["data"]
    entries = []
    for m in results["models"]:
        metrics = [
            {"type": "accuracy", "name": "Top-1 accuracy", "value": m["metrics"]["accuracy"]},
            {"type": "balanced_accuracy", "name": "Balanced accuracy", "value": m["metrics"]["balanced_accuracy"]},
            {
                "type": "worst_class_recall",
                "name": "Worst-class recall",
                "value": m["metrics"]["worst_class_recall"]["value"],
            },
        ]
        if m["vs_dense"]:
            metrics += [
                {
                    "type": "worst_class_recall_change",
                    "name": "Worst-class recall change vs dense",
                    "value": m["vs_dense"]["worst_class_change"]["value"],
                },
                {
                    "type": "significantly_harmed_classes",
                    "name": "Classes significantly harmed (McNemar, Holm)",
                    "value": m["vs_dense"]["harmed_significant_holm"],
                },
            ]
        entries.append(
            {
                "name": m["name"],
                "results": [
                    {
                        "task": {"type": "image-classification", "name": "Image classification"},
                        "dataset": {
                            "name": data["file"],
                            "type": data["file"],
                            "split": "all" if data["split"] is None else str(data["split"]),
                        },
                        "metrics": [x for x in metrics if x["value"] is not None],
                    }
                ],
            }
        )
    meta: dict[str, Any] = {"tags": ["pruning", "pruneaudit", "model-card"], "model-index": entries}
    licence = card.get("licence")
    if licence:  # Hugging Face wants an identifier; free text goes to license_name
        if " " in licence:
            meta.update({"license": "other", "license_name": licence})
        else:
            meta["license"] = licence.lower()
    if card.get("name"):
        meta["model_name"] = card["name"]
    return "---\n" + yaml.safe_dump(meta, sort_keys=True, allow_unicode=True, width=100) + "---\n"
