"""Packaging: the wheel carries the templates; pip picks one onnxruntime per platform, and both run.

The resolver tests ask the configured package index (metadata only, no wheel is downloaded) and skip
when it cannot be reached.
"""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from build.util import project_wheel_metadata
from packaging.markers import default_environment
from packaging.requirements import Requirement

from pruneaudit.models.onnx import NO_CUDA, NO_CUDA_BUILD
from pruneaudit.results import SCHEMA_VERSION
from tests.conftest import DATA, ROOT, SAMPLES


@dataclass(frozen=True)
class Target:
    markers: dict[str, str]  # the environment-marker values pip sees there
    tags: tuple[str, ...]  # the wheel platform tags it installs
    onnxruntime: str  # the onnxruntime distribution pyproject.toml must pick there


def _manylinux(arch: str) -> tuple[str, ...]:
    """The tags a glibc 2.28 system accepts: pip's --platform takes each manylinux tag literally."""
    return (*(f"manylinux_2_{minor}_{arch}" for minor in range(28, 16, -1)), f"manylinux2014_{arch}")


def _markers(sys_platform: str, system: str, machine: str) -> dict[str, str]:
    python = {"python_version": "3.11", "python_full_version": "3.11.0", "implementation_version": "3.11.0"}
    host = {**default_environment(), "platform_release": "", "platform_version": "", **python}
    return {**host, "sys_platform": sys_platform, "platform_system": system, "platform_machine": machine}


TARGETS = {
    "linux-x86_64": Target(_markers("linux", "Linux", "x86_64"), _manylinux("x86_64"), "onnxruntime-gpu"),
    "linux-aarch64": Target(_markers("linux", "Linux", "aarch64"), _manylinux("aarch64"), "onnxruntime"),
    "macos-arm64": Target(_markers("darwin", "Darwin", "arm64"), ("macosx_14_0_arm64",), "onnxruntime"),
}
# Marker-only checks (no index asked) for the platforms pip is not run for.
MARKER_ONLY = {
    "windows-amd64": (_markers("win32", "Windows", "AMD64"), "onnxruntime-gpu"),
    "windows-arm64": (_markers("win32", "Windows", "ARM64"), "onnxruntime"),
    "macos-x86_64": (_markers("darwin", "Darwin", "x86_64"), "onnxruntime"),
}
# pip evaluates environment markers for the interpreter it runs in, even with --platform (its own
# report says so); this runs pip's resolver with the target's marker values instead. The report's
# "environment" shows which values the resolver used, so a pip that stops honouring this fails the test.
PIP_FOR_TARGET = """
import json, sys
from pip._internal.models import installation_report
from pip._vendor.packaging import markers
target = json.loads(sys.argv[1])
markers.default_environment = installation_report.default_environment = lambda: dict(target)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""
# Where the index does not serve PEP 658 metadata, fast-deps reads it with HTTP range requests.
DRY_RUN = ["install", "--dry-run", "--ignore-installed", "--only-binary=:all:", "--use-feature=fast-deps"]
WHEEL_DOWNLOAD = re.compile(r"Downloading \S+\.whl \(")  # "....whl.metadata (" is metadata only
# Loads a sample ONNX model for the CPU and for CUDA (lenient, then strict); prints one JSON line last.
PROVIDER_CHOICE = """
import json, logging, sys
from pathlib import Path
import onnxruntime
from pruneaudit.config import model_spec
from pruneaudit.data import Batch, load_dataset
from pruneaudit.errors import ModelError
from pruneaudit.models import load_predictor
from pruneaudit.specs import DataSpec
class Keep(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
warnings = []
logging.getLogger("pruneaudit.models.onnx").addHandler(Keep())
model = model_spec(Path(sys.argv[1]))
cpu, cuda = load_predictor(model, device="cpu"), load_predictor(model, device="cuda")
try:
    strict = load_predictor(model, device="cuda", strict=True).device
except ModelError as exc:
    strict = str(exc)
batch = Batch(load_dataset(DataSpec(path=Path(sys.argv[2]), split=1)), 0, 16)
print(json.dumps({"module": onnxruntime.__file__, "available": onnxruntime.get_available_providers(),
    "cpu": cpu.device, "cuda": cuda.device, "strict": strict, "warnings": warnings,
    "scores": cpu.predict(batch).tolist()}))
"""


@pytest.fixture(scope="module")
def requirements() -> list[str]:
    """The project's own requirements, from the metadata its wheel would carry (no extras)."""
    meta = project_wheel_metadata(ROOT, isolated=False)
    return [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]


@pytest.fixture(scope="module")
def index() -> None:
    """Skip unless pip gets another platform's wheels from the configured index (CI may be offline)."""
    probe = _pip_for(TARGETS["macos-arm64"], ["--no-deps", "--timeout", "10", "--retries", "0", "onnxruntime"])
    if probe.returncode:
        said = [
            line.strip()
            for line in (probe.stdout + probe.stderr).splitlines()
            if line.startswith(("Looking in indexes", "ERROR"))
        ]
        pytest.skip(f"pip cannot get a macOS wheel of onnxruntime (offline?): {' / '.join(said[:1] + said[-1:])}")


def _pip_for(target: Target, args: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    platforms = [f"--platform={tag}" for tag in target.tags]
    command = [sys.executable, "-c", PIP_FOR_TARGET, json.dumps(target.markers), *DRY_RUN, *platforms]
    command += ["--python-version", "3.11", "--implementation", "cp", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _picked(requirements: list[str], markers: dict[str, str]) -> list[str]:
    reqs = [Requirement(r) for r in requirements]
    return [
        r.name for r in reqs if r.name.startswith("onnxruntime") and (r.marker is None or r.marker.evaluate(markers))
    ]


@pytest.mark.parametrize("name", [*TARGETS, *MARKER_ONLY])
def test_markers_pick_one_onnxruntime(requirements, name):
    markers, want = (TARGETS[name].markers, TARGETS[name].onnxruntime) if name in TARGETS else MARKER_ONLY[name]
    assert _picked(requirements, markers) == [want]


@pytest.mark.slow
@pytest.mark.parametrize("name", TARGETS)
def test_pip_resolves_the_dependencies(tmp_path, index, requirements, name):
    """pip's resolver on the real index, for the target's wheels and markers; metadata only."""
    target, report = TARGETS[name], tmp_path / "report.json"
    done = _pip_for(target, ["--timeout", "30", "--report", str(report), *requirements], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not WHEEL_DOWNLOAD.findall(done.stdout + done.stderr), "a wheel was downloaded, not only its metadata"
    resolved = json.loads(report.read_text())
    seen = ("sys_platform", "platform_machine", "python_version")
    assert [resolved["environment"][k] for k in seen] == [target.markers[k] for k in seen]  # the target's markers
    names = {item["metadata"]["name"].lower() for item in resolved["install"]}
    other = ({"onnxruntime", "onnxruntime-gpu"} - {target.onnxruntime}).pop()
    assert target.onnxruntime in names and other not in names
    assert {"torch", "onnx", "numpy", "vl-convert-python"} <= names


def _provider_choice(pythonpath: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    script = [sys.executable, "-c", PROVIDER_CHOICE, str(SAMPLES / "onnx" / "dense.onnx"), str(DATA)]
    done = subprocess.run(script, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])  # onnxruntime-gpu may print above it


def _check_choice(run: dict) -> None:
    """CPU when asked; CUDA only where it runs; otherwise a warning, or with strict an error, saying why."""
    assert run["cpu"] == "CPUExecutionProvider"
    if run["cuda"] == "CUDAExecutionProvider":
        assert run["strict"] == "CUDAExecutionProvider" and not run["warnings"]
        return
    why = NO_CUDA if "CUDAExecutionProvider" in run["available"] else NO_CUDA_BUILD
    assert run["cuda"] == "CPUExecutionProvider"
    assert run["warnings"] == [f"{SAMPLES / 'onnx' / 'dense.onnx'}: {why}; running on CPUExecutionProvider"]
    assert run["strict"].endswith(f"dense.onnx: --device cuda but {why}; it would run on CPUExecutionProvider")


def test_onnx_provider_with_the_installed_onnxruntime():
    _check_choice(_provider_choice())


@pytest.mark.slow
def test_onnx_provider_with_plain_onnxruntime(tmp_path, index):
    """The CPU-only package, as pip installs it on macOS and Linux aarch64, in place of onnxruntime-gpu."""
    try:
        version = importlib.metadata.version("onnxruntime-gpu")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the installed onnxruntime is the CPU-only package: the test with the installed one covers it")
    target = tmp_path / "onnxruntime"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--only-binary=:all:", "--timeout", "30"]
    subprocess.run([*pip, "--target", str(target), f"onnxruntime=={version}"], check=True, timeout=300)
    plain, installed = _provider_choice(str(target)), _provider_choice()
    assert plain["module"] == str(target / "onnxruntime" / "__init__.py")
    assert "CUDAExecutionProvider" not in plain["available"]
    _check_choice(plain)
    np.testing.assert_allclose(plain["scores"], installed["scores"], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
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
    assert json.loads(results.read_text())["schema_version"] == SCHEMA_VERSION
    cli = subprocess.run([str(venv / "bin" / "pruneaudit"), "--version"], check=True, capture_output=True, text=True)
    assert "pruneaudit, version" in cli.stdout
