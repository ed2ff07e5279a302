"""The held-out split: rows of the training split that no mitigation fine-tunes on, where the re-audit runs.

It is a fixed function of the training labels: per class, the ``HELDOUT_FRACTION`` of its rows whose
sha256 (of a fixed salt and the row's index) is smallest. Stratified, the same on every machine and
numpy version (no generator stream), and with no seed to choose, so no two runs carve different rows
and a split chosen after looking at one re-audit cannot exist. It is written as an .npz of its own
(images as stored, labels, attributes and each row's index in the training split), with fixed zip
timestamps so the same rows give the same bytes; the re-audit's audit.yaml reads it as any data.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile

import numpy as np

from pruneaudit.errors import ConfigError

HELDOUT_FRACTION = 0.2
SALT = b"pruneaudit-heldout-1\0"
FILE = "heldout.npz"
ROWS_KEY = "train_row"  # each image's row in the training split
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


def heldout_rows(labels: np.ndarray) -> np.ndarray:
    """Sorted row indices: per class, round(fraction × n) rows, at least one of a class with two or more, never all."""
    keys = np.array(
        [
            int.from_bytes(hashlib.sha256(SALT + i.to_bytes(8, "little")).digest()[:8], "big")
            for i in range(len(labels))
        ],
        dtype=np.uint64,
    )
    picked = []
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k = min(len(rows) - 1, max(1, math.floor(HELDOUT_FRACTION * len(rows) + 0.5)))
        picked.append(rows[np.argsort(keys[rows], kind="stable")[:k]])
    return np.sort(np.concatenate(picked)).astype(np.int64)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz as `np.savez` writes it, but with fixed entry times: same arrays, same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for key, value in arrays.items():
            with zf.open(zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_TIME), "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(value), allow_pickle=False)
    return buf.getvalue()


def heldout_arrays(
    raw: np.ndarray, labels: np.ndarray, attributes: dict[str, np.ndarray], rows: np.ndarray, *, where: str
) -> dict[str, np.ndarray]:
    """The held-out rows' arrays under the keys the re-audit's data mapping names."""
    taken = sorted({"images", "labels", ROWS_KEY} & set(attributes))
    if taken:
        raise ConfigError(
            f"{where}: train_data attribute(s) {', '.join(taken)} would clash with the held-out file's arrays"
        )
    return {
        "images": raw[rows],
        "labels": labels[rows].astype(np.int64),
        ROWS_KEY: rows,
        **{name: _storable(values[rows]) for name, values in attributes.items()},
    }


def _storable(values: np.ndarray) -> np.ndarray:
    """Text attributes as fixed-width strings (a manifest's come as Python objects, which need pickle)."""
    return values.astype(str) if values.dtype == object else values
