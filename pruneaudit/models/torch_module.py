"""nn.Module backends: torch.export programs, state_dict + factory, and (trusted) pickles."""

from __future__ import annotations

import importlib
import pickle
import sys
from pathlib import Path
from typing import Any

import torch

from pruneaudit.errors import ModelError
from pruneaudit.models.base import first_line
from pruneaudit.models.factories import check_factory, check_target
from pruneaudit.models.formats import LoadOptions
from pruneaudit.models.torch_common import TorchPredictor
from pruneaudit.specs import ModelSpec

PICKLE_REFUSED = (
    "{path}: this file is a pickled Python object (a whole nn.Module); loading it runs code from the file. "
    "Pass --trust-pickle if you trust its source, or save a state_dict (with a factory), TorchScript, "
    "torch.export or ONNX model instead"
)


def load_export(spec: ModelSpec, *, options: LoadOptions) -> TorchPredictor:
    try:
        program = torch.export.load(str(spec.path))
        module = program.module().to(options.device)
    except Exception as exc:  # deserialisation raises many types
        reason = first_line(exc)
        if "warnings above" in reason:  # torch logged the cause (kept off stderr) and raised a generic error
            reason = "not an archive written by torch.export.save; run with -vv for torch's own report"
        raise ModelError(f"{spec.path}: cannot load as a torch.export program ({reason})") from None
    return TorchPredictor(spec, module=module, backend="torch_export", options=options)


def resolve_factory(spec: ModelSpec, *, search: Path, trusted: tuple[str, ...]) -> Any:
    """Import ``package.module:callable`` once ``check_factory`` allows it; ``search`` (the config's folder) is first."""
    check_factory(spec, search=search, trusted=trusted)
    factory = spec.factory or ""
    module_name, _, attr = factory.partition(":")
    added = str(search.resolve())
    sys.path.insert(0, added)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(
            f"{spec.path}: factory {factory!r}: cannot import module {module_name!r} ({first_line(exc)})"
        ) from None
    finally:
        if added in sys.path:
            sys.path.remove(added)
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ModelError(f"{spec.path}: factory {factory!r}: module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelError(f"{spec.path}: factory {factory!r}: {attr!r} is not callable")
    check_target(target, spec=spec, search=search, trusted=trusted)
    return target


def build_module(spec: ModelSpec, *, search: Path, trusted: tuple[str, ...]) -> torch.nn.Module:
    """The nn.Module the spec's factory builds (its weights as the factory initialises them)."""
    build = resolve_factory(spec, search=search, trusted=trusted)
    try:
        module = build(**spec.factory_kwargs)
    except Exception as exc:  # user code
        raise ModelError(
            f"{spec.path}: factory {spec.factory!r} failed to build the model ({first_line(exc)})"
        ) from None
    if not isinstance(module, torch.nn.Module):
        raise ModelError(
            f"{spec.path}: factory {spec.factory!r} must return an nn.Module; received {type(module).__name__}"
        )
    return module


def fold_prune_masks(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Turn torch.nn.utils.prune's ``X_orig`` + ``X_mask`` pairs into the effective ``X = X_orig * X_mask``."""
    out = {}
    for key, value in state.items():
        if key.endswith("_orig") and key[: -len("_orig")] + "_mask" in state:
            base = key[: -len("_orig")]
            out[base] = value * state[base + "_mask"]
        elif key.endswith("_mask") and key[: -len("_mask")] + "_orig" in state:
            continue
        else:
            out[key] = value
    return out


def _unpickling_reason(exc: pickle.UnpicklingError) -> str:
    """The line that says what is wrong: torch's weights_only message opens with a paragraph on PyTorch 2.6."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(boilerplate)]
    return lines[0] if lines else first_line(exc)


def _torch_load(path: Path, *, weights_only: bool) -> Any:
    try:
        return torch.load(str(path), map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        if weights_only and "global" in str(exc).lower():
            # A well-formed pickle that references Python callables: refused unless trusted. torch words it
            # "allowed global", "Unsupported global" or (2.13) "unsupported GLOBAL ... is blocked".
            raise ModelError(PICKLE_REFUSED.format(path=path)) from None
        raise ModelError(f"{path}: cannot read as a torch.save file ({_unpickling_reason(exc)})") from None
    except Exception as exc:  # a corrupt file: IndexError, KeyError, UnicodeDecodeError, RuntimeError, EOFError ...
        raise ModelError(
            f"{path}: cannot read as a torch.save file ({type(exc).__name__}: {first_line(exc)})"
        ) from None


def load_state_dict(spec: ModelSpec, *, options: LoadOptions) -> TorchPredictor:
    path = spec.path
    state = _torch_load(path, weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # common checkpoint layout
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(
            f"{path}: expected a state_dict (a mapping of names to tensors); received {type(state).__name__}"
        )
    module = build_module(spec, search=options.search, trusted=options.trusted_factories)
    state = fold_prune_masks(state)
    expected = module.state_dict()
    wrong = [
        f"{k} is {tuple(v.shape)} in the file but {tuple(expected[k].shape)} in the model"
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]
    if wrong:
        raise ModelError(f"{path}: the state_dict does not fit the factory's model ({'; '.join(wrong[:3])})")
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # e.g. a tensor torch cannot copy into the parameter
        detail = " ".join(str(exc).split())
        raise ModelError(f"{path}: the state_dict does not fit the factory's model ({detail[:300]})") from None
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"missing {', '.join(result.missing_keys[:5])}")
        if result.unexpected_keys:
            parts.append(f"unexpected {', '.join(result.unexpected_keys[:5])}")
        raise ModelError(f"{path}: the state_dict does not fit the factory's model ({'; '.join(parts)})")
    return TorchPredictor(spec, module=module.to(options.device).eval(), backend="state_dict", options=options)


def load_pickle(spec: ModelSpec, *, options: LoadOptions) -> TorchPredictor:
    path = spec.path
    obj = _torch_load(path, weights_only=not options.trust_pickle)
    if not options.trust_pickle:
        # weights_only succeeded: a plain tensor mapping, not a module
        raise ModelError(
            f"{path}: this is a state_dict, not a model; give 'factory: package.module:callable' to build it"
        )
    if not isinstance(obj, torch.nn.Module):
        raise ModelError(f"{path}: expected a pickled nn.Module; received {type(obj).__name__}")
    return TorchPredictor(spec, module=obj.to(options.device).eval(), backend="pickle", options=options)
