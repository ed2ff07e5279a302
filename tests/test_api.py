"""The public API of `import pruneaudit`: its names are the functions, and they work end to end."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace

import pytest

import pruneaudit
from pruneaudit.errors import ConfigError, PruneAuditError
from pruneaudit.gate import Check
from pruneaudit.inference import Silent
from pruneaudit.policy import Selection
from pruneaudit.results import SCHEMA_VERSION, Results
from tests.conftest import DATA, REPORT_FILES, ROOT, SAMPLES

POLICY = ROOT / "examples" / "policy.yaml"
PRUNED = ("global-90", "l1-90", "random-90-s0")
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # MNIST's 60,000 training digits


@pytest.fixture(scope="module")
def config(test_npz):
    ts = SAMPLES / "torchscript"
    return pruneaudit.build_config(dense=ts / "dense.pt", pruned=tuple(ts / f"{n}.pt" for n in PRUNED), data=test_npz)


def test_public_names_are_the_functions():
    expected = {"audit", "audit_to_directory", "render", "select", "check", "load_results"}
    assert expected <= set(pruneaudit.__all__)
    for name in expected:
        assert inspect.isfunction(getattr(pruneaudit, name)), name  # not a submodule of the same name
    from pruneaudit import audit, check

    assert audit is pruneaudit.api.audit and check is pruneaudit.api.check
    assert not inspect.ismodule(pruneaudit.PruneAuditError) and issubclass(pruneaudit.PruneAuditError, Exception)
    import click

    assert not issubclass(PruneAuditError, click.ClickException)  # library errors know nothing of Click


class Counted(Silent):
    """The stages an audit reports, and the images its batches add up to."""

    def __init__(self) -> None:
        self.stages: dict[str, tuple[int, int]] = {}
        self.images = 0

    def stage(self, name: str, *, models: int = 0, images: int = 0) -> None:
        self.stages[name] = (models, images)

    def advance(self, images: int, *, model: str, warm_up: bool = False) -> None:
        self.images += images

    def finished(self, model: str, *, cached: bool = False) -> None:
        if cached:  # from the prediction cache (an earlier test's run): its images, all at once
            self.images += self.stages["Inference"][1]


def test_audit_render_load_select_check(config, tmp_path):
    counted = Counted()
    results = pruneaudit.audit(config, progress=counted)
    assert isinstance(results, Results) and [m.name for m in results.pruned] == list(PRUNED)
    assert results.selection is not None and results.selection.primary == "fairness_aware"
    assert counted.stages["Inference"] == (4, 512) and counted.images == 512 * 4  # every image of every model, once

    pruneaudit.render(results, out_dir=tmp_path)
    saved = pruneaudit.load_results(tmp_path / "results.json")
    assert saved == results  # every value, the tables' arrays included, comes back
    assert saved.model("global-90").vs_dense.accuracy_change == results.model("global-90").vs_dense.accuracy_change

    knee = pruneaudit.select(saved, selection=Selection(primary="knee"))
    assert knee.selection.primary == "knee" and saved.selection.primary == "fairness_aware"  # views are immutable

    checks = pruneaudit.check(saved, policy=pruneaudit.load_policy(POLICY))
    assert checks and all(isinstance(c, Check) for c in checks)


def test_audit_to_directory_gates_and_writes_everything(config, tmp_path):
    results, checks = pruneaudit.audit_to_directory(
        config, out_dir=tmp_path, policy=pruneaudit.load_policy(POLICY), policy_name=str(POLICY)
    )
    assert results.gate is not None and results.gate.total == len(checks)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["gate"]["total"] == len(checks) and "selection" in written
    assert sorted(p.name for p in tmp_path.iterdir()) == list(REPORT_FILES)


def _config_with_selection(tmp_path, test_npz, **selection):
    ts = SAMPLES / "torchscript"
    path = tmp_path / "audit.yaml"
    path.write_text(
        json.dumps(
            {
                "data": {"path": str(test_npz)},
                "dense": {"path": str(ts / "dense.pt")},
                "pruned": [{"path": str(ts / "global-90.pt")}, {"path": str(ts / "l1-90.pt")}],
                "selection": selection,
            }
        )
    )
    return pruneaudit.build_config(config_path=path)


def test_selection_in_config_and_in_policy_is_an_error(tmp_path, test_npz):
    config = _config_with_selection(tmp_path, test_npz, primary="knee")
    with pytest.raises(ConfigError, match="policy.yaml: the audit config also has a 'selection' section"):
        pruneaudit.audit_to_directory(
            config, out_dir=tmp_path / "out", policy=pruneaudit.load_policy(POLICY), policy_name=str(POLICY)
        )
    assert not (tmp_path / "out").exists()  # refused before any inference or write


def test_config_selection_is_used_when_the_policy_has_none(tmp_path, test_npz):
    config = _config_with_selection(tmp_path, test_npz, primary="knee")
    rules_only = tmp_path / "rules.yaml"
    rules_only.write_text("rules:\n  - metric: accuracy_drop\n    max: 0.5\n")
    results, checks = pruneaudit.audit_to_directory(
        config, out_dir=tmp_path / "out", policy=pruneaudit.load_policy(rules_only)
    )
    assert results.selection.primary == "knee" and all(c.passed for c in checks)


def _config_with_train_counts(tmp_path, counts):
    ts = SAMPLES / "torchscript"
    path = tmp_path / "audit.yaml"
    path.write_text(
        json.dumps(
            {
                "data": {"path": str(DATA), "split": 1},
                "dense": {"path": str(ts / "dense.pt")},
                "pruned": [{"path": str(ts / "global-50.pt")}],
                "train_class_counts": counts,
            }
        )
    )
    return pruneaudit.build_config(config_path=path, device="cpu")


def test_train_class_counts_reach_the_results_and_the_card(tmp_path):
    config = _config_with_train_counts(tmp_path, MNIST_TRAIN_COUNTS)
    results, _ = pruneaudit.audit_to_directory(config, out_dir=tmp_path / "out")
    assert results.data.train_class_counts == tuple(MNIST_TRAIN_COUNTS)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION and written["data"]["train_class_counts"] == MNIST_TRAIN_COUNTS
    assert pruneaudit.load_results(tmp_path / "out" / "results.json") == results
    sentence = "Training set: 60,000 images; smallest class 5 (5,421), largest 1 (6,742)."
    assert sentence in (tmp_path / "out" / "card.md").read_text()
    assert sentence in " ".join((tmp_path / "out" / "index.html").read_text().split())


def test_train_class_counts_not_one_per_class_are_refused_naming_the_config(tmp_path):
    config = _config_with_train_counts(tmp_path, MNIST_TRAIN_COUNTS[:9])
    with pytest.raises(ConfigError) as err:
        pruneaudit.audit(config)
    assert str(err.value) == f"{tmp_path / 'audit.yaml'}: train_class_counts has 9 entries but the data has 10 classes"
    assert err.value.exit_code == 2


def test_train_class_counts_of_a_config_built_without_a_file(config):
    with pytest.raises(ConfigError, match=r"^config: train_class_counts has 11 entries but the data has 10 classes$"):
        pruneaudit.audit(replace(config, train_class_counts=(1,) * 11))
