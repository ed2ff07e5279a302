"""Read and write results.json: canonical JSON out, a checked typed view in.

One builder turns a JSON mapping into the dataclasses of `view`, driven by their type
hints, so that the view and the checks cannot drift apart. A value of the wrong type, a
missing key or a per-class array of the wrong length is a one-line `DataError` naming the
file and the JSON path (e.g. ``models[3].vs_dense.per_class.recall[5]``).
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, fields, is_dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from pruneaudit.errors import MISSING_FILE, DataError
from pruneaudit.results.view import ROLES, Interval, Results

SCHEMA_VERSION = "1.1"
REQUIRED_KEYS = ("schema_version", "data", "models")

NOT_RESULTS = "{path}: not a pruneaudit results file: {reason}"
BAD_VALUE = "{where}: expected {expected}, received {received}"


class _Invalid(Exception):
    """Where in the JSON a value does not fit the view; reported with the file name by `parse_results`."""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "text", bool: "a boolean"}.get(type(value), repr(value))


# Per-class arrays are checked element by element without recursion: they are most of the file.
_ITEM_CHECKS: dict[Any, tuple[str, typing.Callable[[Any], bool]]] = {
    int: ("an integer", lambda v: type(v) is int),
    float | None: ("a number or null", lambda v: v is None or type(v) in (int, float)),
    str: ("text", lambda v: type(v) is str),
}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _scalar(tp: type, value: Any, where: str) -> Any:
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
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
    expected, ok = check
    bad = next((i for i, v in enumerate(value) if not ok(v)), None)
    if bad is not None:
        raise _Invalid(BAD_VALUE.format(where=f"{where}[{bad}]", expected=expected, received=_kind(value[bad])))
    return tuple(value)


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
        return {k: _build(item, v, f"{where}.{k}") for k, v in value.items()}
    if is_dataclass(tp):
        return _object(tp, value, where)
    return _scalar(tp, value, where)


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


def _check(results: Results) -> None:
    """What the types cannot say: roles, one dense model first, per-class lengths, unique names."""
    n = results.data.n_classes
    if len(results.data.class_names) != n:
        raise _Invalid(
            BAD_VALUE.format(where="data.class_names", expected=f"{n} names", received=len(results.data.class_names))
        )
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
        if m.vs_dense is not None:
            _per_class_lengths(m.vs_dense.per_class, n, f"{where}.vs_dense.per_class")
    for i, g in enumerate(results.subgroups):
        _per_class_lengths(g.per_class, n, f"subgroups[{i}].per_class")


def parse_results(raw: dict[str, Any], *, where: str = "results") -> Results:
    """The typed view of a results mapping; ``where`` (the file) prefixes errors."""
    if not isinstance(raw, dict) or any(k not in raw for k in REQUIRED_KEYS):
        raise DataError(NOT_RESULTS.format(path=where, reason=f"expected keys {', '.join(REQUIRED_KEYS)}"))
    major = str(raw["schema_version"]).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise DataError(f"{where}: results schema {raw['schema_version']} is not supported; expected {SCHEMA_VERSION}")
    try:
        results = _object(Results, raw, "")
        _check(results)
    except _Invalid as exc:
        raise DataError(NOT_RESULTS.format(path=where, reason=exc)) from None
    return results


def with_blocks(results: Results, **blocks: Any) -> Results:
    """The results with top-level blocks (selection, gate, card) added or replaced; only those blocks are read."""
    hints = _hints(Results)
    try:
        parsed = {key: _build(hints[key], value, key) for key, value in blocks.items()}
    except _Invalid as exc:
        raise DataError(NOT_RESULTS.format(path="results", reason=exc)) from None
    return replace(results, raw={**results.raw, **blocks}, **parsed)


def load_results(path: Path) -> Results:
    """Read a saved results.json, checking it is one this version can use."""
    if not path.exists():
        raise DataError(MISSING_FILE.format(path=path))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(NOT_RESULTS.format(path=path, reason=f"invalid JSON ({exc})")) from None
    return parse_results(raw, where=str(path))


def dumps(raw: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, fixed indentation, no NaN tokens."""
    return json.dumps(raw, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
