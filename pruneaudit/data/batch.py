"""One batch of the data, read and preprocessed once and shared by every model of a group."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cached_property
from typing import Any

import numpy as np

from pruneaudit.data.dataset import Dataset, Normalisation


class Batch:
    """Rows [start, stop) of a dataset; each form of them is made on first use, at most once.

    Saved outputs need only ``rows``, so a group of them never reads an image; onnxruntime takes
    ``prepared``; torch backends keep their device copy in ``shared`` (one per device and dtype).
    A model must not modify what it is given: the next model of the group gets the same objects.
    """

    def __init__(self, dataset: Dataset, start: int, stop: int) -> None:
        self.dataset = dataset
        self.rows = slice(start, stop)
        self._shared: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return self.rows.stop - self.rows.start

    @cached_property
    def raw(self) -> np.ndarray:
        """The images as stored (uint8, or whatever the data holds)."""
        return self.dataset.raw_batch(self.rows.start, self.rows.stop)

    @cached_property
    def prepared(self) -> np.ndarray:
        """The float32 model input, prepared in numpy (`Dataset.prepare`)."""
        return self.dataset.prepare(self.raw)

    @cached_property
    def labels(self) -> np.ndarray:
        return self.dataset.labels[self.rows]

    @property
    def normalisation(self) -> Normalisation:
        return self.dataset.normalisation(self.raw.dtype)

    def shared(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """``make()``'s result, made once per batch for every model that asks with the same ``key``."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]
