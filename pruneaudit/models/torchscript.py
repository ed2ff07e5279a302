"""TorchScript backend (``torch.jit.save`` archives)."""

from __future__ import annotations

import torch

from pruneaudit.errors import ModelError
from pruneaudit.models.base import first_line
from pruneaudit.models.formats import LoadOptions
from pruneaudit.models.torch_common import TorchPredictor
from pruneaudit.specs import ModelSpec


def load(spec: ModelSpec, *, options: LoadOptions) -> TorchPredictor:
    try:
        module = torch.jit.load(str(spec.path), map_location=options.device).eval()
    except Exception as exc:  # torch raises many types for a bad archive
        raise ModelError(f"{spec.path}: cannot load as a TorchScript model ({first_line(exc)})") from None
    return TorchPredictor(spec, module=module, backend="torchscript", options=options)
