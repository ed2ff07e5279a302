"""Reading the YAML files users write (config, policy, card): one place for their errors.

These files come from anyone (a pull request, a download), so reading one is bounded: at most
`MAX_BYTES`, UTF-8 only, no key given twice, and at most `MAX_VALUES` values once anchors and
aliases are expanded (a "billion laughs" file is a few hundred bytes that expand to 10⁹ values,
which every later ``repr`` or walk would pay for). Anchors themselves stay allowed: repeating a
block of model metadata is what they are for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pruneaudit.errors import MISSING_FILE, UNKNOWN_KEY, ConfigError

MAX_BYTES = 1 << 20  # a config listing a thousand models is about 100 KiB
MAX_VALUES = 100_000  # after alias expansion
MAX_DEPTH = 50  # nesting levels; a config needs about five

NOT_A_FILE = "{path}: is a folder; expected a YAML file"
CANNOT_READ = "{path}: cannot read ({reason})"
TOO_LARGE = "{path}: larger than {limit} bytes; expected a hand-written YAML file"
NOT_UTF8 = "{path}: not UTF-8 text (byte 0x{byte:02x} on line {line}); save the file as UTF-8"
NOT_YAML = "{path}: not valid YAML ({reason})"
MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when installed: ten times faster
    """`yaml.safe_load`'s loader, refusing a key given twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                continue  # merged keys (<<: *defaults) may be overridden; unhashable keys fail below
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_size(node: yaml.Node) -> None:
    """Count values as if every alias were expanded, without expanding them (each node is sized once)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, int, bool]] = [(node, 1, False)]
    while stack:
        current, depth, done = stack.pop()
        if done:
            on_path.discard(id(current))
            sizes[id(current)] = 1 + sum(sizes[id(c)] for c in _children(current))
            if sizes[id(current)] > MAX_VALUES:
                raise ValueError(f"more than {MAX_VALUES} values once aliases are expanded")
            continue
        if id(current) in sizes:
            continue
        if id(current) in on_path:
            raise ValueError("an alias refers to its own anchor (a recursive structure)")
        if depth > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        on_path.add(id(current))
        stack.append((current, depth, True))
        stack.extend((c, depth + 1, False) for c in _children(current))


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem and exc.problem_mark:
        return f"{exc.problem} on line {exc.problem_mark.line + 1}"
    return str(exc).splitlines()[0]


def _text(path: Path) -> str:
    if not path.exists():
        raise ConfigError(MISSING_FILE.format(path=path))
    if path.is_dir():
        raise ConfigError(NOT_A_FILE.format(path=path))
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(CANNOT_READ.format(path=path, reason=exc.strerror)) from None
    if len(data) > MAX_BYTES:
        raise ConfigError(TOO_LARGE.format(path=path, limit=MAX_BYTES))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(NOT_UTF8.format(path=path, byte=data[exc.start], line=line)) from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a missing, unreadable, oversized or invalid file is a one-line ConfigError naming it."""
    text = _text(path)
    try:
        return _load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(NOT_YAML.format(path=path, reason=_problem(exc))) from None
    except (ValueError, RecursionError) as exc:  # RecursionError: the pure-Python parser on deep nesting
        reason = str(exc) if isinstance(exc, ValueError) else f"nested more than {MAX_DEPTH} levels deep"
        raise ConfigError(NOT_YAML.format(path=path, reason=reason)) from None


def _load(text: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def shown(value: Any, limit: int = 80) -> str:
    """A received value as an error message quotes it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_keys(where: str, mapping: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """A mapping whose keys are all in ``allowed``; the error lists the valid keys."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, received {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            raise ConfigError(UNKNOWN_KEY.format(where=where, key=key, allowed=", ".join(allowed)))
    return mapping
