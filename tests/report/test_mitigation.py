"""The card's Mitigation section, from the re-audit of `pruneaudit mitigate` on the sample model l1-90 (one epoch)."""

from __future__ import annotations

import copy
import json
import re
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema.core import load_schema

from pruneaudit.errors import DataError
from pruneaudit.mitigation.settings import METHODS
from pruneaudit.report.mitigation import mitigation_view, paired_sentence
from pruneaudit.results import load_raw, load_results, parse_results
from tests.conftest import run_cli
from tests.sweep import test_mitigate

MODEL = test_mitigate.MODEL
# the harm audit, the mitigation (every method, one epoch) and its re-audit, made as test_mitigate makes them
_forget_the_factory_modules = test_mitigate._forget_the_factory_modules
harm_audit = test_mitigate.harm_audit
mitigated = test_mitigate.mitigated
reaudit = test_mitigate.reaudit


def _section(html: str) -> str:
    return re.search(r'<section id="mitigation">.*?</section>', html, flags=re.S).group(0)


def _md_section(md: str) -> str:
    return re.search(r"### Mitigation\n.*?(?=\n## )", md, flags=re.S).group(0)


def _manifest(out: Path) -> dict:
    return json.loads((out / "mitigation.json").read_text())


def test_the_re_audit_carries_what_the_section_needs(mitigated, reaudit):
    raw = json.loads(reaudit.read_text())
    jsonschema.validate(
        raw,
        json.loads(files("pruneaudit").joinpath("schema/results.schema.json").read_text()),
        cls=jsonschema.Draft202012Validator,
    )
    manifest = _manifest(mitigated)
    by_name = {m["name"]: m for m in manifest["models"]}
    source = next(m for m in raw["models"] if m["name"] == MODEL)
    for m in raw["models"]:
        if "+" not in m["name"]:
            assert "mitigates" not in m["metadata"]
            continue
        md, made = m["metadata"], by_name[m["name"]]
        assert md["mitigates"] == MODEL and md["method"] == made["method"]
        assert md["harmed_classes"] == manifest["harmed"]["class_names"]
        assert md["mitigation_seconds"] == round(made["seconds"], 1)
        assert md["finetune_epochs"] - source["metadata"]["finetune_epochs"] == made["epochs"] == 1


def test_the_section_is_the_re_audits_numbers(mitigated, reaudit):
    results = load_results(reaudit)
    view = mitigation_view(results)
    manifest = _manifest(mitigated)
    source = results.model(MODEL)
    harmed = manifest["harmed"]["classes"]
    assert [r["method"] for r in view["rows"]] == list(METHODS)
    assert [r["control"] for r in view["rows"]] == [m == "finetune" for m in METHODS]
    for r in view["rows"]:
        after = results.model(r["model"])
        assert r["source"] == MODEL and r["model"] == f"{MODEL}+{r['method']}"
        assert (r["top1_before"], r["top1_after"]) == (source.metrics.accuracy, after.metrics.accuracy)
        assert r["worst_before"] == source.vs_dense.worst_class_change.value
        assert r["worst_after"] == after.vs_dense.worst_class_change.value
        for key, model in (("harmed_before", source), ("harmed_after", after)):
            changes = [model.vs_dense.per_class.recall_change[c] for c in harmed]
            assert r[key] == pytest.approx(sum(changes) / len(changes), abs=1e-15)
        assert r["sparsity_same"] and r["sparsity_before"] == r["sparsity_after"] == source.facts.sparsity
        assert after.facts.weight_nonzero == source.facts.weight_nonzero
        assert r["epochs"] == 1 and r["seconds"] == after.metadata["mitigation_seconds"]
    names = results.data.class_names
    assert {c["class"] for c in view["classes"]} == {names[c] for c in harmed} == set(manifest["harmed"]["class_names"])
    assert len(view["classes"]) == len(harmed) * len(METHODS)
    for c in view["classes"]:
        i = names.index(c["class"])
        after = results.model(f"{MODEL}+{c['method']}").vs_dense.per_class
        before = source.vs_dense.per_class
        assert (c["before"], c["before_low"], c["before_high"]) == (
            before.recall_change[i],
            before.recall_change_ci.low[i],
            before.recall_change_ci.high[i],
        )
        assert (c["after"], c["after_low"], c["after_high"]) == (
            after.recall_change[i],
            after.recall_change_ci.low[i],
            after.recall_change_ci.high[i],
        )
    validate_jsonschema(view["spec"], load_schema())  # rendering skips Altair's check: this test makes it
    points = view["spec"]["datasets"]["classes"]
    assert len(points) == len(harmed) * (1 + len(METHODS))  # the source once per class, then each method
    assert view == mitigation_view(load_results(reaudit))  # deterministic


def test_both_cards_show_it_and_render_rebuilds_it(reaudit, tmp_path):
    html, md = (reaudit.parent / "index.html").read_text(), (reaudit.parent / "card.md").read_text()
    section = _section(html)
    view = mitigation_view(load_results(reaudit))
    assert html.index('<section id="mitigation">') < html.index('<section id="ethics">')
    for r in view["rows"]:
        assert f'<th scope="row">{r["model"]}</th>' in section and r["top1"] in section
    assert (
        'data-spec="spec-mitigation"' in section and '<script type="application/json" id="spec-mitigation">' in section
    )
    assert "<svg" in section  # the static chart, shown without scripts
    for chart in ("operating-points", "accuracy-disparity"):  # the models' move, on the charts every card has
        drawn = re.search(rf'<script type="application/json" id="spec-{chart}">(.*?)</script>', html, flags=re.S)
        assert all(r["model"] in drawn.group(1) for r in view["rows"]) and MODEL in drawn.group(1)
    assert f"| {MODEL}+finetune | finetune (control) |" in _md_section(md)
    result = run_cli(["render", str(reaudit), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    assert _section((tmp_path / "again" / "index.html").read_text()) == section
    assert _md_section((tmp_path / "again" / "card.md").read_text()) == _md_section(md)


def test_an_audit_without_recovered_models_has_no_section(harm_audit):
    assert mitigation_view(load_results(harm_audit)) is None
    assert 'id="mitigation"' not in (harm_audit.parent / "index.html").read_text()
    assert "### Mitigation" not in (harm_audit.parent / "card.md").read_text()


def _edited(reaudit: Path, edit) -> dict:
    """The re-audit's view after ``edit`` changed each recovered model's raw mapping (by method)."""
    raw = copy.deepcopy(load_raw(reaudit))
    for m in raw["models"]:
        method = m["metadata"].get("method")
        if method is not None:
            edit(method, m)
    return mitigation_view(parse_results(raw, where="edited"))


def _set_harmed(raw_model: dict, classes: list[int], value: float) -> None:
    """The harmed classes' change set to ``value`` ± 2 pp; without the paired counts (a re-audit written before
    mitigate measured them), so the sentence judges by the intervals' half-width."""
    raw_model["metadata"].pop("vs_control", None)
    pc = raw_model["vs_dense"]["per_class"]
    for c in classes:
        pc["recall_change"][c] = value
        pc["recall_change_ci"]["low"][c], pc["recall_change_ci"]["high"][c] = value - 0.02, value + 0.02


def test_the_sentence_says_when_a_method_beats_the_control(mitigated, reaudit):
    harmed = _manifest(mitigated)["harmed"]["classes"]

    def edit(method: str, m: dict) -> None:
        _set_harmed(m, harmed, {"finetune": -0.06, "reweight": 0.0, "constrained": -0.07}[method])

    view = _edited(reaudit, edit)
    text = view["sentence"]
    assert "the median 95% interval half-width is 2.0 pp" in text
    assert "Beyond the control: reweight 0.0 pp (+6.0 pp against the control)." in text
    assert "Not told apart from the control: constrained -7.0 pp (-1.0 pp against the control)" in text
    assert "did not help" not in text


def test_the_sentence_says_plainly_when_no_method_helps(mitigated, reaudit):
    harmed = _manifest(mitigated)["harmed"]["classes"]

    def edit(method: str, m: dict) -> None:
        _set_harmed(m, harmed, {"finetune": -0.03, "reweight": -0.025, "constrained": -0.10}[method])

    text = _edited(reaudit, edit)["sentence"]
    assert "Mitigation did not help beyond the control" not in text  # one method was worse: said as such
    assert "Worse than the control: constrained -10.0 pp (-7.0 pp against the control)." in text
    assert "Not told apart from the control: reweight -2.5 pp (+0.5 pp against the control)" in text
    assert "Beyond the control" not in text

    def close(method: str, m: dict) -> None:
        _set_harmed(m, harmed, {"finetune": -0.03, "reweight": -0.025, "constrained": -0.04}[method])

    text = _edited(reaudit, close)["sentence"]
    assert "Mitigation did not help beyond the control: reweight -2.5 pp" in text and "constrained -4.0 pp" in text


def test_the_paired_test_decides_beyond_worse_or_not_told_apart():
    def paired(counts: dict[str, tuple[int, int, float]]) -> str:
        rows = [
            {
                "method": m,
                "harmed_after": -0.02,
                "vs_control": {"images": 600, "method_only": a, "control_only": b, "p": p},
            }
            for m, (a, b, p) in counts.items()
        ]
        return paired_sentence(rows, alpha=0.05)

    text = paired({"reweight": (40, 12, 0.0001), "constrained": (15, 14, 1.0)})
    assert text.startswith(" Paired with the control on the same held-out images of these classes (exact McNemar).")
    assert (
        "Beyond the control: reweight (-2.0 pp: of 600 images, 40 right only with it and 12 only with the control, p < 0.001)."
        in text
    )
    assert "Not told apart: constrained (" in text and "p = 1.000), p not below 0.05." in text
    text = paired({"reweight": (5, 30, 0.00002), "constrained": (15, 14, 1.0)})
    assert "Worse than the control: reweight (" in text and "Beyond the control" not in text
    text = paired({"reweight": (16, 12, 0.57), "constrained": (15, 14, 1.0)})
    assert "Mitigation did not help beyond the control: reweight (" in text
    assert paired({"reweight": (5, 30, 0.00002)}).endswith(" Mitigation did not help beyond the control.")


def test_paired_counts_are_used_only_where_they_fit_the_audit(reaudit):
    """mitigate's own counts fit the re-audit (the harmed classes' images, the difference of correct images);
    forged ones, or counts from another split, are not used: the sentence says so and falls back to intervals."""
    text = mitigation_view(load_results(reaudit))["sentence"]
    assert "Paired with the control on the same held-out images" in text and "do not fit" not in text

    def forge(method: str, m: dict) -> None:
        if method == "reweight":
            m["metadata"]["vs_control"] = {"images": 600, "method_only": 40, "control_only": 0, "p": 1e-12}

    text = _edited(reaudit, forge)["sentence"]
    assert "the paired counts mitigate recorded do not fit this audit's images of these classes" in text
    assert "Paired with the control" not in text and "half-width" in text


def test_a_moved_sparsity_is_flagged(reaudit):
    def edit(method: str, m: dict) -> None:
        if method == "reweight":
            m["facts"]["weight_nonzero"] += 1

    view = _edited(reaudit, edit)
    row = next(r for r in view["rows"] if r["method"] == "reweight")
    assert not row["sparsity_same"] and row["sparsity"].endswith("(changed)")
    assert view["sentence"].startswith(f"Sparsity changed in {MODEL}+reweight: the pruning mask did not hold")


def test_without_a_control_the_sentence_says_so(reaudit):
    raw = copy.deepcopy(load_raw(reaudit))
    raw["models"] = [m for m in raw["models"] if m["metadata"].get("method") != "finetune"]
    view = mitigation_view(parse_results(raw, where="edited"))
    assert "No control (plain fine-tuning, finetune) was audited" in view["sentence"] and not view["has_control"]


def test_a_wrongly_typed_mitigation_key_is_a_one_line_error(mitigated, reaudit, tmp_path):
    config = yaml.safe_load((mitigated / "audit.yaml").read_text())
    config["data"]["path"] = str(mitigated / config["data"]["path"])
    for m in [config["dense"], *config["pruned"]]:
        m["path"] = str((mitigated / m["path"]).resolve())
    config["pruned"][1]["mitigation_seconds"] = "fast"
    bad = tmp_path / "audit.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = run_cli(["audit", "--quiet", "--device", "cpu", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "mitigation_seconds must be a non-negative number; received 'fast'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    raw = copy.deepcopy(load_raw(reaudit))
    raw["models"][2]["metadata"]["harmed_classes"] = "8"
    with pytest.raises(DataError, match=r"harmed_classes: expected a list of class names \(text\)"):
        parse_results(raw, where="edited")


def test_recovered_models_naming_no_class_of_the_audit_still_render(reaudit):
    from pruneaudit.report.render import render_html

    raw = copy.deepcopy(load_raw(reaudit))
    for m in raw["models"]:
        if "harmed_classes" in m["metadata"]:
            m["metadata"]["harmed_classes"] = ["no such class"]
    results = parse_results(raw, where="edited")
    view = mitigation_view(results)
    assert view["classes"] == [] and view["spec"] is None
    assert view["sentence"] == f"The models recovered from {MODEL} name no class of this audit as harmed."
    section = _section(render_html(results))
    assert view["sentence"] in section and "spec-mitigation" not in section


def _move_charts(results) -> dict[str, dict]:
    """The card's two charts that draw the mitigation moves, by id, as the card draws them."""
    from pruneaudit.report.charts import chart_list
    from pruneaudit.report.headlines import spotlight
    from pruneaudit.report.scope import scope

    focus = spotlight(results)
    return {c.id: c.spec for c in chart_list(results, focus, scope(results, focus)) if c.id in _MOVE_AXES}


_MOVE_AXES = {"operating-points": ("sparsity", "accuracy"), "accuracy-disparity": ("worst_change_pp", "accuracy")}


def _point(model, x: str) -> tuple[float, float]:
    """A model's (x, y) on a move chart, as the results give it: y is top-1, x sparsity or worst-class change (pp)."""
    value = model.facts.sparsity if x == "sparsity" else 100 * model.vs_dense.worst_class_change.value
    return value, model.metrics.accuracy


def _move_layers(spec: dict) -> list[dict]:
    return [layer for layer in spec["layer"] if layer.get("data", {}).get("name") == "moves"]


def test_the_charts_draw_each_recovered_models_move(reaudit):
    results = load_results(reaudit)
    source = results.model(MODEL)
    charts = _move_charts(results)
    assert set(charts) == set(_MOVE_AXES)
    for chart, (x, y) in _MOVE_AXES.items():
        spec = charts[chart]
        validate_jsonschema(spec, load_schema())  # rendering skips Altair's check: this test makes it
        moves = spec["datasets"]["moves"]
        assert [m["model"] for m in moves] == [f"{MODEL}+{method}" for method in METHODS]  # one per pair, audit order
        for m in moves:
            recovered = results.model(m["model"])
            assert m["source"] == MODEL and m["move"] == f"{MODEL} → {m['model']} ({m['method']})"
            assert m["method"] == recovered.metadata["method"]
            assert (m[f"{x}_from"], m[f"{y}_from"]) == pytest.approx(_point(source, x), abs=1e-12)
            assert (m[f"{x}_to"], m[f"{y}_to"]) == pytest.approx(_point(recovered, x), abs=1e-12)
            assert 0 <= m["angle"] < 360
        line, head = _move_layers(spec)
        assert line["mark"]["type"] == "rule" and head["mark"]["shape"] == "triangle"
        assert (line["encoding"]["x"]["field"], line["encoding"]["x2"]["field"]) == (f"{x}_from", f"{x}_to")
        assert (line["encoding"]["y"]["field"], line["encoding"]["y2"]["field"]) == (f"{y}_from", f"{y}_to")
        assert (head["encoding"]["x"]["field"], head["encoding"]["y"]["field"]) == (f"{x}_to", f"{y}_to")
        for layer in (line, head):  # the recovered models named in the legend (method) and the tooltip
            assert layer["encoding"]["stroke"]["scale"]["domain"] == list(METHODS)
            assert layer["encoding"]["tooltip"][0]["field"] == "move"
            assert layer["encoding"]["x"]["scale"] == spec["layer"][0]["encoding"]["x"]["scale"]  # the chart's axes
    # same sparsity before and after (the mask held): the operating-point moves point straight up
    assert all(m["angle"] == 0.0 for m in charts["operating-points"]["datasets"]["moves"])
    assert charts == _move_charts(load_results(reaudit))  # deterministic


def test_without_pairs_the_charts_are_as_before(reaudit, harm_audit):
    for spec in _move_charts(load_results(harm_audit)).values():
        assert "moves" not in spec["datasets"] and not _move_layers(spec)
    raw = copy.deepcopy(load_raw(reaudit))
    for m in raw["models"]:
        m["metadata"].pop("mitigates", None)
    unpaired = parse_results(raw, where="edited")
    assert mitigation_view(unpaired) is None
    # the charts with moves are the charts without, plus the move layers, their dataset and the title's note
    for chart, spec in _move_charts(load_results(reaudit)).items():
        without = copy.deepcopy(spec)
        without["layer"] = [layer for layer in spec["layer"] if layer not in _move_layers(spec)]
        del without["datasets"]["moves"]
        assert without["title"].endswith("; arrows: mitigation moves")
        without["title"] = without["title"].removesuffix("; arrows: mitigation moves")
        assert _spelled_out(without) == _spelled_out(_move_charts(unpaired)[chart])


def _spelled_out(spec: dict) -> str:
    """The spec with each layer naming its data (Altair names it once, on top, where every layer shares it)."""
    spec = copy.deepcopy(spec)
    shared = spec.pop("data", None)
    for layer in spec["layer"]:
        layer.setdefault("data", shared)
    return json.dumps(spec, sort_keys=True)


def test_the_section_says_where_the_moves_are_drawn(reaudit):
    results = load_results(reaudit)
    view = mitigation_view(results)
    source = results.model(MODEL)
    gains = {m: results.model(f"{MODEL}+{m}").metrics.accuracy - source.metrics.accuracy for m in METHODS}
    best = max(METHODS, key=lambda m: gains[m])
    rose = [m for m in METHODS if gains[m] > 0]
    share = f"all {len(METHODS)}" if len(rose) == len(METHODS) else f"{len(rose)} of the {len(METHODS)}"
    assert f"Top-1 rose in {share} moves (most: {best}, " in view["moves"]
    html, md = (reaudit.parent / "index.html").read_text(), (reaudit.parent / "card.md").read_text()
    assert '<a href="#operating-points">operating points</a>' in _section(html) and view["moves"] in _section(html)
    assert "charts draw each mitigation as an arrow" in _md_section(md) and view["moves"] in _md_section(md)
    raw = copy.deepcopy(load_raw(reaudit))
    raw.pop("selection", None)  # no selection: neither chart is drawn, and the section does not point to them
    assert mitigation_view(parse_results(raw, where="edited"))["moves"] is None
