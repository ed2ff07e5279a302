"""The card read without JavaScript and printed to PDF, in headless Debian Chromium.

Without scripts every chart is its static SVG (drawn, with its caption). Printed (Chrome's own
Page.printToPDF, with scripts off and on), every cell of every table the page shows and every label of
every chart is in the PDF's text: a table cut at the page edge or by a scroll box loses its columns there.
Text is compared with all whitespace removed, so a header or a name wrapped onto several lines still
matches; the cells of a row are drawn in order, so a row's cells joined must appear as they are.
Needs chromium and chromium-driver (as tests/report/test_browser.py) and pypdf for the PDF's text.
"""

import base64
import re
import unicodedata

import pytest

from tests.conftest import SAMPLES, TinyNet, run_cli, save_torchscript
from tests.report.test_browser import CHROMEDRIVER, CHROMIUM, chrome

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)
WIDE_MODELS = 45  # the per-class table gets 3 + 45 columns: past the point where a smaller font fits the page

# Each shown table's rows, each row its cells' text; tables in a closed <details> do not print.
TABLE_ROWS = """return [...document.querySelectorAll('table')].filter(t => !t.closest('details:not([open])'))
  .map(t => [t.closest('section').id, [...t.rows].map(r => [...r.cells].map(c => c.textContent))])"""
# Each chart (a section without one says there is nothing to draw): its section, the size of the SVG it shows, its marks, the texts it draws (Vega hides overlapping
# labels with opacity 0), the caption.
CHARTS = """return [...document.querySelectorAll('section.chart')].filter(s => s.querySelector('div.vega')).map(s => {
  const el = s.querySelector('div.vega'), svgs = el.querySelectorAll('svg'), box = svgs[0] && svgs[0].getBoundingClientRect();
  return {id: s.id, svgs: svgs.length, width: box ? box.width : 0, height: box ? box.height : 0,
    marks: el.querySelectorAll('.mark-symbol path, .mark-rect path, .mark-line path, .mark-rule line').length,
    texts: [...el.querySelectorAll('svg text')].filter(t => !t.closest('[opacity="0"]')).map(t => t.textContent), caption: s.querySelector('p').textContent,
    role: el.getAttribute('role'), label: el.getAttribute('aria-label'), embedded: el.classList.contains('vega-embed')};
})"""


def squash(text: str) -> str:
    """Text without whitespace, ligatures and compatibility forms unfolded (PDF text has 'ﬁ' for 'fi')."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def cards(sample_audit, tmp_path_factory, test_npz):
    """The sample card (every chart) and a card of WIDE_MODELS pruned models (a table wider than any font fits)."""
    sample = tmp_path_factory.mktemp("print-sample")
    results = sample_audit["onnx"] / "results.json"
    outcome = run_cli(["render", str(results), "--card", str(SAMPLES / "card.yaml"), "--out", str(sample)])
    assert outcome.exit_code == 0, outcome.output
    root = tmp_path_factory.mktemp("print-wide")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    dense = TinyNet(10)
    args = ["audit", "--quiet", "--device", "cpu", "--data", str(test_npz), "--out", str(root / "out")]
    args += ["--dense", str(save_torchscript(dense, root / "dense.pt"))]
    for k in range(WIDE_MODELS):
        pruned = TinyNet(10)
        pruned.load_state_dict(dense.state_dict())
        with torch.no_grad():
            pruned.fc.weight.mul_((torch.rand(pruned.fc.weight.shape) >= 0.02 * (k + 1)).float())
        args += ["--pruned", str(save_torchscript(pruned, root / f"pruned-{k:02d}.pt"))]
    outcome = run_cli(args)
    assert outcome.exit_code == 0, outcome.output
    return {"sample": sample / "index.html", "wide": root / "out" / "index.html"}


@pytest.fixture(scope="module")
def no_js(tmp_path_factory):
    driver = chrome(tmp_path_factory.mktemp("chromium-no-js"), javascript=False)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def with_js(tmp_path_factory):
    driver = chrome(tmp_path_factory.mktemp("chromium-js"))
    yield driver
    driver.quit()


def _open(driver, page, *, interactive: bool):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(1280, 1000)
    driver.get(page.as_uri())
    if interactive:
        WebDriverWait(driver, 30).until(lambda d: all(c["embedded"] for c in d.execute_script(CHARTS)))


def _pdf_text(driver) -> str:
    pypdf = pytest.importorskip("pypdf", reason="needs pypdf to read the printed PDF's text (pip install pypdf)")
    import io

    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
    reader = pypdf.PdfReader(io.BytesIO(base64.b64decode(pdf["data"])))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_without_javascript_every_chart_is_a_static_svg(no_js, cards):
    _open(no_js, cards["sample"], interactive=False)
    assert not no_js.execute_script("return document.querySelector('th[tabindex]')"), "the card's script ran"
    charts = no_js.execute_script(CHARTS)
    assert len(charts) >= 7
    for c in charts:
        assert not c["embedded"] and c["svgs"] == 1, c["id"]
        assert c["width"] > 100 and c["height"] > 50, f"#{c['id']}: SVG of {c['width']}x{c['height']}"
        assert c["marks"] > 0 and c["texts"], f"#{c['id']}: the static SVG draws nothing"
        assert c["caption"].strip() and c["role"] == "img" and c["label"], c["id"]


@pytest.mark.parametrize(
    ("card", "javascript"), [("sample", False), ("sample", True), ("wide", False)], ids=["sample", "sample-js", "wide"]
)
def test_print_keeps_every_table_cell_and_chart_label(request, cards, card, javascript):
    driver = request.getfixturevalue("with_js" if javascript else "no_js")
    _open(driver, cards[card], interactive=javascript)
    tables = driver.execute_script(TABLE_ROWS)
    charts = driver.execute_script(CHARTS)
    text = squash(_pdf_text(driver))
    sections = {section for section, _ in tables}
    assert {"models", "classes", "exemplars"} <= sections, sections
    for section, rows in tables:
        for cells in rows:
            row = squash("".join(cells))
            assert row in text, f"#{section}: a row is cut in the PDF: {cells}"
    if card == "wide":
        widest = max(len(cells) for section, rows in tables if section == "classes" for cells in rows)
        assert widest == 3 + WIDE_MODELS
    for c in charts:
        missing = [t for t in c["texts"] if squash(t) not in text]
        assert not missing, f"#{c['id']}: chart text missing from the PDF: {missing[:5]}"
