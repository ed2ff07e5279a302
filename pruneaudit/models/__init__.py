"""Model backends behind one `Predictor` protocol."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pruneaudit.defaults import DEFAULT_PRECISION
from pruneaudit.errors import ModelError
from pruneaudit.fingerprint import sha256
from pruneaudit.models.base import LayerFacts, ModelFacts, Predictor
from pruneaudit.models.formats import FORMATS, LoadOptions
from pruneaudit.specs import ModelSpec

__all__ = ["LayerFacts", "ModelFacts", "Predictor", "load_predictor", "model_sha256", "resolve_device"]


def model_sha256(spec: ModelSpec, *, cache_dir: Path | None = None) -> str:
    """The sha256 of a model's file; for an ONNX model with external data, of the file and each data file.

    With data files it is the hash of (name, sha256) of each, the model file first, as a folder's is.
    """
    extra: tuple[Path, ...] = ()
    if spec.format == "onnx" and spec.path.is_file():
        from pruneaudit.models.onnx import external_data_files

        extra = external_data_files(spec.path)
    if not extra:
        return sha256(spec.path, cache_dir=cache_dir)
    h = hashlib.sha256()
    for f in (spec.path, *extra):
        h.update(f.name.encode() + b"\0" + bytes.fromhex(sha256(f, cache_dir=cache_dir)))
    return h.hexdigest()


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
