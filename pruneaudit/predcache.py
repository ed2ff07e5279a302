"""The prediction cache: a model's run over the data, kept so that an unchanged model is not run again.

The key is a sha256 over everything that determines what a run holds: the model file's sha256 and
the spec fields that change its outputs (format, factory and its kwargs, the factory module's source,
output selector, class_order); the data's files (data file, labels file, a manifest's images) and the
spec fields that change the input or the labels (split, keys, class names, scale, mean, std, resize,
crop, colour, layout); the device used (with the GPU's name, and whether the user named the device),
the precision (torch only), the batch size, and the versions of pruneaudit, numpy and the model's
runtime. The value is the whole `ModelRun` but its name: predictions, top-5 hits, facts, backend,
device, dtype, output kind, class count and median batch time, as one ``.npz`` (the arrays, and the
rest as a JSON string) under ``<cache>/predictions/``, read with ``allow_pickle=False``. One file per
entry, so that `cachedir.write_entry` replaces it atomically. On a hit the model file is not opened.

Not cached: saved outputs (reading them costs what reading an entry would), and pickled modules,
whose code lives in modules the file only names, so no key can see it change. Code that a state_dict
factory imports from outside its own module or package is not hashed either: pass --no-cache after
changing it, as after changing pruneaudit's own code within one version.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from pruneaudit._version import __version__
from pruneaudit.cachedir import read_entry, write_entry
from pruneaudit.data import Dataset
from pruneaudit.environment import runtime_version
from pruneaudit.fingerprint import sha256
from pruneaudit.inference import ModelRun
from pruneaudit.models import LayerFacts, ModelFacts
from pruneaudit.models.factories import factory_sources
from pruneaudit.models.formats import FORMATS
from pruneaudit.specs import DataSpec, ModelSpec

log = logging.getLogger(__name__)
LAYOUT = 1  # of an entry; part of the key
NOT_INPUT = (
    "path",
    "labels",
    "attributes",
    "max_bytes",
    *DataSpec.DESCRIPTIVE,
)  # DataSpec fields that do not change the input (files are hashed)
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, RecursionError, MemoryError)
META_BYTES = 8 << 20  # the JSON part of an entry (facts, per-layer counts) is far smaller


class PredictionCache:
    """Runs of one audit's settings over one dataset, under ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        dataset: Dataset,
        device: str,
        strict: bool,
        precision: str,
        batch_size: int,
        search: Path,
    ) -> None:
        """``device``: the resolved device ("cpu" or "cuda"); ``strict``: the user named it, so a run that
        fell back to the CPU (onnxruntime without CUDA) must not be reused; ``search``: where factory
        modules are looked for."""
        self.folder = folder
        self._dataset, self._precision, self._search = dataset, precision, search
        self._common = {
            "layout": LAYOUT,
            "pruneaudit": __version__,
            "numpy": np.__version__,
            "device": device,
            "strict": strict,
            "gpu": _gpu_name() if device == "cuda" else None,
            "batch_size": batch_size,
        }
        self._data: str | None = None

    def key(self, spec: ModelSpec, *, model_sha256: str) -> str | None:
        """None for a format that is not cached (saved outputs, pickled modules); ``model_sha256``: the
        model's `pruneaudit.models.model_sha256` (its file and an ONNX model's external data)."""
        runtime = FORMATS[spec.format].runtime
        if runtime is None or spec.format == "pickle":
            return None
        sources = factory_sources(spec, search=self._search) if spec.factory else []
        fields = {
            **self._common,
            "data": self._data_key(),
            "model": model_sha256,
            "format": spec.format,
            "factory": spec.factory,
            "factory_kwargs": spec.factory_kwargs,
            "factory_source": [sha256(p, cache_dir=self.folder) for p in sources],
            "output": spec.output,
            "class_order": spec.class_order,
            "runtime": [runtime, runtime_version(runtime)],
            "precision": self._precision if runtime == "torch" else None,  # ONNX keeps its input dtype
        }
        return _digest(fields)

    def _data_key(self) -> str:
        if self._data is None:
            spec = self._dataset.spec
            files = [spec.path, *([spec.labels] if spec.labels else [])]
            if spec.kind == "manifest":  # the images are files of their own
                files += list(getattr(self._dataset.images, "paths", ()))
            fields = {k: v for k, v in asdict(spec).items() if k not in NOT_INPUT}
            if spec.kind in ("folder", "manifest"):  # image files decoded and resized by Pillow
                fields["pillow"] = _pillow_version()
            self._data = _digest({**fields, "files": [sha256(f, cache_dir=self.folder) for f in files]})
        return self._data

    def _entry(self, key: str) -> Path:
        return self.folder / "predictions" / key[:2] / f"{key}.npz"

    def load(self, spec: ModelSpec, key: str) -> ModelRun | None:
        """The stored run, or None: absent, or unreadable (logged; the model runs and the entry is rewritten)."""
        path = self._entry(key)
        data = read_entry(path, limit=16 * len(self._dataset) + META_BYTES)
        if data is None:
            return None
        try:
            run = _decode(data, name=spec.name, key=key, n=len(self._dataset))
        except UNREADABLE as exc:
            log.warning("%s: cache entry %s unreadable (%s); running the model again", spec.path, path, exc)
            return None
        log.info("%s: predictions from cache", spec.path)
        return run

    def store(self, key: str, run: ModelRun) -> None:
        write_entry(self._entry(key), _encode(run, key))


def _digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _pillow_version() -> str:
    import PIL

    return PIL.__version__


def _gpu_name() -> str:
    import torch

    return torch.cuda.get_device_name()


def _encode(run: ModelRun, key: str) -> bytes:
    f = run.facts
    meta = {
        "key": key,
        "backend": run.backend,
        "device": run.device,
        "dtype": run.dtype,
        "output_kind": run.output_kind,
        "n_classes": run.n_classes,
        "median_batch_seconds": run.median_batch_seconds,
        "parameter_count": f.parameter_count,
        "weight_count": f.weight_count,
        "weight_nonzero": f.weight_nonzero,
        "file_size_bytes": f.file_size_bytes,
        "layers": [[x.name, x.count, x.nonzero] for x in f.layers],
    }
    arrays = {"meta": np.array(json.dumps(meta)), "predictions": run.predictions}
    if run.top5_hits is not None:
        arrays["top5_hits"] = run.top5_hits
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _field(meta: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = meta[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{key} is {type(value).__name__}")
    return value


def _decode(data: bytes, *, name: str, key: str, n: int) -> ModelRun:
    """Raises one of UNREADABLE when the entry is not exactly what `_encode` wrote for ``key``."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # np.savez stores members uncompressed: no zip bomb
        if any(m.compress_type != zipfile.ZIP_STORED or m.file_size > len(data) for m in archive.infolist()):
            raise ValueError("compressed or oversized members")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        predictions = z["predictions"]
        hits = z["top5_hits"] if "top5_hits" in z.files else None
    if not isinstance(meta, dict) or meta.get("key") != key:
        raise ValueError("written for another key")
    n_classes = _field(meta, "n_classes", int)
    if predictions.shape != (n,) or predictions.dtype != np.int64:
        raise ValueError(f"predictions of shape {predictions.shape} and dtype {predictions.dtype}")
    if n and not (predictions.min() >= 0 and predictions.max() < n_classes):
        raise ValueError("predictions outside the classes")
    if hits is not None and (hits.shape != (n,) or hits.dtype != bool):
        raise ValueError(f"top-5 hits of shape {hits.shape} and dtype {hits.dtype}")
    seconds = _field(meta, "median_batch_seconds", (int, float))
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"median_batch_seconds is {seconds}")
    if any(_field(meta, k, int) < 0 for k in ("parameter_count", "weight_count", "weight_nonzero", "file_size_bytes")):
        raise ValueError("negative counts")
    layers = _field(meta, "layers", list)
    if not all(isinstance(x, list) and len(x) == 3 for x in layers):
        raise ValueError("malformed layers")
    return ModelRun(
        name=name,
        backend=_field(meta, "backend", str),
        device=_field(meta, "device", str),
        dtype=_field(meta, "dtype", str),
        output_kind=_field(meta, "output_kind", str),
        facts=ModelFacts(
            parameter_count=_field(meta, "parameter_count", int),
            weight_count=_field(meta, "weight_count", int),
            weight_nonzero=_field(meta, "weight_nonzero", int),
            file_size_bytes=_field(meta, "file_size_bytes", int),
            layers=tuple(LayerFacts(name=str(a), count=int(b), nonzero=int(c)) for a, b, c in layers),
        ),
        predictions=predictions,
        top5_hits=hits,
        n_classes=n_classes,
        median_batch_seconds=float(seconds),
    )
