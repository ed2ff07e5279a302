"""A 1,000-class, 50-pruned-model audit end to end: the card stays within its size budget."""

import json

import numpy as np
import pytest
import torch

from pruneaudit.report.scope import CLASS_ROWS, HEATMAP_CLASSES
from tests.conftest import run_cli

pytestmark = pytest.mark.slow
N_CLASSES, PER_CLASS = 1000, 8
BUDGET = 15 * 1024 * 1024


class Mlp(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(28 * 28, 32)
        self.b = torch.nn.Linear(32, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(torch.flatten(x, 1))))


@pytest.fixture(scope="module")
def big_audit(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    dense = Mlp().eval()
    images = rng.integers(0, 256, size=(N_CLASSES * PER_CLASS * 3, 28, 28), dtype=np.uint8)
    with torch.inference_mode():
        labels = dense(torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)).argmax(1).numpy()
    keep = np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in range(N_CLASSES)])
    images, labels = images[keep], labels[keep].copy()
    flip = rng.random(labels.size) < 0.1
    labels[flip] = rng.integers(0, N_CLASSES, flip.sum())  # 10% label noise: dense is not perfect
    np.savez(root / "data.npz", images=images, labels=labels)
    example = torch.zeros(1, 1, 28, 28)
    torch.jit.save(torch.jit.trace(dense, example), str(root / "dense.pt"))
    lines = ["data: {path: data.npz}", "dense: {path: dense.pt}", "pruned:"]
    for amount in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        for seed in range(5):
            m = Mlp()
            m.load_state_dict(dense.state_dict())
            g = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                for layer in (m.a, m.b):
                    layer.weight.mul_((torch.rand(layer.weight.shape, generator=g) >= amount).float())
            name = f"random-{round(amount * 100)}-s{seed}"
            torch.jit.save(torch.jit.trace(m.eval(), example), str(root / f"{name}.pt"))
            lines.append(f"  - {{name: {name}, path: {name}.pt, technique: random, amount: {amount}, seed: {seed}}}")
    (root / "audit.yaml").write_text("\n".join(lines) + "\n")
    result = run_cli(["audit", "--quiet", "--config", str(root / "audit.yaml"), "--out", str(root / "out")])
    assert result.exit_code == 0, result.output
    return root / "out"


def test_card_within_budget(big_audit):
    size = (big_audit / "index.html").stat().st_size
    assert size <= BUDGET, f"index.html is {size / 1e6:.1f} MB for 1,000 classes x 50 models"
    results = json.loads((big_audit / "results.json").read_text())
    assert results["data"]["n_classes"] == N_CLASSES and len(results["models"]) == 51
    html = (big_audit / "index.html").read_text()
    table = html.split('id="class-table"')[1].split("</table>")[0]
    assert table.count('<tr><th scope="row">') == CLASS_ROWS  # the hardest-hit classes; per_class.csv has all
    assert f"{CLASS_ROWS} of 1,000 classes" in html and '<a href="per_class.csv">' in html
    assert f"Only the {HEATMAP_CLASSES} classes hit hardest by any model are drawn" in html
    assert 'id="confusion"' not in html  # no 1,000 x 1,000 matrix; the top-confusions tables stand in
    assert "Top confusions" in html


def test_big_card_renders_in_a_browser(big_audit):
    from tests.report.test_browser import CHROMEDRIVER, CHROMIUM

    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.get((big_audit / "index.html").as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script(
                "return [...document.querySelectorAll('div.vega')].every(e => e.querySelector('svg'))"
            )
        )
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        # the heatmap draws 40 classes x 50 models, not 50,000 cells
        cells = driver.execute_script(
            "return document.querySelector('#recall-change svg').querySelectorAll('.mark-rect path').length"
        )
        assert 40 * 50 <= cells <= 40 * 50 + 4  # plus the legend gradient
    finally:
        driver.quit()
