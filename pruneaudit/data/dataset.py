"""Read labelled images and turn them into model input, explicitly and one batch at a time.

Sources: ``.npz`` (arrays), ``.npy`` (memory-mapped images + a labels ``.npy``), an image folder
``root/<class>/*.png|jpg``, or a ``.csv``/``.parquet`` manifest with ``path`` and ``label`` columns.
Nothing holds more than one batch of decoded images beside the labels.

Array conversion: cast to float32, multiply by ``scale`` (1/255 for integer images unless
declared), subtract ``mean`` and divide by ``std`` per channel, and add a channel axis to
(N, H, W) greyscale arrays. Image files are decoded with Pillow, converted to ``color``
(rgb unless grayscale), resized (``resize``: shorter side or (h, w); bilinear), centre-cropped,
then converted like arrays; ``channels_first`` gives (C, H, W).
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from pruneaudit.errors import DataError
from pruneaudit.specs import DataSpec

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_AUTO_ATTRIBUTE_VALUES = 20  # manifest columns with more distinct values are not used as subgroups


class ImageSource(Protocol):
    def __len__(self) -> int: ...

    def raw(self, start: int, stop: int) -> np.ndarray:
        """Images [start, stop) before normalisation: numeric arrays of one shape."""
        ...


@dataclass(frozen=True)
class ArraySource:
    images: np.ndarray  # in memory or memory-mapped

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def raw(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.images[start:stop])


@dataclass(frozen=True)
class FileSource:
    paths: tuple[Path, ...]
    spec: DataSpec

    def __len__(self) -> int:
        return len(self.paths)

    def _decode(self, path: Path) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                img = img.convert("L" if self.spec.color == "grayscale" else "RGB")
                if self.spec.resize:
                    img = img.resize(_resized(img.size, self.spec.resize), Image.BILINEAR)
                if self.spec.center_crop:
                    img = _crop(img, self.spec.center_crop)
                return np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read image ({exc})") from None

    def raw(self, start: int, stop: int) -> np.ndarray:
        images = [self._decode(p) for p in self.paths[start:stop]]
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise DataError(
                f"{self.paths[start].parent}: images differ in size ({', '.join(map(str, sorted(shapes)[:3]))}); "
                "set resize and center_crop in the data config"
            )
        out = np.stack(images) if images else np.zeros((0, 1, 1), dtype=np.uint8)
        return out if out.ndim == 3 else np.moveaxis(out, -1, 1)  # (N, H, W) or (N, C, H, W)


def _resized(size: tuple[int, int], resize: tuple[int, ...]) -> tuple[int, int]:
    w, h = size
    if len(resize) == 2:
        return resize[1], resize[0]
    short = resize[0]
    return (short, max(1, round(h * short / w))) if w <= h else (max(1, round(w * short / h)), short)


def _crop(img, size: tuple[int, int]):
    h, w = size
    left, top = (img.width - w) // 2, (img.height - h) // 2
    if left < 0 or top < 0:
        raise ValueError(f"image {img.width}x{img.height} is smaller than the {w}x{h} crop")
    return img.crop((left, top, left + w, top + h))


@dataclass(frozen=True)
class Dataset:
    source: Path
    images: ImageSource
    labels: np.ndarray  # (N,) int64 class index
    class_names: tuple[str, ...] | None
    spec: DataSpec
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # name → (N,) value per image

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        for start in range(0, len(self), batch_size):
            yield self.prepare(self.images.raw(start, min(start + batch_size, len(self))))

    def raw_image(self, index: int) -> np.ndarray:
        return self.images.raw(index, index + 1)[0]

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
        if not self.spec.channels_first and x.ndim == 4:
            x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        return x


def _encode_labels(
    path: Path, raw: np.ndarray, class_names: tuple[str, ...] | None
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Integer labels pass through; text labels map to class names (given, else sorted unique)."""
    if raw.ndim != 1:
        raise DataError(f"{path}: labels must be 1-D; received shape {raw.shape}")
    if np.issubdtype(raw.dtype, np.integer):
        if raw.size and raw.min() < 0:
            raise DataError(f"{path}: labels must be >= 0; received {int(raw.min())}")
        return raw.astype(np.int64), class_names
    if raw.dtype.kind in "USO":
        text = raw.astype(str)
        names = class_names or tuple(sorted(set(text.tolist())))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(text.tolist()) - set(index))
        if unknown:
            raise DataError(f"{path}: labels {unknown[:5]} are not among the class names {list(names)[:10]}")
        return np.array([index[t] for t in text], dtype=np.int64), names
    raise DataError(f"{path}: labels must be integers or text; received dtype {raw.dtype}")


def _load_arrays(spec: DataSpec) -> tuple[ImageSource, np.ndarray, dict[str, np.ndarray]]:
    path = spec.path
    if spec.kind == "npy":
        if spec.labels is None:
            raise DataError(f"{path}: an images .npy needs 'labels: labels.npy' in the data config")
        try:
            images = np.load(path, mmap_mode="r", allow_pickle=False)
            labels = np.load(spec.labels, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read .npy ({exc})") from None
        if spec.split is not None or spec.attributes:
            raise DataError(f"{path}: split and attributes need an .npz or a manifest")
        return ArraySource(images), labels, {}
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read as .npz ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: expected an .npz archive with arrays {spec.images_key!r} and {spec.labels_key!r}")
    with archive:
        missing = [k for k in (spec.images_key, spec.labels_key, *spec.attributes) if k not in archive.files]
        if missing:
            raise DataError(
                f"{path}: missing array(s) {', '.join(missing)}; found {', '.join(archive.files) or 'none'}"
            )
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
    return ArraySource(images), labels, attributes


def _load_folder(spec: DataSpec) -> tuple[FileSource, np.ndarray, tuple[str, ...]]:
    root = spec.path
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    names = spec.class_names or tuple(p.name for p in folders)
    index = {n: i for i, n in enumerate(names)}
    stray = [p.name for p in folders if p.name not in index]
    if stray:
        raise DataError(f"{root}: folders {stray[:5]} are not among the class names {list(names)[:10]}")
    paths, labels = [], []
    for folder in folders:
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(f)
                labels.append(index[folder.name])
    return FileSource(tuple(paths), spec), np.array(labels, dtype=np.int64), names


def _load_manifest(spec: DataSpec) -> tuple[FileSource, np.ndarray, dict[str, np.ndarray]]:
    import pandas as pd

    path = spec.path
    try:
        df = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path, keep_default_na=False)
    except Exception as exc:  # pandas/pyarrow raise many types
        raise DataError(f"{path}: cannot read the manifest ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("path", "label") if c not in df.columns]
    if missing:
        raise DataError(f"{path}: the manifest needs columns path and label; missing {', '.join(missing)}")
    extra = [c for c in df.columns if c not in ("path", "label")]
    if spec.attributes:
        unknown = [a for a in spec.attributes if a not in extra]
        if unknown:
            raise DataError(
                f"{path}: attribute column(s) {', '.join(unknown)} not found; columns are {', '.join(map(str, df.columns))}"
            )
        chosen = list(spec.attributes)
    else:
        chosen = [c for c in extra if df[c].nunique() <= MAX_AUTO_ATTRIBUTE_VALUES]
        for c in set(extra) - set(chosen):
            log.warning(
                "%s: column %r has more than %d values; not used as a subgroup attribute",
                path,
                c,
                MAX_AUTO_ATTRIBUTE_VALUES,
            )
    paths = tuple(path.parent / str(p) for p in df["path"])
    labels = df["label"].to_numpy()
    if labels.dtype == object:
        labels = labels.astype(str)
    return FileSource(paths, spec), labels, {c: df[c].astype(str).to_numpy() for c in chosen}


def load_dataset(spec: DataSpec) -> Dataset:
    """Open labelled data of any supported kind; images are decoded batch by batch later."""
    path = spec.path
    kind = spec.kind
    names = spec.class_names
    if kind in ("npz", "npy"):
        images, labels, attributes = _load_arrays(spec)
    elif kind == "folder":
        images, labels, names = _load_folder(spec)
        attributes = {}
    elif kind == "manifest":
        images, labels, attributes = _load_manifest(spec)
    else:
        raise DataError(f"{path}: unsupported data; expected .npz, .npy, an image folder, or a .csv/.parquet manifest")
    labels, names = _encode_labels(path, np.asarray(labels), names)
    if len(images) != labels.shape[0]:
        raise DataError(f"{path}: {len(images)} images but {labels.shape[0]} labels")
    if labels.size == 0:
        raise DataError(
            f"{path}: the dataset is empty" + (f" for split {spec.split}" if spec.split is not None else "")
        )
    if isinstance(images, ArraySource) and images.images.ndim < 3:
        raise DataError(f"{path}: images must be (N, H, W) or (N, C, H, W); received shape {images.images.shape}")
    for name, values in attributes.items():
        if values.shape != labels.shape:
            raise DataError(
                f"{path}: attribute {name!r} must have one value per image, shape {labels.shape}; received {values.shape}"
            )
    return Dataset(source=path, images=images, labels=labels, class_names=names, spec=spec, attributes=attributes)
