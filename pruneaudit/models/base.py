"""The one interface every model backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ModelFacts:
    """Measured from the model's own tensors, never declared.

    Sparsity counts zeros among weight tensors of two or more dimensions (convolution
    kernels and matrices), the tensors pruning acts on; biases and normalisation
    constants are excluded so that the same network measures the same in every format.
    """

    parameter_count: int
    weight_count: int
    weight_nonzero: int
    file_size_bytes: int

    @property
    def sparsity(self) -> float:
        return 1.0 - self.weight_nonzero / self.weight_count if self.weight_count else 0.0


class Predictor(Protocol):
    name: str
    backend: str  # "torchscript" | "onnx"
    device: str  # what actually ran: "cpu", "cuda", or the onnxruntime provider

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Return float32 scores of shape (len(batch), n_classes) for a float32 batch."""
        ...

    def facts(self) -> ModelFacts: ...


def count_weights(arrays: list[np.ndarray], *, file_size: int) -> ModelFacts:
    """ModelFacts from a model's floating-point parameter arrays."""
    weights = [a for a in arrays if a.ndim >= 2]
    return ModelFacts(
        parameter_count=int(sum(a.size for a in arrays)),
        weight_count=int(sum(a.size for a in weights)),
        weight_nonzero=int(sum(np.count_nonzero(a) for a in weights)),
        file_size_bytes=file_size,
    )
