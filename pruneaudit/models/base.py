"""The one interface every model backend implements, and what is measured about a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from pruneaudit.data import Batch


@dataclass(frozen=True)
class LayerFacts:
    name: str
    count: int
    nonzero: int

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero / self.count if self.count else 0.0


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
    layers: tuple[LayerFacts, ...] = ()  # per weight tensor (2+ dims), in the model's order

    @property
    def sparsity(self) -> float:
        return 1.0 - self.weight_nonzero / self.weight_count if self.weight_count else 0.0


class Predictor(Protocol):
    """A model opened for inference, fed by the audit's one pass over the data.

    Every model of a group gets each batch in turn; the `Batch` is read and preprocessed once and
    shared, so a predictor takes the form it needs (``batch.prepared``, a device copy via
    ``batch.shared``, or only ``batch.rows``) and never modifies it. Scores come back where they were
    computed (a torch tensor on the model's device, else a numpy array), so that top-1 and top-5 are
    computed there and only (N,) vectors leave the device.
    """

    name: str
    backend: str  # the format it was loaded as: a name in pruneaudit.models.formats.FORMATS
    device: str  # what actually ran: "cpu", "cuda", or the onnxruntime provider
    dtype: str  # input dtype the model was fed
    has_scores: bool  # False when only predicted labels are known (no top-5)
    parameter_bytes: int  # memory its parameters (or saved outputs) hold as loaded: models are grouped by it

    def check_rows(self, n: int) -> None:
        """Raise ModelError when the model cannot cover a dataset of ``n`` rows (before any batch runs)."""
        ...

    def predict(self, batch: Batch) -> Any:
        """Scores (len(batch), n_classes), as a numpy array or a torch tensor; (len(batch),) labels without scores."""
        ...

    def facts(self) -> ModelFacts:
        """Measured from the model as its file holds it (before any precision cast)."""
        ...


def count_weights(named: list[tuple[str, np.ndarray]], *, file_size: int) -> ModelFacts:
    """ModelFacts from a model's named floating-point parameter arrays."""
    weights = [(n, a) for n, a in named if a.ndim >= 2]
    layers = tuple(LayerFacts(name=n, count=int(a.size), nonzero=int(np.count_nonzero(a))) for n, a in weights)
    return ModelFacts(
        parameter_count=int(sum(a.size for _, a in named)),
        weight_count=sum(layer.count for layer in layers),
        weight_nonzero=sum(layer.nonzero for layer in layers),
        file_size_bytes=file_size,
        layers=layers,
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
