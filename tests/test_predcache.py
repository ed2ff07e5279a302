"""The prediction and file-hash caches through `pruneaudit audit`: same bytes, and only what changed runs.

Every test here names its own empty --cache folder: the suite's shared one (conftest) may already
hold these models' runs.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path

import pytest

from pruneaudit.fingerprint import RACY_NS, sha256
from tests.conftest import SAMPLES, run_cli

REPORT = ("results.json", "index.html", "card.md", "per_class.csv")


def audit(out: Path, data: Path, dense: Path, *pruned: Path, cache: Path | None, extra: tuple = ()) -> None:
    args = ["audit", "--quiet", "--device", "cpu", "--data", str(data), "--out", str(out), "--dense", str(dense)]
    for p in pruned:
        args += ["--pruned", str(p)]
    args += ["--no-cache"] if cache is None else ["--cache", str(cache)]
    result = run_cli([*args, *extra])
    assert result.exit_code == 0, result.output


def sources(caplog) -> dict[str, str]:
    """Model file name → "ran" or "cache", from the INFO line each model logs; the log is cleared."""
    seen = {}
    for record in caplog.records:
        message = record.getMessage()
        where = Path(message.split(": ", 1)[0]).name
        if record.name == "pruneaudit.inference" and " images in " in message:
            seen[where] = "ran"
        elif record.name == "pruneaudit.predcache" and message.endswith(": predictions from cache"):
            seen[where] = "cache"
    caplog.clear()
    return seen


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger="pruneaudit")
    return caplog


def same_report(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in REPORT)


def test_cached_and_uncached_audits_write_the_same_bytes(tmp_path, test_npz, log):
    """--timings too: a hit keeps the timing measured when the entry was written."""
    ts, ox = SAMPLES / "torchscript", SAMPLES / "onnx"
    models = (ts / "dense.pt", ox / "l1-50.onnx", ts / "global-90.pt")
    audit(tmp_path / "plain", test_npz, *models, cache=None)
    audit(tmp_path / "cold", test_npz, *models, cache=tmp_path / "cache")
    assert set(sources(log).values()) == {"ran"}
    audit(tmp_path / "warm", test_npz, *models, cache=tmp_path / "cache")
    assert sources(log) == {"dense.pt": "cache", "l1-50.onnx": "cache", "global-90.pt": "cache"}
    assert same_report(tmp_path / "plain", tmp_path / "cold") and same_report(tmp_path / "plain", tmp_path / "warm")
    timed = (ox / "dense.onnx", ox / "global-90.onnx")
    audit(tmp_path / "t1", test_npz, *timed, cache=tmp_path / "cache", extra=("--timings",))
    assert set(sources(log).values()) == {"ran"}
    audit(tmp_path / "t2", test_npz, *timed, cache=tmp_path / "cache", extra=("--timings",))
    assert set(sources(log).values()) == {"cache"}
    assert same_report(tmp_path / "t1", tmp_path / "t2")


def test_adding_a_model_runs_only_that_model(tmp_path, test_npz, log):
    ox = SAMPLES / "onnx"
    audit(tmp_path / "a", test_npz, ox / "dense.onnx", ox / "l1-50.onnx", cache=tmp_path / "cache")
    assert sources(log) == {"dense.onnx": "ran", "l1-50.onnx": "ran"}
    audit(
        tmp_path / "b", test_npz, ox / "dense.onnx", ox / "l1-50.onnx", ox / "global-90.onnx", cache=tmp_path / "cache"
    )
    assert sources(log) == {"dense.onnx": "cache", "l1-50.onnx": "cache", "global-90.onnx": "ran"}


def test_a_changed_model_file_runs_again(tmp_path, test_npz, log):
    dense, pruned = tmp_path / "dense.pt", tmp_path / "pruned.pt"
    shutil.copy(SAMPLES / "torchscript" / "dense.pt", dense)
    shutil.copy(SAMPLES / "torchscript" / "l1-50.pt", pruned)
    audit(tmp_path / "a", test_npz, dense, pruned, cache=tmp_path / "cache")
    sources(log)
    shutil.copy(SAMPLES / "torchscript" / "global-90.pt", pruned)  # same name, new weights
    audit(tmp_path / "b", test_npz, dense, pruned, cache=tmp_path / "cache")
    assert sources(log) == {"dense.pt": "cache", "pruned.pt": "ran"}
    audit(tmp_path / "plain", test_npz, dense, pruned, cache=None)
    assert same_report(tmp_path / "b", tmp_path / "plain")
    assert not same_report(tmp_path / "a", tmp_path / "b")


def test_settings_that_change_outputs_change_the_key(tmp_path, test_npz, log):
    """Precision applies to torch models only; the batch size and the split are part of every key."""
    models = (SAMPLES / "torchscript" / "dense.pt", SAMPLES / "onnx" / "l1-50.onnx")
    cache = tmp_path / "cache"
    audit(tmp_path / "a", test_npz, *models, cache=cache)
    sources(log)
    audit(tmp_path / "b", test_npz, *models, cache=cache, extra=("--precision", "bf16"))
    assert sources(log) == {"dense.pt": "ran", "l1-50.onnx": "cache"}
    audit(tmp_path / "c", test_npz, *models, cache=cache, extra=("--batch-size", "100"))
    assert sources(log) == {"dense.pt": "ran", "l1-50.onnx": "ran"}


def test_no_cache_writes_nothing(tmp_path, test_npz, monkeypatch):
    monkeypatch.setenv("PRUNEAUDIT_CACHE_DIR", str(tmp_path / "default"))
    models = (SAMPLES / "onnx" / "dense.onnx", SAMPLES / "onnx" / "l1-50.onnx")
    audit(tmp_path / "a", test_npz, *models, cache=None)
    assert not (tmp_path / "default").exists()
    result = run_cli(["audit", "--quiet", "--cache", str(tmp_path / "x"), "--no-cache", "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "--cache and --no-cache" in result.output


def test_a_corrupt_entry_is_run_again_and_rewritten(tmp_path, test_npz, log):
    models = (SAMPLES / "onnx" / "dense.onnx", SAMPLES / "torchscript" / "l1-50.pt")
    cache = tmp_path / "cache"
    audit(tmp_path / "a", test_npz, *models, cache=cache)
    entries = sorted((cache / "predictions").rglob("*.npz"))
    assert len(entries) == 2
    entries[0].write_bytes(b"not an npz")
    entries[1].write_bytes(entries[1].read_bytes()[:100])  # torn
    log.clear()
    audit(tmp_path / "b", test_npz, *models, cache=cache)
    warnings = [r.getMessage() for r in log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("unreadable" in w and "running the model again" in w for w in warnings)
    assert sources(log) == {"dense.onnx": "ran", "l1-50.pt": "ran"}
    assert same_report(tmp_path / "a", tmp_path / "b")
    audit(tmp_path / "c", test_npz, *models, cache=cache)
    assert sources(log) == {"dense.onnx": "cache", "l1-50.pt": "cache"}


def test_file_hashes_are_kept_by_stat_and_a_change_is_seen(tmp_path):
    cache = tmp_path / "cache"
    path = tmp_path / "model.bin"
    path.write_bytes(b"a" * 1000)
    want = hashlib.sha256(b"a" * 1000).hexdigest()
    assert sha256(path, cache_dir=cache) == want == sha256(path)
    assert not (cache / "sha256").exists()  # just written: racy, hashed every time
    time.sleep(RACY_NS / 1e9 + 0.1)
    assert sha256(path, cache_dir=cache) == want
    (entry,) = (cache / "sha256").iterdir()
    entry.write_text("0" * 64)  # what the cache says is what comes back: the file was not read again
    assert sha256(path, cache_dir=cache) == "0" * 64
    path.write_bytes(b"b" * 1000)  # same size: the new ctime is a new key
    assert sha256(path, cache_dir=cache) == hashlib.sha256(b"b" * 1000).hexdigest()
    folder = SAMPLES / "data"
    assert sha256(folder, cache_dir=cache) == sha256(folder) == sha256(folder, cache_dir=cache)


def test_an_onnx_models_external_data_is_part_of_its_identity(tmp_path, test_npz, log):
    """Rewriting only model.onnx.data changes the predictions: it must change the key and the sha256."""
    import onnx
    from onnx import numpy_helper

    from pruneaudit.results import load_results

    model = onnx.load(str(SAMPLES / "onnx" / "l1-50.onnx"))
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    cache = tmp_path / "cache"
    audit(tmp_path / "a", test_npz, SAMPLES / "onnx" / "dense.onnx", tmp_path / "ext.onnx", cache=cache)
    first = load_results(tmp_path / "a" / "results.json").model("ext")
    time.sleep(RACY_NS / 1e9)
    data = onnx.load(str(tmp_path / "ext.onnx"))  # weights read back from the data file
    for tensor in data.graph.initializer:
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * 0, tensor.name))
    onnx.save(data, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.onnx.data", size_threshold=0)
    sources(log)
    audit(tmp_path / "b", test_npz, SAMPLES / "onnx" / "dense.onnx", tmp_path / "ext.onnx", cache=cache)
    assert sources(log)["ext.onnx"] == "ran"
    second = load_results(tmp_path / "b" / "results.json").model("ext")
    assert second.sha256 != first.sha256 and second.metrics.accuracy != first.metrics.accuracy


@pytest.mark.parametrize(
    "plant",
    [
        lambda entry: (entry.unlink(), entry.symlink_to("/dev/zero")),
        lambda entry: entry.write_bytes(b"\0" * (64 << 20) + b"x"),
        lambda entry: entry.write_bytes(_other_entry(entry).read_bytes()),  # another model's run
    ],
    ids=["link-to-dev-zero", "huge-file", "foreign-entry"],
)
def test_a_planted_cache_entry_is_run_again_not_read_whole(tmp_path, test_npz, log, plant):
    cache = tmp_path / "cache"
    models = (SAMPLES / "torchscript" / "dense.pt", SAMPLES / "torchscript" / "l1-50.pt")
    audit(tmp_path / "a", test_npz, *models, cache=cache)
    entries = sorted((cache / "predictions").rglob("*.npz"))
    assert len(entries) == 2
    for entry in entries[:1]:  # the other stays a valid entry of its own model
        plant(entry)
    sources(log)
    audit(tmp_path / "b", test_npz, *models, cache=cache)
    assert sorted(sources(log).values()) == ["cache", "ran"]
    assert same_report(tmp_path / "a", tmp_path / "b")


def _other_entry(entry: Path) -> Path:
    return next(p for p in sorted(entry.parents[1].rglob("*.npz")) if p != entry)
