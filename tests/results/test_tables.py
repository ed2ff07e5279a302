"""Schema 2: the bulk arrays go to Parquet tables beside results.json and come back unchanged."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pruneaudit.errors import DataError
from pruneaudit.results import SCHEMA_VERSION, load_raw, load_results, parse_results, parse_stored, stored_files
from tests import results_factory as rf

TABLES = ("per_class.parquet", "confusion.parquet", "subgroups.parquet")


def _mapping() -> dict:
    raw = rf.results(
        rf.model("a50", acc=0.9, worst=-0.1, sparsity=0.5), rf.model("a90", acc=0.8, worst=-0.3, sparsity=0.9)
    )
    raw["schema_version"] = SCHEMA_VERSION
    raw["models"][0]["confusion"] = [[0, 0, 40], [0, 1, 2], [1, 1, 50]]
    raw["models"][2]["confusion"] = [[1, 0, 7]]
    return raw


def _write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, data in files.items():
        (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return folder / "results.json"


def test_round_trip_keeps_every_value():
    raw = _mapping()
    files = stored_files(raw)
    assert sorted(files) == sorted(("results.json", *TABLES))
    assert parse_stored(files) == parse_results(raw)


def test_results_json_holds_no_bulk_arrays_and_refers_to_each_table():
    files = stored_files(_mapping())
    stored = json.loads(files["results.json"])
    assert all("per_class" not in m and "confusion" not in m for m in stored["models"])
    assert all(m["vs_dense"] is None or "per_class" not in m["vs_dense"] for m in stored["models"])
    assert stored["tables"]["per_class"]["rows"] == 3 * len(stored["data"]["class_names"])
    assert stored["tables"]["confusion"]["rows"] == 4
    assert {t["file"] for t in stored["tables"].values()} == set(TABLES)


def test_tables_are_deterministic_and_typed():
    a, b = stored_files(_mapping()), stored_files(copy.deepcopy(_mapping()))
    assert a == b
    table = pq.read_table(io.BytesIO(a["per_class.parquet"]))
    assert table.schema.field("support").type == pa.int64()
    assert table.schema.field("recall_low").type == pa.float64()
    assert table.column("model").to_pylist()[:1] == ["dense"]
    assert table.column("recall_change").to_pylist()[0] is None  # the dense model is compared with nothing


def test_saved_results_load_with_their_tables(tmp_path):
    raw = _mapping()
    path = _write(tmp_path, stored_files(raw))
    assert load_results(path) == parse_results(raw)
    assert [list(c) for c in load_results(path).models[0].confusion] == [[0, 0, 40], [0, 1, 2], [1, 1, 50]]


def test_schema_1_files_still_load():
    raw = _mapping()
    raw["schema_version"] = "1.1"
    assert parse_results(raw).models[2].confusion.count.tolist() == [7]


def test_a_schema_1_file_stored_again_is_schema_2_and_reads_back(tmp_path):
    raw = _mapping()
    raw["schema_version"] = "1.1"
    path = _write(tmp_path, stored_files(raw))
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    assert load_results(path).models[2].confusion.count.tolist() == [7]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "per_class.parquet").unlink(), "per_class.parquet: file not found"),
        (
            lambda d: (d / "confusion.parquet").write_bytes(b"PAR1 not really"),
            "confusion.parquet: does not match results.json",
        ),
        (lambda d: _edit_json(d, lambda r: r.pop("tables")), "expected a 'tables' object"),
        (
            lambda d: _edit_json(d, lambda r: r["tables"]["per_class"].update(file="../x.parquet")),
            "tables.per_class.file",
        ),
        (lambda d: _edit_json(d, lambda r: r["tables"]["confusion"].update(rows="7")), "tables.confusion.rows"),
        (lambda d: _edit_json(d, lambda r: r["models"].pop()), "per_class.parquet: expected 4 rows, received 6"),
        (
            lambda d: _edit_json(d, lambda r: r["models"][1].update(name="other")),
            "row 2: expected model 'other', received 'a50'",
        ),
        (lambda d: _edit_json(d, lambda r: r.update(schema_version="3.0")), "results schema 3.0 is not supported"),
    ],
)
def test_damaged_tables_are_one_line_errors(tmp_path, damage, message):
    path = _write(tmp_path, stored_files(_mapping()))
    damage(tmp_path)
    with pytest.raises(DataError, match=re.escape(message)) as err:
        load_results(path)
    assert "\n" not in str(err.value)


def test_a_table_rewritten_to_match_its_reference_is_still_checked(tmp_path):
    """A forged table with a forged sha256: its layout is checked before its values are trusted."""
    path = _write(tmp_path, stored_files(_mapping()))
    table = pq.read_table(tmp_path / "per_class.parquet").drop_columns(["recall"])
    pq.write_table(table, tmp_path / "per_class.parquet")
    _edit_json(
        tmp_path,
        lambda r: r["tables"]["per_class"].update(
            sha256=hashlib.sha256((tmp_path / "per_class.parquet").read_bytes()).hexdigest()
        ),
    )
    with pytest.raises(DataError, match="per_class.parquet: expected columns"):
        load_results(path)


def test_sample_audit_round_trips(sample_audit):
    path = sample_audit["torchscript"] / "results.json"
    raw = load_raw(path)
    assert parse_stored(stored_files(raw)) == load_results(path)


def _edit_json(folder: Path, edit) -> None:
    path = folder / "results.json"
    raw = json.loads(path.read_text())
    edit(raw)
    path.write_text(json.dumps(raw))


def test_a_table_that_decodes_to_far_more_than_its_rows_need_is_refused(tmp_path):
    """A Parquet bomb: right columns and row count, but text cells of megabytes that compress to nothing."""
    raw = _mapping()
    path = _write(tmp_path, stored_files(raw))
    table = pq.read_table(tmp_path / "per_class.parquet")
    huge = pa.array(["x" * 4_000_000] * table.num_rows)
    table = table.set_column(table.schema.get_field_index("class"), "class", huge)
    pq.write_table(table, tmp_path / "per_class.parquet", compression="zstd")
    digest = hashlib.sha256((tmp_path / "per_class.parquet").read_bytes()).hexdigest()
    assert (tmp_path / "per_class.parquet").stat().st_size < 100_000
    _edit_json(tmp_path, lambda r: r["tables"]["per_class"].update(sha256=digest))
    with pytest.raises(DataError, match="per_class.parquet: decodes to"):
        load_results(path)


def test_a_dictionary_encoded_bomb_is_refused_before_it_is_copied():
    """One 1 MB name repeated over 100,000 rows is small on disk and as a dictionary, 100 GB as plain strings."""
    from pruneaudit.results import tables

    rows = 100_000
    name = pa.array(["x" * 1_000_000]).dictionary_encode()
    column = pa.DictionaryArray.from_arrays(pa.array([0] * rows, type=pa.int32()), name.dictionary)
    out = io.BytesIO()
    pq.write_table(pa.table({"model_name": column}), out, compression="zstd")
    with pytest.raises(tables.TableError, match="holds text of 1000000 bytes"):
        tables._read(out.getvalue(), expected={"model_name": "text"}, rows=rows, text_bytes=40)


def test_rows_out_of_order_name_the_row(tmp_path):
    path = _write(tmp_path, stored_files(_mapping()))
    table = pq.read_table(tmp_path / "per_class.parquet")
    order = [1, 0, *range(2, table.num_rows)]  # the dense model's two classes swapped
    pq.write_table(table.take(order), tmp_path / "per_class.parquet")
    digest = hashlib.sha256((tmp_path / "per_class.parquet").read_bytes()).hexdigest()
    _edit_json(tmp_path, lambda r: r["tables"]["per_class"].update(sha256=digest))
    with pytest.raises(DataError, match=re.escape("per_class.parquet: row 0: expected class_index 0, received 1")):
        load_results(path)


def test_reading_the_tables_imports_no_pandas(tmp_path):
    """pyarrow's to_numpy and pa.array import pandas (half a second); render reads and writes without them."""
    import subprocess
    import sys

    path = _write(tmp_path, stored_files(_mapping()))
    code = (
        "import sys; from pathlib import Path; from pruneaudit.results import load_results, stored_files; "
        f"r = load_results(Path({str(path)!r})); stored_files(r.raw); print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
