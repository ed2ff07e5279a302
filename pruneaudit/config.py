"""Audit configuration: a YAML file and/or command-line options, validated once.

Paths in a config file are relative to the file's own directory, so a config can
travel with the models it lists. Command-line options override the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pruneaudit.errors import MISSING_FILE, UNKNOWN_KEY, ConfigError
from pruneaudit.policy import Selection, parse_selection

DEVICES = ("auto", "cpu", "cuda")
MODEL_FORMATS = {".pt": "torchscript", ".ts": "torchscript", ".onnx": "onnx"}
METADATA_KEYS = ("technique", "amount", "seed", "finetune_epochs", "notes")
MODEL_KEYS = ("name", "path", "format", *METADATA_KEYS)
DATA_KEYS = ("path", "split", "images_key", "labels_key", "class_names", "attributes", "scale", "mean", "std")
TOP_KEYS = ("data", "dense", "pruned", "device", "batch_size", "tolerance", "alpha", "selection")


@dataclass(frozen=True)
class ModelSpec:
    """One model to audit: where it is, how to read it, and what the user declares about it."""

    name: str
    path: Path
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSpec:
    """Where the labelled data is and how to turn its arrays into model input."""

    path: Path
    split: int | None = None
    images_key: str = "images"
    labels_key: str = "labels"
    class_names: tuple[str, ...] | None = None
    attributes: tuple[str, ...] = ()  # extra per-image arrays for subgroup analysis
    scale: float | None = None  # None: 1/255 for integer images, 1 for float images
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


@dataclass(frozen=True)
class AuditConfig:
    data: DataSpec
    dense: ModelSpec
    pruned: tuple[ModelSpec, ...]
    device: str = "auto"
    batch_size: int = 256
    tolerance: float = 0.01  # |Δ recall| beyond this counts a class as harmed or helped
    alpha: float = 0.05  # significance level after multiple-comparison correction
    selection: Selection = field(default_factory=Selection)  # operating-point policies


def _check_keys(where: str, mapping: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where}: expected a mapping, received {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            raise ConfigError(UNKNOWN_KEY.format(where=where, key=key, allowed=", ".join(allowed)))
    return mapping


def _existing(path: Path) -> Path:
    if not path.exists():
        raise ConfigError(MISSING_FILE.format(path=path))
    return path


def model_spec(path: Path, *, name: str | None = None, fmt: str | None = None, metadata: dict | None = None) -> ModelSpec:
    """Build a ModelSpec, inferring the format from the file extension when not given."""
    fmt = fmt or MODEL_FORMATS.get(path.suffix.lower())
    if fmt not in set(MODEL_FORMATS.values()):
        raise ConfigError(
            f"{path}: cannot tell the model format; expected extension {', '.join(MODEL_FORMATS)} "
            f"or format one of {', '.join(sorted(set(MODEL_FORMATS.values())))}, received {path.suffix or fmt!r}"
        )
    return ModelSpec(name=name or path.stem, path=_existing(path), format=fmt, metadata=dict(metadata or {}))


def _model_from_mapping(where: str, raw: Any, base: Path) -> ModelSpec:
    raw = _check_keys(where, raw, MODEL_KEYS)
    if "path" not in raw:
        raise ConfigError(f"{where}: missing required key 'path'")
    metadata = {k: raw[k] for k in METADATA_KEYS if k in raw}
    return model_spec(base / str(raw["path"]), name=raw.get("name"), fmt=raw.get("format"), metadata=metadata)


def _floats(where: str, value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number or a list of numbers, received {value!r}") from None


def _data_from_mapping(where: str, raw: Any, base: Path) -> DataSpec:
    raw = _check_keys(where, raw, DATA_KEYS)
    if "path" not in raw:
        raise ConfigError(f"{where}: missing required key 'path'")
    names = raw.get("class_names")
    attributes = raw.get("attributes") or []
    if not isinstance(attributes, list):
        raise ConfigError(f"{where}: 'attributes' must be a list of array names; received {attributes!r}")
    scale = _floats(f"{where}.scale", raw.get("scale"))
    return DataSpec(
        path=_existing(base / str(raw["path"])),
        split=None if raw.get("split") is None else int(raw["split"]),
        images_key=str(raw.get("images_key", "images")),
        labels_key=str(raw.get("labels_key", "labels")),
        class_names=None if names is None else tuple(str(n) for n in names),
        attributes=tuple(str(a) for a in attributes),
        scale=None if scale is None else scale[0],
        mean=_floats(f"{where}.mean", raw.get("mean")),
        std=_floats(f"{where}.std", raw.get("std")),
    )


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse and key-check a YAML config; values are validated by `build_config`."""
    try:
        raw = yaml.safe_load(_existing(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return _check_keys(str(path), raw or {}, TOP_KEYS)


def build_config(
    *,
    config_path: Path | None = None,
    dense: Path | None = None,
    pruned: tuple[Path, ...] = (),
    data: Path | None = None,
    split: int | None = None,
    device: str | None = None,
    batch_size: int | None = None,
) -> AuditConfig:
    """Merge a config file with command-line overrides (None means 'not given')."""
    raw = read_config_file(config_path) if config_path else {}
    base = config_path.parent if config_path else Path(".")
    where = str(config_path) if config_path else "command line"

    if dense is not None:
        dense_spec = model_spec(dense)
    elif "dense" in raw:
        dense_spec = _model_from_mapping(f"{where}: dense", raw["dense"], base)
    else:
        raise ConfigError(f"{where}: no dense model; pass --dense PATH or set 'dense' in the config")

    if pruned:
        pruned_specs = tuple(model_spec(p) for p in pruned)
    else:
        items = raw.get("pruned") or []
        if not isinstance(items, list):
            raise ConfigError(f"{where}: 'pruned' must be a list of models")
        pruned_specs = tuple(_model_from_mapping(f"{where}: pruned[{i}]", m, base) for i, m in enumerate(items))
    if not pruned_specs:
        raise ConfigError(f"{where}: no pruned model; pass --pruned PATH or list 'pruned' in the config")

    names = [dense_spec.name, *(p.name for p in pruned_specs)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}: model names must be unique; repeated: {', '.join(dupes)}")

    if data is not None:
        data_spec = DataSpec(path=_existing(data))
    elif "data" in raw:
        data_spec = _data_from_mapping(f"{where}: data", raw["data"], base)
    else:
        raise ConfigError(f"{where}: no data; pass --data PATH or set 'data' in the config")
    if split is not None:
        data_spec = DataSpec(**{**data_spec.__dict__, "split": split})

    device = device or str(raw.get("device", "auto"))
    if device not in DEVICES:
        raise ConfigError(f"{where}: device must be one of {', '.join(DEVICES)}; received {device!r}")
    batch_size = batch_size if batch_size is not None else raw.get("batch_size", 256)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"{where}: batch_size must be a positive integer; received {batch_size!r}")
    tolerance = _fraction(where, "tolerance", raw.get("tolerance", 0.01))
    alpha = _fraction(where, "alpha", raw.get("alpha", 0.05))
    return AuditConfig(
        data=data_spec,
        dense=dense_spec,
        pruned=pruned_specs,
        device=device,
        batch_size=batch_size,
        tolerance=tolerance,
        alpha=alpha,
        selection=parse_selection(f"{where}: selection", raw.get("selection")),
    )


def _fraction(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{where}: {key} must be a number in [0, 1); received {value!r}")
    return float(value)
