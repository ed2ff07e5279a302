"""Model backends behind one `Predictor` protocol."""

from __future__ import annotations

from pathlib import Path

from pruneaudit.errors import ModelError
from pruneaudit.models.base import LayerFacts, ModelFacts, Predictor
from pruneaudit.models.formats import FORMATS, LoadOptions
from pruneaudit.specs import ModelSpec

__all__ = ["LayerFacts", "ModelFacts", "Predictor", "load_predictor", "resolve_device"]


def resolve_device(requested: str) -> str:
    """'auto' means CUDA when torch sees a GPU: onnxruntime-gpu lists CUDA even without one."""
    import torch

    has_gpu = torch.cuda.is_available()
    if requested == "cuda" and not has_gpu:
        raise ModelError("--device cuda: no CUDA GPU is visible to torch on this machine")
    if requested == "auto":
        return "cuda" if has_gpu else "cpu"
    return requested


def load_predictor(
    spec: ModelSpec,
    *,
    device: str,
    strict: bool = False,
    trust_pickle: bool = False,
    trusted_factories: tuple[str, ...] = (),
    search: Path = Path("."),
) -> Predictor:
    """Open a model for inference on a resolved device ('cpu' or 'cuda').

    ``strict`` (the user named the device) turns a backend's silent CPU fallback into an error;
    ``search`` is where a state_dict factory's module is looked for first (the config's folder).
    """
    fmt = FORMATS.get(spec.format)
    if fmt is None:
        raise ModelError(f"{spec.path}: unsupported model format {spec.format!r}")
    options = LoadOptions(
        device=device, strict=strict, trust_pickle=trust_pickle, trusted_factories=trusted_factories, search=search
    )
    return fmt.load(spec, options=options)
