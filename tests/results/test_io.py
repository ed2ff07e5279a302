"""Reading results.json: fields added in a minor version are checked when present and None in older files."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from pruneaudit.errors import DataError
from pruneaudit.results import SCHEMA_VERSION, load_results, parse_results, stored_files
from tests import results_factory as rf


def _mapping(**data) -> dict:
    raw = rf.results(rf.model("a50", acc=0.9, worst=-0.1, sparsity=0.5))
    raw["schema_version"] = SCHEMA_VERSION
    raw["data"].update(data)
    return raw


def test_train_class_counts_round_trip_through_the_saved_files(tmp_path):
    for name, data in stored_files(_mapping(train_class_counts=[5923, 0])).items():
        (tmp_path / name).write_bytes(data.encode() if isinstance(data, str) else data)
    assert load_results(tmp_path / "results.json").data.train_class_counts == (5923, 0)


@pytest.mark.parametrize("version", ["2.0", "1.1"])
def test_files_older_than_train_class_counts_still_load(tmp_path, version):
    raw = _mapping()
    raw["schema_version"] = version
    assert "train_class_counts" not in raw["data"]
    assert parse_results(raw).data.train_class_counts is None


def test_train_class_counts_may_be_null():
    assert parse_results(_mapping(train_class_counts=None)).data.train_class_counts is None


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ([5923], "data.train_class_counts: expected 2 counts (one per class), received 1"),
        ([], "data.train_class_counts: expected 2 counts (one per class), received 0"),
        ([5923, -1], "data.train_class_counts[1]: expected an integer >= 0, received -1"),
        ([True, 6742], "data.train_class_counts[0]: expected an integer, received a boolean"),
        ([5923.0, 6742], "data.train_class_counts[0]: expected an integer, received 5923.0"),
        ({"a": 5923}, "data.train_class_counts: expected a list, received an object"),
    ],
)
def test_train_class_counts_are_checked_when_read(counts, message):
    with pytest.raises(DataError, match=re.escape(f"results: not a pruneaudit results file: {message}")) as err:
        parse_results(_mapping(train_class_counts=counts))
    assert "\n" not in str(err.value)


def test_a_lone_surrogate_in_results_is_refused_in_one_line(tmp_path, sample_audit):
    """A JSON \\ud800 escape parses into a string that no output (card.md's YAML, index.html) can encode."""
    for f in sample_audit["torchscript"].iterdir():
        if f.suffix in (".json", ".parquet"):
            shutil.copy(f, tmp_path / f.name)
    path = tmp_path / "results.json"
    raw = json.loads(path.read_text())
    raw["data"]["name"] = "MNIST\ud800"
    path.write_text(json.dumps(raw))  # ensure_ascii: written as the escape \ud800
    with pytest.raises(DataError, match="a string holds a lone UTF-16 surrogate"):
        load_results(path)
