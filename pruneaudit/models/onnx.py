"""ONNX backend on onnxruntime: CUDA provider when a GPU is usable, CPU otherwise.

The `onnxruntime` module comes from onnxruntime-gpu or from the CPU-only onnxruntime package (pyproject.toml
picks one per platform); both run here, and the card names the provider that ran.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from pruneaudit.data import Batch
from pruneaudit.errors import ModelError
from pruneaudit.models.base import ModelFacts, count_weights, first_line
from pruneaudit.models.formats import LoadOptions
from pruneaudit.specs import ModelSpec

log = logging.getLogger(__name__)
_ORT_QUIET = 3  # errors only: keeps onnxruntime's own provider chatter off stderr
_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}
NO_CUDA = "onnxruntime cannot use CUDA here"
# The plain onnxruntime package (CPU only) is what pip installs outside Linux x86_64 and Windows x64.
NO_CUDA_BUILD = "the installed onnxruntime has no CUDA provider (replace it with onnxruntime-gpu)"
IR_TOO_NEW = (
    "{path}: the model has ONNX IR version {ir} but onnxruntime {ort} reads IR versions up to {most}; "
    "export it with an onnx release that onnxruntime {ort} supports, or set its ir_version to {most} or lower "
    "(onnx.helper.make_model(..., ir_version={most}))"
)


def _check(path: Path) -> onnx.ModelProto:
    """Parse and validate with onnx.checker before onnxruntime sees the file."""
    try:
        model = onnx.load(str(path), load_external_data=True)
    except Exception as exc:  # protobuf decode errors, missing external data
        raise ModelError(f"{path}: cannot load as an ONNX model ({first_line(exc)})") from None
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"{path}: not a valid ONNX model; onnx.checker says: {first_line(exc)}") from None
    return model


def external_data_files(path: Path) -> tuple[Path, ...]:
    """The files an ONNX model keeps tensors in (external data), as its initializers name them.

    Part of the model's identity: rewriting only ``model.onnx.data`` changes what the model predicts.
    A file that cannot be parsed, or a named file that is missing, is left to the loader to report.
    """
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # protobuf decode errors: the loader names them
        return ()
    names = sorted({ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)})
    return tuple(f for f in (path.parent / n for n in names) if f.is_file())


class OnnxPredictor:
    backend = "onnx"
    has_scores = True

    def __init__(self, *, name: str, path: Path, device: str, strict: bool, output: str | int | None) -> None:
        """``strict``: the user asked for CUDA explicitly, so a CPU fallback is an error.

        The parsed model is measured and dropped here: the session holds its own copy of the weights.
        """
        self.name, self.path = name, path
        proto = _check(path)
        named = [(t.name, numpy_helper.to_array(t)) for t in proto.graph.initializer]
        named = [(n, a) for n, a in named if np.issubdtype(a.dtype, np.floating)]
        self._facts = count_weights(named, file_size=path.stat().st_size)
        self.parameter_bytes = sum(a.nbytes for _, a in named)
        ir_version = proto.ir_version
        del proto, named  # before the session is built, so that one copy of the weights is held at a time
        options = ort.SessionOptions()
        options.log_severity_level = _ORT_QUIET
        providers = ["CPUExecutionProvider"]
        has_cuda = (
            "CUDAExecutionProvider" in ort.get_available_providers()
        )  # onnxruntime-gpu lists it even without a GPU
        if device == "cuda" and has_cuda:
            if hasattr(ort, "preload_dlls"):
                ort.preload_dlls()  # CUDA libraries shipped with torch's CUDA wheels
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            newest = re.search(r"max supported IR version: (\d+)", str(exc))
            if newest:
                raise ModelError(
                    IR_TOO_NEW.format(path=path, ir=ir_version, ort=ort.__version__, most=newest[1])
                ) from None
            raise ModelError(f"{path}: cannot load as an ONNX model ({first_line(exc)})") from None
        ran = self._session.get_providers()[0]
        if device == "cuda" and ran != "CUDAExecutionProvider":
            why = NO_CUDA if has_cuda else NO_CUDA_BUILD
            if strict:
                raise ModelError(f"{path}: --device cuda but {why}; it would run on {ran}")
            log.warning("%s: %s; running on %s", path, why, ran)
        self.device = ran
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._shape = list(inp.shape)
        self._dtype = _ORT_DTYPES.get(inp.type)
        if self._dtype is None:
            raise ModelError(f"{path}: expected a floating-point input tensor, received {inp.type}")
        self.dtype = np.dtype(self._dtype).name
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = self._pick_output(outputs, output)
        batch_dim = self._shape[0] if self._shape else None
        self._fixed_batch = batch_dim if isinstance(batch_dim, int) else None
        if self._fixed_batch == 1:
            log.warning(
                "%s: fixed batch size 1; inference runs one image at a time (slow). Export with a dynamic batch axis.",
                path,
            )
        log.info("%s: onnxruntime provider %s", path, ran)

    def _pick_output(self, outputs: list[str], selector: str | int | None) -> str:
        if selector is None:
            if len(outputs) > 1:
                raise ModelError(
                    f"{self.path}: the model has outputs {', '.join(outputs)}; choose one with --score-output NAME"
                )
            return outputs[0]
        if isinstance(selector, int):
            if not 0 <= selector < len(outputs):
                raise ModelError(
                    f"{self.path}: output index {selector} out of range; the model has {len(outputs)} outputs"
                )
            return outputs[selector]
        if selector not in outputs:
            raise ModelError(f"{self.path}: output {selector!r} not found; the model has {', '.join(outputs)}")
        return selector

    def _check_shape(self, batch: np.ndarray) -> None:
        expected = self._shape
        fixed = [(i, d) for i, d in enumerate(expected) if isinstance(d, int) and i > 0]
        if len(expected) != batch.ndim or any(batch.shape[i] != d for i, d in fixed):
            shown = "(" + ", ".join(str(d) if isinstance(d, int) else (d or "?") for d in expected) + ")"
            raise ModelError(f"{self.path}: the model expects input of shape {shown}, received {tuple(batch.shape)}")

    def check_rows(self, n: int) -> None:
        """A model runs on any number of images."""

    def predict(self, batch: Batch) -> np.ndarray:
        """Scores for the batch's numpy-prepared input, which every ONNX model of the group shares."""
        prepared = batch.prepared
        self._check_shape(prepared)
        x = prepared.astype(self._dtype, copy=False)
        step = self._fixed_batch or len(x)
        parts = []
        for start in range(0, len(x), step):
            chunk = x[start : start + step]
            if self._fixed_batch and len(chunk) < step:  # pad the last chunk to the fixed batch
                chunk = np.concatenate([chunk, np.zeros((step - len(chunk), *chunk.shape[1:]), dtype=chunk.dtype)])
            try:
                (out,) = self._session.run([self._output], {self._input_name: chunk})
            except Exception as exc:  # shape/type mismatches surface here
                raise ModelError(
                    f"{self.path}: inference failed on input of shape {chunk.shape} ({first_line(exc)})"
                ) from None
            parts.append(np.asarray(out, dtype=np.float32)[: min(step, len(x) - start)])
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def facts(self) -> ModelFacts:
        return self._facts


def load(spec: ModelSpec, *, options: LoadOptions) -> OnnxPredictor:
    return OnnxPredictor(
        name=spec.name, path=spec.path, device=options.device, strict=options.strict, output=spec.output
    )
