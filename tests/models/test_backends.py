"""Real TorchScript and ONNX models, run through onnxruntime and torch; no mocks."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pruneaudit.config import model_spec
from pruneaudit.data import Batch, load_dataset
from pruneaudit.errors import ModelError
from pruneaudit.models import load_predictor, resolve_device
from pruneaudit.specs import DataSpec
from tests.conftest import DATA, SAMPLES

MANIFEST = {m["name"]: m for m in json.loads((SAMPLES / "manifest.json").read_text())["models"]}


@pytest.fixture(scope="module")
def batch() -> Batch:
    return Batch(load_dataset(DataSpec(path=DATA, split=1)), 0, 64)


def scores(predictor, batch: Batch) -> np.ndarray:
    """A predictor's scores as numpy: torch backends return them on their device."""
    out = predictor.predict(batch)
    return out if isinstance(out, np.ndarray) else out.cpu().numpy()


@pytest.mark.parametrize("name", ["dense", "global-90", "structured-75"])
def test_torchscript_and_onnx_agree(batch, name):
    ts = load_predictor(model_spec(SAMPLES / "torchscript" / f"{name}.pt"), device="cpu")
    ox = load_predictor(model_spec(SAMPLES / "onnx" / f"{name}.onnx"), device="cpu")
    a, b = scores(ts, batch), scores(ox, batch)
    assert a.shape == b.shape == (64, 10) and a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    assert ts.device == "cpu" and ox.device == "CPUExecutionProvider"


@pytest.mark.parametrize("name", ["dense", "l1-70", "global-95", "structured-50", "random-80-s1"])
def test_measured_sparsity_matches_the_build(name):
    for path in (SAMPLES / "torchscript" / f"{name}.pt", SAMPLES / "onnx" / f"{name}.onnx"):
        facts = load_predictor(model_spec(path), device="cpu").facts()
        assert facts.sparsity == pytest.approx(MANIFEST[name]["sparsity"]["measured"], abs=1e-9)
        assert facts.file_size_bytes == path.stat().st_size
        assert facts.weight_count == 16 * 25 + 16 * 16 * 25 + 784 * 32 + 32 * 10


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_corrupt_file(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes((SAMPLES / "onnx" / "dense.onnx").read_bytes()[:500])
    with pytest.raises(ModelError, match=rf"broken\{suffix}: cannot (load|read) as an? (ONNX model|torch.save file)"):
        load_predictor(model_spec(path), device="cpu")


def test_onnx_ir_version_too_new_is_reported(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 14  # valid for onnx.checker, newer than onnxruntime 1.31 reads
    path = tmp_path / "future.onnx"
    onnx.save(model, path)
    with pytest.raises(ModelError, match=r"future\.onnx: the model has ONNX IR version 14 but onnxruntime .* up to"):
        load_predictor(model_spec(path), device="cpu")


def test_onnx_failing_the_checker(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["missing_input"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    path = tmp_path / "broken-graph.onnx"
    onnx.save(model, path)
    with pytest.raises(
        ModelError, match=r"broken-graph\.onnx: not a valid ONNX model; onnx.checker says: .*missing_input"
    ):
        load_predictor(model_spec(path), device="cpu")


def test_cuda_request_without_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ModelError, match="no CUDA GPU is visible"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"


@pytest.mark.gpu
def test_cuda_paths_run_on_a_gpu(batch):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible to torch")
    ts = load_predictor(model_spec(SAMPLES / "torchscript" / "dense.pt"), device="cuda", strict=True)
    ox = load_predictor(model_spec(SAMPLES / "onnx" / "dense.onnx"), device="cuda", strict=True)
    assert ts.device == "cuda" and ox.device == "CUDAExecutionProvider"
    np.testing.assert_allclose(scores(ts, batch), scores(ox, batch), rtol=1e-3, atol=1e-3)


def test_select_output_kinds(tmp_path):
    import torch

    from pruneaudit.models.torch_common import select_output

    t = torch.zeros(2, 3)
    where = tmp_path / "m.pt"
    assert select_output(t, None, where) is t
    assert select_output((t, t + 1), 1, where).sum() == 6
    with pytest.raises(ModelError, match="returns 2 outputs; choose one with --score-output INDEX"):
        select_output((t, t), None, where)
    with pytest.raises(ModelError, match="output index 5 out of range; the model returns 2 outputs"):
        select_output([t, t], 5, where)
    with pytest.raises(ModelError, match="output key 'x' not found; the model returns a, b"):
        select_output({"a": t, "b": t}, "x", where)
    with pytest.raises(ModelError, match="--score-output 'a' given but the model returns a single tensor"):
        select_output(t, "a", where)


def test_onnx_with_two_outputs(tmp_path, batch):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 28, 28])
    flat = helper.make_tensor_value_info("flat", TensorProto.FLOAT, ["n", 784])
    neg = helper.make_tensor_value_info("neg", TensorProto.FLOAT, ["n", 784])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 784])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["flat"]), helper.make_node("Neg", ["flat"], ["neg"])]
    graph = helper.make_graph(nodes, "two", [x], [flat, neg], initializer=[shape])
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), path)
    with pytest.raises(
        ModelError, match="two.onnx: the model has outputs flat, neg; choose one with --score-output NAME"
    ):
        load_predictor(model_spec(path), device="cpu")
    by_name = load_predictor(model_spec(path, output="neg"), device="cpu")
    by_index = load_predictor(model_spec(path, output=0), device="cpu")
    np.testing.assert_allclose(scores(by_name, batch), -scores(by_index, batch))
