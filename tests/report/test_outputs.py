"""card.md, per_class.csv, render and timestamps; escaping of hostile names and metadata."""

import copy
import csv
import io
import json

import pytest
import yaml
from click.testing import CliRunner

from pruneaudit.card import parse_card
from pruneaudit.cli import cli
from pruneaudit.errors import ConfigError
from pruneaudit.report import render_markdown, render_outputs
from pruneaudit.report.tables import COLUMNS
from pruneaudit.results import parse_results
from tests.conftest import SAMPLES

EVIL = "<script>alert('x')</script> | *bold* [link](http://x) \"q\" ünï ✓"


def test_per_class_csv_matches_results(sample_view):
    rows = list(csv.DictReader(io.StringIO(render_outputs(sample_view)["per_class.csv"])))
    assert len(rows) == 28 * 10
    g = next(r for r in rows if r["model"] == "global-95" and r["class"] == "3")
    m = sample_view.model("global-95")
    assert float(g["recall_change"]) == pytest.approx(m.vs_dense.per_class.recall_change[3], rel=5e-6, abs=0)
    assert len(g["recall_low"].lstrip("-0.").replace(".", "")) <= 6  # six significant digits
    assert int(g["support"]) == m.per_class.support[3]
    dense = next(r for r in rows if r["model"] == "dense")
    assert dense["recall_change"] == "" and dense["mcnemar_p"] == ""


def test_per_class_csv_is_part_of_the_parquet_table(sample_view):
    import pandas as pd

    out = render_outputs(sample_view)
    parquet = pd.read_parquet(io.BytesIO(out["per_class.parquet"]))
    csv_df = pd.read_csv(io.StringIO(out["per_class.csv"]), dtype={"model": str, "class": str})
    assert list(csv_df.columns) == list(COLUMNS) and set(COLUMNS) < set(parquet.columns)
    pd.testing.assert_frame_equal(parquet[list(COLUMNS)], csv_df, check_dtype=False, check_exact=False, rtol=5e-6)
    assert parquet["recall_change"].isna().sum() == 10  # the dense model's rows


def test_card_md_front_matter_is_valid_yaml(sample_results):
    card = parse_card({"licence": "mit", "name": "n"}, where="c")
    md = render_markdown(parse_results({**sample_results, "card": card}))
    assert md.startswith("---\n")
    meta = yaml.safe_load(md.split("---\n")[1])
    assert meta["license"] == "mit" and "model_name" not in meta  # the Hub names the model from its entry
    selection = sample_results["selection"]
    picked = selection["picks"][selection["primary"]]["model"]
    assert [e["name"] for e in meta["model-index"]] == [picked]  # one entry: the model the card releases
    metrics = {x["type"]: x["value"] for x in meta["model-index"][0]["results"][0]["metrics"]}
    model = next(m for m in sample_results["models"] if m["name"] == picked)
    assert metrics["accuracy"] == model["metrics"]["accuracy"]


def test_missing_card_parts_are_said_not_hidden(sample_view):
    out = render_outputs(sample_view)
    for key in ("intended_uses", "training_data", "ethical_considerations", "caveats"):
        assert f"Not provided by the model owner (<code>card.yaml</code>: <code>{key}</code>)" in out["index.html"]
        assert f"_Not provided by the model owner (`card.yaml`: `{key}`)._" in out["card.md"]


def test_hostile_text_is_escaped_in_html_and_markdown(sample_results):
    results = copy.deepcopy(sample_results)
    results["data"]["class_names"][3] = EVIL
    results["models"][1]["name"] = EVIL
    results["data"]["name"] = EVIL
    card = parse_card({"name": EVIL, "caveats": [EVIL], "training_data": EVIL}, where="card.yaml")
    out = render_outputs(parse_results({**results, "card": card}))
    html, md = out["index.html"], out["card.md"]
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    body = md.split("---\n", 2)[2]
    assert "<script>" not in body and "\\<script\\>" in body
    assert "\\| \\*bold\\* \\[link\\](http://x)" in body
    front = yaml.safe_load(md.split("---\n")[1])
    assert front["model-index"][0]["results"][0]["dataset"]["name"] == EVIL  # YAML quoting keeps it intact and inert
    rows = list(csv.reader(io.StringIO(out["per_class.csv"])))
    assert any(r[2] == EVIL for r in rows)


def test_card_yaml_errors():
    with pytest.raises(ConfigError, match="unknown key 'owner'; expected one of name, version"):
        parse_card({"owner": "me"}, where="card.yaml")
    with pytest.raises(ConfigError, match="caveats must be a list of text items"):
        parse_card({"caveats": "just one"}, where="card.yaml")


def test_render_reproduces_the_audit_outputs(sample_audit, tmp_path):
    src = sample_audit["torchscript"]
    result = CliRunner().invoke(cli, ["render", str(src / "results.json"), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    for name in ("index.html", "card.md", "per_class.csv", "per_class.parquet", "results.json"):
        assert (tmp_path / "again" / name).read_bytes() == (src / name).read_bytes(), name


def test_render_with_card_and_timestamp(sample_audit, tmp_path):
    src = sample_audit["onnx"] / "results.json"
    result = CliRunner().invoke(
        cli, ["render", str(src), "--out", str(tmp_path / "r"), "--card", str(SAMPLES / "card.yaml"), "--timestamp"]
    )
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r" / "index.html").read_text()
    assert "MNIST digit classifier (sample, pruned variants)" in html and "Generated 20" in html
    saved = json.loads((tmp_path / "r" / "results.json").read_text())
    assert saved["card"]["version"] == "0.1.0"
    assert "generated" not in json.dumps(saved).lower()  # the timestamp stays out of results.json


def test_render_bad_input_writes_nothing(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("[]")
    result = CliRunner().invoke(cli, ["render", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "not a pruneaudit results file" in result.output
    assert not (tmp_path / "r").exists()
