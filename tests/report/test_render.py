import copy
import re

from pruneaudit.report import render_html, summary_table
from pruneaudit.report.headlines import headlines
from pruneaudit.results import parse_results


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
    assert dense == ["dense", "0.0%", "98.5%", "-", "-"]
    g = next(r for r in rows if r.startswith("global-95")).split()
    assert g[0] == "global-95" and g[1] == "95.0%" and g[4] == "pp"
