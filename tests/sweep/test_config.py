"""Sweep configs are checked whole before any training: each mistake is one line naming the file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.errors import ConfigError
from pruneaudit.sweep.config import ALL_TECHNIQUES, build_sweep_config
from tests.sweep.conftest import BASE, write_config


def test_a_valid_config_expands_techniques_amounts_and_seeds(sweep_dir):
    config = build_sweep_config(write_config(sweep_dir, "ok.yaml"))
    assert len(config.variants) == 3 * 2 * 2
    assert config.variants[0].name == "l1_unstructured-0.5-s0"
    assert config.variants[-1].name == "global_l1_iterative-0.8-s1" and config.variants[-1].steps == 2
    assert config.dense_seeds[0].name == "dense-s1" and config.trained is not None


BAD = [
    (
        {"techniques": ["l2_magic"]},
        "techniques: unknown technique 'l2_magic'; expected one of " + ", ".join(ALL_TECHNIQUES),
    ),
    ({"techniques": ["random_unstructured_iterative"]}, "unknown technique 'random_unstructured_iterative'"),
    ({"amounts": [0.5, 1.2]}, "amounts: expected numbers in (0, 1); received [0.5, 1.2]"),
    ({"amounts": [0.5, 0.5]}, "amounts: values must be distinct"),
    ({"seeds": [-1]}, "seeds: expected integers in [0, 4294967295]; received [-1]"),
    ({"name": "{technique}-{amount}"}, "model names must be unique; repeated: global_l1_iterative-0.5,"),
    ({"name": "{technique}/{seed}"}, "must be at most 120 letters, digits"),
    ({"name": "{technique}-{seed:0>300}"}, "must be at most 120 letters, digits"),
    ({"name": "{seed[0]}"}, "name template '{seed[0]}' is not valid"),
    ({"name": "{seed:>2000000}"}, "must be at most 120 letters, digits"),
    ({"name": "{sparsity}"}, "name template '{sparsity}' is not valid"),
    (
        {"finetune": {"epochs": 1, "optimizer": "rmsprop"}},
        "finetune.optimizer: expected one of sgd, adam, adamw; received 'rmsprop'",
    ),
    ({"finetune": {"epochs": 1, "lr": -1}}, "finetune.lr: expected a positive number; received -1"),
    ({"finetune": {"epochs": 1, "learning_rate": 0.1}}, "unknown key 'learning_rate'"),
    ({"finetune": None}, "global_l1_iterative fine-tunes between its cycles"),
    (
        {"finetune": {"epochs": 1, "rewind": True, "lr": 0.1}},
        "rewind: true replays the 'train:' optimiser and schedule; remove lr",
    ),
    ({"finetune": {"epochs": 5, "rewind": True}}, "finetune.epochs: expected an integer in [1, 2] (train.epochs)"),
    ({"train": None}, "needs a 'train:' block"),
    ({"formats": ["onnx"]}, "read back from its TorchScript or state_dict file"),
    ({"formats": ["state_dict"]}, "formats must include torchscript or onnx"),
    ({"threads": 0}, "threads: expected a positive integer; received 0"),
    ({"finetune": {"epochs": 1, "lr": float("inf")}}, "finetune.lr: expected a positive number; received inf"),
    ({"seeds": [2**64]}, "seeds: expected integers in [0, 4294967295]"),
    ({"dense_seeds": [3]}, "dense_seeds includes train.seed 3, which trains the dense model itself"),
    ({"opset": 25}, "opset: expected an ONNX opset in [7, 20]; received 25"),
    (
        {
            "techniques": None,
            "grids": [{"techniques": ["global_l1"]}, {"techniques": ["global_l1"], "name": "again-{amount}-{seed}"}],
        },
        "global_l1-0.5-s0 and again-0.5-0 would be the same model",
    ),
    ({"device": "tpu"}, "device must be one of auto, cpu, cuda"),
    ({"techniques": None, "grids": [{"amounts": [0.5]}]}, "grids[0]: missing required key 'techniques'"),
    ({"grids": [{"techniques": ["global_l1"], "color": 1}]}, "grids[0]: unknown key 'color'"),
    ({"layers": {"exclude": "fc2"}}, "layers.exclude: expected a list of layer names"),
    ({"model": {"path": "missing.pt"}}, "missing.pt: file not found"),
    ({"model": {}}, "give 'path' (a trained dense model) or 'factory' (to train one here)"),
    ({"trust_pickle": True}, "trust_pickle cannot be set in a config file"),
    ({"colour": 1}, "unknown key 'colour'"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_config_is_one_line_before_any_training(sweep_dir, tmp_path, change, message):
    path = write_config(sweep_dir, "bad.yaml", **change)
    with pytest.raises(ConfigError) as info:
        build_sweep_config(path)
    assert message in str(info.value) and "\n" not in str(info.value) and len(str(info.value)) < 600
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["prune", "--config", str(path), "--out", str(out), "--quiet"])
    assert result.exit_code == 2 and result.output.startswith("Error: ") and len(result.output.splitlines()) == 1
    assert not out.exists()  # nothing started


def test_a_layer_the_model_lacks_is_refused_before_training(sweep_dir, tmp_path):
    path = write_config(sweep_dir, "layers.yaml", layers={"exclude": ["fc9"]})
    result = CliRunner().invoke(cli, ["prune", "--config", str(path), "--out", str(tmp_path / "o"), "--quiet"])
    assert result.exit_code == 2
    assert (
        "layers.exclude names fc9, which the model does not have; its layers with weights are conv, fc1, fc2"
        in result.output
    )
    assert not (tmp_path / "o" / "torchscript").exists()


def test_grids_override_the_top_level_and_fall_back_to_it(sweep_dir):
    path = write_config(
        sweep_dir,
        "grids.yaml",
        grids=[
            {"techniques": ["ln_structured"], "amounts": [0.25], "seeds": [0], "name": "structured-{percent}"},
            {"techniques": ["global_l1"], "finetune": None, "seeds": [4], "layers": {"exclude": []}},
        ],
    )
    config = build_sweep_config(path)
    structured, oneshot = config.variants[:2]
    assert structured.name == "structured-25" and structured.finetune.training.optimizer == "sgd"
    assert [v.name for v in config.variants[1:]] == ["global_l1-0.5-s4", "global_l1-0.8-s4"]
    assert oneshot.finetune is None and oneshot.exclude == ()
    assert structured.exclude is None  # the default: the output layer


def test_variants_pooled_as_seeds_must_differ_only_by_seed(sweep_dir):
    """One-shot and rewound variants are their own techniques for the audit; two fine-tunings need a label."""
    grids = [
        {"techniques": ["global_l1"], "amounts": [0.5], "seeds": [0]},
        {"techniques": ["global_l1"], "amounts": [0.5], "seeds": [1], "finetune": None, "name": "oneshot-{seed}"},
    ]
    config = build_sweep_config(write_config(sweep_dir, "labels.yaml", techniques=None, grids=grids))
    assert [v.audit_technique for v in config.variants] == ["global_l1", "global_l1+oneshot"]
    longer = {"epochs": 3, "optimizer": "sgd", "lr": 0.02}
    grids[1] = {"techniques": ["global_l1"], "amounts": [0.5], "seeds": [1], "finetune": longer, "name": "long-{seed}"}
    path = write_config(sweep_dir, "clash.yaml", techniques=None, grids=grids)
    with pytest.raises(
        ConfigError,
        match=r"global_l1-0.5-s0 and long-1 are made differently but would be audited as seeds of one configuration \(global_l1 at 0.5\); give one of their grids its own 'label'",
    ):
        build_sweep_config(path)
    grids[1]["label"] = "global_l1_long"
    config = build_sweep_config(write_config(sweep_dir, "labelled.yaml", techniques=None, grids=grids))
    assert config.variants[1].audit_technique == "global_l1_long"


def test_base_keys_are_the_documented_ones():
    from pruneaudit.sweep.config import TOP_KEYS

    assert set(BASE) <= set(TOP_KEYS)
