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

from pruneaudit.errors import MISSING_FILE, DataError
from pruneaudit.results.view import METADATA_TYPES, POLICIES, ROLES, Interval, Model, Numbers, Results, SelectionResult

SCHEMA_VERSION = "1.1"
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


def _first_mismatch(values: tuple, reference: tuple) -> int | None:
    return next((i for i, (v, r) in enumerate(zip(values, reference)) if (v is None) != (r is None)), None)


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


def _check_confusion(cells: tuple[tuple[int, ...], ...], n: int, where: str) -> None:
    """Each cell is [true class, predicted class, count] with both classes among the n."""
    for i, cell in enumerate(cells):
        if len(cell) != 3 or not (0 <= cell[0] < n and 0 <= cell[1] < n and cell[2] >= 0):
            expected = f"[true, predicted, count] with classes in [0, {n}) and a count >= 0"
            raise _Invalid(BAD_VALUE.format(where=f"{where}[{i}]", expected=expected, received=list(cell)))


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
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a results.json file")
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(NOT_RESULTS.format(path=path, reason="not UTF-8 text")) from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, an integer too long to convert
        raise DataError(NOT_RESULTS.format(path=path, reason=f"invalid JSON ({exc})")) from None
    except RecursionError:
        raise DataError(NOT_RESULTS.format(path=path, reason="invalid JSON (nested too deeply)")) from None
    return parse_results(raw, where=str(path))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def dumps(raw: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, fixed indentation, no NaN tokens."""
    return json.dumps(raw, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"
