"""Every model format, listed once: its name, the extensions that imply it, and the function that loads it.

Loaders are named as ``"module:function"`` and imported on first use, so validating a config
against this registry imports neither torch nor onnxruntime. Every loader has the signature
``load(spec: ModelSpec, *, options: LoadOptions) -> Predictor``. ``runtime`` names the library a
format runs on (None: saved outputs, nothing runs), so an audit can tell which libraries it needs,
and which versions determine a model's outputs, before it loads anything.
"""

from __future__ import annotations

import importlib
import logging
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pruneaudit.defaults import DEFAULT_PRECISION

if TYPE_CHECKING:
    from pruneaudit.models.base import Predictor
    from pruneaudit.specs import ModelSpec


@dataclass(frozen=True)
class LoadOptions:
    """How to open a model, whatever its format."""

    device: str  # resolved: "cpu" or "cuda"
    precision: str = (
        DEFAULT_PRECISION  # torch backends: parameter and input dtype (fp32, bf16, fp16); ONNX keeps its own
    )
    strict: bool = False  # the user named the device: a backend's silent CPU fallback is an error
    trust_pickle: bool = False  # allow unpickling whole nn.Module files (runs their code)
    trusted_factories: tuple[str, ...] = ()  # installed packages a state_dict factory may come from
    search: Path = Path(".")  # where a state_dict factory's module is looked for first (the config's folder)


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]  # lower-case suffixes that imply this format
    loader: str  # "module:function"
    runtime: str | None  # "torch", "onnxruntime", or None for saved outputs

    def load(self, spec: ModelSpec, *, options: LoadOptions) -> Predictor:
        """Import the backend now (the first torch or onnxruntime import happens here) and open the model."""
        module, _, function = self.loader.partition(":")
        loader = getattr(importlib.import_module(module), function)
        with quiet_third_party():
            return loader(spec, options=options)


@contextmanager
def quiet_third_party() -> Iterator[None]:
    """Keep torch's log records and every Python warning off stderr while a model file is opened.

    torch.export logs a whole traceback at WARNING before it raises on a file it cannot read, and
    loaders warn about old formats; a refused file already ends in one line naming it. Entered after
    the backend is imported (torch sets its loggers' levels on import). With -vv (pruneaudit logging
    at DEBUG) nothing is hidden.
    """
    if logging.getLogger("pruneaudit").isEnabledFor(logging.DEBUG):
        yield
        return
    top = logging.getLogger("torch")
    loggers = [top, *(lg for n, lg in logging.Logger.manager.loggerDict.items() if n.startswith("torch."))]
    saved = [(lg, lg.disabled) for lg in loggers if isinstance(lg, logging.Logger)]
    level = top.level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top.setLevel(logging.CRITICAL + 1)  # loggers created during the load inherit it
        for lg, _ in saved:
            lg.disabled = True
        try:
            yield
        finally:
            top.setLevel(level)
            for lg, disabled in saved:
                lg.disabled = disabled


FORMATS = {
    f.name: f
    for f in (
        Format("torchscript", (".ts",), "pruneaudit.models.torchscript:load", "torch"),
        Format("torch_export", (".pt2",), "pruneaudit.models.torch_module:load_export", "torch"),
        Format("state_dict", (), "pruneaudit.models.torch_module:load_state_dict", "torch"),
        Format("pickle", (), "pruneaudit.models.torch_module:load_pickle", "torch"),
        Format("onnx", (".onnx",), "pruneaudit.models.onnx:load", "onnxruntime"),
        Format("predictions", (".npz", ".parquet"), "pruneaudit.models.precomputed:load", None),
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
