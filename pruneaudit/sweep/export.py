"""Save a pruned model as TorchScript, ONNX and a state_dict, as the same bytes every time.

torch's zip archives carry a random ``serialization_id``; TorchScript ones also hold ``*.debug_pkl``
records with the absolute path of the source file the model was traced from, and type names
mangled by a counter that grows with every module compiled in the process
(``___torch_mangle_17``). Each would make two runs of the same sweep (or one model made after
different others, or in another checkout) differ byte for byte, and the path leaks the builder's
file system into a published model. So tracing starts from an empty TorchScript type registry (no
name is taken by an earlier model), and each archive is copied record by record
(`torch._C.PyTorchFileReader` / `PyTorchFileWriter`, what `torch.save` itself uses) without the
debug records, with mangle numbers renumbered in order of first use and an id derived from the
content. torch.jit.load and torch.load read the result as usual; only source-line hints in
TorchScript error messages are lost.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from pruneaudit.errors import ModelError
from pruneaudit.models.base import first_line
from pruneaudit.models.torch_common import select_output

EXTENSIONS = {"torchscript": "pt", "onnx": "onnx", "state_dict": "pt"}
SERIALIZATION_ID = ".data/serialization_id"
MANGLED = re.compile(rb"___torch_mangle_(\d+)")
TEXT_RECORDS = re.compile(
    r"^(code/.*\.py|data\.pkl|constants\.pkl)$"
)  # where type names appear (pickle GLOBALs: no lengths)


def _renumbered(names: list[str], records: dict[str, bytes]) -> tuple[list[str], dict[str, bytes]]:
    """Mangle numbers replaced by 0, 1, ... in order of first use: the same model gives the same names."""
    numbers: dict[bytes, bytes] = {}
    for n in names:
        for blob in (n.encode(), records[n] if TEXT_RECORDS.match(n) else b""):
            for m in MANGLED.finditer(blob):
                numbers.setdefault(m.group(1), str(len(numbers)).encode())
    if not numbers:
        return names, records

    def sub(blob: bytes) -> bytes:
        return MANGLED.sub(lambda m: b"___torch_mangle_" + numbers[m.group(1)], blob)

    renamed = [sub(n.encode()).decode() for n in names]
    return renamed, {sub(n.encode()).decode(): sub(records[n]) if TEXT_RECORDS.match(n) else records[n] for n in names}


def canonical_archive(data: bytes) -> bytes:
    """A torch zip archive without debug records, its serialization id a hash of its records."""
    reader = torch._C.PyTorchFileReader(io.BytesIO(data))
    names = [n for n in reader.get_all_records() if not n.endswith(".debug_pkl") and n != SERIALIZATION_ID]
    names, records = _renumbered(names, {n: reader.get_record(n) for n in names})
    digest = hashlib.sha256()
    for n in sorted(records):
        digest.update(n.encode() + b"\0" + hashlib.sha256(records[n]).digest())
    records[SERIALIZATION_ID] = str(int(digest.hexdigest()[:32], 16)).zfill(40)[:40].encode()
    out = io.BytesIO()
    writer = torch._C.PyTorchFileWriter(out)
    for n in [*names, SERIALIZATION_ID]:
        writer.write_record(n, records[n], len(records[n]))
    writer.write_end_of_file()
    return out.getvalue()


def _fresh_type_registry() -> None:
    """Forget the TorchScript types earlier models defined (as torch's own tests do between cases).

    Types of modules already compiled keep working; a new trace no longer finds its names taken.
    """
    torch._C._jit_clear_class_registry()
    torch.jit._recursive.concrete_type_store = torch.jit._recursive.ConcreteTypeStore()
    torch.jit._state._clear_class_state()


def _scripted(module: torch.nn.Module, example: torch.Tensor) -> torch.jit.ScriptModule:
    if isinstance(module, torch.jit.ScriptModule):
        return module
    _fresh_type_registry()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return torch.jit.trace(module, example, _store_inputs=False)
        except Exception as exc:  # tracing runs user code
            raise ModelError(f"cannot trace the pruned model to TorchScript ({first_line(exc)})") from None


def torchscript_bytes(module: torch.nn.Module, example: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(_scripted(module, example), buf)
    return canonical_archive(buf.getvalue())


def state_dict_bytes(module: torch.nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buf)
    return canonical_archive(buf.getvalue())


def onnx_bytes(module: torch.nn.Module, example: torch.Tensor, *, opset: int) -> bytes:
    """ONNX with a dynamic batch axis; a single-tensor output is named ``logits``."""
    with torch.no_grad():
        single = isinstance(module(example), torch.Tensor)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                module,
                (example,),
                buf,
                dynamo=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"] if single else None,
                dynamic_axes={"input": {0: "batch"}, **({"logits": {0: "batch"}} if single else {})},
            )
        except Exception as exc:  # the exporter raises many types
            raise ModelError(f"cannot export the pruned model to ONNX opset {opset} ({first_line(exc)})") from None
    return buf.getvalue()


class _Scores(torch.nn.Module):
    """The class scores alone, of a model whose output is a dict or a tuple (``model.output`` names the entry):
    the exported files then need no ``output:`` to be audited, and ONNX's output is named ``logits``."""

    def __init__(self, inner: torch.nn.Module, output: str | int) -> None:
        super().__init__()
        self.inner = inner
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return select_output(self.inner(x), self.output, Path("model"))


def model_files(
    module: torch.nn.Module, example: torch.Tensor, *, formats: tuple[str, ...], opset: int, output: str | int | None
) -> Mapping[str, bytes]:
    """format → file content, for each requested format; the module is on the CPU, in eval mode."""
    scores = module if output is None else _Scores(module, output)
    makers: dict[str, Any] = {
        "torchscript": lambda: torchscript_bytes(scores, example),
        "onnx": lambda: onnx_bytes(scores, example, opset=opset),
        "state_dict": lambda: state_dict_bytes(module),
    }
    return {fmt: makers[fmt]() for fmt in formats}
