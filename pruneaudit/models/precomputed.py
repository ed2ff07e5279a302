"""Precomputed outputs: audit a model that was run elsewhere, from its saved predictions or logits.

A ``.npz`` with ``logits`` (N, C) or ``predictions`` (N,), or a ``.parquet`` with a ``prediction``
column or ``logit_0 … logit_{C-1}`` columns, one row per data row in the data's order.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, first_line
from pruneaudit.models.formats import LoadOptions
from pruneaudit.specs import ModelSpec


def _read(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(logits, predictions); exactly one is set."""
    if path.suffix.lower() == ".parquet":
        import pandas as pd

        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types
            raise ModelError(f"{path}: cannot read as Parquet ({first_line(exc)})") from None
        logit_cols = sorted((c for c in df.columns if str(c).startswith("logit_")), key=lambda c: int(str(c)[6:]))
        if logit_cols:
            return df[logit_cols].to_numpy(dtype=np.float32), None
        if "prediction" in df.columns:
            return None, df["prediction"].to_numpy()
        raise ModelError(
            f"{path}: expected a 'prediction' column or 'logit_0'… columns; found {', '.join(map(str, df.columns))}"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            if "logits" in z.files:
                return np.asarray(z["logits"], dtype=np.float32), None
            if "predictions" in z.files:
                return None, np.asarray(z["predictions"])
            found = ", ".join(z.files) or "none"
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: cannot read as .npz ({first_line(exc)})") from None
    raise ModelError(f"{path}: expected an array 'logits' (N, C) or 'predictions' (N,); found {found}")


class PrecomputedPredictor:
    backend = "predictions"
    needs_images = False
    device = "precomputed"
    dtype = "n/a"

    def __init__(self, *, name: str, path: Path) -> None:
        self.name, self.path = name, path
        logits, preds = _read(path)
        if logits is not None:
            if logits.ndim != 2:
                raise ModelError(f"{path}: logits must be (N, n_classes); received shape {logits.shape}")
            self._scores = logits
            self.has_scores = True
        else:
            if preds.ndim != 1 or not np.issubdtype(preds.dtype, np.integer) or (preds.size and preds.min() < 0):
                raise ModelError(f"{path}: predictions must be a 1-D array of class indices >= 0")
            self._preds = preds.astype(np.int64)
            self.has_scores = False
        self._n_rows = len(logits) if logits is not None else len(preds)

    def check_rows(self, n: int) -> None:
        if self._n_rows != n:
            raise ModelError(f"{self.path}: {self._n_rows} precomputed rows but the data has {n} images")

    def predict(self, batch: np.ndarray, rows: slice) -> np.ndarray:
        if self.has_scores:
            return self._scores[rows]
        return self._preds[rows]  # labels only: the inference loop one-hot encodes them

    def facts(self) -> ModelFacts:
        return ModelFacts(parameter_count=0, weight_count=0, weight_nonzero=0, file_size_bytes=self.path.stat().st_size)


def load(spec: ModelSpec, *, options: LoadOptions) -> PrecomputedPredictor:
    """Nothing to place on a device: the options do not apply to saved outputs."""
    return PrecomputedPredictor(name=spec.name, path=spec.path)
