"""What every torch backend shares: output selection, input made on the device, inference, facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pruneaudit.data import Batch, Normalisation
from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, count_weights, first_line
from pruneaudit.models.formats import LoadOptions
from pruneaudit.specs import ModelSpec


def select_output(out: Any, selector: str | int | None, where: Path) -> torch.Tensor:
    """The class-score tensor of a model output: a tensor, or one entry of a dict / tuple / list."""
    if isinstance(out, torch.Tensor):
        if selector is not None:
            raise ModelError(f"{where}: --score-output {selector!r} given but the model returns a single tensor")
        return out
    if isinstance(out, dict):
        keys = [str(k) for k in out]
        if selector is None:
            raise ModelError(
                f"{where}: the model returns a dict with keys {', '.join(keys)}; choose one with --score-output KEY"
            )
        if str(selector) not in keys:
            raise ModelError(f"{where}: output key {selector!r} not found; the model returns {', '.join(keys)}")
        return out[next(k for k in out if str(k) == str(selector))]
    if isinstance(out, (tuple, list)):
        if selector is None:
            raise ModelError(f"{where}: the model returns {len(out)} outputs; choose one with --score-output INDEX")
        if not isinstance(selector, int) or not 0 <= selector < len(out):
            raise ModelError(f"{where}: output index {selector!r} out of range; the model returns {len(out)} outputs")
        return out[selector]
    raise ModelError(f"{where}: expected the model to return a tensor, dict or tuple; received {type(out).__name__}")


TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _host_to_device(array: np.ndarray, device: str) -> torch.Tensor:
    """To CUDA through pinned memory without blocking (the copy overlaps the host's work); on the CPU, shared."""
    tensor = torch.from_numpy(array if array.flags.writeable else array.copy())  # memory maps are read-only
    if device == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def _normalise(x: torch.Tensor, norm: Normalisation) -> torch.Tensor:
    """`Dataset.prepare`'s arithmetic, in float32 on the device, in the same order: the same bits on the CPU."""
    if norm.scale != 1.0:
        x = x * torch.tensor(np.float32(norm.scale), device=x.device)
    if x.ndim == 3:
        x = x[:, None, :, :]
    if norm.mean is not None:
        x = x - torch.tensor(norm.mean, dtype=torch.float32, device=x.device).reshape(1, -1, *([1] * (x.ndim - 2)))
    if norm.std is not None:
        x = x / torch.tensor(norm.std, dtype=torch.float32, device=x.device).reshape(1, -1, *([1] * (x.ndim - 2)))
    if not norm.channels_first and x.ndim == 4:
        x = x.permute(0, 2, 3, 1).contiguous()
    return x


def _model_input(batch: Batch, device: str, dtype: torch.dtype) -> torch.Tensor:
    """uint8 images travel as uint8 (a quarter of float32) and are normalised on the device; other
    dtypes are cast to float32 on the host first, exactly `Dataset.prepare`'s first step."""
    raw = batch.raw
    x = _host_to_device(raw if raw.dtype == np.uint8 else raw.astype(np.float32), device)
    x = _normalise(x.to(torch.float32), batch.normalisation)
    return x if dtype == torch.float32 else x.to(dtype)


class TorchPredictor:
    """Runs any callable torch module; the backend name says how it was loaded."""

    has_scores = True

    def __init__(self, spec: ModelSpec, *, module: Any, backend: str, options: LoadOptions) -> None:
        """``module``: already on ``options.device``; the spec names the model, its file and its output."""
        self.name, self.path, self.backend, self.device = spec.name, spec.path, backend, options.device
        self._output = spec.output
        self._facts = _facts(module, spec.path)  # before the cast: fp16 would flush tiny weights to zero
        self._dtype = TORCH_DTYPES[options.precision]
        self._module = module if self._dtype == torch.float32 else module.to(self._dtype)
        self.dtype = str(self._dtype).removeprefix("torch.")
        tensors = [*self._module.parameters(), *self._module.buffers()]
        self.parameter_bytes = sum(t.numel() * t.element_size() for t in tensors)

    @property
    def module(self) -> Any:
        """The loaded module, for callers that go on to change it (``pruneaudit prune``)."""
        return self._module

    def check_rows(self, n: int) -> None:
        """A model runs on any number of images."""

    def predict(self, batch: Batch) -> torch.Tensor:
        """Class scores on the device; the input is made once per batch for every torch model of the group."""
        key = ("torch", self.device, self._dtype)
        # a copy of the shared input for each model: one that writes into its input (even through
        # .data, which no version counter sees) must not change what the next model is given
        x = batch.shared(key, lambda: _model_input(batch, self.device, self._dtype)).clone()
        try:
            with torch.inference_mode():
                out = self._module(x)
        except (RuntimeError, ValueError, TypeError, IndexError, AssertionError) as exc:
            shown = "" if self._dtype == torch.float32 else f"{self.dtype} "
            raise ModelError(
                f"{self.path}: the model rejected {shown}input of shape {tuple(x.shape)} ({first_line(exc)})"
            ) from None
        return select_output(out, self._output, self.path)

    def facts(self) -> ModelFacts:
        return self._facts


def _facts(module: Any, path: Path) -> ModelFacts:
    named = [(n, p.detach().float().cpu().numpy()) for n, p in module.named_parameters() if p.is_floating_point()]
    return count_weights(named, file_size=path.stat().st_size)
