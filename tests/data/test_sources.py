"""Every data source through `pruneaudit audit`, against the .npz reference numbers."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pruneaudit.cli import cli
from pruneaudit.data import Batch, load_dataset
from pruneaudit.errors import DataError
from pruneaudit.results import load_raw
from pruneaudit.specs import DataSpec
from tests.conftest import SAMPLES

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DENSE = SAMPLES / "torchscript" / "dense.pt"
PRUNED = SAMPLES / "torchscript" / "global-90.pt"


def invoke(args):
    return CliRunner().invoke(cli, args)


def audit(config: dict, root, name: str):
    cfg = {
        "dense": {"name": "dense", "path": str(DENSE)},
        "pruned": [{"name": "global-90", "path": str(PRUNED)}],
        **config,
    }
    path = root / f"{name}.yaml"
    path.write_text(json.dumps(cfg))
    result = invoke(["audit", "--quiet", "--config", str(path), "--out", str(root / name)])
    return result, root / name


@pytest.fixture(scope="module")
def digits(tmp_path_factory, test_npz):
    root = tmp_path_factory.mktemp("sources")
    d = np.load(test_npz)
    images, labels = d["images"][:300], d["labels"][:300]
    np.savez(root / "digits.npz", images=images, labels=labels)
    ref_result, ref = audit({"data": {"path": str(root / "digits.npz")}}, root, "ref")
    assert ref_result.exit_code == 0, ref_result.output
    return {"root": root, "images": images, "labels": labels, "ref": load_raw(ref / "results.json")}


def _unnamed(d):
    """Drop class-name labels so that numbers can be compared across class-name choices."""
    if isinstance(d, dict):
        return {k: _unnamed(v) for k, v in d.items() if k != "class"}
    return d


def same(digits, out, *, names=None):
    got = load_raw(out / "results.json")
    for a, b in zip(digits["ref"]["models"], got["models"]):
        assert a["per_class"] == b["per_class"]
        assert _unnamed(a["vs_dense"]) == _unnamed(b["vs_dense"])
    if names:
        assert got["data"]["class_names"] == names
    return got


def write_folder(digits, root, *, size=None, names=NAMES):
    for i, (img, label) in enumerate(zip(digits["images"], digits["labels"])):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        canvas = img if size is None else np.pad(img, (size - 28) // 2)
        Image.fromarray(canvas).save(folder / f"{i:04d}.png")
    return root


def test_npy_pair_is_memory_mapped(digits):
    root = digits["root"]
    np.save(root / "images.npy", digits["images"])
    np.save(root / "labels.npy", digits["labels"])
    ds = load_dataset(DataSpec(path=root / "images.npy", labels=root / "labels.npy"))
    assert isinstance(ds.images.images, np.memmap)
    result, out = audit({"data": {"path": str(root / "images.npy"), "labels": str(root / "labels.npy")}}, root, "npy")
    assert result.exit_code == 0, result.output
    same(digits, out)


def test_image_folder_with_class_names_from_folders(digits):
    # folder names sorted alphabetically differ from digit order: map with class_names
    folder = write_folder(digits, digits["root"] / "folder")
    result, out = audit(
        {"data": {"path": str(folder), "color": "grayscale", "class_names": NAMES}}, digits["root"], "folder"
    )
    assert result.exit_code == 0, result.output
    same(digits, out, names=NAMES)


def test_image_folder_needs_the_right_class_names(digits):
    folder = write_folder(digits, digits["root"] / "folder-b")
    result, out = audit({"data": {"path": str(folder), "color": "grayscale"}}, digits["root"], "folder-b")
    # without class_names the classes are the sorted folder names: a different order than the model's
    assert result.exit_code == 0
    got = load_raw(out / "results.json")
    assert got["data"]["class_names"] == sorted(NAMES)


def test_resize_and_center_crop(digits):
    folder = write_folder(digits, digits["root"] / "padded", size=36)
    cfg = {"data": {"path": str(folder), "color": "grayscale", "center_crop": 28, "class_names": NAMES}}
    result, out = audit(cfg, digits["root"], "crop")
    assert result.exit_code == 0, result.output
    same(digits, out)
    ds = load_dataset(
        DataSpec(path=folder, color="grayscale", resize=(56,), center_crop=(28, 28), class_names=tuple(NAMES))
    )
    assert Batch(ds, 0, 4).prepared.shape == (4, 1, 28, 28)


def test_rgb_channels_last_and_mean_std(digits):
    folder = write_folder(digits, digits["root"] / "rgb")
    ds = load_dataset(
        DataSpec(
            path=folder, class_names=tuple(NAMES), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), channels_first=False
        )
    )
    batch = Batch(ds, 0, 2).prepared
    assert batch.shape == (2, 28, 28, 3)
    img = np.asarray(Image.open(sorted((folder / NAMES[ds.labels[0]]).iterdir())[0]).convert("RGB"), dtype=np.float32)
    np.testing.assert_allclose(batch[0], (img / 255 - 0.5) / 0.25, atol=1e-6)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_manifest_with_text_labels_and_attributes(digits, kind):
    root = digits["root"] / f"manifest-{kind}"
    write_folder(digits, root / "imgs")
    rows = []
    for i, label in enumerate(digits["labels"]):
        rows.append(
            {
                "path": f"imgs/{NAMES[label]}/{i:04d}.png",
                "label": NAMES[label],
                "scanner": "A" if i % 3 else "B",
                "row_id": f"r{i}",
            }
        )
    df = pd.DataFrame(rows)
    manifest = root / f"manifest.{kind}"
    df.to_csv(manifest, index=False) if kind == "csv" else df.to_parquet(manifest)
    (root / "classes.txt").write_text("\n".join(NAMES) + "\n")
    cfg = {"data": {"path": str(manifest), "color": "grayscale", "class_names_file": str(root / "classes.txt")}}
    result, out = audit(cfg, root, "out")
    assert result.exit_code == 0, result.output
    got = same(digits, out, names=NAMES)
    groupings = {g["grouping"] for g in got["subgroups"]}
    assert groupings == {"scanner"}  # row_id has too many values to be a subgroup
    assert got["data"]["attributes"] == ["scanner"]


def test_precomputed_predictions_and_logits(digits, tmp_path):
    x = torch.from_numpy(digits["images"].astype(np.float32) / 255).unsqueeze(1)
    with torch.inference_mode():
        dense = torch.jit.load(str(DENSE))(x).numpy()
        pruned = torch.jit.load(str(PRUNED))(x).numpy()
    np.savez(tmp_path / "dense.npz", logits=dense)
    pd.DataFrame({"prediction": pruned.argmax(1)}).to_parquet(tmp_path / "pruned.parquet")
    cfg = {
        "data": {"path": str(digits["root"] / "digits.npz")},
        "dense": {"name": "dense", "path": str(tmp_path / "dense.npz")},
        "pruned": [{"name": "global-90", "path": str(tmp_path / "pruned.parquet")}],
    }
    path = tmp_path / "pre.yaml"
    path.write_text(json.dumps(cfg))
    result = invoke(["audit", "--quiet", "--config", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    got = same(digits, tmp_path / "o")
    assert got["models"][0]["backend"] == "predictions" and got["models"][0]["metrics"]["top5_accuracy"] is not None
    assert got["models"][1]["output_kind"] == "labels" and got["models"][1]["metrics"]["top5_accuracy"] is None
    np.savez(tmp_path / "short.npz", logits=dense[:10])
    cfg["dense"]["path"] = str(tmp_path / "short.npz")
    path.write_text(json.dumps(cfg))
    bad = invoke(["audit", "--quiet", "--config", str(path), "--out", str(tmp_path / "o2")])
    assert bad.exit_code == 2 and "short.npz: 10 precomputed rows but the data has 300 images" in bad.output


def test_unreadable_image_is_named(digits, tmp_path):
    folder = write_folder(digits, tmp_path / "broken")
    bad = folder / NAMES[3] / "9999.png"
    bad.write_bytes(b"not a png at all")
    result, out = audit({"data": {"path": str(folder), "color": "grayscale", "class_names": NAMES}}, tmp_path, "o")
    assert result.exit_code == 2 and "9999.png: cannot read image" in result.output
    assert not out.exists()


def test_text_labels_outside_the_class_names(tmp_path):
    path = tmp_path / "t.npz"
    np.savez(path, images=np.zeros((3, 4, 4), np.uint8), labels=np.array(["cat", "dog", "emu"]))
    with pytest.raises(DataError, match=r"labels \['emu'\] are not among the class names"):
        load_dataset(DataSpec(path=path, class_names=("cat", "dog")))
    ds = load_dataset(DataSpec(path=path))
    assert ds.class_names == ("cat", "dog", "emu") and ds.labels.tolist() == [0, 1, 2]


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="no image files"):
        load_dataset(DataSpec(path=tmp_path / "empty"))


def test_manifest_missing_columns(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("file,label\na.png,1\n")
    with pytest.raises(DataError, match="the manifest needs columns path and label; missing path"):
        load_dataset(DataSpec(path=path))


def test_files_are_decoded_batch_by_batch(digits):
    """Streaming: the file source decodes only the rows asked for."""
    folder = write_folder(digits, digits["root"] / "stream")
    ds = load_dataset(DataSpec(path=folder, color="grayscale", class_names=tuple(NAMES)))
    assert ds.images.raw(5, 9).shape == (4, 28, 28)
    assert Batch(ds, 256, 300).raw.shape == (44, 28, 28)
