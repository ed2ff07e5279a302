"""The wheel carries the templates: render a card from an installed wheel in a clean venv."""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_card_renders_from_a_built_wheel(tmp_path, sample_audit):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("pruneaudit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # Dependencies come from the test environment's site-packages, appended *after* the clean
    # venv's own; a plain .pth line does not activate the editable install found there.
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    results = sample_audit["onnx"] / "results.json"
    script = (
        "import json, sys, pruneaudit\n"
        "from pruneaudit.report import make_env, render_html\n"
        "from pathlib import Path\n"
        "from pruneaudit.results import load_results\n"
        "env = make_env()\n"
        "print(pruneaudit.__file__)\n"
        "print(env.get_template('card.html.j2').filename)\n"
        f"html = render_html(load_results(Path({str(results)!r})))\n"
        "print(len(html))\n"
        "from importlib.resources import files\n"
        "print(files('pruneaudit').joinpath('schema/results.schema.json').is_file())\n"
    )
    out = subprocess.run(
        [str(py), "-c", script],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    ).stdout.split()
    assert out[0].startswith(str(venv)) and out[1].startswith(str(venv))
    assert out[1].endswith("pruneaudit/templates/card.html.j2")
    assert int(out[2]) > 500_000  # the inlined Vega bundle alone is ~0.9 MB
    assert out[3] == "True"  # the JSON Schema ships in the wheel
    assert json.loads(results.read_text())["schema_version"] == "2.1"
    cli = subprocess.run([str(venv / "bin" / "pruneaudit"), "--version"], check=True, capture_output=True, text=True)
    assert "pruneaudit, version" in cli.stdout
