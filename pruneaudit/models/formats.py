"""Every model format, listed once: its name, the extensions that imply it, and the function that loads it.

Loaders are named as ``"module:function"`` and imported on first use, so validating a config
against this registry imports neither torch nor onnxruntime. Every loader has the signature
``load(spec: ModelSpec, *, options: LoadOptions) -> Predictor``.
"""

from __future__ import annotations

import importlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pruneaudit.models.base import Predictor
    from pruneaudit.specs import ModelSpec


@dataclass(frozen=True)
class LoadOptions:
    """How to open a model, whatever its format."""

    device: str  # resolved: "cpu" or "cuda"
    strict: bool = False  # the user named the device: a backend's silent CPU fallback is an error
    trust_pickle: bool = False  # allow unpickling whole nn.Module files (runs their code)
    trusted_factories: tuple[str, ...] = ()  # installed packages a state_dict factory may come from
    search: Path = Path(".")  # where a state_dict factory's module is looked for first (the config's folder)


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]  # lower-case suffixes that imply this format
    loader: str  # "module:function"

    def load(self, spec: ModelSpec, *, options: LoadOptions) -> Predictor:
        """Import the backend now (the first torch or onnxruntime import happens here) and open the model."""
        module, _, function = self.loader.partition(":")
        return getattr(importlib.import_module(module), function)(spec, options=options)


FORMATS = {
    f.name: f
    for f in (
        Format("torchscript", (".ts",), "pruneaudit.models.torchscript:load"),
        Format("torch_export", (".pt2",), "pruneaudit.models.torch_module:load_export"),
        Format("state_dict", (), "pruneaudit.models.torch_module:load_state_dict"),
        Format("pickle", (), "pruneaudit.models.torch_module:load_pickle"),
        Format("onnx", (".onnx",), "pruneaudit.models.onnx:load"),
        Format("predictions", (".npz", ".parquet"), "pruneaudit.models.precomputed:load"),
    )
}
EXTENSIONS = {ext: f.name for f in FORMATS.values() for ext in f.extensions}
TORCH_SAVE_EXTENSIONS = (".pt", ".pth", ".bin")  # TorchScript archive or torch.save file: sniffed


def sniff_torch_file(path: Path, *, factory: str | None) -> str:
    """A .pt/.pth/.bin file is a TorchScript archive (it holds code/) or a torch.save file.

    A torch.save file is a state_dict when a factory is given to build its module, else a pickled module.
    """
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        names = []  # legacy (non-zip) torch.save files; the loader reports corrupt ones
    if any("/code/" in n or n.endswith("constants.pkl") for n in names):
        return "torchscript"
    return "state_dict" if factory else "pickle"


def infer_format(path: Path, *, factory: str | None) -> str | None:
    """The format a file's extension (and, for .pt/.pth/.bin, its contents) implies; None when unknown."""
    suffix = path.suffix.lower()
    if suffix in TORCH_SAVE_EXTENSIONS:
        return sniff_torch_file(path, factory=factory)
    return EXTENSIONS.get(suffix)
