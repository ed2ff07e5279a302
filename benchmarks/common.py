"""What the whole-process benchmarks share: timed child processes, temporary folders, the CLI, printing.

Every side of a comparison runs as a fresh process (``subprocess``), so imports and start-up count on
both sides; its peak memory is the child's ``ru_maxrss`` from ``os.wait4``. pruneaudit is driven only
through its command line (``python -m pruneaudit ...``), never through internal functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRUNEAUDIT = (sys.executable, "-m", "pruneaudit")


@dataclass(frozen=True)
class Run:
    """One finished child process."""

    seconds: float  # wall clock, start to exit
    peak_bytes: int  # peak resident set size of the child (and the children it waited for)
    stdout: str
    stderr: str


def timed(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run ``cmd`` to completion; a failure ends the benchmark with the child's stderr.

    Output goes to temporary files rather than pipes, so that a chatty child can never block on a
    full pipe while we wait for it. The parent must stay small: Linux folds the memory the child
    shares with its parent before ``exec`` into the child's ru_maxrss (with vfork, the parent's
    lifetime peak), so a benchmark generates its workload in a child process of its own
    (`generate_in_child`) and never imports torch itself.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(map(str, cmd)), stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode:
        sys.exit(f"{' '.join(map(str, cmd))} failed (exit {proc.returncode}):\n{stderr}{stdout}")
    return Run(seconds=seconds, peak_bytes=usage.ru_maxrss * 1024, stdout=stdout, stderr=stderr)  # Linux: KiB


def generate_in_child(script: str | Path, *args: str | Path | int) -> dict:
    """Run ``python SCRIPT ARGS`` (a benchmark in its generating mode) and return the JSON it prints."""
    run = timed([sys.executable, str(script), *map(str, args)])
    return json.loads(run.stdout.strip().splitlines()[-1])


def best(runs: Sequence[Run]) -> Run:
    """The fastest run: on a shared machine the minimum is the least disturbed measurement."""
    return min(runs, key=lambda r: r.seconds)


def child_env(cache_dir: Path) -> dict[str, str]:
    """The environment every child gets: ours, with pruneaudit's cache pointed at ``cache_dir``.

    Both sides get the same environment; a fresh ``cache_dir`` keeps a cold run cold even if a
    default cache folder appears, and keeps benchmarks out of the user's own cache.
    """
    env = dict(os.environ)
    env["PRUNEAUDIT_CACHE_DIR"] = str(cache_dir)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


@contextlib.contextmanager
def work_dir(prefix: str, keep: Path | None = None) -> Iterator[Path]:
    """A temporary folder, removed afterwards; ``keep`` names a folder to use and keep instead."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def write_script(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def cold_cache(root: Path, name: str) -> Path:
    """A cache folder for an audit of models it has never seen: no predictions, no file hashes.

    It holds only the Vega bundle, which depends on nothing but the vl-convert release and which a
    user's first run builds once (2-3 s); built here once per benchmark, outside the timed runs.
    """
    bundle = root / "bundle-cache"
    if not (bundle / "vega").exists():
        code = "import sys; from pathlib import Path; from pruneaudit.report.bundle import vega_javascript; "
        code += "vega_javascript(Path(sys.argv[1]))"
        subprocess.run([sys.executable, "-c", code, str(bundle)], check=True)
    folder = root / name
    shutil.copytree(bundle / "vega", folder / "vega")
    return folder


def interleaved(bare: Callable[[], Run], audit: Callable[[], Run], *, repeat: int, warm_up: bool) -> tuple[list, list]:
    """Runs of both sides, alternating so that a slow spell on the machine hits both; after one untimed
    run of each (the file cache, the libraries) unless ``warm_up`` is False."""
    if warm_up:
        bare()
        audit()
    runs: tuple[list, list] = ([], [])
    for _ in range(repeat):
        runs[0].append(bare())
        runs[1].append(audit())
    return runs


def audit_cmd(*args: str | Path, verbose: bool = False) -> list[str]:
    """``python -m pruneaudit [-v] audit --quiet ARGS``."""
    return [*PRUNEAUDIT, *(["-v"] if verbose else []), "audit", "--quiet", *map(str, args)]


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else float("inf")


def line(label: str, run: Run, baseline: Run | None = None, *, target: float | None = None, width: int = 28) -> str:
    """``label: 12.34 s (1.07 x baseline, target <= 1.2 x), peak 512 MiB``."""
    text = f"{label + ':':<{width}} {run.seconds:7.2f} s"
    if baseline is not None:
        goal = f", target <= {target:g} x" if target is not None else ""
        text += f" ({ratio(run.seconds, baseline.seconds):.2f} x baseline{goal})"
    return f"{text}, peak {mib(run.peak_bytes)}"


def shared_machine_note() -> str:
    return f"{os.cpu_count()} CPU(s) seen; on a shared machine timings are noisy: each figure is the best of the runs"
