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
    assert g.metadata == {"technique": "global_l1", "amount": 0.9, "finetune_epochs": 3}


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
