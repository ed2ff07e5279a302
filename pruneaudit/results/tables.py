"""The bulk of an audit as Parquet tables beside results.json (schema 2), one file per kind.

results.json keeps the scalars, the per-configuration summaries and, under ``tables``, a
reference to each table (file name, rows, sha256). The tables hold what grows with models ×
classes: every model's per-class metrics and comparison (``per_class.parquet``, one row per
model × class — also the table users open), the confusion cells (``confusion.parquet``: model_index into results.json's models, true, predicted, count) and the
subgroups' per-class arrays (``subgroups.parquet``). In memory the arrays sit where schema 1 kept
them inline, so a reader never knows which form was read: `split` takes them out for writing,
`join` puts them back after checking each table against its reference.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import fields
from typing import Any, get_type_hints

import numpy as np

from pruneaudit.results.view import ChangePerClass, GroupPerClass, Interval, Numbers, PerClass

PER_CLASS, CONFUSION, SUBGROUPS = "per_class", "confusion", "subgroups"
FILES = {PER_CLASS: "per_class.parquet", CONFUSION: "confusion.parquet", SUBGROUPS: "subgroups.parquet"}
CONFUSION_COLUMNS = ("true", "predicted", "count")


class TableError(Exception):
    """A table that does not fit its reference or its layout; `io` reports it with the file name."""


def _array_columns(cls: type) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(column, field, path inside the field, kind) for every per-class array of a view class.

    An interval ``x_ci`` becomes the columns ``x_low`` and ``x_high``; kind is "float" or "int".
    """
    hints, out = get_type_hints(cls), []
    for f in fields(cls):
        if hints[f.name] is Interval:
            stem = f.name.removesuffix("_ci")
            out += [(f"{stem}_low", f.name, ("low",), "float"), (f"{stem}_high", f.name, ("high",), "float")]
        else:
            out.append((f.name, f.name, (), "float" if hints[f.name] == Numbers else "int"))
    return out


MODEL_COLUMNS = _array_columns(PerClass)  # from models[i].per_class
CHANGE_COLUMNS = _array_columns(ChangePerClass)  # from models[i].vs_dense.per_class; null for the dense model
GROUP_COLUMNS = _array_columns(GroupPerClass)  # from subgroups[i].per_class


def _get(per_class: dict[str, Any], field: str, path: tuple[str, ...]) -> list:
    value = per_class[field]
    for key in path:
        value = value[key]
    return value


def _put(per_class: dict[str, Any], field: str, path: tuple[str, ...], values: list) -> None:
    if path:
        per_class.setdefault(field, {})[path[0]] = values
    else:
        per_class[field] = values


def _pa_type(kind: str):
    import pyarrow as pa

    return {"float": pa.float64(), "int": pa.int64(), "text": pa.string()}[kind]


def arrow_array(values: list | np.ndarray, kind: str) -> Any:
    """A pyarrow array built from numpy buffers: None is null ("float", "int" or "text" values).

    Not ``pa.array``: it imports pandas to look for pandas objects, half a second of every audit.
    """
    import pyarrow as pa

    n = len(values)
    if kind == "text":
        encoded = [v.encode("utf-8") for v in values]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        return pa.Array.from_buffers(pa.large_string(), n, buffers).cast(pa.string())
    if isinstance(values, np.ndarray):
        missing = np.zeros(n, dtype=bool)
        data = np.ascontiguousarray(values, dtype=np.float64 if kind == "float" else np.int64)
    elif kind == "float":
        data = np.array(values, dtype=np.float64)  # None becomes NaN; results hold no NaN of their own
        missing = np.isnan(data)
    else:
        missing = np.array([v is None for v in values], dtype=bool)
        data = np.array([0 if v is None else v for v in values] if missing.any() else values, dtype=np.int64)
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    return pa.Array.from_buffers(_pa_type(kind), n, [validity, pa.py_buffer(data)], null_count=int(missing.sum()))


def _parquet(columns: dict[str, tuple[str, list | np.ndarray]]) -> bytes:
    """Deterministic bytes for a given pyarrow: no pandas metadata, fixed compression, one row group."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(columns)
    table = pa.Table.from_arrays([arrow_array(values, kind) for kind, values in columns.values()], names=names)
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", row_group_size=max(1, table.num_rows))
    return out.getvalue()


def _per_class_table(raw: dict[str, Any]) -> bytes:
    names, n = raw["data"]["class_names"], len(raw["data"]["class_names"])
    cols: dict[str, tuple[str, list]] = {
        "model": ("text", []),
        "class_index": ("int", list(range(n)) * len(raw["models"])),
        "class": ("text", list(names) * len(raw["models"])),
    }
    for column, _, _, kind in MODEL_COLUMNS + CHANGE_COLUMNS:
        cols[column] = (kind, [])
    for m in raw["models"]:
        cols["model"][1].extend([m["name"]] * n)
        for column, field, path, _ in MODEL_COLUMNS:
            cols[column][1].extend(_get(m["per_class"], field, path))
        change = m["vs_dense"]["per_class"] if m["vs_dense"] else None
        for column, field, path, _ in CHANGE_COLUMNS:
            cols[column][1].extend(_get(change, field, path) if change else [None] * n)
    return _parquet(cols)


def _confusion_parts(cells: Any) -> tuple[np.ndarray, ...]:
    """(true, predicted, count) arrays of a model's cells: columnar in memory, or schema 1's triplets."""
    if isinstance(cells, dict):
        return tuple(np.asarray(cells[k], dtype=np.int64) for k in CONFUSION_COLUMNS)
    array = np.asarray(cells, dtype=np.int64).reshape(-1, 3)
    return array[:, 0], array[:, 1], array[:, 2]


def _confusion_table(parts: list[tuple[np.ndarray, ...]]) -> bytes:
    """The cells of every model, ``parts[i]`` = model i's (true, predicted, count)."""
    index = np.concatenate([np.full(len(p[0]), i, dtype=np.int64) for i, p in enumerate(parts)])
    cols: dict[str, tuple[str, list | np.ndarray]] = {"model_index": ("int", index)}
    for k, column in enumerate(CONFUSION_COLUMNS):
        cols[column] = ("int", np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dtype=np.int64))
    return _parquet(cols)


def _subgroups_table(raw: dict[str, Any]) -> bytes:
    names, n = raw["data"]["class_names"], len(raw["data"]["class_names"])
    groups = raw["subgroups"]
    cols: dict[str, tuple[str, list]] = {
        "subgroup": ("int", [i for i in range(len(groups)) for _ in range(n)]),
        "grouping": ("text", [g["grouping"] for g in groups for _ in range(n)]),
        "group": ("text", [g["group"] for g in groups for _ in range(n)]),
        "model": ("text", [g["model"] for g in groups for _ in range(n)]),
        "class_index": ("int", list(range(n)) * len(groups)),
        "class": ("text", list(names) * len(groups)),
    }
    for column, field, path, kind in GROUP_COLUMNS:
        cols[column] = (kind, [v for g in groups for v in _get(g["per_class"], field, path)])
    return _parquet(cols)


def split(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The results.json mapping without its bulk arrays (with ``tables`` referring to them), and the tables' bytes."""
    cells = [_confusion_parts(m["confusion"]) for m in raw["models"]]
    files = {
        FILES[PER_CLASS]: _per_class_table(raw),
        FILES[CONFUSION]: _confusion_table(cells),
        FILES[SUBGROUPS]: _subgroups_table(raw),
    }
    rows = {
        PER_CLASS: len(raw["models"]) * len(raw["data"]["class_names"]),
        CONFUSION: sum(len(count) for _, _, count in cells),
        SUBGROUPS: len(raw["subgroups"]) * len(raw["data"]["class_names"]),
    }
    stored = dict(raw)
    stored["models"] = [_without(m) for m in raw["models"]]
    stored["subgroups"] = [{k: v for k, v in g.items() if k != "per_class"} for g in raw["subgroups"]]
    stored["tables"] = {
        kind: {"file": name, "rows": rows[kind], "sha256": hashlib.sha256(files[name]).hexdigest()}
        for kind, name in FILES.items()
    }
    return stored, files


def _without(model: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in model.items() if k not in ("per_class", "confusion")}
    if model.get("vs_dense"):
        out["vs_dense"] = {k: v for k, v in model["vs_dense"].items() if k != "per_class"}
    return out


def _read(data: bytes, *, expected: dict[str, str], rows: int, text_bytes: int) -> dict[str, Any]:
    """The table's columns, after checking its layout and its decoded size from the footer alone.

    ``text_bytes``: the most a row's text cells can take (the longest names in results.json), so
    that a small file that decodes to gigabytes (a Parquet bomb) is refused before it is decoded.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = [name for name, kind in expected.items() if kind == "text"]
    try:
        parquet = pq.ParquetFile(io.BytesIO(data), read_dictionary=text)  # a repeated name stays one value
        schema = parquet.schema_arrow
        if parquet.metadata.num_rows != rows:
            raise TableError(f"expected {rows} rows, received {parquet.metadata.num_rows}")
        got = {f.name: f.type.value_type if pa.types.is_dictionary(f.type) else f.type for f in schema}
        want = {name: _pa_type(kind) for name, kind in expected.items()}
        if got != want:
            wrong = sorted(set(got.items()) ^ set(want.items()), key=str)[0][0]
            raise TableError(f"expected columns {', '.join(want)}; column {wrong!r} is missing, extra or mistyped")
        limit = rows * (16 * len(want) + text_bytes) + (1 << 20)
        decoded = sum(parquet.metadata.row_group(i).total_byte_size for i in range(parquet.metadata.num_row_groups))
        if decoded > limit:
            raise TableError(f"decodes to {decoded} bytes, more than the {limit} its {rows} rows can need")
        table = parquet.read()
        for name in text:
            _check_text(table.column(name), name=name, most=text_bytes)
    except (pa.ArrowException, OSError, ValueError) as exc:
        text = str(exc).strip()
        raise TableError(f"cannot read as Parquet ({text.splitlines()[0] if text else type(exc).__name__})") from None
    return {name: table.column(name) for name in expected}


def _check_text(column: Any, *, name: str, most: int) -> None:
    """No text cell is longer than the longest name results.json lists: checked on the dictionary, before any copy."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for chunk in column.chunks:
        values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
        longest = pc.max(pc.binary_length(values)).as_py() if len(values) else 0
        if longest and longest > most:
            raise TableError(f"column {name!r} holds text of {longest} bytes; no name in results.json is that long")


def _integers(column: Any) -> np.ndarray:
    """An integer column without nulls as numpy, read from its data buffer: ``to_numpy`` imports pandas (0.5 s)."""
    chunk = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if chunk.null_count:
        raise TableError("expected no empty cells in an integer key column")
    data = np.frombuffer(chunk.buffers()[1], dtype=np.dtype(f"int{chunk.type.bit_width}"))
    return data[chunk.offset : chunk.offset + len(chunk)].astype(np.int64)


def _values(column: Any) -> np.ndarray:
    """A key column as a numpy array; text decoded through its dictionary (a few names, not 100,000 strings)."""
    import pyarrow as pa

    chunk = column.combine_chunks()
    if chunk.null_count:
        return np.array(chunk.to_pylist(), dtype=object)
    if pa.types.is_dictionary(chunk.type):
        return np.array(chunk.dictionary.to_pylist(), dtype=object)[_integers(chunk.indices)]
    if pa.types.is_integer(chunk.type):
        return _integers(chunk)
    return np.array(chunk.to_pylist(), dtype=object)


def _check_keys(column: Any, expected: list, what: str) -> None:
    """The table's rows are the ones results.json describes, in its order (compared as arrays)."""
    got, want = _values(column), np.array(expected, dtype=object)
    differ = got != want
    if differ.any():
        i = int(np.argmax(differ))
        received = got[i].item() if isinstance(got[i], np.generic) else got[i]
        raise TableError(f"row {i}: expected {what} {expected[i]!r}, received {received!r}")


def join(stored: dict[str, Any], read_table: Any) -> dict[str, Any]:
    """Put the tables' arrays back where schema 1 kept them; ``read_table(kind, ref)`` gives a table's bytes.

    Raises TableError("<file>: ...") for a table that is missing, altered or laid out otherwise.
    """
    names, n = list(stored["data"]["class_names"]), len(stored["data"]["class_names"])
    models, groups = stored["models"], stored["subgroups"]
    raw = dict(stored)
    refs = raw.pop("tables")
    tables = {}
    for kind, rows in (
        (PER_CLASS, len(models) * n),
        (CONFUSION, refs[CONFUSION]["rows"]),
        (SUBGROUPS, len(groups) * n),
    ):
        ref, name = refs[kind], FILES[kind]
        if ref["file"] != name:
            raise TableError(f"tables.{kind}.file: expected {name!r}, received {ref['file']!r}")
        data = read_table(kind, ref)
        if hashlib.sha256(data).hexdigest() != ref["sha256"]:
            raise TableError(
                f"{name}: does not match results.json (its sha256 differs); copy the tables together with their results.json, or run the audit again"
            )
        try:
            tables[kind] = _read(data, expected=_expected(kind), rows=rows, text_bytes=_text_bytes(stored, kind))
        except TableError as exc:
            raise TableError(f"{name}: {exc}") from None
    raw["models"] = _join_models(models, tables[PER_CLASS], tables[CONFUSION], names)
    raw["subgroups"] = _join_groups(groups, tables[SUBGROUPS], names)
    return raw


def _longest(texts: list) -> int:
    return max((4 * len(t) for t in texts if isinstance(t, str)), default=0)  # UTF-8: at most 4 bytes a character


def _text_bytes(stored: dict[str, Any], kind: str) -> int:
    """The most bytes a row's text cells can hold, from the names results.json lists."""
    if kind == CONFUSION:
        return 0
    classes = _longest(stored["data"]["class_names"])
    models = _longest([m.get("name") for m in stored["models"]])
    if kind == PER_CLASS:
        return classes + models
    groups = stored["subgroups"]
    return classes + models + _longest([g.get("grouping") for g in groups]) + _longest([g.get("group") for g in groups])


def _expected(kind: str) -> dict[str, str]:
    if kind == CONFUSION:
        return {"model_index": "int", **dict.fromkeys(CONFUSION_COLUMNS, "int")}
    head = {"model": "text", "class_index": "int", "class": "text"}
    if kind == SUBGROUPS:
        head = {"subgroup": "int", "grouping": "text", "group": "text", **head}
        return {**head, **{c: k for c, _, _, k in GROUP_COLUMNS}}
    return {**head, **{c: k for c, _, _, k in MODEL_COLUMNS + CHANGE_COLUMNS}}


def _join_models(models: list[dict], table: dict, confusion: dict, names: list[str]) -> list[dict]:
    n = len(names)
    name = FILES[PER_CLASS]
    try:
        _check_keys(table["model"], [m["name"] for m in models for _ in range(n)], "model")
        _check_keys(table["class_index"], list(range(n)) * len(models), "class_index")
        _check_keys(table["class"], names * len(models), "class")
    except TableError as exc:
        raise TableError(f"{name}: {exc}") from None
    values = {c: table[c].to_pylist() for c, _, _, _ in MODEL_COLUMNS + CHANGE_COLUMNS}
    out = []
    try:
        offsets = _confusion_offsets(_integers(confusion["model_index"]), len(models))
        cells = {k: _integers(confusion[k]) for k in CONFUSION_COLUMNS}
    except TableError as exc:
        raise TableError(f"{FILES[CONFUSION]}: {exc}") from None
    for i, m in enumerate(models):
        for key in ("per_class", "confusion"):
            if key in m:
                raise TableError(f"results.json: models[{i}].{key}: expected it in the tables, not inline")
        rows = slice(i * n, (i + 1) * n)
        per_class: dict[str, Any] = {}
        for column, field, path, _ in MODEL_COLUMNS:
            _put(per_class, field, path, values[column][rows])
        model = {**m, "per_class": per_class}
        lo, hi = offsets[i]
        model["confusion"] = {k: cells[k][lo:hi] for k in CONFUSION_COLUMNS}
        if m.get("vs_dense"):
            if "per_class" in m["vs_dense"]:
                raise TableError(f"results.json: models[{i}].vs_dense.per_class: expected it in the tables, not inline")
            change: dict[str, Any] = {}
            for column, field, path, _ in CHANGE_COLUMNS:
                _put(change, field, path, values[column][rows])
            model["vs_dense"] = {**m["vs_dense"], "per_class": change}
        out.append(model)
    return out


def _confusion_offsets(model_index: np.ndarray, n_models: int) -> list[tuple[int, int]]:
    """Each model's rows of the confusion table: contiguous runs, in the models' order."""
    if np.any(model_index[1:] < model_index[:-1]) or (
        len(model_index) and not 0 <= model_index[0] <= model_index[-1] < n_models
    ):
        raise TableError(f"expected model_index sorted, each in [0, {n_models})")
    bounds = np.searchsorted(model_index, np.arange(n_models + 1))
    return [(int(bounds[i]), int(bounds[i + 1])) for i in range(n_models)]


def _join_groups(groups: list[dict], table: dict, names: list[str]) -> list[dict]:
    n = len(names)
    try:
        _check_keys(table["subgroup"], [i for i in range(len(groups)) for _ in range(n)], "subgroup")
        _check_keys(table["class_index"], list(range(n)) * len(groups), "class_index")
    except TableError as exc:
        raise TableError(f"{FILES[SUBGROUPS]}: {exc}") from None
    values = {c: table[c].to_pylist() for c, _, _, _ in GROUP_COLUMNS}
    out = []
    for i, g in enumerate(groups):
        if "per_class" in g:
            raise TableError(f"results.json: subgroups[{i}].per_class: expected it in the tables, not inline")
        per_class: dict[str, Any] = {}
        for column, field, path, _ in GROUP_COLUMNS:
            _put(per_class, field, path, values[column][i * n : (i + 1) * n])
        out.append({**g, "per_class": per_class})
    return out
