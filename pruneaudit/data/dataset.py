"""Read labelled images and turn them into model input, explicitly and one batch at a time.

Sources: ``.npz`` (arrays), ``.npy`` (memory-mapped images + a labels ``.npy``), an image folder
``root/<class>/*.png|jpg``, or a ``.csv``/``.parquet`` manifest with ``path`` and ``label`` columns.
Nothing holds more than one batch of decoded images beside the labels. Arrays read whole are
size-checked from their headers first (`pruneaudit.data.arrays`, ``max_bytes``); image files are
refused past Pillow's decompression-bomb limit; a manifest's image paths must stay inside its folder
(a manifest from elsewhere cannot pull files from the rest of the machine into the card's exemplars).

Array conversion: cast to float32, multiply by ``scale`` (1/255 for integer images unless
declared), subtract ``mean`` and divide by ``std`` per channel, and add a channel axis to
(N, H, W) greyscale arrays. Image files are decoded with Pillow, converted to ``color``
(rgb unless grayscale), resized (``resize``: shorter side or (h, w); bilinear), centre-cropped,
then converted like arrays; ``channels_first`` gives (C, H, W).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from pruneaudit.data.arrays import map_npy, npz_keys, read_npy, read_npz
from pruneaudit.errors import DataError
from pruneaudit.specs import DataSpec

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_AUTO_ATTRIBUTE_VALUES = 20  # manifest columns with more distinct values are not used as subgroups

LIMIT_HINT = (
    "if the machine has the memory, raise max_bytes (in bytes) in the data config, or save the images as an "
    ".npy, which is memory-mapped and read batch by batch"
)
PER_ROW_UNSUPPORTED = (
    "{path}: {key} needs per-image arrays or columns, which {kind} cannot hold; use an .npz or a .csv/.parquet "
    "manifest, or remove {key} from the data config"
)
NO_SPLIT = "{path}: split {split} requested but the file has no 'split' {holder}"
SPLIT_NOT_INTEGER = "{path}: the 'split' {holder} must hold integers to match split {split}; received {received}"
SPLIT_EMPTY = "{path}: no image has split {split}; the file's splits are {found}"
PER_IMAGE = "{path}: {what} must have one value per image, shape ({n},); received shape {shape}"
IMAGES_SHAPE = "{path}: images must be (N, H, W) or (N, C, H, W); received shape {shape}"
IMAGES_NOT_NUMERIC = "{path}: images must be numbers (integers or floats); received dtype {dtype}"
CHANNELS = (
    "{path}: {key} has {k} values but the images have {c} channel(s); give 1 value or {c} "
    "(arrays are read as (N, H, W) or (N, C, H, W))"
)
NOT_FINITE = "{path}: image {index} holds NaN or infinite values"
IMAGE_BOMB = "{path}: refused as a possible decompression bomb ({detail}); resize the image"
NO_CLASS_FOLDERS = "{root}: no class folders; expected an image folder laid out as root/<class>/<image>.png"
NO_IMAGES = "{root}: no image files ({extensions}) in the class folders"
ESCAPING_PATH = (
    "{path}: row {row} has image path {image!r}, which leads outside the manifest's folder {folder}; "
    "image paths must be relative to the manifest's folder, without '..' above it"
)


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
        """One image file; past Pillow's MAX_IMAGE_PIXELS its warning (and, at twice that, its error) refuses it."""
        from PIL import Image, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    img = img.convert("L" if self.spec.color == "grayscale" else "RGB")
                    if self.spec.resize:
                        img = img.resize(_resized(img.size, self.spec.resize), Image.BILINEAR)
                    if self.spec.center_crop:
                        img = _crop(img, self.spec.center_crop)
                    return np.asarray(img, dtype=np.uint8)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise DataError(IMAGE_BOMB.format(path=path, detail=str(exc).strip())) from None
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
class Normalisation:
    """The arithmetic from raw images to model input, its scale resolved for the images' dtype.

    Applied in numpy by `Dataset.prepare`, and on the device by the torch backends
    (`pruneaudit.models.torch_common`), operation for operation, so both give the same float32 bits.
    """

    scale: float  # multiplied first (skipped when 1)
    mean: tuple[float, ...] | None  # then subtracted per channel
    std: tuple[float, ...] | None  # then divided per channel
    channels_first: bool  # (N, C, H, W); False gives (N, H, W, C)


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

    def raw_batch(self, start: int, stop: int) -> np.ndarray:
        """Images [start, stop) as stored; NaN or infinite pixels are the data's fault, named before any model sees them."""
        raw = self.images.raw(start, stop)
        if raw.dtype.kind == "f" and not np.isfinite(raw).all():
            bad = int(np.flatnonzero(~np.isfinite(raw).reshape(len(raw), -1).all(axis=1))[0])
            raise DataError(NOT_FINITE.format(path=self.source, index=start + bad))
        return raw

    def raw_image(self, index: int) -> np.ndarray:
        return self.images.raw(index, index + 1)[0]

    def normalisation(self, dtype: np.dtype) -> Normalisation:
        scale = self.spec.scale
        if scale is None:
            scale = 1.0 / 255.0 if np.issubdtype(dtype, np.integer) else 1.0
        return Normalisation(
            scale=scale, mean=self.spec.mean, std=self.spec.std, channels_first=self.spec.channels_first
        )

    def prepare(self, raw: np.ndarray) -> np.ndarray:
        norm = self.normalisation(raw.dtype)
        x = raw.astype(np.float32)
        if norm.scale != 1.0:
            x *= np.float32(norm.scale)
        if x.ndim == 3:
            x = x[:, None, :, :]
        if norm.mean is not None:
            x -= np.asarray(norm.mean, dtype=np.float32).reshape(1, -1, *([1] * (x.ndim - 2)))
        if norm.std is not None:
            x /= np.asarray(norm.std, dtype=np.float32).reshape(1, -1, *([1] * (x.ndim - 2)))
        if not norm.channels_first and x.ndim == 4:
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


def _refuse_per_row(spec: DataSpec, kind: str) -> None:
    """split and attributes are per-image values: refused, not ignored, where the source cannot hold them."""
    for key, value in (("split", spec.split), ("attributes", spec.attributes)):
        if value is not None and value != ():
            raise DataError(PER_ROW_UNSUPPORTED.format(path=spec.path, key=key, kind=kind))


def _check_images(path: Path, images: np.ndarray) -> None:
    if images.ndim not in (3, 4):
        raise DataError(IMAGES_SHAPE.format(path=path, shape=images.shape))
    if images.dtype.kind not in "biuf":
        raise DataError(IMAGES_NOT_NUMERIC.format(path=path, dtype=images.dtype))


def _check_per_image(path: Path, n: int, arrays: dict[str, np.ndarray]) -> None:
    """Labels, attributes and the split array give one value per image, checked before any is indexed."""
    for what, values in arrays.items():
        if what == "labels" and values.ndim != 1:
            raise DataError(f"{path}: labels must be 1-D; received shape {values.shape}")
        if what == "labels" and len(values) != n:
            raise DataError(f"{path}: {n} images but {len(values)} labels")
        if what != "labels" and values.shape != (n,):
            raise DataError(PER_IMAGE.format(path=path, what=what, n=n, shape=values.shape))


def _split_mask(path: Path, split_values: np.ndarray, split: int, *, holder: str) -> np.ndarray:
    """Rows whose split equals ``split``; a split no row has is an error, not an empty audit."""
    if split_values.dtype.kind not in "iu":
        shown = sorted(set(split_values.astype(str).tolist()))[:5] if split_values.dtype.kind in "USO" else None
        raise DataError(
            SPLIT_NOT_INTEGER.format(
                path=path,
                holder=holder,
                split=split,
                received=f"values {shown}" if shown else f"dtype {split_values.dtype}",
            )
        )
    keep = split_values == split
    if not keep.any():
        found = ", ".join(map(str, np.unique(split_values)[:10].tolist())) or "none"
        raise DataError(SPLIT_EMPTY.format(path=path, split=split, found=found))
    return keep


def _load_arrays(spec: DataSpec) -> tuple[ImageSource, np.ndarray, dict[str, np.ndarray]]:
    path = spec.path
    if spec.kind == "npy":
        _refuse_per_row(spec, "an images .npy")
        if spec.labels is None:
            raise DataError(f"{path}: an images .npy needs 'labels: labels.npy' in the data config")
        images = map_npy(path, error=DataError)
        _check_images(path, images)
        labels = read_npy(spec.labels, limit=spec.max_bytes, hint=LIMIT_HINT, error=DataError)
        _check_per_image(spec.labels, len(images), {"labels": labels})
        return ArraySource(images), labels, {}
    found = npz_keys(path, error=DataError)
    wanted = (spec.images_key, spec.labels_key, *spec.attributes)
    missing = [k for k in wanted if k not in found]
    if missing:
        raise DataError(f"{path}: missing array(s) {', '.join(missing)}; found {', '.join(found) or 'none'}")
    if spec.split is not None and "split" not in found:
        raise DataError(NO_SPLIT.format(path=path, split=spec.split, holder="array"))
    keys = tuple(dict.fromkeys((*wanted, *(["split"] if spec.split is not None else []))))
    arrays = read_npz(path, keys, limit=spec.max_bytes, hint=LIMIT_HINT, error=DataError)
    images, labels = arrays[spec.images_key], arrays[spec.labels_key]
    attributes = {name: arrays[name] for name in spec.attributes}
    _check_images(path, images)
    per_image = {"labels": labels, **{f"attribute {n!r}": v for n, v in attributes.items()}}
    if spec.split is not None:
        per_image["the 'split' array"] = arrays["split"]
    _check_per_image(path, len(images), per_image)
    if spec.split is not None:
        keep = _split_mask(path, arrays["split"], spec.split, holder="array")
        images, labels = images[keep], labels[keep]
        attributes = {name: values[keep] for name, values in attributes.items()}
    return ArraySource(images), labels, attributes


def _load_folder(spec: DataSpec) -> tuple[FileSource, np.ndarray, tuple[str, ...]]:
    root = spec.path
    _refuse_per_row(spec, "an image folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DataError(NO_CLASS_FOLDERS.format(root=root))
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
    if not paths:
        raise DataError(NO_IMAGES.format(root=root, extensions=", ".join(IMAGE_EXTENSIONS)))
    return FileSource(tuple(paths), spec), np.array(labels, dtype=np.int64), names


def _manifest_paths(path: Path, column) -> tuple[Path, ...]:
    """Image paths relative to the manifest's folder; absolute ones and '..' above it are refused.

    Lexical, not resolved: a symlinked images folder inside the manifest's folder is its owner's choice.
    """
    out = []
    for row, value in enumerate(column):
        text = str(value)
        normal = os.path.normpath(text)
        if os.path.isabs(normal) or normal == ".." or normal.startswith(".." + os.sep):
            raise DataError(ESCAPING_PATH.format(path=path, row=row, image=text, folder=path.parent))
        out.append(path.parent / normal)
    return tuple(out)


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
    if spec.split is not None:
        if "split" not in df.columns:
            raise DataError(NO_SPLIT.format(path=path, split=spec.split, holder="column"))
        df = df[_split_mask(path, df["split"].to_numpy(), spec.split, holder="column")].reset_index(drop=True)
        extra.remove("split")  # one value left: no subgroups
    if spec.attributes:
        unknown = [a for a in spec.attributes if a not in df.columns or a in ("path", "label")]
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
    paths = _manifest_paths(path, df["path"])
    labels = df["label"].to_numpy()
    if labels.dtype == object:
        labels = labels.astype(str)
    return FileSource(paths, spec), labels, {c: df[c].astype(str).to_numpy() for c in chosen}


def _channels(images: ImageSource, spec: DataSpec) -> int:
    if isinstance(images, ArraySource):
        return 1 if images.images.ndim == 3 else int(images.images.shape[1])
    return 1 if spec.color == "grayscale" else 3


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
        raise DataError(f"{path}: the dataset is empty")
    channels = _channels(images, spec)
    for key, values in (("mean", spec.mean), ("std", spec.std)):
        if values is not None and len(values) not in (1, channels):
            raise DataError(CHANNELS.format(path=path, key=key, k=len(values), c=channels))
    for name, values in attributes.items():
        if values.shape != labels.shape:
            raise DataError(
                f"{path}: attribute {name!r} must have one value per image, shape {labels.shape}; received {values.shape}"
            )
    return Dataset(source=path, images=images, labels=labels, class_names=names, spec=spec, attributes=attributes)
