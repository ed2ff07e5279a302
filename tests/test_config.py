import re
from pathlib import Path

import pytest

from pruneaudit.config import build_config
from pruneaudit.errors import ConfigError
from tests.conftest import SAMPLES


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
