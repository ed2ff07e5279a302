"""Sweep configuration: a YAML file validated whole, before any model is loaded or trained.

A sweep is the dense model, the data it is trained and evaluated on, and one or more grids of
techniques × amounts × seeds. Every value is checked here, so that a typo in the last grid is a
one-line error (exit 2) before the first minute of training, never after an hour. Paths are relative
to the config's folder, as in an audit config. Nothing here imports torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pruneaudit.config import MODEL_TYPES, _data_from_mapping, model_spec
from pruneaudit.defaults import DEVICES
from pruneaudit.errors import ConfigError
from pruneaudit.specs import DataSpec, ModelSpec
from pruneaudit.yamlfile import check_keys, read_yaml, shown

DEFAULT_OPSET = 17  # the ONNX opset models are exported with

# name → (how masks are chosen, may it run iteratively): the techniques of torch.nn.utils.prune.
TECHNIQUES: dict[str, str] = {
    "l1_unstructured": "smallest |w| of each layer",
    "random_unstructured": "random weights of each layer",
    "global_l1": "smallest |w| over all pruned layers together",
    "ln_structured": "whole output channels / neurons of smallest L2 norm, per layer (never the output layer)",
}
ITERATIVE = "_iterative"  # suffix: prune → fine-tune cycles up to the amount (magnitude techniques only)
ITERATIVE_BASES = ("l1_unstructured", "global_l1", "ln_structured")
ALL_TECHNIQUES = (*TECHNIQUES, *(t + ITERATIVE for t in ITERATIVE_BASES))
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "onecycle")
FORMATS_OUT = ("torchscript", "onnx", "state_dict")
DEFAULT_NAME = "{technique}-{amount}-s{seed}"
NAME_FIELDS = ("technique", "amount", "percent", "seed")
MAX_NAME = 120  # a file name with its extension stays far below every file system's limit
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")

TOP_KEYS = (
    "model",
    "train_data",
    "eval_data",
    "train",
    "dense_seeds",
    "techniques",
    "amounts",
    "seeds",
    "finetune",
    "iterative",
    "layers",
    "name",
    "label",
    "grids",
    "formats",
    "threads",
    "device",
    "batch_size",
    "opset",
)
GRID_KEYS = ("techniques", "amounts", "seeds", "finetune", "iterative", "layers", "name", "label")
MODEL_KEYS = ("name", "path", "format", "factory", "factory_kwargs", "output")
TRAIN_KEYS = ("epochs", "optimizer", "lr", "momentum", "weight_decay", "nesterov", "schedule", "batch_size", "augment")
FINETUNE_KEYS = (*TRAIN_KEYS, "rewind")
DENSE_TRAIN_KEYS = (*TRAIN_KEYS, "seed")
TRAINABLE_FORMATS = ("state_dict", "torchscript", "pickle")
UNKNOWN_TECHNIQUE = "{where}: unknown technique {name!r}; expected one of {allowed}"
NEEDS_TRAIN = "{where}: {what} needs a 'train:' block (how the dense model is trained)"


@dataclass(frozen=True)
class Training:
    """One optimisation run: the dense model's training, or a variant's fine-tuning (masks held fixed)."""

    epochs: int
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    nesterov: bool = False  # sgd only
    schedule: str = "constant"  # learning rate over the run's steps: constant, cosine (to 0) or onecycle
    batch_size: int = 128
    translate: int = 0  # augmentation: shift each batch by up to this many pixels (zero fill); 0 is off


@dataclass(frozen=True)
class FineTune:
    """How a variant is fine-tuned. ``rewind``: learning-rate rewinding (Renda et al. 2020): the dense
    model's own schedule, replayed over its last ``epochs`` epochs, instead of ``training``'s."""

    training: Training
    rewind: bool = False


@dataclass(frozen=True)
class Variant:
    """One pruned model the sweep makes: its name, how it is pruned, and how it is fine-tuned."""

    name: str
    technique: str  # a name in ALL_TECHNIQUES
    amount: float  # fraction of the pruned layers' weights (or channels, for ln_structured) removed
    seed: int  # random masks, batch order and augmentation all draw from it
    finetune: FineTune | None  # None: one-shot, no fine-tuning
    exclude: tuple[str, ...] | None  # layers left dense (module names); None: the output layer
    steps: int = 1  # iterative techniques: prune → fine-tune cycles to reach ``amount``
    label: str = ""  # the technique as audit.yaml declares it; "" is `default_label`

    @property
    def audit_technique(self) -> str:
        """What the audit groups by: variants that share it and an amount are pooled as seeds of one configuration."""
        if self.label:
            return self.label
        if self.finetune is None:
            return self.technique + "+oneshot"
        return self.technique + ("+lr_rewinding" if self.finetune.rewind else "")

    @property
    def iterative(self) -> bool:
        return self.technique.endswith(ITERATIVE)

    @property
    def base_technique(self) -> str:
        return self.technique.removesuffix(ITERATIVE)

    def schedule(self) -> tuple[float, ...]:
        """The sparsity reached after each cycle: geometric, each cycle removes the same share of what is left."""
        if not self.iterative:
            return (self.amount,)
        kept = 1.0 - self.amount
        return tuple(1.0 - kept ** ((i + 1) / self.steps) for i in range(self.steps))


@dataclass(frozen=True)
class DenseRun:
    """A dense model the sweep trains itself: the main one (when ``model.path`` is absent) or a dense seed."""

    name: str
    seed: int


@dataclass(frozen=True)
class SweepConfig:
    model: ModelSpec  # the dense model; its path is None-like (``trained`` set) when the sweep trains it
    train_data: DataSpec
    eval_data: DataSpec
    variants: tuple[Variant, ...]
    train: Training | None = None  # how dense models are trained (and replayed by rewinding)
    train_seed: int = 0
    trained: DenseRun | None = None  # set: the dense model itself is trained by the sweep
    dense_seeds: tuple[DenseRun, ...] = ()
    formats: tuple[str, ...] = FORMATS_OUT
    threads: int = 1  # intra-op threads per variant: float results depend on it, never on --jobs
    device: str = "auto"
    batch_size: int = 256  # evaluation batch
    opset: int = DEFAULT_OPSET
    base_dir: Path = Path(".")
    source: Path = Path("sweep.yaml")
    trust_pickle: bool = False
    trusted_factories: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)  # the file as read, echoed in the manifest


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    """A finite int or float (no bool): a learning rate of .inf trains a model of NaN."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


MAX_SEED = 2**32 - 1  # what every generator takes


def _is_seed(v: Any) -> bool:
    return _is_int(v) and 0 <= v <= MAX_SEED


def _value(where: str, raw: dict, key: str, default: Any, ok: Callable[[Any], bool], expected: str) -> Any:
    """``raw[key]`` (``default`` when absent or null), checked; ``where`` ends in ':' at the top level."""
    value = raw.get(key, default)
    if value is None:
        value = default
    if not ok(value):
        at = f"{where} {key}" if where.endswith(":") else f"{where}.{key}"
        raise ConfigError(f"{at}: expected {expected}; received {shown(value)}")
    return value


def _training(where: str, raw: Any, *, keys: tuple[str, ...]) -> dict[str, Any]:
    raw = check_keys(where, raw, keys)
    augment = check_keys(f"{where}.augment", raw.get("augment") or {}, ("translate",))
    epochs = _value(where, raw, "epochs", None, lambda v: _is_int(v) and v >= 0, "a non-negative integer")
    return {
        "epochs": epochs,
        "optimizer": _value(
            where, raw, "optimizer", "sgd", lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"
        ),
        "lr": float(_value(where, raw, "lr", 0.01, lambda v: _is_number(v) and v > 0, "a positive number")),
        "momentum": float(
            _value(where, raw, "momentum", 0.9, lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)")
        ),
        "weight_decay": float(
            _value(where, raw, "weight_decay", 0.0, lambda v: _is_number(v) and v >= 0, "a non-negative number")
        ),
        "nesterov": _value(where, raw, "nesterov", False, lambda v: isinstance(v, bool), "true or false"),
        "schedule": _value(
            where, raw, "schedule", "constant", lambda v: v in SCHEDULES, f"one of {', '.join(SCHEDULES)}"
        ),
        "batch_size": _value(where, raw, "batch_size", 128, lambda v: _is_int(v) and v > 0, "a positive integer"),
        "translate": _value(
            f"{where}.augment", augment, "translate", 0, lambda v: _is_int(v) and 0 <= v <= 64, "an integer in [0, 64]"
        ),
    }


def _dense_training(where: str, raw: Any) -> tuple[Training, int]:
    fields = _training(where, raw, keys=DENSE_TRAIN_KEYS)
    if fields["epochs"] == 0:
        raise ConfigError(f"{where}.epochs: a dense model needs at least one epoch; received 0")
    seed = _value(where, raw, "seed", 0, _is_seed, f"an integer in [0, {MAX_SEED}]")
    return Training(**fields), seed


def _finetune(where: str, raw: Any, train: Training | None) -> FineTune | None:
    if raw is None or raw is False:
        return None
    raw = check_keys(where, raw, FINETUNE_KEYS)
    rewind = _value(where, raw, "rewind", False, lambda v: isinstance(v, bool), "true or false")
    if rewind:
        if train is None:
            raise ConfigError(NEEDS_TRAIN.format(where=where, what="rewind: true (learning-rate rewinding)"))
        given = sorted(set(raw) - {"rewind", "epochs"})
        if given:
            raise ConfigError(
                f"{where}: rewind: true replays the 'train:' optimiser and schedule; remove {', '.join(given)}"
            )
        epochs = _value(
            where,
            raw,
            "epochs",
            None,
            lambda v: _is_int(v) and 0 < v <= train.epochs,
            f"an integer in [1, {train.epochs}] (train.epochs)",
        )
        return FineTune(training=replace(train, epochs=epochs), rewind=True)
    fields = _training(where, raw, keys=FINETUNE_KEYS)
    if fields["epochs"] == 0:
        return None
    return FineTune(training=Training(**fields))


def _list(where: str, value: Any, ok: Callable[[Any], bool], expected: str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values or not all(ok(v) for v in values):
        raise ConfigError(f"{where}: expected {expected}; received {shown(value)}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: values must be distinct; received {shown(value)}")
    return values


def _technique(where: str, name: Any) -> str:
    if name not in ALL_TECHNIQUES:
        raise ConfigError(UNKNOWN_TECHNIQUE.format(where=where, name=name, allowed=", ".join(ALL_TECHNIQUES)))
    return name


def _name(where: str, template: str, **fields: Any) -> str:
    try:
        name = template.format(**fields)
    except Exception as exc:  # str.format raises KeyError, IndexError, ValueError, TypeError, AttributeError ...
        raise ConfigError(
            f"{where}: name template {template!r} is not valid ({exc}); fields are {', '.join('{' + f + '}' for f in NAME_FIELDS)}"
        ) from None
    if not SAFE_NAME.match(name) or len(name) > MAX_NAME:
        raise ConfigError(
            f"{where}: name {shown(name)} (from {shown(template)}) must be at most {MAX_NAME} letters, digits, "
            "'.', '_', '+' or '-', not starting with a symbol"
        )
    return name


def _amount_text(amount: float) -> str:
    return repr(float(amount)).removesuffix(".0") if amount in (0, 1) else repr(float(amount))


def _grid(where: str, raw: dict, top: dict, *, train: Training | None) -> list[Variant]:
    """The variants of one grid; ``where`` ends in ':' for the top level ("sweep.yaml: amounts") or not
    for an entry of ``grids`` ("sweep.yaml: grids[1].amounts")."""
    at = f"{where} " if where.endswith(":") else f"{where}."
    merged = {k: raw[k] if k in raw else top.get(k) for k in GRID_KEYS}
    if merged["techniques"] is None:
        raise ConfigError(f"{where.rstrip(':')}: missing required key 'techniques'")
    if merged["amounts"] is None:
        raise ConfigError(f"{where.rstrip(':')}: missing required key 'amounts'")
    techniques = [
        _technique(f"{at}techniques", t)
        for t in _list(f"{at}techniques", merged["techniques"], lambda v: isinstance(v, str), "technique names")
    ]
    amounts = _list(f"{at}amounts", merged["amounts"], lambda v: _is_number(v) and 0 < v < 1, "numbers in (0, 1)")
    seeds = _list(
        f"{at}seeds",
        [0] if merged["seeds"] is None else merged["seeds"],
        _is_seed,
        f"integers in [0, {MAX_SEED}]",
    )
    finetune_raw = merged["finetune"] if "finetune" in raw or "finetune" in top else None
    finetune = _finetune(f"{at}finetune", finetune_raw, train)
    iterative = check_keys(f"{at}iterative", merged["iterative"] or {}, ("steps",))
    steps = _value(
        f"{at}iterative", iterative, "steps", 3, lambda v: _is_int(v) and 1 <= v <= 100, "an integer in [1, 100]"
    )
    layers = check_keys(f"{at}layers", merged["layers"] or {}, ("exclude",))
    exclude = None  # the default: the output layer
    if layers.get("exclude") is not None:
        given = layers["exclude"]
        if not isinstance(given, list) or not all(isinstance(v, str) for v in given):
            raise ConfigError(f"{at}layers.exclude: expected a list of layer names; received {shown(given)}")
        exclude = tuple(given)
    label = merged["label"] or ""
    if not isinstance(label, str) or (label and not SAFE_NAME.match(label)):
        raise ConfigError(
            f"{at}label: expected a technique name (letters, digits, '.', '_', '-', '+'); received {shown(label)}"
        )
    template = merged["name"] if merged["name"] is not None else DEFAULT_NAME
    if not isinstance(template, str):
        raise ConfigError(f"{at}name: expected a name template (text); received {shown(template)}")
    out = []
    for technique in techniques:
        if technique.endswith(ITERATIVE) and finetune is None:
            raise ConfigError(
                f"{where.rstrip(':')}: {technique} fine-tunes between its cycles; give 'finetune:' with epochs > 0"
            )
        for amount in amounts:
            for seed in seeds:
                name = _name(
                    f"{at}name",
                    template,
                    technique=technique,
                    amount=_amount_text(amount),
                    percent=str(round(amount * 100)),
                    seed=seed,
                )
                out.append(
                    Variant(
                        name=name,
                        technique=technique,
                        amount=float(amount),
                        seed=seed,
                        finetune=finetune,
                        exclude=exclude,
                        steps=steps if technique.endswith(ITERATIVE) else 1,
                        label=label,
                    )
                )
    return out


def _model(where: str, raw: Any, base: Path, *, source: Path) -> tuple[ModelSpec, bool]:
    """The dense model's spec, and whether the sweep must train it (no ``path``: built by its factory)."""
    raw = {k: v for k, v in check_keys(where, raw, MODEL_KEYS).items() if v is not None}
    for key, value in raw.items():
        expected, ok = MODEL_TYPES[key]
        if not ok(value):
            raise ConfigError(f"{where}: {key} must be {expected}; received {shown(value)}")
    if "path" not in raw:
        if "factory" not in raw:
            raise ConfigError(f"{where}: give 'path' (a trained dense model) or 'factory' (to train one here)")
        factory = raw["factory"]
        if ":" not in factory:
            raise ConfigError(f"{where}: factory must look like 'package.module:callable'; received {factory!r}")
        spec = ModelSpec(
            name=raw.get("name", "dense"),
            path=source,  # no model file yet: messages about the factory name the sweep config
            format="state_dict",  # what a factory builds; the sweep trains it rather than loading one
            factory=factory,
            factory_kwargs=dict(raw.get("factory_kwargs") or {}),
            output=raw.get("output"),
        )
        return spec, True
    spec = model_spec(
        base / raw["path"],
        name=raw.get("name", "dense"),
        fmt=raw.get("format"),
        factory=raw.get("factory"),
        factory_kwargs=raw.get("factory_kwargs"),
        output=raw.get("output"),
    )
    if spec.format not in TRAINABLE_FORMATS:
        raise ConfigError(
            f"{spec.path}: the dense model must be a torch model to prune (state_dict + factory, TorchScript, "
            f"or a pickled module with --trust-pickle); received format {spec.format!r}"
        )
    return spec, False


def _check_configurations(where: str, variants: list[Variant]) -> None:
    """Variants the audit pools as seeds of one configuration (same technique and amount) must differ only by seed."""
    made: dict[tuple[str, float], Variant] = {}
    same: dict[tuple, str] = {}
    for v in variants:
        how = (v.technique, v.amount, v.seed, v.finetune, v.exclude, v.steps)
        if how in same:
            raise ConfigError(
                f"{where}: {same[how]} and {v.name} would be the same model; make them differ or drop one"
            )
        same[how] = v.name
        first = made.setdefault((v.audit_technique, v.amount), v)
        if (first.technique, first.finetune, first.exclude, first.steps) != (
            v.technique,
            v.finetune,
            v.exclude,
            v.steps,
        ):
            raise ConfigError(
                f"{where}: {first.name} and {v.name} are made differently but would be audited as seeds of one "
                f"configuration ({v.audit_technique} at {v.amount}); give one of their grids its own 'label'"
            )


def build_sweep_config(
    path: Path, *, device: str | None = None, trust_pickle: bool = False, trusted_factories: tuple[str, ...] = ()
) -> SweepConfig:
    """Read and validate a sweep YAML file; ``device`` (the --device flag) overrides the file's."""
    raw = read_yaml(path)
    where, base = str(path), path.parent
    if isinstance(raw, dict) and "trust_pickle" in raw:
        raise ConfigError(f"{where}: trust_pickle cannot be set in a config file; pass --trust-pickle")
    raw = check_keys(where, raw, TOP_KEYS)
    for key in ("model", "train_data", "eval_data"):
        if key not in raw:
            raise ConfigError(f"{where}: missing required key {key!r}")
    model, trained = _model(f"{where}: model", raw["model"], base, source=path)
    train, train_seed = (None, 0) if raw.get("train") is None else _dense_training(f"{where}: train", raw["train"])
    seeds = []
    if raw.get("dense_seeds") not in (None, []):
        seeds = _list(f"{where}: dense_seeds", raw["dense_seeds"], _is_seed, f"integers in [0, {MAX_SEED}]")
    if trained and train_seed in seeds:
        raise ConfigError(f"{where}: dense_seeds includes train.seed {train_seed}, which trains the dense model itself")
    if (trained or seeds) and train is None:
        raise ConfigError(
            NEEDS_TRAIN.format(where=where, what="training a dense model (no model.path, or dense_seeds)")
        )
    if (trained or seeds) and model.factory is None:
        raise ConfigError(f"{where}: model: dense_seeds are trained from scratch and need 'factory'")

    grids = raw.get("grids")
    if grids is not None and (not isinstance(grids, list) or not grids):
        raise ConfigError(f"{where}: grids must be a non-empty list of mappings; received {shown(grids)}")
    if grids is None:
        variants = _grid(f"{where}:", {}, raw, train=train)
    else:
        variants = [
            v
            for i, g in enumerate(grids)
            for v in _grid(f"{where}: grids[{i}]", check_keys(f"{where}: grids[{i}]", g, GRID_KEYS), raw, train=train)
        ]
    _check_configurations(where, variants)
    dense_runs = tuple(DenseRun(name=f"{model.name}-s{s}", seed=s) for s in seeds)
    names = [model.name, *(d.name for d in dense_runs), *(v.name for v in variants)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(
            f"{where}: model names must be unique; repeated: {', '.join(repeated[:5])} (check 'name' templates)"
        )
    if not SAFE_NAME.match(model.name):
        raise ConfigError(f"{where}: model.name {model.name!r} must be letters, digits, '.', '_' or '-'")

    default = FORMATS_OUT if model.factory else tuple(f for f in FORMATS_OUT if f != "state_dict")
    formats = _list(
        f"{where}: formats",
        raw.get("formats") or list(default),
        lambda v: v in FORMATS_OUT,
        f"formats among {', '.join(FORMATS_OUT)}",
    )
    if not {"torchscript", "onnx"} & set(formats):
        raise ConfigError(f"{where}: formats must include torchscript or onnx, the formats audit.yaml can list")
    if trained and not {"torchscript", "state_dict"} & set(formats):
        raise ConfigError(
            f"{where}: formats: the dense model trained here is read back from its TorchScript or state_dict file; add one"
        )
    if "state_dict" in formats and model.factory is None:
        raise ConfigError(
            f"{where}: formats: a state_dict is only useful with the model's factory; set model.factory or drop state_dict"
        )
    device = device or raw.get("device", "auto")
    if device not in DEVICES:
        raise ConfigError(f"{where}: device must be one of {', '.join(DEVICES)}; received {shown(device)}")
    return SweepConfig(
        model=model,
        train_data=_data_from_mapping(f"{where}: train_data", raw["train_data"], base),
        eval_data=_data_from_mapping(f"{where}: eval_data", raw["eval_data"], base),
        variants=tuple(variants),
        train=train,
        train_seed=train_seed,
        trained=DenseRun(name=model.name, seed=train_seed) if trained else None,
        dense_seeds=dense_runs,
        formats=tuple(formats),
        threads=_value(where + ":", raw, "threads", 1, lambda v: _is_int(v) and 1 <= v <= 1024, "a positive integer"),
        device=device,
        batch_size=_value(where + ":", raw, "batch_size", 256, lambda v: _is_int(v) and v > 0, "a positive integer"),
        opset=_value(
            where + ":", raw, "opset", DEFAULT_OPSET, lambda v: _is_int(v) and 7 <= v <= 20, "an ONNX opset in [7, 20]"
        ),
        base_dir=base,
        source=path,
        trust_pickle=trust_pickle,
        trusted_factories=trusted_factories,
        raw=raw,
    )
