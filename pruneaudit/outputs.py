"""Write a report directory all at once: files are staged, then moved into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from pruneaudit.errors import OutputError


def check_writable(out_dir: Path) -> None:
    """Fail before any inference if the output directory could not be created or written."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: output path exists and is not a directory")
    probe = out_dir
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{out_dir}: cannot write the output directory ({probe} is not writable)")


def write_outputs(out_dir: Path, files: dict[str, str | bytes]) -> None:
    """Write every file to a staging directory beside ``out_dir``, then move each into place.

    A failure while writing leaves ``out_dir`` as it was: no half-written report.
    """
    check_writable(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".pruneaudit-", dir=out_dir.parent))
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the output directory ({exc.strerror})") from None
    try:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (staging / name).write_bytes(data)
        for name in files:
            os.replace(staging / name, out_dir / name)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write the report ({exc.strerror})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_file(path: Path, text: str) -> None:
    """Write one file atomically: a temporary sibling, then a rename."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
