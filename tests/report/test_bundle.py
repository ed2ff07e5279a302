"""The Vega bundle comes from the cache folder when its entry is usable, and is rebuilt and stored when not."""

import pytest
import vl_convert

from pruneaudit.report.bundle import bundle_path, vega_javascript
from tests.conftest import run_cli

# A stand-in bundle: defines what the card calls, so it is a usable entry; vl-convert never builds it.
MARKER = "/* hand-written entry */ window.vegaEmbed = function (el) { return Promise.resolve(el); };"


def test_the_entry_is_named_by_the_vl_convert_version(tmp_path):
    assert bundle_path(tmp_path) == tmp_path / "vega" / f"{vl_convert.__version__}.js"


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
