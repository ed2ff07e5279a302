"""What the audit ran on: library versions and the device, recorded in results.json."""

from __future__ import annotations

import platform


def environment(device: str) -> dict[str, str]:
    import numpy as np
    import onnxruntime
    import torch

    return {
        "device": device,
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
