import copy
import re

import pytest

from pruneaudit.escape import markdown_escape
from pruneaudit.report import render_html, render_markdown, summary_table
from pruneaudit.report.headlines import headlines
from pruneaudit.results import parse_results
from tests import results_factory as rf

CLASSES = ("<b>cat</b>", "dog_*", "eel")
NOT_GIVEN = (
    "Training-set class counts were not given ({code}train_class_counts:{end} in the config, written by "
    "{code}pruneaudit prune{end}); the card cannot relate harm to how well each class was represented."
)


def test_names_are_escaped_everywhere(sample_results):
    results = copy.deepcopy(sample_results)
    evil = "<script>alert('x')</script> \"quoted\" & ünïcødé ✓"
    results["data"]["class_names"][3] = evil
    results["models"][1]["name"] = evil
    results["models"][2]["metadata"]["technique"] = "<b>bold</b>"
    html = render_html(parse_results(results))
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &#34;quoted&#34; &amp; ünïcødé ✓" in html
    # inside the JSON chart specs, '<' is escaped so no tag can close the script element
    assert "\\u003cscript\\u003e" in html


def test_headlines_state_the_hidden_harm(sample_view):
    lines = headlines(sample_view)
    assert [line.split(" — ")[0] for line in lines] == [
        "Sparsest model within 1.0 pp of dense accuracy",
        "Largest single-class drop within 1.0 pp of dense accuracy",
        "Most classes significantly harmed",
        "Operating point (fairness-aware policy)",
    ]
    pattern = (
        r"top-1 accuracy [+-]\d+\.\d pp while class '\d' recall -\d+\.\d pp; "
        r"\d+ class(es are| is) significantly harmed \(McNemar, Holm p < 0\.05\)\.$"
    )
    for line in lines[:3]:
        assert re.search(pattern, line), line
    assert lines[3].startswith("Operating point (fairness-aware policy) — global-80: best sparsity among")


def test_summary_table_lists_every_model(sample_view):
    text = summary_table(sample_view)
    rows = text.splitlines()
    assert len(rows) == 2 + len(sample_view.models)
    dense = rows[2].split()
    assert dense == ["dense", "0.0%", "98.2%", "-", "-"]
    g = next(r for r in rows if r.startswith("global-95")).split()
    assert g[0] == "global-95" and g[1] == "94.1%" and g[4] == "pp"  # the output layer stays dense


def _three_classes(**data):
    raw = rf.results(
        rf.model("a50", acc=0.9, worst=-0.1, sparsity=0.5, recall=[0.9] * 3),
        classes=CLASSES,
        dense=rf.model("dense", acc=0.95, worst=0, sparsity=0, role="dense", technique=None, recall=[0.95] * 3),
    )
    raw["data"].update(data)
    return parse_results(raw)


def test_training_data_names_the_smallest_and_largest_class():
    results = _three_classes(train_class_counts=[2000, 10, 2000])  # a tie for the largest: the first class wins
    html = " ".join(render_html(results).split())
    sentence = "Training set: 4,010 images; smallest class dog_* (10), largest &lt;b&gt;cat&lt;/b&gt; (2,000)."
    assert f"<p>{sentence}</p>" in html
    md = render_markdown(results)
    line = f"Training set: 4,010 images; smallest class {markdown_escape('dog_*')} (10), largest "
    assert f"{line}{markdown_escape('<b>cat</b>')} (2,000).\n" in md
    assert "not given" not in html + md


@pytest.mark.parametrize("data", [{"train_class_counts": None}, {}])  # null, or a file older than schema 2.1
def test_training_data_says_when_the_counts_were_not_given(data):
    results = _three_classes(**data)
    html = " ".join(render_html(results).split())
    assert f'<p class="missing">{NOT_GIVEN.format(code="<code>", end="</code>")}</p>' in html
    assert f"_{NOT_GIVEN.format(code='`', end='`')}_\n" in render_markdown(results)
    assert "Training set:" not in html
