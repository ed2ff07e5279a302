"""Read and write results.json: canonical JSON out, a checked typed view in.

One builder turns a JSON mapping into the dataclasses of `view`, driven by their type
hints, so that the view and the checks cannot drift apart. A value of the wrong type, a
missing key or a per-class array of the wrong length is a one-line `DataError` naming the
file and the JSON path (e.g. ``models[3].vs_dense.per_class.recall[5]``). So is what the card relies on
beyond types (a pick per policy, picked and grouped models that exist, classes in range, undefined values
that line up, finite numbers): a hand-edited file fails when it is read, never halfway through a render.
"""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import MISSING, fields, is_dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from pruneaudit.errors import MISSING_FILE, DataError
from pruneaudit.results import tables
from pruneaudit.results.view import (
    HUB_ID_EXPECTED,
    METADATA_TYPES,
    POLICIES,
    ROLES,
    Confusion,
    Data,
    Interval,
    Model,
    Numbers,
    Results,
    SelectionResult,
    is_hub_id,
)

SCHEMA_VERSION = "2.2"  # 2.1: data.train_class_counts; 2.2: gate.warned, checks[].warned, data.name/hf_id/split_name
READABLE_MAJORS = ("1", "2")  # 1: every array inline in results.json; 2: the bulk in Parquet tables beside it
REQUIRED_KEYS = ("schema_version", "data", "models")

NOT_RESULTS = "{path}: not a pruneaudit results file: {reason}"
BAD_VALUE = "{where}: expected {expected}, received {received}"
UNKNOWN_MODEL = "{where}: expected the name of a pruned model, received {name!r}"


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_number(value: Any) -> bool:
    """JSON has no NaN or infinity; a view holding one could not be written back (`dumps`)."""
    return type(value) is int or (type(value) is float and math.isfinite(value))


class _Invalid(Exception):
    """Where in the JSON a value does not fit the view; reported with the file name by `parse_results`."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean"}.get(type(value), repr(value))


# Per-class arrays are checked element by element without recursion: they are most of the file.
_ITEM_CHECKS: dict[Any, tuple[str, typing.Callable[[Any], bool]]] = {
    int: ("an integer", _is_int),
    float | None: ("a number or null", lambda v: v is None or _is_number(v)),
    str: ("text", lambda v: type(v) is str),
}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _scalar(tp: type, value: Any, where: str) -> Any:
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: _is_number(value),
        str: isinstance(value, str),
    }[tp]
    if not ok:
        raise _Invalid(
            BAD_VALUE.format(where=where, expected={float: "a number"}.get(tp, tp.__name__), received=_kind(value))
        )
    return value


def _list(item: Any, value: Any, where: str) -> tuple:
    if not isinstance(value, list):
        raise _Invalid(BAD_VALUE.format(where=where, expected="a list", received=_kind(value)))
    check = _ITEM_CHECKS.get(item)
    if check is None:
        return tuple(_build(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if _all_fit(item, value):
        return tuple(value)
    expected, ok = check
    bad = next(i for i, v in enumerate(value) if not ok(v))
    raise _Invalid(BAD_VALUE.format(where=f"{where}[{bad}]", expected=expected, received=_kind(value[bad])))


_NONE = type(None)
_ALLOWED = {int: {int}, str: {str}, float | None: {float, int, _NONE}}


def _all_fit(item: Any, value: list) -> bool:
    """The per-item check at C speed (types by set, finiteness by numpy): a per-class array can be 100,000 values.

    Only says yes or no; on no, the caller walks the list for the first bad item and its path.
    """
    if not set(map(type, value)) <= _ALLOWED[item]:
        return False
    if item is not float | None or not value:
        return True
    try:
        array = np.array(value, dtype=np.float64)  # None becomes NaN
    except OverflowError:  # an integer beyond float range
        return False
    return not np.isinf(array).any() and int(np.isnan(array).sum()) == value.count(None)


def _object(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise _Invalid(BAD_VALUE.format(where=where, expected="an object", received=_kind(value)))
    hints, kwargs = _hints(cls), {}
    for f in fields(cls):
        if f.metadata.get("raw"):
            kwargs[f.name] = value
            continue
        key = f.metadata.get("key", f.name)
        if key in value:
            kwargs[f.name] = _build(hints[f.name], value[key], f"{where}.{key}" if where else key)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise _Invalid(f"{where or 'top level'}: missing key {key!r}")
    return cls(**kwargs)


def _build(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        (inner,) = options
        return _build(inner, value, where)
    if origin is tuple:
        return _list(typing.get_args(tp)[0], value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid(BAD_VALUE.format(where=where, expected="an object", received=_kind(value)))
        item = typing.get_args(tp)[1]
        # in key order, as results.json stores them: a view built in memory iterates like one read from a file
        return {k: _build(item, value[k], f"{where}.{k}") for k in sorted(value)}
    if tp is Confusion:
        return _confusion(value, where)
    if is_dataclass(tp):
        return _object(tp, value, where)
    return _scalar(tp, value, where)


CELL = "[true, predicted, count]"


def _confusion(value: Any, where: str) -> Confusion:
    """Columnar cells (the tables, or the encoder) or schema 1's list of [true, predicted, count] triplets."""
    if isinstance(value, dict):
        parts = [np.asarray(value.get(k, ()), dtype=np.int64) for k in tables.CONFUSION_COLUMNS]
        return Confusion(*parts)
    if not isinstance(value, list):
        raise _Invalid(BAD_VALUE.format(where=where, expected=f"a list of {CELL}", received=_kind(value)))
    for i, cell in enumerate(value):
        if not (isinstance(cell, list) and len(cell) == 3 and all(_is_int(v) for v in cell)):
            raise _Invalid(
                BAD_VALUE.format(
                    where=f"{where}[{i}]",
                    expected=f"{CELL} integers",
                    received=_kind(cell) if not isinstance(cell, list) else cell,
                )
            )
    array = np.array(value, dtype=np.int64).reshape(-1, 3)
    return Confusion(array[:, 0].copy(), array[:, 1].copy(), array[:, 2].copy())


def _per_class_lengths(obj: Any, n: int, where: str) -> None:
    """Every per-class array of ``obj`` (a PerClass-like view) has one value per class."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        parts = [(f.name, value)] if isinstance(value, tuple) else []
        if isinstance(value, Interval):
            parts = [(f"{f.name}.high", value.high), (f"{f.name}.low", value.low)]
        for name, arr in parts:
            if len(arr) != n:
                raise _Invalid(
                    BAD_VALUE.format(where=f"{where}.{name}", expected=f"{n} values (one per class)", received=len(arr))
                )


def _first_mismatch(values: tuple, reference: tuple) -> int | None:
    """The first index where one is null and the other is not (the values are finite numbers or None)."""
    differ = np.isnan(np.array(values, dtype=np.float64)) != np.isnan(np.array(reference, dtype=np.float64))
    return int(np.argmax(differ)) if differ.any() else None


def _nulls_agree(obj: Any, where: str) -> None:
    """Undefined (null) values line up: an interval ``x_ci`` is null exactly where ``x`` is, and in a comparison
    every value is null exactly where the recall change is (a class without images). The card pairs them cell by cell.
    """
    hints = _hints(type(obj))
    pairs = [
        (f"{f.name}.{part}", getattr(getattr(obj, f.name), part), f.name[:-3])
        for f in fields(obj)
        if hints[f.name] is Interval and f.name.endswith("_ci")
        for part in ("high", "low")
    ]
    if hasattr(obj, "recall_change"):
        pairs += [(f.name, getattr(obj, f.name), "recall_change") for f in fields(obj) if hints[f.name] == Numbers]
    for name, values, ref_name in pairs:
        reference = getattr(obj, ref_name)
        i = _first_mismatch(values, reference)
        if i is not None:
            expected = f"{'null' if reference[i] is None else 'a number'}, as {ref_name}[{i}]"
            raise _Invalid(BAD_VALUE.format(where=f"{where}.{name}[{i}]", expected=expected, received=_kind(values[i])))


def _check_exemplars(results: Results, n: int) -> None:
    """The card shows each exemplar's true and predicted classes by name."""
    for i, c in enumerate(results.configurations):
        for j, e in enumerate(c.top_pies):
            for key in ("label", "dense_pred", "pruned_pred"):
                if not 0 <= getattr(e, key) < n:
                    where = f"configurations[{i}].top_pies[{j}].{key}"
                    raise _Invalid(
                        BAD_VALUE.format(where=where, expected=f"a class in [0, {n})", received=getattr(e, key))
                    )


def _check_subgroups(results: Results) -> None:
    """The card tabulates groups against models: every model is compared on the same groups, once each."""
    by_model: dict[str, list[tuple[str, str]]] = {}
    for g in results.subgroups:
        by_model.setdefault(g.model, []).append((g.grouping, g.group))
    first, expected = next(iter(by_model.items()), ("", []))
    for model, pairs in by_model.items():
        twice = sorted(p for p in pairs if pairs.count(p) > 1)
        odd = twice or sorted(set(pairs) ^ set(expected))
        if odd:
            grouping, group = odd[0]
            how = "twice on" if twice else ("with" if (grouping, group) in pairs else "without")
            raise _Invalid(
                f"subgroups: expected every model compared once on each group of {first!r}; "
                f"received {model!r} {how} {grouping}={group!r}"
            )


def _check_metadata(metadata: dict[str, Any], where: str) -> None:
    for key, (expected, ok) in METADATA_TYPES.items():
        value = metadata.get(key)
        if value is not None and not ok(value):
            raise _Invalid(BAD_VALUE.format(where=f"{where}.{key}", expected=expected, received=_kind(value)))


def _check_confusion(cells: Confusion, n: int, where: str) -> None:
    """Each cell is [true class, predicted class, count] with both classes among the n: checked as arrays."""
    t, p, c = cells.true, cells.predicted, cells.count
    bad = (t < 0) | (t >= n) | (p < 0) | (p >= n) | (c < 0)
    if bad.any():
        i = int(np.argmax(bad))
        expected = f"{CELL} with classes in [0, {n}) and a count >= 0"
        raise _Invalid(
            BAD_VALUE.format(where=f"{where}[{i}]", expected=expected, received=[int(t[i]), int(p[i]), int(c[i])])
        )


def _check_comparison(m: Model, dense: Model, n: int, where: str) -> None:
    defined = m.metrics.accuracy is not None and dense.metrics.accuracy is not None
    if (m.vs_dense.accuracy_change is not None) != defined:
        expected = "a number where both accuracies are (null otherwise)"
        raise _Invalid(
            BAD_VALUE.format(
                where=f"{where}.accuracy_change", expected=expected, received=_kind(m.vs_dense.accuracy_change)
            )
        )
    _per_class_lengths(m.vs_dense.per_class, n, f"{where}.per_class")
    _nulls_agree(m.vs_dense.per_class, f"{where}.per_class")


def _check_train_counts(data: Data) -> None:
    """One training count per class, none negative: the card names the classes they belong to."""
    counts = data.train_class_counts
    if counts is None:
        return
    if len(counts) != data.n_classes:
        raise _Invalid(
            BAD_VALUE.format(
                where="data.train_class_counts",
                expected=f"{data.n_classes} counts (one per class)",
                received=len(counts),
            )
        )
    bad = next((i for i, n in enumerate(counts) if n < 0), None)
    if bad is not None:
        raise _Invalid(
            BAD_VALUE.format(where=f"data.train_class_counts[{bad}]", expected="an integer >= 0", received=counts[bad])
        )


def _check_data_names(data: Data) -> None:
    """The card's front matter names the data with these: an id the Hub cannot resolve would be published as is."""
    if data.hf_id is not None and not is_hub_id(data.hf_id):
        raise _Invalid(BAD_VALUE.format(where="data.hf_id", expected=HUB_ID_EXPECTED, received=repr(data.hf_id)))
    for key in ("name", "split_name"):
        value = getattr(data, key)
        if value is not None and not value.strip():
            raise _Invalid(
                BAD_VALUE.format(where=f"data.{key}", expected="non-empty text or null", received=repr(value))
            )


def _check_selection(sel: SelectionResult, pruned: set[str]) -> None:
    """What the card reads of a saved selection: one pick per policy, the primary among them, picks it can draw."""
    if set(sel.picks) != set(POLICIES):
        received = ", ".join(sel.picks) or "none"
        raise _Invalid(
            BAD_VALUE.format(
                where="selection.picks", expected=f"a pick per policy ({', '.join(POLICIES)})", received=received
            )
        )
    if sel.primary not in POLICIES:
        raise _Invalid(
            BAD_VALUE.format(
                where="selection.primary", expected=f"one of {', '.join(POLICIES)}", received=repr(sel.primary)
            )
        )
    for policy, pick in sel.picks.items():
        if pick.model is not None and pick.model not in pruned:
            raise _Invalid(UNKNOWN_MODEL.format(where=f"selection.picks.{policy}.model", name=pick.model))


def _check(results: Results) -> None:
    """What the types cannot say: roles, one dense model first, per-class lengths, unique names, names that resolve."""
    n = results.data.n_classes
    if len(results.data.class_names) != n:
        raise _Invalid(
            BAD_VALUE.format(where="data.class_names", expected=f"{n} names", received=len(results.data.class_names))
        )
    _check_train_counts(results.data)
    _check_data_names(results.data)
    if not results.models or results.models[0].role != "dense":
        raise _Invalid("models: expected the dense model first")
    names = [m.name for m in results.models]
    if len(set(names)) != len(names):
        raise _Invalid("models: model names must be unique")
    for i, m in enumerate(results.models):
        where = f"models[{i}]"
        expected_role = "dense" if i == 0 else "pruned"
        if m.role != expected_role:
            raise _Invalid(
                BAD_VALUE.format(
                    where=f"{where}.role",
                    expected=f"{expected_role!r} (one of {', '.join(ROLES)})",
                    received=repr(m.role),
                )
            )
        if (m.vs_dense is not None) != m.is_pruned:
            raise _Invalid(f"{where}.vs_dense: expected {'an object' if m.is_pruned else 'null'} for a {m.role} model")
        _per_class_lengths(m.per_class, n, f"{where}.per_class")
        _nulls_agree(m.per_class, f"{where}.per_class")
        if m.vs_dense is not None:
            _check_comparison(m, results.dense, n, f"{where}.vs_dense")
        _check_metadata(m.metadata, f"{where}.metadata")
        _check_confusion(m.confusion, n, f"{where}.confusion")
    pruned = set(names[1:])
    for i, g in enumerate(results.subgroups):
        _per_class_lengths(g.per_class, n, f"subgroups[{i}].per_class")
        _nulls_agree(g.per_class, f"subgroups[{i}].per_class")
        if g.model not in pruned:
            raise _Invalid(UNKNOWN_MODEL.format(where=f"subgroups[{i}].model", name=g.model))
    _check_subgroups(results)
    _check_exemplars(results, n)
    if results.selection is not None:
        _check_selection(results.selection, pruned)


def parse_results(raw: dict[str, Any], *, where: str = "results") -> Results:
    """The typed view of a results mapping; ``where`` (the file) prefixes errors."""
    if not isinstance(raw, dict) or any(k not in raw for k in REQUIRED_KEYS):
        raise DataError(NOT_RESULTS.format(path=where, reason=f"expected keys {', '.join(REQUIRED_KEYS)}"))
    _check_version(raw, where)
    try:
        results = _object(Results, raw, "")
        _check(results)
    except _Invalid as exc:
        raise DataError(NOT_RESULTS.format(path=where, reason=exc)) from None
    return results


def _check_version(raw: dict[str, Any], where: str) -> str:
    major = str(raw["schema_version"]).split(".")[0]
    if major not in READABLE_MAJORS:
        raise DataError(
            f"{where}: results schema {raw['schema_version']} is not supported; "
            f"expected {SCHEMA_VERSION} (or a 1.x file); upgrade pruneaudit to read newer results"
        )
    return major


def stored_files(raw: dict[str, Any]) -> dict[str, str | bytes]:
    """results.json (canonical text, schema 2: no bulk arrays) and the Parquet tables it refers to, by file name.

    Stored this way, results are of the current schema whatever version they were read as: a 1.x
    mapping rendered again is written as schema 2, tables and version together, so it reads back.
    """
    stored, files = tables.split({**raw, "schema_version": SCHEMA_VERSION})
    return {"results.json": dumps(stored), **files}


def _join(stored: dict[str, Any], read_table: Any, where: str) -> dict[str, Any]:
    """A schema-2 mapping with its tables' arrays back in place; a missing or altered table is a DataError."""
    if not isinstance(stored.get("tables"), dict) or any(
        not isinstance(stored["tables"].get(k), dict) for k in tables.FILES
    ):
        raise DataError(
            NOT_RESULTS.format(
                path=where, reason=f"expected a 'tables' object naming {', '.join(tables.FILES.values())}"
            )
        )
    try:
        _ref_types(stored)
        return tables.join(stored, read_table)
    except (_Invalid, tables.TableError) as exc:
        raise DataError(NOT_RESULTS.format(path=where, reason=exc)) from None


def _ref_types(stored: dict[str, Any]) -> None:
    """The references and what a table's layout is checked against, before any table is read."""
    for kind in tables.FILES:
        ref = stored["tables"][kind]
        for key, ok, expected in (
            ("file", lambda v: type(v) is str, "text"),
            ("rows", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
            ("sha256", lambda v: type(v) is str, "text"),
        ):
            if not ok(ref.get(key)):
                raise _Invalid(
                    BAD_VALUE.format(where=f"tables.{kind}.{key}", expected=expected, received=_kind(ref.get(key)))
                )
    data = stored.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("class_names"), list):
        raise _Invalid(
            BAD_VALUE.format(
                where="data.class_names", expected="a list", received=_kind(data and data.get("class_names"))
            )
        )
    for key in ("models", "subgroups"):
        if not isinstance(stored.get(key), list) or not all(isinstance(x, dict) for x in stored[key]):
            raise _Invalid(BAD_VALUE.format(where=key, expected="a list of objects", received=_kind(stored.get(key))))
    for i, m in enumerate(stored["models"]):
        if type(m.get("name")) is not str:
            raise _Invalid(BAD_VALUE.format(where=f"models[{i}].name", expected="text", received=_kind(m.get("name"))))


def parse_stored(files: dict[str, str | bytes], *, where: str = "results") -> Results:
    """The typed view of what `stored_files` wrote, read back from memory (the render's canonical round trip)."""
    stored = json.loads(files["results.json"])
    raw = _join(stored, lambda kind, ref: files[ref["file"]], where)
    return parse_results(raw, where=where)


def with_blocks(results: Results, **blocks: Any) -> Results:
    """The results with top-level blocks (selection, gate, card) added or replaced; only those blocks are read."""
    hints = _hints(Results)
    try:
        parsed = {key: _build(hints[key], value, key) for key, value in blocks.items()}
    except _Invalid as exc:
        raise DataError(NOT_RESULTS.format(path="results", reason=exc)) from None
    return replace(results, raw={**results.raw, **blocks}, **parsed)


def load_results(path: Path) -> Results:
    """Read a saved results.json (and the tables beside it), checking it is one this version can use."""
    return parse_results(load_raw(path), where=str(path))


def load_raw(path: Path) -> dict[str, Any]:
    """The mapping of a saved results.json with every array in place (schema 2: read from its tables), unchecked."""
    if not path.exists():
        raise DataError(MISSING_FILE.format(path=path))
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a results.json file")
    try:
        text = path.read_bytes().decode("utf-8")
        raw = json.loads(text, parse_constant=_no_constant)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(NOT_RESULTS.format(path=path, reason="not UTF-8 text")) from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, an integer too long to convert
        raise DataError(NOT_RESULTS.format(path=path, reason=f"invalid JSON ({exc})")) from None
    except RecursionError:
        raise DataError(NOT_RESULTS.format(path=path, reason="invalid JSON (nested too deeply)")) from None
    if "\\ud" in text.lower() and has_lone_surrogate(raw):  # only a \u escape can write one: UTF-8 cannot
        raise DataError(NOT_RESULTS.format(path=path, reason="a string holds a lone UTF-16 surrogate (\\udXXXX)"))
    if isinstance(raw, dict) and "schema_version" in raw and _check_version(raw, str(path)) == "2":
        raw = _join(raw, lambda kind, ref: _table_bytes(path.parent / tables.FILES[kind]), str(path))
    return raw


def has_lone_surrogate(value: Any) -> bool:
    """Whether a string anywhere in the parsed JSON holds a lone surrogate, which no output can encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False


def _table_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise tables.TableError(
            f"{path}: file not found; a results.json of schema 2 needs its tables beside it"
        ) from None
    except OSError as exc:
        raise tables.TableError(f"{path}: cannot read ({exc.strerror})") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def dumps(raw: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, fixed indentation, no NaN tokens."""
    return json.dumps(raw, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
