"""Configuration-level bad input: the config, card and policy files, results.json, and the gate's summary file.

Each case goes through the CLI and asserts the promise: exit 2, one ``Error:`` line naming the file,
no traceback, and no report written (an old report in ``--out`` stays byte-identical).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pruneaudit.api import select
from pruneaudit.errors import DataError
from pruneaudit.results import parse_results
from tests.conftest import SAMPLES
from tests.hostile.conftest import assert_user_error, invoke, tree_digest
from tests.results_factory import model, view

DENSE = SAMPLES / "torchscript" / "dense.pt"
PRUNED = SAMPLES / "torchscript" / "l1-50.pt"


def _q(path: Path) -> str:
    """A path as a YAML scalar (JSON strings are YAML)."""
    return json.dumps(str(path))


def _write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _config(tmp_path: Path, data: Path, *, model: str = "", top: str = "") -> Path:
    """A valid config (one dense, one pruned model) with ``model`` added to the pruned mapping and ``top`` appended."""
    text = f"data: {{path: {_q(data)}}}\ndense: {{path: {_q(DENSE)}}}\npruned:\n  - {{path: {_q(PRUNED)}{model}}}\n"
    return _write(tmp_path / "audit.yaml", text + top)


def _old_report(tmp_path: Path) -> Path:
    out = tmp_path / "report"
    out.mkdir(exist_ok=True)
    (out / "index.html").write_text("previous report")
    return out


def _audit(tmp_path: Path, *args) -> tuple:
    """Audit into a folder holding an old report: (outcome, whether the old report is byte-identical)."""
    out = _old_report(tmp_path)
    before = tree_digest(out)
    outcome = invoke(["audit", "--quiet", *args, "--out", out])
    return outcome, tree_digest(out) == before


def _results_mapping() -> dict:
    """A complete results mapping with its selection block, as `pruneaudit audit` writes it."""
    pruned = [
        model("a50", acc=0.95, worst=-0.01, sparsity=0.5, amount=0.5),
        model("a90", acc=0.94, worst=-0.05, sparsity=0.9, amount=0.9),
    ]
    for m in pruned:  # the card draws per-class changes, their intervals and tests: give it some
        per_class = m["vs_dense"]["per_class"]
        change = [0.0, m["vs_dense"]["worst_class_change"]["value"]]
        per_class.update({key: [1.0, 1.0] for key in ("mcnemar_p", "mcnemar_p_bh", "mcnemar_p_holm")})
        per_class.update(excess_gap=change, normalised_change=change, recall_change=change)
        per_class["recall_change_ci"] = {"high": change, "low": change}
    return json.loads(json.dumps(select(view(*pruned)).raw))


@pytest.fixture
def results_file(tmp_path) -> Path:
    return _write(tmp_path / "results.json", json.dumps(_results_mapping()))


# -- config, card and policy files: not UTF-8, a folder, missing ----------------------------------------

BAD_FILES = {
    "not-utf8": lambda p: _write(p, b"name: caf\xe9\n"),
    "a-folder": lambda p: (p.mkdir(), p)[1],
    "missing": lambda p: p,
}
BAD_FILE_SAYS = {"not-utf8": "not UTF-8 text (byte 0xe9 on line 1)", "a-folder": "is a folder", "missing": "not found"}


def _entry(command: str, option: str, path: Path, tmp_path: Path, test_npz: Path, results: Path) -> list:
    if command == "audit":
        return ["audit", "--quiet", "--dense", DENSE, "--pruned", PRUNED, "--data", test_npz, option, path]
    if command == "render":
        return ["render", results, option, path]
    return [command, results, option, path] + (["--max-accuracy-drop", "1"] if command == "check" else [])


@pytest.mark.parametrize("kind", BAD_FILES)
@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("audit", "--config"),
        ("audit", "--card"),
        ("audit", "--policy"),
        ("render", "--card"),
        ("select", "--policy"),
        ("check", "--policy"),
    ],
)
def test_unreadable_config_card_or_policy_file(tmp_path, test_npz, results_file, command, option, kind):
    path = BAD_FILES[kind](tmp_path / "given.yaml")
    out = _old_report(tmp_path)
    before = tree_digest(out)
    args = _entry(command, option, path, tmp_path, test_npz, results_file)
    outcome = invoke([*args, "--out", out] if command in ("audit", "render") else args)
    assert_user_error(outcome, names=path, says=BAD_FILE_SAYS[kind])
    assert tree_digest(out) == before


# -- every value of a model mapping has its type, checked before any model is loaded -------------------


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (", name: [a, b]", "name must be non-empty text; received ['a', 'b']"),
        (", name: ''", "name must be non-empty text; received ''"),
        (", format: {onnx: 1}", "format must be text; received {'onnx': 1}"),
        (", technique: [l1]", "technique must be text; received ['l1']"),
        (", amount: lots", "amount must be a number in [0, 1]; received 'lots'"),
        (", amount: 1.5", "amount must be a number in [0, 1]; received 1.5"),
        (", amount: .nan", "amount must be a number in [0, 1]; received nan"),
        (", seed: 1.5", "seed must be an integer; received 1.5"),
        (", seed: '0'", "seed must be an integer; received '0'"),
        (", finetune_epochs: -1", "finetune_epochs must be a non-negative integer; received -1"),
        (", finetune_epochs: true", "finetune_epochs must be a non-negative integer; received True"),
        (", notes: {a: 1}", "notes must be text; received {'a': 1}"),
        (", output: [0]", "output must be a key (text) or an index (integer); received [0]"),
        (", output: true", "output must be a key (text) or an index (integer); received True"),
        (", class_order: [[a]]", "class_order must be a list of class names (text); received [['a']]"),
        (", class_order: zero", "class_order must be a list of class names (text); received 'zero'"),
        (", factory: 5", "factory must be text; received 5"),
        (", factory_kwargs: [1]", "factory_kwargs must be a mapping; received [1]"),
    ],
    ids=lambda v: v.split(":")[0].strip(", ") if v.startswith(",") else None,
)
def test_model_mapping_value_of_the_wrong_type(tmp_path, test_npz, entry, says):
    config = _config(tmp_path, test_npz, model=entry)
    outcome, intact = _audit(tmp_path, "--config", config)
    line = assert_user_error(outcome, names=config, says=says)
    assert "pruned[0]" in line and intact


def test_model_path_that_is_not_text_is_named_as_the_key(tmp_path, test_npz):
    config = _write(
        tmp_path / "audit.yaml",
        f"data: {{path: {_q(test_npz)}}}\ndense: {{path: [a.pt]}}\npruned: [{{path: {_q(PRUNED)}}}]\n",
    )
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says="dense: path must be text (a file path); received ['a.pt']")
    assert intact


def test_a_long_value_is_quoted_short(tmp_path, test_npz):
    config = _config(tmp_path, test_npz, model=f", notes: [{', '.join(['word'] * 5000)}]")
    outcome, intact = _audit(tmp_path, "--config", config)
    line = assert_user_error(outcome, names=config, says="notes must be text; received ['word', ")
    assert len(line) < 400 and intact


# -- model and data paths that are folders -----------------------------------------------------------


@pytest.mark.parametrize("folder_name", ["models", "dense.pt", "dense.onnx"])
def test_dense_model_given_a_folder(tmp_path, test_npz, folder_name):
    folder = tmp_path / folder_name
    folder.mkdir()
    outcome, intact = _audit(tmp_path, "--dense", folder, "--pruned", PRUNED, "--data", test_npz)
    assert_user_error(outcome, names=folder, says="is a folder; expected a model file")
    assert intact


def test_config_model_path_that_is_a_folder(tmp_path, test_npz):
    (tmp_path / "pruned.pt").mkdir()
    config = _write(
        tmp_path / "audit.yaml",
        f"data: {{path: {_q(test_npz)}}}\ndense: {{path: {_q(DENSE)}}}\npruned: [{{path: pruned.pt}}]\n",
    )
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=tmp_path / "pruned.pt", says="is a folder")
    assert intact


# -- the shape of the config file itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("- dense.pt\n- pruned.pt\n", "expected a mapping, received list"),
        ("dense.pt\n", "expected a mapping, received str"),
        ("false\n", "expected a mapping, received bool"),
        ("0\n", "expected a mapping, received int"),
        ("a: 1\n---\nb: 2\n", "not valid YAML (but found another document on line 2)"),
        ("dense: {path: x.pt\n", "not valid YAML"),
        ("dense: {path: \x00}\n", "not valid YAML (unacceptable character #x0000"),
    ],
    ids=["list", "scalar", "false", "zero", "two-documents", "unclosed", "nul-byte"],
)
def test_config_file_that_is_no_mapping_or_no_yaml(tmp_path, text, says):
    config = _write(tmp_path / "audit.yaml", text)
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says=says)
    assert intact


@pytest.mark.parametrize(
    ("top", "says"),
    [
        ('batch_size: "256"\n', "batch_size must be a positive integer; received '256'"),
        ("batch_size: 1.5\n", "batch_size must be a positive integer; received 1.5"),
        ("tolerance: .nan\n", "tolerance must be a number in [0, 1); received nan"),
        ("tolerance: -0.1\n", "tolerance must be a number in [0, 1); received -0.1"),
        ("alpha: 1\n", "alpha must be a number in [0, 1); received 1"),
        ('timings: "no"\n', "timings must be true or false; received 'no'"),
        ("dense_seeds: {path: x.pt}\n", "'dense_seeds' must be a list of models"),
        ("batch_size: 8\nbatch_size: 9\n", "key 'batch_size' given twice on line 6"),
    ],
    ids=[
        "batch-text",
        "batch-float",
        "tolerance-nan",
        "tolerance-negative",
        "alpha-1",
        "timings-text",
        "seeds-map",
        "dup",
    ],
)
def test_config_setting_of_the_wrong_type(tmp_path, test_npz, top, says):
    config = _config(tmp_path, test_npz, top=top)
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says=says)
    assert intact


def test_pruned_given_a_mapping_instead_of_a_list(tmp_path, test_npz):
    config = _write(
        tmp_path / "audit.yaml",
        f"data: {{path: {_q(test_npz)}}}\ndense: {{path: {_q(DENSE)}}}\npruned: {{path: {_q(PRUNED)}}}\n",
    )
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says="'pruned' must be a list of models")
    assert intact


def test_duplicate_key_inside_a_model_mapping(tmp_path, test_npz):
    config = _config(tmp_path, test_npz, model=", name: a, name: b")
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says="key 'name' given twice on line 4")
    assert intact


# -- files built to exhaust the reader ---------------------------------------------------------------

BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize("option", ["--config", "--policy", "--card"])
def test_yaml_alias_bomb_is_refused_quickly(tmp_path, test_npz, option):
    """Nine levels of nine aliases: 387 million values once expanded, from 400 bytes."""
    path = _write(tmp_path / "bomb.yaml", BILLION_LAUGHS + "notes: *i\n")
    start = time.perf_counter()
    outcome, intact = _audit(tmp_path, "--dense", DENSE, "--pruned", PRUNED, "--data", test_npz, option, path)
    assert_user_error(outcome, names=path, says="more than 100000 values once aliases are expanded")
    assert intact and time.perf_counter() - start < 5


def test_recursive_alias_is_refused(tmp_path):
    config = _write(tmp_path / "audit.yaml", "dense: &d {path: x.pt, factory_kwargs: {loop: *d}}\n")
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says="an alias refers to its own anchor")
    assert intact


def test_deeply_nested_config_is_refused(tmp_path):
    config = _write(
        tmp_path / "audit.yaml", "dense: {path: x.pt, factory_kwargs: {a: " + "[" * 200 + "]" * 200 + "}}\n"
    )
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says="nested more than")
    assert intact


def test_huge_config_file_is_refused_unparsed(tmp_path):
    config = _write(tmp_path / "audit.yaml", "# padding\n" * 120_000)
    start = time.perf_counter()
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says="larger than 1048576 bytes")
    assert intact and time.perf_counter() - start < 5


def test_yaml_python_tag_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    config = _write(tmp_path / "audit.yaml", f'dense: !!python/object/apply:os.system ["touch {marker}"]\n')
    outcome, intact = _audit(tmp_path, "--config", config)
    assert_user_error(outcome, names=config, says="could not determine a constructor")
    assert intact and not marker.exists()


# -- card fields --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: {first: a}\n", "name must be text, received {'first': 'a'}"),
        ("owners: [{name: a}]\n", "owners must be a list of text items, received [{'name': 'a'}]"),
        ("owners: someone\n", "owners must be a list of text items, received 'someone'"),
        ("- name\n", "expected a mapping, received list"),
    ],
    ids=["text-a-mapping", "list-of-mappings", "list-a-scalar", "top-level-list"],
)
def test_card_field_of_the_wrong_type(tmp_path, results_file, text, says):
    card = _write(tmp_path / "card.yaml", text)
    out = _old_report(tmp_path)
    before = tree_digest(out)
    assert_user_error(invoke(["render", results_file, "--card", card, "--out", out]), names=card, says=says)
    assert tree_digest(out) == before


# -- policy values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rules:\n  - {metric: [accuracy], max: 1}\n", "rules[0].metric: unknown metric ['accuracy']"),
        ("rules:\n  - {metric: {a: 1}, max: 1}\n", "rules[0].metric: unknown metric {'a': 1}"),
        ("rules:\n  - {metric: accuracy, max: high}\n", "rules[0].max: expected a finite number, received 'high'"),
        ("rules:\n  - {metric: accuracy, max: .inf}\n", "rules[0].max: expected a finite number, received inf"),
        ("rules:\n  - {metric: accuracy, min: 0.5, scope: 5}\n", "scope must be one of all, selected"),
        ("rules:\n  - {metric: accuracy, min: 0.5, scope: []}\n", "a non-empty list of model names; received []"),
        ("rules:\n  - {metric: accuracy, min: 0.5, scope: [1]}\n", "a non-empty list of model names; received [1]"),
        ("rules:\n  - {metric: accuracy, min: 0.5, name: [x]}\n", "rules[0].name: expected text, received ['x']"),
        ("rules:\n  - {metric: accuracy, min: 0.5, tolerance: -0.1}\n", "tolerance must be >= 0; received -0.1"),
        ("rules:\n  - {metric: accuracy, min: 0.5, tolerance: .nan}\n", "tolerance: expected a finite number"),
        ("rules: {}\n", "'rules' must be a list; received {}"),
        ("rules: []\nbaseline: []\n", "baseline: expected a mapping, received list"),
        ("baseline: {max_accuracy_regression: lots}\n", "baseline.max_accuracy_regression: expected a finite number"),
        ("selection: {prefer: [sparsity]}\n", "selection.prefer: unknown metric ['sparsity']"),
        ("selection: {knee: {x: [sparsity]}}\n", "selection.knee.x: unknown metric ['sparsity']"),
        ("selection: {primary: [knee]}\n", "selection.primary: expected one of accuracy_only"),
        ("selection: {fairness: {metric: accuracy}}\n", "selection.fairness: expected a list of constraints"),
        ("- rules\n", "expected a mapping, received list"),
        ("0\n", "expected a mapping, received int"),
    ],
)
def test_policy_value_of_the_wrong_type(tmp_path, results_file, text, says):
    policy = _write(tmp_path / "policy.yaml", text)
    junit = tmp_path / "gate.xml"
    outcome = invoke(["check", results_file, "--policy", policy, "--max-accuracy-drop", "1", "--junit", junit])
    assert_user_error(outcome, names=policy, says=says)
    assert not junit.exists()


# -- results.json with the required keys but wrong types, or names that do not resolve ---------------


def _configuration(models: list[str], *, label: int = 0) -> dict:
    exemplar = {"dense_pred": 0, "fragility": 1, "index": 0, "label": label, "pruned_pred": 1, "thumbnail": ""}
    return {
        "amount": None,
        "models": models,
        "pie_count": 1,
        "pie_fraction": 0.01,
        "population_test": None,
        "technique": None,
        "top_pies": [exemplar],
    }


def _subgroups(groups: list[tuple[int, str]]):
    """A mutation adding subgroup comparisons: (pruned model index, group) pairs, copied from the model's comparison."""

    def mutate(r: dict) -> dict:
        for i, group in groups:
            m = r["models"][i]
            vs, pc = m["vs_dense"], m["vs_dense"]["per_class"]
            per_class = {k: pc[k] for k in ("mcnemar_p_holm", "recall_change", "recall_change_ci")}
            r["subgroups"].append(
                {k: v for k, v in vs.items() if k != "per_class"}
                | {"dense_accuracy": 0.95, "pruned_accuracy": m["metrics"]["accuracy"], "n_samples": 50}
                | {"group": group, "grouping": "site", "model": m["name"], "per_class": per_class | {"support": [1, 1]}}
            )
        return r

    return mutate


def _set(path: str, value):
    """A mutation of the results mapping: ``path`` is dotted, numbers index lists."""

    def mutate(r: dict) -> dict:
        *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
        target = r
        for k in parents:
            target = target[k]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
        return r

    return mutate


_DELETE = object()

BAD_RESULTS = {
    "models-an-object": (_set("models", {"dense": {}}), "models: expected a list, received an object"),
    "per-class-value-text": (
        _set("models.1.per_class.recall.0", "0.9"),
        "models[1].per_class.recall[0]: expected a number or null, received text",
    ),
    "per-class-too-short": (
        _set("models.1.per_class.recall", [0.9]),
        "models[1].per_class.recall: expected 2 values (one per class), received 1",
    ),
    "n-classes-mismatch": (_set("data.n_classes", 3), "data.class_names: expected 3 names, received 2"),
    "model-name-a-number": (_set("models.1.name", 50), "models[1].name: expected str, received 50"),
    "role-unknown": (_set("models.1.role", "sparse"), "models[1].role: expected 'pruned'"),
    "picks-missing-a-policy": (
        _set("selection.picks.accuracy_only", _DELETE),
        "selection.picks: expected a pick per policy (accuracy_only, fairness_aware, value_function, knee)",
    ),
    "primary-not-a-policy": (
        _set("selection.primary", "best"),
        "selection.primary: expected one of accuracy_only, fairness_aware, value_function, knee, received 'best'",
    ),
    "pick-names-no-model": (
        _set("selection.picks.fairness_aware.model", "ghost"),
        "selection.picks.fairness_aware.model: expected the name of a pruned model, received 'ghost'",
    ),
    "pick-names-the-dense-model": (
        _set("selection.picks.knee.model", "dense"),
        "selection.picks.knee.model: expected the name of a pruned model, received 'dense'",
    ),
    "exemplar-class-out-of-range": (
        _set("configurations", [_configuration(["a50"], label=7)]),
        "configurations[0].top_pies[0].label: expected a class in [0, 2), received 7",
    ),
    "interval-null-where-the-value-is-not": (
        _set("models.1.vs_dense.per_class.recall_change_ci.low.1", None),
        "models[1].vs_dense.per_class.recall_change_ci.low[1]: expected a number, as recall_change[1], received null",
    ),
    "test-null-where-the-change-is-not": (
        _set("models.2.vs_dense.per_class.mcnemar_p_holm.0", None),
        "models[2].vs_dense.per_class.mcnemar_p_holm[0]: expected a number, as recall_change[0], received null",
    ),
    "accuracy-change-null": (
        _set("models.1.vs_dense.accuracy_change", None),
        "models[1].vs_dense.accuracy_change: expected a number where both accuracies are",
    ),
    "subgroup-given-twice": (
        _subgroups([(1, "north"), (1, "north"), (2, "north")]),
        "subgroups: expected every model compared once on each group of 'a50'; received 'a50' twice on site='north'",
    ),
    "subgroup-missing-for-a-model": (
        _subgroups([(1, "north"), (1, "south"), (2, "north")]),
        "subgroups: expected every model compared once on each group of 'a50'; received 'a90' without site='south'",
    ),
    "subgroup-names-no-model": (
        _set("subgroups", [_subgroups([(1, "north")])(_results_mapping())["subgroups"][0] | {"model": "ghost"}]),
        "subgroups[0].model: expected the name of a pruned model, received 'ghost'",
    ),
    "amount-text": (_set("models.1.metadata.amount", "lots"), "models[1].metadata.amount: expected a number in [0, 1]"),
    "technique-a-list": (_set("models.1.metadata.technique", ["l1"]), "models[1].metadata.technique: expected text"),
    "finetune-epochs-negative": (
        _set("models.1.metadata.finetune_epochs", -1),
        "models[1].metadata.finetune_epochs: expected a non-negative integer",  # the config's rule, one definition
    ),
    "confusion-class-out-of-range": (
        _set("models.0.confusion", [[0, 99, 1]]),
        "models[0].confusion[0]: expected [true, predicted, count] with classes in [0, 2)",
    ),
    "confusion-cell-short": (_set("models.0.confusion", [[0, 1]]), "models[0].confusion[0]: expected [true, predicted"),
}
RAW_RESULTS = {
    "nan-token": (lambda text: text.replace('"accuracy": 0.94', '"accuracy": NaN', 1), "NaN is not a JSON number"),
    "infinity-token": (
        lambda text: text.replace('"accuracy": 0.94', '"accuracy": -Infinity', 1),
        "-Infinity is not a JSON number",
    ),
    "deeply-nested": (lambda text: text[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    "integer-too-long": (lambda text: text.replace('"n_samples": 100', '"n_samples": 1' + "0" * 5000), "invalid JSON"),
    "not-utf8": (lambda text: text.encode("utf-8").replace(b'"a50"', b'"a\xff50"'), "not UTF-8 text"),
    "top-level-list": (lambda text: "[" + text + "]", "expected keys schema_version, data, models"),
}
COMMANDS = ["render", "select", "check", "check --baseline"]


def _run_on(command: str, bad: Path, tmp_path: Path):
    """Run ``command`` with ``bad`` as its results (or baseline); nothing may be written."""
    good = _write(tmp_path / "good.json", json.dumps(_results_mapping()))
    out, junit = _old_report(tmp_path), tmp_path / "gate.xml"
    before = tree_digest(out)
    args = {
        "render": ["render", bad, "--out", out],
        "select": ["select", bad],
        "check": ["check", bad, "--max-accuracy-drop", "1", "--junit", junit],
        "check --baseline": ["check", good, "--baseline", bad, "--junit", junit],
    }[command]
    outcome = invoke(args)
    assert tree_digest(out) == before and not junit.exists()
    return outcome


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", BAD_RESULTS)
def test_results_with_wrong_types_or_names(tmp_path, command, case):
    mutate, says = BAD_RESULTS[case]
    bad = _write(tmp_path / "results.json", json.dumps(mutate(_results_mapping())))
    assert_user_error(_run_on(command, bad, tmp_path), names=bad, says=says)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", RAW_RESULTS)
def test_results_that_are_not_json_a_reader_can_use(tmp_path, command, case):
    edit, says = RAW_RESULTS[case]
    bad = _write(tmp_path / "results.json", edit(json.dumps(_results_mapping(), indent=1)))
    assert_user_error(_run_on(command, bad, tmp_path), names=bad, says=says)


@pytest.mark.parametrize("command", COMMANDS)
def test_results_path_that_is_a_folder(tmp_path, command):
    bad = tmp_path / "results.json"
    bad.mkdir()
    assert_user_error(_run_on(command, bad, tmp_path), names=bad, says="is a folder")


def test_a_non_finite_number_is_refused_through_the_api_too():
    """`parse_results` on a mapping built in Python: NaN could not be written back as JSON."""
    raw = _results_mapping()
    raw["models"][1]["metrics"]["accuracy"] = float("nan")
    with pytest.raises(DataError, match=r"models\[1\]\.metrics\.accuracy: expected a number, received nan"):
        parse_results(raw)


def test_a_valid_results_file_still_reads(tmp_path, results_file):
    """The mutations above start from a file every command accepts."""
    assert invoke(["select", results_file]).exit_code == 0
    assert invoke(["check", results_file, "--max-accuracy-drop", "1"]).exit_code == 0
    assert invoke(["render", results_file, "--out", tmp_path / "report"]).exit_code == 0


# -- where `pruneaudit check` appends its summary ------------------------------------------------------


@pytest.mark.parametrize("where", ["a-folder", "no-parent", "disk-full"])
def test_step_summary_that_cannot_be_written(tmp_path, results_file, where):
    if where == "disk-full" and not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    summary = {
        "a-folder": tmp_path,
        "no-parent": tmp_path / "missing" / "summary.md",
        "disk-full": Path("/dev/full"),
    }[where]
    outcome = invoke(["check", results_file, "--max-accuracy-drop", "1"], env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert_user_error(outcome, names=summary, says="cannot append the GITHUB_STEP_SUMMARY")
