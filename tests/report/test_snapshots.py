"""Snapshot tests: the card's HTML structure (normalised) and card.md, against golden files.

Regenerate after an intended change with PRUNEAUDIT_UPDATE_GOLDEN=1 and review the diff.
"""

import os
import re

import pytest

from tests.conftest import ROOT, SAMPLES, run_cli

GOLDEN = ROOT / "tests" / "golden"


def normalise_html(html: str) -> str:
    """Keep tags, attributes that carry meaning and text; drop scripts, data URIs, chart SVGs and machine facts."""
    html = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1…\2", html, flags=re.S)
    html = re.sub(r"<style>.*?</style>", "<style>…</style>", html, flags=re.S)
    html = re.sub(r'src="data:image/png;base64,[^"]*"', 'src="data:…"', html)
    # a chart's static SVG: its geometry comes from vl-convert's text measurement (fonts); its data from the spec
    html = re.sub(r"<svg [^>]*>.*?</svg>", "<svg>…</svg>", html, flags=re.S)
    env = re.search(r'<section id="environment">.*?</section>', html, flags=re.S)
    if env:
        block = re.sub(r"<dd>[^<]*</dd>", "<dd>…</dd>", env.group(0))
        html = html.replace(env.group(0), block)
    html = re.sub(r'content="pruneaudit [^"]*"', 'content="pruneaudit …"', html)
    html = re.sub(r">\s+<", ">\n<", html)
    return "\n".join(line.strip() for line in html.splitlines() if line.strip()) + "\n"


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("PRUNEAUDIT_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with PRUNEAUDIT_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file; if intended, regenerate and review the diff"


@pytest.fixture(scope="module")
def carded(tmp_path_factory):
    out = tmp_path_factory.mktemp("snapshot")
    result = run_cli(
        [
            "audit",
            "--quiet",
            "--device",
            "cpu",  # the golden files were made on the CPU; GPU float ties differ
            "--config",
            str(SAMPLES / "audit.yaml"),
            "--card",
            str(SAMPLES / "card.yaml"),
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    return out


def test_html_structure_snapshot(carded):
    _check("index.normalised.html", normalise_html((carded / "index.html").read_text()))


def test_card_md_snapshot(carded):
    text = (carded / "card.md").read_text()
    text = re.sub(r"made with pruneaudit [0-9.]+", "made with pruneaudit …", text)
    _check("card.md", text)
