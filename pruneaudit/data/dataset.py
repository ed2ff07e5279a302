"""Read labelled images and turn them into model input, explicitly.

Images are kept in their stored dtype and converted one batch at a time, so the
float copy never exceeds one batch. Conversion: cast to float32, multiply by
``scale`` (1/255 for integer images unless declared), subtract ``mean``, divide by
``std`` (per channel), and add a channel axis to (N, H, W) greyscale arrays.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pruneaudit.config import DataSpec
from pruneaudit.errors import DataError


@dataclass(frozen=True)
class Dataset:
    source: Path
    images: np.ndarray  # (N, ...) as stored
    labels: np.ndarray  # (N,) int64, >= 0
    class_names: tuple[str, ...] | None
    spec: DataSpec
    attributes: dict[str, np.ndarray]  # name → (N,) value per image, for subgroups

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, len(self), batch_size):
            yield self.prepare(self.images[start : start + batch_size])

    def prepare(self, raw: np.ndarray) -> np.ndarray:
        x = raw.astype(np.float32)
        scale = self.spec.scale
        if scale is None:
            scale = 1.0 / 255.0 if np.issubdtype(raw.dtype, np.integer) else 1.0
        if scale != 1.0:
            x *= np.float32(scale)
        if x.ndim == 3:
            x = x[:, None, :, :]
        if self.spec.mean is not None:
            x -= np.asarray(self.spec.mean, dtype=np.float32).reshape(1, -1, *([1] * (x.ndim - 2)))
        if self.spec.std is not None:
            x /= np.asarray(self.spec.std, dtype=np.float32).reshape(1, -1, *([1] * (x.ndim - 2)))
        return x


def load_dataset(spec: DataSpec) -> Dataset:
    """Load an ``.npz`` holding an images array and an integer labels array."""
    path = spec.path
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read as .npz ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: expected an .npz archive with arrays {spec.images_key!r} and {spec.labels_key!r}")
    with archive:
        missing = [k for k in (spec.images_key, spec.labels_key, *spec.attributes) if k not in archive.files]
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(missing)}; found {', '.join(archive.files) or 'none'}")
        try:
            images, labels = archive[spec.images_key], archive[spec.labels_key]
            attributes = {name: archive[name] for name in spec.attributes}
            split = archive["split"] if spec.split is not None and "split" in archive.files else None
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: cannot read arrays ({exc})") from None
    if spec.split is not None:
        if split is None:
            raise DataError(f"{path}: split {spec.split} requested but the file has no 'split' array")
        keep = split == spec.split
        images, labels = images[keep], labels[keep]
        attributes = {name: values[keep] for name, values in attributes.items()}

    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: labels must be a 1-D integer array; received dtype {labels.dtype}, shape {labels.shape}")
    if images.shape[:1] != labels.shape:
        raise DataError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
    if labels.size == 0:
        raise DataError(f"{path}: the dataset is empty" + (f" for split {spec.split}" if spec.split is not None else ""))
    if images.ndim < 3:
        raise DataError(f"{path}: images must be (N, H, W) or (N, C, H, W); received shape {images.shape}")
    for name, values in attributes.items():
        if values.shape != labels.shape:
            raise DataError(f"{path}: attribute {name!r} must have one value per image, shape {labels.shape}; received {values.shape}")
    if labels.min() < 0:
        raise DataError(f"{path}: labels must be >= 0; received {int(labels.min())}")
    return Dataset(
        source=path,
        images=images,
        labels=labels.astype(np.int64),
        class_names=spec.class_names,
        spec=spec,
        attributes=attributes,
    )
