"""TorchScript backend (``torch.jit.save`` archives)."""

from __future__ import annotations

from pathlib import Path

import torch

from pruneaudit.errors import ModelError
from pruneaudit.models.base import first_line
from pruneaudit.models.torch_common import TorchPredictor


def load_torchscript(*, name: str, path: Path, device: str, output: str | int | None) -> TorchPredictor:
    try:
        module = torch.jit.load(str(path), map_location=device).eval()
    except Exception as exc:  # torch raises many types for a bad archive
        raise ModelError(f"{path}: cannot load as a TorchScript model ({first_line(exc)})") from None
    return TorchPredictor(name=name, path=path, module=module, backend="torchscript", device=device, output=output)
