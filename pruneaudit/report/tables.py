"""The flat per-class table (CSV) and the Markdown card's front matter, from the typed view."""

from __future__ import annotations

import io
from typing import Any

import yaml

from pruneaudit.escape import spreadsheet_text
from pruneaudit.results import Model, Results
from pruneaudit.results.tables import CHANGE_COLUMNS, FILES, MODEL_COLUMNS, PER_CLASS, arrow_array
from pruneaudit.results.view import Card, Data

# libyaml's emitter writes the same YAML as PyYAML's own, five times faster (a model-index of 1,000 models)
SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
CSV_NAME = "per_class.csv"  # beside the card; the card links it (and PARQUET_NAME) from the views it bounds
PARQUET_NAME = FILES[PER_CLASS]  # results.json's per-class table: the same rows, typed, with more columns
COLUMNS = (  # the CSV's columns: the Parquet table's but the other rates' intervals, correct/predicted, bias
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
_MODEL = {c[0]: c[1:] for c in MODEL_COLUMNS}  # column -> (field, path, kind) in a model's per_class
_CHANGE = {c[0]: c[1:] for c in CHANGE_COLUMNS}  # ... in its vs_dense.per_class (empty for the dense model)


def _values(per_class: Any, field: str, path: tuple[str, ...]) -> Any:
    """One column's values for one model: a per-class array of the view, or one bound of an interval."""
    value = getattr(per_class, field)
    for key in path:
        value = getattr(value, key)
    return value


CSV_DIGITS = 6  # significant digits of the CSV's numbers; per_class.parquet and results.json keep them exact


def _significant(values: Any, digits: int) -> Any:
    """Floats rounded to ``digits`` significant digits (None stays None): a spreadsheet's view, a third the bytes."""
    import numpy as np

    x = np.array(values, dtype=np.float64)  # None -> NaN, written back as an empty cell
    finite = np.isfinite(x) & (x != 0)
    exponent = np.zeros_like(x)
    exponent[finite] = np.floor(np.log10(np.abs(x[finite])))
    with np.errstate(over="ignore", invalid="ignore"):  # a subnormal's scale overflows: it is kept as it is
        scale = 10.0 ** (digits - 1 - exponent)
        rounded = np.where(finite, np.round(x * scale) / scale, x)
    rounded = np.where(np.isfinite(rounded) | np.isnan(x), rounded, x)
    far = np.flatnonzero(finite & (np.abs(exponent) > 15))  # 10**k is inexact there: format those few exactly
    rounded[far] = [float(f"{v:.{digits}g}") for v in x[far].tolist()]
    return [None if v != v else v for v in rounded.tolist()] if np.isnan(x).any() else rounded.tolist()


def per_class_csv(results: Results) -> str:
    """One row per model × class, in COLUMNS: empty cells are undefined values, names never read as a
    spreadsheet formula (a leading ``'``), text always quoted (RFC 4180), numbers to CSV_DIGITS significant digits.

    pyarrow writes the 100,000 rows of 100 models × 1,000 classes in a fraction of a second (Python's float
    formatting alone takes seconds); numbers are its shortest round-trip form, deterministic for a given pyarrow.
    Rounded, because at that size the exact digits made the CSV 29 MB, most of the report; the exact values are
    in per_class.parquet."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = arrow_array([spreadsheet_text(c) for c in results.data.class_names], "text")
    n, models = len(names), results.models
    types = {"float": pa.float64(), "int": pa.int64(), "text": pa.string()}

    def column(arrays: list, kind: str) -> pa.ChunkedArray:
        """One chunk per model: the view's arrays go to pyarrow as they are, never joined in Python."""
        if kind == "float":
            arrays = [_significant(a, CSV_DIGITS) for a in arrays]
        return pa.chunked_array([arrow_array(list(a), kind) for a in arrays], types[kind])

    columns = {
        "model": column([[spreadsheet_text(m.name)] * n for m in models], "text"),
        "class_index": column([range(n)] * len(models), "int"),
        "class": pa.chunked_array([names] * len(models), types["text"]),
    }
    for name in COLUMNS[3:]:
        if name in _MODEL:
            field, path, kind = _MODEL[name]
            columns[name] = column([_values(m.per_class, field, path) for m in models], kind)
        else:
            field, path, kind = _CHANGE[name]
            changes = [_values(m.vs_dense.per_class, field, path) if m.vs_dense else [None] * n for m in models]
            columns[name] = column(changes, kind)
    out = io.BytesIO()
    table = pa.Table.from_arrays(list(columns.values()), names=list(columns))
    pa_csv.write_csv(table, out, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return ",".join(columns) + "\n" + out.getvalue().decode("utf-8")


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
    text = yaml.dump(meta, Dumper=SAFE_DUMPER, sort_keys=True, allow_unicode=True, width=100)
    return "---\n" + text + "---\n"
