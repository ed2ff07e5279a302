"""What an audit is about, as plain frozen data: the models, the labelled data and the settings.

Backends and data readers depend on these shapes only, never on how a config file is parsed,
so this module imports nothing beyond the standard library and the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pruneaudit.defaults import (
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DEVICE,
    DEFAULT_MAX_BYTES,
    DEFAULT_PRECISION,
    DEFAULT_TOLERANCE,
)

if TYPE_CHECKING:
    from pruneaudit.policy import Selection


@dataclass(frozen=True)
class ModelSpec:
    """One model to audit: where it is, how to read it, and what the user declares about it."""

    name: str
    path: Path
    format: str  # a name in pruneaudit.models.formats.FORMATS
    metadata: dict[str, Any] = field(default_factory=dict)
    factory: str | None = None  # "package.module:callable" building the nn.Module for a state_dict
    factory_kwargs: dict[str, Any] = field(default_factory=dict)
    output: str | int | None = None  # which entry of a dict/tuple output holds the class scores
    class_order: tuple[str, ...] | None = None  # class name of each model output, when it differs from the data


@dataclass(frozen=True)
class DataSpec:
    """Where the labelled data is and how to turn its arrays into model input.

    ``max_bytes`` bounds the arrays read whole into memory (the arrays of an .npz, a labels .npy),
    checked from the zip directory and the .npy headers before anything is read, so that a small
    hostile file cannot inflate to gigabytes. The default (4 GiB) holds every common test set as
    uint8 arrays and fits a CI runner beside torch. An images .npy is memory-mapped and read batch by
    batch, so it is not bounded by ``max_bytes`` (only by its own file size); image files are bounded
    one by one by Pillow's decompression-bomb limit.
    """

    path: Path  # .npz, .npy (with labels), an image folder, or a .csv/.parquet manifest
    labels: Path | None = None  # labels .npy next to an images .npy
    split: int | None = None
    images_key: str = "images"
    labels_key: str = "labels"
    class_names: tuple[str, ...] | None = None
    attributes: tuple[str, ...] = ()  # extra per-image arrays or manifest columns for subgroups
    scale: float | None = None  # None: 1/255 for integer images, 1 for float images
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: tuple[int, ...] | None = None  # image files: shorter side (one int) or (height, width)
    center_crop: tuple[int, int] | None = None  # image files: (height, width)
    color: str | None = None  # image files: "grayscale" or "rgb" (default: rgb)
    channels_first: bool = True
    max_bytes: int = DEFAULT_MAX_BYTES  # arrays read whole into memory: refused above this, before reading
    # How the card names the data: a pretty name, its Hugging Face Hub dataset id, the split's name there.
    # They change no input: the prediction cache and the sweep's model keys leave them out (DESCRIPTIVE).
    name: str | None = None
    hf_id: str | None = None
    split_name: str | None = None

    DESCRIPTIVE: ClassVar[tuple[str, ...]] = ("name", "hf_id", "split_name")

    @property
    def kind(self) -> str:
        if self.path.is_dir():
            return "folder"
        return {".npz": "npz", ".npy": "npy", ".csv": "manifest", ".parquet": "manifest"}.get(
            self.path.suffix.lower(), "unknown"
        )


@dataclass(frozen=True)
class AuditConfig:
    data: DataSpec
    dense: ModelSpec
    pruned: tuple[ModelSpec, ...]
    dense_seeds: tuple[ModelSpec, ...] = ()  # more dense models (other seeds): the dense population
    device: str = DEFAULT_DEVICE
    batch_size: int = DEFAULT_BATCH_SIZE
    precision: str = DEFAULT_PRECISION  # torch models' parameter and input dtype: fp32, bf16 or fp16
    tolerance: float = DEFAULT_TOLERANCE  # |Δ recall| beyond this counts a class as harmed or helped
    alpha: float = DEFAULT_ALPHA  # significance level after multiple-comparison correction
    selection: Selection | None = None  # operating-point policies; None: the config file had no `selection:`
    # Training images per class, in the data's class order (written by `pruneaudit prune`); None: not given.
    # Recorded in the results so that a class's harm can be read against how well training represented it.
    train_class_counts: tuple[int, ...] | None = None
    # A file of training labels (one class index per training image) that the audit counts into
    # train_class_counts once the classes are known; None: not given. A config sets at most one of the two
    # (build_config refuses both); the audit's result holds the counts made from the labels beside the file.
    train_labels: Path | None = None
    trust_pickle: bool = False  # allow unpickling whole nn.Module files (runs their code); never from a file
    trusted_factories: tuple[str, ...] = ()  # installed packages whose factories may build state_dict models
    timings: bool = False  # measure median batch latency (results then differ run to run)
    base_dir: Path = Path(".")  # the config file's folder: relative paths and factory modules
    config_path: Path | None = None  # the config file, named by errors found at audit time; None: built without one
    # Prediction and file-hash cache folder; None: no cache. build_config (the CLI) defaults it to
    # cachedir.default_cache_dir(); a config built by hand opts in, so it never writes unasked.
    cache_dir: Path | None = None
    backend: str = "local"  # where models run: "local" (this process) or "ray" (Ray actors; pruneaudit.raybackend)
    ray_address: str | None = None  # --backend ray: an existing cluster; None starts a local Ray instance
    workers: int | None = None  # --backend ray: actors; None: one per CPU (GPU) of the cluster
