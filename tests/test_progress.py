"""Progress: what the library reports (`inference.Progress`) and how the CLI draws it on stderr.

In a log (not a terminal) it is lines; on a terminal (a pty here) a tqdm bar. Stdout holds the
results only, and --quiet leaves stderr empty. No assertion depends on timing.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import pruneaudit
from pruneaudit.cli import cli
from pruneaudit.inference import Progress
from tests.conftest import ROOT, SAMPLES, SUBSET, audit_args

MODELS = ("dense", *SUBSET)
AFTER_INFERENCE = ["Metrics", "Selection", "Card and files"]


def _audit(data: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    """audit_args without --quiet, on the TorchScript samples, with its own prediction cache."""
    args = audit_args("torchscript", data, out)
    args.remove("--quiet")
    return [*args, "--cache", str(cache), *extra]


class Recorder(Progress):
    """Every call, in order: what a Python caller of the API sees."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def stage(self, name: str, *, models: int = 0, images: int = 0) -> None:
        self.calls.append(("stage", name, models, images))

    def advance(self, images: int, *, model: str, warm_up: bool = False) -> None:
        self.calls.append(("advance", images, model, warm_up))

    def finished(self, model: str, *, cached: bool = False) -> None:
        self.calls.append(("finished", model, cached))


def test_the_library_reports_stages_batches_and_models(test_npz, tmp_path):
    config = pruneaudit.build_config(
        dense=SAMPLES / "torchscript" / "dense.pt",
        pruned=[SAMPLES / "torchscript" / f"{name}.pt" for name in SUBSET],
        data=test_npz,
        device="cpu",
        batch_size=200,
        cache_dir=tmp_path / "cache",
    )
    ran, again = Recorder(), Recorder()
    pruneaudit.audit_to_directory(config, out_dir=tmp_path / "r", progress=ran)
    stages = [c[1:] for c in ran.calls if c[0] == "stage"]
    assert stages == [
        ("Reading data", 0, 0),
        ("Hashing models", 0, 0),
        ("Inference", len(MODELS), 512),
        ("Metrics", 0, 0),
        ("Selection", 0, 0),
        ("Card and files", 0, 0),
    ]
    batches = [c[1:] for c in ran.calls if c[0] == "advance"]
    assert batches == [(n, m, first) for n, first in ((200, True), (200, False), (112, False)) for m in MODELS]
    assert [c[1:] for c in ran.calls if c[0] == "finished"] == [(m, False) for m in MODELS]
    first, last = ran.calls.index(("stage", "Inference", len(MODELS), 512)), ran.calls.index(("stage", "Metrics", 0, 0))
    assert {c[0] for c in ran.calls[first + 1 : last]} == {"advance", "finished"}  # all of it inside its stage

    pruneaudit.audit_to_directory(config, out_dir=tmp_path / "r", progress=again)
    assert [c for c in again.calls if c[0] != "stage"] == [("finished", m, True) for m in MODELS]  # nothing runs


def test_the_ray_backend_reports_each_model_as_it_comes_back(test_npz, tmp_path):
    pytest.importorskip("ray")
    config = pruneaudit.build_config(
        dense=SAMPLES / "onnx" / "dense.onnx",
        pruned=[SAMPLES / "onnx" / f"{name}.onnx" for name in SUBSET[:2]],
        data=test_npz,
        device="cpu",
        cache_dir=None,
    )
    seen = Recorder()
    pruneaudit.audit(replace(config, backend="ray", workers=1), progress=seen)
    models = MODELS[:3]
    counted = [c for c in seen.calls if c[0] != "stage"]
    assert sorted(c for c in counted if c[0] == "advance") == sorted(("advance", 512, m, False) for m in models)
    assert sorted(c for c in counted if c[0] == "finished") == sorted(("finished", m, False) for m in models)
    assert [c[1] for c in seen.calls if c[0] == "stage"][2:4] == ["Inference", "Metrics"]


def test_a_log_gets_a_line_per_stage_tenth_and_model_and_stdout_is_unchanged(test_npz, tmp_path):
    args = _audit(test_npz, tmp_path / "r", tmp_path / "cache", "--batch-size", "128")
    shown = CliRunner().invoke(cli, args, catch_exceptions=False)
    quiet = CliRunner().invoke(cli, [*args, "--quiet"], catch_exceptions=False)
    assert shown.exit_code == quiet.exit_code == 0
    assert shown.stdout == quiet.stdout and "Model card:" in shown.stdout  # results only, with or without progress
    assert quiet.stderr == ""

    lines = shown.stderr.splitlines()
    assert "\r" not in shown.stderr  # nothing redrawn in a log
    assert lines[:3] == ["Reading data", "Hashing models", f"Inference: {len(MODELS)} models × 512 images"]
    tenths = [line for line in lines if re.fullmatch(r"  \d+% \(.+\)", line)]
    assert [int(t.split("%")[0]) for t in tenths] == list(range(10, 101, 10))  # 20 batches: each tenth once
    assert {t.split("(")[1].rstrip(")") for t in tenths} <= set(MODELS)
    made = [f"  [{k}/{len(MODELS)}] {m}" for k, m in enumerate(MODELS, start=1)]
    assert lines[3:-3] == tenths + made
    assert lines[-3:] == AFTER_INFERENCE  # after the last model, every phase says it runs

    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - {metric: accuracy_drop, max: 1}\n")
    cached = CliRunner().invoke(cli, [*args, "--policy", str(policy)], catch_exceptions=False)
    assert cached.exit_code == 0, cached.output
    lines = cached.stderr.splitlines()
    assert lines[3:-4] == [f"{line} (prediction cache)" for line in made]  # no tenth: no batch ran
    assert lines[-4:] == ["Metrics", "Selection", "Gate", "Card and files"]


def _on_a_terminal(command: list[str]) -> tuple[str, str, int]:
    """Run ``command`` with stderr on a 120-column terminal: (stderr as drawn, stdout, exit code)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, env=env
    )
    os.close(follower)
    drawn = bytearray()
    while True:  # until the child closes the terminal: EIO on Linux, an empty read elsewhere
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    stdout = proc.stdout.read().decode()
    return drawn.decode(), stdout, proc.wait(timeout=60)


def _segments(drawn: str) -> list[str]:
    """What each redraw leaves: the text between carriage returns and newlines."""
    return [s.strip() for s in re.split(r"[\r\n]", drawn) if s.strip()]


def test_a_terminal_gets_a_bar_naming_the_model_and_log_lines_above_it(test_npz, tmp_path):
    args = _audit(test_npz, tmp_path / "r", tmp_path / "cache", "--batch-size", "64")
    drawn, stdout, code = _on_a_terminal([sys.executable, "-m", "pruneaudit", "-v", *args])
    assert code == 0, drawn
    segments = _segments(drawn)
    bars = [i for i, s in enumerate(segments) if s.startswith("Inference:") and "%|" in s]
    assert bars and segments[bars[-1]].startswith("Inference: 100%|")
    named = {s.rsplit(", ", 1)[-1].rstrip("]") for s in (segments[i] for i in bars) if "elapsed," in s}
    assert named and named <= set(MODELS) and segments[bars[-1]].endswith(f"{MODELS[-1]}]")  # the model that ran
    stages = [s for s in segments if not s.startswith(("Inference: ", "INFO ", "WARNING "))]
    assert stages[:2] == ["Reading data", "Hashing models"] and stages[-3:] == AFTER_INFERENCE
    assert segments.index("Metrics") > bars[-1]  # the last phases each have a line after the bar
    logged = [s for s in segments if "INFO " in s]
    assert any(f"{m}.pt: 512 images in" in s for s in logged for m in MODELS)  # -v logs while the bar is drawn
    assert all(s.startswith("INFO ") for s in logged)  # each on a line of its own, never glued to the bar
    assert "Inference" not in stdout and "\r" not in stdout and stdout.rstrip().endswith("index.html")

    quiet = CliRunner().invoke(cli, [*args, "--quiet"], catch_exceptions=False)
    assert quiet.stdout == stdout


SWEEP = """
import logging
from pruneaudit.cli import sweep_bar
from pruneaudit.sweep.run import SweepProgress

logging.basicConfig(level=logging.INFO, format="INFO %(message)s")
with sweep_bar(quiet=False) as update:
    update(SweepProgress(name="dense", step=1, steps=2, finished=1, total=4))  # one model made before
    update(SweepProgress(name="dense", step=2, steps=2, finished=2, total=4, made=True))
    logging.info("a log line while the bar is drawn")
    update(SweepProgress(name="l1-50", step=1, steps=1, finished=3, total=4, made=True))
"""


def test_a_sweep_bar_names_the_model_and_keeps_log_lines_off_it():
    drawn, _, code = _on_a_terminal([sys.executable, "-c", SWEEP])
    assert code == 0, drawn
    segments = _segments(drawn)
    assert "INFO a log line while the bar is drawn" in segments
    assert all(s.startswith("INFO ") for s in segments if "INFO " in s)
    assert segments[-1].startswith("Sweep:  75%|") and segments[-1].endswith("l1-50 100%]")
