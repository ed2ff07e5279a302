"""What the audit ran on: library versions and the device, recorded in results.json."""

from __future__ import annotations

import importlib.metadata
import platform


def runtime_version(runtime: str) -> str:
    """The version of a model runtime; torch's from its package metadata, so that asking costs no import (3 s)."""
    if runtime == "torch":
        return importlib.metadata.version("torch")
    import onnxruntime  # its distribution is onnxruntime, onnxruntime-gpu, ...: ask the module (0.2 s)

    return onnxruntime.__version__


def environment(device: str, *, torch_used: bool) -> dict[str, str]:
    """``torch_used``: the audit had a torch model or asked torch for the device (read from the inputs,
    never from what happens to be imported, so the same inputs record the same keys)."""
    import numpy as np

    env = {
        "device": device,
        "numpy": np.__version__,
        "onnxruntime": runtime_version("onnxruntime"),
        "python": platform.python_version(),
    }
    if torch_used:
        env["torch"] = runtime_version("torch")
    return env
