"""Model backends behind one `Predictor` protocol."""

from __future__ import annotations

from pruneaudit.config import ModelSpec
from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, Predictor

__all__ = ["ModelFacts", "Predictor", "load_predictor", "resolve_device"]


def resolve_device(requested: str) -> str:
    """'auto' means CUDA when torch sees a GPU: onnxruntime-gpu lists CUDA even without one."""
    import torch

    has_gpu = torch.cuda.is_available()
    if requested == "cuda" and not has_gpu:
        raise ModelError("--device cuda: no CUDA GPU is visible to torch on this machine")
    if requested == "auto":
        return "cuda" if has_gpu else "cpu"
    return requested


def load_predictor(spec: ModelSpec, *, device: str, strict: bool = False) -> Predictor:
    """Open a model for inference on a resolved device ('cpu' or 'cuda').

    ``strict`` (the user named the device) turns a backend's silent CPU fallback into an error.
    """
    if spec.format == "torchscript":
        from pruneaudit.models.torchscript import TorchScriptPredictor

        return TorchScriptPredictor(name=spec.name, path=spec.path, device=device)
    if spec.format == "onnx":
        from pruneaudit.models.onnx import OnnxPredictor

        return OnnxPredictor(name=spec.name, path=spec.path, device=device, strict=strict)
    raise ModelError(f"{spec.path}: unsupported model format {spec.format!r}")
