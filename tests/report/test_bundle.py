"""What vl-convert gives the card: the Vega bundle and each chart's static SVG (report/bundle.py, report/svg.py).

Both come from the cache folder when its entry is usable, and are rebuilt and stored when not. The SVG is the
same bytes in every run, unique in its ids on the page, and safe to inline whatever names the data holds.
"""

import altair as alt
import pytest
import vl_convert

from pruneaudit.report.bundle import VEGALITE_VERSION, bundle_path, vega_javascript
from pruneaudit.report.svg import chart_svg, checked
from tests.conftest import run_cli

# A stand-in bundle: defines what the card calls, so it is a usable entry; vl-convert never builds it.
MARKER = "/* hand-written entry */ window.vegaEmbed = function (el) { return Promise.resolve(el); };"


def test_the_entry_is_named_by_the_vl_convert_and_vega_lite_versions(tmp_path):
    assert bundle_path(tmp_path) == tmp_path / "vega" / f"{vl_convert.__version__}-vl{VEGALITE_VERSION}.js"


def test_the_pinned_vega_lite_is_the_one_altair_writes_for():
    """Interactive view and static SVG draw with this release: it must be the specs' and one vl-convert has."""
    assert alt.SCHEMA_VERSION.startswith(f"v{VEGALITE_VERSION}.")
    assert VEGALITE_VERSION in vl_convert.get_vegalite_versions()


def test_a_usable_entry_is_inlined_verbatim(tmp_path):
    path = bundle_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(MARKER)
    assert vega_javascript(tmp_path) == MARKER


@pytest.mark.parametrize(
    "entry",
    [b"", b"\xff\xfe not utf-8 vegaEmbed", b"window.vegaEmbed = 1; '</SCRIPT><script>alert(1)'", b"no entry point"],
    ids=["empty", "not-utf8", "closes-the-script", "no-vegaEmbed"],
)
def test_a_bad_entry_is_rebuilt_and_replaced(tmp_path, entry):
    path = bundle_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(entry)
    js = vega_javascript(tmp_path)
    assert "vegaEmbed" in js and "</script" not in js.lower() and len(js) > 100_000
    assert path.read_text() == js  # the next run reads it


def test_no_cache_folder_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "vegaEmbed" in vega_javascript(None)
    assert not list(tmp_path.iterdir())


def test_render_uses_the_cache_folder_it_is_told(sample_audit, tmp_path, monkeypatch):
    default = tmp_path / "default"
    monkeypatch.setenv("PRUNEAUDIT_CACHE_DIR", str(default))
    given = tmp_path / "given"
    bundle_path(given).parent.mkdir(parents=True)
    bundle_path(given).write_text(MARKER)
    results = str(sample_audit["torchscript"] / "results.json")

    def card(*flags: str) -> str:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        outcome = run_cli(["render", results, "--out", str(out), *flags])
        assert outcome.exit_code == 0, outcome.output
        return (out / "index.html").read_text()

    assert f"<script>\n{MARKER}\n</script>" in card("--cache", str(given))
    assert vega_javascript(None) in card("--no-cache") and not default.exists()
    assert vega_javascript(None) in card() and bundle_path(default).read_text() == vega_javascript(None)


def test_cache_and_no_cache_exclude_each_other(tmp_path):
    outcome = run_cli(
        ["render", str(tmp_path / "results.json"), "--out", str(tmp_path / "r"), "--cache", "x", "--no-cache"]
    )
    assert outcome.exit_code == 2 and "--cache and --no-cache exclude each other" in outcome.output


EVIL = "<script>alert(1)</script> \"q\" & 'a' <img src=x onerror=alert(2)>"


def _spec(name: str = EVIL) -> dict:
    """A chart with a gradient legend (a defs id) whose data and titles hold ``name``."""
    rows = [{"name": name, "value": 1.0}, {"name": "b", "value": -2.0}]
    return (
        alt.Chart(alt.Data(values=rows))
        .mark_rect()
        .encode(x=alt.X("name:N", title=name), color="value:Q", tooltip=["name:N"])
        .properties(title=name)
        .to_dict(validate=False)
    )


def test_the_svg_is_the_same_bytes_whatever_ran_before(tmp_path):
    """Vega numbers gradients from a process-wide counter: a second conversion in one process gets new numbers."""
    first = chart_svg(_spec(), prefix="svg-a", cache_dir=None)
    again = chart_svg(_spec(), prefix="svg-a", cache_dir=None)
    cached = chart_svg(_spec(), prefix="svg-a", cache_dir=tmp_path)
    assert first == again == cached == chart_svg(_spec(), prefix="svg-a", cache_dir=tmp_path)
    assert 'id="svg-a-0"' in first and "url(#svg-a-0)" in first and "gradient_" not in first
    assert chart_svg(_spec(), prefix="svg-b", cache_dir=None) == first.replace("svg-a-", "svg-b-")


def test_names_in_the_data_are_escaped_in_the_svg():
    svg = chart_svg(_spec(), prefix="svg-x", cache_dir=None)
    assert checked(svg) and svg.startswith("<svg ") and "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \"q\" &amp; 'a' &lt;img src=x onerror=alert(2)&gt;" in svg


@pytest.mark.parametrize(
    "svg",
    [
        '<svg width="1"><script>alert(1)</script></svg>',
        '<svg width="1"><foreignObject><p>x</p></foreignObject></svg>',
        '<svg width="1" onload="alert(1)"></svg>',
        '<svg width="1"><a xlink:href="https://example.org/"><text>x</text></a></svg>',
        '<svg width="1"><rect fill="url(https://example.org/p.svg#g)"/></svg>',
        '<svg width="1"><text>a <b> c</text></svg>',
        '<svg width="1"><!-- x --></svg>',
        '<svg width="1"><rect style="fill: red"/></svg>',
        "<div>not svg</div>",
    ],
    ids=["script", "foreignObject", "handler", "link", "external", "tag-in-text", "comment", "style", "not-svg"],
)
def test_markup_that_is_unsafe_to_inline_is_refused(svg):
    assert not checked(svg)


def test_a_usable_svg_entry_is_inlined_and_a_bad_one_replaced(tmp_path):
    chart_svg(_spec("ok"), prefix="p", cache_dir=tmp_path)
    (entry,) = (tmp_path / "svg").iterdir()
    entry.write_text('<svg width="1"><text>hand-written</text></svg>')
    assert chart_svg(_spec("ok"), prefix="p", cache_dir=tmp_path) == '<svg width="1"><text>hand-written</text></svg>'
    entry.write_text('<svg width="1" onload="alert(1)"></svg>')
    svg = chart_svg(_spec("ok"), prefix="p", cache_dir=tmp_path)
    assert svg == chart_svg(_spec("ok"), prefix="p", cache_dir=None) and checked(entry.read_text())
