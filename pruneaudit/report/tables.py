"""The flat per-class table (CSV and Parquet) and the Markdown card's front matter, from the typed view."""

from __future__ import annotations

import io
from typing import Any

import yaml

from pruneaudit.escape import spreadsheet_text
from pruneaudit.results import Model, Results
from pruneaudit.results.view import Card, ChangePerClass, Data

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


TEXT_COLUMNS = ("model", "class")
INTEGER_COLUMNS = ("class_index", "support")  # every other column is a float (null when undefined)


def _cell(v: Any) -> str:
    """A CSV cell: numbers as numbers, text (model and class names) never read as a spreadsheet formula."""
    if isinstance(v, str):
        return spreadsheet_text(v)
    return "" if v is None else repr(v) if isinstance(v, float) else str(v)


def _comparison_cells(pc: ChangePerClass | None, i: int) -> list[Any]:
    """Class i's comparison columns; all empty for the dense model."""
    if pc is None:
        return [None] * 10
    return [
        pc.recall_change[i],
        pc.recall_change_ci.low[i],
        pc.recall_change_ci.high[i],
        pc.normalised_change[i],
        pc.excess_gap[i],
        pc.dense_only[i],
        pc.pruned_only[i],
        pc.mcnemar_p[i],
        pc.mcnemar_p_holm[i],
        pc.mcnemar_p_bh[i],
    ]


def _rows(results: Results) -> list[list[Any]]:
    """One typed row per model × class, in COLUMNS order; None is an undefined value (null in results.json)."""
    rows = []
    for m in results.models:
        pc = m.per_class
        vs = m.vs_dense.per_class if m.vs_dense else None
        for i, name in enumerate(results.data.class_names):
            rows.append(
                [
                    m.name,
                    i,
                    name,
                    pc.support[i],
                    pc.recall[i],
                    pc.recall_ci.low[i],
                    pc.recall_ci.high[i],
                    pc.precision[i],
                    pc.f1[i],
                    pc.fpr[i],
                    pc.fnr[i],
                    *_comparison_cells(vs, i),
                ]
            )
    return rows


def _field(cell: str) -> str:
    """RFC 4180 quoting; unlike ``csv.writer`` with a "\\n" line end, also of a lone carriage return (a row break)."""
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell


def per_class_csv(results: Results) -> str:
    """One row per model × class; empty cells are undefined values; names that start a formula get a ``'``."""
    rows = [COLUMNS, *([_cell(v) for v in row] for row in _rows(results))]
    return "".join(",".join(map(_field, row)) + "\n" for row in rows)


def per_class_parquet(results: Results) -> bytes:
    """The same table as per_class.csv, typed and with the names as they are (no ``'``), as Parquet.

    Built from the values, not by re-reading the CSV, so that its escaping never reaches a typed reader.
    Deterministic for a given pyarrow.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*_rows(results))) or [()] * len(COLUMNS)
    types = {**dict.fromkeys(TEXT_COLUMNS, pa.string()), **dict.fromkeys(INTEGER_COLUMNS, pa.int64())}
    table = pa.table({c: pa.array(v, type=types.get(c, pa.float64())) for c, v in zip(COLUMNS, columns)})
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def _model_metrics(m: Model) -> list[dict[str, Any]]:
    """A model's metrics for the model-index; undefined ones are left out."""
    metrics = [
        {"type": "accuracy", "name": "Top-1 accuracy", "value": m.metrics.accuracy},
        {"type": "balanced_accuracy", "name": "Balanced accuracy", "value": m.metrics.balanced_accuracy},
        {"type": "worst_class_recall", "name": "Worst-class recall", "value": m.metrics.worst_class_recall.value},
    ]
    if m.vs_dense:
        metrics += [
            {
                "type": "worst_class_recall_change",
                "name": "Worst-class recall change vs dense",
                "value": m.vs_dense.worst_class_change.value,
            },
            {
                "type": "significantly_harmed_classes",
                "name": "Classes significantly harmed (McNemar, Holm)",
                "value": m.vs_dense.harmed_significant_holm,
            },
        ]
    return [x for x in metrics if x["value"] is not None]


def _model_result(data: Data, m: Model) -> dict[str, Any]:
    """One model-index result; built afresh per model, as YAML would write shared objects as anchors."""
    return {
        "task": {"type": "image-classification", "name": "Image classification"},
        "dataset": {"name": data.file, "type": data.file, "split": "all" if data.split is None else str(data.split)},
        "metrics": _model_metrics(m),
    }


def front_matter(results: Results) -> str:
    """YAML front matter for a GitHub release or a Hugging Face model repository (model-index)."""
    entries = [{"name": m.name, "results": [_model_result(results.data, m)]} for m in results.models]
    meta: dict[str, Any] = {"tags": ["pruning", "pruneaudit", "model-card"], "model-index": entries}
    card = results.card or Card()
    if card.licence:  # Hugging Face wants an identifier; free text goes to license_name
        if " " in card.licence:
            meta.update({"license": "other", "license_name": card.licence})
        else:
            meta["license"] = card.licence.lower()
    if card.name:
        meta["model_name"] = card.name
    return "---\n" + yaml.safe_dump(meta, sort_keys=True, allow_unicode=True, width=100) + "---\n"
