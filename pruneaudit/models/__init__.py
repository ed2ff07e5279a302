"""Model backends behind one `Predictor` protocol."""

from __future__ import annotations

from pathlib import Path

from pruneaudit.config import ModelSpec
from pruneaudit.errors import ModelError
from pruneaudit.models.base import LayerFacts, ModelFacts, Predictor

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
    spec: ModelSpec, *, device: str, strict: bool = False, trust_pickle: bool = False, search: Path = Path(".")
) -> Predictor:
    """Open a model for inference on a resolved device ('cpu' or 'cuda').

    ``strict`` (the user named the device) turns a backend's silent CPU fallback into an error;
    ``search`` is where a state_dict factory's module is looked for first (the config's folder).
    """
    common = {"name": spec.name, "path": spec.path}
    if spec.format == "torchscript":
        from pruneaudit.models.torchscript import load_torchscript

        return load_torchscript(**common, device=device, output=spec.output)
    if spec.format == "torch_export":
        from pruneaudit.models.torch_module import load_torch_export

        return load_torch_export(**common, device=device, output=spec.output)
    if spec.format == "state_dict":
        from pruneaudit.models.torch_module import load_state_dict_model

        return load_state_dict_model(
            **common,
            device=device,
            output=spec.output,
            factory=spec.factory or "",
            factory_kwargs=spec.factory_kwargs,
            search=search,
        )
    if spec.format == "pickle":
        from pruneaudit.models.torch_module import load_pickled_module

        return load_pickled_module(**common, device=device, output=spec.output, trust=trust_pickle)
    if spec.format == "onnx":
        from pruneaudit.models.onnx import OnnxPredictor

        return OnnxPredictor(**common, device=device, strict=strict, output=spec.output)
    if spec.format == "predictions":
        from pruneaudit.models.precomputed import PrecomputedPredictor

        return PrecomputedPredictor(**common)
    raise ModelError(f"{spec.path}: unsupported model format {spec.format!r}")
