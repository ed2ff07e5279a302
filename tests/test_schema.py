"""results.json validates against the published schema, and the schema catches breakage."""

import copy
import json
from importlib.resources import files

import jsonschema
import pytest

SCHEMA = json.loads(files("pruneaudit").joinpath("schema/results.schema.json").read_text())


def test_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_sample_results_validate(sample_audit, fmt):
    results = json.loads((sample_audit[fmt] / "results.json").read_text())
    jsonschema.validate(results, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_gate_card_and_subgroups_validate(tmp_path, sample_audit):
    from pruneaudit.api import check, select
    from pruneaudit.card import load_card
    from pruneaudit.gate import verdict
    from pruneaudit.policy import load_policy
    from pruneaudit.results import load_results, stored_files, with_blocks
    from tests.conftest import ROOT, SAMPLES

    policy = load_policy(ROOT / "examples" / "policy.yaml")
    results = select(load_results(sample_audit["onnx"] / "results.json"), selection=policy.selection)
    results = with_blocks(results, gate=verdict(check(results, policy=policy)), card=load_card(SAMPLES / "card.yaml"))
    stored = json.loads(stored_files(results.raw)["results.json"])
    jsonschema.validate(stored, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_train_class_counts_validate(sample_stored):
    assert sum(sample_stored["data"]["train_class_counts"]) == 8000  # written by pruneaudit prune
    jsonschema.validate(sample_stored, SCHEMA, cls=jsonschema.Draft202012Validator)
    given = copy.deepcopy(sample_stored)
    given["data"]["train_class_counts"] = None
    jsonschema.validate(given, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_a_2_0_file_without_train_class_counts_validates(sample_stored):
    older = copy.deepcopy(sample_stored)
    older["schema_version"] = "2.0"
    del older["data"]["train_class_counts"]
    jsonschema.validate(older, SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda r: r.pop("models"),
        lambda r: r["models"][0].update(role="teacher"),
        lambda r: r["models"][1]["vs_dense"].update(harmed=-1),
        lambda r: r["tables"]["per_class"].update(sha256="not a hash"),
        lambda r: r["tables"]["per_class"].update(file="elsewhere.parquet"),
        lambda r: r["models"][0].update(per_class={}),  # schema 2: the arrays live in the tables
        lambda r: r.update(unexpected=1),
        lambda r: r["data"].update(train_class_counts=[]),
        lambda r: r["data"].update(train_class_counts=[5923, -1]),
        lambda r: r["data"].update(train_class_counts=["5923"]),
        lambda r: r["data"].update(train_class_counts={"0": 5923}),
    ],
)
def test_schema_rejects_broken_results(sample_stored, breakage):
    broken = copy.deepcopy(sample_stored)
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA, cls=jsonschema.Draft202012Validator)
