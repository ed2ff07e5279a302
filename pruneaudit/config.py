"""Audit configuration: a YAML file and/or command-line options, validated once.

Paths in a config file are relative to the file's own directory, so a config can
travel with the models it lists. Command-line options override the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pruneaudit.cachedir import default_cache_dir
from pruneaudit.defaults import (
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DEVICE,
    DEFAULT_PRECISION,
    DEFAULT_TOLERANCE,
    DEVICES,
    PRECISIONS,
)
from pruneaudit.errors import BOTH_TRAIN_COUNTS, MISSING_FILE, ConfigError
from pruneaudit.models.formats import EXTENSIONS, FORMATS, TORCH_SAVE_EXTENSIONS, infer_format
from pruneaudit.policy import parse_selection
from pruneaudit.results.view import HUB_ID_EXPECTED, METADATA_TYPES, is_hub_id
from pruneaudit.specs import AuditConfig, DataSpec, ModelSpec
from pruneaudit.yamlfile import check_keys, read_yaml, shown


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What each key of a model mapping must hold (null means "not given"): checked before any model is read.
MODEL_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "name": ("non-empty text", lambda v: _is_text(v) and v.strip() != ""),
    "path": ("text (a file path)", _is_text),
    "format": ("text", _is_text),
    "factory": ("text", _is_text),
    "factory_kwargs": ("a mapping", lambda v: isinstance(v, dict)),
    "output": ("a key (text) or an index (integer)", lambda v: _is_text(v) or _is_int(v)),
    "class_order": ("a list of class names (text)", lambda v: isinstance(v, list) and all(map(_is_text, v))),
    **METADATA_TYPES,
}
METADATA_KEYS = tuple(METADATA_TYPES)
MODEL_KEYS = tuple(MODEL_TYPES)
BAD_MODEL_VALUE = "{where}: {key} must be {expected}; received {value}"
# How the card names the data (model-index dataset name, Hub id and split name): they change no input.
DATA_NAMES = ("name", "hf_id", "split_name")
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
    "max_bytes",
    *DATA_NAMES,
)
TOP_KEYS = (
    "data",
    "dense",
    "pruned",
    "device",
    "batch_size",
    "precision",
    "tolerance",
    "alpha",
    "selection",
    "dense_seeds",
    "timings",
    "train_class_counts",
    "train_labels",
)
COLORS = ("grayscale", "rgb")
BAD_TRAIN_COUNTS = (
    "{where}: train_class_counts must be a non-empty list of non-negative integers, one per class in the data's "
    "class order; received {value}"
)
TRAIN_LABEL_FILES = "an .npy of labels, an .npz with a labels array, or a .csv/.parquet manifest with a label column"
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
    if _existing(path).is_dir():
        raise ConfigError(f"{path}: is a folder; expected a model file")
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
    given = {k: v for k, v in raw.items() if v is not None}
    if "path" not in given:
        raise ConfigError(f"{where}: missing required key 'path'")
    for key, value in given.items():
        expected, ok = MODEL_TYPES[key]
        if not ok(value):
            raise ConfigError(BAD_MODEL_VALUE.format(where=where, key=key, expected=expected, value=shown(value)))
    order = given.get("class_order")
    return model_spec(
        base / given["path"],
        name=given.get("name"),
        fmt=given.get("format"),
        metadata={k: given[k] for k in METADATA_KEYS if k in given},
        factory=given.get("factory"),
        factory_kwargs=given.get("factory_kwargs"),
        output=given.get("output"),
        class_order=None if order is None else tuple(order),
    )


def _ints(where: str, value: Any, *, lengths: tuple[int, ...]) -> tuple[int, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if len(values) not in lengths or not all(_is_int(v) and v > 0 for v in values):
        raise ConfigError(
            f"{where}: expected {' or '.join(map(str, lengths))} positive integer(s); received {shown(value)}"
        )
    return tuple(values)


def _floats(where: str, value: Any, *, positive: bool = False) -> tuple[float, ...] | None:
    """A number or a non-empty list of finite numbers; ``positive`` (a std, a scale): each above 0."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    finite = [_is_number(v) and float("-inf") < v < float("inf") and (v > 0 or not positive) for v in values]
    if not values or not all(finite):
        kind = "positive numbers" if positive else "finite numbers"
        raise ConfigError(f"{where}: expected a number or a list of {kind}; received {shown(value)}")
    return tuple(float(v) for v in values)


def _data_names(where: str, raw: dict[str, Any]) -> dict[str, str]:
    """data.name, data.hf_id and data.split_name as given: non-empty text, the Hub id shaped like one."""
    names = {key: raw[key] for key in DATA_NAMES if key in raw}
    for key, value in names.items():
        if not _is_text(value) or not value.strip():
            raise ConfigError(f"{where}.{key}: expected non-empty text; received {shown(value)}")
    if "hf_id" in names and not is_hub_id(names["hf_id"]):
        raise ConfigError(
            f"{where}.hf_id: expected {HUB_ID_EXPECTED}, e.g. ylecun/mnist; received {shown(names['hf_id'])}"
        )
    return {key: value.strip() for key, value in names.items()}


def _data_from_mapping(where: str, raw: Any, base: Path) -> DataSpec:
    """Every value is type-checked here, so that a bad one is a ConfigError naming the config, not a traceback."""
    raw = {k: v for k, v in check_keys(where, raw, DATA_KEYS).items() if v is not None}
    if "path" not in raw:
        raise ConfigError(f"{where}: missing required key 'path'")
    for key in ("path", "labels", "class_names_file", "images_key", "labels_key"):
        if key in raw and not _is_text(raw[key]):
            raise ConfigError(f"{where}.{key}: expected text; received {shown(raw[key])}")
    for key in ("class_names", "attributes"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(_is_text(v) or _is_int(v) for v in value):
            raise ConfigError(f"{where}.{key}: expected a list of names; received {shown(value)}")
    if "class_names" in raw and "class_names_file" in raw:
        raise ConfigError(f"{where}: give class_names or class_names_file, not both")
    names, names_where = raw.get("class_names"), f"{where}.class_names"
    if "class_names_file" in raw:
        names_where = str(_existing(base / raw["class_names_file"]))
        if Path(names_where).is_dir():
            raise ConfigError(f"{names_where}: is a folder; expected a text file with one class name per line")
        try:
            text = Path(names_where).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{names_where}: cannot read as UTF-8 text with one class name per line ({exc})"
            ) from None
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if names is not None:
        names = [str(n) for n in names]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if not names or repeated:
            raise ConfigError(f"{names_where}: expected distinct class names; received {shown(names)}")
    if "split" in raw and not _is_int(raw["split"]):
        raise ConfigError(
            f"{where}.split: expected an integer (a value of the data's 'split' array or column); "
            f"received {shown(raw['split'])}"
        )
    if not isinstance(raw.get("channels_first", True), bool):
        raise ConfigError(f"{where}.channels_first: expected true or false; received {shown(raw['channels_first'])}")
    color = raw.get("color")
    if color is not None and color not in COLORS:
        raise ConfigError(f"{where}.color: expected one of {', '.join(COLORS)}; received {shown(color)}")
    scale = _floats(f"{where}.scale", raw.get("scale"), positive=True)
    if scale is not None and len(scale) != 1:
        raise ConfigError(f"{where}.scale: expected one number; received {shown(raw['scale'])}")
    crop = _ints(f"{where}.center_crop", raw.get("center_crop"), lengths=(1, 2))
    max_bytes = _ints(f"{where}.max_bytes", raw.get("max_bytes"), lengths=(1,))
    return DataSpec(
        **_data_names(where, raw),
        path=_existing(base / raw["path"]),
        labels=None if raw.get("labels") is None else _existing(base / raw["labels"]),
        resize=_ints(f"{where}.resize", raw.get("resize"), lengths=(1, 2)),
        center_crop=None if crop is None else (crop[0], crop[-1]),
        color=color,
        channels_first=raw.get("channels_first", True),
        split=raw.get("split"),
        images_key=raw.get("images_key", "images"),
        labels_key=raw.get("labels_key", "labels"),
        class_names=None if names is None else tuple(names),
        attributes=tuple(str(a) for a in raw.get("attributes", [])),
        scale=None if scale is None else scale[0],
        mean=_floats(f"{where}.mean", raw.get("mean")),
        std=_floats(f"{where}.std", raw.get("std"), positive=True),
        max_bytes=DataSpec.max_bytes if max_bytes is None else max_bytes[0],  # the class attribute: the default
    )


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse and key-check a YAML config; values are validated by `build_config`."""
    raw = read_yaml(path)
    if raw is None:  # an empty file: the command line gives everything
        return {}
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
    precision: str | None = None,
    cache_dir: Path | None | Literal["default"] = "default",
) -> AuditConfig:
    """Merge a config file with command-line overrides (None means 'not given').

    ``cache_dir``: the prediction and file-hash cache folder; "default" is `default_cache_dir()`, read
    when called; None keeps no cache (every model runs). Never from a config file: where a machine
    keeps its cache is the choice of whoever runs the command, not of the audit.

    ``trust_pickle`` and ``trusted_factories`` come from the person running the command only: a
    config file that tries to set them is refused (it would let a file grant itself code execution).

    ``output`` selects the score entry of dict/tuple outputs for models given on the command line
    (digits mean a tuple index).

    ``train_class_counts`` comes from the file only: `pruneaudit prune` writes it beside the models it made;
    ``train_labels`` (the file only too) names a file of training labels that the audit counts instead.
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
        **_settings_from(where, raw, device=device, batch_size=batch_size, timings=timings, precision=precision),
        train_labels=_train_labels(where, raw, base),
        trust_pickle=trust_pickle,
        trusted_factories=trusted_factories,
        base_dir=base,
        config_path=config_path,
        cache_dir=default_cache_dir() if cache_dir == "default" else cache_dir,
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
    precision: str | None,
) -> dict[str, Any]:
    """The AuditConfig fields besides data and models, as keyword arguments."""
    device = device or str(raw.get("device", DEFAULT_DEVICE))
    if device not in DEVICES:
        raise ConfigError(f"{where}: device must be one of {', '.join(DEVICES)}; received {device!r}")
    precision = precision or raw.get("precision", DEFAULT_PRECISION)
    if precision not in PRECISIONS:
        raise ConfigError(f"{where}: precision must be one of {', '.join(PRECISIONS)}; received {shown(precision)}")
    batch_size = batch_size if batch_size is not None else raw.get("batch_size", DEFAULT_BATCH_SIZE)
    if not _is_int(batch_size) or batch_size < 1:
        raise ConfigError(f"{where}: batch_size must be a positive integer; received {shown(batch_size)}")
    if timings is None and not isinstance(raw.get("timings", False), bool):
        raise ConfigError(f"{where}: timings must be true or false; received {shown(raw['timings'])}")
    return {
        "device": device,
        "batch_size": batch_size,
        "precision": precision,
        "tolerance": _fraction(where, "tolerance", raw.get("tolerance", DEFAULT_TOLERANCE)),
        "alpha": _fraction(where, "alpha", raw.get("alpha", DEFAULT_ALPHA)),
        "selection": parse_selection(f"{where}: selection", raw["selection"]) if "selection" in raw else None,
        "timings": bool(timings if timings is not None else raw.get("timings", False)),
        "train_class_counts": _train_class_counts(where, raw),
    }


def _train_class_counts(where: str, raw: dict[str, Any]) -> tuple[int, ...] | None:
    """Checked for type here; their number against the data's classes at audit time, once the classes are known."""
    if "train_class_counts" not in raw:
        return None
    counts = raw["train_class_counts"]
    if not isinstance(counts, list) or not counts or not all(_is_int(n) and n >= 0 for n in counts):
        raise ConfigError(BAD_TRAIN_COUNTS.format(where=where, value=shown(counts)))
    return tuple(counts)


def _train_labels(where: str, raw: dict[str, Any], base: Path) -> Path | None:
    """The training-labels file, relative to the config's folder; read and counted at audit time (pipeline), once
    the classes are known. Exactly one of train_class_counts and train_labels may be given."""
    if raw.get("train_labels") is None:
        return None
    if "train_class_counts" in raw:
        raise ConfigError(BOTH_TRAIN_COUNTS.format(where=where))
    value = raw["train_labels"]
    if not _is_text(value) or not value.strip():
        raise ConfigError(f"{where}: train_labels must be a file path (text); received {shown(value)}")
    path = _existing(base / value)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected a file of training labels ({TRAIN_LABEL_FILES})")
    return path


def _fraction(where: str, key: str, value: Any) -> float:
    if not _is_number(value) or not 0 <= value < 1:
        raise ConfigError(f"{where}: {key} must be a number in [0, 1); received {shown(value)}")
    return float(value)
