"""Audit configuration: a YAML file and/or command-line options, validated once.

Paths in a config file are relative to the file's own directory, so a config can
travel with the models it lists. Command-line options override the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pruneaudit.defaults import DEFAULT_ALPHA, DEFAULT_BATCH_SIZE, DEFAULT_DEVICE, DEFAULT_TOLERANCE, DEVICES
from pruneaudit.errors import MISSING_FILE, ConfigError
from pruneaudit.models.formats import EXTENSIONS, FORMATS, TORCH_SAVE_EXTENSIONS, infer_format
from pruneaudit.policy import parse_selection
from pruneaudit.specs import AuditConfig, DataSpec, ModelSpec
from pruneaudit.yamlfile import check_keys, read_yaml

METADATA_KEYS = ("technique", "amount", "seed", "finetune_epochs", "notes")
MODEL_KEYS = ("name", "path", "format", "factory", "factory_kwargs", "output", "class_order", *METADATA_KEYS)
DATA_KEYS = (
    "path",
    "labels",
    "split",
    "images_key",
    "labels_key",
    "class_names",
    "class_names_file",
    "attributes",
    "scale",
    "mean",
    "std",
    "resize",
    "center_crop",
    "color",
    "channels_first",
)
TOP_KEYS = (
    "data",
    "dense",
    "pruned",
    "device",
    "batch_size",
    "tolerance",
    "alpha",
    "selection",
    "dense_seeds",
    "timings",
)
COLORS = ("grayscale", "rgb")
TRUST_IN_FILE = (
    "{where}: trust_pickle cannot be set in a config file; trusting a model file's code is the decision of "
    "whoever runs the command: pass --trust-pickle"
)


def _existing(path: Path) -> Path:
    if not path.exists():
        raise ConfigError(MISSING_FILE.format(path=path))
    return path


def model_spec(
    path: Path,
    *,
    name: str | None = None,
    fmt: str | None = None,
    metadata: dict | None = None,
    factory: str | None = None,
    factory_kwargs: dict | None = None,
    output: str | int | None = None,
    class_order: tuple[str, ...] | None = None,
) -> ModelSpec:
    """Build a ModelSpec, inferring the format from the extension (and contents of .pt files)."""
    _existing(path)
    if fmt is None:
        fmt = infer_format(path, factory=factory)
    if not isinstance(fmt, str) or fmt not in FORMATS:  # a YAML list or mapping is no format either
        raise ConfigError(
            f"{path}: cannot tell the model format; expected an extension among "
            f"{', '.join([*EXTENSIONS, *TORCH_SAVE_EXTENSIONS])} or format one of {', '.join(FORMATS)}; "
            f"received {fmt or path.suffix or 'no extension'!r}"
        )
    if fmt == "state_dict" and not factory:
        raise ConfigError(f"{path}: a state_dict needs 'factory: package.module:callable' to build the model")
    if factory is not None and (not isinstance(factory, str) or ":" not in factory):
        raise ConfigError(f"{path}: factory must look like 'package.module:callable'; received {factory!r}")
    return ModelSpec(
        name=name or path.stem,
        path=path,
        format=fmt,
        metadata=dict(metadata or {}),
        factory=factory,
        factory_kwargs=dict(factory_kwargs or {}),
        output=output,
        class_order=class_order,
    )


def _model_from_mapping(where: str, raw: Any, base: Path) -> ModelSpec:
    raw = check_keys(where, raw, MODEL_KEYS)
    if "path" not in raw:
        raise ConfigError(f"{where}: missing required key 'path'")
    metadata = {k: raw[k] for k in METADATA_KEYS if k in raw}
    kwargs = raw.get("factory_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{where}: factory_kwargs must be a mapping; received {kwargs!r}")
    order = raw.get("class_order")
    if order is not None and not isinstance(order, list):
        raise ConfigError(f"{where}: class_order must be a list of class names; received {order!r}")
    output = raw.get("output")
    if output is not None and not isinstance(output, (str, int)):
        raise ConfigError(f"{where}: output must be a key (text) or an index (integer); received {output!r}")
    return model_spec(
        base / str(raw["path"]),
        name=raw.get("name"),
        fmt=raw.get("format"),
        metadata=metadata,
        factory=raw.get("factory"),
        factory_kwargs=kwargs,
        output=output,
        class_order=None if order is None else tuple(str(c) for c in order),
    )


def _ints(where: str, value: Any, *, lengths: tuple[int, ...]) -> tuple[int, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if len(values) not in lengths or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError(f"{where}: expected {' or '.join(map(str, lengths))} positive integer(s); received {value!r}")
    return tuple(values)


def _floats(where: str, value: Any) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected a number or a list of numbers, received {value!r}") from None


def _data_from_mapping(where: str, raw: Any, base: Path) -> DataSpec:
    raw = check_keys(where, raw, DATA_KEYS)
    if "path" not in raw:
        raise ConfigError(f"{where}: missing required key 'path'")
    names = raw.get("class_names")
    if names is None and raw.get("class_names_file") is not None:
        names_path = _existing(base / str(raw["class_names_file"]))
        names = [line.strip() for line in names_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    attributes = raw.get("attributes") or []
    if not isinstance(attributes, list):
        raise ConfigError(f"{where}: 'attributes' must be a list of array names; received {attributes!r}")
    scale = _floats(f"{where}.scale", raw.get("scale"))
    color = raw.get("color")
    if color is not None and color not in COLORS:
        raise ConfigError(f"{where}.color: expected one of {', '.join(COLORS)}; received {color!r}")
    crop = _ints(f"{where}.center_crop", raw.get("center_crop"), lengths=(1, 2))
    return DataSpec(
        path=_existing(base / str(raw["path"])),
        labels=None if raw.get("labels") is None else _existing(base / str(raw["labels"])),
        resize=_ints(f"{where}.resize", raw.get("resize"), lengths=(1, 2)),
        center_crop=None if crop is None else (crop[0], crop[-1]),
        color=color,
        channels_first=bool(raw.get("channels_first", True)),
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
    raw = read_yaml(path) or {}
    if isinstance(raw, dict) and "trust_pickle" in raw:
        raise ConfigError(TRUST_IN_FILE.format(where=path))
    return check_keys(str(path), raw, TOP_KEYS)


def build_config(
    *,
    config_path: Path | None = None,
    dense: Path | None = None,
    pruned: tuple[Path, ...] = (),
    data: Path | None = None,
    split: int | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    output: str | None = None,
    trust_pickle: bool = False,
    trusted_factories: tuple[str, ...] = (),
    timings: bool | None = None,
) -> AuditConfig:
    """Merge a config file with command-line overrides (None means 'not given').

    ``trust_pickle`` and ``trusted_factories`` come from the person running the command only: a
    config file that tries to set them is refused (it would let a file grant itself code execution).

    ``output`` selects the score entry of dict/tuple outputs for models given on the command line
    (digits mean a tuple index).
    """
    cli_output: str | int | None = int(output) if output is not None and output.isdigit() else output
    raw = read_config_file(config_path) if config_path else {}
    base = config_path.parent if config_path else Path(".")
    where = str(config_path) if config_path else "command line"
    dense_spec, pruned_specs, seed_specs = _models_from(where, raw, base, dense=dense, pruned=pruned, output=cli_output)
    return AuditConfig(
        data=_data_from(where, raw, base, data=data, split=split),
        dense=dense_spec,
        dense_seeds=seed_specs,
        pruned=pruned_specs,
        **_settings_from(where, raw, device=device, batch_size=batch_size, timings=timings),
        trust_pickle=trust_pickle,
        trusted_factories=trusted_factories,
        base_dir=base,
    )


def _models_from(
    where: str,
    raw: dict[str, Any],
    base: Path,
    *,
    dense: Path | None,
    pruned: tuple[Path, ...],
    output: str | int | None,
) -> tuple[ModelSpec, tuple[ModelSpec, ...], tuple[ModelSpec, ...]]:
    """(dense, pruned, dense seeds): models given on the command line replace those in the file."""
    if dense is not None:
        dense_spec = model_spec(dense, output=output)
    elif "dense" in raw:
        dense_spec = _model_from_mapping(f"{where}: dense", raw["dense"], base)
    else:
        raise ConfigError(f"{where}: no dense model; pass --dense PATH or set 'dense' in the config")

    if pruned:
        pruned_specs = tuple(model_spec(p, output=output) for p in pruned)
    else:
        pruned_specs = _model_list(where, raw, base, "pruned")
    if not pruned_specs:
        raise ConfigError(f"{where}: no pruned model; pass --pruned PATH or list 'pruned' in the config")
    seed_specs = _model_list(where, raw, base, "dense_seeds")

    names = [dense_spec.name, *(p.name for p in pruned_specs), *(p.name for p in seed_specs)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}: model names must be unique; repeated: {', '.join(dupes)}")
    return dense_spec, pruned_specs, seed_specs


def _model_list(where: str, raw: dict[str, Any], base: Path, key: str) -> tuple[ModelSpec, ...]:
    items = raw.get(key) or []
    if not isinstance(items, list):
        raise ConfigError(f"{where}: '{key}' must be a list of models")
    return tuple(_model_from_mapping(f"{where}: {key}[{i}]", m, base) for i, m in enumerate(items))


def _data_from(where: str, raw: dict[str, Any], base: Path, *, data: Path | None, split: int | None) -> DataSpec:
    """--data replaces the file's whole data mapping; --split overrides only the split."""
    if data is not None:
        data_spec = DataSpec(path=_existing(data))
    elif "data" in raw:
        data_spec = _data_from_mapping(f"{where}: data", raw["data"], base)
    else:
        raise ConfigError(f"{where}: no data; pass --data PATH or set 'data' in the config")
    if split is not None:
        data_spec = DataSpec(**{**data_spec.__dict__, "split": split})
    return data_spec


def _settings_from(
    where: str,
    raw: dict[str, Any],
    *,
    device: str | None,
    batch_size: int | None,
    timings: bool | None,
) -> dict[str, Any]:
    """The AuditConfig fields besides data and models, as keyword arguments."""
    device = device or str(raw.get("device", DEFAULT_DEVICE))
    if device not in DEVICES:
        raise ConfigError(f"{where}: device must be one of {', '.join(DEVICES)}; received {device!r}")
    batch_size = batch_size if batch_size is not None else raw.get("batch_size", DEFAULT_BATCH_SIZE)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"{where}: batch_size must be a positive integer; received {batch_size!r}")
    return {
        "device": device,
        "batch_size": batch_size,
        "tolerance": _fraction(where, "tolerance", raw.get("tolerance", DEFAULT_TOLERANCE)),
        "alpha": _fraction(where, "alpha", raw.get("alpha", DEFAULT_ALPHA)),
        "selection": parse_selection(f"{where}: selection", raw["selection"]) if "selection" in raw else None,
        "timings": bool(timings if timings is not None else raw.get("timings", False)),
    }


def _fraction(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{where}: {key} must be a number in [0, 1); received {value!r}")
    return float(value)
