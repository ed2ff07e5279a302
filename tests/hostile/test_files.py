"""Hostile and broken data and model files: one ``Error:`` line naming the file, exit 2, no report touched.

Every file here is generated in ``tmp_path`` and kept tiny: bombs declare their size in headers
(or inflate from a stream of zeros) instead of being built in memory.
"""

from __future__ import annotations

import io
import json
import os
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image

from pruneaudit.data import load_dataset
from pruneaudit.errors import DataError
from pruneaudit.specs import DataSpec
from tests.conftest import SAMPLES, TinyNet
from tests.hostile.conftest import assert_user_error, invoke, run, tree_digest

DENSE = SAMPLES / "torchscript" / "dense.pt"
PRUNED = SAMPLES / "torchscript" / "global-90.pt"
DIGITS = [str(i) for i in range(10)]


class _Marker:
    """Unpickling this runs os.system: the marker file proves code from the file ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _refused(tmp_path: Path, args: list, *, names, says: str = "") -> str:
    """Run an audit over an existing report: one Error line naming ``names``, the old report byte-identical."""
    out = tmp_path / "report"
    out.mkdir(exist_ok=True)
    (out / "index.html").write_text("previous report")
    before = tree_digest(out)
    line = assert_user_error(invoke(["audit", "--quiet", *args, "--out", out]), names=names, says=says)
    assert tree_digest(out) == before
    return line


def _with_data(tmp_path: Path, data: Path, *, says: str = "", names=None) -> str:
    return _refused(tmp_path, ["--dense", DENSE, "--pruned", PRUNED, "--data", data], names=names or data, says=says)


def _with_config(tmp_path: Path, data: dict, *, names=None, says: str = "", pruned: list | None = None) -> str:
    config = tmp_path / "audit.yaml"
    config.write_text(
        json.dumps({"data": data, "dense": {"path": str(DENSE)}, "pruned": pruned or [{"path": str(PRUNED)}]})
    )
    return _refused(tmp_path, ["--config", config], names=names or config, says=says)


def _with_pruned(tmp_path: Path, model: Path, data: Path, *, dense: Path = DENSE, says: str = "") -> str:
    return _refused(tmp_path, ["--dense", dense, "--pruned", model, "--data", data], names=model, says=says)


def _digits(test_npz: Path, n: int = 512) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(test_npz)
    return d["images"][:n], d["labels"][:n]


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _forged_header(f, shape: tuple[int, ...], dtype=np.uint8) -> None:
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})


def _forged_npz(path: Path, shape: tuple[int, ...]) -> Path:
    """An .npz whose images header declares ``shape`` over a few bytes of data."""
    with zipfile.ZipFile(path, "w") as z:
        with z.open("images.npy", "w") as f:
            _forged_header(f, shape)
            f.write(bytes(64))
        z.writestr("labels.npy", _npy_bytes(np.zeros(4, dtype=np.int64)))
    return path


def _zip_bomb(path: Path, n: int = 136_000) -> Path:
    """~107 MB of zero images deflated to ~100 KB, written as a stream (never held in memory)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("images.npy", "w", force_zip64=True) as f:
            _forged_header(f, (n, 28, 28))
            left = n * 28 * 28
            while left:
                f.write(bytes(min(left, 2**22)))
                left -= min(left, 2**22)
        z.writestr("labels.npy", _npy_bytes(np.zeros(n, dtype=np.uint8)))
    return path


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width × height pixels; Pillow's bomb check reads only the header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")
    )
    return path


def _manifest(tmp_path: Path, test_npz: Path, *, n: int = 40, kind: str = "csv", **columns) -> Path:
    """n digit PNGs under tmp_path/imgs and a manifest beside them, with extra columns."""
    images, labels = _digits(test_npz, n)
    (tmp_path / "imgs").mkdir(exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / "imgs" / f"{i}.png")
    df = pd.DataFrame({"path": [f"imgs/{i}.png" for i in range(n)], "label": labels, **columns})
    path = tmp_path / f"manifest.{kind}"
    df.to_csv(path, index=False) if kind == "csv" else df.to_parquet(path)
    return path


def _onnx_model(path: Path, *, ir_version: int, input_type: int = TensorProto.FLOAT) -> Path:
    """x (N, 1, 28, 28) → the first 10 pixels as scores: a valid graph of the given IR version."""
    x = helper.make_tensor_value_info("x", input_type, ["N", 1, 28, 28])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 784])
    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [10])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", ["xf", "shape"], ["flat"]),
        helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [shape, starts, ends, axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=ir_version)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# 10. split is applied wherever it can apply, and refused where it cannot


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_manifest_split_is_applied(tmp_path, test_npz, kind):
    manifest = _manifest(tmp_path, test_npz, kind=kind, split=[7 if i % 4 == 0 else 0 for i in range(40)])
    config = tmp_path / "audit.yaml"
    data = {"path": str(manifest), "color": "grayscale", "split": 7}
    config.write_text(json.dumps({"data": data, "dense": {"path": str(DENSE)}, "pruned": [{"path": str(PRUNED)}]}))
    outcome = invoke(["audit", "--quiet", "--config", config, "--out", tmp_path / "out"])
    assert outcome.exit_code == 0, outcome.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["data"]["n_samples"] == 10 and results["data"]["split"] == 7
    assert "split" not in results["data"]["attributes"]


def test_manifest_without_a_split_column(tmp_path, test_npz):
    manifest = _manifest(tmp_path, test_npz)
    _with_config(tmp_path, {"path": str(manifest), "color": "grayscale", "split": 7}, names=manifest, says="column")


@pytest.mark.parametrize("source", ["npz", "csv"])
def test_a_split_no_row_has(tmp_path, test_npz, source):
    split = [i % 2 for i in range(40)]
    if source == "npz":
        images, labels = _digits(test_npz, 40)
        path = tmp_path / "d.npz"
        np.savez(path, images=images, labels=labels, split=np.array(split))
    else:
        path = _manifest(tmp_path, test_npz, split=split)
    _with_config(
        tmp_path, {"path": str(path), "split": 7}, names=path, says="no image has split 7; the file's splits are 0, 1"
    )


def test_manifest_split_column_of_text(tmp_path, test_npz):
    manifest = _manifest(tmp_path, test_npz, split=["test" if i % 2 else "train" for i in range(40)])
    _with_config(tmp_path, {"path": str(manifest), "split": 1}, names=manifest, says="must hold integers")


def test_split_is_refused_for_an_image_folder(tmp_path, test_npz):
    images, _ = _digits(test_npz, 2)
    for i, img in enumerate(images):
        (tmp_path / "digits" / "0").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(tmp_path / "digits" / "0" / f"{i}.png")
    folder = tmp_path / "digits"
    _with_config(tmp_path, {"path": str(folder), "split": 1}, names=folder, says="split needs per-image arrays")


def test_split_and_attributes_are_refused_for_an_images_npy(tmp_path, test_npz):
    images, labels = _digits(test_npz, 8)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "labels.npy", labels)
    data = {"path": str(tmp_path / "images.npy"), "labels": str(tmp_path / "labels.npy")}
    _with_config(tmp_path, {**data, "split": 1}, names=tmp_path / "images.npy", says="split needs")
    _with_config(tmp_path, {**data, "attributes": ["site"]}, names=tmp_path / "images.npy", says="attributes needs")


def test_split_must_be_an_integer(tmp_path, test_npz):
    _with_config(tmp_path, {"path": str(test_npz), "split": "test"}, says="split: expected an integer")
    _with_config(tmp_path, {"path": str(test_npz), "split": 1.5}, says="split: expected an integer")


# 11. sizes are checked from the zip directory and the .npy headers before anything is read


def test_zip_bomb_npz_is_refused_without_inflating(tmp_path):
    bomb = _zip_bomb(tmp_path / "bomb.npz")
    assert bomb.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="zip bomb"):
            load_dataset(DataSpec(path=bomb))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak
    _with_data(tmp_path, bomb, says="refused as a zip bomb")


@pytest.mark.parametrize("where", ["npz", "labels npy"])
def test_header_declaring_a_billion_images_is_refused_from_the_header(tmp_path, test_npz, where):
    if where == "npz":
        path = _forged_npz(tmp_path / "huge.npz", (10**9, 28, 28))
        spec = DataSpec(path=path)
    else:
        images, _ = _digits(test_npz, 4)
        np.save(tmp_path / "images.npy", images)
        path = tmp_path / "labels.npy"
        with path.open("wb") as f:
            _forged_header(f, (10**9, 28, 28), np.int64)
        spec = DataSpec(path=tmp_path / "images.npy", labels=path)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="more than the limit of 4.0 GiB; .*raise max_bytes"):
            load_dataset(spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak
    if where == "npz":
        _with_data(tmp_path, path, says="raise max_bytes")


def test_memory_mapped_images_npy_header_larger_than_the_file(tmp_path, test_npz):
    """Memory-mapped images are not bounded by max_bytes, but their header must fit the file."""
    path = tmp_path / "images.npy"
    with path.open("wb") as f:
        _forged_header(f, (10**9, 28, 28))
        f.write(bytes(784))
    np.save(tmp_path / "labels.npy", np.zeros(4, dtype=np.int64))
    data = {"path": str(path), "labels": str(tmp_path / "labels.npy")}
    _with_config(tmp_path, data, names=path, says="truncated or forged")


def test_max_bytes_is_the_data_config_key_that_raises_the_limit(tmp_path, test_npz):
    line = _with_config(tmp_path, {"path": str(test_npz), "max_bytes": 100_000}, names=test_npz)
    assert "limit of 97.7 KiB" in line and "raise max_bytes" in line
    config = tmp_path / "ok.yaml"
    data = {"path": str(test_npz), "max_bytes": 10_000_000}
    config.write_text(json.dumps({"data": data, "dense": {"path": str(DENSE)}, "pruned": [{"path": str(PRUNED)}]}))
    outcome = invoke(["audit", "--quiet", "--config", config, "--out", tmp_path / "ok"])
    assert outcome.exit_code == 0, outcome.stderr


@pytest.mark.parametrize("value", [0, -5, "4GiB", 1.5])
def test_max_bytes_must_be_a_positive_integer(tmp_path, test_npz, value):
    _with_config(tmp_path, {"path": str(test_npz), "max_bytes": value}, says="max_bytes: expected 1 positive integer")


@pytest.mark.parametrize(("size", "kind"), [((10_000, 10_000), "warning"), ((20_000, 20_000), "error")])
def test_png_decompression_bomb(tmp_path, size, kind):
    """Past MAX_IMAGE_PIXELS Pillow warns, past twice that it raises: both are one line naming the image."""
    bomb = _png_header(tmp_path / "digits" / "0" / "bomb.png", *size)
    _with_data(tmp_path, tmp_path / "digits", names=bomb, says="decompression bomb")


def test_npz_with_a_pickled_object_array_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    np.savez(path, images=np.array([_Marker(str(marker))] * 2, dtype=object), labels=np.array([0, 1]))
    _with_data(tmp_path, path, says="pickles are never loaded")
    assert not marker.exists()


# 12. precomputed predictions are checked where the file is known


def test_precomputed_prediction_above_the_class_count(tmp_path, test_npz):
    _, labels = _digits(test_npz)
    preds = labels.astype(np.int64).copy()
    preds[3] = 12
    path = tmp_path / "preds.npz"
    np.savez(path, predictions=preds)
    _with_pruned(tmp_path, path, test_npz, says="predicted class 12 but there are 10 classes")


# 13. third-party log noise stays off stderr while a model loads (a real process: fd 2)


def test_hostile_pt2_prints_one_line(tmp_path, test_npz):
    """torch.export logs a 40-line traceback at WARNING through its own stderr handler before it raises."""
    import pickle

    path, marker = tmp_path / "evil.pt2", tmp_path / "pwned"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(_Marker(str(marker))))
        z.writestr("archive/version", "1")
    out = tmp_path / "report"
    outcome = run(["audit", "--quiet", "--dense", path, "--pruned", PRUNED, "--data", test_npz, "--out", out])
    assert_user_error(outcome, names=path, says="not an archive written by torch.export.save")
    assert not out.exists() and not marker.exists()


def test_random_bytes_saved_as_pt2(tmp_path, test_npz):
    path = tmp_path / "random.pt2"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _with_pruned(tmp_path, path, test_npz, says="cannot load as a torch.export program")


# Tracebacks where one line and exit 2 are promised


@pytest.mark.parametrize("short", ["split", "site"])
def test_split_or_attribute_array_shorter_than_the_images(tmp_path, test_npz, short):
    images, labels = _digits(test_npz, 40)
    path = tmp_path / "d.npz"
    np.savez(path, images=images, labels=labels, split=np.ones(30, dtype=int), site=np.zeros(30, dtype=int))
    data = {"path": str(path), **({"split": 1} if short == "split" else {"attributes": ["site"]})}
    _with_config(tmp_path, data, names=path, says="must have one value per image, shape (40,); received shape (30,)")


def test_text_images(tmp_path):
    path = tmp_path / "text.npz"
    np.savez(path, images=np.full((4, 28, 28), "x"), labels=np.arange(4))
    _with_data(tmp_path, path, says="images must be numbers")


@pytest.mark.parametrize("key", ["mean", "std"])
def test_mean_or_std_not_matching_the_channels(tmp_path, test_npz, key):
    line = _with_config(tmp_path, {"path": str(test_npz), key: [0.5, 0.5, 0.5]}, names=test_npz)
    assert f"{key} has 3 values but the images have 1 channel(s)" in line


def test_class_names_file_that_is_a_folder(tmp_path, test_npz):
    (tmp_path / "classes").mkdir()
    _with_config(
        tmp_path, {"path": str(test_npz), "class_names_file": str(tmp_path / "classes")}, names=tmp_path / "classes"
    )


@pytest.mark.parametrize("names", [5, "zero", [["a"]], ["a", "a"], []])
def test_class_names_that_are_not_a_list_of_distinct_names(tmp_path, test_npz, names):
    _with_config(tmp_path, {"path": str(test_npz), "class_names": names}, says="class_names")


@pytest.mark.parametrize("seed", [0, 17, 21, 54, 62])  # UnpicklingError, IndexError ×2, UnicodeDecodeError, KeyError
def test_random_bytes_saved_as_pt(tmp_path, test_npz, seed):
    path = tmp_path / "random.pt"
    path.write_bytes(np.random.default_rng(seed).bytes(64))
    line = _with_pruned(tmp_path, path, test_npz, says="cannot read as a torch.save file")
    assert "PyTorch 2.6" not in line  # torch's preamble is dropped for the reason itself


def test_state_dict_with_wrong_shapes(tmp_path, test_npz):
    (tmp_path / "tinynet_wrong_shapes.py").write_text(
        "import torch\n\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = torch.nn.Linear(784, 10)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(torch.flatten(x, 1))\n"
    )
    state = tmp_path / "five.pt"
    torch.save(TinyNet(5).state_dict(), state)
    pruned = [{"path": str(state), "factory": "tinynet_wrong_shapes:Net"}]
    line = _with_config(tmp_path, {"path": str(test_npz)}, pruned=pruned, names=state)
    assert "fc.weight is (5, 784) in the file but (10, 784) in the model" in line


@pytest.mark.parametrize(
    ("columns", "says"),
    [(["logit_x"], "'logit_x' is not a logit column"), (["logit_3"], "missing logit_2"), (["logit_01"], "logit_01")],
)
def test_parquet_logit_columns(tmp_path, test_npz, columns, says):
    _, labels = _digits(test_npz)
    logits = np.eye(10, dtype=np.float32)[labels]
    df = pd.DataFrame({f"logit_{i}": logits[:, i] for i in range(2)})
    for c in columns:
        df[c] = 0.0
    path = tmp_path / "logits.parquet"
    df.to_parquet(path)
    _with_pruned(tmp_path, path, test_npz, says=says)


# Further cases of the same classes


@pytest.mark.parametrize(
    ("labels", "says"),
    [
        (np.array([0.0, np.nan, 1.0, 2.0]), "labels must be integers or text; received dtype float64"),
        (np.zeros((4, 2), dtype=int), "labels must be 1-D; received shape (4, 2)"),
    ],
)
def test_labels_of_the_wrong_kind(tmp_path, labels, says):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((4, 28, 28), np.uint8), labels=labels)
    _with_data(tmp_path, path, says=says)


def test_five_dimensional_images(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((4, 1, 1, 28, 28), np.uint8), labels=np.arange(4))
    _with_data(tmp_path, path, says="images must be (N, H, W) or (N, C, H, W); received shape (4, 1, 1, 28, 28)")


def test_nan_images_are_the_datas_fault(tmp_path, test_npz):
    images, labels = _digits(test_npz, 16)
    images = images.astype(np.float32) / 255
    images[5, 3, 3] = np.nan
    path = tmp_path / "d.npz"
    np.savez(path, images=images, labels=labels)
    _with_data(tmp_path, path, says="image 5 holds NaN or infinite values")


@pytest.mark.parametrize("layout", ["no class folders", "no images"])
def test_empty_image_folder(tmp_path, layout):
    root = tmp_path / "digits"
    (root / ("." if layout == "no class folders" else "3")).mkdir(parents=True)
    (root / "README.txt").write_text("nothing here")
    _with_data(tmp_path, root, says="no class folders" if layout == "no class folders" else "no image files")


@pytest.mark.parametrize("escape", ["../../etc/passwd", "/etc/passwd", "imgs/../../outside.png"])
def test_manifest_path_outside_its_folder(tmp_path, test_npz, escape):
    manifest = _manifest(tmp_path, test_npz, n=4)
    df = pd.read_csv(manifest)
    df.loc[2, "path"] = escape
    df.to_csv(manifest, index=False)
    _with_data(tmp_path, manifest, says=f"row 2 has image path {escape!r}, which leads outside")


def test_npz_member_that_is_not_an_array(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images.npy", b"not an array at all")
        z.writestr("labels.npy", _npy_bytes(np.arange(4)))
    _with_data(tmp_path, path, says="array 'images' is not a readable .npy array")


@pytest.mark.parametrize(
    ("key", "value"),
    [("std", "0"), ("std", "[1, -1, 1]"), ("mean", ".nan"), ("channels_first", '"no"'), ("scale", "[1, 2]")],
)
def test_normalisation_values_that_cannot_work(tmp_path, test_npz, key, value):
    config = tmp_path / "audit.yaml"  # YAML, not JSON: JSON has no NaN
    config.write_text(
        f"data: {{path: '{test_npz}', {key}: {value}}}\ndense: {{path: '{DENSE}'}}\npruned: [{{path: '{PRUNED}'}}]\n"
    )
    _refused(tmp_path, ["--config", config], names=config, says=key)


def test_truncated_onnx(tmp_path, test_npz):
    path = tmp_path / "cut.onnx"
    whole = (SAMPLES / "onnx" / "global-90.onnx").read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    _with_pruned(tmp_path, path, test_npz, dense=SAMPLES / "onnx" / "dense.onnx", says="cannot load as an ONNX model")


def test_onnx_ir_version_newer_than_onnxruntime(tmp_path, test_npz):
    import onnxruntime as ort

    path = _onnx_model(tmp_path / "ir14.onnx", ir_version=14)
    try:
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        pytest.skip("this onnxruntime reads IR version 14")
    except Exception:  # noqa: BLE001 - what the audit must turn into one line
        pass
    _with_pruned(tmp_path, path, test_npz, dense=SAMPLES / "onnx" / "dense.onnx", says="IR version 14")


def test_onnx_with_an_integer_input(tmp_path, test_npz):
    path = _onnx_model(tmp_path / "int.onnx", ir_version=10, input_type=TensorProto.INT64)
    _with_pruned(tmp_path, path, test_npz, says="expected a floating-point input tensor, received tensor(int64)")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_precomputed_logits_not_finite(tmp_path, test_npz, bad):
    _, labels = _digits(test_npz)
    logits = np.eye(10, dtype=np.float32)[labels]
    logits[7, 2] = bad
    path = tmp_path / "logits.npz"
    np.savez(path, logits=logits)
    _with_pruned(tmp_path, path, test_npz, says="NaN or infinite")


def test_precomputed_predictions_with_the_wrong_row_count(tmp_path, test_npz):
    _, labels = _digits(test_npz)
    path = tmp_path / "preds.npz"
    np.savez(path, predictions=labels[:-1].astype(np.int64))
    _with_pruned(tmp_path, path, test_npz, says="511 precomputed rows but the data has 512 images")


def test_precomputed_npz_header_bomb(tmp_path, test_npz):
    path = tmp_path / "preds.npz"
    with zipfile.ZipFile(path, "w") as z:
        with z.open("logits.npy", "w") as f:
            _forged_header(f, (10**9, 1000), np.float32)
            f.write(bytes(64))
    _with_pruned(tmp_path, path, test_npz, says="more than the limit of 4.0 GiB")
