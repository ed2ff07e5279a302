"""Open the card in headless Debian Chromium with networking disabled.

Asserts no console errors, no request to any network address, every chart drawn interactively (one
SVG with marks: the static one gave way), and saves screenshots at desktop and narrow widths.
`.ci/run` installs chromium and chromium-driver with apt-get when they are missing; without them
these tests skip with the reason. tests/report/test_print.py uses `chrome` for the card without
JavaScript and printed.
"""

import json
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")


def chrome(profile: Path, *, javascript: bool = True):
    """Debian's headless Chromium through chromedriver, every host name unresolvable; ``javascript`` False:
    the content setting that turns scripts off, as a reader's browser would."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # networking disabled: every host name fails to resolve
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(flag)
    if not javascript:
        opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chrome(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def card_dir(tmp_path_factory):
    from tests.conftest import SAMPLES

    out = tmp_path_factory.mktemp("browser-card")
    args = [
        "audit",
        "--quiet",
        "--config",
        str(SAMPLES / "audit-onnx.yaml"),
        "--card",
        str(SAMPLES / "card.yaml"),
        "--policy",
        str(SAMPLES.parent / "examples" / "policy.yaml"),
        "--out",
        str(out),
    ]
    from click.testing import CliRunner

    from pruneaudit.cli import cli

    CliRunner().invoke(cli, args)  # exit 1: the example gate fails on purpose; the card is written
    assert (out / "index.html").exists()
    return out


def _load(driver, page: Path, width: int):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(width, 1000)
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(page.as_uri())
    WebDriverWait(driver, 30).until(  # vegaEmbed marks its element; the static SVG is already there
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('div.vega')].every(e => "
            "(e.classList.contains('vega-embed') && e.querySelector('svg')) || e.querySelector('p'))"
        )
    )


def test_card_renders_offline_without_errors(browser, card_dir, tmp_path):
    page = card_dir / "index.html"
    _load(browser, page, 1280)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    requests = []
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            requests.append(msg["params"]["request"]["url"])
    remote = [u for u in requests if not u.startswith(LOCAL_SCHEMES)]
    assert not remote, remote
    charts = browser.execute_script(
        "return [...document.querySelectorAll('div.vega')].map(e => [e.parentElement.id, "
        "e.querySelectorAll('svg .mark-symbol path, svg .mark-rect path, svg .mark-line path, svg .mark-rule line, svg .mark-text text').length, "
        "e.querySelectorAll('svg.marks').length])"
    )
    assert len(charts) == page.read_text().count('class="vega"') >= 7
    for section, marks, svgs in charts:
        assert marks > 0, f"chart in #{section} drew no marks"
        assert svgs == 1, f"chart in #{section} shows {svgs} SVGs: the static one must give way to the interactive one"
    assert "could not be drawn" not in browser.find_element("tag name", "body").text
    shots = Path(card_dir) / "screenshots"
    shots.mkdir(exist_ok=True)
    browser.set_window_size(1280, 1000)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(height, 12000))
    assert browser.save_screenshot(str(shots / "desktop.png"))


def test_card_is_readable_at_narrow_width(browser, card_dir):
    _load(browser, card_dir / "index.html", 420)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, (
        f"page scrolls sideways by {overflow}px at 420px; wide tables and charts must scroll inside their box"
    )
    assert browser.save_screenshot(str(card_dir / "narrow.png"))


def test_tables_sort_and_filter(browser, card_dir):
    _load(browser, card_dir / "index.html", 1280)
    header = browser.find_element("css selector", "#class-table thead th:nth-child(2)")  # Images
    header.click()
    first = browser.execute_script(
        "return [...document.querySelectorAll('#class-table tbody tr')].map(r => +r.cells[1].textContent)"
    )
    assert first == sorted(first)
    header.click()
    again = browser.execute_script(
        "return [...document.querySelectorAll('#class-table tbody tr')].map(r => +r.cells[1].textContent)"
    )
    assert again == sorted(first, reverse=True)
    box = browser.find_element("css selector", "input.filter")
    box.send_keys("7")
    visible = browser.execute_script(
        "return [...document.querySelectorAll('#class-table tbody tr')].filter(r => !r.hidden).map(r => r.cells[0].textContent)"
    )
    assert visible == ["7"]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory, sample_audit):
    """`pruneaudit study` over the sample audit and two synthetic ones (tests/study_audits.py)."""
    from click.testing import CliRunner

    from pruneaudit.cli import cli
    from tests.study_audits import study_inputs

    root = tmp_path_factory.mktemp("browser-study")
    inputs = study_inputs(root, sample_audit["torchscript"])
    result = CliRunner().invoke(cli, ["study", *map(str, inputs), "--out", str(root / "study"), "--no-cache"])
    assert result.exit_code == 0, result.output
    return root / "study"


def test_study_card_renders_offline_without_errors(browser, study_dir):
    page = study_dir / "index.html"
    _load(browser, page, 1280)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    requests = [
        json.loads(e["message"])["message"]["params"]["request"]["url"]
        for e in browser.get_log("performance")
        if json.loads(e["message"])["message"]["method"] == "Network.requestWillBeSent"
    ]
    assert not [u for u in requests if not u.startswith(LOCAL_SCHEMES)]
    charts = browser.execute_script(
        "return [...document.querySelectorAll('div.vega')].map(e => [e.closest('section').id, "
        "e.querySelectorAll('svg .mark-symbol path, svg .mark-area path, svg .mark-line path, svg .mark-rule line').length, "
        "e.querySelectorAll('svg.marks').length])"
    )
    assert len(charts) == 5
    for section, marks, svgs in charts:
        assert marks > 0 and svgs == 1, (section, marks, svgs)
    assert "could not be drawn" not in browser.find_element("tag name", "body").text
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(height, 12000))
    assert browser.save_screenshot(str(study_dir.parent / "study.png"))
    _load(browser, page, 420)
    assert (
        browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        <= 1
    )
