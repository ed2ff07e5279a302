"""Every model format through `pruneaudit audit`, against the TorchScript reference numbers."""

import json
import textwrap

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from torch.nn.utils import prune

from pruneaudit.cli import cli
from pruneaudit.results import load_raw
from tests.conftest import ROOT, SAMPLES

BUILD = ROOT / "sample_models" / "cnn.py"
FACTORY = textwrap.dedent(f"""
    import importlib.util, sys, torch

    _spec = importlib.util.spec_from_file_location("sample_build", {str(BUILD)!r})
    _build = importlib.util.module_from_spec(_spec)
    sys.modules["sample_build"] = _build
    _spec.loader.exec_module(_build)
    SmallCNN = _build.SmallCNN


    def small_cnn():
        return SmallCNN()


    class DictOut(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            logits = self.inner(x)
            return {{"features": logits * 0, "logits": logits}}


    class Softmaxed(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.softmax(self.inner(x), dim=1)
""")


def invoke(args):
    return CliRunner().invoke(cli, args)


def audit_pair(dense, pruned, data, out, *extra):
    """`pruneaudit audit` of one dense and one pruned model given on the command line."""
    return invoke(
        [
            "audit",
            "--quiet",
            "--dense",
            str(dense),
            "--pruned",
            str(pruned),
            "--data",
            str(data),
            "--out",
            str(out),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory, test_npz):
    """A folder with the factory module, eager copies of two sample models, and the reference audit."""
    import importlib.util
    import sys

    root = tmp_path_factory.mktemp("formats")
    (root / "factories.py").write_text(FACTORY)
    spec = importlib.util.spec_from_file_location("factories", root / "factories.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["factories"] = mod  # pickles made here refer to this module by name
    spec.loader.exec_module(mod)
    models = {}
    for name in ("dense", "global-90"):
        m = mod.SmallCNN()
        m.load_state_dict(torch.jit.load(str(SAMPLES / "torchscript" / f"{name}.pt")).state_dict())
        models[name] = m.eval()
    ref = root / "ref"
    result = audit_pair(
        str(SAMPLES / "torchscript" / "dense.pt"),
        str(SAMPLES / "torchscript" / "global-90.pt"),
        str(test_npz),
        str(ref),
    )
    assert result.exit_code == 0, result.output
    yield {
        "root": root,
        "mod": mod,
        "models": models,
        "ref": load_raw(ref / "results.json"),
        "data": test_npz,
    }
    sys.modules.pop("factories", None)


def _audit_config(lab, name, dense: dict, pruned: dict, *extra):
    root = lab["root"]
    cfg = {
        "data": {"path": str(lab["data"])},
        "dense": {"name": "dense", **dense},
        "pruned": [{"name": "global-90", **pruned}],
    }
    path = root / f"{name}.yaml"
    path.write_text(json.dumps(cfg))
    out = root / f"out-{name}"
    return invoke(["audit", "--quiet", "--config", str(path), "--out", str(out), *extra]), out


def _same_as_reference(lab, out):
    got = load_raw(out / "results.json")
    for a, b in zip(lab["ref"]["models"], got["models"]):
        assert a["per_class"] == b["per_class"] and a["vs_dense"] == b["vs_dense"]
        assert a["facts"]["sparsity"] == pytest.approx(b["facts"]["sparsity"])
    return got


def test_torch_export_programs(lab):
    paths = {}
    for name, m in lab["models"].items():
        ep = torch.export.export(
            m, (torch.zeros(2, 1, 28, 28),), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}
        )
        paths[name] = lab["root"] / f"{name}.pt2"
        torch.export.save(ep, str(paths[name]))
    result, out = _audit_config(lab, "export", {"path": str(paths["dense"])}, {"path": str(paths["global-90"])})
    assert result.exit_code == 0, result.output
    got = _same_as_reference(lab, out)
    assert got["models"][0]["backend"] == "torch_export"
    assert [x["name"] for x in got["models"][0]["facts"]["layers"]] == [
        "conv1.weight",
        "conv2.weight",
        "fc1.weight",
        "fc2.weight",
    ]


def test_state_dict_with_factory_and_attached_prune_masks(lab):
    dense_sd = lab["root"] / "dense.sd.pt"
    torch.save(lab["models"]["dense"].state_dict(), dense_sd)
    # Prune the dense copy again with masks still attached: weight_orig + weight_mask in the state_dict
    masked = lab["mod"].SmallCNN()
    masked.load_state_dict(lab["models"]["global-90"].state_dict())
    for layer in (masked.conv1, masked.conv2, masked.fc1, masked.fc2):
        prune.l1_unstructured(layer, "weight", amount=0.0)  # identity masks on the already pruned weights
        with torch.no_grad():
            layer.weight_mask.copy_((layer.weight_orig != 0).float())
            layer.weight_orig.add_(
                torch.where(layer.weight_orig == 0, torch.ones_like(layer.weight_orig), 0)
            )  # masked entries non-zero
    sd = masked.state_dict()
    assert any(k.endswith("weight_orig") for k in sd) and any(k.endswith("weight_mask") for k in sd)
    pruned_sd = lab["root"] / "global-90.masked.pt"
    torch.save(sd, pruned_sd)
    factory = {"factory": "factories:small_cnn"}
    result, out = _audit_config(lab, "state", {"path": str(dense_sd), **factory}, {"path": str(pruned_sd), **factory})
    assert result.exit_code == 0, result.output
    got = _same_as_reference(lab, out)
    assert got["models"][1]["backend"] == "state_dict"


def test_state_dict_needs_a_factory(lab):
    path = lab["root"] / "plain.sd.pt"
    torch.save(lab["models"]["dense"].state_dict(), path)
    pruned = SAMPLES / "torchscript" / "l1-50.pt"
    result = audit_pair(str(path), str(pruned), str(lab["data"]), str(lab["root"] / "x"))
    assert (
        result.exit_code == 2
        and "this is a state_dict, not a model; give 'factory: package.module:callable'" in result.output
    )


def test_pickled_module_needs_trust(lab):
    dense, pruned = lab["root"] / "dense.pickle.pt", lab["root"] / "global-90.pickle.pt"
    torch.save(lab["models"]["dense"], dense)
    torch.save(lab["models"]["global-90"], pruned)
    refused = audit_pair(dense, pruned, lab["data"], lab["root"] / "pk")
    assert refused.exit_code == 2
    assert (
        "dense.pickle.pt: this file is a pickled Python object" in refused.output and "--trust-pickle" in refused.output
    )
    assert len(refused.output.strip().splitlines()) == 1
    trusted = audit_pair(dense, pruned, lab["data"], lab["root"] / "pk", "--trust-pickle")
    assert trusted.exit_code == 0, trusted.output
    _same_as_reference(lab, lab["root"] / "pk")


def test_probabilities_and_dict_outputs(lab):
    mod = lab["mod"]
    paths = {}
    for name, m in lab["models"].items():
        paths[("dict", name)] = lab["root"] / f"{name}.dict.pt"
        torch.jit.save(
            torch.jit.trace(mod.DictOut(m), torch.zeros(1, 1, 28, 28), strict=False), str(paths[("dict", name)])
        )
        paths[("prob", name)] = lab["root"] / f"{name}.prob.pt"
        torch.jit.save(torch.jit.trace(mod.Softmaxed(m), torch.zeros(1, 1, 28, 28)), str(paths[("prob", name)]))
    no_key = audit_pair(
        str(paths[("dict", "dense")]), str(paths[("dict", "global-90")]), lab["data"], str(lab["root"] / "d0")
    )
    assert (
        no_key.exit_code == 2
        and "returns a dict with keys features, logits; choose one with --score-output KEY" in no_key.output
    )
    keyed = audit_pair(
        str(paths[("dict", "dense")]),
        str(paths[("dict", "global-90")]),
        lab["data"],
        str(lab["root"] / "d1"),
        "--score-output",
        "logits",
    )
    assert keyed.exit_code == 0, keyed.output
    _same_as_reference(lab, lab["root"] / "d1")
    probs = audit_pair(
        str(paths[("prob", "dense")]), str(paths[("prob", "global-90")]), lab["data"], str(lab["root"] / "p")
    )
    assert probs.exit_code == 0, probs.output
    got = _same_as_reference(lab, lab["root"] / "p")
    assert got["models"][0]["output_kind"] == "probabilities"
    assert lab["ref"]["models"][0]["output_kind"] == "logits"


def test_class_order_mapping(lab):
    """A pruned model trained with the classes in reverse order gives the same per-class numbers once mapped."""
    names = [str(i) for i in range(10)]
    flipped = lab["mod"].SmallCNN()
    flipped.load_state_dict(lab["models"]["global-90"].state_dict())
    with torch.no_grad():
        flipped.fc2.weight.copy_(flipped.fc2.weight.flip(0))
        flipped.fc2.bias.copy_(flipped.fc2.bias.flip(0))
    path = lab["root"] / "flipped.pt"
    torch.jit.save(torch.jit.trace(flipped.eval(), torch.zeros(1, 1, 28, 28)), str(path))
    cfg = {
        "data": {"path": str(lab["data"]), "class_names": names},
        "dense": {"name": "dense", "path": str(SAMPLES / "torchscript" / "dense.pt")},
        "pruned": [{"name": "global-90", "path": str(path), "class_order": names[::-1]}],
    }
    cfg_path = lab["root"] / "order.yaml"
    cfg_path.write_text(json.dumps(cfg))
    result = invoke(["audit", "--quiet", "--config", str(cfg_path), "--out", str(lab["root"] / "order")])
    assert result.exit_code == 0, result.output
    _same_as_reference(lab, lab["root"] / "order")
    wrong = json.loads(cfg_path.read_text())
    wrong["pruned"][0]["class_order"] = names[:-1] + ["ten"]
    cfg_path.write_text(json.dumps(wrong))
    bad = invoke(["audit", "--quiet", "--config", str(cfg_path), "--out", str(lab["root"] / "order2")])
    assert (
        bad.exit_code == 2
        and "class_order must list the data's classes once each; unknown ['ten'], missing ['9']" in bad.output
    )


def _onnx_export(model, path, *, dynamic: bool):
    kwargs = {"dynamic_axes": {"input": {0: "batch"}, "logits": {0: "batch"}}} if dynamic else {}
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 28, 28),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["input"],
        output_names=["logits"],
        **kwargs,
    )


def test_onnx_static_batch_of_one_and_external_data(lab, caplog):
    static = {n: lab["root"] / f"{n}.static.onnx" for n in lab["models"]}
    for n, m in lab["models"].items():
        _onnx_export(m, static[n], dynamic=False)
    assert onnx.load(str(static["dense"])).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    result = audit_pair(static["dense"], static["global-90"], lab["data"], lab["root"] / "static")
    assert result.exit_code == 0, result.output
    assert "fixed batch size 1; inference runs one image at a time" in caplog.text
    _same_as_reference(lab, lab["root"] / "static")
    external = {}
    for n in lab["models"]:
        model = onnx.load(str(static[n]))
        external[n] = lab["root"] / "ext" / f"{n}.onnx"
        external[n].parent.mkdir(exist_ok=True)
        onnx.save_model(
            model,
            str(external[n]),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"{n}.onnx.data",
            size_threshold=0,
        )
    assert (lab["root"] / "ext" / "dense.onnx.data").exists()
    result = audit_pair(external["dense"], external["global-90"], lab["data"], lab["root"] / "external")
    assert result.exit_code == 0, result.output
    got = _same_as_reference(lab, lab["root"] / "external")
    assert got["models"][1]["facts"]["weight_count"] == lab["ref"]["models"][1]["facts"]["weight_count"]


def test_declared_amount_mismatch_is_flagged(lab):
    cfg = {
        "data": {"path": str(lab["data"])},
        "dense": {"path": str(SAMPLES / "onnx" / "dense.onnx")},
        "pruned": [
            {"path": str(SAMPLES / "onnx" / "global-90.onnx"), "technique": "global_l1", "amount": 0.5},
            {"path": str(SAMPLES / "onnx" / "global-70.onnx"), "technique": "global_l1", "amount": 0.7},
        ],
    }
    path = lab["root"] / "mismatch.yaml"
    path.write_text(json.dumps(cfg))
    result = invoke(["audit", "--quiet", "--config", str(path), "--out", str(lab["root"] / "mm"), "--timings"])
    assert result.exit_code == 0, result.output
    got = load_raw(lab["root"] / "mm" / "results.json")
    flags = {m["name"]: m["facts"]["declared_amount_mismatch"] for m in got["models"]}
    assert flags == {"dense": None, "global-90": True, "global-70": False}
    assert all(m["timing"]["median_batch_seconds"] > 0 for m in got["models"])
    html = (lab["root"] / "mm" / "index.html").read_text()
    assert "Measured sparsity differs from the declared amount by" in html and "Median batch latency" in html


def test_input_shape_rejected(lab, tmp_path):
    big = tmp_path / "big.npz"
    np.savez(big, images=np.zeros((8, 32, 32), np.uint8), labels=np.arange(8) % 10)
    for fmt, ext in (("onnx", "onnx"), ("torchscript", "pt")):
        result = audit_pair(
            str(SAMPLES / fmt / f"dense.{ext}"), str(SAMPLES / fmt / f"l1-50.{ext}"), str(big), str(tmp_path / fmt)
        )
        assert result.exit_code == 2, result.output
        line = result.output.strip()
        assert f"dense.{ext}:" in line and "(8, 1, 32, 32)" in line
        if fmt == "onnx":
            assert "expects input of shape (batch, 1, 28, 28)" in line
        assert not (tmp_path / fmt).exists()


def test_nan_outputs(lab, tmp_path):
    class Nan(torch.nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 10), float("nan"))

    path = tmp_path / "nan.pt"
    torch.jit.save(torch.jit.script(Nan()), str(path))
    result = audit_pair(str(SAMPLES / "torchscript" / "dense.pt"), str(path), str(lab["data"]), str(tmp_path / "o"))
    assert result.exit_code == 2 and "nan.pt: the model produced NaN or infinite outputs" in result.output


def test_output_width_differs_from_class_names(lab, tmp_path):
    cfg = {
        "data": {"path": str(lab["data"]), "class_names": [str(i) for i in range(9)]},
        "dense": {"path": str(SAMPLES / "torchscript" / "dense.pt")},
        "pruned": [{"path": str(SAMPLES / "torchscript" / "l1-50.pt")}],
    }
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(cfg))
    result = invoke(["audit", "--quiet", "--config", str(path), "--out", str(tmp_path / "o")])
    assert (
        result.exit_code == 2
        and "dense.pt: the model outputs 10 classes but the data has 9 class names" in result.output
    )
