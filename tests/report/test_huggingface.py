"""card.md as the Hugging Face Hub reads it: huggingface_hub's own ModelCard loads, reads and saves it.

The client is real (the dev extra) and runs offline: every card is loaded from a local file.
"""

from __future__ import annotations

import copy
import os
import re

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub reads its settings: no test reaches the Hub

import pytest
import yaml
from huggingface_hub import EvalResult, ModelCard
from huggingface_hub.utils import HFValidationError, validate_repo_id

import pruneaudit
from pruneaudit.card import HUB_LICENCES, load_card, parse_card
from pruneaudit.errors import ConfigError
from pruneaudit.report import render_markdown
from pruneaudit.results import load_results, parse_results, stored_files, with_blocks
from pruneaudit.results.view import is_hub_id
from tests.conftest import SAMPLES

CARD_TITLE = "MNIST digit classifier (sample, pruned variants)"


def _front(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture(scope="module")
def released(sample_audit, tmp_path_factory):
    """The sample audit rendered again with the sample card.yaml, as `pruneaudit render --card` writes it."""
    results = load_results(sample_audit["torchscript"] / "results.json")
    out = tmp_path_factory.mktemp("hub")
    pruneaudit.render(results, out_dir=out, card=load_card(SAMPLES / "card.yaml"))
    return out / "card.md", load_results(out / "results.json")


def _card(tmp_path, results) -> ModelCard:
    path = tmp_path / "README.md"  # what a model repository calls its card
    path.write_text(render_markdown(results), encoding="utf-8")
    return ModelCard.load(path)


def test_the_sample_card_is_one_model_index_entry_for_the_released_model(released):
    path, results = released
    card = ModelCard.load(path)
    picked = results.selection.primary_pick.model
    assert picked == "global-80"  # the fairness-aware pick, the primary policy
    assert card.data.model_name == picked and len(_front(path.read_text())["model-index"]) == 1
    model = results.model(picked)
    got = {(r.metric_type, r.metric_name): r for r in card.data.eval_results}
    expected = {
        ("accuracy", "Top-1 accuracy"): model.metrics.accuracy,
        ("recall", "Balanced accuracy (macro-averaged recall)"): model.metrics.balanced_accuracy,
        ("f1", "Macro-F1"): model.metrics.macro_f1,
        ("worst_class_recall", "Worst-class recall"): model.metrics.worst_class_recall.value,
        ("accuracy_change", "Top-1 accuracy change vs dense"): model.vs_dense.accuracy_change,
        ("worst_class_recall_change", "Worst-class recall change vs dense"): model.vs_dense.worst_class_change.value,
        (
            "significantly_harmed_classes",
            "Classes significantly harmed vs dense (McNemar, Holm)",
        ): model.vs_dense.harmed_significant_holm,
    }
    assert {k: r.metric_value for k, r in got.items()} == expected
    assert got[("recall", "Balanced accuracy (macro-averaged recall)")].metric_args == {"average": "macro"}
    for r in card.data.eval_results:  # the dataset as audit.yaml names it, not the file and the split number
        assert (r.dataset_name, r.dataset_type, r.dataset_split) == ("MNIST", "ylecun/mnist", "test")
        assert (r.task_type, r.task_name) == ("image-classification", "Image classification")
    assert card.data.license == "apache-2.0" and card.data.license_link is None
    assert (card.data.library_name, card.data.pipeline_tag) == ("pytorch", "image-classification")
    assert card.data.base_model is None  # the sample card.yaml names none


def test_load_and_save_lose_nothing_and_keep_the_title_and_every_variant(released, tmp_path):
    path, results = released
    card = ModelCard.load(path)
    card.save(tmp_path / "saved.md")
    again = ModelCard.load(tmp_path / "saved.md")
    written = _front(path.read_text())
    assert "model_name" not in written  # the Hub takes the model's name from its model-index entry
    assert card.data.to_dict() == written
    assert again.data.to_dict() == written and _front((tmp_path / "saved.md").read_text()) == written
    assert again.data.eval_results == card.data.eval_results and again.data.model_name == "global-80"
    assert again.text == card.text and again.text.lstrip("\n").startswith(f"# {CARD_TITLE}\n")
    table = again.text.split("## Quantitative analyses")[1].split("\n## ")[0]
    rows = re.findall(r"^\| ([^|]+?) \| ", table, flags=re.M)
    assert rows[1:] == [m.name for m in results.models]  # after the header: every variant, in order
    assert "describes **global-80**, the primary pick (fairness-aware policy)" in again.text


def test_with_nothing_picked_the_card_describes_the_dense_model(sample_results, tmp_path):
    raw = copy.deepcopy(sample_results)
    primary = raw["selection"]["primary"]
    raw["selection"]["picks"][primary].update(model=None, feasible=False)
    raw["card"] = parse_card({"base_model": "owner/dense-mnist", "licence": "MIT"}, where="card.yaml")
    card = _card(tmp_path, parse_results(raw))
    assert card.data.model_name == "dense"
    assert {r.metric_type for r in card.data.eval_results} == {"accuracy", "recall", "f1", "worst_class_recall"}
    assert card.data.base_model is None  # the dense model is the base model, not derived from it
    assert card.data.license == "mit"
    assert (
        "describes **dense**, the dense model: the primary policy (fairness-aware) picked no pruned model" in card.text
    )
    unselected = with_blocks(parse_results(raw), selection=None)
    assert _card(tmp_path, unselected).data.model_name == "dense"


def test_a_pruned_release_names_its_base_model_and_an_other_licence(sample_view, tmp_path):
    owner = {
        "base_model": "owner/dense-mnist",
        "licence": "other",
        "licence_name": "sample-licence-1.0",
        "licence_link": "LICENSE.md",
        "library_name": "onnx",
    }
    card = _card(tmp_path, with_blocks(sample_view, card=parse_card(owner, where="card.yaml")))
    assert card.data.base_model == "owner/dense-mnist"
    assert (card.data.license, card.data.license_name, card.data.license_link) == (
        "other",
        "sample-licence-1.0",
        "LICENSE.md",
    )
    assert card.data.library_name == "onnx"
    assert "**Licence:** other (sample-licence-1.0, LICENSE.md)" in card.text
    card.save(tmp_path / "saved.md")
    assert ModelCard.load(tmp_path / "saved.md").data.to_dict() == card.data.to_dict()


def test_an_older_results_file_still_renders_a_card_the_hub_loads(sample_results, tmp_path):
    """Schema 2.1: no dataset names (the file names the dataset), and a free-text licence in the card block."""
    raw = copy.deepcopy(sample_results)
    raw["schema_version"] = "2.1"
    for key in ("name", "hf_id", "split_name"):
        raw["data"].pop(key, None)
    raw["card"] = {"licence": "Apache-2.0 (models); the digits are CC BY-SA 3.0", "name": CARD_TITLE}
    card = _card(tmp_path, parse_results(raw))
    (result, *_) = card.data.eval_results
    assert (result.dataset_name, result.dataset_type, result.dataset_split) == ("mnist10k.npz", "mnist10k.npz", None)
    assert (card.data.license, card.data.license_name) == ("other", raw["card"]["licence"])


def test_a_licence_that_is_no_hub_id_is_published_as_other(sample_results, tmp_path):
    """Free text without a space (a tab, a hand-edited results.json) is still no Hub id: `other`, named."""
    raw = copy.deepcopy(sample_results)
    raw["card"] = {"licence": "Apache-2.0\tBSD", "name": CARD_TITLE}
    card = _card(tmp_path, parse_results(raw))
    assert (card.data.license, card.data.license_name) == ("other", "Apache-2.0\tBSD")


def test_dataset_names_round_trip_through_the_saved_results(sample_results, tmp_path):
    raw = copy.deepcopy(sample_results)
    raw["data"].update(name="MNIST (test digits)", hf_id="ylecun/mnist", split_name="test")
    for name, data in stored_files(raw).items():
        (tmp_path / name).write_bytes(data.encode() if isinstance(data, str) else data)
    data = load_results(tmp_path / "results.json").data
    assert (data.name, data.hf_id, data.split_name) == ("MNIST (test digits)", "ylecun/mnist", "test")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"hf_id": "datasets/ylecun/mnist"}, "data.hf_id: expected a Hugging Face Hub id"),
        ({"hf_id": 7}, "data.hf_id: expected str, received 7"),
        ({"name": ""}, "data.name: expected non-empty text or null, received ''"),
    ],
)
def test_dataset_names_are_checked_when_read(sample_results, data, message):
    raw = copy.deepcopy(sample_results)
    raw["data"].update(data)
    with pytest.raises(pruneaudit.PruneAuditError, match=re.escape(message)):
        parse_results(raw)


@pytest.mark.parametrize(
    "repo_id",
    ["ylecun/mnist", "mnist", "Foo-BAR_foo.bar123", "a/b", "_x", "x" * 96, "o/" + "b" * 96]
    + ["a/b/c", ".repo", "repo.", "-repo", "foo--bar", "a..b", "foo.git", "o/b.git", "", "x" * 97, "café", "a b"],
)
def test_hub_ids_are_the_ones_huggingface_hub_accepts(repo_id):
    try:
        validate_repo_id(repo_id)
        valid = True
    except HFValidationError:
        valid = False
    assert is_hub_id(repo_id) == valid


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ({"licence": "Apache 2"}, "licence must be a licence id of the Hugging Face Hub"),
        ({"licence": "other"}, "licence other needs licence_link"),
        ({"licence": "mit", "licence_link": "https://x/LICENSE"}, "licence_link is for licence other only"),
        ({"licence_name": "mine"}, "licence_name is for licence other only"),
        ({"licence": "other", "licence_link": "my licence.txt"}, "licence_link must be a URL or a file path"),
        ({"licence": "other", "licence_link": "L", "licence_name": "my licence"}, "licence_name must be an id"),
        ({"base_model": "owner/model/extra"}, "base_model must be a Hugging Face Hub id"),
        ({"library_name": "py torch"}, "library_name must be a library id of the Hub"),
        ({"library_name": ["pytorch"]}, "library_name must be text"),
    ],
)
def test_card_yaml_hub_fields_are_checked(owner, message):
    with pytest.raises(ConfigError, match=f"^card.yaml: {re.escape(message)}"):
        parse_card(owner, where="card.yaml")


def test_licence_ids_are_lower_cased_as_the_hub_lists_them():
    assert parse_card({"licence": "Apache-2.0"}, where="card.yaml")["licence"] == "apache-2.0"
    assert all(lic == lic.lower() for lic in HUB_LICENCES) and len(set(HUB_LICENCES)) == len(HUB_LICENCES)


def test_an_eval_result_built_by_the_client_matches_the_card(released):
    """The entry is the one huggingface_hub itself would write for the released model's accuracy."""
    path, results = released
    card = ModelCard.load(path)
    mine = next(r for r in card.data.eval_results if r.metric_type == "accuracy")
    theirs = EvalResult(
        task_type="image-classification",
        task_name="Image classification",
        dataset_type="ylecun/mnist",
        dataset_name="MNIST",
        dataset_split="test",
        metric_type="accuracy",
        metric_name="Top-1 accuracy",
        metric_value=results.model("global-80").metrics.accuracy,
    )
    assert mine == theirs
