"""The results contract: the versioned results.json, its typed read view, and how to read and write it.

A leaf layer: it imports nothing from the pipeline (models, data, inference), so the
report, the selection and the gate can read a saved audit without any model code.
"""

from pruneaudit.results.io import (
    SCHEMA_VERSION,
    dumps,
    load_raw,
    load_results,
    parse_results,
    parse_stored,
    stored_files,
    with_blocks,
)
from pruneaudit.results.view import UNSPECIFIED, Model, Results

__all__ = [
    "SCHEMA_VERSION",
    "UNSPECIFIED",
    "Model",
    "Results",
    "dumps",
    "load_raw",
    "load_results",
    "parse_results",
    "parse_stored",
    "stored_files",
    "with_blocks",
]
