"""What every hostile-input case asserts: the README's promise for bad input.

Exit code 2 (1 only for a failed gate), exactly one line on stderr that starts with ``Error:``
and names the offending file, no traceback, and no report written or an old one left intact.
``invoke`` runs the CLI in-process (fast); ``run`` starts a real process, for cases that depend
on what reaches file descriptor 2 (third-party log noise), signals or concurrent processes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from pruneaudit.cli import cli
from tests.conftest import ROOT


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str


def invoke(args: list[str], *, env: dict[str, str] | None = None) -> Outcome:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}") from result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


def run(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
) -> Outcome:
    proc = subprocess.run(
        [sys.executable, "-m", "pruneaudit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def assert_user_error(outcome: Outcome, *, names: str | Path, says: str = "", code: int = 2) -> str:
    """One ``Error:`` line naming ``names`` (and containing ``says``), the exit code, no traceback; returns the line."""
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert outcome.exit_code == code, (outcome.exit_code, outcome.stderr[-2000:])
    assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr[-2000:]
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: "), lines[0]
    assert str(names) in lines[0], (str(names), lines[0])
    assert says in lines[0], (says, lines[0])
    return lines[0]


def tree_digest(path: Path) -> str:
    """sha256 over every file's relative path and bytes: 'nothing changed' in one comparison."""
    h = hashlib.sha256()
    if path.exists():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()
