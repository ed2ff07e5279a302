"""Precomputed outputs: audit a model that was run elsewhere, from its saved predictions or logits.

A ``.npz`` with ``logits`` (N, C) or ``predictions`` (N,), or a ``.parquet`` with a ``prediction``
column or ``logit_0 … logit_{C-1}`` columns, one row per data row in the data's order.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pruneaudit.data import Batch
from pruneaudit.data.arrays import npz_keys, read_npz
from pruneaudit.defaults import DEFAULT_MAX_BYTES
from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, first_line
from pruneaudit.models.formats import LoadOptions
from pruneaudit.specs import ModelSpec

LOGIT_COLUMN = re.compile(r"logit_(0|[1-9][0-9]*)")
LIMIT_HINT = "precomputed outputs are read whole; save predicted labels ('predictions') instead of logits"
BAD_PREDICTIONS = "{path}: predictions must be a 1-D array of class indices (integers >= 0); received {received}"


def _logit_columns(path: Path, columns: list[str]) -> list[str]:
    """``logit_0 … logit_{C-1}`` in class order; any other ``logit_…`` name, or a gap, is an error."""
    index = {}
    for column in columns:
        match = LOGIT_COLUMN.fullmatch(column)
        if match is None:
            raise ModelError(f"{path}: column {column!r} is not a logit column; expected logit_0 … logit_{{C-1}}")
        index[int(match[1])] = column
    missing = [f"logit_{i}" for i in range(len(index)) if i not in index]
    if missing:
        raise ModelError(f"{path}: logit columns must run from logit_0 without gaps; missing {', '.join(missing[:5])}")
    return [index[i] for i in range(len(index))]


def _read_parquet(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types
        raise ModelError(f"{path}: cannot read as Parquet ({first_line(exc)})") from None
    logit_cols = [str(c) for c in df.columns if str(c).startswith("logit_")]
    if logit_cols:
        cols = _logit_columns(path, logit_cols)
        text = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
        if text:
            raise ModelError(f"{path}: logit columns must hold numbers; {text[0]} has dtype {df[text[0]].dtype}")
        return df[cols].to_numpy(dtype=np.float32), None
    if "prediction" in df.columns:
        return None, df["prediction"].to_numpy()
    raise ModelError(
        f"{path}: expected a 'prediction' column or 'logit_0'… columns; found {', '.join(map(str, df.columns))}"
    )


def _read(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(logits, predictions); exactly one is set. An .npz is size-checked from its headers first."""
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path)
    found = npz_keys(path, error=ModelError)
    key = next((k for k in ("logits", "predictions") if k in found), None)
    if key is None:
        raise ModelError(
            f"{path}: expected an array 'logits' (N, C) or 'predictions' (N,); found {', '.join(found) or 'none'}"
        )
    array = read_npz(path, (key,), limit=DEFAULT_MAX_BYTES, hint=LIMIT_HINT, error=ModelError)[key]
    if key == "predictions":
        return None, array
    if array.dtype.kind not in "biuf":
        raise ModelError(f"{path}: logits must be numbers; received dtype {array.dtype}")
    return array.astype(np.float32, copy=False), None


class PrecomputedPredictor:
    """Saved outputs, row for row: the data's images are never read for them."""

    backend = "predictions"
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
            if preds.ndim != 1 or preds.dtype.kind not in "iu":
                raise ModelError(
                    BAD_PREDICTIONS.format(path=path, received=f"shape {preds.shape}, dtype {preds.dtype}")
                )
            if preds.size and preds.min() < 0:
                raise ModelError(BAD_PREDICTIONS.format(path=path, received=f"{int(preds.min())}"))
            self._preds = preds.astype(np.int64)
            self.has_scores = False
        self._n_rows = len(logits) if logits is not None else len(preds)
        self.parameter_bytes = (self._scores if self.has_scores else self._preds).nbytes

    def check_rows(self, n: int) -> None:
        if self._n_rows != n:
            raise ModelError(f"{self.path}: {self._n_rows} precomputed rows but the data has {n} images")

    def predict(self, batch: Batch) -> np.ndarray:
        if self.has_scores:
            return self._scores[batch.rows]
        return self._preds[batch.rows]  # labels only

    def facts(self) -> ModelFacts:
        return ModelFacts(parameter_count=0, weight_count=0, weight_nonzero=0, file_size_bytes=self.path.stat().st_size)


def load(spec: ModelSpec, *, options: LoadOptions) -> PrecomputedPredictor:
    """Nothing to place on a device: the options do not apply to saved outputs."""
    return PrecomputedPredictor(name=spec.name, path=spec.path)
