"""The flat per-class table (CSV) and the Markdown card's front matter, from the typed view."""

from __future__ import annotations

import io
from typing import Any

import yaml

from pruneaudit.escape import spreadsheet_text
from pruneaudit.report.text import POLICY_TITLES
from pruneaudit.results import Model, Results
from pruneaudit.results.tables import CHANGE_COLUMNS, FILES, MODEL_COLUMNS, PER_CLASS, arrow_array
from pruneaudit.results.view import HUB_LICENCES, Card, Data

# libyaml's emitter writes the same YAML as PyYAML's own, faster
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


# The model-index metrics, by stable type id. Where the Hub knows the metric (hf.co/metrics: accuracy, recall,
# f1) its id is used, with the averaging in `args` as evaluate's metrics take it; the audit's own quantities
# have ids of their own. `name` is the label the Hub shows.
HUB_METRICS = (  # (type, name, args)
    ("accuracy", "Top-1 accuracy", None),
    ("recall", "Balanced accuracy (macro-averaged recall)", {"average": "macro"}),
    ("f1", "Macro-F1", {"average": "macro"}),
    ("worst_class_recall", "Worst-class recall", None),
)
HUB_CHANGE_METRICS = (  # a pruned model against the dense one, on the same images
    ("accuracy_change", "Top-1 accuracy change vs dense", None),
    ("worst_class_recall_change", "Worst-class recall change vs dense", None),
    ("significantly_harmed_classes", "Classes significantly harmed vs dense (McNemar, Holm)", None),
)
TASK = {"type": "image-classification", "name": "Image classification"}
TAGS = ["pruning", "pruneaudit", "model-card"]


def _metric_values(m: Model) -> dict[str, float | int | None]:
    values: dict[str, float | int | None] = {
        "accuracy": m.metrics.accuracy,
        "recall": m.metrics.balanced_accuracy,
        "f1": m.metrics.macro_f1,
        "worst_class_recall": m.metrics.worst_class_recall.value,
    }
    if m.vs_dense:
        values |= {
            "accuracy_change": m.vs_dense.accuracy_change,
            "worst_class_recall_change": m.vs_dense.worst_class_change.value,
            "significantly_harmed_classes": m.vs_dense.harmed_significant_holm,
        }
    return values


def _model_metrics(m: Model) -> list[dict[str, Any]]:
    """The released model's metrics for the model-index; undefined ones are left out (the Hub needs a value)."""
    values = _metric_values(m)
    metrics = []
    for kind, name, args in (*HUB_METRICS, *(HUB_CHANGE_METRICS if m.vs_dense else ())):
        if values[kind] is not None:
            metrics.append(
                {"type": kind, "name": name, "value": values[kind], **({"args": dict(args)} if args else {})}
            )
    return metrics


def _dataset(data: Data) -> dict[str, Any]:
    """The Hub's dataset entry: its id and name from the config's data.hf_id and data.name (the file otherwise)."""
    dataset = {"type": data.hf_id or data.file, "name": data.name or data.file}
    if data.split_name is not None:
        dataset["split"] = data.split_name
    return dataset


def release(results: Results) -> tuple[Model, str]:
    """The model the card releases, and why: the primary policy's pick, or the dense model when it picked none.

    A Hugging Face model repository holds one model, so its model-index describes that one; the card's
    body lists every variant."""
    sel = results.selection
    if sel is None:
        return results.dense, "the dense model: no operating point was selected"
    pick = sel.primary_pick
    policy = POLICY_TITLES.get(sel.primary, sel.primary)
    if pick.model is None:
        return results.dense, f"the dense model: the primary policy ({policy}) picked no pruned model"
    return results.model(pick.model), f"the primary pick ({policy} policy)"


def hub_view(results: Results) -> dict[str, str | None]:
    """What card.md's body says of its front matter: the model it describes, why, and the dataset it names."""
    model, why = release(results)
    data = results.data
    where = []
    if data.hf_id:
        where.append(f"Hugging Face dataset {data.hf_id}")
    if data.split_name:
        where.append(f"split {data.split_name}")
    dataset = None  # the file, as the sentence after it names it anyway
    if data.name or where:
        dataset = (data.name or data.file) + (f" ({', '.join(where)})" if where else "")
    return {"model": model.name, "why": why, "dataset": dataset}


def front_matter(results: Results) -> str:
    """YAML front matter for a Hugging Face model repository (or a release page): the released model's
    model-index entry and the Hub's metadata, in the form huggingface_hub's ModelCard loads and saves unchanged."""
    model, _ = release(results)
    entry = {
        "name": model.name,
        "results": [{"task": dict(TASK), "dataset": _dataset(results.data), "metrics": _model_metrics(model)}],
    }
    meta: dict[str, Any] = {"tags": list(TAGS), "pipeline_tag": TASK["type"], "model-index": [entry]}
    card = results.card or Card()
    if card.licence and card.licence.lower() not in HUB_LICENCES:  # free text, as results.json kept it before 2.2
        meta.update({"license": "other", "license_name": card.licence})
    elif card.licence:
        meta["license"] = card.licence.lower()
        for key, value in (("license_name", card.licence_name), ("license_link", card.licence_link)):
            if value is not None:
                meta[key] = value
    if card.library_name:
        meta["library_name"] = card.library_name
    if card.base_model and model.is_pruned:  # the dense model is no model's derivative here
        meta["base_model"] = card.base_model
    text = yaml.dump(meta, Dumper=SAFE_DUMPER, sort_keys=True, allow_unicode=True, width=100)
    return "---\n" + text + "---\n"
