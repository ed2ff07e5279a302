"""What every torch backend shares: output selection, inference on a device, facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, count_weights, first_line


def select_output(out: Any, selector: str | int | None, where: Path) -> torch.Tensor:
    """The class-score tensor of a model output: a tensor, or one entry of a dict / tuple / list."""
    if isinstance(out, torch.Tensor):
        if selector is not None:
            raise ModelError(f"{where}: --output {selector!r} given but the model returns a single tensor")
        return out
    if isinstance(out, dict):
        keys = [str(k) for k in out]
        if selector is None:
            raise ModelError(
                f"{where}: the model returns a dict with keys {', '.join(keys)}; choose one with --output KEY"
            )
        if str(selector) not in keys:
            raise ModelError(f"{where}: output key {selector!r} not found; the model returns {', '.join(keys)}")
        return out[next(k for k in out if str(k) == str(selector))]
    if isinstance(out, (tuple, list)):
        if selector is None:
            raise ModelError(f"{where}: the model returns {len(out)} outputs; choose one with --output INDEX")
        if not isinstance(selector, int) or not 0 <= selector < len(out):
            raise ModelError(f"{where}: output index {selector!r} out of range; the model returns {len(out)} outputs")
        return out[selector]
    raise ModelError(f"{where}: expected the model to return a tensor, dict or tuple; received {type(out).__name__}")


class TorchPredictor:
    """Runs any callable torch module; the backend name says how it was loaded."""

    has_scores = True
    needs_images = True
    dtype = "float32"

    def __init__(
        self, *, name: str, path: Path, module: Any, backend: str, device: str, output: str | int | None
    ) -> None:
        self.name, self.path, self.backend, self.device, self._output = name, path, backend, device, output
        self._module = module

    def check_rows(self, n: int) -> None:
        """A model runs on any number of images."""

    def predict(self, batch: np.ndarray, rows: slice) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device)
        try:
            with torch.inference_mode():
                out = self._module(x)
        except (RuntimeError, ValueError, TypeError, IndexError, AssertionError) as exc:
            raise ModelError(
                f"{self.path}: the model rejected input of shape {tuple(batch.shape)} ({first_line(exc)})"
            ) from None
        scores = select_output(out, self._output, self.path)
        return scores.detach().float().cpu().numpy()

    def facts(self) -> ModelFacts:
        named = [
            (n, p.detach().float().cpu().numpy()) for n, p in self._module.named_parameters() if p.is_floating_point()
        ]
        return count_weights(named, file_size=self.path.stat().st_size)
