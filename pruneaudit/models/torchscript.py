"""TorchScript backend (``torch.jit.save`` archives)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, count_weights


class TorchScriptPredictor:
    backend = "torchscript"

    def __init__(self, *, name: str, path: Path, device: str) -> None:
        self.name, self.path, self.device = name, path, device
        try:
            self._module = torch.jit.load(str(path), map_location=device).eval()
        except Exception as exc:  # torch raises many types for a bad archive
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{path}: cannot load as a TorchScript model ({first})") from None

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self._module(torch.from_numpy(batch).to(self.device))
        if not isinstance(out, torch.Tensor):
            raise ModelError(f"{self.path}: expected the model to return a tensor, received {type(out).__name__}")
        return out.float().cpu().numpy()

    def facts(self) -> ModelFacts:
        arrays = [p.detach().float().cpu().numpy() for p in self._module.parameters() if p.is_floating_point()]
        return count_weights(arrays, file_size=self.path.stat().st_size)
