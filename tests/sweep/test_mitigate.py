"""`pruneaudit mitigate` on the sample model l1-90: masks held, the audit's harmed classes, splits kept apart."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from click.testing import CliRunner

from pruneaudit.cli import cli
from pruneaudit.errors import ConfigError
from pruneaudit.mitigation.harm import harmed_classes
from pruneaudit.mitigation.heldout import HELDOUT_FRACTION, ROWS_KEY, heldout_rows, npz_bytes
from pruneaudit.mitigation.objectives import ConstrainedLoss, Reference, class_weights, reweighted
from pruneaudit.mitigation.settings import METHODS, Settings
from pruneaudit.results import load_raw, load_results
from pruneaudit.sweep.masks import weight_names, zero_masks
from tests.conftest import DATA, ROOT, SAMPLES, TinyNet, run_cli

MODEL = "l1-90"


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, args)


@pytest.fixture(scope="module", autouse=True)
def _forget_the_factory_modules():
    """The sample sweep's factory (`cnn`) is imported from sample_models/ here; other tests import it from a copy
    beside their own config, which the factory check refuses while this one is in sys.modules."""
    yield
    for name in ("cnn", "cnn_copy"):
        sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def harm_audit(tmp_path_factory) -> Path:
    """The audit that finds the harm: dense and l1-90 on the test split (1), as the sample audit reads it."""
    out = tmp_path_factory.mktemp("harm") / "report"
    args = ["audit", "--quiet", "--device", "cpu", "--data", str(DATA), "--split", "1", "--out", str(out)]
    args += [
        "--dense",
        str(SAMPLES / "torchscript" / "dense.pt"),
        "--pruned",
        str(SAMPLES / "torchscript" / "l1-90.pt"),
    ]
    assert run_cli(args).exit_code == 0
    return out / "results.json"


def _mitigate_args(results: Path, out: Path, *, config: Path = SAMPLES / "sweep.yaml") -> list[str]:
    return ["mitigate", "--config", str(config), "--results", str(results), "--model", MODEL, "--out", str(out)]


@pytest.fixture(scope="module")
def mitigated(harm_audit, tmp_path_factory) -> Path:
    """Every method, one epoch each, from the committed sample sweep (read, never written)."""
    out = tmp_path_factory.mktemp("mitigate") / "out"
    result = run_cli([*_mitigate_args(harm_audit, out), "--epochs", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"pruneaudit audit --config {out / 'audit.yaml'}" in result.output
    assert result.output.count("vs control: ") == 2  # every method but the control itself
    return out


def _manifest(out: Path) -> dict:
    return json.loads((out / "mitigation.json").read_text())


def _weights(path: Path) -> dict[str, torch.Tensor]:
    module = torch.jit.load(str(path), map_location="cpu")
    params = dict(module.named_parameters())
    return {n: params[n].detach() for n in weight_names(module)}


def test_every_method_keeps_the_mask_bit_for_bit(mitigated):
    before = _weights(SAMPLES / "torchscript" / f"{MODEL}.pt")
    zeros = sum(int((w == 0).sum()) for w in before.values())
    manifest = _manifest(mitigated)
    assert [m["method"] for m in manifest["models"]] == list(METHODS)
    assert manifest["source"]["sparsity"]["zeros"] == zeros
    for m in manifest["models"]:
        after = _weights(mitigated / m["files"]["torchscript"]["path"])
        assert after.keys() == before.keys()
        for name, w in before.items():
            assert torch.all(after[name][w == 0] == 0), (m["name"], name)  # every pruned weight is still zero
        assert sum(int((w == 0).sum()) for w in after.values()) == zeros  # and no other weight became zero
        assert any(not torch.equal(after[n], before[n]) for n in before), m["name"]  # it did train
        assert m["sparsity"]["zeros"] == zeros
        assert m["sparsity"]["measured"] == manifest["source"]["sparsity"]["measured"]


def test_the_classes_weighted_or_constrained_are_the_audits_harmed_classes(mitigated, harm_audit):
    raw = load_raw(harm_audit)
    pruned = next(m for m in raw["models"] if m["name"] == MODEL)
    psi = pruned["vs_dense"]["per_class"]["excess_gap"]
    tol = raw["settings"]["tolerance"]
    expected = [c for c, v in enumerate(psi) if v is not None and v > tol]  # the default rule, read independently
    assert expected  # l1-90 loses class 8 (and others) more than it loses overall
    manifest = _manifest(mitigated)
    assert manifest["harmed"]["rule"] == "excess" and manifest["harmed"]["classes"] == expected
    by_method = {m["method"]: m for m in manifest["models"]}
    assert "classes" not in by_method["finetune"]  # the control touches no class
    assert by_method["reweight"]["classes"] == expected and by_method["constrained"]["classes"] == expected
    assert len(by_method["constrained"]["multipliers"]) == len(expected)
    assert all(v >= 0 for v in by_method["constrained"]["multipliers"])
    assert by_method["constrained"]["epsilon"] == tol  # the default ε is the audit's tolerance


def test_harm_rules_follow_their_definitions(harm_audit):
    results = load_results(harm_audit)
    pc = results.model(MODEL).vs_dense.per_class
    tol, alpha = results.settings.tolerance, results.settings.alpha
    n = results.data.n_classes
    holm = {c for c in range(n) if pc.mcnemar_p_holm[c] < alpha and pc.dense_only[c] > pc.pruned_only[c]}
    tolerance = {c for c in range(n) if pc.recall_change[c] < -tol}
    excess = {c for c in range(n) if pc.excess_gap[c] > tol}
    assert set(harmed_classes(results, model=MODEL, rule="holm", where="r").classes) == holm
    assert set(harmed_classes(results, model=MODEL, rule="tolerance", where="r").classes) == tolerance
    assert set(harmed_classes(results, model=MODEL, rule="excess+holm", where="r").classes) == excess & holm
    assert excess & holm and excess != tolerance  # the rules do differ on this model
    with pytest.raises(ConfigError, match="expected one of excess, tolerance, holm"):
        Settings(rule="excess+worst")


def test_the_held_out_split_is_disjoint_and_never_the_harm_split(mitigated, harm_audit):
    manifest = _manifest(mitigated)
    splits = manifest["splits"]
    harm, held, tune = splits["harm"], splits["heldout"], splits["finetune"]
    assert (harm["file"], harm["split"]) == ("mnist10k.npz", 1)  # the test split chose the classes
    assert held["carved_from"] == {"file": "mnist10k.npz", "split": 0} and held["sha256"] != harm["sha256"]
    d = np.load(DATA)
    train_labels = d["labels"][d["split"] == 0]
    stored = np.load(mitigated / "heldout.npz")
    rows = stored[ROWS_KEY]
    np.testing.assert_array_equal(rows, heldout_rows(train_labels))
    np.testing.assert_array_equal(stored["labels"], train_labels[rows])
    np.testing.assert_array_equal(stored["images"], d["images"][d["split"] == 0][rows])
    assert held["images"] == len(rows) and tune["images"] == len(train_labels) - len(rows)
    counts = np.bincount(train_labels)
    assert np.all(np.abs(np.bincount(train_labels[rows]) - HELDOUT_FRACTION * counts) <= 1)  # stratified
    config = yaml.safe_load((mitigated / "audit.yaml").read_text())
    assert config["data"] == {"path": "heldout.npz"}
    assert [m["name"] for m in config["pruned"]] == [MODEL, *(f"{MODEL}+{m}" for m in METHODS)]
    assert config["dense"]["name"] == "dense"
    techniques = [m["technique"] for m in config["pruned"]]
    assert len(set(techniques)) == len(techniques)  # never pooled with l1-90 as seeds of one configuration


@pytest.fixture(scope="module")
def reaudit(mitigated) -> Path:
    """The re-audit the mitigation's audit.yaml describes, as written."""
    report = mitigated / "report"
    result = run_cli(
        ["audit", "--quiet", "--device", "cpu", "--config", str(mitigated / "audit.yaml"), "--out", str(report)]
    )
    assert result.exit_code == 0, result.output
    return report / "results.json"


def test_the_re_audit_runs_on_the_held_out_split_and_cannot_choose_classes_again(mitigated, reaudit, tmp_path):
    results = load_results(reaudit)
    held = _manifest(mitigated)["splits"]["heldout"]
    assert (results.data.file, results.data.sha256, results.data.n_samples) == (
        "heldout.npz",
        held["sha256"],
        held["images"],
    )
    assert [m.name for m in results.pruned] == [MODEL, *(f"{MODEL}+{m}" for m in METHODS)]
    again = _invoke([*_mitigate_args(reaudit, tmp_path / "again"), "--epochs", "1", "--quiet"])
    assert again.exit_code == 2
    assert "the audit was run on the held-out split that mitigate re-audits on" in again.output
    assert len(again.output.strip().splitlines()) == 1 and not (tmp_path / "again").exists()


def test_each_method_is_paired_with_the_control_on_the_harmed_classes_held_out_images(mitigated, reaudit):
    """vs_control against the re-audit's own counts: method_only − control_only is the difference of the two
    models' correct images over the harmed classes, images their support, p scipy's exact binomial test."""
    from scipy.stats import binomtest

    results, manifest = load_results(reaudit), _manifest(mitigated)
    classes = manifest["harmed"]["classes"]
    control = results.model(f"{MODEL}+finetune")
    assert "vs_control" not in control.metadata and "vs_control" not in manifest["models"][0]
    for entry in manifest["models"][1:]:
        v, m = entry["vs_control"], results.model(entry["name"])
        assert m.metadata["vs_control"] == v  # the re-audit carries what mitigate measured
        assert v["images"] == sum(m.per_class.support[c] for c in classes)
        gained = sum(m.per_class.correct[c] - control.per_class.correct[c] for c in classes)
        assert v["method_only"] - v["control_only"] == gained
        n = v["method_only"] + v["control_only"]
        assert v["p"] == pytest.approx(binomtest(v["method_only"], n, 0.5).pvalue if n else 1.0)


def test_the_findings_section_is_computed_from_the_re_audit(mitigated, reaudit):
    spec = importlib.util.spec_from_file_location("findings", ROOT / "benchmarks" / "findings.py")
    findings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(findings)
    results, manifest = load_results(reaudit), _manifest(mitigated)
    lines = findings.section_mitigation(results, manifest)
    assert lines[0] == "## Mitigation" and lines == findings.section_mitigation(results, manifest)
    text = "\n".join(lines)
    for m in results.pruned:
        row = next(line for line in lines if line.startswith(f"| {m.name} |"))
        assert f"| {100 * m.metrics.accuracy:.1f}% |" in row and f"| {100 * m.facts.sparsity:.1f}% |" in row
    assert f"the same {manifest['source']['sparsity']['zeros']:,} zero weights" in text
    assert "`reweight` against the control" in text and "`constrained` ended with multipliers" in text


def test_the_same_inputs_make_the_same_model_bytes(mitigated, harm_audit, tmp_path):
    out = tmp_path / "again"
    result = run_cli([*_mitigate_args(harm_audit, out), "--epochs", "1", "--method", "constrained", "--quiet"])
    assert result.exit_code == 0, result.output
    name = f"torchscript/{MODEL}+constrained.pt"
    assert (out / name).read_bytes() == (mitigated / name).read_bytes()
    assert (out / "heldout.npz").read_bytes() == (mitigated / "heldout.npz").read_bytes()
    first, second = _manifest(mitigated)["models"][-1], _manifest(out)["models"][0]
    assert first["multipliers"] == second["multipliers"]


def _edited_results(results: Path, folder: Path, edit) -> Path:
    """A copy of a report folder whose results.json is changed by ``edit`` (its tables are untouched)."""
    shutil.copytree(results.parent, folder)
    raw = json.loads((folder / "results.json").read_text())
    edit(raw)
    (folder / "results.json").write_text(json.dumps(raw))
    return folder / "results.json"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown", "no pruned model 'nope'; its pruned models are l1-90"),
        ("dense", "no pruned model 'dense'"),
        ("other data", "which is neither the sweep's eval_data nor its train_data file (mnist10k.npz)"),
        ("training split", "the audit read the harm on the training split (mnist10k.npz, split 0)"),
        ("no harm", "has no class harmed by rule 'tolerance'"),
    ],
)
def test_bad_inputs_are_one_line_errors(harm_audit, tmp_path, case, message):
    results, extra = harm_audit, []
    if case == "other data":
        results = _edited_results(harm_audit, tmp_path / "r", lambda r: r["data"].update(sha256="0" * 64))
    elif case == "training split":
        results = _edited_results(harm_audit, tmp_path / "r", lambda r: r["data"].update(split=0))
    elif case == "no harm":  # no class of l1-90 falls by 50 pp
        results = _edited_results(harm_audit, tmp_path / "r", lambda r: r["settings"].update(tolerance=0.5))
        extra = ["--harmed", "tolerance"]
    args = _mitigate_args(results, tmp_path / "out")
    if case in ("unknown", "dense"):
        args[args.index("--model") + 1] = "nope" if case == "unknown" else "dense"
    result = _invoke([*args, *extra, "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_folder_that_holds_anything_is_refused_before_training(harm_audit, mitigated, tmp_path):
    """A rerun into a finished mitigation (or any folder holding files: the training data, a report) would mix old
    and new files; refused in one line, and the folder is untouched."""
    before = {p.relative_to(mitigated): p.read_bytes() for p in mitigated.rglob("*") if p.is_file()}
    result = _invoke([*_mitigate_args(harm_audit, mitigated), "--epochs", "1", "--quiet"])
    assert result.exit_code == 2 and "exists and is not empty" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert {p.relative_to(mitigated): p.read_bytes() for p in mitigated.rglob("*") if p.is_file()} == before


def test_a_model_without_zeros_has_no_mask_to_hold(harm_audit, tmp_path):
    """A sweep folder whose l1-90 is, file and hashes alike, the dense model: nothing pruned to keep fixed."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    shutil.copy(SAMPLES / "cnn.py", sweep / "cnn_copy.py")  # a module name of its own: `cnn` is already imported
    (sweep / "sweep.yaml").write_text((SAMPLES / "sweep.yaml").read_text().replace('"cnn:', '"cnn_copy:'))
    shutil.copytree(SAMPLES / "data", sweep / "data")
    (sweep / "torchscript").mkdir()
    shutil.copy(SAMPLES / "torchscript" / "dense.pt", sweep / "torchscript" / "dense.pt")
    shutil.copy(SAMPLES / "torchscript" / "dense.pt", sweep / "torchscript" / f"{MODEL}.pt")
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    dense_sha = next(m for m in manifest["models"] if m["name"] == "dense")["files"]["torchscript"]["sha256"]
    entry = next(m for m in manifest["models"] if m["name"] == MODEL)
    entry["files"] = {"torchscript": {"path": f"torchscript/{MODEL}.pt", "sha256": dense_sha}}
    (sweep / "manifest.json").write_text(json.dumps(manifest))

    def same_as_dense(raw: dict) -> None:
        next(m for m in raw["models"] if m["name"] == MODEL)["sha256"] = dense_sha

    results = _edited_results(harm_audit, tmp_path / "r", same_as_dense)
    result = _invoke([*_mitigate_args(results, tmp_path / "out", config=sweep / "sweep.yaml"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "has no weight of 2+ dimensions with a zero in it" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert zero_masks(TinyNet(3)) == {}


def test_the_multiplier_step_is_the_projected_gradient_ascent_step():
    """By hand: λ_c ← max(0, λ_c + η((A_c,dense − Â_c) − (A_dense − Â) − ε)), only for the classes in the batch."""
    ref = Reference(
        accuracy=0.9,
        loss=0.3,
        class_accuracy=np.array([0.95, 0.8, 1.0]),
        class_loss=np.array([0.2, 0.5, 0.1]),
    )
    loss = ConstrainedLoss(classes=(1, 2), reference=ref, epsilon=0.05, dual_lr=0.5)
    labels = torch.tensor([0, 1, 1, 2])
    scores = torch.tensor(
        [[3.0, 0, 0], [2, 1, 0], [0, 2, 1], [1, 0, 0.5]], requires_grad=True
    )  # right, wrong, right, wrong
    value = loss(scores, labels)
    # batch accuracy 2/4; class 1: 1/2, class 2: 0/1
    # ψ̂_1 = (0.8 − 0.5) − (0.9 − 0.5) = −0.1 → λ_1 = max(0, 0 + 0.5 · (−0.1 − 0.05)) = 0
    # ψ̂_2 = (1.0 − 0.0) − (0.9 − 0.5) = 0.6  → λ_2 = 0.5 · (0.6 − 0.05) = 0.275
    assert loss.multipliers.tolist() == pytest.approx([0.0, 0.275], abs=1e-12)
    assert value.item() == pytest.approx(F.cross_entropy(scores, labels).item())  # λ = 0 when the step was taken

    loss.multipliers = torch.tensor([0.3, 0.275], dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0])
    scores = torch.tensor(
        [[3.0, 0, 0], [0, 3, 0], [0, 3, 0], [0, 0, 3]], requires_grad=True
    )  # right, right, right, wrong
    value = loss(scores, labels)
    # batch accuracy 3/4; class 1: 2/2; class 2 absent (λ_2 kept)
    # ψ̂_1 = (0.8 − 1.0) − (0.9 − 0.75) = −0.35 → λ_1 = max(0, 0.3 + 0.5 · (−0.35 − 0.05)) = 0.1
    assert loss.multipliers.tolist() == pytest.approx([0.1, 0.275], abs=1e-12)
    per = F.cross_entropy(scores, labels, reduction="none")
    surrogate = (per[1:3].mean() - 0.5) - (per.mean() - 0.3)
    assert value.item() == pytest.approx((per.mean() + 0.3 * surrogate).item(), rel=1e-6)  # λ before the step
    value.backward()
    manual = scores.detach().clone().requires_grad_(True)
    per = F.cross_entropy(manual, labels, reduction="none")
    (per.mean() + 0.3 * ((per[1:3].mean() - 0.5) - (per.mean() - 0.3))).backward()
    torch.testing.assert_close(scores.grad, manual.grad)


def test_reweighting_weighs_exactly_the_harmed_classes():
    weights = class_weights(5, (1, 3), 2.0)
    assert weights.tolist() == [1.0, 2.0, 1.0, 2.0, 1.0]
    scores, labels = torch.randn(6, 5, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 1, 3, 4, 2])
    per = F.cross_entropy(scores, labels, reduction="none")
    w = weights[labels]
    assert reweighted(weights)(scores, labels).item() == pytest.approx(((w * per).sum() / w.sum()).item())


def test_the_held_out_rows_are_a_fixed_stratified_fifth():
    labels = np.repeat(np.arange(4), [10, 11, 2, 1])
    rows = heldout_rows(labels)
    np.testing.assert_array_equal(rows, heldout_rows(labels.copy()))
    assert np.bincount(labels[rows], minlength=4).tolist() == [2, 2, 1, 0]  # ≥ 1 of a class of two, never all
    assert npz_bytes({"a": np.arange(3)}) == npz_bytes({"a": np.arange(3)})
    assert np.load(__import__("io").BytesIO(npz_bytes({"a": np.arange(3)})))["a"].tolist() == [0, 1, 2]


def test_a_one_shot_variant_is_fine_tuned_with_the_plain_defaults(tmp_path):
    """A variant made without fine-tuning (finetune: null) has no settings of its own to repeat: it gets
    `Training`'s defaults, like a model from an audit config, and its mask holds."""
    name = "oneshot-global-90"
    report = tmp_path / "harm"
    args = ["audit", "--quiet", "--device", "cpu", "--data", str(DATA), "--split", "1", "--out", str(report)]
    args += [
        "--dense",
        str(SAMPLES / "torchscript" / "dense.pt"),
        "--pruned",
        str(SAMPLES / "torchscript" / f"{name}.pt"),
    ]
    assert run_cli(args).exit_code == 0
    out = tmp_path / "out"
    command = ["mitigate", "--config", str(SAMPLES / "sweep.yaml"), "--results", str(report / "results.json")]
    command += ["--model", name, "--out", str(out), "--epochs", "1", "--method", "finetune", "--quiet"]
    result = run_cli(command)
    assert result.exit_code == 0, result.output
    manifest = _manifest(out)
    assert manifest["training"]["optimizer"] == "sgd" and manifest["training"]["epochs"] == 1
    before = _weights(SAMPLES / "torchscript" / f"{name}.pt")
    after = _weights(out / manifest["models"][0]["files"]["torchscript"]["path"])
    assert all(torch.all(after[n][w == 0] == 0) for n, w in before.items())
    assert manifest["models"][0]["sparsity"]["zeros"] == manifest["source"]["sparsity"]["zeros"]
