import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.config import build_config
from pruneaudit.errors import ConfigError
from tests.conftest import SAMPLES, run_cli


def test_sample_config_resolves_paths_relative_to_the_file():
    cfg = build_config(config_path=SAMPLES / "audit.yaml")
    assert cfg.dense.path == SAMPLES / "torchscript" / "dense.pt"
    assert cfg.data.path == SAMPLES / "data" / "mnist10k.npz" and cfg.data.split == 1
    assert len(cfg.pruned) == 27
    g = next(p for p in cfg.pruned if p.name == "global-90")
    assert g.metadata == {
        "technique": "global_l1",
        "amount": 0.9,
        "seed": 0,
        "finetune_epochs": 3,
        "notes": "fine-tuned 3 epochs, adam lr 0.001 onecycle; dense: fc2",
    }


def test_command_line_overrides_the_file():
    cfg = build_config(
        config_path=SAMPLES / "audit.yaml",
        pruned=(SAMPLES / "onnx" / "l1-50.onnx",),
        device="cpu",
        batch_size=7,
        split=0,
    )
    assert [p.name for p in cfg.pruned] == ["l1-50"] and cfg.pruned[0].format == "onnx"
    assert (cfg.device, cfg.batch_size, cfg.data.split) == ("cpu", 7, 0)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text(text)
    return path


def test_unknown_key_lists_the_valid_ones(tmp_path):
    path = _write(tmp_path, "dense: {path: x.pt}\nprunned: []\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'prunned'; expected one of data, dense, pruned, device, batch_size"
    ):
        build_config(config_path=path)


def test_unknown_model_key(tmp_path):
    dense = tmp_path / "d.pt"
    dense.write_bytes(b"")
    path = _write(tmp_path, "dense: {path: d.pt, sparsity: 0.5}\n")
    with pytest.raises(ConfigError, match=r"dense: unknown key 'sparsity'; expected one of name, path, format"):
        build_config(config_path=path)


def test_missing_model_file_is_named(tmp_path):
    path = _write(tmp_path, "dense: {path: nowhere.pt}\n")
    with pytest.raises(ConfigError, match=r"nowhere\.pt: file not found"):
        build_config(config_path=path)


def test_invalid_yaml(tmp_path):
    path = _write(tmp_path, "dense: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_config(config_path=path)


def test_unknown_extension(tmp_path):
    model = tmp_path / "model.xyz"
    model.write_bytes(b"x")
    with pytest.raises(ConfigError, match="cannot tell the model format"):
        build_config(dense=model, pruned=(model,), data=SAMPLES / "data" / "mnist10k.npz")


def test_duplicate_names(tmp_path):
    ts = SAMPLES / "torchscript" / "dense.pt"
    with pytest.raises(ConfigError, match="model names must be unique; repeated: dense"):
        build_config(dense=ts, pruned=(ts,), data=SAMPLES / "data" / "mnist10k.npz")


def test_nothing_to_compare():
    with pytest.raises(ConfigError, match="no pruned model"):
        build_config(dense=SAMPLES / "torchscript" / "dense.pt", data=SAMPLES / "data" / "mnist10k.npz")


def test_bad_batch_size(tmp_path):
    path = _write(tmp_path, "dense: {path: ../x}\nbatch_size: 0\n")
    with pytest.raises(ConfigError):
        build_config(
            config_path=path,
            dense=SAMPLES / "torchscript" / "dense.pt",
            pruned=(SAMPLES / "torchscript" / "l1-50.pt",),
            data=SAMPLES / "data" / "mnist10k.npz",
        )


def test_every_public_name_resolves():
    import pruneaudit

    for name in pruneaudit.__all__:
        assert getattr(pruneaudit, name) is not None
    with pytest.raises(AttributeError):
        pruneaudit.nothing_here  # noqa: B018


def test_merge_keys_give_each_model_the_shared_metadata(tmp_path):
    ts = SAMPLES / "torchscript"
    path = _write(
        tmp_path,
        f"data: {{path: {SAMPLES / 'data' / 'mnist10k.npz'}}}\n"
        f"dense: &base {{path: {ts / 'dense.pt'}, notes: shared}}\n"
        "pruned:\n"
        f"  - {{<<: *base, path: {ts / 'l1-50.pt'}, technique: l1, amount: 0.5}}\n"
        f"  - {{<<: *base, path: {ts / 'l1-90.pt'}, technique: l1, amount: 0.9}}\n",
    )
    cfg = build_config(config_path=path)
    assert [p.name for p in cfg.pruned] == ["l1-50", "l1-90"]
    assert cfg.pruned[1].metadata == {"notes": "shared", "technique": "l1", "amount": 0.9}


def test_null_model_values_mean_not_given(tmp_path):
    ts = SAMPLES / "torchscript"
    path = _write(
        tmp_path,
        f"data: {{path: {SAMPLES / 'data' / 'mnist10k.npz'}}}\n"
        f"dense: {{path: {ts / 'dense.pt'}, name: null, format: null}}\n"
        f"pruned: [{{path: {ts / 'l1-50.pt'}, technique: null, amount: 0.5, factory_kwargs: null}}]\n",
    )
    cfg = build_config(config_path=path)
    assert cfg.dense.name == "dense" and cfg.dense.format == "torchscript"
    assert cfg.pruned[0].metadata == {"amount": 0.5}


def test_an_empty_config_file_leaves_everything_to_the_command_line(tmp_path):
    cfg = build_config(
        config_path=_write(tmp_path, "# nothing here yet\n"),
        dense=SAMPLES / "torchscript" / "dense.pt",
        pruned=(SAMPLES / "torchscript" / "l1-50.pt",),
        data=SAMPLES / "data" / "mnist10k.npz",
    )
    assert cfg.pruned[0].name == "l1-50"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("seed: '1'", r"pruned\[0\]: seed must be an integer; received '1'"),
        ("amount: -0.1", r"pruned\[0\]: amount must be a number in \[0, 1\]; received -0.1"),
        ("name: 7", r"pruned\[0\]: name must be non-empty text; received 7"),
        ("class_order: [0, 1]", r"pruned\[0\]: class_order must be a list of class names \(text\); received \[0, 1\]"),
    ],
)
def test_model_values_are_type_checked_before_any_file_is_read(tmp_path, entry, message):
    path = _write(tmp_path, f"dense: {{path: nowhere.pt}}\npruned: [{{path: nowhere.pt, {entry}}}]\n")
    with pytest.raises(ConfigError, match=message):
        build_config(config_path=path, dense=SAMPLES / "torchscript" / "dense.pt")


def _with_train_counts(tmp_path: Path, counts: str) -> Path:
    ts = SAMPLES / "torchscript"
    return _write(
        tmp_path,
        f"data: {{path: {SAMPLES / 'data' / 'mnist10k.npz'}}}\n"
        f"dense: {{path: {ts / 'dense.pt'}}}\n"
        f"pruned: [{{path: {ts / 'global-50.pt'}}}]\n"
        f"train_class_counts: {counts}\n",
    )


def test_train_class_counts_are_kept_in_class_order(tmp_path):
    path = _with_train_counts(tmp_path, "[5923, 0, 5958]")
    cfg = build_config(config_path=path)
    assert cfg.train_class_counts == (5923, 0, 5958) and cfg.config_path == path


def test_train_class_counts_are_optional(tmp_path):
    counts = build_config(config_path=SAMPLES / "audit.yaml").train_class_counts
    assert counts is not None and sum(counts) == 8000  # pruneaudit prune wrote the sample's
    assert (
        build_config(
            dense=SAMPLES / "torchscript" / "dense.pt",
            pruned=(SAMPLES / "torchscript" / "l1-50.pt",),
            data=SAMPLES / "data" / "mnist10k.npz",
        ).train_class_counts
        is None
    )


@pytest.mark.parametrize(
    ("counts", "received"),
    [
        ("['5923', '6742']", "['5923', '6742']"),
        ("[5923, -1]", "[5923, -1]"),
        ("[true, 6742]", "[True, 6742]"),
        ("[5923.0, 6742]", "[5923.0, 6742]"),
        ("[]", "[]"),
        ("{zero: 5923, one: 6742}", "{'zero': 5923, 'one': 6742}"),
        ("5923", "5923"),
        ("null", "None"),
    ],
)
def test_train_class_counts_must_be_a_list_of_non_negative_integers(tmp_path, counts, received):
    path = _with_train_counts(tmp_path, counts)
    with pytest.raises(ConfigError) as err:
        build_config(config_path=path)
    assert str(err.value) == (
        f"{path}: train_class_counts must be a non-empty list of non-negative integers, one per class in the data's "
        f"class order; received {received}"
    )
    assert err.value.exit_code == 2


def _with_data_names(tmp_path: Path, names: str) -> Path:
    ts = SAMPLES / "torchscript"
    return _write(
        tmp_path,
        f"data: {{path: {SAMPLES / 'data' / 'mnist10k.npz'}, split: 1, {names}}}\n"
        f"dense: {{path: {ts / 'dense.pt'}}}\n"
        f"pruned: [{{path: {ts / 'global-50.pt'}}}]\n",
    )


def test_the_sample_config_names_its_data_for_the_card():
    data = build_config(config_path=SAMPLES / "audit.yaml").data
    assert (data.name, data.hf_id, data.split_name) == ("MNIST", "ylecun/mnist", "test")


def test_data_names_are_optional_and_kept_as_given(tmp_path):
    data = build_config(config_path=_with_data_names(tmp_path, "name: ' MNIST digits ', hf_id: mnist")).data
    assert (data.name, data.hf_id, data.split_name) == ("MNIST digits", "mnist", None)
    given = build_config(
        config_path=SAMPLES / "audit.yaml", data=SAMPLES / "data" / "mnist10k.npz"
    ).data  # --data replaces the file's whole data mapping
    assert (given.name, given.hf_id, given.split_name) == (None, None, None)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("hf_id: datasets/ylecun/mnist", "hf_id: expected a Hugging Face Hub id ('owner/name' or 'name'"),
        ("hf_id: ylecun--mnist", "hf_id: expected a Hugging Face Hub id"),
        ("hf_id: 'ylecun/mnist '", "hf_id: expected a Hugging Face Hub id"),
        ("hf_id: 7", "hf_id: expected non-empty text; received 7"),
        ("name: ''", "name: expected non-empty text; received ''"),
        ("split_name: 1", "split_name: expected non-empty text; received 1"),
        ("split_name: [test]", "split_name: expected non-empty text; received ['test']"),
    ],
)
def test_data_names_are_checked(tmp_path, names, message):
    path = _with_data_names(tmp_path, names)
    with pytest.raises(ConfigError, match=f"^{re.escape(f'{path}: data.{message}')}") as err:
        build_config(config_path=path)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)


# Training counts from a file of training labels (train_labels:), counted at audit time.
TRAIN_MODELS = ("random-90-s0", "random-90-s1", "l1-90")  # two seeds of one configuration and another technique


def _train_split_labels() -> np.ndarray:
    d = np.load(SAMPLES / "data" / "mnist10k.npz")
    return d["labels"][d["split"] == 0]  # the split the sample models were trained on


def _with_train_labels(tmp_path: Path, entry: str) -> Path:
    ts = SAMPLES / "torchscript"
    pruned = ", ".join(f"{{path: {ts / f'{n}.pt'}, technique: {n.split('-')[0]}, amount: 0.9}}" for n in TRAIN_MODELS)
    return _write(
        tmp_path,
        f"data: {{path: {SAMPLES / 'data' / 'mnist10k.npz'}, split: 1}}\n"
        f"dense: {{path: {ts / 'dense.pt'}}}\n"
        f"pruned: [{pruned}]\n"
        f"{entry}\n",
    )


def test_train_labels_are_a_path_relative_to_the_config(tmp_path):
    np.save(tmp_path / "train.npy", _train_split_labels())
    cfg = build_config(config_path=_with_train_labels(tmp_path, "train_labels: train.npy"))
    assert cfg.train_labels == tmp_path / "train.npy" and cfg.train_class_counts is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("train_labels: train.npy\ntrain_class_counts: [1, 2]", "give train_class_counts or train_labels, not both"),
        ("train_labels: nowhere.npy", "nowhere.npy: file not found"),
        ("train_labels: [train.npy]", "train_labels must be a file path (text); received ['train.npy']"),
        ("train_labels: .", "is a folder; expected a file of training labels"),
    ],
)
def test_bad_train_labels_entries_are_config_errors(tmp_path, entry, message):
    np.save(tmp_path / "train.npy", _train_split_labels())
    path = _with_train_labels(tmp_path, entry)
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        build_config(config_path=path)
    assert "\n" not in str(err.value) and err.value.exit_code == 2


def _write_train_labels(tmp_path: Path, kind: str, labels: np.ndarray) -> str:
    """The labels in one of the forms the data layer reads; returns the file's name."""
    if kind == "npy":
        np.save(tmp_path / "train.npy", labels)
        return "train.npy"
    if kind == "npz":
        np.savez(tmp_path / "train.npz", images=np.zeros((len(labels), 1, 1), np.uint8), labels=labels)
        return "train.npz"
    (tmp_path / "train.csv").write_text(
        "path,label\n" + "".join(f"images/{i}.png,{v}\n" for i, v in enumerate(labels.tolist()))
    )
    return "train.csv"


@pytest.mark.parametrize("kind", ["npy", "npz", "csv"])
def test_train_labels_are_counted_into_the_results_and_the_card(tmp_path, kind):
    labels = _train_split_labels()
    name = _write_train_labels(tmp_path, kind, labels)
    path = _with_train_labels(tmp_path, f"train_labels: {name}")
    out = tmp_path / "out"
    result = run_cli(["audit", "--quiet", "--device", "cpu", "--config", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    want = [int((labels == c).sum()) for c in range(10)]  # by hand, class by class
    assert want == [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]  # what pruneaudit prune wrote for the sample
    assert json.loads((out / "results.json").read_text())["data"]["train_class_counts"] == want
    html = (out / "index.html").read_text()
    section = re.search(r'<section id="representation".*?</section>', html, flags=re.S).group(0)
    assert 'data-spec="spec-representation"' in section and "needs the training set" not in section
    assert "Training set: 8,000 images; smallest class 5 (690), largest 1 (902)." in (out / "card.md").read_text()


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 3, 10, 2]), "training labels must lie in [0, 10) (the data's classes); received label 10"),
        (np.array([0, -1, 2]), "training labels must be >= 0 (class indices); received label -1"),
        (np.array([0.0, 1.0, 2.0]), "training labels must be integers (class indices); received dtype float64"),
        (np.array([], dtype=np.int64), "the training labels are empty"),
        (
            np.zeros((2, 3), dtype=np.int64),
            "training labels must be 1-D, one per training image; received shape (2, 3)",
        ),
        (np.array([True, False, True]), "training labels must be integers (class indices); received dtype bool"),
    ],
)
def test_bad_train_labels_fail_in_one_line_naming_the_file(tmp_path, labels, message):
    np.save(tmp_path / "train.npy", labels)
    path = _with_train_labels(tmp_path, "train_labels: train.npy")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["audit", "--quiet", "--device", "cpu", "--config", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"Error: {tmp_path / 'train.npy'}: {message}"
    assert not out.exists()


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(b"not an array"), "not a readable .npy array"),
        (lambda p: np.savez(p.with_suffix(".npz"), y=np.arange(3)), "no training-labels array 'labels'; found y"),
        (lambda p: p.with_suffix(".csv").write_text("path,label\na.png,one\n"), "need the data's class names"),
        (lambda p: p.with_suffix(".txt").write_text("0\n1\n"), "unsupported training labels"),
    ],
)
def test_unreadable_train_labels_fail_in_one_line_naming_the_file(tmp_path, write, message):
    target = tmp_path / "train.npy"
    write(target)
    name = next(p.name for p in tmp_path.iterdir() if p.stem == "train")
    path = _with_train_labels(tmp_path, f"train_labels: {name}")
    result = CliRunner().invoke(cli, ["audit", "--quiet", "--config", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {tmp_path / name}: ") and message in lines[0]


def test_a_config_made_by_hand_with_both_training_counts_is_refused_before_any_model_runs(tmp_path):
    import pruneaudit

    np.save(tmp_path / "train.npy", _train_split_labels())
    cfg = build_config(config_path=_with_train_labels(tmp_path, "train_labels: train.npy"), device="cpu")
    with pytest.raises(ConfigError, match=r": give train_class_counts or train_labels, not both \(") as err:
        pruneaudit.audit(
            replace(
                cfg, train_class_counts=(1,) * 10, cache_dir=None, dense=replace(cfg.dense, path=tmp_path / "gone.pt")
            )
        )
    assert str(err.value).startswith(str(tmp_path / "audit.yaml")) and err.value.exit_code == 2
