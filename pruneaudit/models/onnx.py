"""ONNX backend on onnxruntime: CUDA provider when a GPU is usable, CPU otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, count_weights

log = logging.getLogger(__name__)
_ORT_QUIET = 3  # errors only: keeps onnxruntime's own provider chatter off stderr
_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class OnnxPredictor:
    backend = "onnx"

    def __init__(self, *, name: str, path: Path, device: str, strict: bool) -> None:
        """``strict``: the user asked for CUDA explicitly, so a CPU fallback is an error."""
        self.name, self.path = name, path
        options = ort.SessionOptions()
        options.log_severity_level = _ORT_QUIET
        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            if hasattr(ort, "preload_dlls"):
                ort.preload_dlls()  # CUDA libraries shipped with torch's CUDA wheels
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            raise ModelError(f"{path}: cannot load as an ONNX model ({_first_line(exc)})") from None
        ran = self._session.get_providers()[0]
        if device == "cuda" and ran != "CUDAExecutionProvider":
            if strict:
                raise ModelError(f"{path}: --device cuda but onnxruntime cannot use CUDA here; it would run on {ran}")
            log.warning("%s: onnxruntime cannot use CUDA here; running on %s", path, ran)
        self.device = ran
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._dtype = _ORT_DTYPES.get(inp.type)
        if self._dtype is None:
            raise ModelError(f"{path}: expected a floating-point input tensor, received {inp.type}")
        log.info("%s: onnxruntime provider %s", path, ran)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        try:
            (out, *_) = self._session.run(None, {self._input_name: batch.astype(self._dtype, copy=False)})
        except Exception as exc:  # shape/type mismatches surface here
            raise ModelError(f"{self.path}: inference failed on input of shape {batch.shape} ({_first_line(exc)})") from None
        return np.asarray(out, dtype=np.float32)

    def facts(self) -> ModelFacts:
        model = onnx.load(str(self.path), load_external_data=True)
        arrays = [numpy_helper.to_array(t) for t in model.graph.initializer]
        arrays = [a for a in arrays if np.issubdtype(a.dtype, np.floating)]
        return count_weights(arrays, file_size=self.path.stat().st_size)
