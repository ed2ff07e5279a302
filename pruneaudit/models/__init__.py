"""Model backends behind one `Predictor` protocol."""

from __future__ import annotations

from pathlib import Path

from pruneaudit.defaults import DEFAULT_PRECISION
from pruneaudit.errors import ModelError
from pruneaudit.models.base import LayerFacts, ModelFacts, Predictor
from pruneaudit.models.formats import FORMATS, LoadOptions
from pruneaudit.specs import ModelSpec

__all__ = ["LayerFacts", "ModelFacts", "Predictor", "load_predictor", "resolve_device"]


def resolve_device(requested: str) -> str:
    """'auto' means CUDA when torch sees a GPU: onnxruntime-gpu lists CUDA even without one.

    'cpu' needs no answer from torch, so it is not imported for it (3 s).
    """
    if requested == "cpu":
        return "cpu"
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
    precision: str = DEFAULT_PRECISION,
    strict: bool = False,
    trust_pickle: bool = False,
    trusted_factories: tuple[str, ...] = (),
    search: Path = Path("."),
) -> Predictor:
    """Open a model for inference on a resolved device ('cpu' or 'cuda').

    ``precision`` (fp32, bf16, fp16) is the dtype of a torch model's parameters and input; ONNX models
    keep their declared input dtype. ``strict`` (the user named the device) turns a backend's silent
    CPU fallback into an error; ``search`` is where a state_dict factory's module is looked for first
    (the config's folder).
    """
    fmt = FORMATS.get(spec.format)
    if fmt is None:
        raise ModelError(f"{spec.path}: unsupported model format {spec.format!r}")
    options = LoadOptions(
        device=device,
        precision=precision,
        strict=strict,
        trust_pickle=trust_pickle,
        trusted_factories=trusted_factories,
        search=search,
    )
    return fmt.load(spec, options=options)
